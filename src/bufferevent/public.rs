//! Reads and writes of a bufferevent's public prefix (`struct bufferevent`),
//! which the program may read at any time through its pointer. The prefix
//! is the one place these values live, so they are always true.

use std::ffi::{c_short, c_void};

use crate::buffer::Buffer;
use crate::ffi::bufferevent::{bufferevent_data_cb, bufferevent_event_cb};
use crate::ffi::bufferevent_struct::{bufferevent, event_watermark};
use crate::reactor::Base;
use crate::reactor::event_mem::EvPtr;

use super::Bufferevent;

/// The user callbacks and their argument, read together before a call.
#[derive(Clone, Copy)]
pub struct Callbacks {
    pub read: bufferevent_data_cb,
    pub write: bufferevent_data_cb,
    pub event: bufferevent_event_cb,
    pub arg: *mut c_void,
}

impl Bufferevent {
    fn public(&self) -> *mut bufferevent {
        self.public.get()
    }

    /// The pointer C sees.
    pub fn as_c(&self) -> *mut bufferevent {
        self.public()
    }

    pub fn base_ptr(&self) -> *mut Base {
        // SAFETY: the prefix is ours and live while `self` is; C only reads it.
        unsafe { (*self.public()).ev_base }
    }

    /// Points the prefix at another base (`bufferevent_base_set`).
    pub fn set_base_ptr(&self, base: *mut Base) {
        // SAFETY: as in `set_enabled`.
        unsafe { (*self.public()).ev_base = base }
    }

    /// The base; bufferevents are freed before their base.
    pub fn base(&self) -> &Base {
        // SAFETY: the base outlives the bufferevents made on it (libevent's
        // contract: free them before event_base_free).
        unsafe { &*self.base_ptr() }
    }

    pub fn input_ptr(&self) -> *mut Buffer {
        // SAFETY: as in `base_ptr`.
        unsafe { (*self.public()).input }
    }

    pub fn output_ptr(&self) -> *mut Buffer {
        // SAFETY: as in `base_ptr`.
        unsafe { (*self.public()).output }
    }

    pub fn input(&self) -> &Buffer {
        // SAFETY: the input buffer lives as long as the bufferevent.
        unsafe { &*self.input_ptr() }
    }

    pub fn output(&self) -> &Buffer {
        // SAFETY: the output buffer lives as long as the bufferevent.
        unsafe { &*self.output_ptr() }
    }

    pub fn ev_read(&self) -> EvPtr {
        // SAFETY: taking the address of a field of our own live allocation.
        EvPtr::new(unsafe { &raw mut (*self.public()).ev_read }).expect("field of a live struct")
    }

    pub fn ev_write(&self) -> EvPtr {
        // SAFETY: as in `ev_read`.
        EvPtr::new(unsafe { &raw mut (*self.public()).ev_write }).expect("field of a live struct")
    }

    pub fn enabled(&self) -> c_short {
        // SAFETY: as in `base_ptr`.
        unsafe { (*self.public()).enabled }
    }

    pub fn set_enabled(&self, enabled: c_short) {
        // SAFETY: as in `base_ptr`; the program only reads this field.
        unsafe { (*self.public()).enabled = enabled }
    }

    pub fn callbacks(&self) -> Callbacks {
        // SAFETY: as in `base_ptr`.
        let p = unsafe { &*self.public() };
        Callbacks {
            read: p.readcb,
            write: p.writecb,
            event: p.errorcb,
            arg: p.cbarg,
        }
    }

    pub fn set_callbacks(&self, cbs: Callbacks) {
        // SAFETY: as in `set_enabled`.
        let p = unsafe { &mut *self.public() };
        p.readcb = cbs.read;
        p.writecb = cbs.write;
        p.errorcb = cbs.event;
        p.cbarg = cbs.arg;
    }

    pub fn wm_read(&self) -> event_watermark {
        // SAFETY: as in `base_ptr`.
        unsafe { (*self.public()).wm_read }
    }

    pub fn wm_write(&self) -> event_watermark {
        // SAFETY: as in `base_ptr`.
        unsafe { (*self.public()).wm_write }
    }

    pub fn set_wm_read(&self, wm: event_watermark) {
        // SAFETY: as in `set_enabled`.
        unsafe { (*self.public()).wm_read = wm }
    }

    pub fn set_wm_write(&self, wm: event_watermark) {
        // SAFETY: as in `set_enabled`.
        unsafe { (*self.public()).wm_write = wm }
    }

    pub fn timeout_read(&self) -> libc::timeval {
        // SAFETY: as in `base_ptr`.
        unsafe { (*self.public()).timeout_read }
    }

    pub fn timeout_write(&self) -> libc::timeval {
        // SAFETY: as in `base_ptr`.
        unsafe { (*self.public()).timeout_write }
    }

    pub fn set_timeouts_fields(&self, read: libc::timeval, write: libc::timeval) {
        // SAFETY: as in `set_enabled`.
        let p = unsafe { &mut *self.public() };
        p.timeout_read = read;
        p.timeout_write = write;
    }

    /// Fills the prefix of a new bufferevent.
    pub fn init_public(&self, base: *mut Base, input: *mut Buffer, output: *mut Buffer) {
        // SAFETY: the prefix is ours, freshly allocated and not yet shared;
        // all-zero is valid for every field (NULL pointers, None callbacks).
        unsafe {
            std::ptr::write_bytes(self.public(), 0, 1);
            let p = &mut *self.public();
            p.ev_base = base;
            p.input = input;
            p.output = output;
        }
    }
}

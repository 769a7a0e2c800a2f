//! `event2/bufferevent_struct.h`: the public prefix of every bufferevent,
//! which old programs read directly (`bev->input`, `bev->enabled`, ...).

use std::ffi::{c_short, c_void};

use super::bufferevent::{bufferevent_data_cb, bufferevent_event_cb};
use super::event_struct::event;
use crate::buffer::Buffer;
use crate::reactor::Base;

/// A pair of watermarks: low and high, in bytes (0: none).
#[repr(C)]
#[derive(Clone, Copy, Default, Debug, PartialEq, Eq)]
pub struct event_watermark {
    pub low: usize,
    pub high: usize,
}

/// The public part of a bufferevent, at libevent 2.1's offsets. Every field
/// is kept true at each moment a callback can see it.
#[repr(C)]
pub struct bufferevent {
    pub ev_base: *mut Base,
    pub be_ops: *const c_void,
    pub ev_read: event,
    pub ev_write: event,
    pub input: *mut Buffer,
    pub output: *mut Buffer,
    pub wm_read: event_watermark,
    pub wm_write: event_watermark,
    pub readcb: bufferevent_data_cb,
    pub writecb: bufferevent_data_cb,
    pub errorcb: bufferevent_event_cb,
    pub cbarg: *mut c_void,
    pub timeout_read: libc::timeval,
    pub timeout_write: libc::timeval,
    pub enabled: c_short,
}

const _: () = assert!(std::mem::size_of::<bufferevent>() == 392);
const _: () = assert!(std::mem::offset_of!(bufferevent, ev_read) == 16);
const _: () = assert!(std::mem::offset_of!(bufferevent, ev_write) == 144);
const _: () = assert!(std::mem::offset_of!(bufferevent, input) == 272);
const _: () = assert!(std::mem::offset_of!(bufferevent, wm_read) == 288);
const _: () = assert!(std::mem::offset_of!(bufferevent, readcb) == 320);
const _: () = assert!(std::mem::offset_of!(bufferevent, cbarg) == 344);
const _: () = assert!(std::mem::offset_of!(bufferevent, timeout_read) == 352);
const _: () = assert!(std::mem::offset_of!(bufferevent, enabled) == 384);

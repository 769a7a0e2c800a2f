//! `event2/event_struct.h`: the layout of `struct event`, which programs
//! embed in their own structures. Only the reactor's `event_mem` module reads
//! or writes these fields.

use std::ffi::{c_int, c_short, c_void};

use crate::reactor::Base;

/// An event that has a timeout in the timer heap.
pub const EVLIST_TIMEOUT: c_short = 0x01;
/// An event that waits on an fd or a signal.
pub const EVLIST_INSERTED: c_short = 0x02;
/// A signal event.
pub const EVLIST_SIGNAL: c_short = 0x04;
/// A callback waiting in an active queue.
pub const EVLIST_ACTIVE: c_short = 0x08;
/// An event of the library's own that does not keep the loop running.
pub const EVLIST_INTERNAL: c_short = 0x10;
/// A callback that will become active on the next pass.
pub const EVLIST_ACTIVE_LATER: c_short = 0x20;
/// A callback whose finalizer is about to run.
pub const EVLIST_FINALIZING: c_short = 0x40;
/// An event that was assigned.
pub const EVLIST_INIT: c_short = 0x80;
/// Every list bit.
pub const EVLIST_ALL: c_short = 0xff;

/// A callback of the library's own, run with its own record.
pub type SelfCallback = Option<unsafe extern "C" fn(cb: *mut event_callback, arg: *mut c_void)>;

/// The two links of an entry in a doubly linked list (`TAILQ_ENTRY`).
#[repr(C)]
#[derive(Clone, Copy)]
pub struct ListLinks {
    pub next: *mut c_void,
    pub prev: *mut c_void,
}

/// The callbacks an event may carry, one at a time.
#[repr(C)]
#[derive(Clone, Copy)]
pub union event_callback_union {
    pub evcb_callback: Option<unsafe extern "C" fn(fd: c_int, what: c_short, arg: *mut c_void)>,
    pub evcb_selfcb: SelfCallback,
    pub evcb_evfinalize: Option<unsafe extern "C" fn(ev: *mut event, arg: *mut c_void)>,
    pub evcb_cbfinalize: SelfCallback,
}

/// What every callback that can be queued as active starts with.
#[repr(C)]
pub struct event_callback {
    pub evcb_active_next: ListLinks,
    pub evcb_flags: c_short,
    pub evcb_pri: u8,
    pub evcb_closure: u8,
    pub evcb_cb_union: event_callback_union,
    pub evcb_arg: *mut c_void,
}

/// Where an event sits among the timers.
#[repr(C)]
#[derive(Clone, Copy)]
pub union event_timeout_pos {
    pub ev_next_with_common_timeout: ListLinks,
    pub min_heap_idx: i32,
}

/// The part of an fd event that the reference keeps for itself.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct event_io {
    pub ev_io_next: ListLinks,
    pub ev_timeout: libc::timeval,
}

/// The part of a signal event that the reference keeps for itself.
#[repr(C)]
#[derive(Clone, Copy)]
pub struct event_signal {
    pub ev_signal_next: ListLinks,
    pub ev_ncalls: c_short,
    pub ev_pncalls: *mut c_short,
}

/// The fd or signal part of an event.
#[repr(C)]
#[derive(Clone, Copy)]
pub union event_kind {
    pub ev_io: event_io,
    pub ev_signal: event_signal,
}

/// An event, 128 bytes, at the reference's offsets.
#[repr(C)]
pub struct event {
    pub ev_evcallback: event_callback,
    pub ev_timeout_pos: event_timeout_pos,
    pub ev_fd: c_int,
    pub ev_base: *mut Base,
    pub ev_: event_kind,
    pub ev_events: c_short,
    pub ev_res: c_short,
    pub ev_timeout: libc::timeval,
}

const _: () = assert!(std::mem::size_of::<event>() == 128);
const _: () = assert!(std::mem::offset_of!(event, ev_fd) == 56);
const _: () = assert!(std::mem::offset_of!(event, ev_base) == 64);
const _: () = assert!(std::mem::offset_of!(event, ev_events) == 104);
const _: () = assert!(std::mem::offset_of!(event, ev_res) == 106);
const _: () = assert!(std::mem::offset_of!(event, ev_timeout) == 112);
const _: () = assert!(std::mem::offset_of!(event_callback, evcb_flags) == 16);
const _: () = assert!(std::mem::offset_of!(event_callback, evcb_cb_union) == 24);
const _: () = assert!(std::mem::offset_of!(event_callback, evcb_arg) == 32);

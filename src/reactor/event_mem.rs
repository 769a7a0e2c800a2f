//! Reads and writes of `struct event` and `struct event_callback` records,
//! which live in memory the program owns (or in our bufferevents).
//!
//! The reactor holds these pointers only while the record is pending or
//! active: the program promises (pointer contract of `ffi`) not to free or
//! move an event in that state, except through `event_del`/`event_free`,
//! which unlink it first. Every access below relies on that promise.

use std::ffi::{c_short, c_void};
use std::ptr::NonNull;

use crate::ffi::event::event_callback_fn;
use crate::ffi::event_struct::{SelfCallback, event, event_callback};

use super::Base;

/// A flag of ours in `evcb_flags`, above libevent's EVLIST bits: the event
/// belongs to a bufferevent and its fd is watched edge-triggered.
pub const EVLIST_X_EDGE: c_short = 0x1000;

/// A flag of ours in `evcb_flags`: a record of our own that holds a
/// reference to its owner. When the base is freed with the record still
/// queued, it is run once (with `Base::shutting_down` true) so the owner
/// can drop that reference without calling the program.
pub const EVLIST_X_RELEASE: c_short = 0x2000;

/// How the callback of a record is invoked (`evcb_closure`).
pub const CLOSURE_EVENT: u8 = 0;
pub const CLOSURE_SIGNAL: u8 = 1;
pub const CLOSURE_PERSIST: u8 = 2;
pub const CLOSURE_CB_SELF: u8 = 3;
/// An event whose finalizer runs from the loop (`event_finalize`).
pub const CLOSURE_EVENT_FINALIZE: u8 = 5;
/// The same, and the event is freed afterwards (`event_free_finalize`).
pub const CLOSURE_EVENT_FINALIZE_FREE: u8 = 6;

/// The finalizer of `event_finalize`.
pub type FinalizeFn = Option<unsafe extern "C" fn(ev: *mut event, arg: *mut c_void)>;

/// A queued callback record: the first 40 bytes of an event, or a record of
/// our own embedded in a bufferevent.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct CbPtr(NonNull<event_callback>);

/// An event record.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct EvPtr(NonNull<event>);

impl CbPtr {
    pub fn new(raw: *mut event_callback) -> Option<CbPtr> {
        NonNull::new(raw).map(CbPtr)
    }

    pub fn as_raw(self) -> *mut event_callback {
        self.0.as_ptr()
    }

    /// The event this record starts, when it is one (every closure but CB_SELF).
    pub fn as_event(self) -> Option<EvPtr> {
        (self.closure() != CLOSURE_CB_SELF).then(|| EvPtr(self.0.cast()))
    }

    pub fn flags(self) -> c_short {
        // SAFETY: the record is live while queued or pending (module doc).
        unsafe { (*self.as_raw()).evcb_flags }
    }

    pub fn set_flags(self, flags: c_short) {
        // SAFETY: as in `flags`.
        unsafe { (*self.as_raw()).evcb_flags = flags }
    }

    pub fn pri(self) -> usize {
        // SAFETY: as in `flags`.
        usize::from(unsafe { (*self.as_raw()).evcb_pri })
    }

    pub fn set_pri(self, pri: u8) {
        // SAFETY: as in `flags`.
        unsafe { (*self.as_raw()).evcb_pri = pri }
    }

    pub fn closure(self) -> u8 {
        // SAFETY: as in `flags`.
        unsafe { (*self.as_raw()).evcb_closure }
    }

    pub fn arg(self) -> *mut c_void {
        // SAFETY: as in `flags`.
        unsafe { (*self.as_raw()).evcb_arg }
    }

    /// The active-queue links, kept in the record's own `evcb_active_next`.
    pub fn next(self) -> Option<CbPtr> {
        // SAFETY: as in `flags`.
        CbPtr::new(unsafe { (*self.as_raw()).evcb_active_next.next }.cast())
    }

    pub fn prev(self) -> Option<CbPtr> {
        // SAFETY: as in `flags`.
        CbPtr::new(unsafe { (*self.as_raw()).evcb_active_next.prev }.cast())
    }

    pub fn set_links(self, prev: Option<CbPtr>, next: Option<CbPtr>) {
        let raw = |p: Option<CbPtr>| p.map_or(std::ptr::null_mut(), |p| p.as_raw().cast());
        // SAFETY: as in `flags`.
        unsafe { (*self.as_raw()).evcb_active_next.prev = raw(prev) };
        // SAFETY: as in `flags`.
        unsafe { (*self.as_raw()).evcb_active_next.next = raw(next) };
    }

    pub fn set_next(self, next: Option<CbPtr>) {
        let raw = next.map_or(std::ptr::null_mut(), |p| p.as_raw().cast());
        // SAFETY: as in `flags`.
        unsafe { (*self.as_raw()).evcb_active_next.next = raw };
    }

    pub fn set_prev(self, prev: Option<CbPtr>) {
        let raw = prev.map_or(std::ptr::null_mut(), |p| p.as_raw().cast());
        // SAFETY: as in `flags`.
        unsafe { (*self.as_raw()).evcb_active_next.prev = raw };
    }

    /// Prepares a record of our own that runs `f(record, arg)` when active.
    pub fn init_self(self, f: SelfCallback, arg: *mut c_void, pri: u8) {
        // SAFETY: the record is ours and not queued (callers initialize once).
        unsafe {
            let cb = &mut *self.as_raw();
            cb.evcb_active_next.next = std::ptr::null_mut();
            cb.evcb_active_next.prev = std::ptr::null_mut();
            cb.evcb_flags = crate::ffi::event_struct::EVLIST_INIT;
            cb.evcb_pri = pri;
            cb.evcb_closure = CLOSURE_CB_SELF;
            cb.evcb_cb_union.evcb_selfcb = f;
            cb.evcb_arg = arg;
        }
    }

    /// Runs a CB_SELF record's callback.
    pub fn call_self(self) {
        // SAFETY: only CB_SELF records reach here, whose union holds evcb_selfcb.
        let f = unsafe { (*self.as_raw()).evcb_cb_union.evcb_selfcb };
        if let Some(f) = f {
            // SAFETY: calling the callback the record was prepared with.
            unsafe { f(self.as_raw(), self.arg()) };
        }
    }
}

impl EvPtr {
    pub fn new(raw: *mut event) -> Option<EvPtr> {
        NonNull::new(raw).map(EvPtr)
    }

    pub fn as_raw(self) -> *mut event {
        self.0.as_ptr()
    }

    pub fn cb(self) -> CbPtr {
        CbPtr(self.0.cast())
    }

    pub fn flags(self) -> c_short {
        self.cb().flags()
    }

    pub fn set_flags(self, flags: c_short) {
        self.cb().set_flags(flags)
    }

    pub fn fd(self) -> i32 {
        // SAFETY: the event is live (module doc).
        unsafe { (*self.as_raw()).ev_fd }
    }

    pub fn base(self) -> *mut Base {
        // SAFETY: as in `fd`.
        unsafe { (*self.as_raw()).ev_base }
    }

    pub fn events(self) -> c_short {
        // SAFETY: as in `fd`.
        unsafe { (*self.as_raw()).ev_events }
    }

    pub fn res(self) -> c_short {
        // SAFETY: as in `fd`.
        unsafe { (*self.as_raw()).ev_res }
    }

    pub fn set_res(self, res: c_short) {
        // SAFETY: as in `fd`.
        unsafe { (*self.as_raw()).ev_res = res }
    }

    pub fn callback(self) -> event_callback_fn {
        // SAFETY: events carry evcb_callback in the union (set by `assign`).
        unsafe { (*self.as_raw()).ev_evcallback.evcb_cb_union.evcb_callback }
    }

    /// Position in the timer heap, -1 when not there.
    pub fn heap_index(self) -> i32 {
        // SAFETY: as in `fd`; min_heap_idx is the union member events use.
        unsafe { (*self.as_raw()).ev_timeout_pos.min_heap_idx }
    }

    pub fn set_heap_index(self, idx: i32) {
        // SAFETY: as in `fd`.
        unsafe { (*self.as_raw()).ev_timeout_pos.min_heap_idx = idx }
    }

    /// The absolute expiry, in the monotonic clock's nanoseconds.
    pub fn deadline(self) -> u64 {
        // SAFETY: as in `fd`.
        let tv = unsafe { (*self.as_raw()).ev_timeout };
        super::clock::timeval_to_ns(tv)
    }

    pub fn set_deadline(self, ns: u64) {
        // SAFETY: as in `fd`.
        unsafe { (*self.as_raw()).ev_timeout = super::clock::ns_to_timeval(ns) }
    }

    /// The relative timeout a persistent event re-arms with (0: none).
    pub fn interval(self) -> u64 {
        // SAFETY: as in `fd`; fd and timer events use the ev_io member.
        let tv = unsafe { (*self.as_raw()).ev_.ev_io.ev_timeout };
        super::clock::timeval_to_ns(tv)
    }

    pub fn set_interval(self, ns: u64) {
        // SAFETY: as in `fd`.
        unsafe { (*self.as_raw()).ev_.ev_io.ev_timeout = super::clock::ns_to_timeval(ns) }
    }

    /// Fills the record as `event_assign` does.
    pub fn assign(
        self,
        base: *mut Base,
        fd: i32,
        events: c_short,
        cb: event_callback_fn,
        arg: *mut c_void,
        pri: u8,
    ) {
        let closure = if events & crate::reactor::EV_SIGNAL != 0 {
            CLOSURE_SIGNAL
        } else if events & crate::reactor::EV_PERSIST != 0 {
            CLOSURE_PERSIST
        } else {
            CLOSURE_EVENT
        };
        // SAFETY: the caller hands us 128 writable bytes that are not pending
        // (event_assign's contract); we overwrite them whole.
        unsafe {
            std::ptr::write_bytes(self.as_raw(), 0, 1);
            let ev = &mut *self.as_raw();
            ev.ev_evcallback.evcb_flags = crate::ffi::event_struct::EVLIST_INIT;
            ev.ev_evcallback.evcb_pri = pri;
            ev.ev_evcallback.evcb_closure = closure;
            ev.ev_evcallback.evcb_cb_union.evcb_callback = cb;
            ev.ev_evcallback.evcb_arg = arg;
            ev.ev_timeout_pos.min_heap_idx = -1;
            ev.ev_fd = fd;
            ev.ev_base = base;
            ev.ev_events = events;
        }
        // Every assigned event counts as set up, the library's own too, as
        // in libevent (a program may inspect a bufferevent's ev_read).
        super::debug::note_setup(self);
    }

    /// Turns the event into a finalizer record (event_finalize).
    pub fn set_finalizer(self, f: FinalizeFn, free: bool) {
        let closure = if free {
            CLOSURE_EVENT_FINALIZE_FREE
        } else {
            CLOSURE_EVENT_FINALIZE
        };
        // SAFETY: as in `fd`; the event is not queued, so the union and the
        // closure may change.
        unsafe {
            let cb = &mut (*self.as_raw()).ev_evcallback;
            cb.evcb_closure = closure;
            cb.evcb_cb_union.evcb_evfinalize = f;
        }
    }

    /// Runs the finalizer of a finalizer record, then frees the event if
    /// it was made by event_new and given to event_free_finalize.
    pub fn call_finalizer(self) {
        let free = self.cb().closure() == CLOSURE_EVENT_FINALIZE_FREE;
        // SAFETY: finalizer records hold evcb_evfinalize (set_finalizer).
        let f = unsafe { (*self.as_raw()).ev_evcallback.evcb_cb_union.evcb_evfinalize };
        if let Some(f) = f {
            // SAFETY: calling the program's finalizer as event.h documents.
            unsafe { f(self.as_raw(), self.cb().arg()) };
        }
        if free {
            // SAFETY: event_free_finalize takes events from event_new, which
            // allocates them with crate::mem; nothing refers to it any more.
            unsafe { crate::mem::free(self.as_raw().cast()) };
        }
    }

    /// How many times a signal event's callback is still to run.
    pub fn ncalls(self) -> c_short {
        // SAFETY: as in `fd`; signal events use the ev_signal member.
        unsafe { (*self.as_raw()).ev_.ev_signal.ev_ncalls }
    }

    pub fn set_ncalls(self, n: c_short) {
        // SAFETY: as in `ncalls`.
        unsafe { (*self.as_raw()).ev_.ev_signal.ev_ncalls = n }
    }

    /// The priority of the event.
    pub fn pri(self) -> u8 {
        self.cb().pri() as u8
    }

    /// Moves an unqueued event to another base (event_base_set).
    pub fn set_base(self, base: *mut Base, pri: u8) {
        // SAFETY: as in `fd`; the event is neither pending nor active.
        unsafe { (*self.as_raw()).ev_base = base };
        self.cb().set_pri(pri);
    }

    /// Calls the event's callback with its fd, the result flags and its argument.
    pub fn call(self, res: c_short) {
        let (cb, fd, arg) = (self.callback(), self.fd(), self.cb().arg());
        if let Some(cb) = cb {
            // SAFETY: calling the program's callback as event.h documents.
            unsafe { cb(fd, res, arg) };
        }
    }
}

//! Timeouts for bufferevents that have no fd of their own (pairs and
//! filters): their `ev_read` and `ev_write` are plain timers, armed while
//! a side is enabled and expected to see traffic.

use std::ffi::{c_int, c_short, c_void};

use crate::reactor::EV_READ;
use crate::reactor::EV_WRITE;

use super::{BEV_EVENT_READING, BEV_EVENT_TIMEOUT, BEV_EVENT_WRITING, Bufferevent};

/// Makes `ev_read` and `ev_write` timer-only events (fd -1).
pub fn assign(bev: &Bufferevent) {
    let base = bev.base_ptr();
    let pri = bev.base().default_priority();
    let me = std::ptr::from_ref(bev).cast_mut().cast::<c_void>();
    bev.ev_read()
        .assign(base, -1, 0, Some(read_timed_out), me, pri);
    bev.ev_write()
        .assign(base, -1, 0, Some(write_timed_out), me, pri);
}

/// Restarts the read timer if a read timeout is set.
pub fn reset_read(bev: &Bufferevent) {
    if let Some(ns) = Bufferevent::timeout_ns(bev.timeout_read()) {
        // Adding a timer-only event registers no fd, so it cannot fail.
        let _ = bev.base().add(bev.ev_read(), Some(ns), false);
    }
}

/// Restarts the write timer if a write timeout is set.
pub fn reset_write(bev: &Bufferevent) {
    if let Some(ns) = Bufferevent::timeout_ns(bev.timeout_write()) {
        // As in reset_read.
        let _ = bev.base().add(bev.ev_write(), Some(ns), false);
    }
}

pub fn stop(bev: &Bufferevent, what: c_short) {
    if what & EV_READ != 0 {
        bev.base().del(bev.ev_read());
    }
    if what & EV_WRITE != 0 {
        bev.base().del(bev.ev_write());
    }
}

/// After `bufferevent_set_timeouts`: a side's timer runs while that side is
/// enabled and not suspended (and, for writing, has output waiting).
pub fn adjust(bev: &Bufferevent) -> c_int {
    let enabled = bev.enabled();
    if enabled & EV_READ != 0 && !bev.read_suspended() {
        match Bufferevent::timeout_ns(bev.timeout_read()) {
            Some(_) => reset_read(bev),
            None => stop(bev, EV_READ),
        }
    } else {
        stop(bev, EV_READ);
    }
    let writing = enabled & EV_WRITE != 0 && !bev.write_suspended() && !bev.output().is_empty();
    if writing && Bufferevent::timeout_ns(bev.timeout_write()).is_some() {
        reset_write(bev);
    } else {
        stop(bev, EV_WRITE);
    }
    0
}

unsafe extern "C" fn read_timed_out(_fd: c_int, _what: c_short, arg: *mut c_void) {
    // SAFETY: arg is the bufferevent these timers were assigned for; its
    // events are deleted before its memory goes away.
    let bev = unsafe { &*arg.cast::<Bufferevent>() };
    bev.loop_work(|bev| {
        bev.disable(EV_READ);
        bev.run_eventcb(BEV_EVENT_TIMEOUT | BEV_EVENT_READING, 0);
    });
}

unsafe extern "C" fn write_timed_out(_fd: c_int, _what: c_short, arg: *mut c_void) {
    // SAFETY: as in read_timed_out.
    let bev = unsafe { &*arg.cast::<Bufferevent>() };
    bev.loop_work(|bev| {
        bev.disable(EV_WRITE);
        bev.run_eventcb(BEV_EVENT_TIMEOUT | BEV_EVENT_WRITING, 0);
    });
}

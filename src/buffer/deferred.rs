//! `evbuffer_defer_callbacks`: a buffer's callbacks run from an event loop,
//! once for a batch of changes, with the counts added up since the last run.
//!
//! The buffer keeps a record of its own in the loop's active queue (the
//! reactor's `CbPtr::init_self` and `Base::schedule`). While the record is
//! queued the buffer holds one more use of itself (`busy`), so that
//! `evbuffer_free` in between leaves it allocated until the callbacks have
//! run, as libevent 2.1.12 keeps a reference for them.

use std::cell::{Cell, UnsafeCell};
use std::ffi::c_void;

use super::Buffer;
use crate::ffi::event_struct::event_callback;
use crate::reactor::Base;
use crate::reactor::event_mem::CbPtr;

/// Where and how a buffer's callbacks are deferred. Boxed in the buffer
/// once, so the record's address, which the loop's queue holds, never
/// moves; deferring to another base later reuses it.
pub(crate) struct Deferral {
    base: Cell<*mut Base>,
    record: UnsafeCell<event_callback>,
    /// Bytes added and removed since the deferred callbacks last ran.
    pend: Cell<(usize, usize)>,
}

impl Deferral {
    fn cb(&self) -> CbPtr {
        CbPtr::new(self.record.get()).expect("field of a live box")
    }

    fn base(&self) -> &Base {
        // SAFETY: the program keeps the base alive while buffers defer to it
        // (libevent asks the same).
        unsafe { &*self.base.get() }
    }
}

impl Buffer {
    /// Adds a change to the batch the deferred callbacks will report, and
    /// returns the batch so far.
    pub(crate) fn add_pending(&self, added: usize, deleted: usize) -> (usize, usize) {
        let Some(d) = self.defer.get() else {
            return (added, deleted);
        };
        let (a, d2) = d.pend.get();
        let batch = (a + added, d2 + deleted);
        d.pend.set(batch);
        batch
    }

    /// Takes the batch the deferred callbacks report.
    pub(crate) fn take_pending(&self) -> (usize, usize) {
        self.defer.get().map_or((0, 0), |d| d.pend.replace((0, 0)))
    }

    /// Makes the buffer's callbacks (other than the library's own) run from
    /// `base`'s loop. The buffer must live at the address `self_raw` (from
    /// [`Buffer::into_raw`]).
    pub fn defer_callbacks(&self, self_raw: *mut Buffer, base: *mut Base) {
        // A record already queued on another base moves to the new one.
        let was_queued = self.undefer();
        let d = self.defer.get_or_init(|| {
            Box::new(Deferral {
                base: Cell::new(base),
                // SAFETY: all-zero is a valid unqueued record; init_self
                // fills it below.
                record: UnsafeCell::new(unsafe { std::mem::zeroed() }),
                pend: Cell::new((0, 0)),
            })
        });
        self.inner.borrow_mut().deferring = true;
        // Not queued (undefer took it off): safe to fill again.
        d.base.set(base);
        let pri = d.base().default_priority();
        d.cb().init_self(Some(run_deferred), self_raw.cast(), pri);
        if was_queued {
            self.schedule_deferred();
        }
    }

    /// Takes the record off its loop, dropping the hold it had; true if it
    /// was queued.
    pub(crate) fn undefer(&self) -> bool {
        let queued = self
            .defer
            .get()
            .is_some_and(|d| d.base().unschedule(d.cb()));
        if queued {
            self.busy.set(self.busy.get() - 1);
        }
        queued
    }

    #[inline]
    pub(crate) fn is_deferring(&self) -> bool {
        self.defer.get().is_some()
    }

    /// Queues the record unless it is queued already; a newly queued record
    /// holds the buffer.
    pub(crate) fn schedule_deferred(&self) {
        let newly = self.defer.get().is_some_and(|d| d.base().schedule(d.cb()));
        if newly {
            self.busy.set(self.busy.get() + 1);
        }
    }
}

/// The record's function: runs the deferred callbacks, then lets go of the
/// buffer, freeing it if `evbuffer_free` was called meanwhile.
unsafe extern "C" fn run_deferred(_cb: *mut event_callback, arg: *mut c_void) {
    let raw = arg.cast::<Buffer>();
    // SAFETY: the hold taken when the record was queued kept the buffer
    // allocated; enter_raw frees it once the last use is over.
    unsafe {
        Buffer::enter_raw(raw, |b| {
            b.run_deferred_callbacks();
            b.busy.set(b.busy.get() - 1);
        })
    };
}

//! `event_enable_debug_mode`: the events the program has set up, so that
//! using one that was never assigned (or was torn down), or assigning one
//! that is still pending, ends the program with libevent's message instead
//! of corrupting the base. Off by default; then each hook is one load.

use std::collections::HashSet;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};

use super::event_mem::EvPtr;
use crate::ffi::event_struct::{EVLIST_INSERTED, EVLIST_TIMEOUT};
use crate::log;

static ON: AtomicBool = AtomicBool::new(false);
/// Set once a base or an event exists: debug mode can no longer start.
static TOO_LATE: AtomicBool = AtomicBool::new(false);
/// Addresses of the events set up and not torn down since.
static SETUP: Mutex<Option<HashSet<usize>>> = Mutex::new(None);

/// libevent's code for a failed assertion, given to the fatal callback.
const ERR_ABORT: i32 = 0xdeaddead_u32 as i32;

fn table() -> std::sync::MutexGuard<'static, Option<HashSet<usize>>> {
    SETUP.lock().unwrap_or_else(|e| e.into_inner())
}

/// `event_enable_debug_mode`: fatal when called twice or after a base or
/// an event was made, as in libevent.
pub fn enable() {
    if ON.load(Ordering::Acquire) {
        log::fatal_with(1, "event_enable_debug_mode was called twice!");
    }
    if TOO_LATE.load(Ordering::Acquire) {
        log::fatal_with(
            1,
            "event_enable_debug_mode must be called *before* creating any events or \
             event_bases",
        );
    }
    *table() = Some(HashSet::new());
    ON.store(true, Ordering::Release);
}

/// A base was made: too late to turn debug mode on.
pub fn note_base() {
    TOO_LATE.store(true, Ordering::Relaxed);
}

/// `ev` was assigned.
pub fn note_setup(ev: EvPtr) {
    TOO_LATE.store(true, Ordering::Relaxed);
    if ON.load(Ordering::Acquire)
        && let Some(set) = table().as_mut()
    {
        set.insert(ev.as_raw() as usize);
    }
}

/// `ev` was freed, unassigned or finalized.
pub fn note_teardown(ev: EvPtr) {
    TOO_LATE.store(true, Ordering::Relaxed);
    if ON.load(Ordering::Acquire)
        && let Some(set) = table().as_mut()
    {
        set.remove(&(ev.as_raw() as usize));
    }
}

fn describe(ev: EvPtr) -> String {
    format!(
        "{:p} (events: 0x{:x}, fd: {}, flags: 0x{:x})",
        ev.as_raw(),
        ev.events(),
        ev.fd(),
        ev.flags()
    )
}

/// Fatal unless `ev` is set up (a function reads or uses the event).
pub fn assert_setup(ev: EvPtr) {
    if !ON.load(Ordering::Acquire) {
        return;
    }
    let known = table()
        .as_ref()
        .is_some_and(|set| set.contains(&(ev.as_raw() as usize)));
    if !known {
        log::fatal_with(
            ERR_ABORT,
            &format!(
                "event_debug_assert_is_setup_ called on a non-initialized event {}",
                describe(ev)
            ),
        );
    }
}

/// Fatal if `ev` is set up and pending (about to be assigned again or
/// torn down).
pub fn assert_not_added(ev: EvPtr) {
    if !ON.load(Ordering::Acquire) {
        return;
    }
    let known = table()
        .as_ref()
        .is_some_and(|set| set.contains(&(ev.as_raw() as usize)));
    if known && ev.flags() & (EVLIST_INSERTED | EVLIST_TIMEOUT) != 0 {
        log::fatal_with(
            ERR_ABORT,
            &format!(
                "event_debug_assert_not_added_ called on an already added event {}",
                describe(ev)
            ),
        );
    }
}

//! `event2/event_compat.h`: libevent 1.x's functions, which act on the
//! current base, the one event_init() made last.

use std::ffi::{c_char, c_int, c_short, c_void};

use super::event::event_callback_fn;
use super::event_struct::event;
use super::{EntryResult, enter, refuse, timeval_arg};
use crate::reactor::config::Config;
use crate::reactor::event_mem::EvPtr;
use crate::reactor::{Base, clock, current_base, set_current_base};

/// The current base, refusing the call when event_init() made none.
fn current<'a>(name: &str) -> EntryResult<&'a Base> {
    let base = current_base();
    if base.is_null() {
        return refuse(name, "no current event_base: call event_init() first");
    }
    // SAFETY: the current base is live until event_base_free forgets it.
    Ok(unsafe { &*base })
}

/// Creates a base and makes it the current base of the functions below.
#[unsafe(no_mangle)]
pub extern "C" fn event_init() -> *mut Base {
    enter("event_init", || {
        let config = Config::default();
        let Some((method, features)) = config.choose() else {
            return refuse("event_init", "no event mechanism available");
        };
        match Base::new(method, features, false, false) {
            Ok(base) => {
                let raw = Box::into_raw(Box::new(base));
                set_current_base(raw);
                Ok(raw)
            }
            Err(e) => refuse("event_init", &format!("cannot create a base: {e}")),
        }
    })
}

/// event_base_dispatch() on the current base.
#[unsafe(no_mangle)]
pub extern "C" fn event_dispatch() -> c_int {
    enter("event_dispatch", || Ok(current("event_dispatch")?.run(0)))
}

/// event_base_loop() on the current base.
#[unsafe(no_mangle)]
pub extern "C" fn event_loop(flags: c_int) -> c_int {
    enter("event_loop", || Ok(current("event_loop")?.run(flags)))
}

/// event_base_loopexit() on the current base.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_loopexit(tv: *const libc::timeval) -> c_int {
    enter("event_loopexit", || {
        let b = current("event_loopexit")?;
        Ok(b.loopexit(timeval_arg(tv).map(clock::timeout_ns)))
    })
}

/// event_base_loopbreak() on the current base.
#[unsafe(no_mangle)]
pub extern "C" fn event_loopbreak() -> c_int {
    enter("event_loopbreak", || {
        current("event_loopbreak")?.loopbreak();
        Ok(0)
    })
}

/// event_base_once() on the current base.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_once(
    fd: c_int,
    events: c_short,
    callback: event_callback_fn,
    arg: *mut c_void,
    tv: *const libc::timeval,
) -> c_int {
    enter("event_once", || {
        let b = current("event_once")?;
        Ok(b.once(
            fd,
            events,
            callback,
            arg,
            timeval_arg(tv).map(clock::timeout_ns),
        ))
    })
}

/// The backend name of the current base.
#[unsafe(no_mangle)]
pub extern "C" fn event_get_method() -> *const c_char {
    enter("event_get_method", || {
        Ok(super::event::method_name(
            current("event_get_method")?.method(),
        ))
    })
}

/// event_base_priority_init() on the current base.
#[unsafe(no_mangle)]
pub extern "C" fn event_priority_init(npriorities: c_int) -> c_int {
    enter("event_priority_init", || {
        let b = current("event_priority_init")?;
        let n = usize::try_from(npriorities).unwrap_or(0);
        Ok(if b.set_priorities(n) { 0 } else { -1 })
    })
}

/// event_assign() on the current base (which may be none yet: then
/// event_base_set() must give the event a base before it is added).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_set(
    ev: *mut event,
    fd: c_int,
    events: c_short,
    callback: event_callback_fn,
    arg: *mut c_void,
) {
    enter("event_set", || {
        let Some(ev) = EvPtr::new(ev) else {
            return refuse("event_set", "called with a NULL event");
        };
        super::event::assign(ev, std::ptr::null_mut(), fd, events, callback, arg)
    })
}

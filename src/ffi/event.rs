//! `event2/event.h`: bases, events and the loop.

use std::ffi::{c_char, c_int, c_short, c_uint, c_void};

use super::event_struct::{EVLIST_ACTIVE, EVLIST_INIT, event};
use super::{EntryResult, Failure, enter, handle, refuse, timeval_arg, write_out};
use crate::log;
use crate::reactor::event_mem::EvPtr;
use crate::reactor::{AddError, Base, EV_CLOSED, EV_READ, EV_SIGNAL, EV_WRITE, clock};

/// The callback of an fd, signal or timer event.
pub type event_callback_fn =
    Option<unsafe extern "C" fn(fd: c_int, what: c_short, arg: *mut c_void)>;

/// Receives the library's messages: a severity (EVENT_LOG_DEBUG to
/// EVENT_LOG_ERR) and the text.
pub type event_log_cb = Option<unsafe extern "C" fn(severity: c_int, msg: *const c_char)>;

/// Called instead of abort() on a fatal error.
pub type event_fatal_cb = Option<unsafe extern "C" fn(err: c_int)>;

/// The version string this library answers with.
const VERSION: &std::ffi::CStr = c"2.1.12-stable";
/// The version number, as LIBEVENT_VERSION_NUMBER.
const VERSION_NUMBER: u32 = 0x0201_0c00;

fn base_arg<'a>(name: &str, base: *mut Base) -> EntryResult<&'a Base> {
    handle(name, base.cast_const())
}

fn event_arg(name: &str, ev: *mut event) -> EntryResult<EvPtr> {
    match EvPtr::new(ev) {
        Some(ev) => Ok(ev),
        None => refuse(name, "called with a NULL event"),
    }
}

/// The base an event was assigned to, refusing events with none.
fn event_base_of<'a>(name: &str, ev: EvPtr) -> EntryResult<&'a Base> {
    let base = ev.base();
    if base.is_null() {
        return refuse(name, "event has no event_base set.");
    }
    // SAFETY: an assigned event points at the live base it was assigned to.
    Ok(unsafe { &*base })
}

fn new_base(name: &str) -> EntryResult<*mut Base> {
    let avoid_epoll = std::env::var_os("EVENT_NOEPOLL").is_some();
    match Base::new(avoid_epoll) {
        Ok(base) => Ok(Box::into_raw(Box::new(base))),
        Err(e) => {
            log::warn(&format!("{name}: cannot create the epoll instance: {e}"));
            Err(Failure)
        }
    }
}

/// Marks this library as bufferevent-rs (tests use it to tell which
/// implementation answers libevent's names). Returns our crate version.
#[unsafe(no_mangle)]
pub extern "C" fn bufferevent_rs_version() -> *const c_char {
    concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr().cast()
}

/// Creates a new event base with the default settings, or NULL on failure.
#[unsafe(no_mangle)]
pub extern "C" fn event_base_new() -> *mut Base {
    enter("event_base_new", || new_base("event_base_new"))
}

/// Frees a base. Pending events are dropped without their callbacks
/// running; bufferevents freed earlier finish their teardown here.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_base_free(base: *mut Base) {
    enter("event_base_free", || {
        let b = base_arg("event_base_free", base)?;
        b.shutdown();
        if crate::reactor::current_base() == base {
            crate::reactor::set_current_base(std::ptr::null_mut());
        }
        // SAFETY: the base came from Box::into_raw in new_base and the
        // program gives up its pointer by freeing it.
        drop(unsafe { Box::from_raw(base) });
        Ok(())
    })
}

/// Runs the loop until no events remain or it is told to exit.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_base_dispatch(base: *mut Base) -> c_int {
    enter("event_base_dispatch", || {
        Ok(base_arg("event_base_dispatch", base)?.run(0))
    })
}

/// Runs the loop with EVLOOP_* flags; 0 on a normal exit, 1 when no
/// events were left, -1 on error.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_base_loop(base: *mut Base, flags: c_int) -> c_int {
    enter("event_base_loop", || {
        Ok(base_arg("event_base_loop", base)?.run(flags))
    })
}

/// Makes the loop exit after the current pass, now or after `tv`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_base_loopexit(base: *mut Base, tv: *const libc::timeval) -> c_int {
    enter("event_base_loopexit", || {
        let b = base_arg("event_base_loopexit", base)?;
        Ok(b.loopexit(timeval_arg(tv).map(clock::relative_ns)))
    })
}

/// Makes the loop exit right after the callback that is running.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_base_loopbreak(base: *mut Base) -> c_int {
    enter("event_base_loopbreak", || {
        base_arg("event_base_loopbreak", base)?.loopbreak();
        Ok(0)
    })
}

/// Whether the last loop ended through event_base_loopexit.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_base_got_exit(base: *mut Base) -> c_int {
    enter("event_base_got_exit", || {
        Ok(base_arg("event_base_got_exit", base)?.got_exit().into())
    })
}

/// Whether the last loop ended through event_base_loopbreak.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_base_got_break(base: *mut Base) -> c_int {
    enter("event_base_got_break", || {
        Ok(base_arg("event_base_got_break", base)?.got_break().into())
    })
}

/// The name of the backend: "epoll", or "poll" where libevent would have
/// avoided epoll.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_base_get_method(base: *const Base) -> *const c_char {
    enter("event_base_get_method", || {
        let b = handle("event_base_get_method", base)?;
        Ok(if b.method() == "poll" {
            c"poll".as_ptr()
        } else {
            c"epoll".as_ptr()
        })
    })
}

/// The features of the backend: EV_FEATURE_ET, _O1 and _EARLY_CLOSE for
/// epoll, EV_FEATURE_FDS for poll.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_base_get_features(base: *const Base) -> c_int {
    enter("event_base_get_features", || {
        let b = handle("event_base_get_features", base)?;
        Ok(if b.method() == "poll" {
            0x04
        } else {
            0x01 | 0x02 | 0x08
        })
    })
}

/// Counts events of the kinds in `type_` (EVENT_BASE_COUNT_ACTIVE,
/// _VIRTUAL, _ADDED), summed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_base_get_num_events(base: *mut Base, type_: c_uint) -> c_int {
    enter("event_base_get_num_events", || {
        let (active, added) = base_arg("event_base_get_num_events", base)?.counts();
        let mut n = 0;
        if type_ & 0x01 != 0 {
            n += active;
        }
        if type_ & 0x04 != 0 {
            n += added;
        }
        Ok(n as c_int)
    })
}

/// Sets the number of priorities (1 to 256); fails while callbacks are
/// active.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_base_priority_init(base: *mut Base, npriorities: c_int) -> c_int {
    enter("event_base_priority_init", || {
        let b = base_arg("event_base_priority_init", base)?;
        let n = usize::try_from(npriorities).unwrap_or(0);
        Ok(if b.set_priorities(n) { 0 } else { -1 })
    })
}

/// The number of priorities of the base.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_base_get_npriorities(base: *mut Base) -> c_int {
    enter("event_base_get_npriorities", || {
        Ok(base_arg("event_base_get_npriorities", base)?.priorities() as c_int)
    })
}

/// Runs `cb` once, when `fd` is ready for `events` or after `tv`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_base_once(
    base: *mut Base,
    fd: c_int,
    events: c_short,
    cb: event_callback_fn,
    arg: *mut c_void,
    tv: *const libc::timeval,
) -> c_int {
    enter("event_base_once", || {
        let b = base_arg("event_base_once", base)?;
        Ok(b.once(fd, events, cb, arg, timeval_arg(tv).map(clock::relative_ns)))
    })
}

/// Prepares caller-owned memory as an event; fails for an event that is
/// pending or for EV_SIGNAL mixed with fd flags.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_assign(
    ev: *mut event,
    base: *mut Base,
    fd: c_int,
    events: c_short,
    callback: event_callback_fn,
    arg: *mut c_void,
) -> c_int {
    enter("event_assign", || {
        let ev = event_arg("event_assign", ev)?;
        let b = base_arg("event_assign", base)?;
        assign(ev, b, base, fd, events, callback, arg)?;
        Ok(0)
    })
}

fn assign(
    ev: EvPtr,
    b: &Base,
    base: *mut Base,
    fd: c_int,
    events: c_short,
    callback: event_callback_fn,
    arg: *mut c_void,
) -> EntryResult<()> {
    if events & EV_SIGNAL != 0 && events & (EV_READ | EV_WRITE | EV_CLOSED) != 0 {
        return refuse(
            "event_assign",
            "EV_SIGNAL is not compatible with EV_READ, EV_WRITE or EV_CLOSED",
        );
    }
    // event_self_cbarg() stands for the event itself.
    let arg = if arg == self_cbarg_marker() {
        ev.as_raw().cast()
    } else {
        arg
    };
    ev.assign(base, fd, events, callback, arg, b.default_priority());
    Ok(())
}

/// The address event_self_cbarg() returns: a byte of ours that no
/// program's own pointer can equal.
fn self_cbarg_marker() -> *mut c_void {
    static MARKER: u8 = 0;
    (&raw const MARKER).cast_mut().cast()
}

/// A placeholder callback argument: event_new and event_assign replace it
/// with the event being made, so a callback receives its own event.
#[unsafe(no_mangle)]
pub extern "C" fn event_self_cbarg() -> *mut c_void {
    self_cbarg_marker()
}

/// Allocates and assigns an event; NULL on failure.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_new(
    base: *mut Base,
    fd: c_int,
    events: c_short,
    callback: event_callback_fn,
    arg: *mut c_void,
) -> *mut event {
    enter("event_new", || {
        let b = base_arg("event_new", base)?;
        // SAFETY: an all-zero struct event is a valid unassigned event.
        let raw = Box::into_raw(Box::new(unsafe { std::mem::zeroed::<event>() }));
        let ev = EvPtr::new(raw).expect("boxed pointer is not null");
        if assign(ev, b, base, fd, events, callback, arg).is_err() {
            // SAFETY: raw is the box made above, never shared.
            drop(unsafe { Box::from_raw(raw) });
            return Err(Failure);
        }
        Ok(raw)
    })
}

/// Deletes an event made by event_new and frees it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_free(ev: *mut event) {
    enter("event_free", || {
        let ev = event_arg("event_free", ev)?;
        del(ev, "event_free")?;
        // SAFETY: events given to event_free come from event_new's Box and
        // are no longer linked anywhere after `del`.
        drop(unsafe { Box::from_raw(ev.as_raw()) });
        Ok(())
    })
}

/// Makes the event pending: on its fd or signal, and on a timeout of `tv`
/// if given.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_add(ev: *mut event, tv: *const libc::timeval) -> c_int {
    enter("event_add", || {
        let ev = event_arg("event_add", ev)?;
        let base = event_base_of("event_add", ev)?;
        match base.add(ev, timeval_arg(tv).map(clock::relative_ns), false) {
            Ok(()) => Ok(0),
            Err(AddError::Register(e)) => {
                refuse("event_add", &format!("cannot watch fd {}: {e}", ev.fd()))
            }
            Err(_) => Err(Failure),
        }
    })
}

fn del(ev: EvPtr, name: &str) -> EntryResult<()> {
    // An event that was never added (or whose base is gone) has nothing to undo.
    use crate::ffi::event_struct::{EVLIST_ACTIVE_LATER, EVLIST_INSERTED, EVLIST_TIMEOUT};
    let linked = EVLIST_ACTIVE | EVLIST_ACTIVE_LATER | EVLIST_INSERTED | EVLIST_TIMEOUT;
    if ev.flags() & linked == 0 {
        if ev.base().is_null() {
            return refuse(name, "event has no event_base set.");
        }
        return Ok(());
    }
    event_base_of(name, ev)?.del(ev);
    Ok(())
}

/// Makes the event non-pending and non-active.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_del(ev: *mut event) -> c_int {
    enter("event_del", || {
        del(event_arg("event_del", ev)?, "event_del")?;
        Ok(0)
    })
}

/// Removes only the timeout of a pending event.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_remove_timer(ev: *mut event) -> c_int {
    enter("event_remove_timer", || {
        let ev = event_arg("event_remove_timer", ev)?;
        let base = event_base_of("event_remove_timer", ev)?;
        base.remove_timer(ev);
        Ok(0)
    })
}

/// Makes the event active with `res` as if it had happened.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_active(ev: *mut event, res: c_int, _ncalls: c_short) {
    enter("event_active", || {
        let ev = event_arg("event_active", ev)?;
        event_base_of("event_active", ev)?.activate(ev, res as c_short);
        Ok(())
    })
}

/// Which of `events` the event waits for or is active with; with
/// EV_TIMEOUT and a pending timeout, its expiry in wall-clock time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_pending(
    ev: *const event,
    events: c_short,
    tv: *mut libc::timeval,
) -> c_int {
    enter("event_pending", || {
        let ev = event_arg("event_pending", ev.cast_mut())?;
        if ev.flags() & EVLIST_INIT == 0 || ev.base().is_null() {
            return Ok(0);
        }
        let base = event_base_of("event_pending", ev)?;
        let (found, deadline) = base.pending(ev, events);
        if let Some(deadline) = deadline {
            let now = clock::monotonic_ns();
            let wall = clock::wall_ns().saturating_add(deadline.saturating_sub(now));
            write_out(tv, clock::ns_to_timeval(wall));
        }
        Ok(c_int::from(found))
    })
}

/// Whether the memory holds an assigned event.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_initialized(ev: *const event) -> c_int {
    enter("event_initialized", || {
        let ev = event_arg("event_initialized", ev.cast_mut())?;
        Ok(c_int::from(ev.flags() & EVLIST_INIT != 0))
    })
}

/// Sets an event's priority; fails for an active event or one out of range.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_priority_set(ev: *mut event, pri: c_int) -> c_int {
    enter("event_priority_set", || {
        let ev = event_arg("event_priority_set", ev)?;
        let base = event_base_of("event_priority_set", ev)?;
        if ev.flags() & EVLIST_ACTIVE != 0 || pri < 0 || pri as usize >= base.priorities() {
            return Ok(-1);
        }
        ev.cb().set_pri(pri as u8);
        Ok(0)
    })
}

/// The fd of an event.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_get_fd(ev: *const event) -> c_int {
    enter("event_get_fd", || {
        Ok(event_arg("event_get_fd", ev.cast_mut())?.fd())
    })
}

/// The base of an event.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_get_base(ev: *const event) -> *mut Base {
    enter("event_get_base", || {
        Ok(event_arg("event_get_base", ev.cast_mut())?.base())
    })
}

/// The EV_* flags an event was assigned with.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_get_events(ev: *const event) -> c_short {
    enter("event_get_events", || {
        Ok(event_arg("event_get_events", ev.cast_mut())?.events())
    })
}

/// The callback of an event.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_get_callback(ev: *const event) -> event_callback_fn {
    enter("event_get_callback", || {
        Ok(event_arg("event_get_callback", ev.cast_mut())?.callback())
    })
}

/// The callback argument of an event.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_get_callback_arg(ev: *const event) -> *mut c_void {
    enter("event_get_callback_arg", || {
        Ok(event_arg("event_get_callback_arg", ev.cast_mut())?
            .cb()
            .arg())
    })
}

/// Reads back everything an event was assigned with; any output pointer
/// may be NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_get_assignment(
    ev: *const event,
    base_out: *mut *mut Base,
    fd_out: *mut c_int,
    events_out: *mut c_short,
    callback_out: *mut event_callback_fn,
    arg_out: *mut *mut c_void,
) {
    enter("event_get_assignment", || {
        let ev = event_arg("event_get_assignment", ev.cast_mut())?;
        write_out(base_out, ev.base());
        write_out(fd_out, ev.fd());
        write_out(events_out, ev.events());
        write_out(callback_out, ev.callback());
        write_out(arg_out, ev.cb().arg());
        Ok(())
    })
}

/// The size of struct event in this library: 128, as in the reference.
#[unsafe(no_mangle)]
pub extern "C" fn event_get_struct_event_size() -> usize {
    std::mem::size_of::<event>()
}

/// "2.1.12-stable".
#[unsafe(no_mangle)]
pub extern "C" fn event_get_version() -> *const c_char {
    VERSION.as_ptr()
}

/// 0x02010c00.
#[unsafe(no_mangle)]
pub extern "C" fn event_get_version_number() -> u32 {
    VERSION_NUMBER
}

/// Sends the library's messages to `cb` instead of stderr (NULL restores
/// stderr).
#[unsafe(no_mangle)]
pub extern "C" fn event_set_log_callback(cb: event_log_cb) {
    log::set_log_callback(cb);
}

/// Calls `cb` instead of abort() on a fatal internal error.
#[unsafe(no_mangle)]
pub extern "C" fn event_set_fatal_callback(cb: event_fatal_cb) {
    log::set_fatal_callback(cb);
}

/// Turns debug messages on for the categories in `which` (0 turns them off).
#[unsafe(no_mangle)]
pub extern "C" fn event_enable_debug_logging(which: u32) {
    log::set_debug_mask(which);
}

/// The time at which the current pass of the loop began, or the current
/// time outside the loop, in wall-clock terms.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_base_gettimeofday_cached(
    base: *mut Base,
    tv: *mut libc::timeval,
) -> c_int {
    enter("event_base_gettimeofday_cached", || {
        let b = base_arg("event_base_gettimeofday_cached", base)?;
        let lag = clock::monotonic_ns().saturating_sub(b.now());
        write_out(
            tv,
            clock::ns_to_timeval(clock::wall_ns().saturating_sub(lag)),
        );
        Ok(0)
    })
}

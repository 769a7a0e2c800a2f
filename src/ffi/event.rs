//! `event2/event.h`: bases, events and the loop.

use std::ffi::{c_char, c_int, c_short, c_uint, c_void};

use super::event_struct::{EVLIST_ACTIVE, EVLIST_INIT, event};
use super::{EntryResult, Failure, enter, handle, refuse, timeval_arg, write_out};
use crate::log;
use crate::reactor::config::{Config, EVENT_BASE_FLAG_NO_CACHE_TIME, EVENT_BASE_FLAG_NOLOCK};
use crate::reactor::debug;
use crate::reactor::event_mem::EvPtr;
use crate::reactor::{
    AddError, Base, DelWait, EV_CLOSED, EV_ET, EV_READ, EV_SIGNAL, EV_WRITE, clock,
};

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

/// [`event_arg`] for functions that use an assigned event: in debug mode,
/// one that is not set up is fatal.
fn setup_event_arg(name: &str, ev: *mut event) -> EntryResult<EvPtr> {
    let ev = event_arg(name, ev)?;
    debug::assert_setup(ev);
    Ok(ev)
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

fn new_base(name: &str, config: &Config) -> EntryResult<*mut Base> {
    let Some((method, features)) = config.choose() else {
        return refuse(name, "no event mechanism available");
    };
    let no_cache = config.flags & EVENT_BASE_FLAG_NO_CACHE_TIME != 0;
    let nolock = config.flags & EVENT_BASE_FLAG_NOLOCK != 0;
    match Base::new(method, features, no_cache, nolock) {
        Ok(base) => {
            base.set_dispatch_limit(config.limit);
            Ok(Box::into_raw(Box::new(base)))
        }
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
    enter("event_base_new", || {
        new_base("event_base_new", &Config::default())
    })
}

/// Creates a base as `cfg` asks: the backend libevent would choose
/// without the avoided methods and with the required features. NULL
/// when no method qualifies.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_base_new_with_config(cfg: *const Config) -> *mut Base {
    enter("event_base_new_with_config", || {
        if cfg.is_null() {
            return new_base("event_base_new_with_config", &Config::default());
        }
        let cfg = handle("event_base_new_with_config", cfg)?;
        new_base("event_base_new_with_config", cfg)
    })
}

/// A new, empty configuration for event_base_new_with_config().
#[unsafe(no_mangle)]
pub extern "C" fn event_config_new() -> *mut Config {
    enter("event_config_new", || {
        Ok(Box::into_raw(Box::new(Config::default())))
    })
}

/// Frees a configuration.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_config_free(cfg: *mut Config) {
    enter("event_config_free", || {
        handle("event_config_free", cfg.cast_const())?;
        // SAFETY: configurations come from Box::into_raw in
        // event_config_new and the program gives this one up.
        drop(unsafe { Box::from_raw(cfg) });
        Ok(())
    })
}

fn config_mut<'a>(name: &str, cfg: *mut Config) -> EntryResult<&'a mut Config> {
    handle(name, cfg.cast_const())?;
    // SAFETY: a live configuration of ours, used by one caller at a time.
    Ok(unsafe { &mut *cfg })
}

/// Excludes the backend named `method` ("epoll", "poll", "select").
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_config_avoid_method(
    cfg: *mut Config,
    method: *const c_char,
) -> c_int {
    enter("event_config_avoid_method", || {
        let cfg = config_mut("event_config_avoid_method", cfg)?;
        if method.is_null() {
            return refuse("event_config_avoid_method", "called with a NULL method");
        }
        // SAFETY: a non-NULL method is a NUL-terminated string.
        let name = unsafe { std::ffi::CStr::from_ptr(method) };
        cfg.avoid.push(name.to_string_lossy().into_owned());
        Ok(0)
    })
}

/// Accepts only backends with all of these EV_FEATURE_* bits.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_config_require_features(cfg: *mut Config, feature: c_int) -> c_int {
    enter("event_config_require_features", || {
        config_mut("event_config_require_features", cfg)?.require = feature;
        Ok(0)
    })
}

/// Adds EVENT_BASE_FLAG_* options.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_config_set_flag(cfg: *mut Config, flag: c_int) -> c_int {
    enter("event_config_set_flag", || {
        config_mut("event_config_set_flag", cfg)?.flags |= flag;
        Ok(0)
    })
}

/// A hint for Windows' IOCP; accepted and unused, as on Linux libevent.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_config_set_num_cpus_hint(cfg: *mut Config, cpus: c_int) -> c_int {
    enter("event_config_set_num_cpus_hint", || {
        let _ = (config_mut("event_config_set_num_cpus_hint", cfg)?, cpus);
        Ok(0)
    })
}

/// Bounds the time and number of callbacks a pass runs at priority
/// `min_priority` or less urgent before the loop checks for new events.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_config_set_max_dispatch_interval(
    cfg: *mut Config,
    max_interval: *const libc::timeval,
    max_callbacks: c_int,
    min_priority: c_int,
) -> c_int {
    enter("event_config_set_max_dispatch_interval", || {
        let cfg = config_mut("event_config_set_max_dispatch_interval", cfg)?;
        // A negative tv_sec means "no time bound", as in libevent.
        let max_ns = timeval_arg(max_interval)
            .filter(|tv| tv.tv_sec >= 0)
            .map(clock::relative_ns);
        cfg.set_limit(max_ns, max_callbacks, min_priority);
        Ok(0)
    })
}

/// The names of the backends libevent offers on Linux, most preferred
/// first, ending with NULL.
#[unsafe(no_mangle)]
pub extern "C" fn event_get_supported_methods() -> *mut *const c_char {
    struct Names([*const c_char; 4]);
    // SAFETY: the table only holds pointers to static strings.
    unsafe impl Sync for Names {}
    static NAMES: Names = Names([
        c"epoll".as_ptr(),
        c"poll".as_ptr(),
        c"select".as_ptr(),
        std::ptr::null(),
    ]);
    (&raw const NAMES.0).cast_mut().cast()
}

/// The static C string of a method name.
pub(crate) fn method_name(method: &str) -> *const c_char {
    match method {
        "poll" => c"poll".as_ptr(),
        "select" => c"select".as_ptr(),
        _ => c"epoll".as_ptr(),
    }
}

/// Frees a base. Pending events are dropped without their callbacks
/// running; bufferevents freed earlier finish their teardown here.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_base_free(base: *mut Base) {
    enter("event_base_free", || {
        free_base("event_base_free", base, true)
    })
}

/// Tears `base` down (running finalizers or not) and frees it.
fn free_base(name: &str, base: *mut Base, run_finalizers: bool) -> EntryResult<()> {
    base_arg(name, base)?.shutdown(run_finalizers);
    if crate::reactor::current_base() == base {
        crate::reactor::set_current_base(std::ptr::null_mut());
    }
    // SAFETY: the base came from Box::into_raw in new_base and the program
    // gives up its pointer by freeing it.
    drop(unsafe { Box::from_raw(base) });
    Ok(())
}

/// Frees a base like event_base_free() but without running the
/// finalizers of events given to event_finalize().
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_base_free_nofinalize(base: *mut Base) {
    enter("event_base_free_nofinalize", || {
        free_base("event_base_free_nofinalize", base, false)
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
        Ok(method_name(b.method()))
    })
}

/// The features of the backend: EV_FEATURE_ET, _O1 and _EARLY_CLOSE for
/// epoll, EV_FEATURE_FDS and _EARLY_CLOSE for poll, EV_FEATURE_FDS for select.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_base_get_features(base: *const Base) -> c_int {
    enter("event_base_get_features", || {
        Ok(handle("event_base_get_features", base)?.features())
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

/// Sets the number of priorities (1 to 255); fails while callbacks are
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
        Ok(b.once(fd, events, cb, arg, timeval_arg(tv).map(clock::timeout_ns)))
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
        assign(ev, base, fd, events, callback, arg)?;
        Ok(0)
    })
}

/// Fills an event; a NULL base means the current base of event_init(),
/// and with none the event has no base (as in libevent).
pub(crate) fn assign(
    ev: EvPtr,
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
    let base = if base.is_null() {
        crate::reactor::current_base()
    } else {
        base
    };
    debug::assert_not_added(ev);
    // SAFETY: a non-NULL base is live (pointer contract).
    let pri = unsafe { base.as_ref() }.map_or(0, Base::default_priority);
    ev.assign(base, fd, events, callback, arg, pri);
    if events & EV_ET != 0 {
        ev.set_flags(ev.flags() | crate::reactor::event_mem::EVLIST_X_EDGE);
    }
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
        // The program may free the event's memory itself after event_del
        // when it set its own allocator, so it comes from that allocator.
        let raw = crate::mem::malloc(std::mem::size_of::<event>()).cast::<event>();
        let Some(ev) = EvPtr::new(raw) else {
            return refuse("event_new", "out of memory");
        };
        if assign(ev, base, fd, events, callback, arg).is_err() {
            // SAFETY: raw came from crate::mem::malloc above, never shared.
            unsafe { crate::mem::free(raw.cast()) };
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
        del(ev, "event_free", DelWait::Auto)?;
        debug::note_teardown(ev);
        // SAFETY: events given to event_free come from event_new's
        // crate::mem::malloc and are no longer linked anywhere after `del`.
        unsafe { crate::mem::free(ev.as_raw().cast()) };
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
        debug::assert_setup(ev);
        match base.add(ev, timeval_arg(tv).map(clock::timeout_ns), false) {
            Ok(()) => Ok(0),
            Err(AddError::Register(e)) => {
                refuse("event_add", &format!("cannot watch fd {}: {e}", ev.fd()))
            }
            Err(AddError::Signal(e)) => refuse(
                "event_add",
                &format!("cannot catch signal {}: {e}", ev.fd()),
            ),
            Err(_) => Err(Failure),
        }
    })
}

pub(crate) fn del(ev: EvPtr, name: &str, wait: DelWait) -> EntryResult<()> {
    crate::reactor::stop_repeats(ev.as_raw());
    if ev.base().is_null() {
        return refuse(name, "event has no event_base set.");
    }
    // An event that was never added has nothing to undo, and its base may
    // be gone already; with threads, its callback may still be running in
    // the loop's thread, and event_del waits for it.
    use crate::ffi::event_struct::{EVLIST_ACTIVE_LATER, EVLIST_INSERTED, EVLIST_TIMEOUT};
    let linked = EVLIST_ACTIVE | EVLIST_ACTIVE_LATER | EVLIST_INSERTED | EVLIST_TIMEOUT;
    if !crate::thread::locking_enabled() && ev.flags() & linked == 0 {
        return Ok(());
    }
    event_base_of(name, ev)?.del_waiting(ev, wait);
    Ok(())
}

/// Makes the event non-pending and non-active.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_del(ev: *mut event) -> c_int {
    enter("event_del", || {
        del(event_arg("event_del", ev)?, "event_del", DelWait::Auto)?;
        Ok(0)
    })
}

/// Removes only the timeout of a pending event.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_remove_timer(ev: *mut event) -> c_int {
    enter("event_remove_timer", || {
        let ev = setup_event_arg("event_remove_timer", ev)?;
        let base = event_base_of("event_remove_timer", ev)?;
        base.remove_timer(ev);
        Ok(0)
    })
}

/// Makes the event active with `res` as if it had happened; a signal
/// event's callback then runs `ncalls` times.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_active(ev: *mut event, res: c_int, ncalls: c_short) {
    enter("event_active", || {
        let ev = event_arg("event_active", ev)?;
        let base = event_base_of("event_active", ev)?;
        debug::assert_setup(ev);
        base.activate_n(ev, res as c_short, ncalls);
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
        let ev = setup_event_arg("event_pending", ev.cast_mut())?;
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
        let ev = setup_event_arg("event_priority_set", ev)?;
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
        Ok(setup_event_arg("event_get_fd", ev.cast_mut())?.fd())
    })
}

/// The base of an event.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_get_base(ev: *const event) -> *mut Base {
    enter("event_get_base", || {
        Ok(setup_event_arg("event_get_base", ev.cast_mut())?.base())
    })
}

/// The EV_* flags an event was assigned with.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_get_events(ev: *const event) -> c_short {
    enter("event_get_events", || {
        Ok(setup_event_arg("event_get_events", ev.cast_mut())?.events())
    })
}

/// The callback of an event.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_get_callback(ev: *const event) -> event_callback_fn {
    enter("event_get_callback", || {
        Ok(setup_event_arg("event_get_callback", ev.cast_mut())?.callback())
    })
}

/// The callback argument of an event.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_get_callback_arg(ev: *const event) -> *mut c_void {
    enter("event_get_callback_arg", || {
        Ok(setup_event_arg("event_get_callback_arg", ev.cast_mut())?
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
        let ev = setup_event_arg("event_get_assignment", ev.cast_mut())?;
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

/// Called for each event by event_base_foreach_event(); a nonzero return
/// stops the walk.
pub type event_base_foreach_event_cb =
    Option<unsafe extern "C" fn(base: *const Base, ev: *const event, arg: *mut c_void) -> c_int>;

/// Called from the loop by event_finalize() once the event is not running.
pub type event_finalize_callback_fn =
    Option<unsafe extern "C" fn(ev: *mut event, arg: *mut c_void)>;

/// Stops running callbacks for this pass and polls again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_base_loopcontinue(base: *mut Base) -> c_int {
    enter("event_base_loopcontinue", || {
        base_arg("event_base_loopcontinue", base)?.loopcontinue();
        Ok(0)
    })
}

/// The event whose callback is running, or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_base_get_running_event(base: *mut Base) -> *mut event {
    enter("event_base_get_running_event", || {
        let b = base_arg("event_base_get_running_event", base)?;
        Ok(b.running_callback()
            .and_then(|cb| cb.as_event())
            .map_or(std::ptr::null_mut(), EvPtr::as_raw))
    })
}

/// Calls `fn_` for every pending or active event of the base until it
/// returns nonzero; returns that value, or 0. The callback must not add
/// or delete events.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_base_foreach_event(
    base: *mut Base,
    fn_: event_base_foreach_event_cb,
    arg: *mut c_void,
) -> c_int {
    enter("event_base_foreach_event", || {
        let b = base_arg("event_base_foreach_event", base)?;
        let Some(f) = fn_ else {
            return refuse("event_base_foreach_event", "called with a NULL callback");
        };
        for ev in b.all_events() {
            // SAFETY: calling the program's callback with a live event.
            let r = unsafe { f(base, ev.as_raw(), arg) };
            if r != 0 {
                return Ok(r);
            }
        }
        Ok(0)
    })
}

/// Writes a list of the base's pending and active events to `output`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_base_dump_events(base: *mut Base, output: *mut libc::FILE) {
    enter("event_base_dump_events", || {
        let b = base_arg("event_base_dump_events", base)?;
        if output.is_null() {
            return refuse("event_base_dump_events", "called with a NULL FILE");
        }
        let mut text = String::from("Inserted and active events:\n");
        for ev in b.all_events() {
            let (what, deadline) = b.pending(ev, 0xff);
            let mut line = format!("  {:p} [fd {}]", ev.as_raw(), ev.fd());
            for (bit, name) in [
                (EV_READ, " Read"),
                (EV_WRITE, " Write"),
                (EV_CLOSED, " EOF"),
                (EV_SIGNAL, " Signal"),
                (crate::reactor::EV_PERSIST, " Persist"),
                (EV_ET, " ET"),
            ] {
                if ev.events() & bit != 0 {
                    line.push_str(name);
                }
            }
            if let Some(at) = deadline {
                let left = at.saturating_sub(clock::monotonic_ns());
                line.push_str(&format!(
                    " Timeout in {}.{:06}s",
                    left / 1_000_000_000,
                    left / 1000 % 1_000_000
                ));
            }
            if ev.flags() & (EVLIST_ACTIVE | crate::ffi::event_struct::EVLIST_ACTIVE_LATER) != 0 {
                line.push_str(&format!(" Active (res 0x{:x})", ev.res()));
            }
            let _ = what;
            line.push('\n');
            text.push_str(&line);
        }
        let text = std::ffi::CString::new(text).unwrap_or_default();
        // SAFETY: output is an open FILE (pointer contract); text is ours.
        unsafe { libc::fputs(text.as_ptr(), output) };
        Ok(())
    })
}

/// Activates the events on `fd` that wait for any of `events`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_base_active_by_fd(base: *mut Base, fd: c_int, events: c_short) {
    enter("event_base_active_by_fd", || {
        base_arg("event_base_active_by_fd", base)?.active_by_fd(fd, events);
        Ok(())
    })
}

/// Activates the events of signal `sig` as if it had arrived.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_base_active_by_signal(base: *mut Base, sig: c_int) {
    enter("event_base_active_by_signal", || {
        base_arg("event_base_active_by_signal", base)?.active_by_signal(sig);
        Ok(())
    })
}

/// event_del(), always waiting for the event's callback to return when it
/// runs in another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_del_block(ev: *mut event) -> c_int {
    enter("event_del_block", || {
        del(
            event_arg("event_del_block", ev)?,
            "event_del_block",
            DelWait::Always,
        )?;
        Ok(0)
    })
}

/// event_del() that never waits for a callback running in another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_del_noblock(ev: *mut event) -> c_int {
    enter("event_del_noblock", || {
        del(
            event_arg("event_del_noblock", ev)?,
            "event_del_noblock",
            DelWait::Never,
        )?;
        Ok(0)
    })
}

fn finalize(
    name: &str,
    ev: *mut event,
    cb: event_finalize_callback_fn,
    free: bool,
) -> EntryResult<c_int> {
    let ev = event_arg(name, ev)?;
    crate::reactor::stop_repeats(ev.as_raw());
    let base = event_base_of(name, ev)?;
    if ev.flags() & crate::ffi::event_struct::EVLIST_FINALIZING != 0 {
        return Ok(0);
    }
    base.finalize(ev, cb, free);
    Ok(0)
}

/// Deletes the event and calls `cb` from the loop once its callback is
/// not running; the event must not be used again except to free it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_finalize(
    _flags: c_uint,
    ev: *mut event,
    cb: event_finalize_callback_fn,
) -> c_int {
    enter("event_finalize", || {
        finalize("event_finalize", ev, cb, false)
    })
}

/// As event_finalize(), then frees the event (made by event_new()).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_free_finalize(
    _flags: c_uint,
    ev: *mut event,
    cb: event_finalize_callback_fn,
) -> c_int {
    enter("event_free_finalize", || {
        finalize("event_free_finalize", ev, cb, true)
    })
}

/// Tells debug mode that an event's memory is about to be reused. We keep
/// no per-event debug records, so there is nothing to forget.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_debug_unassign(ev: *mut event) {
    enter("event_debug_unassign", || {
        let ev = event_arg("event_debug_unassign", ev)?;
        debug::assert_not_added(ev);
        debug::note_teardown(ev);
        ev.set_flags(ev.flags() & !EVLIST_INIT);
        Ok(())
    })
}

/// Turns on libevent's debug checks of event use.
#[unsafe(no_mangle)]
pub extern "C" fn event_enable_debug_mode() {
    enter("event_enable_debug_mode", || {
        debug::enable();
        Ok(())
    })
}

/// Makes the base usable in a child after fork(): a new kernel event
/// queue with every event registered again.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_reinit(base: *mut Base) -> c_int {
    enter("event_reinit", || {
        let b = base_arg("event_reinit", base)?;
        match b.reinit() {
            Ok(()) => Ok(0),
            Err(e) => refuse("event_reinit", &format!("{e}")),
        }
    })
}

/// Refreshes the time cached for the running pass.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_base_update_cache_time(base: *mut Base) -> c_int {
    enter("event_base_update_cache_time", || {
        base_arg("event_base_update_cache_time", base)?.update_cache_time();
        Ok(0)
    })
}

/// The base's monotonic clock, the one its timers run on.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_gettime_monotonic(base: *mut Base, tp: *mut libc::timeval) -> c_int {
    enter("event_gettime_monotonic", || {
        base_arg("event_gettime_monotonic", base)?;
        if tp.is_null() {
            return refuse("event_gettime_monotonic", "called with a NULL timeval");
        }
        write_out(tp, clock::ns_to_timeval(clock::monotonic_ns()));
        Ok(0)
    })
}

/// Releases the library's global state at exit. Ours needs no release:
/// it is a few process-wide settings and no allocation.
#[unsafe(no_mangle)]
pub extern "C" fn libevent_global_shutdown() {}

/// Makes the library allocate the memory a program may see or free
/// (events from event_new(), lines from evbuffer_readln()) with these
/// functions; call it before any other function. NULLs restore libc's.
#[unsafe(no_mangle)]
pub extern "C" fn event_set_mem_functions(
    malloc_fn: Option<unsafe extern "C" fn(sz: usize) -> *mut c_void>,
    realloc_fn: Option<unsafe extern "C" fn(ptr: *mut c_void, sz: usize) -> *mut c_void>,
    free_fn: Option<unsafe extern "C" fn(ptr: *mut c_void)>,
) {
    crate::mem::set_functions(malloc_fn, realloc_fn, free_fn);
}

/// The priority of an event.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_get_priority(ev: *const event) -> c_int {
    enter("event_get_priority", || {
        Ok(c_int::from(
            setup_event_arg("event_get_priority", ev.cast_mut())?.pri(),
        ))
    })
}

/// The most events of the kinds in `type_` seen at once (summed), then
/// starting over when `clear` is nonzero.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_base_get_max_events(
    base: *mut Base,
    type_: c_uint,
    clear: c_int,
) -> c_int {
    enter("event_base_get_max_events", || {
        let b = base_arg("event_base_get_max_events", base)?;
        let (active, added) = b.max_counts(clear != 0);
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

/// A timeval standing for `duration` that many events share; events added
/// with it time out after that duration. The same duration gives the same
/// pointer. NULL when the base has 256 already.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_base_init_common_timeout(
    base: *mut Base,
    duration: *const libc::timeval,
) -> *const libc::timeval {
    enter("event_base_init_common_timeout", || {
        let b = base_arg("event_base_init_common_timeout", base)?;
        let Some(duration) = timeval_arg(duration) else {
            return refuse(
                "event_base_init_common_timeout",
                "called with a NULL duration",
            );
        };
        let duration = match clock::common_timeout_usec(duration.tv_usec) {
            Some(usec) => libc::timeval {
                tv_sec: duration.tv_sec,
                tv_usec: usec,
            },
            None => duration,
        };
        Ok(b.common_timeout(duration))
    })
}

/// Moves an event that is neither pending nor active to `base`, with that
/// base's middle priority; -1 otherwise.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn event_base_set(base: *mut Base, ev: *mut event) -> c_int {
    enter("event_base_set", || {
        let b = base_arg("event_base_set", base)?;
        let ev = setup_event_arg("event_base_set", ev)?;
        let ours = crate::reactor::event_mem::EVLIST_X_EDGE;
        if ev.flags() & !ours != EVLIST_INIT {
            return Ok(-1);
        }
        ev.set_base(base, b.default_priority());
        Ok(0)
    })
}

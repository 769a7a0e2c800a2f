//! The one sink for messages: the program's log callback, or else the
//! `[warn] message` line on stderr that libevent itself prints.
//!
//! Shared by every base and thread, so the hooks live in atomics.

use std::ffi::{CString, c_char, c_int};
use std::io::Write;
use std::sync::atomic::{AtomicPtr, AtomicU32, Ordering};

pub const EVENT_LOG_DEBUG: c_int = 0;
pub const EVENT_LOG_MSG: c_int = 1;
pub const EVENT_LOG_WARN: c_int = 2;
pub const EVENT_LOG_ERR: c_int = 3;

pub type LogCallback = unsafe extern "C" fn(severity: c_int, msg: *const c_char);
pub type FatalCallback = unsafe extern "C" fn(err: c_int);

static LOG_CB: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());
static FATAL_CB: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());
/// Debug categories enabled by `event_enable_debug_logging`; 0 means off.
static DEBUG_MASK: AtomicU32 = AtomicU32::new(0);

pub fn set_log_callback(cb: Option<LogCallback>) {
    let raw = cb.map_or(std::ptr::null_mut(), |f| f as *mut ());
    LOG_CB.store(raw, Ordering::Release);
}

pub fn set_fatal_callback(cb: Option<FatalCallback>) {
    let raw = cb.map_or(std::ptr::null_mut(), |f| f as *mut ());
    FATAL_CB.store(raw, Ordering::Release);
}

pub fn set_debug_mask(mask: u32) {
    DEBUG_MASK.store(mask, Ordering::Relaxed);
}

pub fn debug_enabled() -> bool {
    DEBUG_MASK.load(Ordering::Relaxed) != 0
}

/// Sends one message at `severity` to the program's callback or to stderr.
pub fn emit(severity: c_int, msg: &str) {
    let raw = LOG_CB.load(Ordering::Acquire);
    if raw.is_null() {
        let label = match severity {
            EVENT_LOG_DEBUG => "debug",
            EVENT_LOG_MSG => "msg",
            EVENT_LOG_WARN => "warn",
            EVENT_LOG_ERR => "err",
            _ => "???",
        };
        let _ = writeln!(std::io::stderr(), "[{label}] {msg}");
        return;
    }
    // SAFETY: the pointer was stored from a `LogCallback` in set_log_callback.
    let cb: LogCallback = unsafe { std::mem::transmute::<*mut (), LogCallback>(raw) };
    let text = CString::new(msg.replace('\0', " ")).unwrap_or_default();
    // SAFETY: calling the program's callback with a NUL-terminated string we own.
    unsafe { cb(severity, text.as_ptr()) };
}

pub fn warn(msg: &str) {
    emit(EVENT_LOG_WARN, msg);
}

pub fn debug(msg: impl FnOnce() -> String) {
    if debug_enabled() {
        emit(EVENT_LOG_DEBUG, &msg());
    }
}

/// Logs `msg` as an error and ends the process the way libevent's failed
/// assertions do: through the program's fatal callback, else `abort()`.
pub fn fatal(msg: &str) -> ! {
    fatal_with(ABORT_CODE, msg)
}

/// [`fatal`] with libevent's error code `code` for the fatal callback.
pub fn fatal_with(code: c_int, msg: &str) -> ! {
    emit(EVENT_LOG_ERR, msg);
    let raw = FATAL_CB.load(Ordering::Acquire);
    if !raw.is_null() {
        // SAFETY: the pointer was stored from a `FatalCallback`.
        let cb: FatalCallback = unsafe { std::mem::transmute::<*mut (), FatalCallback>(raw) };
        // SAFETY: calling the program's fatal callback.
        unsafe { cb(code) };
        // A fatal callback should not return; libevent exits if it does.
        std::process::exit(code);
    }
    if code == ABORT_CODE {
        std::process::abort();
    }
    std::process::exit(code);
}

/// libevent's EVENT_ERR_ABORT_: the code of a failed assertion.
const ABORT_CODE: c_int = 0xdeaddead_u32 as c_int;

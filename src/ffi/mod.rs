//! The C interface: one module per public libevent header, entry points only.
//!
//! # Pointer contract
//!
//! Every pointer a C caller passes is either NULL or valid for the access the
//! reference documents: a handle (`struct event_base *`, `struct evbuffer *`,
//! `struct bufferevent *`, `struct evconnlistener *`) is one this library
//! returned and that has not been freed; a `(pointer, length)` pair is valid as
//! for `slice::from_raw_parts`; a `struct event *` points at 128 writable bytes
//! that stay put while the event is pending or active. Where libevent would
//! dereference a NULL handle, we log a warning naming the function and return
//! the function's failure value instead: no correct program can tell.
//!
//! Every entry runs its body through [`enter`], which turns an `Err` into the
//! failure value of the return type and a panic into libevent's fatal path.

use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::log;

pub mod buffer;
pub mod buffer_compat;
pub mod bufferevent;
pub mod bufferevent_compat;
pub mod bufferevent_ssl;
pub mod bufferevent_struct;
pub mod dns;
pub mod dns_compat;
pub mod event;
pub mod event_compat;
pub mod event_struct;
pub mod listener;
pub mod thread;
pub mod util;

/// `ev_ssize_t` as it crosses the ABI.
pub type SSize = isize;

/// An entry point failed; the reason has already been logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Failure;

pub type EntryResult<T> = Result<T, Failure>;

/// The value an entry returns to C when it fails.
pub trait FailValue {
    fn fail_value() -> Self;
}

macro_rules! fail_with {
    ($value:expr => $($ty:ty),*) => {
        $(impl FailValue for $ty {
            fn fail_value() -> Self {
                $value
            }
        })*
    };
}

fail_with!(-1 => i32, i64, isize, i16);
fail_with!(0 => u32, u64, usize, u16, u8);
fail_with!(() => ());

impl<T> FailValue for *mut T {
    fn fail_value() -> Self {
        std::ptr::null_mut()
    }
}

impl<T> FailValue for Option<T> {
    fn fail_value() -> Self {
        None
    }
}

impl<T> FailValue for *const T {
    fn fail_value() -> Self {
        std::ptr::null()
    }
}

/// Runs the body of the entry point `name`, mapping `Err` to the failure
/// value of its return type and a panic, which is always our bug, to
/// libevent's fatal path.
pub fn enter<R: FailValue>(name: &'static str, body: impl FnOnce() -> EntryResult<R>) -> R {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(value)) => value,
        Ok(Err(Failure)) => R::fail_value(),
        Err(panic) => {
            let what = panic
                .downcast_ref::<&str>()
                .map(|s| s.to_string())
                .or_else(|| panic.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "unknown panic".to_string());
            log::fatal(&format!("{name}: internal error: {what}"));
        }
    }
}

/// Logs a warning for `name` and fails: the shape of every argument check.
/// Cold, so that the checks cost the entry points one test each.
#[cold]
#[inline(never)]
pub fn refuse<T>(name: &str, why: &str) -> EntryResult<T> {
    log::warn(&format!("{name}: {why}"));
    Err(Failure)
}

/// The refusal of a NULL handle.
#[cold]
#[inline(never)]
pub fn refuse_null<T>(name: &str) -> EntryResult<T> {
    refuse(name, "called with a NULL pointer")
}

/// Turns a handle from C into a shared reference, refusing NULL.
///
/// This helper and the ones below are safe functions over raw pointers:
/// only the entry points of this module call them, each an `unsafe
/// extern "C" fn` whose C caller gives the pointer contract above.
///
/// The lifetime is unbounded: the caller is an entry point, and the handle
/// outlives the call by the pointer contract of this module.
#[inline]
pub(crate) fn handle<'a, T>(name: &str, ptr: *const T) -> EntryResult<&'a T> {
    if ptr.is_null() {
        return refuse_null(name);
    }
    // SAFETY: non-NULL handles are live objects of ours (pointer contract above).
    Ok(unsafe { &*ptr })
}

/// Views `(data, len)` from C as a byte slice; NULL is accepted only for len 0.
///
/// A length above `isize::MAX` is refused: no object is that large, and it
/// is what a program passes when a failed `read()`'s -1 becomes a size.
/// libevent refuses such adds (-1) before it reads a byte, as its chain
/// allocation fails; copying them would read past the data, and the chunk
/// size for them would overflow.
#[inline]
pub(crate) fn bytes<'a>(
    name: &str,
    data: *const std::ffi::c_void,
    len: usize,
) -> EntryResult<&'a [u8]> {
    if len == 0 {
        return Ok(&[]);
    }
    if data.is_null() || len > isize::MAX as usize {
        return refuse_bytes(name, data);
    }
    // SAFETY: the caller promises `len` readable bytes at `data` (pointer
    // contract), and `len` fits a slice (checked above).
    Ok(unsafe { std::slice::from_raw_parts(data.cast::<u8>(), len) })
}

/// The refusals of [`bytes`], out of line.
#[cold]
#[inline(never)]
fn refuse_bytes<'a>(name: &str, data: *const std::ffi::c_void) -> EntryResult<&'a [u8]> {
    if data.is_null() {
        refuse(name, "called with a NULL data pointer")
    } else {
        refuse(name, "called with a length no object can have")
    }
}

/// Views `(data, len)` from C as a writable byte slice.
#[inline]
pub(crate) fn bytes_mut<'a>(
    name: &str,
    data: *mut std::ffi::c_void,
    len: usize,
) -> EntryResult<&'a mut [u8]> {
    if len == 0 {
        return Ok(&mut []);
    }
    if data.is_null() {
        return refuse(name, "called with a NULL data pointer");
    }
    // SAFETY: the caller promises `len` writable bytes at `data` (pointer contract).
    Ok(unsafe { std::slice::from_raw_parts_mut(data.cast::<u8>(), len) })
}

/// Reads an optional `struct timeval *` argument.
pub(crate) fn timeval_arg(tv: *const libc::timeval) -> Option<libc::timeval> {
    if tv.is_null() {
        None
    } else {
        // SAFETY: a non-NULL timeval argument points at a readable timeval.
        Some(unsafe { *tv })
    }
}

/// Stores `value` through an optional output pointer.
pub(crate) fn write_out<T>(out: *mut T, value: T) {
    if !out.is_null() {
        // SAFETY: a non-NULL output argument points at writable storage for a T.
        unsafe { out.write(value) };
    }
}

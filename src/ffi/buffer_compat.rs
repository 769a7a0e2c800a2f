//! `event2/buffer_compat.h`: the old forms of evbuffer calls.

use std::ffi::{c_char, c_void};

use std::rc::Rc;

use super::buffer::*;
use super::bytes;
use crate::buffer::{Buffer, CbInfo};

/// `evbuffer_cb` (compat): called after each change with the old and new
/// lengths.
pub type evbuffer_cb = Option<
    unsafe extern "C" fn(buf: *mut Buffer, old_len: usize, new_len: usize, arg: *mut c_void),
>;

/// Obsolete: evbuffer_readln() with EVBUFFER_EOL_ANY, without the length.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_readline(buf: *mut Buffer) -> *mut c_char {
    // SAFETY: same contract as evbuffer_readln; n_read_out may be NULL.
    unsafe { evbuffer_readln(buf, std::ptr::null_mut(), EVBUFFER_EOL_ANY) }
}

/// Obsolete: removes every callback and, unless cb is NULL, installs cb to
/// be called with the old and new lengths after each change. Returns 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_setcb(buffer: *mut Buffer, cb: evbuffer_cb, cbarg: *mut c_void) {
    with("evbuffer_setcb", buffer, |b| {
        b.clear_callbacks();
        if let Some(f) = cb {
            let key = (f as usize, cbarg as usize);
            b.add_callback(
                key,
                Rc::new(move |buf: &Buffer, info: &CbInfo| {
                    let new_len = info.orig_size + info.n_added - info.n_deleted;
                    let raw = std::ptr::from_ref(buf).cast_mut();
                    // SAFETY: the program's callback with its own argument.
                    unsafe { f(raw, info.orig_size, new_len, cbarg) }
                }),
            );
        }
        Ok(())
    })
}

/// Obsolete: finds len bytes at what and returns a pointer to them in the
/// buffer, made contiguous up to the end of the match; NULL if absent.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_find(
    buffer: *mut Buffer,
    what: *const u8,
    len: usize,
) -> *mut u8 {
    with("evbuffer_find", buffer, |b| {
        let needle = bytes("evbuffer_find", what.cast(), len)?;
        let Some(pos) = b.search(needle, 0, None) else {
            return Ok(std::ptr::null_mut());
        };
        let Some(base) = b.pullup(Some(pos + len)) else {
            return Ok(std::ptr::null_mut());
        };
        Ok(base.wrapping_add(pos))
    })
}

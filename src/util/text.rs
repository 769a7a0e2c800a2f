//! ASCII text helpers: locale-independent case-insensitive comparison and
//! 64-bit number parsing.

use std::ffi::c_char;

/// Lowers only 'A'..='Z', whatever the locale, and gives the result as the
/// (signed) `char` libevent compares.
fn lower(b: u8) -> i8 {
    b.to_ascii_lowercase() as i8
}

/// Compares at most `n` characters of two strings, each given as its bytes
/// before the terminating NUL (or its first `n` bytes), ignoring ASCII case.
/// Characters compare as signed `char`s, so bytes from 0x80 up sort before
/// ASCII. Returns -1, 0 or 1.
pub fn ascii_strncasecmp(a: &[u8], b: &[u8], n: usize) -> i32 {
    for i in 0..n {
        let ca = lower(a.get(i).copied().unwrap_or(0));
        let cb = lower(b.get(i).copied().unwrap_or(0));
        match ca.cmp(&cb) {
            std::cmp::Ordering::Less => return -1,
            std::cmp::Ordering::Greater => return 1,
            std::cmp::Ordering::Equal if ca == 0 => return 0,
            std::cmp::Ordering::Equal => {}
        }
    }
    0
}

/// strtoll(3): the C library's parser, endptr and errno included.
///
/// # Safety
/// `s` is a NUL-terminated string; `endptr` is NULL or writable.
pub unsafe fn strtoll(s: *const c_char, endptr: *mut *mut c_char, base: i32) -> i64 {
    // SAFETY: the caller's contract.
    unsafe { libc::strtoll(s, endptr, base) }
}

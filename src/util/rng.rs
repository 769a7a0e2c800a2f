//! The secure random source of `evutil_secure_rng_*`.
//!
//! The reference as Debian builds it draws from the C library's arc4random,
//! which seeds itself from the kernel: it refuses a urandom device file and
//! ignores added bytes. We read the kernel's getrandom(2) directly, which
//! needs no seeding of ours either, so those two calls behave the same way.

use crate::{log, sys};

/// Prepares the source; it is always ready, so this only checks that the
/// kernel answers (0 as the reference always returns).
pub fn init() -> i32 {
    let mut probe = [0u8; 4];
    fill(&mut probe);
    0
}

/// Fills `buf` with random bytes. The kernel source cannot run dry; if the
/// system refuses it anyway (no getrandom(2)), the process ends, as glibc's
/// arc4random ends it in that case.
pub fn fill(buf: &mut [u8]) {
    if let Err(e) = sys::getrandom(buf) {
        log::fatal(&format!("evutil_secure_rng_get_bytes: getrandom: {e}"));
    }
}

/// Choosing a device file is refused (-1): the kernel call needs none.
pub fn set_urandom_device_file() -> i32 {
    -1
}

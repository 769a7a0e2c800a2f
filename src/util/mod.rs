//! The portable helpers behind `event2/util.h`: address text, the blocking
//! resolver, the secure random source, monotonic clocks and ASCII text.
//!
//! Each function here works on Rust values; `src/ffi/util.rs` does the
//! pointer checks and conversions around them.

pub mod addr;
pub mod resolve;
pub mod rng;
pub mod text;
pub mod time;

/// Writes `text` into the C buffer `out` the way `evutil_snprintf` does:
/// nothing when `out` is empty, else as much as fits followed by a NUL.
/// Returns the length the whole text needs.
pub fn write_truncated(out: &mut [u8], text: &[u8]) -> usize {
    if let Some(room) = out.len().checked_sub(1) {
        let n = text.len().min(room);
        out[..n].copy_from_slice(&text[..n]);
        out[n] = 0;
    }
    text.len()
}

//! Finding bytes and strings across chunk boundaries.

use std::ffi::c_int;

use super::{Buffer, Inner};

/// The index of the first `byte` in `hay`: the C library's memchr, which
/// scans a word or a vector at a time.
pub(super) fn memchr(byte: u8, hay: &[u8]) -> Option<usize> {
    if hay.is_empty() {
        return None;
    }
    // SAFETY: memchr reads at most hay.len() bytes of the slice.
    let p = unsafe { libc::memchr(hay.as_ptr().cast(), c_int::from(byte), hay.len()) };
    (!p.is_null()).then(|| p as usize - hay.as_ptr() as usize)
}

impl Inner {
    /// The position of the first byte at or after `from` that `pred`
    /// accepts.
    pub(super) fn find_byte(&self, from: usize, pred: impl Fn(u8) -> bool) -> Option<usize> {
        let (first, mut off) = self.locate(from)?;
        let mut base = from - off;
        for c in self.chunks.range(first..) {
            let data = c.data();
            if let Some(i) = data[off..].iter().position(|&b| pred(b)) {
                return Some(base + off + i);
            }
            base += data.len();
            off = 0;
        }
        None
    }

    /// [`Inner::find_byte`] for one byte value, a chunk at a time with
    /// memchr: lines are found by their single end byte.
    pub(super) fn find_exact(&self, from: usize, byte: u8) -> Option<usize> {
        let (first, mut off) = self.locate(from)?;
        let mut base = from - off;
        for c in self.chunks.range(first..) {
            let data = c.data();
            if let Some(i) = memchr(byte, &data[off..]) {
                return Some(base + off + i);
            }
            base += data.len();
            off = 0;
        }
        None
    }

    /// The byte at `pos`, if the buffer is that long.
    pub(super) fn byte_at(&self, pos: usize) -> Option<u8> {
        let (i, off) = self.locate(pos)?;
        Some(self.chunks[i].data()[off])
    }

    /// How many bytes from `pos` on `pred` accepts in a row.
    pub(super) fn span(&self, pos: usize, pred: impl Fn(u8) -> bool) -> usize {
        let Some((first, mut off)) = self.locate(pos) else {
            return 0;
        };
        let mut n = 0;
        for c in self.chunks.range(first..) {
            let data = &c.data()[off..];
            let run = data.iter().take_while(|&&b| pred(b)).count();
            n += run;
            if run < data.len() {
                break;
            }
            off = 0;
        }
        n
    }

    /// Whether the bytes from offset `off` of chunk `first` on are `needle`.
    fn matches_from(&self, first: usize, mut off: usize, needle: &[u8]) -> bool {
        let mut rest = needle;
        for c in self.chunks.range(first..) {
            if rest.is_empty() {
                break;
            }
            let data = &c.data()[off..];
            let n = data.len().min(rest.len());
            if data[..n] != rest[..n] {
                return false;
            }
            rest = &rest[n..];
            off = 0;
        }
        rest.is_empty()
    }

    /// The first occurrence of `what` (not empty) at or after `from` that
    /// ends at or before `end`, in one pass over the chunks.
    pub(super) fn search(&self, what: &[u8], from: usize, end: usize) -> Option<usize> {
        let end = end.min(self.len);
        if from + what.len() > end {
            return None;
        }
        let (first, mut off) = self.locate(from)?;
        let mut base = from - off;
        for i in first..self.chunks.len() {
            let data = self.chunks[i].data();
            while let Some(k) = memchr(what[0], &data[off..]) {
                let p = base + off + k;
                if p + what.len() > end {
                    return None;
                }
                if self.matches_from(i, off + k, what) {
                    return Some(p);
                }
                off += k + 1;
            }
            base += data.len();
            off = 0;
        }
        None
    }
}

impl Buffer {
    /// Finds `what` at or after `start`, ending at or before `end` (the
    /// length when `None`); never changes the buffer. An empty `what` is
    /// found at `start`.
    pub fn search(&self, what: &[u8], start: usize, end: Option<usize>) -> Option<usize> {
        let inner = self.inner.borrow();
        if start > inner.len {
            return None;
        }
        if what.is_empty() {
            return Some(start);
        }
        inner.search(what, start, end.unwrap_or(inner.len))
    }
}

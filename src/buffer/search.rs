//! Finding bytes and strings across chunk boundaries.

use super::{Buffer, Inner};

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

    /// Whether the bytes at `pos` are `needle`.
    fn matches_at(&self, pos: usize, needle: &[u8]) -> bool {
        let Some((first, mut off)) = self.locate(pos) else {
            return needle.is_empty();
        };
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

    /// The first occurrence of `what` at or after `from` that ends at or
    /// before `end`.
    pub(super) fn search(&self, what: &[u8], from: usize, end: usize) -> Option<usize> {
        let end = end.min(self.len);
        let mut at = from;
        while at + what.len() <= end {
            let p = self.find_byte(at, |b| b == what[0])?;
            if p + what.len() > end {
                return None;
            }
            if self.matches_at(p, what) {
                return Some(p);
            }
            at = p + 1;
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

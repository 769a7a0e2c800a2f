//! Moving data between buffers: whole chunks move, bytes are copied only
//! where a chunk has to be split.

use super::{Buffer, BufferError};

impl Buffer {
    /// Moves all of `src` to the end of this buffer, chunks and all; `src`
    /// runs its callbacks first. Adding a buffer to itself does nothing.
    pub fn add_buffer(&self, src: &Buffer) -> Result<(), BufferError> {
        if std::ptr::eq(self, src) {
            return Ok(());
        }
        {
            let s = src.inner.borrow();
            if s.len == 0 {
                return Ok(());
            }
            if s.frozen_front || self.inner.borrow().frozen_back {
                return Err(BufferError::Frozen);
            }
        }
        self.move_all_from(src);
        Ok(())
    }

    /// [`Buffer::add_buffer`] ignoring freezes, for a buffer's owner (a
    /// pair half moving its output into its partner's input).
    pub(crate) fn add_buffer_unfrozen(&self, src: &Buffer) {
        if std::ptr::eq(self, src) || src.is_empty() {
            return;
        }
        self.move_all_from(src);
    }

    /// The move behind both: `src` is another buffer, and holds bytes.
    fn move_all_from(&self, src: &Buffer) {
        let (dst_orig, n) = {
            let mut dst = self.inner.borrow_mut();
            let mut s = src.inner.borrow_mut();
            let n = s.len;
            let dst_orig = dst.len;
            dst.trim_empty_tail();
            // Empty room of ours sits only at either end of a queue; it
            // stays behind. Empty sealed chunks move with the rest, as
            // 2.1.12 moves every chain.
            let ends_empty = s.chunks.front().is_some_and(|c| c.is_empty())
                || s.chunks.back().is_some_and(|c| c.is_empty());
            if ends_empty {
                while let Some(c) = s.chunks.pop_front() {
                    if c.is_empty() && !c.is_sealed() {
                        s.discard(c);
                    } else {
                        dst.chunks.push_back(c);
                    }
                }
            } else if dst.chunks.is_empty() {
                // The common case (a read moved into an empty output, say):
                // the queues trade places, whatever their length.
                std::mem::swap(&mut dst.chunks, &mut s.chunks);
            } else {
                dst.chunks.append(&mut s.chunks);
            }
            s.len = 0;
            s.set_scan(None);
            dst.len += n;
            (dst_orig, n)
        };
        src.bury();
        self.bury();
        src.notify(n, 0, n);
        self.notify(dst_orig, n, 0);
    }

    /// Appends a copy of `data` in chunks of its own, as if it had been
    /// added to an empty buffer and that buffer moved here with
    /// [`Buffer::add_buffer`] (the same chunks, the same callbacks), but
    /// without the detour; ignores freezes, for a buffer's owner.
    pub(crate) fn add_as_moved(&self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let orig = {
            let mut d = self.inner.borrow_mut();
            let orig = d.len;
            d.trim_empty_tail();
            d.len += data.len();
            d.push_new_chunks(data);
            orig
        };
        self.bury();
        self.notify(orig, data.len(), 0);
    }

    /// Appends the bytes of `src` without copying them and leaves `src` as
    /// it was: both buffers then read the same memory, which neither writes
    /// again. Refused for the buffer itself, a frozen end, and, as libevent
    /// 2.1.12 refuses it, when `src` holds bytes that came from such a
    /// reference or from a file segment.
    pub fn add_buffer_reference(&self, src: &Buffer) -> Result<(), BufferError> {
        if src.is_empty() {
            return Ok(());
        }
        if std::ptr::eq(self, src) || self.inner.borrow().frozen_back {
            return Err(BufferError::Frozen);
        }
        let (orig, n) = {
            let mut s = src.inner.borrow_mut();
            if s.chunks.iter().any(|c| c.unshareable) {
                return Err(BufferError::Invalid);
            }
            let mut d = self.inner.borrow_mut();
            let (orig, n) = (d.len, s.len);
            d.trim_empty_tail();
            let keeper = s.keeper.get_or_insert_with(Default::default).clone();
            for c in s.chunks.iter_mut().filter(|c| !c.is_empty()) {
                d.chunks.push_back(c.share(&keeper));
            }
            d.len += n;
            (orig, n)
        };
        self.bury();
        self.notify(orig, n, 0);
        Ok(())
    }

    /// Moves all of `src` in front of this buffer's content.
    pub fn prepend_buffer(&self, src: &Buffer) -> Result<(), BufferError> {
        if std::ptr::eq(self, src) || src.is_empty() {
            return Ok(());
        }
        if self.inner.borrow().frozen_front || src.inner.borrow().frozen_front {
            return Err(BufferError::Frozen);
        }
        let (dst_orig, n) = {
            let mut dst = self.inner.borrow_mut();
            let mut s = src.inner.borrow_mut();
            let n = s.len;
            let dst_orig = dst.len;
            // 2.1.12 lets go of every chain of an empty destination (an
            // empty sealed chunk too), and moves all of the source's.
            if dst.len == 0 {
                dst.clear();
            }
            while let Some(c) = s.chunks.pop_back() {
                if c.is_empty() && !c.is_sealed() {
                    s.discard(c);
                } else {
                    dst.chunks.push_front(c);
                }
            }
            s.len = 0;
            s.set_scan(None);
            dst.set_scan(None);
            dst.len += n;
            (dst_orig, n)
        };
        src.bury();
        self.bury();
        src.notify(n, 0, n);
        self.notify(dst_orig, n, 0);
        Ok(())
    }

    /// Moves up to `n` bytes from the front of this buffer to the end of
    /// `dst`: whole chunks move, a partial one is copied. Returns how many.
    pub fn remove_buffer(&self, dst: &Buffer, n: usize) -> Result<usize, BufferError> {
        if n == 0 || std::ptr::eq(self, dst) {
            return Ok(0);
        }
        if dst.inner.borrow().frozen_back || self.inner.borrow().frozen_front {
            return Err(BufferError::Frozen);
        }
        Ok(self.remove_buffer_unfrozen(dst, n))
    }

    /// [`Buffer::remove_buffer`] ignoring freezes, for a buffer's owner.
    pub(crate) fn remove_buffer_unfrozen(&self, dst: &Buffer, n: usize) -> usize {
        if n == 0 || std::ptr::eq(self, dst) {
            return 0;
        }
        let all = self.len();
        if n >= all {
            // Everything: a plain move, reported as evbuffer_add_buffer
            // reports it (source first), as libevent 2.1.12 does.
            dst.add_buffer_unfrozen(self);
            return all;
        }
        let (src_orig, dst_orig, n) = {
            let mut s = self.inner.borrow_mut();
            let mut d = dst.inner.borrow_mut();
            let n = n.min(s.len);
            if n == 0 {
                return 0;
            }
            let (src_orig, dst_orig) = (s.len, d.len);
            // Whole chunks move while they fit, empty ones met at the end
            // too, as in 2.1.12; the destination's empty tail goes first.
            let mut left = n;
            let mut moved = false;
            while s.chunks.front().is_some_and(|c| c.len() <= left) {
                if !moved {
                    d.trim_empty_tail();
                    moved = true;
                }
                let c = s.chunks.pop_front().expect("front exists");
                left -= c.len();
                if c.is_empty() && !c.is_sealed() {
                    s.discard(c);
                } else {
                    d.chunks.push_back(c);
                }
            }
            // The rest is copied, and appended even when it is nothing, as
            // 2.1.12 does (which may let go of the destination's empty tail).
            let front = s.chunks.front_mut().expect("more than n bytes");
            d.append(&front.data()[..left]);
            front.start += left;
            d.len -= left;
            s.len -= n;
            d.len += n;
            s.set_scan(None);
            if s.len == 0 {
                s.clear();
            }
            (src_orig, dst_orig, n)
        };
        self.bury();
        dst.bury();
        // The receiving buffer hears first, as in libevent 2.1.12.
        dst.notify(dst_orig, n, 0);
        self.notify(src_orig, 0, n);
        n
    }
}

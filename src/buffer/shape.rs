//! Shaping the memory: `evbuffer_pullup` and `evbuffer_expand`.

use super::chunk::Chunk;
use super::{Buffer, Inner};

impl Buffer {
    /// Makes the first `size` bytes (all with `None`) contiguous and returns
    /// where they start; `None` when `size` is 0 or more than the length. A
    /// foreign chunk fully copied here releases its memory at once.
    pub fn pullup(&self, size: Option<usize>) -> Option<*mut u8> {
        let ptr = {
            let mut inner = self.inner.borrow_mut();
            let size = size.unwrap_or(inner.len);
            if size == 0 || size > inner.len {
                return None;
            }
            // The program may write through the pointer: readln must look
            // at these bytes again.
            inner.set_scan(None);
            inner.trim_empty_head();
            let first = inner
                .chunks
                .front_mut()
                .expect("non-empty buffer has a chunk");
            if first.len() >= size {
                return Some(first.data_ptr());
            }
            let mut whole = Chunk::with_capacity(size);
            let mut left = size;
            while left > 0 {
                let front = inner.chunks.front_mut().expect("enough bytes");
                let take = front.len().min(left);
                whole.push(&front.data()[..take]);
                left -= take;
                if take == front.len() {
                    let c = inner.chunks.pop_front().expect("front exists");
                    inner.discard(c);
                } else {
                    front.start += take;
                }
            }
            // Empty chunks right after the bytes taken go too, as 2.1.12
            // frees every chain it passes.
            inner.trim_empty_head();
            let ptr = whole.data_ptr();
            inner.chunks.push_front(whole);
            ptr
        };
        self.bury();
        Some(ptr)
    }

    /// Makes room for `n` more bytes in one piece at the end, adding no data.
    pub fn expand(&self, n: usize) {
        self.inner.borrow_mut().expand(n);
        self.bury();
    }
}

impl Inner {
    fn expand(&mut self, n: usize) {
        if self.room_before_sealed_tail(n).is_some() {
            return;
        }
        let room = self.chunks.back().map_or(0, Chunk::spare_len);
        if room >= n {
            return;
        }
        if let Some(last) = self.chunks.back_mut() {
            if last.is_empty() {
                let c = self.chunks.pop_back().expect("last exists");
                self.discard(c);
            } else if last.front_room() + last.spare_len() >= n {
                last.compact();
                return;
            }
        }
        self.chunks.push_back(Chunk::with_capacity(n));
    }
}

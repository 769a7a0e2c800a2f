//! Views into the chunks: `evbuffer_peek`, `evbuffer_reserve_space` and
//! `evbuffer_commit_space`. The pointers handed out stay valid until the
//! next change of the buffer, because chunk memory never moves.

use super::chunk::Chunk;
use super::{Buffer, BufferError};

/// One region of a chunk, as a `struct evbuffer_iovec` describes it.
pub type Region = (*mut u8, usize);

impl Buffer {
    /// Describes the chunks covering `len` bytes (all with `None`) from
    /// `start`: fills at most `max` regions and returns how many regions the
    /// range needs. With `len` set, the count goes on past `max`; without
    /// it, it stops at `max`. The last region spans its whole chunk.
    pub fn peek(
        &self,
        len: Option<usize>,
        start: Option<usize>,
        max: usize,
    ) -> (usize, Vec<Region>) {
        let mut inner = self.inner.borrow_mut();
        if max > 0 {
            // The program may write through the regions: readln must look
            // at their bytes again.
            inner.set_scan(None);
        }
        let total = inner.len;
        let mut out = Vec::new();
        let mut count = 0;
        let mut so_far = 0;
        let mut from = 0;
        if let Some(s) = start {
            let Some((i, off)) = inner.locate(s) else {
                return (0, out);
            };
            let c = &mut inner.chunks[i];
            if max > 0 {
                out.push((c.data_ptr().wrapping_add(off), c.len() - off));
            }
            so_far = c.len() - off;
            count = 1;
            from = i + 1;
        }
        let len = match len {
            None if max == 0 => Some(total - start.unwrap_or(0)),
            other => other,
        };
        for c in inner.chunks.range_mut(from..) {
            if c.is_empty() {
                continue;
            }
            if len.is_some_and(|l| so_far >= l) {
                break;
            }
            if count < max {
                out.push((c.data_ptr(), c.len()));
            } else if len.is_none() {
                break;
            }
            count += 1;
            so_far += c.len();
        }
        (count, out)
    }

    /// Finds room for `size` bytes at the end in at most `max` regions,
    /// adding a chunk if needed, and describes it; no data is added until
    /// [`Buffer::commit`]. With one region the room is contiguous.
    pub fn reserve(&self, size: usize, max: usize) -> Result<Vec<Region>, BufferError> {
        if max == 0 {
            return Err(BufferError::Invalid);
        }
        let mut inner = self.inner.borrow_mut();
        if inner.frozen_back {
            return Err(BufferError::Frozen);
        }
        if max > 1 {
            inner.trim_sealed_tail();
        }
        if size == 0 && max > 1 {
            // Nothing to describe: 2.1.12 hands out no extent here (with one
            // extent allowed it still hands out the last chunk's room).
            drop(inner);
            self.bury();
            return Ok(Vec::new());
        }
        let from = inner.fill_index();
        let mut picked = Vec::new();
        let mut got = 0;
        if max == 1
            && let Some(i) = inner.room_before_sealed_tail(size)
        {
            picked.push(i);
            got = inner.chunks[i].spare_len();
        } else if max == 1 {
            // The room must be one piece: the last chunk's, or a new one.
            while inner.chunks.len() > from + 1
                && inner
                    .chunks
                    .back()
                    .is_some_and(|c| c.is_empty() && c.spare_len() < size)
            {
                let c = inner.chunks.pop_back().expect("last exists");
                inner.discard(c);
            }
            let last = inner.chunks.len().checked_sub(1);
            if let Some(i) = last.filter(|&i| inner.chunks[i].spare_len() >= size.max(1)) {
                picked.push(i);
                got = inner.chunks[i].spare_len();
            }
        } else {
            // A run of consecutive chunks, as commit expects: from the last
            // one holding data if it has room, else from the next. Chunks
            // after it hold nothing, so their room can start at offset 0.
            let mut i = from;
            if inner.chunks.get(i).is_some_and(|c| c.spare_len() == 0) {
                i += 1;
            }
            while i < inner.chunks.len() && picked.len() < max && got < size {
                let c = &mut inner.chunks[i];
                if c.is_empty() {
                    c.start = 0;
                    c.end = 0;
                }
                picked.push(i);
                got += c.spare_len();
                i += 1;
            }
            if got < size {
                // A new chunk follows the run: keep room for its extent and
                // let go of the empty chunks it would otherwise come after.
                if picked.len() == max {
                    let last = picked.pop().expect("max > 1");
                    got -= inner.chunks[last].spare_len();
                }
                let keep = picked.last().map_or(from + 1, |&l| l + 1);
                while inner.chunks.len() > keep.max(1) {
                    let c = inner.chunks.pop_back().expect("last exists");
                    if !c.is_empty() {
                        inner.chunks.push_back(c);
                        break;
                    }
                    inner.discard(c);
                }
            }
        }
        if picked.is_empty() || got < size {
            inner
                .chunks
                .push_back(Chunk::with_capacity(size - got.min(size)));
            picked.push(inner.chunks.len() - 1);
        }
        let regions = picked
            .into_iter()
            .map(|i| {
                let c = &mut inner.chunks[i];
                (c.spare_ptr(), c.spare_len())
            })
            .collect();
        drop(inner);
        self.bury();
        Ok(regions)
    }

    /// Adds the bytes written into regions from [`Buffer::reserve`]: each
    /// region must start where a chunk's room starts, in order, and be no
    /// longer than that room. Returns how many bytes were added.
    pub fn commit(&self, regions: &[(*const u8, usize)]) -> Result<usize, BufferError> {
        let (orig, added) = {
            let mut inner = self.inner.borrow_mut();
            if inner.frozen_back {
                return Err(BufferError::Frozen);
            }
            let Some(&(first_ptr, _)) = regions.first() else {
                return Ok(0);
            };
            let from = inner.fill_index();
            let n_chunks = inner.chunks.len();
            let Some(at) =
                (from..n_chunks).find(|&i| inner.chunks[i].spare_ptr().cast_const() == first_ptr)
            else {
                return Err(BufferError::Invalid);
            };
            if at + regions.len() > n_chunks {
                return Err(BufferError::Invalid);
            }
            for (k, &(p, n)) in regions.iter().enumerate() {
                let c = &mut inner.chunks[at + k];
                if c.spare_ptr().cast_const() != p || n > c.spare_len() {
                    return Err(BufferError::Invalid);
                }
            }
            let mut added = 0;
            for (k, &(_, n)) in regions.iter().enumerate() {
                inner.chunks[at + k].end += n;
                added += n;
            }
            let orig = inner.len;
            inner.len += added;
            (orig, added)
        };
        self.notify(orig, added, 0);
        Ok(added)
    }
}

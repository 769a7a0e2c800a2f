//! evbuffer: a queue of chunks with callbacks, search and fd I/O.
//!
//! Every method takes `&self`: a change runs the buffer's callbacks, and a
//! callback may call back into the same buffer (drain it, add callbacks, free
//! it). No borrow of the buffer's state is held while user code runs, and
//! memory a program lent us (`evbuffer_add_reference`) is released only
//! after the state is no longer borrowed.
//!
//! Positions are byte offsets from the front of the buffer.
//!
//! # For the rest of the library
//!
//! A bufferevent owns its two buffers: [`Buffer::new`], [`Buffer::into_raw`]
//! for the pointer C sees, [`Buffer::free_raw`] to free it. Its I/O goes
//! through [`Buffer::read_from_fd`] and [`Buffer::write_to_fd`], one system
//! call each, which ignore freezes: the owner freezes the ends C must not
//! touch ([`Buffer::set_frozen`]) and never has to thaw them for its own
//! work. Its watermark and flush logic hangs off [`Buffer::add_internal_cb`],
//! in the same list and order as C callbacks. Code that wants a buffer freed
//! by one of its callbacks to go away at once calls into it through
//! [`Buffer::enter_raw`], as the C entries do; direct calls leave such a
//! buffer marked but allocated.
//!
//! Chunks of the three standard capacities go to a small per-thread free list,
//! so steady traffic allocates nothing per message, and an emptied buffer
//! keeps no chunk.

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::VecDeque;

mod callbacks;
mod chunk;
mod deferred;
mod io;
mod line;
mod search;
mod segment;
mod shape;
mod space;
mod transfer;

pub use callbacks::{CB_ENABLED, CallbackFn, CallbackId, CbInfo};
pub use chunk::Foreign;

pub use line::Eol;
pub use segment::{FS_CLOSE_ON_FREE, FileSegment, file_size};

use chunk::{Chunk, Keeper};
use std::rc::Rc;
use std::sync::Arc;

use crate::thread::{Hold, Lock, LockSlot};

/// Why a buffer refused a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BufferError {
    /// The end the change needs is frozen.
    Frozen,
    /// An argument is out of range (a position past the end, a size too big).
    Invalid,
}

/// Which end of a buffer a freeze applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrozenEnd {
    /// Removing, draining, reading lines, prepending.
    Front,
    /// Appending.
    Back,
}

/// A byte queue: libevent's `struct evbuffer`.
///
/// Freezing is for the buffer's owner to enforce against C callers: the
/// library's own paths ([`Buffer::read_from_fd`], [`Buffer::write_to_fd`])
/// ignore it, so a bufferevent freezes the ends of its buffers that belong
/// to it and keeps using them.
#[repr(C)]
pub struct Buffer {
    // In this order so that what every message touches (the lock, the
    // callback list, the chunk queue and length) lies in as few cache
    // lines as it can: with many buffers in turn, each line is a miss.
    /// Taken by every entry point once set (evbuffer_enable_locking, or
    /// the lock of the bufferevent owning the buffer).
    lock: LockSlot,
    /// How many calls into this buffer are running user code right now.
    busy: Cell<u32>,
    /// `evbuffer_free` was called while busy; the last call out frees it.
    freed: Cell<bool>,
    cbs: RefCell<callbacks::List>,
    inner: RefCell<Inner>,
    /// Set by `evbuffer_defer_callbacks`; boxed, since few buffers defer.
    defer: OnceCell<Box<deferred::Deferral>>,
}

#[repr(C)]
struct Inner {
    /// Empty chunks appear where `reserve`/`expand` left room, and where a
    /// zero-length reference or file segment was added: such an empty
    /// sealed chunk stays (at the end, or in the middle once the buffer
    /// was prepended to another) until trimmed off the end or drained past.
    chunks: VecDeque<Chunk>,
    len: usize,
    frozen_front: bool,
    frozen_back: bool,
    /// Whether `evbuffer_defer_callbacks` was called (`Buffer::defer` is
    /// set): a copy beside the freezes, which a pair half reads with them
    /// on every write, where `defer` lies in a line no message touches.
    deferring: bool,
    /// readln's memory: for this style, no line end starts before
    /// `scan_from` (two fields rather than a tuple, so the style's byte
    /// shares a word with the flags).
    scan_style: Option<Eol>,
    /// 32 bits wide, as libevent keeps them (the API passes 64).
    flags: u32,
    scan_from: usize,
    /// Chunks taken out, to release once the state is no longer borrowed.
    dead: Vec<Chunk>,
    /// Held by every view other buffers took of this one's chunks; made on
    /// the first evbuffer_add_buffer_reference from this buffer.
    // LIMITATION: the count is not atomic; 2.1.12 lets two locked buffers in
    // different threads share chunks this way, and ours would then race on
    // the count when both drop their views at once; an Arc would lift it.
    keeper: Option<Rc<Keeper>>,
}

impl Default for Buffer {
    fn default() -> Self {
        Buffer::new()
    }
}

impl Drop for Buffer {
    fn drop(&mut self) {
        // Normally not queued here (a queued record holds the buffer), but a
        // record must never outlive its buffer in the loop's queue.
        self.undefer();
        let inner = self.inner.get_mut();
        // While another buffer holds a view of ours, our chunks stay with the
        // views, as a referenced evbuffer outlives evbuffer_free in 2.1.12.
        // Views of ours that came back to us (moved here from the buffer
        // they were made for) do not count: a buffer never keeps itself.
        if let Some(k) = &inner.keeper {
            for c in inner.chunks.iter_mut().chain(inner.dead.iter_mut()) {
                c.forget_source_if(k);
            }
        }
        let keeper = inner.keeper.take().filter(Keeper::has_views);
        let dead = std::mem::take(&mut inner.dead);
        for c in inner.chunks.drain(..).chain(dead) {
            match &keeper {
                Some(k) => k.keep(c),
                None => c.recycle(),
            }
        }
    }
}

impl Buffer {
    /// An empty buffer holding no memory.
    pub fn new() -> Buffer {
        Buffer {
            inner: RefCell::new(Inner {
                chunks: VecDeque::new(),
                len: 0,
                frozen_front: false,
                frozen_back: false,
                deferring: false,
                flags: 0,
                scan_style: None,
                scan_from: 0,
                dead: Vec::new(),
                keeper: None,
            }),
            cbs: RefCell::new(callbacks::List::default()),
            busy: Cell::new(0),
            freed: Cell::new(false),
            lock: LockSlot::empty(),
            defer: OnceCell::new(),
        }
    }

    /// Moves the buffer to the heap and hands out the pointer C sees as
    /// `struct evbuffer *`; release it with [`Buffer::free_raw`].
    pub fn into_raw(self) -> *mut Buffer {
        Box::into_raw(Box::new(self))
    }

    /// Frees a buffer from [`Buffer::into_raw`], as `evbuffer_free` does. If
    /// one of its callbacks is running, the buffer is only marked, runs no
    /// more callbacks, and is freed when the outermost entry call returns
    /// (see [`Buffer::enter_raw`]).
    ///
    /// # Safety
    /// `ptr` came from [`Buffer::into_raw`] and was not freed before.
    pub unsafe fn free_raw(ptr: *mut Buffer) {
        {
            // SAFETY: a live buffer of ours (caller's contract).
            let buf = unsafe { &*ptr };
            if buf.freed.get() {
                return;
            }
            buf.freed.set(true);
            if buf.busy.get() > 0 {
                return;
            }
        }
        // SAFETY: from Box::into_raw, and nobody is using it (busy is 0).
        drop(unsafe { Box::from_raw(ptr) });
    }

    /// Runs `f` on the buffer at `ptr` and frees the buffer afterwards if a
    /// callback freed it meanwhile: the way every C entry uses a buffer.
    ///
    /// # Safety
    /// `ptr` is a live buffer from [`Buffer::into_raw`].
    pub unsafe fn enter_raw<R>(ptr: *mut Buffer, f: impl FnOnce(&Buffer) -> R) -> R {
        // SAFETY: a live buffer of ours (caller's contract).
        let held = Hold::new(unsafe { (*ptr).lock.shared() });
        let (result, dead) = {
            // SAFETY: as above.
            let buf = unsafe { &*ptr };
            buf.busy.set(buf.busy.get() + 1);
            let result = f(buf);
            buf.busy.set(buf.busy.get() - 1);
            (result, buf.freed.get() && buf.busy.get() == 0)
        };
        if dead {
            // SAFETY: freed by a callback, and this was the outermost user.
            drop(unsafe { Box::from_raw(ptr) });
        }
        // Released only now: the guard's own count kept the lock alive
        // through the free above.
        drop(held);
        result
    }

    /// `evbuffer_enable_locking`: from now on every entry point takes
    /// `lock`, or a new lock when None. False when the buffer has a lock
    /// already or none can be made (no thread implementation installed).
    // LIMITATION: a bufferevent's own work on its buffers takes the
    // bufferevent's lock, not one the program put on a buffer here; 2.1.12
    // takes the buffer's, so a thread holding evbuffer_lock on a buffer of
    // a bufferevent without BEV_OPT_THREADSAFE makes its writes wait there.
    pub fn enable_locking(&self, lock: Option<Arc<Lock>>) -> bool {
        if self.lock.get().is_some() {
            return false;
        }
        match lock.or_else(Lock::new) {
            Some(lock) => self.lock.set(lock),
            None => false,
        }
    }

    /// The buffer's lock, if it has one (`evbuffer_lock` and `_unlock`).
    pub fn lock(&self) -> Option<&Lock> {
        self.lock.get()
    }

    /// Whether `evbuffer_free` has been called on the buffer.
    pub fn is_freed(&self) -> bool {
        self.freed.get()
    }

    /// How many bytes the buffer holds.
    pub fn len(&self) -> usize {
        self.inner.borrow().len
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// How many bytes the first chunk holds (`evbuffer_get_contiguous_space`).
    pub fn contiguous_space(&self) -> usize {
        let inner = self.inner.borrow();
        inner
            .chunks
            .iter()
            .find(|c| !c.is_empty())
            .map_or(0, Chunk::len)
    }

    /// A copy of every byte, ignoring freezes.
    pub fn contents(&self) -> Vec<u8> {
        let inner = self.inner.borrow();
        let mut out = vec![0; inner.len];
        inner.copy_at(0, &mut out);
        out
    }

    /// Identifies where position `pos` lies, for `struct evbuffer_ptr`: the
    /// address of its chunk's data and the offset in it; `None` at or past
    /// the end.
    pub fn chunk_at(&self, pos: usize) -> Option<(usize, usize)> {
        let inner = self.inner.borrow();
        let (i, off) = inner.locate(pos)?;
        Some((inner.chunks[i].data().as_ptr() as usize, off))
    }

    /// Freezes or thaws one end against changes from C callers.
    pub fn set_frozen(&self, end: FrozenEnd, frozen: bool) {
        let mut inner = self.inner.borrow_mut();
        match end {
            FrozenEnd::Front => inner.frozen_front = frozen,
            FrozenEnd::Back => inner.frozen_back = frozen,
        }
    }

    #[inline]
    pub fn is_frozen(&self, end: FrozenEnd) -> bool {
        let inner = self.inner.borrow();
        match end {
            FrozenEnd::Front => inner.frozen_front,
            FrozenEnd::Back => inner.frozen_back,
        }
    }

    /// `evbuffer_set_flags` / `evbuffer_clear_flags`.
    pub fn set_flags(&self, flags: u64, on: bool) {
        let mut inner = self.inner.borrow_mut();
        if on {
            inner.flags |= flags as u32;
        } else {
            inner.flags &= !(flags as u32);
        }
    }

    pub fn flags(&self) -> u64 {
        u64::from(self.inner.borrow().flags)
    }

    /// Releases the chunks taken out by the last change; a foreign chunk runs
    /// the program's cleanup here, with no borrow held.
    fn bury(&self) {
        // One at a time, oldest first, keeping the list's capacity (it is
        // short: the chunks one call took out).
        loop {
            let c = {
                let mut inner = self.inner.borrow_mut();
                if inner.dead.is_empty() {
                    break;
                }
                inner.dead.remove(0)
            };
            c.recycle();
        }
    }

    fn check_back(&self) -> Result<(), BufferError> {
        if self.inner.borrow().frozen_back {
            Err(BufferError::Frozen)
        } else {
            Ok(())
        }
    }

    /// Appends a copy of `data`.
    pub fn add(&self, data: &[u8]) -> Result<(), BufferError> {
        self.check_back()?;
        self.add_unfrozen(data);
        Ok(())
    }

    /// Appends ignoring a freeze; runs the callbacks.
    pub(crate) fn add_unfrozen(&self, data: &[u8]) {
        let orig = {
            let mut inner = self.inner.borrow_mut();
            let orig = inner.len;
            inner.append(data);
            orig
        };
        self.bury();
        if !data.is_empty() {
            self.notify(orig, data.len(), 0);
        }
    }

    /// Appends memory the program keeps ownership of; `chunk` runs its
    /// cleanup once every byte has left the buffer or the buffer is freed.
    /// When refused, the cleanup does not run.
    pub fn add_foreign(&self, chunk: Foreign) -> Result<(), BufferError> {
        if self.check_back().is_err() {
            chunk.disarm();
            return Err(BufferError::Frozen);
        }
        let chunk = Chunk::foreign(chunk);
        let n = chunk.len();
        let orig = {
            let mut inner = self.inner.borrow_mut();
            let orig = inner.len;
            inner.trim_empty_tail();
            inner.len += n;
            // Even empty: 2.1.12 keeps the empty chain, and with it the
            // reference's cleanup or the segment's file, until it is
            // trimmed or drained past.
            inner.chunks.push_back(chunk);
            orig
        };
        self.bury();
        self.notify(orig, n, 0);
        Ok(())
    }

    /// Appends copies of `parts` in order until one is refused (a frozen
    /// end); returns how many bytes were added. Like 2.1.12's
    /// evbuffer_add_iovec, it first makes room, even when frozen or given
    /// nothing, which lets go of an empty sealed chunk at the end.
    pub fn add_parts<'a>(&self, parts: impl IntoIterator<Item = &'a [u8]>) -> usize {
        self.inner.borrow_mut().trim_sealed_tail();
        self.bury();
        let mut total = 0;
        for data in parts {
            if self.add(data).is_err() {
                break;
            }
            total += data.len();
        }
        total
    }

    /// Puts a copy of `data` in front of the content.
    pub fn prepend(&self, data: &[u8]) -> Result<(), BufferError> {
        // Nothing to add succeeds even when frozen, as in 2.1.12.
        if data.is_empty() {
            return Ok(());
        }
        if self.inner.borrow().frozen_front {
            return Err(BufferError::Frozen);
        }
        let orig = {
            let mut inner = self.inner.borrow_mut();
            let orig = inner.len;
            inner.set_scan(None);
            let mut rest = data;
            if let Some(first) = inner.chunks.front_mut() {
                if first.is_empty() {
                    first.reset_to_back();
                }
                let n = first.push_front(rest);
                rest = &rest[..rest.len() - n];
            }
            if !rest.is_empty() {
                let mut c = Chunk::with_capacity(rest.len());
                c.reset_to_back();
                c.push_front(rest);
                inner.chunks.push_front(c);
            }
            inner.len += data.len();
            orig
        };
        self.notify(orig, data.len(), 0);
        Ok(())
    }

    /// Removes the first `n` bytes (all of them if fewer). Draining an empty
    /// buffer succeeds even when frozen.
    pub fn drain(&self, n: usize) -> Result<(), BufferError> {
        let (orig, n) = {
            let mut inner = self.inner.borrow_mut();
            if inner.len == 0 {
                return Ok(());
            }
            if inner.frozen_front {
                return Err(BufferError::Frozen);
            }
            let orig = inner.len;
            (orig, inner.drain(n))
        };
        self.bury();
        self.notify(orig, 0, n);
        Ok(())
    }

    /// Drains ignoring a freeze: the owner's path (after a write).
    pub(crate) fn drain_unfrozen(&self, n: usize) {
        let (orig, n) = {
            let mut inner = self.inner.borrow_mut();
            let orig = inner.len;
            (orig, inner.drain(n))
        };
        self.bury();
        self.notify(orig, 0, n);
    }

    /// Copies the first bytes into `out` without removing them; returns how
    /// many (fewer than asked when the buffer is short).
    pub fn copyout(&self, out: &mut [u8]) -> Result<usize, BufferError> {
        self.copyout_from(0, out)
    }

    /// Copies bytes starting at position `pos` into `out`.
    pub fn copyout_from(&self, pos: usize, out: &mut [u8]) -> Result<usize, BufferError> {
        let inner = self.inner.borrow();
        if pos > inner.len {
            return Err(BufferError::Invalid);
        }
        let n = out.len().min(inner.len - pos);
        if n == 0 {
            return Ok(0);
        }
        if inner.frozen_front {
            return Err(BufferError::Frozen);
        }
        inner.copy_at(pos, &mut out[..n]);
        Ok(n)
    }

    /// Moves the first bytes into `out`; returns how many.
    pub fn remove(&self, out: &mut [u8]) -> Result<usize, BufferError> {
        // copyout then drain, under one borrow: most programs remove
        // every message this way.
        let (orig, n) = {
            let mut inner = self.inner.borrow_mut();
            let n = out.len().min(inner.len);
            if n == 0 {
                return Ok(0);
            }
            if inner.frozen_front {
                return Err(BufferError::Frozen);
            }
            inner.copy_at(0, &mut out[..n]);
            let orig = inner.len;
            (orig, inner.drain(n))
        };
        self.bury();
        self.notify(orig, 0, n);
        Ok(n)
    }
}

impl Inner {
    /// readln's memory: the style and the offset before which no line
    /// end of that style starts.
    fn scan(&self) -> Option<(Eol, usize)> {
        self.scan_style.map(|style| (style, self.scan_from))
    }

    fn set_scan(&mut self, scan: Option<(Eol, usize)>) {
        self.scan_style = scan.map(|s| s.0);
        self.scan_from = scan.map_or(0, |s| s.1);
    }

    /// Appends bytes into spare room from the last chunk holding data on,
    /// then into new chunks. Chunks it lets go of wait in `dead`.
    fn append(&mut self, mut data: &[u8]) {
        if data.is_empty() {
            // 2.1.12 adds nothing into a chain it may write; but behind a
            // sealed one (or none with data) it starts a new, empty chain,
            // and that lets go of the empty chains at the end.
            let last = self.chunks.get(self.fill_index());
            if last.is_some_and(Chunk::is_sealed) {
                self.trim_empty_tail();
            }
            return;
        }
        self.len += data.len();
        // The usual case, without walking the queue: the last chunk is
        // the one to fill (it holds data, or is the only one) and has room.
        let count = self.chunks.len();
        if let Some(last) = self.chunks.back_mut()
            && (count == 1 || !last.is_empty())
            && last.spare_len() >= data.len()
        {
            last.push(data);
            return;
        }
        let from = self.fill_index();
        for c in self.chunks.range_mut(from..) {
            if data.is_empty() {
                return;
            }
            let n = c.push(data);
            data = &data[n..];
        }
        // What is left goes in new chunks, after the data: an empty sealed
        // chunk at the end goes, as 2.1.12 frees the empty chains at the
        // end when it links a new one.
        self.trim_empty_tail();
        self.push_new_chunks(data);
    }

    /// Puts `data` in new chunks at the end (`len` already counts it).
    fn push_new_chunks(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let cap = if self.chunks.is_empty() {
                Chunk::capacity_for_message(data.len())
            } else {
                Chunk::capacity_for(data.len())
            };
            // The chunk is made where it lies (see Chunk::UNFILLED).
            self.chunks.push_back(Chunk::UNFILLED);
            let n = self.chunks.back_mut().map_or(0, |c| {
                c.take_memory(cap);
                c.push(data)
            });
            data = &data[n..];
        }
    }

    /// The first chunk new bytes may go to: the last one holding data.
    fn fill_index(&self) -> usize {
        self.chunks.iter().rposition(|c| !c.is_empty()).unwrap_or(0)
    }

    /// Lets go of a chunk taken out of the queue. Plain memory of ours goes
    /// back to the free list at once, which runs nothing of the program's;
    /// anything else waits in `dead` until the state is no longer borrowed
    /// (a cleanup may call back into the buffer).
    fn discard(&mut self, c: Chunk) {
        if c.is_plain() {
            c.recycle();
        } else {
            self.dead.push(c);
        }
    }

    /// Drops empty chunks at the end, so moved chunks follow the data.
    #[inline]
    fn trim_empty_tail(&mut self) {
        // Usually there is nothing to trim: decided without a call.
        if self.chunks.back().is_some_and(Chunk::is_empty) {
            self.trim_empty_tail_now();
        }
    }

    #[inline(never)]
    fn trim_empty_tail_now(&mut self) {
        while self.chunks.back().is_some_and(Chunk::is_empty) {
            let c = self.chunks.pop_back().expect("last exists");
            self.discard(c);
        }
    }

    fn trim_empty_head(&mut self) {
        while self.chunks.front().is_some_and(Chunk::is_empty) {
            let c = self.chunks.pop_front().expect("first exists");
            self.discard(c);
        }
    }

    /// Removes up to `n` bytes from the front; returns how many.
    #[inline(always)]
    fn drain(&mut self, n: usize) -> usize {
        let n = n.min(self.len);
        self.set_scan(None);
        if n == self.len {
            self.clear();
            return n;
        }
        // Whole chunks go, and so do the empty ones met once `n` bytes are
        // gone (as in 2.1.12): the first chunk left holds data.
        let mut left = n;
        loop {
            let front = self.chunks.front_mut().expect("enough bytes");
            if front.len() <= left {
                left -= front.len();
                let c = self.chunks.pop_front().expect("front exists");
                self.discard(c);
            } else {
                front.start += left;
                break;
            }
        }
        self.len -= n;
        n
    }

    /// Lets go of an empty sealed chunk at the end, as 2.1.12 does before
    /// it makes room for new bytes in chains of its own whenever its last
    /// chain is one it may not write (evbuffer_read, evbuffer_add_iovec,
    /// evbuffer_reserve_space with several extents).
    fn trim_sealed_tail(&mut self) {
        if self.chunks.back().is_some_and(Chunk::is_empty_sealed) {
            self.trim_empty_tail();
        }
    }

    /// For room at the end in one piece (expand, a one-extent reserve)
    /// with an empty sealed chunk last: the index of the chunk holding the
    /// last data, just before it, when that has room for `room` bytes (at
    /// least one), and the empty chunk stays, as 2.1.12 then uses that
    /// chain. Otherwise 2.1.12 adds a chain, which lets go of the empty
    /// one, and so does this, returning None (as without such a chunk).
    fn room_before_sealed_tail(&mut self, room: usize) -> Option<usize> {
        if !self.chunks.back().is_some_and(Chunk::is_empty_sealed) {
            return None;
        }
        let i = self.fill_index();
        let c = &self.chunks[i];
        if !c.is_empty() && !c.is_sealed() && c.spare_len() >= room.max(1) {
            return Some(i);
        }
        self.trim_empty_tail();
        None
    }

    /// Empties the buffer, letting go of every chunk.
    #[inline]
    fn clear(&mut self) {
        self.len = 0;
        self.set_scan(None);
        // Moved one by one so both queues keep their capacity.
        while let Some(c) = self.chunks.pop_front() {
            self.discard(c);
        }
    }

    /// Copies `out.len()` bytes starting at `pos`, which must exist.
    fn copy_at(&self, pos: usize, out: &mut [u8]) {
        // The usual case: all of it in the first chunk.
        if let Some(first) = self.chunks.front()
            && let Some(part) = first.data().get(pos..pos + out.len())
        {
            out.copy_from_slice(part);
            return;
        }
        let mut skip = pos;
        let mut done = 0;
        for c in &self.chunks {
            if done == out.len() {
                break;
            }
            let data = c.data();
            if skip >= data.len() {
                skip -= data.len();
                continue;
            }
            let part = &data[skip..];
            skip = 0;
            let n = part.len().min(out.len() - done);
            out[done..done + n].copy_from_slice(&part[..n]);
            done += n;
        }
    }

    /// Finds the chunk holding position `pos`: (index, offset in chunk).
    fn locate(&self, pos: usize) -> Option<(usize, usize)> {
        let mut skip = pos;
        for (i, c) in self.chunks.iter().enumerate() {
            if skip < c.len() {
                return Some((i, skip));
            }
            skip -= c.len();
        }
        None
    }
}

#[cfg(test)]
pub(crate) mod prop_tests;
#[cfg(test)]
mod tests;

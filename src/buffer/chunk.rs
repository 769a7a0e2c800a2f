//! One chunk of a buffer's queue: bytes we own, or memory a program lent us.

use std::alloc::{Layout, alloc, dealloc, handle_alloc_error};
use std::any::Any;
use std::cell::RefCell;
use std::ptr::NonNull;
use std::rc::Rc;

/// The capacity of the first chunk of an empty buffer given a short
/// message; kept on the free list.
pub const TINY: usize = 512;
/// The capacity of a chunk for small writes; kept on the free list.
pub const SMALL: usize = 4096;
/// The capacity of a chunk for a socket read; kept on the free list.
pub const LARGE: usize = 16384;
/// How many spare chunks of each standard size a thread keeps: 128 KiB of
/// tiny ones, 1 MiB of small ones and 2 MiB of large ones at most, enough
/// for a busy loop's messages in flight without holding memory an idle
/// program would miss.
const POOL_CAP_TINY: usize = 256;
const POOL_CAP_SMALL: usize = 256;
const POOL_CAP_LARGE: usize = 128;

/// Spare chunk memory of the three standard sizes.
#[derive(Default)]
struct Pool {
    tiny: Vec<Mem>,
    small: Vec<Mem>,
    large: Vec<Mem>,
}

impl Pool {
    /// The list that keeps memory of `cap` bytes, and how many it keeps;
    /// None for a size that is not standard.
    fn list(&mut self, cap: usize) -> Option<(&mut Vec<Mem>, usize)> {
        match cap {
            TINY => Some((&mut self.tiny, POOL_CAP_TINY)),
            SMALL => Some((&mut self.small, POOL_CAP_SMALL)),
            LARGE => Some((&mut self.large, POOL_CAP_LARGE)),
            _ => None,
        }
    }
}

/// Memory we allocate for a chunk, left uninitialized until written:
/// zero-filling a 16 KiB read buffer would cost more than many reads.
/// Only bytes that were written are ever viewed as a slice.
pub struct Mem {
    ptr: NonNull<u8>,
    cap: usize,
}

impl Mem {
    /// `cap` bytes, from the free list when `cap` is a standard size. A
    /// `Mem` comes back in two registers.
    #[inline(never)]
    fn pooled(cap: usize) -> Mem {
        // try_with: buffers may be used while the thread is exiting (an
        // atexit handler after the free list is gone); they then allocate.
        let reused = POOL.try_with(|pool| pool.borrow_mut().list(cap)?.0.pop());
        reused.ok().flatten().unwrap_or_else(|| Mem::new(cap))
    }

    fn new(cap: usize) -> Mem {
        if cap == 0 {
            return Mem {
                ptr: NonNull::dangling(),
                cap: 0,
            };
        }
        let layout = Layout::array::<u8>(cap).expect("chunk sizes fit a layout");
        // SAFETY: the layout has a nonzero size.
        let raw = unsafe { alloc(layout) };
        let Some(ptr) = NonNull::new(raw) else {
            handle_alloc_error(layout)
        };
        Mem { ptr, cap }
    }

    fn len(&self) -> usize {
        self.cap
    }

    fn ptr(&self) -> *mut u8 {
        self.ptr.as_ptr()
    }

    /// The bytes `from..to`.
    ///
    /// # Safety
    /// Every byte of `from..to` was written, and `to <= cap`.
    unsafe fn range(&self, from: usize, to: usize) -> &[u8] {
        debug_assert!(from <= to && to <= self.cap);
        // SAFETY: in bounds and initialized (caller's promise); the memory
        // lives as long as self.
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr().add(from), to - from) }
    }
}

impl Drop for Mem {
    fn drop(&mut self) {
        if self.cap != 0 {
            let layout = Layout::array::<u8>(self.cap).expect("as allocated");
            // SAFETY: allocated in `new` with this layout, freed once.
            unsafe { dealloc(self.ptr.as_ptr(), layout) };
        }
    }
}

thread_local! {
    static POOL: RefCell<Pool> = const {
        RefCell::new(Pool {
            tiny: Vec::new(),
            small: Vec::new(),
            large: Vec::new(),
        })
    };
}

/// Memory a program handed over by reference (`evbuffer_add_reference`).
///
/// Its cleanup runs when the last of its bytes leaves every buffer or the
/// buffer holding it is freed; the owner of the chunk makes sure that
/// happens outside any borrow of a buffer.
pub struct Foreign {
    ptr: *const u8,
    len: usize,
    cleanup: Option<Box<dyn FnOnce()>>,
    /// What keeps the memory `ptr` points into alive, when it is ours
    /// (file contents); dropped after `cleanup` has run.
    _keep: Option<Rc<dyn Any>>,
}

impl Foreign {
    /// Wraps `len` bytes at `ptr`, which stay readable until `cleanup` runs.
    ///
    /// # Safety
    /// `ptr` is valid for reads of `len` bytes, and the memory is neither
    /// freed nor changed until `cleanup` has been called (or, without a
    /// cleanup, for as long as any buffer holds the chunk).
    pub unsafe fn new(ptr: *const u8, len: usize, cleanup: Option<Box<dyn FnOnce()>>) -> Self {
        Foreign {
            ptr,
            len,
            cleanup,
            _keep: None,
        }
    }

    /// `len` bytes at `start` of memory that `owner` keeps alive and never
    /// changes (`bytes` finds it). Panics if the range is out of bounds.
    pub fn shared<T: 'static>(
        owner: Rc<T>,
        bytes: impl Fn(&T) -> &[u8],
        start: usize,
        len: usize,
    ) -> Self {
        let region = &bytes(&owner)[start..start + len];
        let ptr = region.as_ptr();
        Foreign {
            ptr,
            len,
            cleanup: None,
            _keep: Some(owner),
        }
    }

    /// The file and offset of byte `at` of this memory when it is part of
    /// a file segment that may be sent with sendfile.
    fn file_origin(&self, at: usize) -> Option<(std::os::fd::RawFd, i64)> {
        let keep = self._keep.as_ref()?;
        let seg = (**keep).downcast_ref::<super::FileSegment>()?;
        super::segment::file_origin(seg, self.ptr.wrapping_add(at))
    }

    /// Drops the cleanup without running it: the buffer refused the memory.
    pub fn disarm(mut self) {
        self.cleanup = None;
    }

    fn bytes(&self) -> &[u8] {
        if self.len == 0 {
            return &[];
        }
        // SAFETY: valid for `len` reads until cleanup, the contract of `new`,
        // or kept alive and unchanged by `_keep` (`shared`).
        unsafe { std::slice::from_raw_parts(self.ptr, self.len) }
    }
}

impl Drop for Foreign {
    fn drop(&mut self) {
        if let Some(cleanup) = self.cleanup.take() {
            cleanup();
        }
    }
}

pub enum Storage {
    /// Our memory: a chunk's `start..end` is always written.
    Owned(Mem),
    /// Boxed: the rare kind would otherwise make every chunk, which the
    /// socket path moves several times per message, three words longer.
    Foreign(Box<Foreign>),
    /// Memory read by more than one buffer (`evbuffer_add_buffer_reference`):
    /// never written again, released (or its cleanup run) with the last
    /// chunk that uses it.
    Shared(Rc<Storage>),
}

impl Storage {
    /// The bytes `start..end`, which a chunk holds as data (so written).
    fn range(&self, start: usize, end: usize) -> &[u8] {
        match self {
            // SAFETY: a chunk's data range of owned memory is always written
            // (Chunk's invariant), and callers pass only that range.
            Storage::Owned(m) => unsafe { m.range(start, end) },
            Storage::Foreign(f) => &f.bytes()[start..end],
            Storage::Shared(s) => s.range(start, end),
        }
    }

    fn base_ptr(&self) -> *const u8 {
        match self {
            Storage::Owned(m) => m.ptr(),
            Storage::Foreign(f) => f.ptr,
            Storage::Shared(s) => s.base_ptr(),
        }
    }
}

/// A run of bytes `storage[start..end]`; `storage[end..]` is spare room
/// (always empty for foreign memory).
pub struct Chunk {
    storage: Storage,
    pub start: usize,
    pub end: usize,
    /// Bytes `evbuffer_add_buffer_reference` refuses to take, as libevent
    /// 2.1.12 does: a view made by it, or part of a file segment. Kept when
    /// the chunk moves to another buffer, lost when its bytes are copied.
    pub unshareable: bool,
    /// For a view made by `evbuffer_add_buffer_reference`: the buffer it was
    /// taken from, which keeps its chunks past `evbuffer_free` while a view
    /// of it lives, as libevent 2.1.12 keeps a referenced evbuffer.
    source: Option<Rc<Keeper>>,
}

/// What a buffer leaves behind when freed while views of it live: its
/// chunks, released (cleanups run, in queue order) with the last view.
#[derive(Default)]
pub struct Keeper {
    chunks: RefCell<Vec<Chunk>>,
}

impl Keeper {
    /// Whether any view of the buffer still lives.
    pub fn has_views(self: &Rc<Keeper>) -> bool {
        Rc::strong_count(self) > 1
    }

    /// Keeps `chunk` until the last view is gone.
    pub fn keep(&self, chunk: Chunk) {
        self.chunks.borrow_mut().push(chunk);
    }
}

impl Drop for Keeper {
    fn drop(&mut self) {
        for c in self.chunks.get_mut().drain(..) {
            c.recycle();
        }
    }
}

impl Chunk {
    /// An empty owned chunk of at least `want` bytes, from the free list when
    /// a standard size fits.
    pub fn with_capacity(want: usize) -> Chunk {
        Chunk::of_capacity(Chunk::capacity_for(want))
    }

    /// The capacity [`Chunk::with_capacity`] gives for `want` bytes.
    pub fn capacity_for(want: usize) -> usize {
        if want <= SMALL {
            SMALL
        } else if want <= LARGE {
            LARGE
        } else {
            want.div_ceil(SMALL) * SMALL
        }
    }

    /// The capacity of a chunk for `want` bytes arriving in an empty
    /// buffer: a short message gets a tiny chunk. Many buffers each holding
    /// one message in a 4 KiB chunk would put every message at the same
    /// offset in a page, where the caches hold only a few of them.
    pub fn capacity_for_message(want: usize) -> usize {
        if want > TINY {
            return Chunk::capacity_for(want);
        }
        TINY
    }

    /// An empty owned chunk of exactly `cap` bytes, from the free list
    /// when `cap` is a standard size.
    ///
    /// Built where it is asked for: returned from a call, the chunk would
    /// go through memory, and the caller's first reads of its fields
    /// would wait on the callee's overlapping stores.
    #[inline(always)]
    fn of_capacity(cap: usize) -> Chunk {
        Chunk::owned(Mem::pooled(cap))
    }

    #[inline(always)]
    fn owned(mem: Mem) -> Chunk {
        Chunk {
            storage: Storage::Owned(mem),
            start: 0,
            end: 0,
            unshareable: false,
            source: None,
        }
    }

    /// A chunk with no memory, for a queue to take before the chunk gets
    /// its memory ([`Chunk::take_memory`]). Being a constant, it is stored
    /// straight into the queue's slot; a chunk built at run time is built
    /// on the stack and copied in, and the copy's loads, wider than the
    /// stores that built it, wait for those stores to reach the cache.
    pub const UNFILLED: Chunk = Chunk {
        storage: Storage::Owned(Mem {
            ptr: NonNull::dangling(),
            cap: 0,
        }),
        start: 0,
        end: 0,
        unshareable: false,
        source: None,
    };

    /// Gives an [`Chunk::UNFILLED`] chunk `cap` bytes, from the free list
    /// when `cap` is a standard size.
    pub fn take_memory(&mut self, cap: usize) {
        debug_assert!(self.spare_len() == 0 && self.is_empty());
        let none = std::mem::replace(&mut self.storage, Storage::Owned(Mem::pooled(cap)));
        // Nothing to release: an unfilled chunk holds no memory.
        std::mem::forget(none);
    }

    pub fn foreign(f: Foreign) -> Chunk {
        let len = f.len;
        // Memory kept alive by an owner of ours is a file segment's.
        let unshareable = f._keep.is_some();
        Chunk {
            storage: Storage::Foreign(Box::new(f)),
            start: 0,
            end: len,
            unshareable,
            source: None,
        }
    }

    /// Whether the chunk is memory of ours that nothing else refers to:
    /// letting it go runs no cleanup and releases no other buffer.
    pub fn is_plain(&self) -> bool {
        matches!(self.storage, Storage::Owned(_)) && self.source.is_none()
    }

    /// If the chunk is a view of the buffer `keeper` belongs to, forgets
    /// that: the buffer is going and the chunk stays with its keeper, which
    /// must not keep itself alive.
    pub fn forget_source_if(&mut self, keeper: &Rc<Keeper>) {
        if self.source.as_ref().is_some_and(|s| Rc::ptr_eq(s, keeper)) {
            self.source = None;
        }
    }

    /// A second chunk showing the same bytes, for another buffer. From then
    /// on neither chunk writes to the memory: both lose their spare room.
    pub fn share(&mut self, source: &Rc<Keeper>) -> Chunk {
        let old = std::mem::replace(&mut self.storage, Storage::Owned(Mem::new(0)));
        let rc = match old {
            Storage::Shared(rc) => rc,
            other => Rc::new(other),
        };
        self.storage = Storage::Shared(rc.clone());
        Chunk {
            storage: Storage::Shared(rc),
            start: self.start,
            end: self.end,
            unshareable: true,
            source: Some(source.clone()),
        }
    }

    pub fn len(&self) -> usize {
        self.end - self.start
    }

    pub fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Whether the chunk's memory is never written by us (lent, a file's,
    /// or shared): libevent 2.1.12's immutable chains. Such a chunk stays
    /// in the queue even when empty, as 2.1.12 keeps an empty chain of a
    /// zero-length reference or file segment until it trims or drains past
    /// it; an empty chunk of our own memory is only room.
    pub fn is_sealed(&self) -> bool {
        !matches!(self.storage, Storage::Owned(_))
    }

    /// Whether the chunk is an empty one that holds nothing but its place:
    /// see [`Chunk::is_sealed`].
    pub fn is_empty_sealed(&self) -> bool {
        self.is_empty() && self.is_sealed()
    }

    /// Where the chunk's data lies in a file, when it holds part of a file
    /// segment that may be sent with sendfile.
    pub fn file_origin(&self) -> Option<(std::os::fd::RawFd, i64)> {
        match &self.storage {
            Storage::Foreign(f) => f.file_origin(self.start),
            _ => None,
        }
    }

    /// The bytes the chunk holds.
    pub fn data(&self) -> &[u8] {
        self.storage.range(self.start, self.end)
    }

    /// Where the data starts, for pointers handed to C (which may write
    /// through it, as libevent allows for owned memory).
    pub fn data_ptr(&mut self) -> *mut u8 {
        self.storage.base_ptr().wrapping_add(self.start).cast_mut()
    }

    /// Room after the data; none for foreign memory.
    pub fn spare_len(&self) -> usize {
        match &self.storage {
            Storage::Owned(m) => m.len() - self.end,
            _ => 0,
        }
    }

    /// Where the spare room starts, for reads and for pointers handed to
    /// C: the room is not initialized, so it is only ever written through
    /// this pointer, and becomes data (`end` grows) once written.
    pub fn spare_ptr(&mut self) -> *mut u8 {
        match &self.storage {
            Storage::Owned(m) => m.ptr().wrapping_add(self.end),
            _ => NonNull::dangling().as_ptr(),
        }
    }

    /// Empties the chunk and moves its (empty) data to the very end, so that
    /// all the room is in front, for prepending.
    pub fn reset_to_back(&mut self) {
        if let Storage::Owned(m) = &self.storage {
            self.start = m.len();
            self.end = m.len();
        }
    }

    /// Appends what fits of `src` into the spare room; returns how much.
    pub fn push(&mut self, src: &[u8]) -> usize {
        let n = self.spare_len().min(src.len());
        if n > 0 {
            // SAFETY: the spare room holds at least n writable bytes of our
            // own memory, which src (another buffer's bytes) cannot overlap.
            unsafe { std::ptr::copy_nonoverlapping(src.as_ptr(), self.spare_ptr(), n) };
            self.end += n;
        }
        n
    }

    /// Room in front of the data (owned chunks only).
    pub fn front_room(&self) -> usize {
        match self.storage {
            Storage::Owned(_) => self.start,
            _ => 0,
        }
    }

    /// Puts the tail of `src` that fits in front of the data; returns how much.
    pub fn push_front(&mut self, src: &[u8]) -> usize {
        let n = self.front_room().min(src.len());
        if let Storage::Owned(m) = &self.storage
            && n > 0
        {
            let dst = m.ptr().wrapping_add(self.start - n);
            // SAFETY: the n bytes before start are our own memory, in
            // bounds, and src (another buffer's bytes) cannot overlap.
            unsafe { std::ptr::copy_nonoverlapping(src[src.len() - n..].as_ptr(), dst, n) };
            self.start -= n;
        }
        n
    }

    /// Moves the data to the front of an owned chunk to make spare room.
    pub fn compact(&mut self) {
        let (start, end) = (self.start, self.end);
        if let Storage::Owned(m) = &self.storage {
            if start > 0 && end > start {
                // SAFETY: both ranges lie within our allocation; copy
                // handles the overlap.
                unsafe { std::ptr::copy(m.ptr().add(start), m.ptr(), end - start) };
            }
            self.end -= start;
            self.start = 0;
        }
    }

    /// Gives the chunk back: owned memory of a standard size goes to the free
    /// list; a foreign chunk runs its cleanup, so call this outside borrows.
    pub fn recycle(self) {
        let Chunk {
            storage, source, ..
        } = self;
        match storage {
            Storage::Owned(mem) => {
                // After the free list is gone (thread exit), memory is just
                // freed.
                let _ = POOL.try_with(|pool| {
                    if let Some((list, keep)) = pool.borrow_mut().list(mem.len())
                        && list.len() < keep
                    {
                        list.push(mem);
                    }
                });
            }
            other => drop(other),
        }
        // The memory first, then the hold on the buffer it came from, as
        // libevent 2.1.12 releases a view's source chain before its evbuffer.
        drop(source);
    }
}

#[cfg(test)]
mod size_tests {
    use super::*;

    /// Chunks are moved by value between queues on every message: keep
    /// them small (the boxed foreign kind is what keeps this true).
    #[test]
    fn chunk_is_small() {
        assert!(std::mem::size_of::<Chunk>() <= 56);
    }
}

//! One chunk of a buffer's queue: bytes we own, or memory a program lent us.

use std::any::Any;
use std::cell::RefCell;
use std::rc::Rc;

/// The capacity of a chunk for small writes; kept on the free list.
pub const SMALL: usize = 4096;
/// The capacity of a chunk for a socket read; kept on the free list.
pub const LARGE: usize = 16384;
/// How many spare chunks of each standard size a thread keeps.
const POOL_CAP: usize = 32;

/// Spare chunk memory of the two standard sizes.
#[derive(Default)]
struct Pool {
    small: Vec<Box<[u8]>>,
    large: Vec<Box<[u8]>>,
}

thread_local! {
    static POOL: RefCell<Pool> = RefCell::new(Pool::default());
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
    Owned(Box<[u8]>),
    Foreign(Foreign),
    /// Memory read by more than one buffer (`evbuffer_add_buffer_reference`):
    /// never written again, released (or its cleanup run) with the last
    /// chunk that uses it.
    Shared(Rc<Storage>),
}

impl Storage {
    fn bytes(&self) -> &[u8] {
        match self {
            Storage::Owned(b) => b,
            Storage::Foreign(f) => f.bytes(),
            Storage::Shared(s) => s.bytes(),
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
        let cap = if want <= SMALL {
            SMALL
        } else if want <= LARGE {
            LARGE
        } else {
            want.div_ceil(SMALL) * SMALL
        };
        // try_with: buffers may be used while the thread is exiting (an
        // atexit handler after the free list is gone); they then allocate.
        let reused = POOL.try_with(|pool| {
            let mut pool = pool.borrow_mut();
            match cap {
                SMALL => pool.small.pop(),
                LARGE => pool.large.pop(),
                _ => None,
            }
        });
        let mem = reused
            .ok()
            .flatten()
            .unwrap_or_else(|| vec![0u8; cap].into_boxed_slice());
        Chunk {
            storage: Storage::Owned(mem),
            start: 0,
            end: 0,
            unshareable: false,
            source: None,
        }
    }

    pub fn foreign(f: Foreign) -> Chunk {
        let len = f.len;
        // Memory kept alive by an owner of ours is a file segment's.
        let unshareable = f._keep.is_some();
        Chunk {
            storage: Storage::Foreign(f),
            start: 0,
            end: len,
            unshareable,
            source: None,
        }
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
        let old = std::mem::replace(&mut self.storage, Storage::Owned(Box::new([])));
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

    fn all(&self) -> &[u8] {
        self.storage.bytes()
    }

    /// The bytes the chunk holds.
    pub fn data(&self) -> &[u8] {
        &self.all()[self.start..self.end]
    }

    /// Where the data starts, for pointers handed to C (which may write
    /// through it, as libevent allows for owned memory).
    pub fn data_ptr(&mut self) -> *mut u8 {
        match &mut self.storage {
            Storage::Owned(b) => b[self.start..].as_mut_ptr(),
            s => s.bytes()[self.start..].as_ptr().cast_mut(),
        }
    }

    /// Room after the data; none for foreign memory.
    pub fn spare_len(&self) -> usize {
        match &self.storage {
            Storage::Owned(b) => b.len() - self.end,
            _ => 0,
        }
    }

    /// The spare room, writable.
    pub fn spare_mut(&mut self) -> &mut [u8] {
        match &mut self.storage {
            Storage::Owned(b) => &mut b[self.end..],
            _ => &mut [],
        }
    }

    /// Where the spare room starts, for pointers handed to C.
    pub fn spare_ptr(&mut self) -> *mut u8 {
        self.spare_mut().as_mut_ptr()
    }

    /// Empties the chunk and moves its (empty) data to the very end, so that
    /// all the room is in front, for prepending.
    pub fn reset_to_back(&mut self) {
        if let Storage::Owned(b) = &self.storage {
            self.start = b.len();
            self.end = b.len();
        }
    }

    /// Appends what fits of `src` into the spare room; returns how much.
    pub fn push(&mut self, src: &[u8]) -> usize {
        let spare = self.spare_mut();
        let n = spare.len().min(src.len());
        spare[..n].copy_from_slice(&src[..n]);
        self.end += n;
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
        let start = self.start;
        if let Storage::Owned(b) = &mut self.storage {
            b[start - n..start].copy_from_slice(&src[src.len() - n..]);
            self.start -= n;
        }
        n
    }

    /// Moves the data to the front of an owned chunk to make spare room.
    pub fn compact(&mut self) {
        let (start, end) = (self.start, self.end);
        if let Storage::Owned(b) = &mut self.storage {
            b.copy_within(start..end, 0);
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
                    let mut pool = pool.borrow_mut();
                    let list = match mem.len() {
                        SMALL => &mut pool.small,
                        LARGE => &mut pool.large,
                        _ => return,
                    };
                    if list.len() < POOL_CAP {
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

//! The thread layer: the lock, condition and thread-id functions a program
//! installed (its own through thread.h, or ours over libc's pthreads with
//! `evthread_use_pthreads`), and the objects made from them. Without them
//! nothing here allocates and every lock operation is a branch not taken.
//!
//! A [`Lock`] is always asked for as recursive: a bufferevent and its two
//! buffers share one, and a base's lock is taken again by the base's own
//! functions when they call each other.

pub mod pthread;

use std::ffi::{c_uint, c_ulong, c_void};
use std::sync::atomic::{AtomicPtr, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, RwLock};

use crate::ffi::thread::{evthread_condition_callbacks, evthread_lock_callbacks};
use crate::log;

pub const EVTHREAD_LOCKTYPE_RECURSIVE: c_uint = 1;
pub const EVTHREAD_TRY: c_uint = 0x10;

type IdFn = unsafe extern "C" fn() -> c_ulong;

/// The installed functions. Read when a lock or condition is made (each
/// object keeps its own copy), written when the program installs them.
struct Table {
    lock: Option<evthread_lock_callbacks>,
    cond: Option<evthread_condition_callbacks>,
    debug: bool,
}

static TABLE: RwLock<Table> = RwLock::new(Table {
    lock: None,
    cond: None,
    debug: false,
});

/// The thread-id function as an address, 0 when none is installed: read
/// on every cross-thread check, so kept apart from the table.
static ID_FN: AtomicUsize = AtomicUsize::new(0);

fn table() -> std::sync::RwLockReadGuard<'static, Table> {
    TABLE.read().unwrap_or_else(|e| e.into_inner())
}

fn table_mut() -> std::sync::RwLockWriteGuard<'static, Table> {
    TABLE.write().unwrap_or_else(|e| e.into_inner())
}

/// Function pointers compared by address, the only identity C gives them.
fn addr<F: Copy>(f: Option<F>) -> usize {
    // SAFETY: F is always a function pointer type here, the size of usize.
    f.map_or(0, |f| unsafe { std::mem::transmute_copy::<F, usize>(&f) })
}

fn same_lock_fns(a: &evthread_lock_callbacks, b: &evthread_lock_callbacks) -> bool {
    a.lock_api_version == b.lock_api_version
        && a.supported_locktypes == b.supported_locktypes
        && addr(a.alloc) == addr(b.alloc)
        && addr(a.free) == addr(b.free)
        && addr(a.lock) == addr(b.lock)
        && addr(a.unlock) == addr(b.unlock)
}

fn same_cond_fns(a: &evthread_condition_callbacks, b: &evthread_condition_callbacks) -> bool {
    a.condition_api_version == b.condition_api_version
        && addr(a.alloc_condition) == addr(b.alloc_condition)
        && addr(a.free_condition) == addr(b.free_condition)
        && addr(a.signal_condition) == addr(b.signal_condition)
        && addr(a.wait_condition) == addr(b.wait_condition)
}

/// `evthread_set_lock_callbacks`, with libevent's answers: installing the
/// same functions again is fine, other ones are refused, an incomplete set
/// is refused, NULL forgets them with a warning if there were any.
pub fn set_lock_callbacks(cbs: Option<evthread_lock_callbacks>) -> i32 {
    let mut t = table_mut();
    let Some(cbs) = cbs else {
        if t.lock.take().is_some() {
            drop(t);
            log::warn(
                "Trying to disable lock functions after they have been set up will \
                 probaby not work.",
            );
        }
        return 0;
    };
    if let Some(old) = &t.lock {
        if same_lock_fns(old, &cbs) {
            return 0;
        }
        drop(t);
        log::warn("Can't change lock callbacks once they have been initialized.");
        return -1;
    }
    if cbs.alloc.is_none() || cbs.free.is_none() || cbs.lock.is_none() || cbs.unlock.is_none() {
        return -1;
    }
    t.lock = Some(cbs);
    0
}

/// `evthread_set_condition_callbacks`, with libevent's answers (an
/// incomplete set is accepted and ignored).
pub fn set_condition_callbacks(cbs: Option<evthread_condition_callbacks>) -> i32 {
    let mut t = table_mut();
    let Some(cbs) = cbs else {
        if t.cond.take().is_some() {
            drop(t);
            log::warn(
                "Trying to disable condition functions after they have been set up \
                 will probaby not work.",
            );
        }
        return 0;
    };
    if let Some(old) = &t.cond {
        if same_cond_fns(old, &cbs) {
            return 0;
        }
        drop(t);
        log::warn("Can't change condition callbacks once they have been initialized.");
        return -1;
    }
    let complete = cbs.alloc_condition.is_some()
        && cbs.free_condition.is_some()
        && cbs.signal_condition.is_some()
        && cbs.wait_condition.is_some();
    if complete {
        t.cond = Some(cbs);
    }
    0
}

pub fn set_id_callback(id_fn: Option<IdFn>) {
    ID_FN.store(addr(id_fn), Ordering::Release);
}

/// `evthread_enable_lock_debugging`: locks made from now on check their use.
pub fn enable_debugging() {
    table_mut().debug = true;
}

/// Whether lock functions are installed, so that locks can be made.
pub fn locking_enabled() -> bool {
    table().lock.is_some()
}

/// The calling thread's id from the installed function, if there is one.
pub fn current_id() -> Option<c_ulong> {
    let f = ID_FN.load(Ordering::Acquire);
    if f == 0 {
        return None;
    }
    // SAFETY: the address was stored from an `IdFn` by set_id_callback.
    let f: IdFn = unsafe { std::mem::transmute::<usize, IdFn>(f) };
    // SAFETY: calling the program's (or our) thread-id function.
    Some(unsafe { f() })
}

/// A recursive lock from the installed functions.
pub struct Lock {
    raw: *mut c_void,
    fns: evthread_lock_callbacks,
    /// Made by us (freed with us) rather than handed in by the program.
    owned: bool,
    /// With lock debugging: the holder's id (0 for none) and depth.
    debug: Option<(AtomicU64, AtomicUsize)>,
}

// SAFETY: the raw lock is made to be used from any thread; the fields are
// set once at creation and only read afterwards (the debug counters are
// atomics).
unsafe impl Send for Lock {}
// SAFETY: as above.
unsafe impl Sync for Lock {}

impl Lock {
    /// A new recursive lock, or None when no lock functions are installed
    /// or the program's allocator fails.
    pub fn new() -> Option<Arc<Lock>> {
        let t = table();
        let fns = t.lock?;
        let alloc = fns.alloc?;
        // SAFETY: calling the installed allocation function as thread.h says.
        let raw = unsafe { alloc(EVTHREAD_LOCKTYPE_RECURSIVE) };
        if raw.is_null() {
            return None;
        }
        Some(Arc::new(Lock {
            raw,
            fns,
            owned: true,
            debug: t.debug.then(|| (AtomicU64::new(0), AtomicUsize::new(0))),
        }))
    }

    /// Wraps a lock the program made with the installed functions; the
    /// program keeps ownership. None when no lock functions are installed.
    pub fn adopt(raw: *mut c_void) -> Option<Arc<Lock>> {
        let t = table();
        let fns = t.lock?;
        Some(Arc::new(Lock {
            raw,
            fns,
            owned: false,
            debug: None,
        }))
    }

    /// The program's view of the lock.
    pub fn raw(&self) -> *mut c_void {
        self.raw
    }

    // Out of line, here and in `unlock`: the callers' common case has no
    // lock at all, and inlined bodies would crowd its registers.
    #[inline(never)]
    pub fn lock(&self) {
        if let Some(f) = self.fns.lock {
            // SAFETY: the lock was made by (or for) these functions.
            unsafe { f(0, self.raw) };
        }
        if let Some((owner, depth)) = &self.debug {
            owner.store(current_id().unwrap_or(1), Ordering::Relaxed);
            depth.fetch_add(1, Ordering::Relaxed);
        }
    }

    #[inline(never)]
    pub fn unlock(&self) {
        if let Some((owner, depth)) = &self.debug {
            let me = current_id().unwrap_or(1);
            if depth.load(Ordering::Relaxed) == 0 || owner.load(Ordering::Relaxed) != me {
                log::fatal("lock debugging: a lock was released by a thread not holding it");
            }
            if depth.fetch_sub(1, Ordering::Relaxed) == 1 {
                owner.store(0, Ordering::Relaxed);
            }
        }
        if let Some(f) = self.fns.unlock {
            // SAFETY: as in `lock`; this thread holds the lock.
            unsafe { f(0, self.raw) };
        }
    }

    /// Takes the lock until the returned guard is dropped.
    pub fn hold(&self) -> Held<'_> {
        self.lock();
        Held(Some(self))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        if self.owned
            && let Some(free) = self.fns.free
        {
            // SAFETY: our own lock, made by this table's alloc, now unused.
            unsafe { free(self.raw, EVTHREAD_LOCKTYPE_RECURSIVE) };
        }
    }
}

/// Takes `lock`, if the object has one, until the guard is dropped.
#[inline]
pub fn hold(lock: Option<&Lock>) -> Held<'_> {
    match lock {
        Some(l) => l.hold(),
        None => Held(None),
    }
}

/// Runs `f` with `lock` (which the caller holds once) released, if the
/// object has one: around the program's callbacks, and the loop's wait.
pub fn released<R>(lock: Option<&Lock>, f: impl FnOnce() -> R) -> R {
    match lock {
        Some(l) => {
            l.unlock();
            let r = f();
            l.lock();
            r
        }
        None => f(),
    }
}

/// A held lock (or nothing, for objects without one), released on drop.
pub struct Held<'a>(Option<&'a Lock>);

impl Drop for Held<'_> {
    #[inline]
    fn drop(&mut self) {
        if let Some(lock) = self.0 {
            lock.unlock();
        }
    }
}

/// A held shared lock (or nothing, for objects without one) that keeps the
/// lock's memory alive until it is released, for objects that may be freed
/// while it is held.
pub struct Hold(Option<Arc<Lock>>);

impl Hold {
    /// Takes `lock` if there is one.
    #[inline]
    pub fn new(lock: Option<Arc<Lock>>) -> Hold {
        if let Some(l) = &lock {
            l.lock();
        }
        Hold(lock)
    }

    #[cold]
    #[inline(never)]
    fn release(&mut self) {
        if let Some(l) = self.0.take() {
            l.unlock();
        }
    }
}

impl Drop for Hold {
    /// Inline, so that objects without a lock (the common case) pay one
    /// test and no call.
    #[inline]
    fn drop(&mut self) {
        if self.0.is_some() {
            self.release();
        }
    }
}

/// A place for an object's lock, set at most once (a filter may hand its
/// lock to the bufferevent under it after both exist); one word wide.
pub struct LockSlot(AtomicPtr<Lock>);

impl LockSlot {
    pub const fn empty() -> LockSlot {
        LockSlot(AtomicPtr::new(std::ptr::null_mut()))
    }

    #[inline]
    pub fn get(&self) -> Option<&Lock> {
        let p = self.0.load(Ordering::Acquire);
        // SAFETY: a non-null pointer came from Arc::into_raw in `set` and
        // stays valid until this slot is dropped.
        (!p.is_null()).then(|| unsafe { &*p })
    }

    /// A counted reference to the lock, for guards and sharing.
    #[inline]
    pub fn shared(&self) -> Option<Arc<Lock>> {
        let p = self.0.load(Ordering::Acquire);
        if p.is_null() {
            return None;
        }
        // SAFETY: p came from Arc::into_raw and the slot still holds its
        // count, so adding one and rebuilding an Arc is sound.
        unsafe {
            Arc::increment_strong_count(p);
            Some(Arc::from_raw(p))
        }
    }

    /// Stores `lock`; false (and nothing changed) if there was one.
    pub fn set(&self, lock: Arc<Lock>) -> bool {
        let p = Arc::into_raw(lock).cast_mut();
        let stored =
            self.0
                .compare_exchange(std::ptr::null_mut(), p, Ordering::AcqRel, Ordering::Acquire);
        if stored.is_err() {
            // SAFETY: p is the pointer just made from an Arc and not stored.
            drop(unsafe { Arc::from_raw(p) });
        }
        stored.is_ok()
    }
}

impl Drop for LockSlot {
    fn drop(&mut self) {
        let p = *self.0.get_mut();
        if !p.is_null() {
            // SAFETY: the slot's own count, from Arc::into_raw in `set`.
            drop(unsafe { Arc::from_raw(p) });
        }
    }
}

/// A condition variable from the installed functions.
pub struct Cond {
    raw: *mut c_void,
    fns: evthread_condition_callbacks,
}

// SAFETY: the raw condition is made to be used from any thread; the fields
// are only read after creation.
unsafe impl Send for Cond {}
// SAFETY: as above.
unsafe impl Sync for Cond {}

impl Cond {
    /// A new condition, or None when no condition functions are installed.
    pub fn new() -> Option<Cond> {
        let fns = table().cond?;
        let alloc = fns.alloc_condition?;
        // SAFETY: calling the installed allocation function.
        let raw = unsafe { alloc(0) };
        (!raw.is_null()).then_some(Cond { raw, fns })
    }

    /// Waits for a broadcast, releasing `lock` (held once) meanwhile.
    pub fn wait(&self, lock: &Lock) {
        // The wait lets other threads take the lock: the debug record
        // must not say this thread holds it meanwhile.
        if let Some((owner, depth)) = &lock.debug {
            depth.fetch_sub(1, Ordering::Relaxed);
            owner.store(0, Ordering::Relaxed);
        }
        if let Some(f) = self.fns.wait_condition {
            // SAFETY: the condition and lock were made by the installed
            // functions; this thread holds the lock once.
            unsafe { f(self.raw, lock.raw, std::ptr::null()) };
        }
        if let Some((owner, depth)) = &lock.debug {
            owner.store(current_id().unwrap_or(1), Ordering::Relaxed);
            depth.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn broadcast(&self) {
        if let Some(f) = self.fns.signal_condition {
            // SAFETY: the condition was made by the installed functions.
            unsafe { f(self.raw, 1) };
        }
    }
}

impl Drop for Cond {
    fn drop(&mut self) {
        if let Some(free) = self.fns.free_condition {
            // SAFETY: our condition, no longer waited on.
            unsafe { free(self.raw) };
        }
    }
}

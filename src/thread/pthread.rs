//! libevent_pthreads: `evthread_use_pthreads` installs these functions,
//! recursive pthread mutexes and condition variables from libc (which
//! valgrind's thread checkers follow) and pthread_self as the thread id.

use std::cell::UnsafeCell;
use std::ffi::{c_int, c_uint, c_ulong, c_void};

use super::{EVTHREAD_LOCKTYPE_RECURSIVE, EVTHREAD_TRY};
use crate::ffi::thread::{evthread_condition_callbacks, evthread_lock_callbacks};

const EVTHREAD_LOCK_API_VERSION: c_int = 1;
const EVTHREAD_CONDITION_API_VERSION: c_int = 1;

/// Installs the pthread functions; 0, even when the program installed
/// other lock functions first (those stay, with a warning), as libevent.
pub fn install() -> i32 {
    let locks = evthread_lock_callbacks {
        lock_api_version: EVTHREAD_LOCK_API_VERSION,
        supported_locktypes: EVTHREAD_LOCKTYPE_RECURSIVE,
        alloc: Some(mutex_alloc),
        free: Some(mutex_free),
        lock: Some(mutex_lock),
        unlock: Some(mutex_unlock),
    };
    let conds = evthread_condition_callbacks {
        condition_api_version: EVTHREAD_CONDITION_API_VERSION,
        alloc_condition: Some(cond_alloc),
        free_condition: Some(cond_free),
        signal_condition: Some(cond_signal),
        wait_condition: Some(cond_wait),
    };
    super::set_lock_callbacks(Some(locks));
    super::set_condition_callbacks(Some(conds));
    super::set_id_callback(Some(thread_id));
    0
}

/// Heap cells: a pthread object must not move once initialized.
type Mutex = UnsafeCell<libc::pthread_mutex_t>;
type CondVar = UnsafeCell<libc::pthread_cond_t>;

unsafe extern "C" fn mutex_alloc(locktype: c_uint) -> *mut c_void {
    // SAFETY: zeroed storage is what pthread_mutex_init expects to fill.
    let m: Box<Mutex> = Box::new(UnsafeCell::new(unsafe { std::mem::zeroed() }));
    // SAFETY: an attribute object on the stack, initialized before use and
    // destroyed after; the mutex is fresh heap memory that will not move.
    let r = unsafe {
        let mut attr: libc::pthread_mutexattr_t = std::mem::zeroed();
        libc::pthread_mutexattr_init(&mut attr);
        if locktype & EVTHREAD_LOCKTYPE_RECURSIVE != 0 {
            libc::pthread_mutexattr_settype(&mut attr, libc::PTHREAD_MUTEX_RECURSIVE);
        }
        let r = libc::pthread_mutex_init(m.get(), &attr);
        libc::pthread_mutexattr_destroy(&mut attr);
        r
    };
    if r != 0 {
        return std::ptr::null_mut();
    }
    Box::into_raw(m).cast()
}

unsafe extern "C" fn mutex_free(lock: *mut c_void, _locktype: c_uint) {
    let m = lock.cast::<Mutex>();
    // SAFETY: lock came from mutex_alloc and is no longer used.
    unsafe {
        libc::pthread_mutex_destroy((*m).get());
        drop(Box::from_raw(m));
    }
}

unsafe extern "C" fn mutex_lock(mode: c_uint, lock: *mut c_void) -> c_int {
    let m = lock.cast::<Mutex>();
    // SAFETY: lock came from mutex_alloc.
    unsafe {
        if mode & EVTHREAD_TRY != 0 {
            libc::pthread_mutex_trylock((*m).get())
        } else {
            libc::pthread_mutex_lock((*m).get())
        }
    }
}

unsafe extern "C" fn mutex_unlock(_mode: c_uint, lock: *mut c_void) -> c_int {
    let m = lock.cast::<Mutex>();
    // SAFETY: lock came from mutex_alloc and this thread holds it.
    unsafe { libc::pthread_mutex_unlock((*m).get()) }
}

unsafe extern "C" fn cond_alloc(_condtype: c_uint) -> *mut c_void {
    // SAFETY: zeroed storage for pthread_cond_init to fill.
    let c: Box<CondVar> = Box::new(UnsafeCell::new(unsafe { std::mem::zeroed() }));
    // SAFETY: fresh heap memory that will not move, default attributes.
    if unsafe { libc::pthread_cond_init(c.get(), std::ptr::null()) } != 0 {
        return std::ptr::null_mut();
    }
    Box::into_raw(c).cast()
}

unsafe extern "C" fn cond_free(cond: *mut c_void) {
    let c = cond.cast::<CondVar>();
    // SAFETY: cond came from cond_alloc and nobody waits on it.
    unsafe {
        libc::pthread_cond_destroy((*c).get());
        drop(Box::from_raw(c));
    }
}

unsafe extern "C" fn cond_signal(cond: *mut c_void, broadcast: c_int) -> c_int {
    let c = cond.cast::<CondVar>();
    // SAFETY: cond came from cond_alloc.
    let r = unsafe {
        if broadcast != 0 {
            libc::pthread_cond_broadcast((*c).get())
        } else {
            libc::pthread_cond_signal((*c).get())
        }
    };
    if r == 0 { 0 } else { -1 }
}

/// Waits on `cond`; 0 when signalled, 1 when `timeout` (relative) passed,
/// -1 on error, as thread.h specifies.
unsafe extern "C" fn cond_wait(
    cond: *mut c_void,
    lock: *mut c_void,
    timeout: *const libc::timeval,
) -> c_int {
    let c = cond.cast::<CondVar>();
    let m = lock.cast::<Mutex>();
    let r = if timeout.is_null() {
        // SAFETY: both came from our allocators; the caller holds the mutex.
        unsafe { libc::pthread_cond_wait((*c).get(), (*m).get()) }
    } else {
        // SAFETY: a non-NULL timeout points at a readable timeval.
        let tv = unsafe { *timeout };
        let mut now: libc::timespec = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: clock_gettime writes the timespec we own. Condition
        // variables made with default attributes measure CLOCK_REALTIME.
        unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut now) };
        let mut nsec = now.tv_nsec + tv.tv_usec * 1000;
        let mut sec = now.tv_sec + tv.tv_sec;
        if nsec >= 1_000_000_000 {
            nsec -= 1_000_000_000;
            sec += 1;
        }
        let until = libc::timespec {
            tv_sec: sec,
            tv_nsec: nsec,
        };
        // SAFETY: as above, with a deadline we own.
        unsafe { libc::pthread_cond_timedwait((*c).get(), (*m).get(), &until) }
    };
    match r {
        0 => 0,
        libc::ETIMEDOUT => 1,
        _ => -1,
    }
}

unsafe extern "C" fn thread_id() -> c_ulong {
    // SAFETY: pthread_self has no preconditions.
    unsafe { libc::pthread_self() as c_ulong }
}

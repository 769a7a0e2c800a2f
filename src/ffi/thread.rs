//! `event2/thread.h`: the lock, condition and thread-id functions the
//! library uses once a program has set them, and libevent_pthreads'
//! `evthread_use_pthreads`.

use std::ffi::{c_int, c_uint, c_ulong, c_void};

use super::{enter, handle};
use crate::reactor::Base;
use crate::thread;

/// Lock functions a program supplies with evthread_set_lock_callbacks().
#[repr(C)]
#[derive(Clone, Copy)]
pub struct evthread_lock_callbacks {
    /// EVTHREAD_LOCK_API_VERSION
    pub lock_api_version: c_int,
    /// EVTHREAD_LOCKTYPE_ bits
    pub supported_locktypes: c_uint,
    pub alloc: Option<unsafe extern "C" fn(locktype: c_uint) -> *mut c_void>,
    pub free: Option<unsafe extern "C" fn(lock: *mut c_void, locktype: c_uint)>,
    pub lock: Option<unsafe extern "C" fn(mode: c_uint, lock: *mut c_void) -> c_int>,
    pub unlock: Option<unsafe extern "C" fn(mode: c_uint, lock: *mut c_void) -> c_int>,
}

/// Condition variable functions, for evthread_set_condition_callbacks().
#[repr(C)]
#[derive(Clone, Copy)]
pub struct evthread_condition_callbacks {
    /// EVTHREAD_CONDITION_API_VERSION
    pub condition_api_version: c_int,
    pub alloc_condition: Option<unsafe extern "C" fn(condtype: c_uint) -> *mut c_void>,
    pub free_condition: Option<unsafe extern "C" fn(cond: *mut c_void)>,
    pub signal_condition:
        Option<unsafe extern "C" fn(cond: *mut c_void, broadcast: c_int) -> c_int>,
    pub wait_condition: Option<
        unsafe extern "C" fn(
            cond: *mut c_void,
            lock: *mut c_void,
            timeout: *const libc::timeval,
        ) -> c_int,
    >,
}

/// Installs the lock functions that bases, thread-safe bufferevents and
/// locked evbuffers made afterwards use. Call it before making them. Returns 0, or -1 when
/// a function is missing or other functions were installed already; NULL
/// forgets them (which objects made before will not survive).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evthread_set_lock_callbacks(cbs: *const evthread_lock_callbacks) -> c_int {
    enter("evthread_set_lock_callbacks", || {
        // SAFETY: a non-NULL argument points at a readable struct (pointer
        // contract of this module's parent).
        let cbs = (!cbs.is_null()).then(|| unsafe { *cbs });
        Ok(thread::set_lock_callbacks(cbs))
    })
}

/// Installs the condition variable functions; 0, or -1 when other
/// functions were installed already. A struct missing a function is
/// accepted and ignored, as libevent does.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evthread_set_condition_callbacks(
    cbs: *const evthread_condition_callbacks,
) -> c_int {
    enter("evthread_set_condition_callbacks", || {
        // SAFETY: as in evthread_set_lock_callbacks.
        let cbs = (!cbs.is_null()).then(|| unsafe { *cbs });
        Ok(thread::set_condition_callbacks(cbs))
    })
}

/// Installs the function that tells threads apart; without it no loop is
/// woken from another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evthread_set_id_callback(
    id_fn: Option<unsafe extern "C" fn() -> c_ulong>,
) {
    enter("evthread_set_id_callback", || {
        thread::set_id_callback(id_fn);
        Ok(())
    })
}

/// Uses recursive pthread mutexes, pthread condition variables and
/// pthread_self() for the bases and thread-safe objects made afterwards; 0.
#[unsafe(no_mangle)]
pub extern "C" fn evthread_use_pthreads() -> c_int {
    enter("evthread_use_pthreads", || Ok(thread::pthread::install()))
}

/// Checks every lock and unlock of locks made afterwards: unlocking a lock
/// the thread does not hold is fatal.
#[unsafe(no_mangle)]
pub extern "C" fn evthread_enable_lock_debugging() {
    enter("evthread_enable_lock_debugging", || {
        thread::enable_debugging();
        Ok(())
    })
}

/// The old, misspelt name of evthread_enable_lock_debugging().
#[unsafe(no_mangle)]
pub extern "C" fn evthread_enable_lock_debuging() {
    evthread_enable_lock_debugging();
}

/// Lets other threads wake `base`'s loop when they change its events;
/// bases made after the lock functions were installed already can. 0, or
/// -1 for NULL or when the wake-up cannot be made.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evthread_make_base_notifiable(base: *mut Base) -> c_int {
    enter("evthread_make_base_notifiable", || {
        // libevent answers -1 for NULL without a message.
        if base.is_null() {
            return Ok(-1);
        }
        let base = handle("evthread_make_base_notifiable", base.cast_const())?;
        Ok(if base.make_notifiable().is_ok() {
            0
        } else {
            -1
        })
    })
}

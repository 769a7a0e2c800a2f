//! The allocator for memory that C code frees: libc's, or the three functions
//! the program gave `event_set_mem_functions`.
//!
//! The hooks live in atomics because they are process-wide and set once,
//! before any other call, as libevent documents.

// set_functions, realloc and free serve event_set_mem_functions and the other
// modules; until they are wired up, not every item has a caller.
#![allow(dead_code)]

use std::ffi::c_void;
use std::sync::atomic::{AtomicPtr, Ordering};

pub type MallocFn = unsafe extern "C" fn(usize) -> *mut c_void;
pub type ReallocFn = unsafe extern "C" fn(*mut c_void, usize) -> *mut c_void;
pub type FreeFn = unsafe extern "C" fn(*mut c_void);

static MALLOC: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());
static REALLOC: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());
static FREE: AtomicPtr<()> = AtomicPtr::new(std::ptr::null_mut());

/// Installs the program's allocator; `None` for any of them restores libc's
/// for all three, as `event_set_mem_functions(NULL, NULL, NULL)` does.
pub fn set_functions(malloc: Option<MallocFn>, realloc: Option<ReallocFn>, free: Option<FreeFn>) {
    match (malloc, realloc, free) {
        (Some(m), Some(r), Some(f)) => {
            MALLOC.store(m as *mut (), Ordering::Release);
            REALLOC.store(r as *mut (), Ordering::Release);
            FREE.store(f as *mut (), Ordering::Release);
        }
        _ => {
            MALLOC.store(std::ptr::null_mut(), Ordering::Release);
            REALLOC.store(std::ptr::null_mut(), Ordering::Release);
            FREE.store(std::ptr::null_mut(), Ordering::Release);
        }
    }
}

/// Allocates `n` bytes the way the program expects to free them; NULL on
/// failure.
pub fn malloc(n: usize) -> *mut c_void {
    let raw = MALLOC.load(Ordering::Acquire);
    if raw.is_null() {
        // SAFETY: libc's malloc has no precondition.
        return unsafe { libc::malloc(n) };
    }
    // SAFETY: the pointer was stored from a `MallocFn` in set_functions.
    let f = unsafe { std::mem::transmute::<*mut (), MallocFn>(raw) };
    // SAFETY: calling the program's allocator as it documents.
    unsafe { f(n) }
}

/// Resizes memory from [`malloc`].
///
/// # Safety
/// `p` is NULL or came from [`malloc`] or [`realloc`] and was not freed.
pub unsafe fn realloc(p: *mut c_void, n: usize) -> *mut c_void {
    let raw = REALLOC.load(Ordering::Acquire);
    if raw.is_null() {
        // SAFETY: `p` came from libc's allocator (caller's contract).
        return unsafe { libc::realloc(p, n) };
    }
    // SAFETY: the pointer was stored from a `ReallocFn` in set_functions.
    let f = unsafe { std::mem::transmute::<*mut (), ReallocFn>(raw) };
    // SAFETY: `p` came from the program's allocator (caller's contract).
    unsafe { f(p, n) }
}

/// Frees memory from [`malloc`].
///
/// # Safety
/// `p` is NULL or came from [`malloc`] or [`realloc`] and was not freed.
pub unsafe fn free(p: *mut c_void) {
    let raw = FREE.load(Ordering::Acquire);
    if raw.is_null() {
        // SAFETY: `p` came from libc's allocator (caller's contract).
        unsafe { libc::free(p) };
        return;
    }
    // SAFETY: the pointer was stored from a `FreeFn` in set_functions.
    let f = unsafe { std::mem::transmute::<*mut (), FreeFn>(raw) };
    // SAFETY: `p` came from the program's allocator (caller's contract).
    unsafe { f(p) }
}

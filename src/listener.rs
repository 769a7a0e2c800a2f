//! evconnlistener: accepts connections on a listening socket from the loop
//! and hands each new fd to the program's callback.

use std::cell::{Cell, UnsafeCell};
use std::ffi::{c_int, c_short, c_void};
use std::sync::Arc;

use crate::ffi::event_struct::event;
use crate::reactor::event_mem::EvPtr;
use crate::reactor::{Base, EV_PERSIST, EV_READ};
use crate::thread::{Hold, Lock};
use crate::{log, sys};

pub const LEV_OPT_LEAVE_SOCKETS_BLOCKING: u32 = 1 << 0;
pub const LEV_OPT_CLOSE_ON_FREE: u32 = 1 << 1;
pub const LEV_OPT_CLOSE_ON_EXEC: u32 = 1 << 2;
pub const LEV_OPT_REUSEABLE: u32 = 1 << 3;
pub const LEV_OPT_THREADSAFE: u32 = 1 << 4;
pub const LEV_OPT_DISABLED: u32 = 1 << 5;
pub const LEV_OPT_DEFERRED_ACCEPT: u32 = 1 << 6;
pub const LEV_OPT_REUSEABLE_PORT: u32 = 1 << 7;
pub const LEV_OPT_BIND_IPV6ONLY: u32 = 1 << 8;

/// The program's accept callback.
pub type evconnlistener_cb = Option<
    unsafe extern "C" fn(
        listener: *mut Listener,
        fd: c_int,
        addr: *mut libc::sockaddr,
        socklen: c_int,
        ctx: *mut c_void,
    ),
>;

/// The program's error callback.
pub type evconnlistener_errorcb =
    Option<unsafe extern "C" fn(listener: *mut Listener, ctx: *mut c_void)>;

/// A listener.
pub struct Listener {
    ev: UnsafeCell<event>,
    base: *mut Base,
    fd: c_int,
    flags: u32,
    cb: Cell<evconnlistener_cb>,
    errorcb: Cell<evconnlistener_errorcb>,
    user_data: Cell<*mut c_void>,
    enabled: Cell<bool>,
    refcnt: Cell<usize>,
    /// LEV_OPT_THREADSAFE's recursive lock, released around the program's
    /// callbacks as libevent does.
    lock: Option<Arc<Lock>>,
}

impl Listener {
    /// `evconnlistener_new`: listens on `fd` (unless backlog is 0) and
    /// starts accepting unless LEV_OPT_DISABLED.
    pub fn new(
        base: *mut Base,
        cb: evconnlistener_cb,
        ptr: *mut c_void,
        flags: u32,
        backlog: c_int,
        fd: c_int,
    ) -> Option<*mut Listener> {
        let listening = match backlog {
            0 => Ok(()),
            b if b > 0 => sys::listen(fd, b),
            _ => sys::listen(fd, 128),
        };
        if let Err(e) = listening {
            log::warn(&format!("evconnlistener_new: listen: {e}"));
            return None;
        }
        let lev = Box::into_raw(Box::new(Listener {
            // SAFETY: all-zero is a valid unassigned event; assigned below.
            ev: UnsafeCell::new(unsafe { std::mem::zeroed() }),
            base,
            fd,
            flags,
            cb: Cell::new(cb),
            errorcb: Cell::new(None),
            user_data: Cell::new(ptr),
            enabled: Cell::new(false),
            refcnt: Cell::new(1),
            // Without lock functions installed the flag is ignored, as in
            // libevent.
            lock: if flags & LEV_OPT_THREADSAFE != 0 {
                Lock::new()
            } else {
                None
            },
        }));
        // SAFETY: lev is the allocation just made.
        let me = unsafe { &*lev };
        // SAFETY: the base was checked by the entry point and outlives us.
        let pri = unsafe { (*base).default_priority() };
        me.event().assign(
            base,
            fd,
            EV_READ | EV_PERSIST,
            Some(on_accept),
            lev.cast(),
            pri,
        );
        if flags & LEV_OPT_DISABLED == 0 {
            me.enable();
        }
        Some(lev)
    }

    fn event(&self) -> EvPtr {
        EvPtr::new(self.ev.get()).expect("field of a live struct")
    }

    fn base(&self) -> &Base {
        // SAFETY: listeners are freed before their base (libevent's contract).
        unsafe { &*self.base }
    }

    pub fn base_ptr(&self) -> *mut Base {
        self.base
    }

    pub fn fd(&self) -> c_int {
        self.fd
    }

    /// Takes the listener's lock (if any); the guard keeps the lock alive
    /// should the listener be freed meanwhile.
    fn hold(&self) -> Hold {
        Hold::new(self.lock.clone())
    }

    /// Runs the program's callback `f` with the listener unlocked.
    fn unlocked(&self, f: impl FnOnce()) {
        crate::thread::released(self.lock.as_deref(), f)
    }

    /// Starts accepting; only waits on the socket while a callback is set.
    pub fn enable(&self) -> c_int {
        let _held = self.hold();
        self.enabled.set(true);
        if self.cb.get().is_some() && self.base().add(self.event(), None, false).is_err() {
            return -1;
        }
        0
    }

    pub fn disable(&self) -> c_int {
        let _held = self.hold();
        self.enabled.set(false);
        self.base().del(self.event());
        0
    }

    pub fn set_cb(&self, cb: evconnlistener_cb, ptr: *mut c_void) {
        let _held = self.hold();
        let had = self.cb.get().is_some();
        self.cb.set(cb);
        self.user_data.set(ptr);
        if self.enabled.get() && !had && cb.is_some() {
            self.enable();
        }
    }

    pub fn set_error_cb(&self, cb: evconnlistener_errorcb) {
        let _held = self.hold();
        self.errorcb.set(cb);
    }

    /// `evconnlistener_free`: stops at once and closes the socket if
    /// LEV_OPT_CLOSE_ON_FREE; the memory goes when no callback uses it.
    ///
    /// # Safety
    /// `lev` is a live listener, not used by the program afterwards.
    pub unsafe fn free(lev: *mut Listener) {
        // SAFETY: caller's promise.
        let me = unsafe { &*lev };
        let _held = me.hold();
        me.base().del(me.event());
        if me.flags & LEV_OPT_CLOSE_ON_FREE != 0 {
            sys::close(me.fd);
        }
        me.cb.set(None);
        // SAFETY: caller's promise, passed on.
        unsafe { Listener::decref(lev) };
    }

    /// # Safety
    /// `lev` is live and the caller holds one of its references.
    unsafe fn decref(lev: *mut Listener) {
        // SAFETY: caller's promise.
        let me = unsafe { &*lev };
        let n = me.refcnt.get() - 1;
        me.refcnt.set(n);
        if n == 0 {
            // SAFETY: the last reference is gone; lev came from Box::into_raw.
            drop(unsafe { Box::from_raw(lev) });
        }
    }

    /// Accepts every queued connection, stopping when none is left, on an
    /// error, or when the callback disables or frees the listener.
    fn accept_all(lev: *mut Listener) {
        // SAFETY: the event fired, so the listener is live; we hold a
        // reference for the duration.
        let me = unsafe { &*lev };
        let mut sock_flags = 0;
        if me.flags & LEV_OPT_LEAVE_SOCKETS_BLOCKING == 0 {
            sock_flags |= libc::SOCK_NONBLOCK;
        }
        if me.flags & LEV_OPT_CLOSE_ON_EXEC != 0 {
            sock_flags |= libc::SOCK_CLOEXEC;
        }
        loop {
            // SAFETY: all-zero is a valid sockaddr_storage.
            let mut addr: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
            match sys::accept(me.fd, &mut addr, sock_flags) {
                // Some kernels answer a port scan with an empty address;
                // libevent drops such a connection and goes on.
                Ok((fd, 0)) => {
                    sys::close(fd);
                }
                Ok((fd, len)) => {
                    let Some(cb) = me.cb.get() else {
                        sys::close(fd);
                        return;
                    };
                    let arg = me.user_data.get();
                    let sa = (&raw mut addr).cast::<libc::sockaddr>();
                    // SAFETY: calling the program's callback with the new fd.
                    me.unlocked(|| unsafe { cb(lev, fd, sa, len as c_int, arg) });
                    if me.refcnt.get() == 1 || !me.enabled.get() || me.cb.get().is_none() {
                        return;
                    }
                }
                Err(e) => {
                    let code = e.raw_os_error().unwrap_or(0);
                    if matches!(code, libc::EAGAIN | libc::EINTR | libc::ECONNABORTED) {
                        return;
                    }
                    match me.errorcb.get() {
                        Some(errorcb) => {
                            sys::set_errno(code);
                            let arg = me.user_data.get();
                            // SAFETY: calling the program's error callback.
                            me.unlocked(|| unsafe { errorcb(lev, arg) });
                        }
                        None => log::warn(&format!("Error from accept() call: {e}")),
                    }
                    return;
                }
            }
        }
    }
}

unsafe extern "C" fn on_accept(_fd: c_int, _what: c_short, arg: *mut c_void) {
    let lev = arg.cast::<Listener>();
    // SAFETY: arg is the listener whose event fired; it is live.
    let _held = unsafe { (*lev).hold() };
    // SAFETY: as above.
    unsafe { (*lev).refcnt.set((*lev).refcnt.get() + 1) };
    Listener::accept_all(lev);
    // SAFETY: we took a reference above.
    unsafe { Listener::decref(lev) };
}

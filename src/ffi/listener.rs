//! `event2/listener.h`: accepting connections.

use std::ffi::{c_int, c_uint, c_void};

use super::{EntryResult, enter, handle};
use crate::listener::{
    LEV_OPT_BIND_IPV6ONLY, LEV_OPT_CLOSE_ON_EXEC, LEV_OPT_DEFERRED_ACCEPT, LEV_OPT_REUSEABLE,
    LEV_OPT_REUSEABLE_PORT, Listener, evconnlistener_cb, evconnlistener_errorcb,
};
use crate::reactor::Base;
use crate::sys;

fn listener_arg<'a>(name: &str, lev: *mut Listener) -> EntryResult<&'a Listener> {
    handle(name, lev.cast_const())
}

/// Wraps a socket (listening already when backlog is 0) in a listener.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evconnlistener_new(
    base: *mut Base,
    cb: evconnlistener_cb,
    ptr: *mut c_void,
    flags: c_uint,
    backlog: c_int,
    fd: c_int,
) -> *mut Listener {
    enter("evconnlistener_new", || {
        handle("evconnlistener_new", base.cast_const())?;
        Ok(Listener::new(base, cb, ptr, flags, backlog, fd).unwrap_or(std::ptr::null_mut()))
    })
}

/// Makes a socket, binds it to `sa` and listens on it; NULL on failure
/// (and for a backlog of 0).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evconnlistener_new_bind(
    base: *mut Base,
    cb: evconnlistener_cb,
    ptr: *mut c_void,
    flags: c_uint,
    backlog: c_int,
    sa: *const libc::sockaddr,
    socklen: c_int,
) -> *mut Listener {
    enter("evconnlistener_new_bind", || {
        handle("evconnlistener_new_bind", base.cast_const())?;
        if backlog == 0 {
            return Ok(std::ptr::null_mut());
        }
        let family = if sa.is_null() {
            libc::AF_UNSPEC
        } else {
            // SAFETY: a non-NULL address points at a sockaddr (pointer contract).
            c_int::from(unsafe { (*sa).sa_family })
        };
        let mut kind = libc::SOCK_STREAM | libc::SOCK_NONBLOCK;
        if flags & LEV_OPT_CLOSE_ON_EXEC != 0 {
            kind |= libc::SOCK_CLOEXEC;
        }
        // SAFETY: socket takes plain integers.
        let fd = unsafe { libc::socket(family, kind, 0) };
        if fd < 0 {
            return Ok(std::ptr::null_mut());
        }
        let configure = || -> std::io::Result<()> {
            sys::setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_KEEPALIVE, 1)?;
            if flags & LEV_OPT_REUSEABLE != 0 {
                sys::setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1)?;
            }
            if flags & LEV_OPT_REUSEABLE_PORT != 0 {
                sys::setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1)?;
            }
            if flags & LEV_OPT_DEFERRED_ACCEPT != 0 {
                sys::setsockopt_int(fd, libc::IPPROTO_TCP, libc::TCP_DEFER_ACCEPT, 1)?;
            }
            if flags & LEV_OPT_BIND_IPV6ONLY != 0 {
                sys::setsockopt_int(fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 1)?;
            }
            if !sa.is_null() {
                // SAFETY: sa points at socklen readable bytes (pointer contract).
                if unsafe { libc::bind(fd, sa, socklen as libc::socklen_t) } < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        };
        if configure().is_err() {
            sys::close(fd);
            return Ok(std::ptr::null_mut());
        }
        match Listener::new(base, cb, ptr, flags, backlog, fd) {
            Some(lev) => Ok(lev),
            None => {
                sys::close(fd);
                Ok(std::ptr::null_mut())
            }
        }
    })
}

/// Stops accepting and frees the listener; closes its socket with
/// LEV_OPT_CLOSE_ON_FREE.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evconnlistener_free(lev: *mut Listener) {
    enter("evconnlistener_free", || {
        listener_arg("evconnlistener_free", lev)?;
        // SAFETY: lev is a live listener the program gives up.
        unsafe { Listener::free(lev) };
        Ok(())
    })
}

/// Resumes accepting.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evconnlistener_enable(lev: *mut Listener) -> c_int {
    enter("evconnlistener_enable", || {
        Ok(listener_arg("evconnlistener_enable", lev)?.enable())
    })
}

/// Stops accepting; connections wait in the backlog.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evconnlistener_disable(lev: *mut Listener) -> c_int {
    enter("evconnlistener_disable", || {
        Ok(listener_arg("evconnlistener_disable", lev)?.disable())
    })
}

/// The base of a listener.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evconnlistener_get_base(lev: *mut Listener) -> *mut Base {
    enter("evconnlistener_get_base", || {
        Ok(listener_arg("evconnlistener_get_base", lev)?.base_ptr())
    })
}

/// The listening socket.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evconnlistener_get_fd(lev: *mut Listener) -> c_int {
    enter("evconnlistener_get_fd", || {
        Ok(listener_arg("evconnlistener_get_fd", lev)?.fd())
    })
}

/// Changes the accept callback and its argument.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evconnlistener_set_cb(
    lev: *mut Listener,
    cb: evconnlistener_cb,
    arg: *mut c_void,
) {
    enter("evconnlistener_set_cb", || {
        listener_arg("evconnlistener_set_cb", lev)?.set_cb(cb, arg);
        Ok(())
    })
}

/// Sets the callback that runs when accept fails for a reason other than
/// "try again".
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evconnlistener_set_error_cb(
    lev: *mut Listener,
    errorcb: evconnlistener_errorcb,
) {
    enter("evconnlistener_set_error_cb", || {
        listener_arg("evconnlistener_set_error_cb", lev)?.set_error_cb(errorcb);
        Ok(())
    })
}

//! `event2/util.h`: sockets and portable helpers.

use std::ffi::c_int;

use super::{enter, refuse};
use crate::sys;

/// Makes an fd nonblocking; 0 on success, -1 on failure.
#[unsafe(no_mangle)]
pub extern "C" fn evutil_make_socket_nonblocking(fd: c_int) -> c_int {
    enter(
        "evutil_make_socket_nonblocking",
        || match sys::set_nonblocking(fd) {
            Ok(()) => Ok(0),
            Err(e) => refuse(
                "evutil_make_socket_nonblocking",
                &format!("fcntl({fd}): {e}"),
            ),
        },
    )
}

/// Sets close-on-exec on an fd.
#[unsafe(no_mangle)]
pub extern "C" fn evutil_make_socket_closeonexec(fd: c_int) -> c_int {
    enter(
        "evutil_make_socket_closeonexec",
        || match sys::set_cloexec(fd) {
            Ok(()) => Ok(0),
            Err(e) => refuse(
                "evutil_make_socket_closeonexec",
                &format!("fcntl({fd}): {e}"),
            ),
        },
    )
}

/// Lets a listening socket's address be reused at once after it closes.
#[unsafe(no_mangle)]
pub extern "C" fn evutil_make_listen_socket_reuseable(fd: c_int) -> c_int {
    enter("evutil_make_listen_socket_reuseable", || {
        Ok(
            match sys::setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, 1) {
                Ok(()) => 0,
                Err(_) => -1,
            },
        )
    })
}

/// Lets several sockets listen on one port.
#[unsafe(no_mangle)]
pub extern "C" fn evutil_make_listen_socket_reuseable_port(fd: c_int) -> c_int {
    enter("evutil_make_listen_socket_reuseable_port", || {
        Ok(
            match sys::setsockopt_int(fd, libc::SOL_SOCKET, libc::SO_REUSEPORT, 1) {
                Ok(()) => 0,
                Err(_) => -1,
            },
        )
    })
}

/// Closes a socket.
#[unsafe(no_mangle)]
pub extern "C" fn evutil_closesocket(fd: c_int) -> c_int {
    enter("evutil_closesocket", || Ok(sys::close(fd)))
}

/// A connected pair of sockets, as socketpair(2).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evutil_socketpair(
    family: c_int,
    kind: c_int,
    protocol: c_int,
    fds: *mut c_int,
) -> c_int {
    enter("evutil_socketpair", || {
        if fds.is_null() {
            return refuse("evutil_socketpair", "called with a NULL array");
        }
        match sys::socketpair(family, kind, protocol) {
            Ok(pair) => {
                // SAFETY: the caller passes an array of two ints.
                unsafe { std::ptr::copy_nonoverlapping(pair.as_ptr(), fds, 2) };
                Ok(0)
            }
            Err(_) => Ok(-1),
        }
    })
}

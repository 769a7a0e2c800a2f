//! `event2/util.h`: sockets and portable helpers.

use std::ffi::{CStr, c_char, c_int, c_uint, c_void};

use super::{EntryResult, bytes_mut, enter, handle, refuse, write_out};
use crate::sys;
use crate::util::addr::{self, Pton};
use crate::util::time::MonotonicTimer;
use crate::util::{resolve, rng, text, time};

/// Views a C string argument, refusing NULL.
fn c_str<'a>(name: &str, s: *const c_char) -> EntryResult<&'a CStr> {
    if s.is_null() {
        return refuse(name, "called with a NULL string");
    }
    // SAFETY: a non-NULL string argument is NUL-terminated (pointer contract).
    Ok(unsafe { CStr::from_ptr(s) })
}

/// Views an optional C string argument.
fn opt_c_str<'a>(s: *const c_char) -> Option<&'a CStr> {
    // SAFETY: a non-NULL string argument is NUL-terminated (pointer contract).
    (!s.is_null()).then(|| unsafe { CStr::from_ptr(s) })
}

/// The bytes of a C string before its NUL, reading no more than `n`.
fn c_prefix<'a>(s: *const c_char, n: usize) -> &'a [u8] {
    // SAFETY: `s` is non-NULL and readable up to its NUL or `n` bytes,
    // whichever comes first (the contract of the strncasecmp family).
    unsafe {
        let len = libc::strnlen(s, n);
        std::slice::from_raw_parts(s.cast::<u8>(), len)
    }
}

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

/// Sets a listening IPv6 socket to accept IPv6 connections only (no
/// IPv4-mapped ones): 0 on success, -1 on failure.
#[unsafe(no_mangle)]
pub extern "C" fn evutil_make_listen_socket_ipv6only(sock: c_int) -> c_int {
    enter("evutil_make_listen_socket_ipv6only", || {
        Ok(
            match sys::setsockopt_int(sock, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, 1) {
                Ok(()) => 0,
                Err(_) => -1,
            },
        )
    })
}

/// Asks the kernel to wake a listening TCP socket's accept() only once a
/// new connection has data to read (TCP_DEFER_ACCEPT): 0 on success, -1 on
/// failure.
#[unsafe(no_mangle)]
pub extern "C" fn evutil_make_tcp_listen_socket_deferred(sock: c_int) -> c_int {
    enter("evutil_make_tcp_listen_socket_deferred", || {
        Ok(
            match sys::setsockopt_int(sock, libc::IPPROTO_TCP, libc::TCP_DEFER_ACCEPT, 1) {
                Ok(()) => 0,
                Err(_) => -1,
            },
        )
    })
}

/// Parses a decimal, octal or hexadecimal 64-bit integer as strtoll() does,
/// storing in `*endptr` (when not NULL) where the number ended.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evutil_strtoll(
    s: *const c_char,
    endptr: *mut *mut c_char,
    base: c_int,
) -> i64 {
    enter("evutil_strtoll", || {
        c_str("evutil_strtoll", s)?;
        // SAFETY: `s` is a C string and `endptr` NULL or writable.
        Ok(unsafe { text::strtoll(s, endptr, base) })
    })
}

/// Compares two strings ignoring the case of ASCII letters only, whatever
/// the locale: negative, 0 or positive as strcmp().
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evutil_ascii_strcasecmp(s1: *const c_char, s2: *const c_char) -> c_int {
    enter("evutil_ascii_strcasecmp", || {
        let a = c_str("evutil_ascii_strcasecmp", s1)?;
        let b = c_str("evutil_ascii_strcasecmp", s2)?;
        Ok(text::ascii_strncasecmp(
            a.to_bytes(),
            b.to_bytes(),
            usize::MAX,
        ))
    })
}

/// Compares at most @p n characters of two strings ignoring the case of
/// ASCII letters only.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evutil_ascii_strncasecmp(
    s1: *const c_char,
    s2: *const c_char,
    n: usize,
) -> c_int {
    enter("evutil_ascii_strncasecmp", || {
        if n == 0 {
            return Ok(0);
        }
        if s1.is_null() || s2.is_null() {
            return refuse("evutil_ascii_strncasecmp", "called with a NULL string");
        }
        Ok(text::ascii_strncasecmp(c_prefix(s1, n), c_prefix(s2, n), n))
    })
}

/// Writes an RFC 1123 date ("Sun, 06 Nov 1994 08:49:37 GMT") for @p tm, or
/// for the current time when @p tm is NULL, into @p date as snprintf()
/// does.
/// @return the length of the whole date, or 0 when @p datelen is 0
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evutil_date_rfc1123(
    date: *mut c_char,
    datelen: usize,
    tm: *const libc::tm,
) -> c_int {
    enter("evutil_date_rfc1123", || {
        let out = bytes_mut("evutil_date_rfc1123", date.cast(), datelen)?;
        // SAFETY: a non-NULL tm points at a readable struct tm.
        let tm = (!tm.is_null()).then(|| unsafe { &*tm });
        match time::date_rfc1123(out, tm) {
            Some(n) => Ok(n),
            None => refuse("evutil_date_rfc1123", "weekday or month out of range"),
        }
    })
}

/// Allocates a monotonic timer; configure it before use.
/// @return the timer, or NULL when memory runs out
#[unsafe(no_mangle)]
pub extern "C" fn evutil_monotonic_timer_new() -> *mut MonotonicTimer {
    enter("evutil_monotonic_timer_new", || {
        Ok(MonotonicTimer::allocate())
    })
}

/// Frees a timer from evutil_monotonic_timer_new(); NULL is ignored.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evutil_monotonic_timer_free(timer: *mut MonotonicTimer) {
    enter("evutil_monotonic_timer_free", || {
        if !timer.is_null() {
            // SAFETY: a non-NULL timer came from evutil_monotonic_timer_new
            // and is freed once (pointer contract).
            unsafe { MonotonicTimer::free(timer) };
        }
        Ok(())
    })
}

/// Chooses a timer's clock: EV_MONOT_PRECISE for a finer one,
/// EV_MONOT_FALLBACK for the time of day kept from going backwards.
/// @return 0
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evutil_configure_monotonic_time(
    timer: *mut MonotonicTimer,
    flags: c_int,
) -> c_int {
    enter("evutil_configure_monotonic_time", || {
        if timer.is_null() {
            return refuse(
                "evutil_configure_monotonic_time",
                "called with a NULL timer",
            );
        }
        // SAFETY: a live timer of ours, used by one thread (pointer contract).
        Ok(unsafe { &mut *timer }.configure(flags))
    })
}

/// Reads a timer's clock into @p tp.
/// @return 0 on success, -1 on failure
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evutil_gettime_monotonic(
    timer: *mut MonotonicTimer,
    tp: *mut libc::timeval,
) -> c_int {
    enter("evutil_gettime_monotonic", || {
        if timer.is_null() || tp.is_null() {
            return super::refuse_null("evutil_gettime_monotonic");
        }
        // SAFETY: a live timer of ours, used by one thread (pointer contract).
        match unsafe { &mut *timer }.now() {
            Some(now) => {
                write_out(tp, now);
                Ok(0)
            }
            None => Ok(-1),
        }
    })
}

/// Resolves @p nodename and @p servname as getaddrinfo() does (blocking),
/// with the EVUTIL_AI_* flags of @p hints_in (NULL: any family).
/// @return 0 and the list in @p *res, or an EVUTIL_EAI_* error
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evutil_getaddrinfo(
    nodename: *const c_char,
    servname: *const c_char,
    hints_in: *const libc::addrinfo,
    res: *mut *mut libc::addrinfo,
) -> c_int {
    enter("evutil_getaddrinfo", || {
        if res.is_null() {
            log_refusal("evutil_getaddrinfo", "called with a NULL result pointer");
            return Ok(libc::EAI_FAIL);
        }
        // SAFETY: non-NULL hints point at a readable addrinfo.
        let hints = (!hints_in.is_null()).then(|| unsafe { &*hints_in });
        let (err, list) = resolve::getaddrinfo(opt_c_str(nodename), opt_c_str(servname), hints);
        write_out(res, list);
        Ok(err)
    })
}

fn log_refusal(name: &str, why: &str) {
    let _ = refuse::<()>(name, why);
}

/// Frees a list from evutil_getaddrinfo() or evdns_getaddrinfo().
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evutil_freeaddrinfo(ai: *mut libc::addrinfo) {
    enter("evutil_freeaddrinfo", || {
        if ai.is_null() {
            return refuse("evutil_freeaddrinfo", "called with a NULL list");
        }
        // SAFETY: a list from our resolvers, freed once (pointer contract).
        unsafe { resolve::freeaddrinfo(ai) };
        Ok(())
    })
}

/// The text of an EVUTIL_EAI_* error.
#[unsafe(no_mangle)]
pub extern "C" fn evutil_gai_strerror(err: c_int) -> *const c_char {
    enter("evutil_gai_strerror", || Ok(resolve::gai_strerror(err)))
}

/// Formats an AF_INET or AF_INET6 address (a struct in_addr or in6_addr at
/// @p src) as text into @p dst.
/// @return @p dst, or NULL for another family or a too small buffer
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evutil_inet_ntop(
    af: c_int,
    src: *const c_void,
    dst: *mut c_char,
    len: usize,
) -> *const c_char {
    enter("evutil_inet_ntop", || {
        let size = match af {
            libc::AF_INET => 4,
            libc::AF_INET6 => 16,
            _ => return Ok(std::ptr::null()),
        };
        let src = super::bytes("evutil_inet_ntop", src, size)?;
        let out = bytes_mut("evutil_inet_ntop", dst.cast(), len)?;
        Ok(if addr::ntop(af, src, out) {
            dst.cast_const()
        } else {
            std::ptr::null()
        })
    })
}

/// Stores the address written in @p src (AF_INET or AF_INET6) into @p dst,
/// a struct in_addr or in6_addr.
/// @return 1 on success, 0 for text that is no such address, -1 for
/// another family
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evutil_inet_pton(
    af: c_int,
    src: *const c_char,
    dst: *mut c_void,
) -> c_int {
    enter("evutil_inet_pton", || {
        let text = c_str("evutil_inet_pton", src)?;
        store_pton("evutil_inet_pton", addr::pton(af, text.to_bytes()), dst)
    })
}

/// As evutil_inet_pton(), also accepting an IPv6 zone ("fe80::1%eth0" or
/// "fe80::1%2") whose interface index goes to @p *indexp (0 without one).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evutil_inet_pton_scope(
    af: c_int,
    src: *const c_char,
    dst: *mut c_void,
    indexp: *mut c_uint,
) -> c_int {
    enter("evutil_inet_pton_scope", || {
        if indexp.is_null() {
            return refuse("evutil_inet_pton_scope", "called with a NULL index pointer");
        }
        write_out(indexp, 0);
        let text = c_str("evutil_inet_pton_scope", src)?;
        let (parsed, index) = addr::pton_scope(af, text);
        write_out(indexp, index);
        store_pton("evutil_inet_pton_scope", parsed, dst)
    })
}

fn store_pton(name: &str, parsed: Pton, dst: *mut c_void) -> EntryResult<c_int> {
    match parsed {
        Pton::Parsed(bytes) => {
            let out = bytes_mut(name, dst, bytes.len())?;
            out.copy_from_slice(&bytes);
            Ok(1)
        }
        Pton::Invalid => Ok(0),
        Pton::BadFamily => Ok(-1),
    }
}

/// Parses "1.2.3.4", "1.2.3.4:80", "::1", "[::1]" or "[::1]:80" (a zone
/// allowed after an IPv6 address) into @p out, whose size is @p *outlen on
/// entry and the size of the address written on success.
/// @return 0 on success, -1 on failure
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evutil_parse_sockaddr_port(
    ip_as_string: *const c_char,
    out: *mut libc::sockaddr,
    outlen: *mut c_int,
) -> c_int {
    enter("evutil_parse_sockaddr_port", || {
        let text = c_str("evutil_parse_sockaddr_port", ip_as_string)?;
        let room = handle("evutil_parse_sockaddr_port", outlen.cast_const())?;
        let out = bytes_mut(
            "evutil_parse_sockaddr_port",
            out.cast(),
            usize::try_from(*room).unwrap_or(0),
        )?;
        match addr::parse_sockaddr_port(text, out) {
            Some(len) => {
                write_out(outlen, len as c_int);
                Ok(0)
            }
            None => Ok(-1),
        }
    })
}

/// Orders two socket addresses: by family, then address, then (when
/// @p include_port is nonzero) port. 0 means equal; addresses of a family
/// other than AF_INET and AF_INET6 never are.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evutil_sockaddr_cmp(
    sa1: *const libc::sockaddr,
    sa2: *const libc::sockaddr,
    include_port: c_int,
) -> c_int {
    enter("evutil_sockaddr_cmp", || {
        if sa1.is_null() || sa2.is_null() {
            return refuse("evutil_sockaddr_cmp", "called with a NULL address");
        }
        // Only the family is read before the size of the rest is known: the
        // caller's object may be shorter than a whole struct sockaddr.
        let len = |sa: *const libc::sockaddr| {
            // SAFETY: a non-NULL address starts with its family field.
            let family = unsafe { std::ptr::addr_of!((*sa).sa_family).read_unaligned() };
            addr::sockaddr_cmp_len(c_int::from(family))
        };
        let a = super::bytes("evutil_sockaddr_cmp", sa1.cast(), len(sa1))?;
        let b = super::bytes("evutil_sockaddr_cmp", sa2.cast(), len(sa2))?;
        Ok(addr::sockaddr_cmp(a, b, include_port != 0))
    })
}

/// Prepares the secure random source. @return 0 on success
#[unsafe(no_mangle)]
pub extern "C" fn evutil_secure_rng_init() -> c_int {
    enter("evutil_secure_rng_init", || Ok(rng::init()))
}

/// Names a device to seed the random source from; this library draws from
/// the kernel directly, so the request is refused.
/// @return -1
#[unsafe(no_mangle)]
pub extern "C" fn evutil_secure_rng_set_urandom_device_file(fname: *mut c_char) -> c_int {
    let _ = fname;
    enter("evutil_secure_rng_set_urandom_device_file", || {
        Ok(rng::set_urandom_device_file())
    })
}

/// Fills @p buf with @p n cryptographically strong random bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evutil_secure_rng_get_bytes(buf: *mut c_void, n: usize) {
    enter("evutil_secure_rng_get_bytes", || {
        rng::fill(bytes_mut("evutil_secure_rng_get_bytes", buf, n)?);
        Ok(())
    })
}

/// Offers extra seed bytes; the kernel's source needs none, so they are
/// ignored, as in the reference built over arc4random.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evutil_secure_rng_add_bytes(buf: *const c_char, n: usize) {
    let _ = (buf, n);
    enter("evutil_secure_rng_add_bytes", || Ok(()))
}

//! Thin wrappers over the system calls the library makes, so the rest of
//! the core sees `io::Result`s instead of -1 and errno.

use std::io;
use std::os::fd::RawFd;

fn check(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

pub fn errno() -> i32 {
    io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

pub fn set_errno(err: i32) {
    // SAFETY: __errno_location returns this thread's errno slot.
    unsafe { *libc::__errno_location() = err };
}

/// Whether a failed read or write should simply be retried later.
pub fn is_retriable(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::EAGAIN) | Some(libc::EINTR))
}

pub fn close(fd: RawFd) -> i32 {
    // SAFETY: closing an fd number the caller owns.
    unsafe { libc::close(fd) }
}

/// A nonblocking stream socket of `family`.
pub fn socket_nonblocking(family: libc::c_int) -> io::Result<RawFd> {
    // SAFETY: socket takes plain integers.
    check(unsafe { libc::socket(family, libc::SOCK_STREAM | libc::SOCK_NONBLOCK, 0) })
}

/// How a nonblocking connect started.
pub enum Connect {
    InProgress,
    Done,
    Refused,
}

pub fn connect(fd: RawFd, sa: &libc::sockaddr, len: libc::socklen_t) -> io::Result<Connect> {
    // SAFETY: sa points at `len` readable bytes of address (caller's contract).
    let r = unsafe { libc::connect(fd, sa, len) };
    if r == 0 {
        return Ok(Connect::Done);
    }
    let e = io::Error::last_os_error();
    match e.raw_os_error() {
        Some(libc::EINPROGRESS) | Some(libc::EINTR) => Ok(Connect::InProgress),
        Some(libc::ECONNREFUSED) => Ok(Connect::Refused),
        _ => Err(e),
    }
}

/// 1 when a nonblocking connect completed, 0 while it is in progress,
/// -1 when it failed (errno then holds why).
pub fn finished_connecting(fd: RawFd) -> i32 {
    let mut err: libc::c_int = 0;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: getsockopt writes one int into storage we own.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ERROR,
            (&raw mut err).cast(),
            &mut len,
        )
    };
    if r < 0 {
        return -1;
    }
    match err {
        0 => 1,
        libc::EINTR | libc::EINPROGRESS => 0,
        e => {
            set_errno(e);
            -1
        }
    }
}

pub fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on an fd number with integer arguments.
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFL) })?;
    if flags & libc::O_NONBLOCK == 0 {
        // SAFETY: as above.
        check(unsafe { libc::fcntl(fd, libc::F_SETFL, flags | libc::O_NONBLOCK) })?;
    }
    Ok(())
}

pub fn set_cloexec(fd: RawFd) -> io::Result<()> {
    // SAFETY: fcntl on an fd number with integer arguments.
    let flags = check(unsafe { libc::fcntl(fd, libc::F_GETFD) })?;
    if flags & libc::FD_CLOEXEC == 0 {
        // SAFETY: as above.
        check(unsafe { libc::fcntl(fd, libc::F_SETFD, flags | libc::FD_CLOEXEC) })?;
    }
    Ok(())
}

pub fn setsockopt_int(fd: RawFd, level: i32, name: i32, value: i32) -> io::Result<()> {
    // SAFETY: setsockopt reads one int we own.
    check(unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (&raw const value).cast(),
            std::mem::size_of::<i32>() as libc::socklen_t,
        )
    })
    .map(drop)
}

pub fn listen(fd: RawFd, backlog: i32) -> io::Result<()> {
    // SAFETY: listen takes plain integers.
    check(unsafe { libc::listen(fd, backlog) }).map(drop)
}

/// Accepts one connection, with the given SOCK_* flags.
pub fn accept(
    fd: RawFd,
    addr: &mut libc::sockaddr_storage,
    flags: i32,
) -> io::Result<(RawFd, libc::socklen_t)> {
    let mut len = std::mem::size_of::<libc::sockaddr_storage>() as libc::socklen_t;
    // SAFETY: accept4 writes at most `len` bytes into the storage we own.
    let r = unsafe {
        libc::accept4(
            fd,
            (addr as *mut libc::sockaddr_storage).cast(),
            &mut len,
            flags,
        )
    };
    check(r).map(|fd| (fd, len))
}

/// A connected pair of sockets.
pub fn socketpair(family: i32, kind: i32, protocol: i32) -> io::Result<[RawFd; 2]> {
    let mut fds = [-1; 2];
    // SAFETY: socketpair writes two ints into our array.
    check(unsafe { libc::socketpair(family, kind, protocol, fds.as_mut_ptr()) })?;
    Ok(fds)
}

/// The C library's resolver: `(error code, list)`, the list NULL on error.
pub fn getaddrinfo(
    node: Option<&std::ffi::CStr>,
    service: Option<&std::ffi::CStr>,
    hints: &libc::addrinfo,
) -> (i32, *mut libc::addrinfo) {
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    let node = node.map_or(std::ptr::null(), |s| s.as_ptr());
    let service = service.map_or(std::ptr::null(), |s| s.as_ptr());
    // SAFETY: both names are NULL or NUL-terminated strings that outlive the
    // call, hints is a whole addrinfo and res is our own slot.
    let r = unsafe { libc::getaddrinfo(node, service, hints, &mut res) };
    (r, res)
}

/// Frees a list the C library's getaddrinfo made.
///
/// # Safety
/// `ai` came from libc's getaddrinfo and was not freed.
pub unsafe fn freeaddrinfo(ai: *mut libc::addrinfo) {
    // SAFETY: the caller's contract.
    unsafe { libc::freeaddrinfo(ai) }
}

/// The C library's text for a getaddrinfo error code.
pub fn gai_strerror(err: i32) -> *const libc::c_char {
    // SAFETY: gai_strerror takes any int and returns a static string.
    unsafe { libc::gai_strerror(err) }
}

/// The index of the network interface `name`, 0 when there is none.
pub fn if_nametoindex(name: &std::ffi::CStr) -> u32 {
    // SAFETY: name is a NUL-terminated string.
    unsafe { libc::if_nametoindex(name.as_ptr()) }
}

/// Fills `buf` from the kernel's random source, waiting for it to be seeded.
pub fn getrandom(buf: &mut [u8]) -> io::Result<()> {
    let mut done = 0;
    while done < buf.len() {
        let rest = &mut buf[done..];
        // SAFETY: getrandom writes at most rest.len() bytes into rest.
        let r = unsafe { libc::getrandom(rest.as_mut_ptr().cast(), rest.len(), 0) };
        if r < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::EINTR) {
                continue;
            }
            return Err(e);
        }
        done += r as usize;
    }
    Ok(())
}

/// The time of `clock`, or `None` when the kernel does not offer that clock.
pub fn clock_gettime(clock: libc::clockid_t) -> Option<libc::timespec> {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    let r = unsafe { libc::clock_gettime(clock, &mut ts) };
    (r == 0).then_some(ts)
}

/// The time of day.
pub fn gettimeofday() -> io::Result<libc::timeval> {
    let mut tv = libc::timeval {
        tv_sec: 0,
        tv_usec: 0,
    };
    // SAFETY: gettimeofday writes one timeval we own; no timezone is asked.
    check(unsafe { libc::gettimeofday(&mut tv, std::ptr::null_mut()) })?;
    Ok(tv)
}

/// The current calendar time in UTC.
pub fn gmtime_now() -> libc::tm {
    // SAFETY: time accepts NULL; tm is plain integers (and a pointer that
    // gmtime_r sets), so all-zero is a valid value to overwrite.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: as above.
    let now = unsafe { libc::time(std::ptr::null_mut()) };
    // SAFETY: gmtime_r reads our time_t and writes our tm.
    unsafe { libc::gmtime_r(&now, &mut tm) };
    tm
}

/// A socket address of any family, owned.
pub struct SockAddr {
    storage: libc::sockaddr_storage,
    len: libc::socklen_t,
}

impl SockAddr {
    pub fn as_sockaddr(&self) -> &libc::sockaddr {
        // SAFETY: sockaddr_storage is laid out to start like any sockaddr.
        unsafe { &*(&raw const self.storage).cast::<libc::sockaddr>() }
    }

    pub fn len(&self) -> libc::socklen_t {
        self.len
    }
}

/// Resolves `host` (NULL: the loopback address) and `port` for a TCP stream
/// socket of `family` with a blocking getaddrinfo, and returns the first
/// address; on failure the getaddrinfo error code (EAI_*, which are also
/// libevent's EVUTIL_EAI_* values on Linux).
pub fn resolve_first(
    host: Option<&std::ffi::CStr>,
    port: u16,
    family: libc::c_int,
) -> Result<SockAddr, libc::c_int> {
    let service = std::ffi::CString::new(port.to_string()).expect("digits only");
    // SAFETY: all-zero is a valid addrinfo hint (no flags, no pointers).
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = family;
    hints.ai_socktype = libc::SOCK_STREAM;
    hints.ai_protocol = libc::IPPROTO_TCP;
    let mut list: *mut libc::addrinfo = std::ptr::null_mut();
    let node = host.map_or(std::ptr::null(), |h| h.as_ptr());
    // SAFETY: node is NULL or a NUL-terminated string, service is one, hints
    // is initialised and list receives the result.
    let r = unsafe { libc::getaddrinfo(node, service.as_ptr(), &hints, &mut list) };
    if r != 0 {
        return Err(r);
    }
    if list.is_null() {
        return Err(libc::EAI_FAIL);
    }
    // SAFETY: getaddrinfo succeeded, so list points at its first entry.
    let first = unsafe { &*list };
    // SAFETY: all-zero is a valid sockaddr_storage.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let size = std::mem::size_of::<libc::sockaddr_storage>();
    let len = (first.ai_addrlen as usize).min(size);
    // SAFETY: ai_addr points at ai_addrlen bytes; we copy at most the
    // storage's size into storage we own.
    unsafe {
        std::ptr::copy_nonoverlapping(
            first.ai_addr.cast::<u8>(),
            (&raw mut storage).cast::<u8>(),
            len,
        )
    };
    // SAFETY: list came from getaddrinfo and is freed once.
    unsafe { libc::freeaddrinfo(list) };
    Ok(SockAddr {
        storage,
        len: len as libc::socklen_t,
    })
}

/// Asks the CPU to bring the cache line at `p` in: only a hint, for data
/// the caller will touch shortly and that has likely left the cache.
#[inline]
pub fn prefetch(p: *const u8) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch never faults, whatever the address; SSE is part
    // of the x86_64 baseline.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p.cast(), std::arch::x86_64::_MM_HINT_T0)
    };
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_numeric_address_gives_its_port() {
        let host = std::ffi::CString::new("127.0.0.1").unwrap();
        let addr = resolve_first(Some(&host), 8080, libc::AF_INET).expect("numeric");
        assert_eq!(
            addr.len() as usize,
            std::mem::size_of::<libc::sockaddr_in>()
        );
        // SAFETY: an AF_INET result is a sockaddr_in.
        let sin =
            unsafe { &*(addr.as_sockaddr() as *const libc::sockaddr).cast::<libc::sockaddr_in>() };
        assert_eq!(c_int_from(sin.sin_family), libc::AF_INET);
        assert_eq!(u16::from_be(sin.sin_port), 8080);
        assert_eq!(u32::from_be(sin.sin_addr.s_addr), 0x7f00_0001);
    }

    #[test]
    fn resolve_refuses_a_name_that_cannot_exist() {
        let host = std::ffi::CString::new("nonexistent.invalid").unwrap();
        assert!(resolve_first(Some(&host), 80, libc::AF_INET).is_err());
    }

    fn c_int_from(family: libc::sa_family_t) -> libc::c_int {
        family.into()
    }
}

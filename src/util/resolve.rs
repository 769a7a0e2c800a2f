//! The blocking resolver: `evutil_getaddrinfo`, `evutil_freeaddrinfo` and
//! `evutil_gai_strerror`.
//!
//! On Linux libevent 2.1.12 hands every lookup to the C library's
//! getaddrinfo (numeric hosts, AI_PASSIVE with no host and service names are
//! the C library's business), so the answers and error codes are glibc's.
//! Lists the library builds itself (the asynchronous resolver does) carry
//! [`LIBEVENT_ALLOCATED`] in each entry's `ai_flags`, which is how
//! `evutil_freeaddrinfo` knows which allocator made a list.

use std::ffi::{CStr, c_char};

use crate::{mem, sys};

/// Marks an addrinfo entry this library allocated (the value libevent uses,
/// outside every AI_* flag of the C library).
pub const LIBEVENT_ALLOCATED: i32 = 0x8000_0000_u32 as i32;

/// `EVUTIL_EAI_CANCEL`: a lookup was cancelled.
pub const EAI_CANCEL: i32 = -90001;

/// glibc's EAI_ADDRFAMILY, which the libc crate does not name.
const EAI_ADDRFAMILY: i32 = -9;

/// Looks `node` and `service` up with `hints` (all-zero with AF_UNSPEC when
/// there are none): `(0, list)` or `(error, NULL)`.
pub fn getaddrinfo(
    node: Option<&CStr>,
    service: Option<&CStr>,
    hints: Option<&libc::addrinfo>,
) -> (i32, *mut libc::addrinfo) {
    // SAFETY: addrinfo is integers and pointers, for which all-zero (NULL)
    // is a valid value.
    let mut h: libc::addrinfo = unsafe { std::mem::zeroed() };
    match hints {
        Some(given) => h = *given,
        None => h.ai_family = libc::AF_UNSPEC,
    }
    // Our marker is no request the C library understands.
    h.ai_flags &= !LIBEVENT_ALLOCATED;
    sys::getaddrinfo(node, service, &h)
}

/// Frees a list from [`getaddrinfo`] or from [`new_entry`].
///
/// # Safety
/// `ai` is the head of such a list, not yet freed; lists are freed whole,
/// by their head.
pub unsafe fn freeaddrinfo(ai: *mut libc::addrinfo) {
    // SAFETY: `ai` is a live entry (caller's contract).
    if unsafe { (*ai).ai_flags } & LIBEVENT_ALLOCATED == 0 {
        // SAFETY: an unmarked list came from the C library.
        unsafe { sys::freeaddrinfo(ai) };
        return;
    }
    let mut next = ai;
    while !next.is_null() {
        let entry = next;
        // SAFETY: every entry of a marked list came from new_entry, whose
        // name (if any) came from mem::malloc.
        unsafe {
            next = (*entry).ai_next;
            mem::free((*entry).ai_canonname.cast());
            mem::free(entry.cast());
        }
    }
}

/// Makes one list entry for `addr` (a `struct sockaddr_in` or
/// `sockaddr_in6`), in one allocation with its address and marked as ours,
/// for lists the library builds itself; NULL when memory runs out.
#[allow(dead_code)] // the asynchronous resolver builds its answers with it
pub fn new_entry(addr: &[u8], socktype: i32, protocol: i32) -> *mut libc::addrinfo {
    let head = std::mem::size_of::<libc::addrinfo>();
    let block = mem::malloc(head + addr.len()).cast::<u8>();
    if block.is_null() {
        return std::ptr::null_mut();
    }
    let family = i32::from(u16::from_ne_bytes([addr[0], addr[1]]));
    // SAFETY: block holds head + addr.len() bytes, and malloc's alignment
    // suits addrinfo; the address is copied right after the entry.
    unsafe {
        let entry = block.cast::<libc::addrinfo>();
        let sockaddr = block.add(head);
        std::ptr::copy_nonoverlapping(addr.as_ptr(), sockaddr, addr.len());
        entry.write(libc::addrinfo {
            ai_flags: LIBEVENT_ALLOCATED,
            ai_family: family,
            ai_socktype: socktype,
            ai_protocol: protocol,
            ai_addrlen: addr.len() as libc::socklen_t,
            ai_addr: sockaddr.cast(),
            ai_canonname: std::ptr::null_mut(),
            ai_next: std::ptr::null_mut(),
        });
        entry
    }
}

/// The text of an `EVUTIL_EAI_*` code, libevent's own for the codes it
/// names and the C library's for any other.
pub fn gai_strerror(err: i32) -> *const c_char {
    let text: &'static CStr = match err {
        EAI_CANCEL => c"Request canceled",
        0 => c"No error",
        EAI_ADDRFAMILY => c"address family for nodename not supported",
        libc::EAI_AGAIN => c"temporary failure in name resolution",
        libc::EAI_BADFLAGS => c"invalid value for ai_flags",
        libc::EAI_FAIL => c"non-recoverable failure in name resolution",
        libc::EAI_FAMILY => c"ai_family not supported",
        libc::EAI_MEMORY => c"memory allocation failure",
        libc::EAI_NODATA => c"no address associated with nodename",
        libc::EAI_NONAME => c"nodename nor servname provided, or not known",
        libc::EAI_SERVICE => c"servname not supported for ai_socktype",
        libc::EAI_SOCKTYPE => c"ai_socktype not supported",
        libc::EAI_SYSTEM => c"system error",
        other => return sys::gai_strerror(other),
    };
    text.as_ptr()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_entries_free_through_our_path() {
        let mut sin = [0u8; 16];
        sin[0..2].copy_from_slice(&(libc::AF_INET as u16).to_ne_bytes());
        let first = new_entry(&sin, libc::SOCK_STREAM, 0);
        let second = new_entry(&sin, libc::SOCK_DGRAM, 0);
        assert!(!first.is_null() && !second.is_null());
        // SAFETY: both entries are ours and live; freeing the head frees both.
        unsafe {
            assert_eq!((*first).ai_family, libc::AF_INET);
            (*first).ai_next = second;
            freeaddrinfo(first);
        }
    }

    #[test]
    fn numeric_lookup_comes_from_the_c_library() {
        let (err, list) = getaddrinfo(Some(c"127.0.0.1"), Some(c"80"), None);
        assert_eq!(err, 0);
        assert!(!list.is_null());
        // SAFETY: a live list from the C library.
        unsafe {
            assert_eq!((*list).ai_flags & LIBEVENT_ALLOCATED, 0);
            freeaddrinfo(list);
        }
    }
}

//! The DNS server side of `event2/dns.h`: a UDP socket the program gives
//! us, whose queries reach the program's callback as `struct
//! evdns_server_request` (layout in `event2/dns_struct.h`); the program
//! adds records and responds, or drops the request.
//!
//! A port lives while the program holds it or a request of it is not
//! finished (`evdns_close_server_port` only gives up the program's share),
//! and closes its socket when it goes, as libevent's does.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::ffi::{c_int, c_short, c_void};
use std::os::fd::RawFd;

use crate::ffi::event_struct::event;
use crate::reactor::event_mem::EvPtr;
use crate::reactor::{Base, EV_PERSIST, EV_READ, EV_WRITE};
use crate::{mem, sys};

use super::wire::read_name;
use super::{debug, warn};

/// `evdns_request_callback_fn_type`.
pub type RequestCallback = crate::ffi::dns::evdns_request_callback_fn_type;

/// The answer section; the authority (1) and additional (2) sections
/// follow it, and a request keeps its records by those numbers.
pub const EVDNS_ANSWER_SECTION: c_int = 0;
pub const EVDNS_FLAGS_AA: c_int = 0x400;
pub const EVDNS_FLAGS_RD: c_int = 0x080;

pub const TYPE_A: c_int = 1;
pub const TYPE_CNAME: c_int = 5;
pub const TYPE_PTR: c_int = 12;
pub const TYPE_AAAA: c_int = 28;
pub const CLASS_INET: c_int = 1;

/// Header flag bits (the second 16-bit word of a DNS header).
const QR: u16 = 0x8000;
const RD: u16 = 0x0100;
const CD: u16 = 0x0010;
const TC_BYTE2: u8 = 0x02;

/// Replies longer than this are cut here with TC set, as libevent does.
const MAX_UDP: usize = 512;
/// libevent builds replies in a buffer this big; more is an overflow.
const BUILD_MAX: usize = 1500;
/// The most names libevent remembers for compression in one reply.
const MAX_LABELS: usize = 128;

/// `struct evdns_server_request`: what the program's callback reads.
#[repr(C)]
pub struct PublicRequest {
    flags: c_int,
    nquestions: c_int,
    questions: *mut *mut c_void,
}

/// One request: the public part first, so the program's pointer is ours.
#[repr(C)]
pub struct ServerRequest {
    public: PublicRequest,
    port: *const ServerPort,
    id: u16,
    /// The asker's address, as a `struct sockaddr_*` of its length.
    addr: libc::sockaddr_storage,
    addrlen: libc::socklen_t,
    /// The answer, authority and additional records added so far.
    sections: [Vec<Item>; 3],
    /// The reply once built; no record can be added after that.
    response: Option<Vec<u8>>,
}

/// A record added by the program.
struct Item {
    name: Vec<u8>,
    rtype: u16,
    class: u16,
    ttl: u32,
    data: Data,
}

enum Data {
    /// Raw record data (possibly none).
    Raw(Vec<u8>),
    /// A domain name, written compressed like the owner names.
    Name(Vec<u8>),
}

/// `struct evdns_server_port`.
pub struct ServerPort {
    base: *mut Base,
    fd: RawFd,
    ev: Box<event>,
    cb: RequestCallback,
    arg: *mut c_void,
    /// The program's share plus one per request not finished (and one
    /// while a callback of ours runs).
    refs: Cell<usize>,
    closing: Cell<bool>,
    /// Replies that could not be sent yet, oldest first.
    pending: RefCell<VecDeque<*mut ServerRequest>>,
    /// Whether the event also waits for the socket to be writable.
    choked: Cell<bool>,
}

fn ev_ptr(ev: &event) -> EvPtr {
    EvPtr::new(std::ptr::from_ref(ev).cast_mut()).expect("a reference is not null")
}

impl ServerPort {
    /// `evdns_add_server_port_with_base`: None for nonzero flags or when
    /// the socket cannot be watched.
    pub fn new(
        base: *mut Base,
        fd: RawFd,
        flags: c_int,
        cb: RequestCallback,
        arg: *mut c_void,
    ) -> Option<*mut ServerPort> {
        if flags != 0 {
            return None;
        }
        let port = Box::into_raw(Box::new(ServerPort {
            base,
            fd,
            // SAFETY: an all-zero struct event is a valid unassigned event.
            ev: Box::new(unsafe { std::mem::zeroed() }),
            cb,
            arg,
            refs: Cell::new(1),
            closing: Cell::new(false),
            pending: RefCell::new(VecDeque::new()),
            choked: Cell::new(false),
        }));
        // SAFETY: just made, and not shared yet.
        let p = unsafe { &*port };
        if p.watch(EV_READ).is_err() {
            // SAFETY: ours, never handed out.
            drop(unsafe { Box::from_raw(port) });
            return None;
        }
        Some(port)
    }

    fn base(&self) -> &Base {
        // SAFETY: the event base outlives the server ports made on it.
        unsafe { &*self.base }
    }

    /// (Re)arms the port's event for `what` (EV_READ and/or EV_WRITE).
    fn watch(&self, what: c_short) -> Result<(), ()> {
        let ev = ev_ptr(&self.ev);
        self.base().del(ev);
        if what == 0 {
            return Ok(());
        }
        let me = std::ptr::from_ref(self).cast_mut().cast();
        let pri = self.base().default_priority();
        ev.assign(
            self.base,
            self.fd,
            what | EV_PERSIST,
            Some(port_cb),
            me,
            pri,
        );
        self.base().add(ev, None, false).map_err(|_| ())
    }

    /// What the event should wait for now.
    fn interest(&self) -> c_short {
        let read = if self.closing.get() { 0 } else { EV_READ };
        let write = if self.choked.get() { EV_WRITE } else { 0 };
        read | write
    }

    /// Gives up one share; the last one frees the port and closes its
    /// socket.
    ///
    /// # Safety
    /// `port` is live and the caller owns the share it gives up.
    unsafe fn release(port: *const ServerPort) {
        // SAFETY: live (caller's contract).
        let p = unsafe { &*port };
        let left = p.refs.get() - 1;
        p.refs.set(left);
        if left == 0 {
            p.base().del(ev_ptr(&p.ev));
            if p.fd > 0 {
                sys::close(p.fd);
            }
            // SAFETY: the last share is gone, so nothing refers to it.
            drop(unsafe { Box::from_raw(port.cast_mut()) });
        }
    }

    /// `evdns_close_server_port`: the port stops taking requests and goes
    /// once its requests are finished. (2.1.12 goes on reading and calling
    /// back after this while requests are pending; we stop at once.)
    ///
    /// # Safety
    /// `port` is live and the program closes it once.
    pub unsafe fn close(port: *mut ServerPort) {
        // SAFETY: live (caller's contract).
        let p = unsafe { &*port };
        p.closing.set(true);
        let _ = p.watch(p.interest());
        // SAFETY: the program's share, given up once.
        unsafe { ServerPort::release(port) };
    }

    /// Reads and handles every datagram waiting.
    fn read_all(&self) {
        let mut buf = [0u8; 1500];
        while !self.closing.get() {
            // SAFETY: sockaddr_storage is plain integers; all-zero is valid.
            let mut from: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
            let mut fromlen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
            // SAFETY: buf and from are writable for the lengths given.
            let n = unsafe {
                libc::recvfrom(
                    self.fd,
                    buf.as_mut_ptr().cast(),
                    buf.len(),
                    0,
                    (&raw mut from).cast(),
                    &mut fromlen,
                )
            };
            if n < 0 {
                let e = std::io::Error::last_os_error();
                if e.kind() != std::io::ErrorKind::WouldBlock
                    && e.kind() != std::io::ErrorKind::Interrupted
                {
                    warn(|| format!("evdns: error while reading a request: {e}"));
                }
                return;
            }
            self.handle(&buf[..n as usize], from, fromlen);
        }
    }

    /// One datagram: a query becomes a request for the program; a reply
    /// or something unreadable is dropped.
    fn handle(&self, packet: &[u8], addr: libc::sockaddr_storage, addrlen: libc::socklen_t) {
        let Some((id, flags, questions)) = parse_query(packet) else {
            debug(|| "evdns: dropped a malformed request".to_string());
            return;
        };
        let mut qptrs: Vec<*mut c_void> = Vec::with_capacity(questions.len());
        for (name, qtype, class) in &questions {
            let q = mem::malloc(8 + name.len() + 1).cast::<u8>();
            if q.is_null() {
                free_questions(&qptrs);
                return;
            }
            // SAFETY: q holds 8 + len + 1 bytes, aligned for ints by
            // malloc: the type and class ints, then the name and its NUL.
            unsafe {
                q.cast::<c_int>().write(c_int::from(*qtype));
                q.cast::<c_int>().add(1).write(c_int::from(*class));
                std::ptr::copy_nonoverlapping(name.as_ptr(), q.add(8), name.len());
                *q.add(8 + name.len()) = 0;
            }
            qptrs.push(q.cast());
        }
        let array = if qptrs.is_empty() {
            std::ptr::null_mut()
        } else {
            mem::malloc(qptrs.len() * size_of::<*mut c_void>()).cast::<*mut c_void>()
        };
        if !qptrs.is_empty() && array.is_null() {
            free_questions(&qptrs);
            return;
        }
        if !array.is_null() {
            // SAFETY: array holds qptrs.len() pointers.
            unsafe { std::ptr::copy_nonoverlapping(qptrs.as_ptr(), array, qptrs.len()) };
        }
        let req = Box::into_raw(Box::new(ServerRequest {
            public: PublicRequest {
                flags: c_int::from(flags & (RD | CD)),
                nquestions: qptrs.len() as c_int,
                questions: array,
            },
            port: std::ptr::from_ref(self),
            id,
            addr,
            addrlen,
            sections: [Vec::new(), Vec::new(), Vec::new()],
            response: None,
        }));
        self.refs.set(self.refs.get() + 1);
        // libevent 2.1.12 means to answer other opcodes NOTIMPL itself,
        // but tests the opcode after masking it off, so every query
        // reaches the program; so does ours.
        if let Some(f) = self.cb {
            // SAFETY: the program's callback, given the public part of a
            // live request it now owns.
            unsafe { f(req.cast(), self.arg) };
        }
    }

    /// Sends the replies that waited for the socket, oldest first.
    fn flush(&self) {
        loop {
            let Some(&req) = self.pending.borrow().front() else {
                break;
            };
            // SAFETY: a pending request is live and built.
            let r = unsafe { &*req };
            match send(self.fd, r) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
                Err(e) => warn(|| format!("evdns: dropping a reply that failed: {e}")),
                Ok(()) => {}
            }
            self.pending.borrow_mut().pop_front();
            // SAFETY: sent (or dropped), so finished; self is kept alive
            // by the caller's share.
            unsafe { free_request(req) };
        }
        self.choked.set(false);
        let _ = self.watch(self.interest());
    }
}

/// The port's socket is readable or writable.
unsafe extern "C" fn port_cb(_fd: c_int, what: c_short, arg: *mut c_void) {
    let port = arg.cast::<ServerPort>();
    // SAFETY: the event is deleted before the port is freed, so the port
    // is live; we take a share so that callbacks cannot free it under us.
    let p = unsafe { &*port };
    p.refs.set(p.refs.get() + 1);
    if what & EV_WRITE != 0 {
        p.flush();
    }
    if what & EV_READ != 0 {
        p.read_all();
    }
    // SAFETY: the share taken above.
    unsafe { ServerPort::release(port) };
}

fn free_questions(qs: &[*mut c_void]) {
    for &q in qs {
        // SAFETY: each came from mem::malloc in handle.
        unsafe { mem::free(q) };
    }
}

/// Frees a request and gives up its share of the port.
///
/// # Safety
/// `req` is a live request, not pending, freed once.
unsafe fn free_request(req: *mut ServerRequest) {
    // SAFETY: live and ours (caller's contract).
    let r = unsafe { Box::from_raw(req) };
    let n = usize::try_from(r.public.nquestions).unwrap_or(0);
    if !r.public.questions.is_null() {
        // SAFETY: the array holds nquestions pointers from mem::malloc.
        let qs = unsafe { std::slice::from_raw_parts(r.public.questions, n) };
        free_questions(qs);
        // SAFETY: the array came from mem::malloc.
        unsafe { mem::free(r.public.questions.cast()) };
    }
    let port = r.port;
    drop(r);
    // SAFETY: the request's share.
    unsafe { ServerPort::release(port) };
}

/// Sends the built reply of `r` to its asker.
fn send(fd: RawFd, r: &ServerRequest) -> std::io::Result<()> {
    let data = r.response.as_deref().unwrap_or_default();
    // SAFETY: data and addr are readable for the lengths given.
    let n = unsafe {
        libc::sendto(
            fd,
            data.as_ptr().cast(),
            data.len(),
            0,
            (&raw const r.addr).cast(),
            r.addrlen,
        )
    };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

/// `evdns_server_request_add_reply`: 0, or -1 once the reply is built or
/// for an unknown section.
///
/// # Safety
/// `req` is a live request.
#[allow(clippy::too_many_arguments)]
pub unsafe fn add_reply(
    req: *mut ServerRequest,
    section: c_int,
    name: &[u8],
    rtype: c_int,
    class: c_int,
    ttl: c_int,
    data: Option<&[u8]>,
    is_name: bool,
) -> c_int {
    // SAFETY: live (caller's contract).
    let r = unsafe { &mut *req };
    if r.response.is_some() {
        return -1;
    }
    let Some(list) = usize::try_from(section)
        .ok()
        .and_then(|s| r.sections.get_mut(s))
    else {
        return -1;
    };
    let data = match (data, is_name) {
        (Some(d), true) => Data::Name(d.to_vec()),
        (Some(d), false) => Data::Raw(d.to_vec()),
        (None, _) => Data::Raw(Vec::new()),
    };
    list.push(Item {
        name: name.to_vec(),
        rtype: rtype as u16,
        class: class as u16,
        ttl: ttl as u32,
        data,
    });
    0
}

/// `evdns_server_request_set_flags`: replaces the AA and "RD" bits (the
/// header bit at 0x080, RA on the wire, as libevent names it) with `flags`.
///
/// # Safety
/// `req` is a live request.
pub unsafe fn set_flags(req: *mut ServerRequest, flags: c_int) {
    // SAFETY: live (caller's contract).
    let r = unsafe { &mut *req };
    r.public.flags &= !(EVDNS_FLAGS_AA | EVDNS_FLAGS_RD);
    r.public.flags |= flags;
}

/// `evdns_server_request_respond`: builds the reply (rcode `err`) and
/// sends it; the request is then finished. 0 when sent, 1 when it waits
/// for the socket (it is sent later, the request is finished then), -1
/// when it cannot be built (the request stays the program's).
///
/// # Safety
/// `req` is a live request.
pub unsafe fn respond(req: *mut ServerRequest, err: c_int) -> c_int {
    // SAFETY: live (caller's contract).
    let r = unsafe { &mut *req };
    if r.response.is_none() {
        if !(0..=15).contains(&err) {
            return -1;
        }
        match build(r, err as u16) {
            Some(bytes) => r.response = Some(bytes),
            None => return -1,
        }
        for s in r.sections.iter_mut() {
            s.clear();
        }
    }
    // SAFETY: a live request's port is live (the request holds a share).
    let port = unsafe { &*r.port };
    if port.pending.borrow().is_empty() {
        match send(port.fd, r) {
            Ok(()) => {
                // SAFETY: sent, so finished; not pending.
                unsafe { free_request(req) };
                return 0;
            }
            Err(e) if e.kind() != std::io::ErrorKind::WouldBlock => {
                warn(|| format!("evdns: error while sending a reply: {e}"));
            }
            Err(_) => {}
        }
    }
    // Waits for the socket (behind the ones already waiting).
    port.pending.borrow_mut().push_back(req);
    if !port.choked.replace(true) {
        let _ = port.watch(port.interest());
    }
    1
}

/// `evdns_server_request_drop`: finishes the request without a reply.
///
/// # Safety
/// `req` is a live request, not waiting to be sent.
pub unsafe fn drop_request(req: *mut ServerRequest) {
    // SAFETY: the caller's contract.
    let pending = unsafe { &*(*req).port }
        .pending
        .borrow()
        .iter()
        .any(|&p| p == req);
    if pending {
        return;
    }
    // SAFETY: live, not pending, finished once.
    unsafe { free_request(req) };
}

/// `evdns_server_request_get_requesting_addr`: the asker's address bytes.
///
/// # Safety
/// `req` is a live request.
pub unsafe fn requesting_addr<'a>(req: *const ServerRequest) -> &'a [u8] {
    // SAFETY: live (caller's contract); sockaddr_storage is plain bytes.
    unsafe {
        std::slice::from_raw_parts(
            (&raw const (*req).addr).cast::<u8>(),
            (*req).addrlen as usize,
        )
    }
}

/// A question of a query: name, type, class.
type Question = (Vec<u8>, u16, u16);

/// Parses a query: its id, flags and questions; None for a reply or a
/// packet that does not parse.
fn parse_query(p: &[u8]) -> Option<(u16, u16, Vec<Question>)> {
    if p.len() < 12 {
        return None;
    }
    let get16 =
        |at: usize| -> Option<u16> { Some(u16::from_be_bytes([*p.get(at)?, *p.get(at + 1)?])) };
    let id = get16(0)?;
    let flags = get16(2)?;
    if flags & QR != 0 {
        return None;
    }
    let count = get16(4)?;
    let mut at = 12;
    let mut questions = Vec::new();
    for _ in 0..count {
        let (name, next) = read_name(p, at)?;
        let qtype = get16(next)?;
        let class = get16(next + 2)?;
        at = next + 4;
        questions.push((name, qtype, class));
    }
    Some((id, flags, questions))
}

/// Writes a name as labels, pointing at a suffix already written where it
/// can (libevent's compression: whole suffixes, compared exactly). None
/// for a label over 63 bytes or a name over 255.
fn put_name(buf: &mut Vec<u8>, name: &[u8], table: &mut Vec<(Vec<u8>, usize)>) -> Option<()> {
    if name.len() > 255 {
        return None;
    }
    let mut rest = name;
    loop {
        if let Some(&(_, pos)) = table.iter().find(|(n, _)| n.as_slice() == rest) {
            buf.extend_from_slice(&(0xc000 | pos as u16).to_be_bytes());
            return Some(());
        }
        let (label, next) = match rest.iter().position(|&b| b == b'.') {
            Some(dot) => (&rest[..dot], Some(&rest[dot + 1..])),
            None => (rest, None),
        };
        if label.len() > 63 {
            return None;
        }
        if table.len() < MAX_LABELS {
            table.push((rest.to_vec(), buf.len()));
        }
        buf.push(label.len() as u8);
        buf.extend_from_slice(label);
        match next {
            Some(n) => rest = n,
            None => break,
        }
    }
    // A name that ended in a dot has its zero already (an empty label).
    if buf.last() != Some(&0) {
        buf.push(0);
    }
    Some(())
}

/// Builds the reply to `r` with rcode `err`, as libevent lays it out;
/// cut to 512 bytes with TC set when longer. None for a name that cannot
/// be written.
fn build(r: &ServerRequest, err: u16) -> Option<Vec<u8>> {
    let mut buf = Vec::with_capacity(512);
    let mut table = Vec::new();
    let flags = (r.public.flags as u16) | QR | err;
    let counts = [
        r.public.nquestions as u16,
        r.sections[0].len() as u16,
        r.sections[1].len() as u16,
        r.sections[2].len() as u16,
    ];
    for v in [r.id, flags].into_iter().chain(counts) {
        buf.extend_from_slice(&v.to_be_bytes());
    }
    let n = usize::try_from(r.public.nquestions).unwrap_or(0);
    for i in 0..n {
        // SAFETY: the questions array holds nquestions entries we made,
        // each an (int, int, NUL-terminated name) block.
        let (qtype, class, name) = unsafe {
            let q = (*r.public.questions.add(i)).cast::<u8>();
            let name = std::ffi::CStr::from_ptr(q.add(8).cast()).to_bytes();
            (*q.cast::<c_int>(), *q.cast::<c_int>().add(1), name)
        };
        put_name(&mut buf, name, &mut table)?;
        buf.extend_from_slice(&(qtype as u16).to_be_bytes());
        buf.extend_from_slice(&(class as u16).to_be_bytes());
    }
    let mut overflow = false;
    'items: for item in r.sections.iter().flatten() {
        if put_name(&mut buf, &item.name, &mut table).is_none() {
            overflow = true;
            break 'items;
        }
        buf.extend_from_slice(&item.rtype.to_be_bytes());
        buf.extend_from_slice(&item.class.to_be_bytes());
        buf.extend_from_slice(&item.ttl.to_be_bytes());
        match &item.data {
            Data::Name(n) => {
                let len_at = buf.len();
                buf.extend_from_slice(&[0, 0]);
                if put_name(&mut buf, n, &mut table).is_none() {
                    overflow = true;
                    break 'items;
                }
                let len = (buf.len() - len_at - 2) as u16;
                buf[len_at..len_at + 2].copy_from_slice(&len.to_be_bytes());
            }
            Data::Raw(d) => {
                buf.extend_from_slice(&(d.len() as u16).to_be_bytes());
                buf.extend_from_slice(d);
            }
        }
        if buf.len() > BUILD_MAX {
            overflow = true;
            break 'items;
        }
    }
    if overflow || buf.len() > MAX_UDP {
        buf.resize(MAX_UDP, 0);
        buf[2] |= TC_BYTE2;
    }
    Some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_compressed_by_whole_suffixes() {
        let mut buf = vec![0u8; 12];
        let mut table = Vec::new();
        put_name(&mut buf, b"a.test", &mut table).unwrap();
        assert_eq!(&buf[12..], b"\x01a\x04test\x00");
        put_name(&mut buf, b"b.test", &mut table).unwrap();
        assert_eq!(&buf[20..], b"\x01b\xc0\x0e");
        put_name(&mut buf, b"a.test", &mut table).unwrap();
        assert_eq!(&buf[24..], b"\xc0\x0c");
        assert!(put_name(&mut buf, &[b'x'; 64], &mut table).is_none());
    }

    #[test]
    fn queries_parse_and_replies_do_not() {
        let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(b"\x01a\x04test\x00\x00\x01\x00\x01");
        let (id, flags, qs) = parse_query(&q).unwrap();
        assert_eq!((id, flags), (0x1234, 0x0100));
        assert_eq!(qs, vec![(b"a.test".to_vec(), 1, 1)]);
        q[2] |= 0x80;
        assert!(parse_query(&q).is_none());
        assert!(parse_query(&q[..15]).is_none());
        // A pointer to itself.
        let looped = [0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1];
        assert!(parse_query(&looped).is_none());
    }
}

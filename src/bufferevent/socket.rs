//! Socket bufferevents: bytes move between the fd and the buffers with one
//! `read` per read burst and one `writev` per flush. The state machine is
//! small: no fd, connecting, open; EOF and errors disable the side they
//! happened on, as in libevent.
//!
//! The fd is registered edge-triggered once (see the reactor); a read or
//! write that comes up short tells the reactor the fd is drained or full,
//! and one that fills its whole allowance leaves the event queued for the
//! next pass so the edge is not lost.

use std::cell::Cell;
use std::ffi::{c_int, c_short, c_void};

use crate::buffer::{Buffer, CbInfo, FrozenEnd};
use crate::dns::{self, EvdnsBase, Lookup};
use crate::ffi::event_struct::{
    EVLIST_ACTIVE, EVLIST_ACTIVE_LATER, EVLIST_INSERTED, EVLIST_TIMEOUT,
};
use crate::reactor::event_mem::{EVLIST_X_EDGE, EvPtr};
use crate::reactor::{Base, EV_FINALIZE, EV_PERSIST, EV_READ, EV_TIMEOUT, EV_WRITE};
use crate::sys;

use super::{
    BEV_EVENT_CONNECTED, BEV_EVENT_EOF, BEV_EVENT_ERROR, BEV_EVENT_READING, BEV_EVENT_TIMEOUT,
    BEV_EVENT_WRITING, BEV_OPT_CLOSE_ON_FREE, BEV_OPT_DEFER_CALLBACKS, Bufferevent, Kind,
    SUSPEND_LOOKUP, SUSPEND_WM, ratelimit,
};

/// What a socket bufferevent knows beyond the common state.
#[derive(Default)]
pub struct SocketState {
    /// A connect was started and has not been reported yet.
    connecting: Cell<bool>,
    /// The connect was refused at once or seen refused on the read side.
    connection_refused: Cell<bool>,
    /// The EVUTIL_EAI_* code of the last failed `connect_hostname` lookup.
    dns_error: Cell<c_int>,
    /// The evdns lookup of `connect_hostname` while it runs.
    dns_request: Cell<Option<std::ptr::NonNull<Lookup>>>,
}

fn state(bev: &Bufferevent) -> &SocketState {
    match &bev.kind {
        Kind::Socket(s) => s,
        _ => unreachable!("socket handlers run only on socket bufferevents"),
    }
}

/// Whether `bev` is a socket bufferevent.
pub fn is_socket(bev: &Bufferevent) -> bool {
    matches!(bev.kind, Kind::Socket(_))
}

/// `bufferevent_socket_new`.
pub fn new(base: *mut Base, fd: c_int, options: c_int) -> *mut Bufferevent {
    let raw = Bufferevent::create(base, options, Kind::Socket(SocketState::default()));
    // SAFETY: raw is the live bufferevent just made.
    let bev = unsafe { &*raw };
    assign_events(bev, fd);
    // What the output holds goes to a socket: file segments in it are sent
    // with sendfile.
    bev.output()
        .set_flags(crate::ffi::buffer::EVBUFFER_FLAG_DRAINS_TO_FD, true);
    bev.output().add_internal_cb(output_changed, raw.cast());
    bev.input().set_frozen(FrozenEnd::Back, true);
    bev.output().set_frozen(FrozenEnd::Front, true);
    raw
}

/// Points both events at `fd` with our handlers.
fn assign_events(bev: &Bufferevent, fd: c_int) {
    let base = bev.base_ptr();
    let pri = bev.base().default_priority();
    let me = std::ptr::from_ref(bev).cast_mut().cast::<c_void>();
    let flags = EV_PERSIST | EV_FINALIZE;
    let read = bev.ev_read();
    let write = bev.ev_write();
    read.assign(base, fd, EV_READ | flags, Some(on_read), me, pri);
    write.assign(base, fd, EV_WRITE | flags, Some(on_write), me, pri);
    for ev in [read, write] {
        ev.set_flags(ev.flags() | EVLIST_X_EDGE);
    }
    bev.base().own_fd(fd, true);
}

pub fn fd(bev: &Bufferevent) -> c_int {
    bev.ev_read().fd()
}

fn add_event(bev: &Bufferevent, ev: EvPtr, tv: libc::timeval) -> c_int {
    if ev.fd() < 0 {
        // libevent accepts enabling a bufferevent with no fd; it starts
        // watching once setfd or connect gives it one.
        return 0;
    }
    match bev.base().add(ev, Bufferevent::timeout_ns(tv), false) {
        Ok(()) => 0,
        Err(_) => -1,
    }
}

pub fn enable(bev: &Bufferevent, what: c_short) -> c_int {
    if what & EV_READ != 0 && add_event(bev, bev.ev_read(), bev.timeout_read()) < 0 {
        return -1;
    }
    if what & EV_WRITE != 0 && add_event(bev, bev.ev_write(), bev.timeout_write()) < 0 {
        return -1;
    }
    0
}

pub fn disable(bev: &Bufferevent, what: c_short) -> c_int {
    if what & EV_READ != 0 {
        bev.base().del(bev.ev_read());
    }
    // A connect in progress still needs the write event to report itself.
    if what & EV_WRITE != 0 && !state(bev).connecting.get() {
        bev.base().del(bev.ev_write());
    }
    0
}

/// At the last reference: the fd is let go by the reactor at once, so the
/// program may close it and reuse the number.
pub fn unlink(bev: &Bufferevent) {
    bev.base().own_fd(fd(bev), false);
}

/// On the loop after the last reference: closes the fd if asked to.
pub fn destruct(bev: &Bufferevent) {
    let fd = fd(bev);
    if bev.options() & BEV_OPT_CLOSE_ON_FREE != 0 && fd >= 0 {
        sys::close(fd);
    }
    cancel_lookup(bev);
}

/// Cancels the lookup of `connect_hostname` if one runs; its callback
/// then only records EVUTIL_EAI_CANCEL.
fn cancel_lookup(bev: &Bufferevent) {
    if let Some(req) = state(bev).dns_request.take() {
        // SAFETY: the request is live until its callback, which clears
        // dns_request first.
        unsafe { dns::cancel(req.as_ptr()) };
    }
}

/// Re-arms the timeouts of the sides that are waiting, after
/// `bufferevent_set_timeouts`.
pub fn adjust_timeouts(bev: &Bufferevent) -> c_int {
    let mut r = 0;
    for (ev, tv, what) in [
        (bev.ev_read(), bev.timeout_read(), EV_READ),
        (bev.ev_write(), bev.timeout_write(), EV_WRITE),
    ] {
        if bev.base().pending(ev, what).0 == 0 {
            continue;
        }
        match Bufferevent::timeout_ns(tv) {
            Some(ns) => {
                if bev.base().add(ev, Some(ns), false).is_err() {
                    r = -1;
                }
            }
            None => bev.base().remove_timer(ev),
        }
    }
    r
}

/// `bufferevent_setfd`: watches `fd` instead of the old one, which is
/// neither closed nor watched any more.
pub fn set_fd(bev: &Bufferevent, new_fd: c_int) -> c_int {
    let base = bev.base();
    base.del(bev.ev_read());
    base.del(bev.ev_write());
    base.own_fd(fd(bev), false);
    // libevent 2.1 leaves both buffers unfrozen after setfd.
    bev.input().set_frozen(FrozenEnd::Back, false);
    bev.output().set_frozen(FrozenEnd::Front, false);
    assign_events(bev, new_fd);
    if new_fd >= 0 {
        bev.enable(bev.enabled());
    }
    cancel_lookup(bev);
    0
}

/// `bufferevent_base_set`: re-points both events at `base`, which libevent
/// allows only while neither is pending or active; the events take the new
/// base's middle priority, as `event_base_set` gives them.
pub fn set_base(bev: &Bufferevent, base: *mut Base) -> c_int {
    let busy = EVLIST_INSERTED | EVLIST_ACTIVE | EVLIST_ACTIVE_LATER | EVLIST_TIMEOUT;
    if (bev.ev_read().flags() | bev.ev_write().flags()) & busy != 0 {
        return -1;
    }
    let fd = fd(bev);
    bev.base().own_fd(fd, false);
    bev.set_base_ptr(base);
    assign_events(bev, fd);
    0
}

/// `bufferevent_socket_connect_hostname`. Without an evdns base, `host` is
/// resolved with a blocking getaddrinfo inside the call (as libevent
/// does). With one, reading and writing wait (suspended, their enabled
/// flags unchanged) until the asynchronous lookup answers; numeric hosts
/// answer within the call. Either way only the first address is tried. A
/// failed lookup is reported to the event callback as BEV_EVENT_ERROR and
/// remembered for `get_dns_error`; the call itself still succeeds.
pub fn connect_hostname(
    bev: &Bufferevent,
    evdns: Option<&EvdnsBase>,
    family: c_int,
    host: Option<&std::ffi::CStr>,
    port: u16,
) -> c_int {
    let st = state(bev);
    st.dns_error.set(0);
    let Some(evdns) = evdns else {
        bev.incref();
        match sys::resolve_first(host, port, family) {
            Ok(addr) => {
                let sa = addr.as_sockaddr();
                if connect(bev, Some((sa, addr.len()))) < 0 {
                    bev.run_eventcb(BEV_EVENT_ERROR, 0);
                }
            }
            Err(code) => {
                st.dns_error.set(code);
                bev.run_eventcb(BEV_EVENT_ERROR, 0);
            }
        }
        bev.decref();
        return 0;
    };
    bev.suspend_write(SUSPEND_LOOKUP);
    bev.suspend_read(SUSPEND_LOOKUP);
    // The lookup's callback owns this reference.
    bev.incref();
    // SAFETY: addrinfo is integers and pointers; all-zero is valid.
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_family = family;
    hints.ai_socktype = libc::SOCK_STREAM;
    hints.ai_protocol = libc::IPPROTO_TCP;
    let service = std::ffi::CString::new(port.to_string()).expect("digits have no NUL");
    let me = std::ptr::from_ref(bev).cast_mut().cast::<c_void>();
    let req = evdns.getaddrinfo(host, Some(&service), Some(&hints), Some(looked_up), me);
    st.dns_request.set(std::ptr::NonNull::new(req));
    0
}

/// The evdns lookup of `connect_hostname` is over: connect to the first
/// address, or report the failure (a cancellation is only recorded).
unsafe extern "C" fn looked_up(result: c_int, ai: *mut libc::addrinfo, arg: *mut c_void) {
    // SAFETY: arg is the bufferevent, kept alive by the reference taken
    // for this lookup.
    let bev = unsafe { &*arg.cast::<Bufferevent>() };
    let _held = bev.hold();
    let st = state(bev);
    bev.unsuspend_write(SUSPEND_LOOKUP);
    bev.unsuspend_read(SUSPEND_LOOKUP);
    st.dns_request.set(None);
    if result != 0 {
        st.dns_error.set(result);
        if result != crate::util::resolve::EAI_CANCEL {
            bev.run_eventcb(BEV_EVENT_ERROR, 0);
        }
    } else if !ai.is_null() {
        // SAFETY: a successful lookup hands over a live list.
        let (sa, len) = unsafe { (&*(*ai).ai_addr, (*ai).ai_addrlen) };
        if connect(bev, Some((sa, len))) < 0 {
            bev.run_eventcb(BEV_EVENT_ERROR, 0);
        }
    }
    if !ai.is_null() {
        // SAFETY: the list is ours to free, once.
        unsafe { crate::util::resolve::freeaddrinfo(ai) };
    }
    bev.decref();
}

/// `bufferevent_socket_get_dns_error`.
pub fn dns_error(bev: &Bufferevent) -> c_int {
    state(bev).dns_error.get()
}

/// `bufferevent_socket_connect`.
pub fn connect(bev: &Bufferevent, addr: Option<(&libc::sockaddr, libc::socklen_t)>) -> c_int {
    bev.incref();
    let result = connect_inner(bev, addr);
    bev.decref();
    result
}

/// The first half of `bufferevent_socket_connect`, shared by the kinds
/// that connect a socket: makes a nonblocking socket when there is no fd
/// yet, and starts connecting it to `addr` if given. None when that fails
/// at once (a socket made here is closed again; the caller's is not).
pub(super) fn open_and_connect(
    fd: c_int,
    addr: Option<(&libc::sockaddr, libc::socklen_t)>,
) -> Option<(c_int, sys::Connect)> {
    let mut fd = fd;
    let mut own_fd = false;
    if fd < 0 {
        let (sa, _) = addr?;
        fd = sys::socket_nonblocking(sa.sa_family.into()).ok()?;
        own_fd = true;
    }
    let Some((sa, len)) = addr else {
        return Some((fd, sys::Connect::InProgress));
    };
    match sys::connect(fd, sa, len) {
        Ok(outcome) => Some((fd, outcome)),
        Err(_) => {
            if own_fd {
                sys::close(fd);
            }
            None
        }
    }
}

fn connect_inner(bev: &Bufferevent, addr: Option<(&libc::sockaddr, libc::socklen_t)>) -> c_int {
    let Some((fd, outcome)) = open_and_connect(fd(bev), addr) else {
        return -1;
    };
    set_fd(bev, fd);
    let st = state(bev);
    match outcome {
        sys::Connect::InProgress => {
            if enable(bev, EV_WRITE) == 0 {
                st.connecting.set(true);
                return 0;
            }
            -1
        }
        sys::Connect::Done => {
            st.connecting.set(true);
            bev.trigger(EV_WRITE, BEV_OPT_DEFER_CALLBACKS);
            0
        }
        sys::Connect::Refused => {
            bev.run_eventcb(BEV_EVENT_ERROR, BEV_OPT_DEFER_CALLBACKS);
            bev.disable(EV_WRITE | EV_READ);
            0
        }
    }
}

/// Whether the event is still registered (it may have been deleted by a
/// callback that ran in between).
fn still_inserted(ev: EvPtr) -> bool {
    ev.flags() & EVLIST_INSERTED != 0
}

/// The read event's handler.
unsafe extern "C" fn on_read(fd: c_int, what: c_short, arg: *mut c_void) {
    // SAFETY: arg is the bufferevent these events were assigned for; its
    // events are deleted before its memory goes away.
    let bev = unsafe { &*arg.cast::<Bufferevent>() };
    bev.loop_work(|bev| readable(bev, fd, what));
}

fn readable(bev: &Bufferevent, fd: c_int, what: c_short) {
    let mut flags = BEV_EVENT_READING;
    if what == EV_TIMEOUT {
        flags |= BEV_EVENT_TIMEOUT;
        bev.disable(EV_READ);
        bev.run_eventcb(flags, 0);
        return;
    }
    let input = bev.input();
    let mut howmuch = bev.max_to_read();
    let high = bev.wm_read().high;
    if high != 0 {
        let room = high.saturating_sub(input.len());
        if room == 0 {
            bev.suspend_read(SUSPEND_WM);
            return;
        }
        howmuch = howmuch.min(room);
    }
    if bev.read_suspended() || howmuch == 0 {
        return;
    }
    input.set_frozen(FrozenEnd::Back, false);
    let res = input.read_from_fd(fd, howmuch);
    input.set_frozen(FrozenEnd::Back, true);
    match res {
        Ok(0) => flags |= BEV_EVENT_EOF,
        Ok(n) => {
            if n < howmuch {
                bev.base().clear_ready(fd, EV_READ);
            }
            ratelimit::charge(bev, false, n);
            // A read that filled its allowance may have left more behind,
            // and a closed peer's end of stream is still to be read.
            if bev.base().is_ready(fd, EV_READ) && still_inserted(bev.ev_read()) {
                bev.base().report_again(bev.ev_read());
            }
            bev.trigger(EV_READ, 0);
            return;
        }
        Err(e) if sys::is_retriable(&e) => {
            bev.base().clear_ready(fd, EV_READ);
            // Nothing was there: 2.1.12 would not have been woken, so the
            // read timeout keeps running from where it was.
            bev.base().undo_rearm(bev.ev_read());
            return;
        }
        Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => {
            state(bev).connection_refused.set(true);
            return;
        }
        Err(_) => flags |= BEV_EVENT_ERROR,
    }
    bev.disable(EV_READ);
    bev.run_eventcb(flags, 0);
}

/// The write event's handler.
unsafe extern "C" fn on_write(fd: c_int, what: c_short, arg: *mut c_void) {
    // SAFETY: as in on_read.
    let bev = unsafe { &*arg.cast::<Bufferevent>() };
    bev.loop_work(|bev| writable(bev, fd, what));
}

fn writable(bev: &Bufferevent, fd: c_int, what: c_short) {
    let mut flags = BEV_EVENT_WRITING;
    if what == EV_TIMEOUT {
        flags |= BEV_EVENT_TIMEOUT;
        bev.disable(EV_WRITE);
        bev.run_eventcb(flags, 0);
        return;
    }
    let st = state(bev);
    let mut connected = false;
    if st.connecting.get() {
        let mut finished = sys::finished_connecting(fd);
        if st.connection_refused.replace(false) {
            finished = -1;
        }
        if finished == 0 {
            return;
        }
        st.connecting.set(false);
        if finished < 0 {
            bev.base().del(bev.ev_write());
            bev.base().del(bev.ev_read());
            bev.run_eventcb(BEV_EVENT_ERROR, 0);
            return;
        }
        connected = true;
        bev.run_eventcb(BEV_EVENT_CONNECTED, 0);
        if bev.enabled() & EV_WRITE == 0 || bev.write_suspended() {
            bev.base().del(bev.ev_write());
            return;
        }
    }
    if bev.write_suspended() {
        return;
    }
    let output = bev.output();
    let mut wrote = 0;
    if !output.is_empty() {
        let atmost = bev.max_to_write();
        // Asking for the share may have suspended writing (a thread-safe
        // rate-limit group out of tokens): nothing goes out then.
        if bev.write_suspended() {
            return;
        }
        let attempt = atmost.min(output.len());
        output.set_frozen(FrozenEnd::Front, false);
        let res = output.write_to_fd(fd, atmost);
        output.set_frozen(FrozenEnd::Front, true);
        match res {
            Ok(0) => flags |= BEV_EVENT_EOF,
            Ok(n) => {
                wrote = n;
                ratelimit::charge(bev, true, n);
                if n < attempt {
                    bev.base().clear_ready(fd, EV_WRITE);
                } else if !output.is_empty() && still_inserted(bev.ev_write()) {
                    bev.base().report_again(bev.ev_write());
                }
            }
            Err(e) if sys::is_retriable(&e) => {
                bev.base().clear_ready(fd, EV_WRITE);
                if output.is_empty() {
                    bev.base().del(bev.ev_write());
                }
                return;
            }
            Err(_) => flags |= BEV_EVENT_ERROR,
        }
        if flags & (BEV_EVENT_EOF | BEV_EVENT_ERROR) != 0 {
            bev.disable(EV_WRITE);
            bev.run_eventcb(flags, 0);
            return;
        }
    }
    if output.is_empty() {
        bev.base().del(bev.ev_write());
    }
    if wrote > 0 || !connected {
        bev.trigger(EV_WRITE, 0);
    }
}

/// The output's change callback: data added while writing is enabled
/// starts the write event.
fn output_changed(_buf: &Buffer, info: &CbInfo, arg: *mut c_void) {
    // SAFETY: arg is the bufferevent owning this output.
    let bev = unsafe { &*arg.cast::<Bufferevent>() };
    if info.n_added == 0 || bev.enabled() & EV_WRITE == 0 || bev.write_suspended() {
        return;
    }
    if bev.base().pending(bev.ev_write(), EV_WRITE).0 != 0 {
        return;
    }
    add_event(bev, bev.ev_write(), bev.timeout_write());
}

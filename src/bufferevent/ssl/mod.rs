//! TLS bufferevents over OpenSSL. Two transports share one state machine
//! (handshake, then open):
//! - the socket variant drives the SSL straight on its fd (a socket BIO),
//!   with the reactor's edge-triggered readiness: WANT_READ or WANT_WRITE
//!   means the fd is drained or full, anything else leaves it ready and a
//!   pass that stops early queues itself for the next loop pass;
//! - the filter variant gives the SSL two memory BIOs and moves the raw
//!   bytes between them and the underlying bufferevent's buffers.
//!
//! Rate limits are charged with the raw (encrypted) bytes the BIOs moved.

use std::cell::Cell;
use std::ffi::{c_int, c_long, c_short, c_ulong, c_void};

use openssl_sys::{BIO, SSL};

use crate::buffer::{Buffer, CbInfo};
use crate::ffi::bufferevent_struct::bufferevent;
use crate::log;
use crate::reactor::event_mem::{EVLIST_X_EDGE, EvPtr};
use crate::reactor::{Base, EV_FINALIZE, EV_PERSIST, EV_READ, EV_TIMEOUT, EV_WRITE};
use crate::sys;

mod io;

use io::{consider_reading, consider_writing, do_handshake, note_counts};

use super::filter::SUSPEND_FILTER_READ;
use super::{
    BEV_EVENT_EOF, BEV_EVENT_ERROR, BEV_EVENT_READING, BEV_EVENT_TIMEOUT, BEV_EVENT_WRITING,
    BEV_OPT_CLOSE_ON_FREE, BEV_OPT_DEFER_CALLBACKS, Bufferevent, Callbacks, Kind, timers,
};

/// `enum bufferevent_ssl_state`.
pub const BUFFEREVENT_SSL_OPEN: c_int = 0;
pub const BUFFEREVENT_SSL_CONNECTING: c_int = 1;
pub const BUFFEREVENT_SSL_ACCEPTING: c_int = 2;

/// How many OpenSSL error codes a bufferevent keeps for the program.
const MAX_ERRORS: usize = 3;

// Values of OpenSSL's headers behind macros that openssl-sys does not wrap.
const SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER: c_long = 0x2;
const SSL_CTRL_MODE: c_int = 33;
const BIO_C_GET_FD: c_int = 105;
const BIO_CTRL_SET_CLOSE: c_int = 9;
const BIO_C_SET_BUF_MEM_EOF_RETURN: c_int = 130;
const BIO_CTRL_PENDING: c_int = 10;
const SSL_RECEIVED_SHUTDOWN: c_int = 2;
const SSL_ERROR_NONE: c_int = 0;
const SSL_ERROR_SSL: c_int = 1;
const SSL_ERROR_WANT_READ: c_int = 2;
const SSL_ERROR_WANT_WRITE: c_int = 3;
const SSL_ERROR_WANT_X509_LOOKUP: c_int = 4;
const SSL_ERROR_SYSCALL: c_int = 5;
const SSL_ERROR_ZERO_RETURN: c_int = 6;

// Functions of libssl and libcrypto that openssl-sys does not declare.
unsafe extern "C" {
    fn SSL_set_fd(ssl: *mut SSL, fd: c_int) -> c_int;
    fn SSL_clear(ssl: *mut SSL) -> c_int;
    fn SSL_renegotiate(ssl: *mut SSL) -> c_int;
    fn ERR_peek_error() -> c_ulong;
    fn ERR_get_error() -> c_ulong;
    fn BIO_number_read(bio: *mut BIO) -> u64;
    fn BIO_number_written(bio: *mut BIO) -> u64;
}

/// Where the handshake stands.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Phase {
    Handshake,
    Open,
}

/// The TLS state of a bufferevent.
pub struct SslState {
    ssl: *mut SSL,
    /// The bufferevent under a filter variant; null for the socket variant.
    underlying: *const Bufferevent,
    phase: Cell<Phase>,
    /// The `bufferevent_ssl_state` it was created with, which setfd
    /// starts over from.
    init_state: c_int,
    /// The EVUTIL_EAI_* code of the last failed `connect_hostname` lookup.
    dns_error: Cell<c_int>,
    /// The socket variant's fd was in blocking mode when it was bound.
    blocking_fd: Cell<bool>,
    allow_dirty_shutdown: Cell<bool>,
    errors: Cell<[u32; MAX_ERRORS]>,
    n_errors: Cell<usize>,
    /// SSL_read asked to write first (a renegotiation).
    read_wants_write: Cell<bool>,
    /// SSL_write asked to read first.
    write_wants_read: Cell<bool>,
    /// Length of a write OpenSSL asked us to repeat (0: none): a retried
    /// SSL_write must be given the same length.
    last_write: Cell<usize>,
    /// BIO byte counts already charged to the rate limits.
    counted_read: Cell<u64>,
    counted_written: Cell<u64>,
}

fn state(bev: &Bufferevent) -> &SslState {
    match &bev.kind {
        Kind::Ssl(s) => s,
        _ => unreachable!("ssl handlers run only on ssl bufferevents"),
    }
}

/// The TLS state of `bev` if it is an OpenSSL bufferevent.
pub fn of(bev: &Bufferevent) -> Option<&SslState> {
    match &bev.kind {
        Kind::Ssl(s) => Some(s),
        _ => None,
    }
}

fn under_of(st: &SslState) -> Option<&Bufferevent> {
    // SAFETY: a filter variant holds a reference on its underlying
    // bufferevent until its own teardown.
    (!st.underlying.is_null()).then(|| unsafe { &*st.underlying })
}

/// The bufferevent under a filter variant.
pub fn underlying(bev: &Bufferevent) -> Option<&Bufferevent> {
    of(bev).and_then(under_of)
}

impl SslState {
    fn new(ssl: *mut SSL, underlying: *const Bufferevent, init_state: c_int) -> SslState {
        SslState {
            ssl,
            underlying,
            init_state,
            dns_error: Cell::new(0),
            blocking_fd: Cell::new(false),
            phase: Cell::new(Phase::Open),
            allow_dirty_shutdown: Cell::new(false),
            errors: Cell::new([0; MAX_ERRORS]),
            n_errors: Cell::new(0),
            read_wants_write: Cell::new(false),
            write_wants_read: Cell::new(false),
            last_write: Cell::new(0),
            counted_read: Cell::new(0),
            counted_written: Cell::new(0),
        }
    }

    pub fn ssl(&self) -> *mut SSL {
        self.ssl
    }

    pub fn allow_dirty_shutdown(&self) -> bool {
        self.allow_dirty_shutdown.get()
    }

    pub fn set_allow_dirty_shutdown(&self, on: bool) {
        self.allow_dirty_shutdown.set(on);
    }

    /// Keeps an OpenSSL error code; past MAX_ERRORS new ones are dropped.
    fn push_error(&self, err: c_ulong) {
        let n = self.n_errors.get();
        if n == MAX_ERRORS {
            return;
        }
        let mut all = self.errors.get();
        // OpenSSL's codes fit 32 bits, as they must on 32-bit longs.
        all[n] = err as u32;
        self.errors.set(all);
        self.n_errors.set(n + 1);
    }

    /// `bufferevent_get_openssl_error`: the last kept code (0: none left).
    pub fn pop_error(&self) -> c_ulong {
        let n = self.n_errors.get();
        if n == 0 {
            return 0;
        }
        self.n_errors.set(n - 1);
        self.errors.get()[n - 1] as c_ulong
    }
}

/// The fd an SSL's write BIO is bound to, or -1.
fn bio_fd(ssl: *mut SSL) -> c_int {
    // SAFETY: ssl is the program's live SSL; a NULL BIO is checked.
    unsafe {
        let bio = openssl_sys::SSL_get_wbio(ssl);
        if bio.is_null() {
            return -1;
        }
        openssl_sys::BIO_ctrl(bio, BIO_C_GET_FD, 0, std::ptr::null_mut()) as c_int
    }
}

fn free_ssl_if_owned(ssl: *mut SSL, options: c_int) {
    if options & BEV_OPT_CLOSE_ON_FREE != 0 {
        // SAFETY: with CLOSE_ON_FREE the program gave us the SSL to free.
        unsafe { openssl_sys::SSL_free(ssl) };
    }
}

/// `bufferevent_openssl_socket_new`: NULL if the SSL is bound to another
/// fd or `st` is no state (the SSL is then freed with CLOSE_ON_FREE).
pub fn socket_new(
    base: *mut Base,
    mut fd: c_int,
    ssl: *mut SSL,
    st: c_int,
    options: c_int,
) -> *mut Bufferevent {
    let have_fd = bio_fd(ssl);
    if have_fd >= 0 {
        if fd < 0 {
            fd = have_fd;
        } else if fd != have_fd {
            log::warn("bufferevent_openssl_socket_new: the SSL is bound to another fd");
            free_ssl_if_owned(ssl, options);
            return std::ptr::null_mut();
        }
        // SAFETY: the BIO exists (it gave us its fd); only its close flag
        // changes, so that freeing the SSL leaves closing to us.
        unsafe {
            let bio = openssl_sys::SSL_get_wbio(ssl);
            openssl_sys::BIO_ctrl(bio, BIO_CTRL_SET_CLOSE, 0, std::ptr::null_mut());
        }
    } else if fd >= 0 {
        // SAFETY: binding the program's SSL to the fd it gave us; the
        // socket BIO made does not close the fd.
        unsafe { SSL_set_fd(ssl, fd) };
    }
    create(base, std::ptr::null(), fd, ssl, st, options)
}

/// `bufferevent_openssl_filter_new` (the underlying is checked by the caller).
pub fn filter_new(
    under: &Bufferevent,
    ssl: *mut SSL,
    st: c_int,
    options: c_int,
) -> *mut Bufferevent {
    // SAFETY: making two memory BIOs and handing both to the program's
    // SSL, which owns them from then on.
    unsafe {
        let rbio = openssl_sys::BIO_new(openssl_sys::BIO_s_mem());
        let wbio = openssl_sys::BIO_new(openssl_sys::BIO_s_mem());
        if rbio.is_null() || wbio.is_null() {
            openssl_sys::BIO_free_all(rbio);
            openssl_sys::BIO_free_all(wbio);
            free_ssl_if_owned(ssl, options);
            return std::ptr::null_mut();
        }
        // An empty read BIO means "wait for more", not end of stream.
        openssl_sys::BIO_ctrl(rbio, BIO_C_SET_BUF_MEM_EOF_RETURN, -1, std::ptr::null_mut());
        openssl_sys::SSL_set_bio(ssl, rbio, wbio);
    }
    create(under.base_ptr(), under, -1, ssl, st, options)
}

fn create(
    base: *mut Base,
    under: *const Bufferevent,
    fd: c_int,
    ssl: *mut SSL,
    st: c_int,
    options: c_int,
) -> *mut Bufferevent {
    if !(BUFFEREVENT_SSL_OPEN..=BUFFEREVENT_SSL_ACCEPTING).contains(&st) {
        log::warn("bufferevent_openssl: unknown bufferevent_ssl_state");
        free_ssl_if_owned(ssl, options);
        return std::ptr::null_mut();
    }
    // SAFETY: setting a mode bit on the program's live SSL: a retried
    // write may come from another address holding the same bytes.
    unsafe {
        openssl_sys::SSL_ctrl(
            ssl,
            SSL_CTRL_MODE,
            SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER,
            std::ptr::null_mut(),
        )
    };
    if st != BUFFEREVENT_SSL_OPEN && !prepare_handshake(ssl, st) {
        free_ssl_if_owned(ssl, options);
        return std::ptr::null_mut();
    }
    let kind = Kind::Ssl(Box::new(SslState::new(ssl, under, st)));
    // SAFETY: a non-null `under` is the live bufferevent the caller checked.
    let lock = unsafe { under.as_ref() }.and_then(|u| Bufferevent::wrapper_lock(u, options));
    let raw = Bufferevent::create_sharing(base, options, kind, lock);
    // SAFETY: raw is the live bufferevent just made.
    let bev = unsafe { &*raw };
    let s = state(bev);
    if st != BUFFEREVENT_SSL_OPEN {
        s.phase.set(Phase::Handshake);
    }
    note_counts(s);
    bev.output().add_internal_cb(output_added, raw.cast());
    match under_of(s) {
        None => {
            assign_events(bev, fd);
            if fd >= 0 && s.phase.get() == Phase::Handshake {
                bev.enable(bev.enabled());
            }
        }
        Some(under) => {
            timers::assign(bev);
            take_underlying_callbacks(bev, under);
            under.incref();
            under.set_watermark(EV_READ, 0, 0);
            under.enable(EV_READ | EV_WRITE);
            if s.phase.get() == Phase::Open {
                under.suspend_read(SUSPEND_FILTER_READ);
            }
        }
    }
    raw
}

/// Resets the SSL for a fresh handshake on the side `st` names; false if
/// OpenSSL refuses.
fn prepare_handshake(ssl: *mut SSL, st: c_int) -> bool {
    // SAFETY: resetting the program's SSL for a fresh handshake.
    if unsafe { SSL_clear(ssl) } == 0 {
        return false;
    }
    // SAFETY: choosing the handshake side of the live SSL.
    unsafe {
        match st {
            BUFFEREVENT_SSL_CONNECTING => openssl_sys::SSL_set_connect_state(ssl),
            _ => openssl_sys::SSL_set_accept_state(ssl),
        }
    }
    true
}

/// `bufferevent_setfd` on the socket variant: binds the SSL to `new_fd`
/// and starts over in the state it was created in (a fresh handshake, or
/// open with the waiting sides still waiting).
pub fn set_fd(bev: &Bufferevent, new_fd: c_int) -> c_int {
    let s = state(bev);
    if !s.underlying.is_null() {
        // LIMITATION: 2.1.12 lets bufferevent_setfd rebind a filter
        // variant's underlying and restart its handshake; ours answers -1
        // and changes nothing; it would need the underlying's set_fd and
        // fresh memory BIOs here.
        return -1;
    }
    let base = bev.base();
    let reading = base.pending(bev.ev_read(), EV_READ).0 != 0;
    let writing = base.pending(bev.ev_write(), EV_WRITE).0 != 0;
    base.del(bev.ev_read());
    base.del(bev.ev_write());
    base.own_fd(fd(bev), false);
    if new_fd >= 0 {
        // SAFETY: binding the live SSL to the fd the program gave; the
        // socket BIO made does not close it.
        unsafe { SSL_set_fd(s.ssl, new_fd) };
    }
    s.read_wants_write.set(false);
    s.write_wants_read.set(false);
    s.last_write.set(0);
    note_counts(s);
    assign_events(bev, new_fd);
    if s.init_state == BUFFEREVENT_SSL_OPEN {
        s.phase.set(Phase::Open);
        let mut r = 0;
        if reading {
            r |= add_event(bev, bev.ev_read(), bev.timeout_read());
        }
        if writing {
            r |= add_event(bev, bev.ev_write(), bev.timeout_write());
        }
        return r;
    }
    if !prepare_handshake(s.ssl, s.init_state) {
        return -1;
    }
    s.phase.set(Phase::Handshake);
    if new_fd >= 0 {
        bev.enable(bev.enabled());
    }
    0
}

/// `bufferevent_socket_connect` on the socket variant: makes a socket if
/// it has none, starts connecting, and binds the SSL to it; the handshake
/// starts once the connection is writable.
pub fn connect(bev: &Bufferevent, addr: Option<(&libc::sockaddr, libc::socklen_t)>) -> c_int {
    if !state(bev).underlying.is_null() {
        return -1;
    }
    bev.incref();
    let r = connect_inner(bev, addr);
    bev.decref();
    r
}

fn connect_inner(bev: &Bufferevent, addr: Option<(&libc::sockaddr, libc::socklen_t)>) -> c_int {
    let Some((fd, outcome)) = super::socket::open_and_connect(fd(bev), addr) else {
        return -1;
    };
    set_fd(bev, fd);
    match outcome {
        sys::Connect::InProgress | sys::Connect::Done => {
            add_event(bev, bev.ev_write(), bev.timeout_write())
        }
        sys::Connect::Refused => {
            bev.run_eventcb(BEV_EVENT_ERROR, BEV_OPT_DEFER_CALLBACKS);
            bev.disable(EV_WRITE | EV_READ);
            0
        }
    }
}

/// `bufferevent_socket_connect_hostname` without an evdns base, for the
/// socket variant: a blocking lookup, then `connect`. A failed lookup is
/// reported as BEV_EVENT_ERROR and kept for `dns_error`.
pub fn connect_hostname(
    bev: &Bufferevent,
    family: c_int,
    host: Option<&std::ffi::CStr>,
    port: u16,
) -> c_int {
    let s = state(bev);
    if !s.underlying.is_null() {
        return -1;
    }
    bev.incref();
    s.dns_error.set(0);
    match sys::resolve_first(host, port, family) {
        Ok(addr) => {
            if connect(bev, Some((addr.as_sockaddr(), addr.len()))) < 0 {
                bev.run_eventcb(BEV_EVENT_ERROR, 0);
            }
        }
        Err(code) => {
            s.dns_error.set(code);
            bev.run_eventcb(BEV_EVENT_ERROR, 0);
        }
    }
    bev.decref();
    0
}

/// `bufferevent_socket_get_dns_error`.
pub fn dns_error(bev: &Bufferevent) -> c_int {
    state(bev).dns_error.get()
}

fn take_underlying_callbacks(bev: &Bufferevent, under: &Bufferevent) {
    under.set_callbacks(Callbacks {
        read: Some(under_read),
        write: Some(under_write),
        event: Some(under_event),
        arg: std::ptr::from_ref(bev).cast_mut().cast(),
    });
}

/// Points both events at `fd` with our handlers (socket variant).
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
    let flags = if fd >= 0 {
        // SAFETY: fcntl(F_GETFL) only reads the fd's flags; -1 for a bad fd.
        unsafe { libc::fcntl(fd, libc::F_GETFL) }
    } else {
        -1
    };
    state(bev)
        .blocking_fd
        .set(flags >= 0 && flags & libc::O_NONBLOCK == 0);
}

/// The fd under the bufferevent: its own or its underlying's.
pub fn fd(bev: &Bufferevent) -> c_int {
    match underlying(bev) {
        Some(under) => under.fd(),
        None => bev.ev_read().fd(),
    }
}

fn add_event(bev: &Bufferevent, ev: EvPtr, tv: libc::timeval) -> c_int {
    if ev.fd() < 0 {
        return 0;
    }
    match bev.base().add(ev, Bufferevent::timeout_ns(tv), false) {
        Ok(()) => 0,
        Err(_) => -1,
    }
}

fn start_reading(bev: &Bufferevent) -> c_int {
    let s = state(bev);
    if let Some(under) = under_of(s) {
        under.unsuspend_read(SUSPEND_FILTER_READ);
        return 0;
    }
    let mut r = add_event(bev, bev.ev_read(), bev.timeout_read());
    if r == 0 && s.read_wants_write.get() {
        r = add_event(bev, bev.ev_write(), bev.timeout_write());
    }
    r
}

fn start_writing(bev: &Bufferevent) -> c_int {
    let s = state(bev);
    if let Some(under) = under_of(s) {
        if s.write_wants_read.get() {
            under.unsuspend_read(SUSPEND_FILTER_READ);
        }
        return 0;
    }
    let mut r = add_event(bev, bev.ev_write(), bev.timeout_write());
    if r == 0 && s.write_wants_read.get() {
        r = add_event(bev, bev.ev_read(), bev.timeout_read());
    }
    r
}

fn stop_reading(bev: &Bufferevent) {
    let s = state(bev);
    if s.write_wants_read.get() {
        return;
    }
    match under_of(s) {
        Some(under) => under.suspend_read(SUSPEND_FILTER_READ),
        None => bev.base().del(bev.ev_read()),
    }
}

fn stop_writing(bev: &Bufferevent) {
    let s = state(bev);
    if s.read_wants_write.get() {
        return;
    }
    // A filter variant writes into the underlying's output, which the
    // underlying flushes on its own; nothing to stop there.
    if under_of(s).is_none() {
        bev.base().del(bev.ev_write());
    }
}

fn set_read_wants_write(bev: &Bufferevent) -> c_int {
    let s = state(bev);
    if s.underlying.is_null() {
        stop_reading(bev);
    }
    s.read_wants_write.set(true);
    start_writing(bev)
}

fn set_write_wants_read(bev: &Bufferevent) -> c_int {
    let s = state(bev);
    if s.underlying.is_null() {
        stop_writing(bev);
    }
    s.write_wants_read.set(true);
    start_reading(bev)
}

fn clear_read_wants_write(bev: &Bufferevent) -> c_int {
    state(bev).read_wants_write.set(false);
    if bev.enabled() & EV_WRITE == 0 {
        stop_writing(bev);
    }
    if bev.enabled() & EV_READ != 0 {
        return start_reading(bev);
    }
    0
}

fn clear_write_wants_read(bev: &Bufferevent) -> c_int {
    state(bev).write_wants_read.set(false);
    if bev.enabled() & EV_READ == 0 {
        stop_reading(bev);
    }
    if bev.enabled() & EV_WRITE != 0 {
        return start_writing(bev);
    }
    0
}

pub fn enable(bev: &Bufferevent, what: c_short) -> c_int {
    let mut r = 0;
    if what & EV_READ != 0 && start_reading(bev) < 0 {
        r = -1;
    }
    if what & EV_WRITE != 0 && start_writing(bev) < 0 {
        r = -1;
    }
    if !state(bev).underlying.is_null() {
        if what & EV_READ != 0 {
            timers::reset_read(bev);
        }
        if what & EV_WRITE != 0 {
            timers::reset_write(bev);
        }
        if state(bev).phase.get() == Phase::Open {
            if what & EV_READ != 0 {
                consider_reading(bev);
            }
            if what & EV_WRITE != 0 {
                consider_writing(bev);
            }
        }
    }
    r
}

pub fn disable(bev: &Bufferevent, what: c_short) -> c_int {
    if what & EV_READ != 0 {
        stop_reading(bev);
    }
    if what & EV_WRITE != 0 {
        stop_writing(bev);
    }
    if !state(bev).underlying.is_null() {
        timers::stop(bev, what);
    }
    0
}

/// `bufferevent_set_timeouts`: the socket variant re-arms the events that
/// wait; the filter variant's timers follow the enabled sides.
pub fn adjust_timeouts(bev: &Bufferevent) -> c_int {
    if !state(bev).underlying.is_null() {
        return timers::adjust(bev);
    }
    // The socket variant's events wait on its fd as a socket kind's do.
    super::socket::adjust_timeouts(bev)
}

/// At the last reference: a socket variant lets its fd go; a filter
/// variant frees its underlying with CLOSE_ON_FREE, else hands it back
/// quiet and reading.
pub fn unlink(bev: &Bufferevent) {
    let s = state(bev);
    let Some(under) = under_of(s) else {
        bev.base().own_fd(fd(bev), false);
        return;
    };
    super::filter::release_underlying(bev, under);
}

/// On the loop after the last reference: with CLOSE_ON_FREE the socket
/// variant closes its fd and the SSL is freed (no close_notify is sent);
/// the filter's reference on its underlying goes.
pub fn destruct(bev: &Bufferevent) {
    let s = state(bev);
    if bev.options() & BEV_OPT_CLOSE_ON_FREE != 0 {
        if s.underlying.is_null() {
            let fd = bio_fd(s.ssl);
            if fd >= 0 {
                sys::close(fd);
            }
        }
        // SAFETY: with CLOSE_ON_FREE the SSL is ours to free, once.
        unsafe { openssl_sys::SSL_free(s.ssl) };
    }
    if let Some(under) = under_of(s) {
        under.decref();
    }
}

/// `bufferevent_ssl_renegotiate`: starts a new handshake as the client
/// side would; -1 if OpenSSL refuses at once.
pub fn renegotiate(bev: &Bufferevent) -> c_int {
    let s = state(bev);
    // SAFETY: asking the live SSL for a renegotiation.
    if unsafe { SSL_renegotiate(s.ssl) } < 0 {
        return -1;
    }
    s.phase.set(Phase::Handshake);
    if s.underlying.is_null() {
        bev.incref();
        let r = do_handshake(bev);
        bev.decref();
        return r;
    }
    0
}

/// The socket variant's read event.
unsafe extern "C" fn on_read(_fd: c_int, what: c_short, arg: *mut c_void) {
    // SAFETY: arg is the bufferevent these events were assigned for; its
    // events are deleted before its memory goes away.
    let bev = unsafe { &*arg.cast::<Bufferevent>() };
    bev.loop_work(|bev| on_event(bev, what, BEV_EVENT_READING));
}

/// The socket variant's write event.
unsafe extern "C" fn on_write(_fd: c_int, what: c_short, arg: *mut c_void) {
    // SAFETY: as in on_read.
    let bev = unsafe { &*arg.cast::<Bufferevent>() };
    bev.loop_work(|bev| on_event(bev, what, BEV_EVENT_WRITING));
}

fn on_event(bev: &Bufferevent, what: c_short, side: c_short) {
    let handshaking = state(bev).phase.get() == Phase::Handshake;
    if what & EV_TIMEOUT != 0 {
        // During the handshake the side is not named; neither case
        // disables anything, as in 2.1.12.
        let flags = if handshaking {
            BEV_EVENT_TIMEOUT
        } else {
            BEV_EVENT_TIMEOUT | side
        };
        bev.run_eventcb(flags, 0);
        return;
    }
    if handshaking {
        do_handshake(bev);
    } else if side == BEV_EVENT_READING {
        consider_reading(bev);
    } else {
        consider_writing(bev);
    }
}

/// The filter behind an underlying's callback argument.
fn filter_of<'a>(arg: *mut c_void) -> &'a Bufferevent {
    // SAFETY: the underlying's callbacks are ours only while the filter
    // variant lives (unlink clears them), with it as their argument.
    unsafe { &*arg.cast::<Bufferevent>() }
}

fn from_underlying(arg: *mut c_void, reading: bool) {
    let bev = filter_of(arg);
    if bev.refcount() == 0 {
        return;
    }
    bev.incref();
    if state(bev).phase.get() == Phase::Handshake {
        do_handshake(bev);
    } else if reading {
        consider_reading(bev);
    } else {
        consider_writing(bev);
    }
    bev.decref();
}

unsafe extern "C" fn under_read(_under: *mut bufferevent, arg: *mut c_void) {
    from_underlying(arg, true);
}

unsafe extern "C" fn under_write(_under: *mut bufferevent, arg: *mut c_void) {
    from_underlying(arg, false);
}

/// The underlying's events: its end of stream is an error unless dirty
/// shutdowns are allowed; its timeouts and errors pass through; its
/// CONNECTED is not ours to report (the handshake is).
unsafe extern "C" fn under_event(_under: *mut bufferevent, what: c_short, arg: *mut c_void) {
    let bev = filter_of(arg);
    if bev.refcount() == 0 {
        return;
    }
    let event = if what & BEV_EVENT_EOF != 0 {
        if state(bev).allow_dirty_shutdown.get() {
            BEV_EVENT_EOF
        } else {
            BEV_EVENT_ERROR
        }
    } else if what & (BEV_EVENT_TIMEOUT | BEV_EVENT_ERROR) != 0 {
        what
    } else {
        0
    };
    if event != 0 {
        bev.run_eventcb(event, 0);
    }
}

/// The output's change callback: data added once open starts writing.
fn output_added(_buf: &Buffer, info: &CbInfo, arg: *mut c_void) {
    // SAFETY: arg is the bufferevent owning this output.
    let bev = unsafe { &*arg.cast::<Bufferevent>() };
    let s = state(bev);
    if info.n_added == 0 || s.phase.get() != Phase::Open {
        return;
    }
    if s.underlying.is_null() {
        if bev.enabled() & EV_WRITE != 0
            && !bev.write_suspended()
            && bev.base().pending(bev.ev_write(), EV_WRITE).0 == 0
        {
            add_event(bev, bev.ev_write(), bev.timeout_write());
        }
    } else {
        bev.incref();
        consider_writing(bev);
        bev.decref();
    }
}

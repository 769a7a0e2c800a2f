//! evdns: an asynchronous stub resolver over our reactor, the client side
//! of `event2/dns.h`: `evdns_getaddrinfo`, the `evdns_base_resolve_*`
//! calls, and the old global resolver of `dns_compat.h`.
//!
//! A base talks UDP to its nameservers, one connected socket each, and
//! asks A, AAAA and PTR questions; the wire format is hickory-proto's (see
//! [`wire`]). Everything runs on the loop's thread. A handler that calls a
//! program's callback holds a strong reference to the resolver's state,
//! so `evdns_base_free` from inside a callback tears the state down at
//! once but frees its memory only when the handler is done with it.
//!
//! Nameserver health follows libevent: a nameserver that lets a question
//! run out of attempts, or times out more than `max-timeouts` times in a
//! row, or answers REFUSED or NOTIMPL, is marked down; questions then go
//! to the nameservers still up (to any when none is), and the down one is
//! probed after `initial-probe-timeout`, then at growing intervals, until
//! it answers.

pub mod conf;
#[cfg(test)]
mod prop_tests;
pub mod server;
mod wire;

use std::cell::{Cell, RefCell};
use std::ffi::{CStr, CString, c_char, c_int, c_short, c_void};
use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::rc::Rc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicPtr, Ordering};

use crate::ffi::event_struct::event;
use crate::reactor::event_mem::EvPtr;
use crate::reactor::{Base, EV_PERSIST, EV_READ, EV_TIMEOUT};
use crate::util::resolve::{self, EAI_CANCEL};
use crate::{log, mem, util};

pub const DNS_ERR_NONE: i32 = 0;
pub const DNS_ERR_FORMAT: i32 = 1;
pub const DNS_ERR_SERVERFAILED: i32 = 2;
pub const DNS_ERR_NOTEXIST: i32 = 3;
pub const DNS_ERR_NOTIMPL: i32 = 4;
pub const DNS_ERR_REFUSED: i32 = 5;
pub const DNS_ERR_TRUNCATED: i32 = 65;
pub const DNS_ERR_UNKNOWN: i32 = 66;
pub const DNS_ERR_TIMEOUT: i32 = 67;
pub const DNS_ERR_SHUTDOWN: i32 = 68;
pub const DNS_ERR_CANCEL: i32 = 69;
pub const DNS_ERR_NODATA: i32 = 70;

pub const DNS_OPTION_SEARCH: i32 = 1;
pub const DNS_OPTION_NAMESERVERS: i32 = 2;
pub const DNS_OPTION_MISC: i32 = 4;
pub const DNS_OPTION_HOSTSFILE: i32 = 8;
pub const DNS_OPTIONS_ALL: i32 = 15;
pub const DNS_OPTION_NAMESERVERS_NO_DEFAULT: i32 = 16;

pub const DNS_IPV4_A: c_char = 1;
pub const DNS_PTR: c_char = 2;
pub const DNS_IPV6_AAAA: c_char = 3;

pub const DNS_QUERY_NO_SEARCH: i32 = 1;

pub const EVDNS_BASE_INITIALIZE_NAMESERVERS: i32 = 1;
pub const EVDNS_BASE_DISABLE_WHEN_INACTIVE: i32 = 0x8000;
pub const EVDNS_BASE_NAMESERVERS_NO_DEFAULT: i32 = 0x10000;

/// `EVUTIL_AI_NUMERICHOST` and `EVUTIL_AI_CANONNAME` (glibc's values).
const AI_NUMERICHOST: i32 = libc::AI_NUMERICHOST;
const AI_CANONNAME: i32 = libc::AI_CANONNAME;

/// `evdns_getaddrinfo_cb`.
pub type GaiCallback = crate::ffi::dns::evdns_getaddrinfo_cb;

/// `evdns_callback_type`.
pub type ResolveCallback = crate::ffi::dns::evdns_callback_type;

/// `evdns_debug_log_fn_type`.
pub type LogFn = crate::ffi::dns::evdns_debug_log_fn_type;

use wire::{Kind, Outcome};

/// How many times a question that a nameserver refused is sent elsewhere.
const MAX_REISSUES: u32 = 1;

/// The longest wait between two probes of a down nameserver.
const MAX_PROBE_NS: u64 = 3600 * 1_000_000_000;

/// The question a probe asks, as libevent's does.
const PROBE_NAME: &str = "google.com";

/// `struct evdns_base`: what the program holds.
pub struct EvdnsBase {
    inner: Rc<Inner>,
}

/// `struct evdns_getaddrinfo_request`: one `evdns_getaddrinfo` in flight.
pub struct Lookup {
    inner: *const Inner,
    cb: GaiCallback,
    arg: *mut c_void,
    port: u16,
    socktype: i32,
    protocol: i32,
    want_cname: bool,
    /// Whether the A (index 0) and AAAA (index 1) questions are still asked.
    inflight: [bool; 2],
    /// Answers that came while the other question was still out.
    results: [Option<Vec<IpAddr>>; 2],
    pending_error: i32,
    cname: Option<String>,
    canceled: bool,
    /// Set once the program's callback has been (or is being) called.
    done: bool,
    /// How long to wait for the other question once one is answered; also
    /// the deferred report of a cancellation.
    skew: event,
}

/// `struct evdns_request`: one `evdns_base_resolve_*` in flight. The
/// program's pointer stays valid until its callback has run.
pub struct ResolveRequest {
    inner: *const Inner,
    cb: ResolveCallback,
    arg: *mut c_void,
}

/// Whom a question answers.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Owner {
    Lookup(*mut Lookup),
    Request(*mut ResolveRequest),
    /// A probe of a down nameserver (the one the question is pinned to).
    Probe,
}

/// One question to the nameservers (with its search-list candidates).
struct Query {
    ev: event,
    inner: *const Inner,
    owner: Owner,
    kind: Kind,
    /// The nameserver every transmission goes to (probes only).
    pin: Option<usize>,
    /// How many times it was sent elsewhere after a refusal.
    reissues: u32,
    id: u16,
    /// The names to try in order, and which one is being asked.
    names: Vec<String>,
    at: usize,
    /// The name as sent (its case randomized when that option is on).
    sent: String,
    tx: u32,
    server: Option<usize>,
}

struct Server {
    addr: SocketAddr,
    sock: UdpSocket,
    ev: Box<event>,
    watching: bool,
    /// Whether we think it works.
    up: bool,
    /// Probes that failed since it went down (counting the going down).
    failed_times: u32,
    /// Timeouts since it last sent anything.
    timedout: u32,
    /// When to probe it while down; its argument is `probe_arg`.
    probe_ev: Box<event>,
    /// Owned here only so that the probe event's argument stays put.
    _probe_arg: Box<ProbeArg>,
}

/// What a probe timer needs to know.
struct ProbeArg {
    inner: *const Inner,
    idx: usize,
}

struct Inner {
    base: *mut Base,
    disable_when_inactive: bool,
    freed: Cell<bool>,
    st: RefCell<State>,
}

struct State {
    servers: Vec<Server>,
    next_server: usize,
    suspended: bool,
    timeout_ns: u64,
    skew_ns: u64,
    /// Transmissions of a question before it fails (libevent's int).
    attempts: i64,
    /// libevent keeps an int, so negative values mean "always as given".
    ndots: i64,
    randomize_case: bool,
    /// Timeouts in a row that mark a nameserver down (max-timeouts).
    max_timeouts: u32,
    /// Questions out at once; the others wait (max-inflight).
    max_inflight: usize,
    /// The first wait before probing a down nameserver.
    probe_initial_ns: u64,
    /// The local address of sockets to non-loopback nameservers (bind-to).
    bind_to: Option<SocketAddr>,
    so_rcvbuf: i32,
    so_sndbuf: i32,
    search: Vec<String>,
    hosts: Vec<(String, IpAddr)>,
    // Boxed: events and the program hold their addresses.
    #[allow(clippy::vec_box)]
    queries: Vec<Box<Query>>,
    #[allow(clippy::vec_box)]
    lookups: Vec<Box<Lookup>>,
    #[allow(clippy::vec_box)]
    requests: Vec<Box<ResolveRequest>>,
}

/// A program callback to call once no state is borrowed.
struct Report {
    cb: GaiCallback,
    result: c_int,
    list: *mut libc::addrinfo,
    arg: *mut c_void,
}

impl Report {
    fn call(self) {
        if let Some(f) = self.cb {
            // SAFETY: the program gave this callback for exactly this call.
            unsafe { f(self.result, self.list, self.arg) };
        }
    }
}

/// The outcome of an `evdns_base_resolve_*` request, delivered from the
/// loop as libevent delivers it (never inside the call that caused it).
struct ResolveReport {
    cb: ResolveCallback,
    arg: *mut c_void,
    result: c_int,
    kind: c_char,
    count: c_int,
    ttl: c_int,
    /// The addresses as the C array: `in_addr`s or `in6_addr`s.
    addrs: Vec<u8>,
    /// The name of a PTR answer.
    name: Option<CString>,
    /// The program's handle, kept allocated until the callback returns so
    /// that a late `evdns_cancel_request` finds it finished, not reused.
    _request: Option<Box<ResolveRequest>>,
}

impl ResolveReport {
    fn failure(cb: ResolveCallback, arg: *mut c_void, result: i32, ttl: u32) -> ResolveReport {
        ResolveReport {
            cb,
            arg,
            result,
            kind: 0,
            count: 0,
            ttl: ttl as c_int,
            addrs: Vec::new(),
            name: None,
            _request: None,
        }
    }

    fn call(mut self) {
        let Some(f) = self.cb else { return };
        // For a PTR answer the callback gets a pointer to a `char *`.
        let mut name_ptr: *const c_char =
            self.name.as_ref().map_or(std::ptr::null(), |n| n.as_ptr());
        let addresses: *mut c_void = if self.name.is_some() {
            (&raw mut name_ptr).cast()
        } else if self.addrs.is_empty() {
            std::ptr::null_mut()
        } else {
            self.addrs.as_mut_ptr().cast()
        };
        // SAFETY: the program gave this callback for exactly this call;
        // addresses points at data alive until it returns.
        unsafe {
            f(
                self.result,
                self.kind,
                self.count,
                self.ttl,
                addresses,
                self.arg,
            )
        };
    }
}

fn zero_event() -> event {
    // SAFETY: an all-zero struct event is a valid unassigned event.
    unsafe { std::mem::zeroed() }
}

fn ev_ptr(ev: &event) -> EvPtr {
    EvPtr::new(std::ptr::from_ref(ev).cast_mut()).expect("a reference is not null")
}

/// Takes a strong reference to the state from an event's argument.
///
/// # Safety
/// `p` came from `Rc::as_ptr` of a live `Rc<Inner>`.
unsafe fn hold(p: *const Inner) -> Rc<Inner> {
    // SAFETY: p is a live Rc's pointer (caller's contract); we add one
    // strong count and wrap it, so the count stays balanced.
    unsafe {
        Rc::increment_strong_count(p);
        Rc::from_raw(p)
    }
}

impl EvdnsBase {
    /// `evdns_base_new`: None when the nameservers were to be read from
    /// /etc/resolv.conf and that failed (no file, or no nameserver in it),
    /// as in libevent. Unknown flags mean EVDNS_BASE_INITIALIZE_NAMESERVERS.
    pub fn new(base: *mut Base, mut flags: i32) -> Option<Box<EvdnsBase>> {
        const KNOWN: i32 = EVDNS_BASE_INITIALIZE_NAMESERVERS
            | EVDNS_BASE_DISABLE_WHEN_INACTIVE
            | EVDNS_BASE_NAMESERVERS_NO_DEFAULT;
        if flags & !KNOWN != 0 {
            warn(|| {
                "evdns_base_new: unknown flags; taking them as \
                 EVDNS_BASE_INITIALIZE_NAMESERVERS"
                    .to_string()
            });
            flags = EVDNS_BASE_INITIALIZE_NAMESERVERS;
        }
        let inner = Rc::new(Inner {
            base,
            disable_when_inactive: flags & EVDNS_BASE_DISABLE_WHEN_INACTIVE != 0,
            freed: Cell::new(false),
            st: RefCell::new(State {
                servers: Vec::new(),
                next_server: 0,
                suspended: false,
                timeout_ns: 5_000_000_000,
                skew_ns: 3_000_000_000,
                attempts: 3,
                ndots: 1,
                randomize_case: true,
                max_timeouts: 3,
                max_inflight: 64,
                probe_initial_ns: 10_000_000_000,
                bind_to: None,
                so_rcvbuf: 0,
                so_sndbuf: 0,
                search: Vec::new(),
                hosts: Vec::new(),
                queries: Vec::new(),
                lookups: Vec::new(),
                requests: Vec::new(),
            }),
        });
        let me = Box::new(EvdnsBase { inner });
        if flags & EVDNS_BASE_INITIALIZE_NAMESERVERS != 0 {
            let mut opts = DNS_OPTIONS_ALL;
            if flags & EVDNS_BASE_NAMESERVERS_NO_DEFAULT != 0 {
                opts |= DNS_OPTION_NAMESERVERS_NO_DEFAULT;
            }
            if me.resolv_conf_parse(opts, Some(c"/etc/resolv.conf")) != 0 {
                me.free(false);
                return None;
            }
        }
        Some(me)
    }

    /// `evdns_base_free`: with `fail_requests`, every lookup still running
    /// is answered from the loop's next pass with EVUTIL_EAI_FAIL (the
    /// getaddrinfo code of DNS_ERR_SHUTDOWN); otherwise nothing is called.
    // Takes the box the program's handle came from: freeing it is the point.
    #[allow(clippy::boxed_local)]
    pub fn free(self: Box<Self>, fail_requests: bool) {
        let reports = self.inner.shutdown(fail_requests);
        let base = self.inner.base;
        for r in reports {
            defer_report(base, r);
        }
    }

    /// The address of nameserver `idx` as a `struct sockaddr_in` or
    /// `sockaddr_in6`, in the order they were added.
    pub fn nameserver_addr(&self, idx: usize) -> Option<Vec<u8>> {
        let st = self.inner.st.borrow();
        let a = st.servers.get(idx)?.addr;
        Some(sockaddr_bytes(&a.ip(), a.port()))
    }

    /// `evdns_base_clear_host_addresses`: forgets every hosts entry.
    pub fn clear_hosts(&self) {
        self.inner.st.borrow_mut().hosts.clear();
    }

    pub fn count_nameservers(&self) -> i32 {
        self.inner.st.borrow().servers.len() as i32
    }

    /// `evdns_base_nameserver_sockaddr_add` and friends: 0, or 3 when the
    /// nameserver was already there, or 1 when no socket could be made.
    pub fn add_nameserver(&self, addr: SocketAddr) -> i32 {
        let r = self.inner.add_server(addr);
        self.inner.pump();
        r
    }

    /// `evdns_base_nameserver_ip_add`: as add_nameserver, or 4 when the
    /// text is not an address.
    pub fn nameserver_ip_add(&self, text: &str) -> i32 {
        match conf::nameserver_addr(text) {
            Some(sa) => self.add_nameserver(sa),
            None => {
                warn(|| format!("evdns: unable to parse nameserver address {text}"));
                4
            }
        }
    }

    /// `evdns_base_clear_nameservers_and_suspend`: the questions being
    /// asked wait until `resume` and a new nameserver.
    pub fn clear_and_suspend(&self) {
        let inner = &self.inner;
        let mut st = inner.st.borrow_mut();
        st.suspended = true;
        st.queries.retain(|q| {
            inner.base().del(ev_ptr(&q.ev));
            q.owner != Owner::Probe
        });
        for q in st.queries.iter_mut() {
            q.server = None;
            q.tx = 0;
            q.reissues = 0;
        }
        for s in st.servers.drain(..) {
            inner.base().del(ev_ptr(&s.ev));
            inner.base().del(ev_ptr(&s.probe_ev));
        }
    }

    pub fn resume(&self) {
        self.inner.st.borrow_mut().suspended = false;
        self.inner.pump();
    }

    /// `evdns_base_set_option`: 0, or -1 for a value that does not parse.
    pub fn set_option(&self, name: &str, value: &str) -> i32 {
        self.set_option_for(name, value, DNS_OPTIONS_ALL)
    }

    /// Sets an option if `flags` (DNS_OPTION_*) select its group, as
    /// resolv.conf parsing does; a value that does not parse is -1 even
    /// when the group is not selected.
    fn set_option_for(&self, name: &str, value: &str, flags: i32) -> i32 {
        let is = |opt: &str| conf::option_matches(name, opt);
        let misc = flags & DNS_OPTION_MISC != 0;
        let mut st = self.inner.st.borrow_mut();
        if is("ndots:") {
            let Some(n) = conf::strtoint(value) else {
                return -1;
            };
            if flags & DNS_OPTION_SEARCH != 0 {
                st.ndots = n;
            }
        } else if is("timeout:") {
            let Some(ns) = conf::seconds(value) else {
                return -1;
            };
            if misc {
                st.timeout_ns = ns;
            }
        } else if is("getaddrinfo-allow-skew:") {
            let Some(ns) = conf::seconds(value) else {
                return -1;
            };
            if misc {
                st.skew_ns = ns;
            }
        } else if is("max-timeouts:") {
            let Some(n) = conf::strtoint(value) else {
                return -1;
            };
            if misc {
                st.max_timeouts = n.clamp(1, 255) as u32;
            }
        } else if is("max-inflight:") {
            let Some(n) = conf::strtoint(value) else {
                return -1;
            };
            if misc {
                st.max_inflight = n.clamp(1, 65000) as usize;
                drop(st);
                self.inner.pump();
            }
        } else if is("attempts:") {
            let Some(n) = conf::strtoint(value) else {
                return -1;
            };
            if misc {
                st.attempts = n.min(255);
            }
        } else if is("randomize-case:") {
            let Some(n) = conf::strtoint(value) else {
                return -1;
            };
            if misc {
                st.randomize_case = n != 0;
            }
        } else if is("bind-to:") {
            // Like libevent, it applies to nameservers added afterwards.
            if flags & DNS_OPTION_NAMESERVERS == 0 {
                return 0;
            }
            let Some(addr) = conf::bind_addr(value) else {
                return -1;
            };
            st.bind_to = Some(addr);
        } else if is("initial-probe-timeout:") {
            let Some(ns) = conf::seconds(value) else {
                return -1;
            };
            if misc {
                st.probe_initial_ns = ns.min(MAX_PROBE_NS);
            }
        } else if is("so-rcvbuf:") || is("so-sndbuf:") {
            // Socket buffer sizes of nameservers added afterwards.
            let Some(n) = conf::strtoint(value) else {
                return -1;
            };
            if misc {
                if is("so-rcvbuf:") {
                    st.so_rcvbuf = n as i32;
                } else {
                    st.so_sndbuf = n as i32;
                }
            }
        }
        0
    }

    pub fn search_clear(&self) {
        let mut st = self.inner.st.borrow_mut();
        st.search.clear();
        st.ndots = 1;
    }

    /// `evdns_base_search_add`: the domain added last is tried first, as
    /// in libevent.
    pub fn search_add(&self, domain: &str) {
        let domain = domain.trim_start_matches('.');
        self.inner
            .st
            .borrow_mut()
            .search
            .insert(0, domain.to_string());
    }

    pub fn search_ndots_set(&self, ndots: i32) {
        self.inner.st.borrow_mut().ndots = i64::from(ndots);
    }

    /// `evdns_base_load_hosts`: adds the file's entries; with no file (or
    /// one that cannot be read) adds localhost's two addresses instead.
    pub fn load_hosts(&self, path: Option<&CStr>) -> i32 {
        let text = path.map(|p| std::fs::read(os_path(p)));
        let mut st = self.inner.st.borrow_mut();
        match text {
            Some(Ok(bytes)) => {
                for line in String::from_utf8_lossy(&bytes).lines() {
                    st.hosts.extend(conf::hosts_line(line));
                }
                0
            }
            other => {
                st.hosts.extend(conf::hosts_line("127.0.0.1 localhost"));
                st.hosts.extend(conf::hosts_line("::1 localhost"));
                if other.is_some() { -1 } else { 0 }
            }
        }
    }

    /// `evdns_base_resolv_conf_parse`: 0, 1 when the file could not be
    /// opened, 6 when it named no nameserver (127.0.0.1 is then added
    /// unless DNS_OPTION_NAMESERVERS_NO_DEFAULT).
    pub fn resolv_conf_parse(&self, flags: i32, path: Option<&CStr>) -> i32 {
        let mut add_default = flags & DNS_OPTION_NAMESERVERS != 0;
        if flags & DNS_OPTION_NAMESERVERS_NO_DEFAULT != 0 {
            add_default = false;
        }
        if flags & DNS_OPTION_HOSTSFILE != 0 {
            self.load_hosts(Some(c"/etc/hosts"));
        }
        let text = match path.map(|p| std::fs::read(os_path(p))) {
            Some(Ok(t)) => t,
            _ => {
                self.set_defaults(flags, add_default);
                return 1;
            }
        };
        let text = String::from_utf8_lossy(&text);
        for d in conf::resolv_conf(&text) {
            match d {
                conf::Directive::Nameserver(a) if flags & DNS_OPTION_NAMESERVERS != 0 => {
                    match conf::nameserver_addr(&a) {
                        Some(sa) => {
                            self.add_nameserver(sa);
                        }
                        None => warn(|| format!("evdns: bad nameserver address {a}")),
                    }
                }
                conf::Directive::Search(list) if flags & DNS_OPTION_SEARCH != 0 => {
                    let mut st = self.inner.st.borrow_mut();
                    st.search = list
                        .iter()
                        .map(|d| d.trim_start_matches('.').to_string())
                        .collect();
                }
                conf::Directive::Option(name, value) => {
                    self.set_option_for(&name, &value, flags);
                }
                _ => {}
            }
        }
        let mut err = 0;
        if add_default && self.count_nameservers() == 0 {
            self.add_nameserver(SocketAddr::from(([127, 0, 0, 1], 53)));
            err = 6;
        }
        if flags & DNS_OPTION_SEARCH != 0 && self.inner.st.borrow().search.is_empty() {
            self.search_from_hostname();
        }
        err
    }

    fn set_defaults(&self, flags: i32, add_default: bool) {
        if flags & DNS_OPTION_SEARCH != 0 {
            self.search_from_hostname();
        }
        if add_default {
            self.add_nameserver(SocketAddr::from(([127, 0, 0, 1], 53)));
        }
    }

    /// The search list libevent makes when none is configured: the
    /// domain part of this host's name, if it has one.
    fn search_from_hostname(&self) {
        let mut buf = [0u8; 256];
        // SAFETY: buf is writable for its length; gethostname NUL-terminates
        // within it on success.
        let r = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) };
        if r != 0 {
            return;
        }
        let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
        let host = String::from_utf8_lossy(&buf[..end]).into_owned();
        let mut st = self.inner.st.borrow_mut();
        st.search.clear();
        if let Some((_, domain)) = host.split_once('.')
            && !domain.is_empty()
        {
            st.search.push(domain.to_string());
        }
    }

    /// `evdns_base_resolve_ipv4` and `_ipv6`: the names of the search list
    /// unless `flags` has DNS_QUERY_NO_SEARCH; None if the name cannot be
    /// asked. The callback always runs from the loop.
    pub fn resolve(
        &self,
        v6: bool,
        name: &CStr,
        flags: i32,
        cb: ResolveCallback,
        arg: *mut c_void,
    ) -> Option<*mut ResolveRequest> {
        let name = name.to_str().ok()?;
        debug(|| format!("evdns: resolve requested for {name}"));
        let kind = if v6 { Kind::Aaaa } else { Kind::A };
        let search = flags & DNS_QUERY_NO_SEARCH == 0;
        self.inner.resolve(kind, name, search, cb, arg)
    }

    /// `evdns_base_resolve_reverse` and `_ipv6`: a PTR question, never
    /// searched.
    pub fn resolve_reverse(
        &self,
        ip: &IpAddr,
        cb: ResolveCallback,
        arg: *mut c_void,
    ) -> Option<*mut ResolveRequest> {
        let name = reverse_name(ip);
        debug(|| format!("evdns: resolve requested for {name} (reverse)"));
        self.inner.resolve(Kind::Ptr, &name, false, cb, arg)
    }

    /// `evdns_cancel_request` with this base: nothing unless `req` is one
    /// of its requests whose callback is not on its way yet.
    pub fn cancel_request(&self, req: *mut ResolveRequest) {
        self.inner.cancel_request(req);
    }

    /// `evdns_getaddrinfo`: answers at once (returning NULL) when it can,
    /// else starts the questions and returns the request.
    pub fn getaddrinfo(
        &self,
        node: Option<&CStr>,
        service: Option<&CStr>,
        hints: Option<&libc::addrinfo>,
        cb: GaiCallback,
        arg: *mut c_void,
    ) -> *mut Lookup {
        let now = |result: i32, list: *mut libc::addrinfo| {
            Report {
                cb,
                result,
                list,
                arg,
            }
            .call();
            std::ptr::null_mut()
        };
        if hints.is_some_and(|h| h.ai_flags & AI_NUMERICHOST != 0) {
            let (err, list) = resolve::getaddrinfo(node, service, hints);
            return now(err, list);
        }
        // SAFETY: addrinfo is integers and pointers; all-zero is valid.
        let mut h: libc::addrinfo = unsafe { std::mem::zeroed() };
        match hints {
            Some(given) => h = *given,
            None => h.ai_family = libc::AF_UNSPEC,
        }
        let name = node.map(|n| n.to_string_lossy().into_owned());
        let numeric = match &name {
            None => true,
            Some(n) => n.parse::<IpAddr>().is_ok() || n.contains('%'),
        };
        if numeric {
            // An address in the family asked for is answered as libevent's
            // evdns answers it (TCP and UDP entries only); anything else
            // (no host, a scope, a family mismatch) as getaddrinfo would.
            let ip = name.as_deref().and_then(|n| n.parse::<IpAddr>().ok());
            let fits = |ip: &IpAddr| match h.ai_family {
                libc::AF_INET => ip.is_ipv4(),
                libc::AF_INET6 => ip.is_ipv6(),
                _ => true,
            };
            if let Some(ip) = ip.filter(fits)
                && let Ok(port) = service_port(service, h.ai_family)
            {
                let list = build_list(&[ip], port, h.ai_socktype, h.ai_protocol, None);
                return match list {
                    Some(list) => now(0, list),
                    None => now(libc::EAI_MEMORY, std::ptr::null_mut()),
                };
            }
            h.ai_flags |= AI_NUMERICHOST;
            let (err, list) = resolve::getaddrinfo(node, service, Some(&h));
            return now(err, list);
        }
        let name = name.expect("a non-numeric host has a name");
        let port = match service_port(service, h.ai_family) {
            Ok(p) => p,
            Err(e) => return now(e, std::ptr::null_mut()),
        };
        let inner = &self.inner;
        let hosts: Vec<IpAddr> = {
            let st = inner.st.borrow();
            st.hosts
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(&name))
                .map(|(_, ip)| *ip)
                .collect()
        };
        if !hosts.is_empty() {
            let fit: Vec<IpAddr> = hosts
                .into_iter()
                .filter(|ip| family_fits(h.ai_family, ip))
                .collect();
            return match build_list(&fit, port, h.ai_socktype, h.ai_protocol, None) {
                Some(list) => now(0, list),
                None => now(libc::EAI_MEMORY, std::ptr::null_mut()),
            };
        }
        let mut lookup = Box::new(Lookup {
            inner: Rc::as_ptr(inner),
            cb,
            arg,
            port,
            socktype: h.ai_socktype,
            protocol: h.ai_protocol,
            want_cname: h.ai_flags & AI_CANONNAME != 0,
            inflight: [false; 2],
            results: [None, None],
            pending_error: 0,
            cname: None,
            canceled: false,
            done: false,
            skew: zero_event(),
        });
        let lp: *mut Lookup = &mut *lookup;
        let pri = inner.base().default_priority();
        ev_ptr(&lookup.skew).assign(inner.base, -1, 0, Some(skew_cb), lp.cast(), pri);
        inner.st.borrow_mut().lookups.push(lookup);
        let mut started = false;
        for v6 in [false, true] {
            let skip = if v6 { libc::AF_INET } else { libc::AF_INET6 };
            if h.ai_family != skip && inner.start_query(lp, v6, &name) {
                started = true;
            }
        }
        if !started {
            inner.forget_lookup(lp);
            return now(libc::EAI_FAIL, std::ptr::null_mut());
        }
        lp
    }
}

/// `evdns_getaddrinfo_cancel`: the questions stop; the callback runs on
/// the loop's next pass with EVUTIL_EAI_CANCEL. Nothing once answered.
///
/// # Safety
/// `lp` is a request from [`EvdnsBase::getaddrinfo`] whose callback has
/// not returned yet, and its base is alive.
pub unsafe fn cancel(lp: *mut Lookup) {
    // SAFETY: live request (caller's contract).
    let l = unsafe { &mut *lp };
    if l.done || l.canceled {
        return;
    }
    // SAFETY: the base outlives its requests (caller's contract).
    let inner = unsafe { hold(l.inner) };
    l.canceled = true;
    inner.drop_queries_of(lp);
    l.inflight = [false; 2];
    let skew = ev_ptr(&l.skew);
    inner.base().del(skew);
    inner.base().activate(skew, EV_TIMEOUT);
}

/// `evdns_cancel_request` without a base: the request's own.
///
/// # Safety
/// `req` is a request whose callback has not run yet, and its base is
/// alive.
pub unsafe fn cancel_request(req: *mut ResolveRequest) {
    // SAFETY: a live request (caller's contract); its base is alive.
    let inner = unsafe { hold((*req).inner) };
    inner.cancel_request(req);
}

/// The resolver of the old global API (`evdns_init`, `evdns_resolve_ipv4`,
/// ...), or NULL.
static GLOBAL: AtomicPtr<EvdnsBase> = AtomicPtr::new(std::ptr::null_mut());

/// `evdns_get_global_base`.
pub fn global() -> *mut EvdnsBase {
    GLOBAL.load(Ordering::Acquire)
}

/// Makes `base` the global resolver (NULL to forget it).
pub fn set_global(base: *mut EvdnsBase) {
    GLOBAL.store(base, Ordering::Release);
}

/// Forgets the global resolver if it is `base` (which is being freed).
pub fn forget_global(base: *mut EvdnsBase) {
    let _ = GLOBAL.compare_exchange(
        base,
        std::ptr::null_mut(),
        Ordering::AcqRel,
        Ordering::Acquire,
    );
}

/// The program's evdns log function (`evdns_set_log_fn`).
static LOG_FN: Mutex<LogFn> = Mutex::new(None);

/// `evdns_set_log_fn`.
pub fn set_log_fn(f: LogFn) {
    *LOG_FN.lock().unwrap_or_else(|e| e.into_inner()) = f;
}

/// Hands a resolver message to the program's evdns log function, which
/// in libevent gets every message, debug ones too; true if there is one.
fn to_log_fn(is_warning: bool, msg: impl FnOnce() -> String) -> Option<impl FnOnce() -> String> {
    let f = *LOG_FN.lock().unwrap_or_else(|e| e.into_inner());
    let Some(f) = f else { return Some(msg) };
    let text = CString::new(msg().replace('\0', " ")).unwrap_or_default();
    // SAFETY: the program's log function, called with a NUL-terminated
    // message that outlives the call; no lock is held.
    unsafe { f(c_int::from(is_warning), text.as_ptr()) };
    None
}

/// A resolver warning: to the evdns log function, else libevent's log.
fn warn(msg: impl FnOnce() -> String) {
    if let Some(msg) = to_log_fn(true, msg) {
        log::warn(&msg());
    }
}

/// A resolver notice (libevent's EVDNS_LOG_MSG level).
fn info(msg: impl FnOnce() -> String) {
    if let Some(msg) = to_log_fn(false, msg) {
        log::emit(log::EVENT_LOG_MSG, &msg());
    }
}

/// A resolver debug message.
fn debug(msg: impl FnOnce() -> String) {
    if let Some(msg) = to_log_fn(false, msg) {
        log::debug(msg);
    }
}

fn os_path(p: &CStr) -> std::path::PathBuf {
    use std::os::unix::ffi::OsStrExt;
    std::path::PathBuf::from(std::ffi::OsStr::from_bytes(p.to_bytes()))
}

fn family_fits(family: i32, ip: &IpAddr) -> bool {
    match ip {
        IpAddr::V4(_) => family != libc::AF_INET6,
        IpAddr::V6(_) => family != libc::AF_INET,
    }
}

/// The port of `service`: 0 for none, a number, or a service name looked
/// up in the local services database through the C library.
fn service_port(service: Option<&CStr>, family: i32) -> Result<u16, i32> {
    let Some(s) = service else { return Ok(0) };
    if let Ok(n) = s.to_string_lossy().parse::<u16>() {
        return Ok(n);
    }
    // SAFETY: addrinfo is integers and pointers; all-zero is valid.
    let mut h: libc::addrinfo = unsafe { std::mem::zeroed() };
    h.ai_family = if family == libc::AF_INET6 {
        libc::AF_INET6
    } else {
        libc::AF_INET
    };
    h.ai_flags = AI_NUMERICHOST;
    let host = if family == libc::AF_INET6 {
        c"::1"
    } else {
        c"127.0.0.1"
    };
    let (err, list) = resolve::getaddrinfo(Some(host), Some(s), Some(&h));
    if err != 0 {
        return Err(err);
    }
    // SAFETY: a successful lookup returns a live list with an address of
    // the family asked for; the port sits at the same offset in both.
    let port = unsafe {
        let sin = (*list).ai_addr.cast::<libc::sockaddr_in>();
        let p = u16::from_be((*sin).sin_port);
        resolve::freeaddrinfo(list);
        p
    };
    Ok(port)
}

/// The bytes of a `sockaddr_in` or `sockaddr_in6` for `ip` and `port`.
fn sockaddr_bytes(ip: &IpAddr, port: u16) -> Vec<u8> {
    match ip {
        IpAddr::V4(v4) => {
            // SAFETY: sockaddr_in is plain integers; all-zero is valid.
            let mut sin: libc::sockaddr_in = unsafe { std::mem::zeroed() };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_port = port.to_be();
            sin.sin_addr.s_addr = u32::from_ne_bytes(v4.octets());
            as_bytes(&sin)
        }
        IpAddr::V6(v6) => {
            // SAFETY: as above for sockaddr_in6.
            let mut sin6: libc::sockaddr_in6 = unsafe { std::mem::zeroed() };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_port = port.to_be();
            sin6.sin6_addr.s6_addr = v6.octets();
            as_bytes(&sin6)
        }
    }
}

/// The bytes of a socket address struct (only `sockaddr_in` and
/// `sockaddr_in6`, which have no padding bytes, are passed here).
fn as_bytes<T>(v: &T) -> Vec<u8> {
    // SAFETY: v is a live sockaddr_in or sockaddr_in6: size_of::<T>()
    // initialized bytes, none of them padding.
    unsafe { std::slice::from_raw_parts(std::ptr::from_ref(v).cast::<u8>(), size_of::<T>()) }
        .to_vec()
}

/// Builds the addrinfo list for `addrs` as libevent does: with no socket
/// type or protocol asked for, each address comes twice, TCP then UDP.
/// None when memory runs out; NULL (Some) for no addresses.
fn build_list(
    addrs: &[IpAddr],
    port: u16,
    socktype: i32,
    protocol: i32,
    cname: Option<&str>,
) -> Option<*mut libc::addrinfo> {
    // As libevent infers them: a socket type implies its protocol and
    // the other way round; neither means both TCP and UDP.
    let kinds: Vec<(i32, i32)> = match (socktype, protocol) {
        (0, 0) => vec![
            (libc::SOCK_STREAM, libc::IPPROTO_TCP),
            (libc::SOCK_DGRAM, libc::IPPROTO_UDP),
        ],
        (libc::SOCK_STREAM, 0) => vec![(socktype, libc::IPPROTO_TCP)],
        (libc::SOCK_DGRAM, 0) => vec![(socktype, libc::IPPROTO_UDP)],
        (0, libc::IPPROTO_TCP) => vec![(libc::SOCK_STREAM, protocol)],
        (0, libc::IPPROTO_UDP) => vec![(libc::SOCK_DGRAM, protocol)],
        _ => vec![(socktype, protocol)],
    };
    let mut head: *mut libc::addrinfo = std::ptr::null_mut();
    let mut tail: *mut libc::addrinfo = std::ptr::null_mut();
    for ip in addrs {
        let sa = sockaddr_bytes(ip, port);
        for &(t, p) in &kinds {
            let e = resolve::new_entry(&sa, t, p);
            if e.is_null() {
                if !head.is_null() {
                    // SAFETY: head is a list we built from new_entry.
                    unsafe { resolve::freeaddrinfo(head) };
                }
                return None;
            }
            if tail.is_null() {
                head = e;
            } else {
                // SAFETY: tail is the live last entry of our list.
                unsafe { (*tail).ai_next = e };
            }
            tail = e;
        }
    }
    if let (Some(name), false) = (cname, head.is_null()) {
        let copy = mem::malloc(name.len() + 1).cast::<u8>();
        if !copy.is_null() {
            // SAFETY: copy holds name.len() + 1 bytes; head is our entry,
            // whose canonname evutil_freeaddrinfo frees with mem::free.
            unsafe {
                std::ptr::copy_nonoverlapping(name.as_ptr(), copy, name.len());
                *copy.add(name.len()) = 0;
                (*head).ai_canonname = copy.cast();
            }
        }
    }
    Some(head)
}

/// Runs `r` from the loop's next pass (libevent reports failures of a
/// freed base through deferred callbacks).
fn defer_report(base: *mut Base, r: Report) {
    let raw = Box::into_raw(Box::new(r));
    // SAFETY: the base outlives its evdns bases (the program frees the
    // evdns base first).
    let ok = unsafe { &*base }.once_releasing(
        -1,
        EV_TIMEOUT,
        Some(deferred_cb),
        raw.cast(),
        None,
        Some(drop_report),
    );
    if ok != 0 {
        // SAFETY: once failed, so the box was not handed on.
        drop(unsafe { Box::from_raw(raw) });
    }
}

/// Frees a report whose base went before it was delivered.
///
/// # Safety
/// `arg` is a box made by defer_report that was never handed on.
unsafe fn drop_report(arg: *mut c_void) {
    // SAFETY: the caller's promise.
    let report = unsafe { Box::from_raw(arg.cast::<Report>()) };
    if !report.list.is_null() {
        // SAFETY: the list was built for this report and never handed on.
        unsafe { resolve::freeaddrinfo(report.list) };
    }
}

unsafe extern "C" fn deferred_cb(_fd: c_int, _what: c_short, arg: *mut c_void) {
    // SAFETY: arg is the box made by defer_report, handed to this one call.
    let r = unsafe { Box::from_raw(arg.cast::<Report>()) };
    r.call();
}

/// Runs `r` from the loop's next pass, as libevent runs the callbacks of
/// `evdns_base_resolve_*` (deferred, also after the evdns base is freed).
fn defer_resolve(base: *mut Base, r: ResolveReport) {
    let raw = Box::into_raw(Box::new(r));
    // SAFETY: the base outlives its evdns bases (the program frees the
    // evdns base first).
    let ok = unsafe { &*base }.once_releasing(
        -1,
        EV_TIMEOUT,
        Some(resolve_cb),
        raw.cast(),
        None,
        Some(drop_resolve),
    );
    if ok != 0 {
        // SAFETY: once failed, so the box was not handed on.
        drop(unsafe { Box::from_raw(raw) });
    }
}

/// Frees a resolve report whose base went before it was delivered.
///
/// # Safety
/// `arg` is a box made by defer_resolve that was never handed on.
unsafe fn drop_resolve(arg: *mut c_void) {
    // SAFETY: the caller's promise.
    drop(unsafe { Box::from_raw(arg.cast::<ResolveReport>()) });
}

unsafe extern "C" fn resolve_cb(_fd: c_int, _what: c_short, arg: *mut c_void) {
    // SAFETY: arg is the box made by defer_resolve, handed to this one call.
    let r = unsafe { Box::from_raw(arg.cast::<ResolveReport>()) };
    r.call();
}

/// The candidates for `name` with the search list: as given first when it
/// has at least `ndots` dots, else last.
fn candidates(st: &State, name: &str) -> Vec<String> {
    if st.search.is_empty() || name.ends_with('.') {
        return vec![name.to_string()];
    }
    let mut out: Vec<String> = st.search.iter().map(|d| format!("{name}.{d}")).collect();
    if name.matches('.').count() as i64 >= st.ndots {
        out.insert(0, name.to_string());
    } else {
        out.push(name.to_string());
    }
    out
}

/// Flips the case of each letter at random (0x20 randomization, which
/// makes forged replies harder to get accepted).
fn randomize_case(name: &str) -> String {
    let mut bits = vec![0u8; name.len()];
    util::rng::fill(&mut bits);
    name.bytes()
        .zip(bits)
        .map(|(c, r)| {
            if c.is_ascii_alphabetic() && r & 1 == 1 {
                (c ^ 0x20) as char
            } else {
                c as char
            }
        })
        .collect()
}

/// The reverse-lookup name of an address: `4.3.2.1.in-addr.arpa` or the
/// nibbles of an IPv6 address under `ip6.arpa`.
pub fn reverse_name(ip: &IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            format!("{}.{}.{}.{}.in-addr.arpa", o[3], o[2], o[1], o[0])
        }
        IpAddr::V6(v6) => {
            let mut s = String::with_capacity(72);
            for b in v6.octets().iter().rev() {
                s.push_str(&format!("{:x}.{:x}.", b & 0x0f, b >> 4));
            }
            s.push_str("ip6.arpa");
            s
        }
    }
}

/// The next nameserver to ask, round robin over those up, or over all of
/// them when none is (libevent's choice, cursor included).
fn pick(st: &mut State) -> Option<usize> {
    let n = st.servers.len();
    if n == 0 {
        return None;
    }
    let start = st.next_server % n;
    if !st.servers.iter().any(|s| s.up) {
        st.next_server = (start + 1) % n;
        return Some(st.next_server);
    }
    let idx = (0..n)
        .map(|k| (start + k) % n)
        .find(|&i| st.servers[i].up)
        .expect("one nameserver is up");
    st.next_server = (idx + 1) % n;
    Some(idx)
}

impl Inner {
    fn base(&self) -> &Base {
        // SAFETY: the event base outlives the evdns bases made on it.
        unsafe { &*self.base }
    }

    /// Opens a socket to `addr` and watches it; 3 if known, 1 or 2 on
    /// failure (libevent's codes).
    fn add_server(&self, addr: SocketAddr) -> i32 {
        let mut st = self.st.borrow_mut();
        if st.servers.iter().any(|s| s.addr == addr) {
            return 3;
        }
        let any: SocketAddr = if addr.is_ipv4() {
            SocketAddr::from(([0, 0, 0, 0], 0))
        } else {
            SocketAddr::from(([0u16; 8], 0))
        };
        // bind-to applies to nameservers off this host only, as in libevent.
        let (local, err) = match st.bind_to {
            Some(b) if !addr.ip().is_loopback() => (b, 2),
            _ => (any, 1),
        };
        let sock = match UdpSocket::bind(local) {
            Ok(s) => s,
            Err(e) => {
                warn(|| format!("evdns: cannot open a socket to {addr} from {local}: {e}"));
                return err;
            }
        };
        let (rcv, snd) = (st.so_rcvbuf, st.so_sndbuf);
        for (opt, size) in [(libc::SO_RCVBUF, rcv), (libc::SO_SNDBUF, snd)] {
            if size != 0
                && crate::sys::setsockopt_int(sock.as_raw_fd(), libc::SOL_SOCKET, opt, size)
                    .is_err()
            {
                warn(|| format!("evdns: cannot set a socket buffer size to {size}"));
                return -opt;
            }
        }
        if let Err(e) = sock.connect(addr).and_then(|()| sock.set_nonblocking(true)) {
            warn(|| format!("evdns: cannot open a socket to {addr}: {e}"));
            return 1;
        }
        let idx = st.servers.len();
        let me = std::ptr::from_ref(self);
        let pri = self.base().default_priority();
        let ev = Box::new(zero_event());
        let fd = sock.as_raw_fd();
        ev_ptr(&ev).assign(
            self.base,
            fd,
            EV_READ | EV_PERSIST,
            Some(read_cb),
            me.cast_mut().cast(),
            pri,
        );
        let probe_arg = Box::new(ProbeArg { inner: me, idx });
        let probe_ev = Box::new(zero_event());
        let parg = std::ptr::from_ref::<ProbeArg>(&probe_arg).cast_mut();
        ev_ptr(&probe_ev).assign(self.base, -1, 0, Some(probe_cb), parg.cast(), pri);
        let mut server = Server {
            addr,
            sock,
            ev,
            watching: false,
            up: true,
            failed_times: 0,
            timedout: 0,
            probe_ev,
            _probe_arg: probe_arg,
        };
        if !self.disable_when_inactive {
            server.watching = self.base().add(ev_ptr(&server.ev), None, false).is_ok();
        }
        st.servers.push(server);
        st.suspended = false;
        0
    }

    /// How many questions are out (sent and not yet over).
    fn inflight(st: &State) -> usize {
        st.queries.iter().filter(|q| q.server.is_some()).count()
    }

    /// Sends every question that waits, in the order they were made, as
    /// far as max-inflight allows.
    fn pump(&self) {
        let waiting: Vec<*mut Query> = {
            let mut st = self.st.borrow_mut();
            if st.servers.is_empty() || st.suspended {
                return;
            }
            st.queries
                .iter_mut()
                .filter(|q| q.server.is_none())
                .map(|q| &mut **q as *mut Query)
                .collect()
        };
        for q in waiting {
            self.transmit(q, None);
        }
    }

    /// Makes a question for `owner`; None if a name cannot be asked.
    fn new_query(&self, owner: Owner, kind: Kind, names: Vec<String>) -> Option<*mut Query> {
        if names
            .iter()
            .any(|n| n.len() >= 256 || wire::query(0, n, kind).is_none())
        {
            return None;
        }
        let mut q = Box::new(Query {
            ev: zero_event(),
            inner: std::ptr::from_ref(self),
            owner,
            kind,
            pin: None,
            reissues: 0,
            id: 0,
            sent: names[0].clone(),
            names,
            at: 0,
            tx: 0,
            server: None,
        });
        let qp: *mut Query = &mut *q;
        let pri = self.base().default_priority();
        ev_ptr(&q.ev).assign(self.base, -1, 0, Some(timeout_cb), qp.cast(), pri);
        self.st.borrow_mut().queries.push(q);
        Some(qp)
    }

    /// Makes a question for `lookup`; false if the name cannot be asked.
    fn start_query(&self, lookup: *mut Lookup, v6: bool, name: &str) -> bool {
        let names = candidates(&self.st.borrow(), name);
        let kind = if v6 { Kind::Aaaa } else { Kind::A };
        let Some(qp) = self.new_query(Owner::Lookup(lookup), kind, names) else {
            return false;
        };
        // SAFETY: lookup is live; its queries are made right after it.
        unsafe { (*lookup).inflight[usize::from(v6)] = true };
        self.transmit(qp, None);
        true
    }

    /// Sends (or re-sends) a question to `to`, its pinned nameserver, or
    /// the next one picked, and arms its timeout. With no nameserver, or
    /// max-inflight questions out already, a new question waits; nothing
    /// then keeps the loop running.
    fn transmit(&self, qp: *mut Query, to: Option<usize>) {
        let mut st = self.st.borrow_mut();
        // SAFETY: qp is one of st.queries, alive while listed there.
        let q = unsafe { &mut *qp };
        if st.servers.is_empty() || st.suspended {
            q.server = None;
            return;
        }
        let idx = match to.or(q.pin) {
            Some(i) if i < st.servers.len() => i,
            _ => {
                if q.server.is_none() && Self::inflight(&st) >= st.max_inflight {
                    return;
                }
                pick(&mut st).expect("there are nameservers")
            }
        };
        if q.tx == 0 {
            q.id = fresh_id(&st);
            q.sent = if st.randomize_case {
                randomize_case(&q.names[q.at])
            } else {
                q.names[q.at].clone()
            };
        }
        let packet = wire::query(q.id, &q.sent, q.kind).expect("names are checked when made");
        let server = &mut st.servers[idx];
        if let Err(e) = server.sock.send(&packet) {
            // Counted as sent: the question times out and is asked again,
            // as libevent does after a failed send.
            debug(|| format!("evdns: send to {} failed: {e}", server.addr));
        }
        if !server.watching {
            server.watching = self.base().add(ev_ptr(&server.ev), None, false).is_ok();
        }
        q.tx += 1;
        q.server = Some(idx);
        let _ = self.base().add(ev_ptr(&q.ev), Some(st.timeout_ns), false);
    }

    /// Stops watching idle nameservers when asked to let the loop end.
    fn idle_check(&self) {
        if !self.disable_when_inactive {
            return;
        }
        let mut st = self.st.borrow_mut();
        let busy: Vec<usize> = st.queries.iter().filter_map(|q| q.server).collect();
        for (i, s) in st.servers.iter_mut().enumerate() {
            if s.watching && !busy.contains(&i) {
                self.base().del(ev_ptr(&s.ev));
                s.watching = false;
            }
        }
    }

    /// Takes the question off the lists and frees it; a waiting question
    /// may go out in its place.
    fn remove_query(&self, qp: *mut Query) {
        let mut st = self.st.borrow_mut();
        if let Some(pos) = st.queries.iter().position(|q| std::ptr::eq(&**q, qp)) {
            let q = st.queries.remove(pos);
            self.base().del(ev_ptr(&q.ev));
        }
        drop(st);
        self.idle_check();
        self.pump();
    }

    fn queries_where(&self, f: impl Fn(&Query) -> bool) -> Vec<*mut Query> {
        self.st
            .borrow_mut()
            .queries
            .iter_mut()
            .filter(|q| f(q))
            .map(|q| &mut **q as *mut Query)
            .collect()
    }

    fn drop_queries_of(&self, lp: *mut Lookup) {
        for q in self.queries_where(|q| q.owner == Owner::Lookup(lp)) {
            self.remove_query(q);
        }
    }

    fn forget_lookup(&self, lp: *mut Lookup) {
        self.drop_queries_of(lp);
        let mut st = self.st.borrow_mut();
        if let Some(pos) = st.lookups.iter().position(|l| std::ptr::eq(&**l, lp)) {
            let l = st.lookups.remove(pos);
            self.base().del(ev_ptr(&l.skew));
        }
    }

    /// Takes a request off the list; None if it is not there (finished).
    fn take_request(&self, rp: *mut ResolveRequest) -> Option<Box<ResolveRequest>> {
        let mut st = self.st.borrow_mut();
        let pos = st.requests.iter().position(|r| std::ptr::eq(&**r, rp))?;
        Some(st.requests.remove(pos))
    }

    /// `evdns_base_resolve_*`: starts the question; None if the name
    /// cannot be asked.
    fn resolve(
        &self,
        kind: Kind,
        name: &str,
        search: bool,
        cb: ResolveCallback,
        arg: *mut c_void,
    ) -> Option<*mut ResolveRequest> {
        let names = if search {
            candidates(&self.st.borrow(), name)
        } else {
            vec![name.to_string()]
        };
        let mut req = Box::new(ResolveRequest {
            inner: std::ptr::from_ref(self),
            cb,
            arg,
        });
        let rp: *mut ResolveRequest = &mut *req;
        let qp = self.new_query(Owner::Request(rp), kind, names)?;
        self.st.borrow_mut().requests.push(req);
        self.transmit(qp, None);
        Some(rp)
    }

    /// `evdns_cancel_request`: the callback runs from the loop with
    /// DNS_ERR_CANCEL; nothing if its outcome is already on its way.
    fn cancel_request(&self, rp: *mut ResolveRequest) {
        let Some(req) = self.take_request(rp) else {
            return;
        };
        for q in self.queries_where(|q| q.owner == Owner::Request(rp)) {
            self.remove_query(q);
        }
        let mut r = ResolveReport::failure(req.cb, req.arg, DNS_ERR_CANCEL, 0);
        r._request = Some(req);
        defer_resolve(self.base, r);
    }

    /// A question is over with `outcome` (never ServFail).
    fn finish(&self, qp: *mut Query, outcome: Outcome) {
        // SAFETY: qp is listed, so alive until remove_query below.
        let (owner, kind, pin) = unsafe { ((*qp).owner, (*qp).kind, (*qp).pin) };
        self.remove_query(qp);
        match owner {
            Owner::Lookup(lp) => {
                let result = match outcome {
                    Outcome::Addrs(addrs, cname, _) => Ok((addrs, cname)),
                    Outcome::Error(e, _) => Err(e),
                    _ => Err(DNS_ERR_UNKNOWN),
                };
                self.finish_lookup(lp, kind == Kind::Aaaa, result);
            }
            Owner::Request(rp) => {
                let Some(req) = self.take_request(rp) else {
                    return;
                };
                let mut r = match outcome {
                    Outcome::Addrs(addrs, _, ttl) => {
                        let mut bytes = Vec::new();
                        for ip in &addrs {
                            match ip {
                                IpAddr::V4(v4) => bytes.extend_from_slice(&v4.octets()),
                                IpAddr::V6(v6) => bytes.extend_from_slice(&v6.octets()),
                            }
                        }
                        let mut r = ResolveReport::failure(req.cb, req.arg, DNS_ERR_NONE, ttl);
                        r.kind = if kind == Kind::Aaaa {
                            DNS_IPV6_AAAA
                        } else {
                            DNS_IPV4_A
                        };
                        r.count = addrs.len() as c_int;
                        r.addrs = bytes;
                        r
                    }
                    Outcome::Name(name, ttl) => {
                        let mut r = ResolveReport::failure(req.cb, req.arg, DNS_ERR_NONE, ttl);
                        r.kind = DNS_PTR;
                        r.count = 1;
                        r.name = Some(CString::new(name).unwrap_or_default());
                        r
                    }
                    Outcome::Error(e, ttl) => ResolveReport::failure(req.cb, req.arg, e, ttl),
                    Outcome::ServFail => {
                        ResolveReport::failure(req.cb, req.arg, DNS_ERR_SERVERFAILED, 0)
                    }
                };
                r._request = Some(req);
                defer_resolve(self.base, r);
            }
            Owner::Probe => {
                let Some(idx) = pin else { return };
                match outcome {
                    Outcome::Addrs(..) | Outcome::Name(..) => self.server_up(idx, qp),
                    Outcome::Error(DNS_ERR_NOTEXIST, _) => self.server_up(idx, qp),
                    _ => self.probe_failed(idx),
                }
            }
        }
    }

    /// A question of a lookup is over: updates the lookup and reports it
    /// when nothing else is awaited.
    fn finish_lookup(
        &self,
        lp: *mut Lookup,
        v6: bool,
        result: Result<(Vec<IpAddr>, Option<String>), i32>,
    ) {
        // SAFETY: a listed question's lookup is alive.
        let l = unsafe { &mut *lp };
        let side = usize::from(v6);
        l.inflight[side] = false;
        let other = l.inflight[1 - side];
        let report = match result {
            Err(e) => {
                let err = if e == DNS_ERR_NOTEXIST {
                    libc::EAI_NONAME
                } else {
                    libc::EAI_FAIL
                };
                if other {
                    l.pending_error = err;
                    self.arm_skew(l);
                    return;
                }
                if l.results.iter().any(Option::is_some) {
                    self.result_list(l)
                } else {
                    (err, std::ptr::null_mut())
                }
            }
            Ok((addrs, cname)) => {
                if l.want_cname && l.cname.is_none() {
                    l.cname = cname;
                }
                l.results[side] = Some(addrs);
                if other {
                    self.arm_skew(l);
                    return;
                }
                self.result_list(l)
            }
        };
        self.report(lp, report.0, report.1);
    }

    fn arm_skew(&self, l: &Lookup) {
        let skew = self.st.borrow().skew_ns;
        let _ = self.base().add(ev_ptr(&l.skew), Some(skew), false);
    }

    /// The list of the answers kept so far, IPv4 first.
    fn result_list(&self, l: &mut Lookup) -> (i32, *mut libc::addrinfo) {
        let mut all = Vec::new();
        for r in l.results.iter_mut() {
            all.extend(r.take().unwrap_or_default());
        }
        let cname = l.cname.take();
        match build_list(&all, l.port, l.socktype, l.protocol, cname.as_deref()) {
            Some(list) => (0, list),
            None => (libc::EAI_MEMORY, std::ptr::null_mut()),
        }
    }

    /// Calls the program's callback for the lookup, then frees it.
    fn report(&self, lp: *mut Lookup, result: i32, list: *mut libc::addrinfo) {
        // SAFETY: lp is listed in st.lookups until forget_lookup.
        let l = unsafe { &mut *lp };
        l.done = true;
        self.drop_queries_of(lp);
        self.base().del(ev_ptr(&l.skew));
        Report {
            cb: l.cb,
            result,
            list,
            arg: l.arg,
        }
        .call();
        if !self.freed.get() {
            self.forget_lookup(lp);
        }
    }

    /// Nameserver `idx` did not answer as it should: it is down until a
    /// probe, sent after initial-probe-timeout, gets an answer.
    fn server_failed(&self, idx: usize) {
        let mut st = self.st.borrow_mut();
        let wait = st.probe_initial_ns;
        let Some(s) = st.servers.get_mut(idx) else {
            return;
        };
        if !s.up {
            return;
        }
        s.up = false;
        s.failed_times = 1;
        let (addr, ev) = (s.addr, ev_ptr(&s.probe_ev));
        let none_left = !st.servers.iter().any(|s| s.up);
        drop(st);
        info(|| format!("evdns: nameserver {addr} has failed"));
        if none_left {
            info(|| "evdns: all nameservers have failed".to_string());
        }
        let _ = self.base().add(ev, Some(wait), false);
    }

    /// Nameserver `idx` answered: it is up again, and its probe (other
    /// than `except`, which is being finished) is dropped.
    fn server_up(&self, idx: usize, except: *mut Query) {
        let mut st = self.st.borrow_mut();
        let Some(s) = st.servers.get_mut(idx) else {
            return;
        };
        if s.up {
            return;
        }
        s.up = true;
        s.failed_times = 0;
        s.timedout = 0;
        let (addr, ev) = (s.addr, ev_ptr(&s.probe_ev));
        drop(st);
        info(|| format!("evdns: nameserver {addr} is back up"));
        self.base().del(ev);
        let probes = self.queries_where(|q| q.owner == Owner::Probe && q.pin == Some(idx));
        for q in probes.into_iter().filter(|&q| q != except) {
            self.remove_query(q);
        }
    }

    /// A probe got no useful answer: the next one waits longer, three
    /// times as long per failure so far, up to an hour.
    fn probe_failed(&self, idx: usize) {
        let mut st = self.st.borrow_mut();
        let mut wait = st.probe_initial_ns;
        let Some(s) = st.servers.get_mut(idx) else {
            return;
        };
        self.base().del(ev_ptr(&s.probe_ev));
        if s.up {
            return;
        }
        for _ in 0..s.failed_times {
            if wait >= MAX_PROBE_NS {
                break;
            }
            wait = wait.saturating_mul(3);
        }
        s.failed_times += 1;
        let ev = ev_ptr(&s.probe_ev);
        drop(st);
        let _ = self.base().add(ev, Some(wait.min(MAX_PROBE_NS)), false);
    }

    /// Sends a probe to down nameserver `idx`: one question that goes to
    /// it alone, whatever max-inflight says.
    fn send_probe(&self, idx: usize) {
        debug(|| format!("evdns: probing nameserver {idx}"));
        let names = vec![PROBE_NAME.to_string()];
        let Some(qp) = self.new_query(Owner::Probe, Kind::A, names) else {
            return;
        };
        // SAFETY: qp was just listed.
        unsafe { (*qp).pin = Some(idx) };
        self.transmit(qp, None);
    }

    /// A reply arrived on nameserver `idx`.
    fn on_packet(&self, idx: usize, packet: &[u8]) {
        if let Some(s) = self.st.borrow_mut().servers.get_mut(idx) {
            s.timedout = 0;
        }
        let Some(reply) = wire::parse(packet) else {
            debug(|| "evdns: dropped a malformed reply".to_string());
            return;
        };
        let qp = {
            let mut st = self.st.borrow_mut();
            let exact = st.randomize_case;
            st.queries
                .iter_mut()
                .find(|q| {
                    // The reply's name comes without the root's final dot,
                    // which an absolute name ("host.example.") was sent with.
                    let sent = match q.sent.strip_suffix('.') {
                        Some(s) if !s.is_empty() => s,
                        _ => &q.sent,
                    };
                    q.server == Some(idx)
                        && q.id == reply.id
                        && q.kind == reply.kind
                        && if exact {
                            sent == reply.qname
                        } else {
                            sent.eq_ignore_ascii_case(&reply.qname)
                        }
                })
                .map(|q| &mut **q as *mut Query)
        };
        let Some(qp) = qp else {
            debug(|| "evdns: dropped a reply that answers no question of ours".to_string());
            return;
        };
        match reply.outcome {
            Outcome::ServFail => self.timed_out(qp),
            Outcome::Error(e, ttl) => {
                if (e == DNS_ERR_NOTIMPL || e == DNS_ERR_REFUSED) && self.reissue(qp, idx) {
                    return;
                }
                if e != DNS_ERR_NOTIMPL && e != DNS_ERR_REFUSED {
                    self.server_up(idx, qp);
                }
                // SAFETY: qp is listed and alive (server_up spared it).
                let q = unsafe { &mut *qp };
                if q.kind != Kind::Ptr && q.at + 1 < q.names.len() {
                    q.at += 1;
                    q.tx = 0;
                    q.reissues = 0;
                    self.base().del(ev_ptr(&q.ev));
                    self.transmit(qp, None);
                } else {
                    self.finish(qp, Outcome::Error(e, ttl));
                }
            }
            answer => {
                self.server_up(idx, qp);
                self.finish(qp, answer);
            }
        }
    }

    /// Nameserver `idx` refused the question or does not know its kind:
    /// it is marked down and the question goes to another one, once. False
    /// when there is no other to ask.
    fn reissue(&self, qp: *mut Query, idx: usize) -> bool {
        // SAFETY: qp is listed and alive.
        let q = unsafe { &mut *qp };
        if q.reissues >= MAX_REISSUES || q.pin.is_some() {
            return false;
        }
        self.server_failed(idx);
        let next = pick(&mut self.st.borrow_mut());
        match next {
            Some(other) if other != idx => {
                // libevent sends it on the next transmission pass or at
                // its timeout; we send it now.
                q.reissues += 1;
                q.tx = 0;
                self.base().del(ev_ptr(&q.ev));
                self.transmit(qp, Some(other));
                true
            }
            _ => false,
        }
    }

    /// No usable reply in time: ask again (another nameserver, which
    /// counts the timeout), or give up after `attempts` and mark the
    /// nameserver down.
    fn timed_out(&self, qp: *mut Query) {
        let (attempts, max_timeouts) = {
            let st = self.st.borrow();
            (st.attempts, st.max_timeouts)
        };
        // SAFETY: qp is listed and alive.
        let q = unsafe { &mut *qp };
        if i64::from(q.tx) >= attempts {
            let last = q.server;
            self.finish(qp, Outcome::Error(DNS_ERR_TIMEOUT, 0));
            if let (Some(idx), false) = (last, self.freed.get()) {
                self.server_failed(idx);
            }
            return;
        }
        self.base().del(ev_ptr(&q.ev));
        self.transmit(qp, None);
        let Some(idx) = q.server else { return };
        let failed = {
            let mut st = self.st.borrow_mut();
            let s = &mut st.servers[idx];
            s.timedout += 1;
            if s.timedout > max_timeouts {
                s.timedout = 0;
                true
            } else {
                false
            }
        };
        if failed {
            self.server_failed(idx);
        }
    }

    /// Tears everything down; with `fail`, returns the reports owed to
    /// lookups and sends those of requests (DNS_ERR_SHUTDOWN) on their way.
    fn shutdown(&self, fail: bool) -> Vec<Report> {
        if self.freed.replace(true) {
            return Vec::new();
        }
        let mut st = self.st.borrow_mut();
        for q in st.queries.drain(..) {
            self.base().del(ev_ptr(&q.ev));
        }
        for s in st.servers.drain(..) {
            self.base().del(ev_ptr(&s.ev));
            self.base().del(ev_ptr(&s.probe_ev));
        }
        for req in st.requests.drain(..) {
            if fail {
                let mut r = ResolveReport::failure(req.cb, req.arg, DNS_ERR_SHUTDOWN, 0);
                r._request = Some(req);
                defer_resolve(self.base, r);
            }
        }
        let mut out = Vec::new();
        for l in st.lookups.drain(..) {
            self.base().del(ev_ptr(&l.skew));
            if fail && !l.done {
                let result = if l.canceled {
                    EAI_CANCEL
                } else {
                    libc::EAI_FAIL
                };
                out.push(Report {
                    cb: l.cb,
                    result,
                    list: std::ptr::null_mut(),
                    arg: l.arg,
                });
            }
        }
        out
    }
}

impl Drop for Inner {
    fn drop(&mut self) {
        let _ = self.shutdown(false);
    }
}

/// A random transaction id no question in flight uses.
fn fresh_id(st: &State) -> u16 {
    loop {
        let mut b = [0u8; 2];
        util::rng::fill(&mut b);
        let id = u16::from_ne_bytes(b);
        if !st.queries.iter().any(|q| q.tx > 0 && q.id == id) {
            return id;
        }
    }
}

/// A nameserver's socket is readable.
unsafe extern "C" fn read_cb(fd: c_int, _what: c_short, arg: *mut c_void) {
    // SAFETY: arg is the Inner this event was assigned for; its events
    // are deleted before it is dropped.
    let inner = unsafe { hold(arg.cast::<Inner>()) };
    let mut buf = [0u8; 1500];
    loop {
        if inner.freed.get() {
            return;
        }
        let got = {
            let st = inner.st.borrow();
            let Some(idx) = st.servers.iter().position(|s| s.sock.as_raw_fd() == fd) else {
                return;
            };
            st.servers[idx].sock.recv(&mut buf).map(|n| (idx, n))
        };
        match got {
            Ok((idx, n)) => inner.on_packet(idx, &buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => return,
            // An ICMP error (nothing listens there) shows up here; the
            // question then times out as libevent's would.
            Err(_) => {}
        }
    }
}

/// A question's timeout.
unsafe extern "C" fn timeout_cb(_fd: c_int, _what: c_short, arg: *mut c_void) {
    let qp = arg.cast::<Query>();
    // SAFETY: a pending timeout belongs to a listed question, whose Inner
    // is alive.
    let inner = unsafe { hold((*qp).inner) };
    inner.timed_out(qp);
}

/// Time to probe a down nameserver.
unsafe extern "C" fn probe_cb(_fd: c_int, _what: c_short, arg: *mut c_void) {
    // SAFETY: arg is the ProbeArg boxed in a listed Server, whose probe
    // event is deleted before the server goes.
    let pa = unsafe { &*arg.cast::<ProbeArg>() };
    // SAFETY: the server is listed, so its Inner is alive.
    let inner = unsafe { hold(pa.inner) };
    inner.send_probe(pa.idx);
}

/// The wait for the second question is over, or a cancellation is due.
unsafe extern "C" fn skew_cb(_fd: c_int, _what: c_short, arg: *mut c_void) {
    let lp = arg.cast::<Lookup>();
    // SAFETY: a pending or active skew event belongs to a listed lookup.
    let l = unsafe { &mut *lp };
    // SAFETY: the lookup's Inner is alive while it is listed.
    let inner = unsafe { hold(l.inner) };
    if l.canceled {
        inner.report(lp, EAI_CANCEL, std::ptr::null_mut());
        return;
    }
    inner.drop_queries_of(lp);
    l.inflight = [false; 2];
    let (err, list) = if l.results.iter().any(Option::is_some) {
        inner.result_list(l)
    } else if l.pending_error != 0 {
        (l.pending_error, std::ptr::null_mut())
    } else {
        (libc::EAI_AGAIN, std::ptr::null_mut())
    };
    inner.report(lp, err, list);
}

/// `evdns_err_to_string`.
pub fn err_to_string(err: i32) -> &'static CStr {
    match err {
        DNS_ERR_NONE => c"no error",
        DNS_ERR_FORMAT => c"misformatted query",
        DNS_ERR_SERVERFAILED => c"server failed",
        DNS_ERR_NOTEXIST => c"name does not exist",
        DNS_ERR_NOTIMPL => c"query not implemented",
        DNS_ERR_REFUSED => c"refused",
        DNS_ERR_TRUNCATED => c"reply truncated or ill-formed",
        DNS_ERR_UNKNOWN => c"unknown",
        DNS_ERR_TIMEOUT => c"request timed out",
        DNS_ERR_SHUTDOWN => c"dns subsystem shut down",
        DNS_ERR_CANCEL => c"dns request canceled",
        DNS_ERR_NODATA => c"no records in the reply",
        _ => c"[Unknown error code]",
    }
}

/// A `struct sockaddr_in` or `sockaddr_in6` given as bytes, as a Rust
/// address; None for another family or a short buffer.
pub fn socket_addr_of(bytes: &[u8]) -> Option<SocketAddr> {
    if bytes.len() < 2 {
        return None;
    }
    let family = i32::from(u16::from_ne_bytes([bytes[0], bytes[1]]));
    if family == libc::AF_INET && bytes.len() >= size_of::<libc::sockaddr_in>() {
        // SAFETY: the buffer holds a whole sockaddr_in (checked above);
        // read_unaligned copes with any alignment.
        let sin = unsafe { bytes.as_ptr().cast::<libc::sockaddr_in>().read_unaligned() };
        let ip = std::net::Ipv4Addr::from(sin.sin_addr.s_addr.to_ne_bytes());
        return Some(SocketAddr::new(IpAddr::V4(ip), u16::from_be(sin.sin_port)));
    }
    if family == libc::AF_INET6 && bytes.len() >= size_of::<libc::sockaddr_in6>() {
        // SAFETY: as above for sockaddr_in6.
        let sin6 = unsafe { bytes.as_ptr().cast::<libc::sockaddr_in6>().read_unaligned() };
        let ip = std::net::Ipv6Addr::from(sin6.sin6_addr.s6_addr);
        return Some(SocketAddr::new(
            IpAddr::V6(ip),
            u16::from_be(sin6.sin6_port),
        ));
    }
    None
}

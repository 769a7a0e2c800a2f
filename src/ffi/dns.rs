//! `event2/dns.h`: the asynchronous resolver a program (or a bufferevent
//! connecting by name) uses.

use std::ffi::{CStr, c_char, c_int, c_void};
use std::net::IpAddr;

use super::{enter, handle, refuse};
use crate::dns::server::{self, ServerPort, ServerRequest};
use crate::dns::{self, EvdnsBase, Lookup, ResolveRequest};
use crate::reactor::Base;

/// Called once with the outcome of an evdns_base_resolve_*() request:
/// @p result is DNS_ERR_NONE or a DNS_ERR_* code. On success @p type is
/// DNS_IPv4_A (@p addresses is an array of @p count struct in_addr),
/// DNS_IPv6_AAAA (@p count struct in6_addr) or DNS_PTR (@p addresses
/// points at one char * naming the host); @p ttl is the answer's time to
/// live in seconds. On failure @p type and @p count are 0 and
/// @p addresses is NULL. The addresses are valid only during the call.
pub type evdns_callback_type = Option<
    unsafe extern "C" fn(
        result: c_int,
        r#type: c_char,
        count: c_int,
        ttl: c_int,
        addresses: *mut c_void,
        arg: *mut c_void,
    ),
>;

/// Called with each request a server port receives; the request is the
/// callback's until it calls evdns_server_request_respond() or
/// evdns_server_request_drop() (then or later).
pub type evdns_request_callback_fn_type =
    Option<unsafe extern "C" fn(req: *mut ServerRequest, arg: *mut c_void)>;

/// Receives the resolver's log messages when set with evdns_set_log_fn():
/// @p is_warning is 1 for warnings, 0 for the rest.
pub type evdns_debug_log_fn_type =
    Option<unsafe extern "C" fn(is_warning: c_int, msg: *const c_char)>;

/// Called once with the outcome of evdns_getaddrinfo(): 0 and a list the
/// callback owns (free it with evutil_freeaddrinfo()), or an EVUTIL_EAI_*
/// error and NULL; EVUTIL_EAI_CANCEL after evdns_getaddrinfo_cancel().
pub type evdns_getaddrinfo_cb =
    Option<unsafe extern "C" fn(result: c_int, res: *mut libc::addrinfo, arg: *mut c_void)>;

pub(super) fn opt_str<'a>(p: *const c_char) -> Option<&'a CStr> {
    // SAFETY: a non-NULL string argument is NUL-terminated (pointer contract).
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) })
}

/// Makes a resolver on @p event_base (NULL: the base of event_init()).
/// @p flags: EVDNS_BASE_INITIALIZE_NAMESERVERS reads /etc/resolv.conf;
/// EVDNS_BASE_DISABLE_WHEN_INACTIVE keeps the resolver's sockets from
/// holding the loop open while nothing is asked;
/// EVDNS_BASE_NAMESERVERS_NO_DEFAULT adds no 127.0.0.1 when the file names
/// no nameserver.
/// @return the resolver, or NULL if the file could not be read or named no
/// nameserver
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_base_new(event_base: *mut Base, flags: c_int) -> *mut EvdnsBase {
    enter("evdns_base_new", || {
        new_base("evdns_base_new", event_base, flags)
    })
}

/// evdns_base_new() for this module and dns_compat: a NULL event base is
/// the current one of event_init(), as in libevent.
pub(super) fn new_base(
    name: &str,
    event_base: *mut Base,
    flags: c_int,
) -> super::EntryResult<*mut EvdnsBase> {
    let event_base = if event_base.is_null() {
        crate::reactor::current_base()
    } else {
        event_base
    };
    if event_base.is_null() {
        return refuse(name, "no event base, and event_init() made none");
    }
    Ok(EvdnsBase::new(event_base, flags).map_or(std::ptr::null_mut(), Box::into_raw))
}

/// Frees the resolver. With @p fail_requests, the callbacks of lookups
/// still running are called from the loop with an error; otherwise they
/// are never called.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_base_free(base: *mut EvdnsBase, fail_requests: c_int) {
    enter("evdns_base_free", || {
        handle("evdns_base_free", base)?;
        dns::forget_global(base);
        // SAFETY: a live base of ours, freed once (pointer contract).
        unsafe { Box::from_raw(base) }.free(fail_requests != 0);
        Ok(())
    })
}

/// Reads the nameservers, search list and options (as selected by the
/// DNS_OPTION_* @p flags) from the resolv.conf file @p filename.
/// @return 0; 1 if the file could not be read; 6 if it named no nameserver
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_base_resolv_conf_parse(
    base: *mut EvdnsBase,
    flags: c_int,
    filename: *const c_char,
) -> c_int {
    enter("evdns_base_resolv_conf_parse", || {
        let b = handle("evdns_base_resolv_conf_parse", base)?;
        Ok(b.resolv_conf_parse(flags, opt_str(filename)))
    })
}

/// Adds the nameserver written as "1.2.3.4", "1.2.3.4:5353", "::1" or
/// "[::1]:5353".
/// @return 0; 3 if it was already added; 4 if the text does not parse;
/// 1 if no socket could be opened
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_base_nameserver_ip_add(
    base: *mut EvdnsBase,
    ip_as_string: *const c_char,
) -> c_int {
    const NAME: &str = "evdns_base_nameserver_ip_add";
    enter(NAME, || {
        let b = handle(NAME, base)?;
        let Some(text) = opt_str(ip_as_string) else {
            return refuse(NAME, "called with a NULL address");
        };
        Ok(b.nameserver_ip_add(&text.to_string_lossy()))
    })
}

/// Adds the nameserver at @p sa (a struct sockaddr_in or sockaddr_in6 of
/// @p len bytes; port 0 means 53). @p flags must be 0.
/// @return 0; 3 if it was already added; -1 or 1 on failure
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_base_nameserver_sockaddr_add(
    base: *mut EvdnsBase,
    sa: *const libc::sockaddr,
    len: libc::socklen_t,
    flags: std::ffi::c_uint,
) -> c_int {
    const NAME: &str = "evdns_base_nameserver_sockaddr_add";
    let _ = flags;
    enter(NAME, || {
        let b = handle(NAME, base)?;
        let bytes = super::bytes(NAME, sa.cast(), len as usize)?;
        match dns::socket_addr_of(bytes) {
            Some(mut a) => {
                if a.port() == 0 {
                    a.set_port(53);
                }
                Ok(b.add_nameserver(a))
            }
            None => Ok(-1),
        }
    })
}

/// Adds the IPv4 nameserver @p address (network byte order), port 53.
/// @return as evdns_base_nameserver_ip_add()
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_base_nameserver_add(
    base: *mut EvdnsBase,
    address: std::ffi::c_ulong,
) -> c_int {
    enter("evdns_base_nameserver_add", || {
        let b = handle("evdns_base_nameserver_add", base)?;
        let ip = std::net::Ipv4Addr::from((address as u32).to_ne_bytes());
        Ok(b.add_nameserver(std::net::SocketAddr::from((ip, 53))))
    })
}

/// Copies the address of the @p idx th nameserver into @p sa.
/// @return its length; a length larger than @p len (nothing copied) if it
/// does not fit; -1 if there is no such nameserver
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_base_get_nameserver_addr(
    base: *mut EvdnsBase,
    idx: c_int,
    sa: *mut libc::sockaddr,
    len: libc::socklen_t,
) -> c_int {
    const NAME: &str = "evdns_base_get_nameserver_addr";
    enter(NAME, || {
        let b = handle(NAME, base)?;
        let Some(bytes) = usize::try_from(idx).ok().and_then(|i| b.nameserver_addr(i)) else {
            return Ok(-1);
        };
        if bytes.len() > len as usize {
            return Ok(bytes.len() as c_int);
        }
        let out = super::bytes_mut(NAME, sa.cast(), bytes.len())?;
        out.copy_from_slice(&bytes);
        Ok(bytes.len() as c_int)
    })
}

/// Forgets every entry added by evdns_base_load_hosts().
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_base_clear_host_addresses(base: *mut EvdnsBase) {
    enter("evdns_base_clear_host_addresses", || {
        handle("evdns_base_clear_host_addresses", base)?.clear_hosts();
        Ok(())
    })
}

/// How many nameservers the resolver has.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_base_count_nameservers(base: *mut EvdnsBase) -> c_int {
    enter("evdns_base_count_nameservers", || {
        Ok(handle("evdns_base_count_nameservers", base)?.count_nameservers())
    })
}

/// Forgets every nameserver and holds the lookups in progress until
/// evdns_base_resume() and a new nameserver. @return 0
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_base_clear_nameservers_and_suspend(base: *mut EvdnsBase) -> c_int {
    enter("evdns_base_clear_nameservers_and_suspend", || {
        handle("evdns_base_clear_nameservers_and_suspend", base)?.clear_and_suspend();
        Ok(0)
    })
}

/// Sends the held lookups again. @return 0
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_base_resume(base: *mut EvdnsBase) -> c_int {
    enter("evdns_base_resume", || {
        handle("evdns_base_resume", base)?.resume();
        Ok(0)
    })
}

/// Sets one option, as written in resolv.conf: "ndots:", "timeout:"
/// (seconds, fractions allowed), "attempts:", "randomize-case:",
/// "getaddrinfo-allow-skew:", "max-timeouts:" (timeouts in a row that
/// mark a nameserver down), "max-inflight:" (questions out at once),
/// "initial-probe-timeout:" (first wait before probing a down
/// nameserver), "bind-to:" (local address of sockets to nameservers off
/// this host, added afterwards), "so-rcvbuf:", "so-sndbuf:". Unknown
/// options are ignored. @return 0, or -1 if the value does not parse
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_base_set_option(
    base: *mut EvdnsBase,
    option: *const c_char,
    val: *const c_char,
) -> c_int {
    const NAME: &str = "evdns_base_set_option";
    enter(NAME, || {
        let b = handle(NAME, base)?;
        let (Some(o), Some(v)) = (opt_str(option), opt_str(val)) else {
            return refuse(NAME, "called with a NULL string");
        };
        Ok(b.set_option(&o.to_string_lossy(), &v.to_string_lossy()))
    })
}

/// Empties the search list (and sets ndots back to 1).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_base_search_clear(base: *mut EvdnsBase) {
    enter("evdns_base_search_clear", || {
        handle("evdns_base_search_clear", base)?.search_clear();
        Ok(())
    })
}

/// Adds @p domain to the search list; the domain added last is tried first.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_base_search_add(base: *mut EvdnsBase, domain: *const c_char) {
    enter("evdns_base_search_add", || {
        let b = handle("evdns_base_search_add", base)?;
        let Some(d) = opt_str(domain) else {
            return refuse("evdns_base_search_add", "called with a NULL domain");
        };
        b.search_add(&d.to_string_lossy());
        Ok(())
    })
}

/// Names with at least @p ndots dots are tried as given before the search
/// list.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_base_search_ndots_set(base: *mut EvdnsBase, ndots: c_int) {
    enter("evdns_base_search_ndots_set", || {
        handle("evdns_base_search_ndots_set", base)?.search_ndots_set(ndots);
        Ok(())
    })
}

/// Adds the entries of the hosts file @p hosts_fname; with NULL (or a file
/// that cannot be read) adds localhost as 127.0.0.1 and ::1.
/// @return 0, or -1 if the file could not be read
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_base_load_hosts(
    base: *mut EvdnsBase,
    hosts_fname: *const c_char,
) -> c_int {
    enter("evdns_base_load_hosts", || {
        Ok(handle("evdns_base_load_hosts", base)?.load_hosts(opt_str(hosts_fname)))
    })
}

/// The text of a DNS_ERR_* code.
#[unsafe(no_mangle)]
pub extern "C" fn evdns_err_to_string(err: c_int) -> *const c_char {
    enter("evdns_err_to_string", || {
        Ok(dns::err_to_string(err).as_ptr())
    })
}

/// Looks @p nodename / @p servname up as getaddrinfo() does, without
/// blocking. Numeric hosts, hosts-file names and failures found at once
/// are reported by calling @p cb before returning, and NULL is returned;
/// otherwise @p cb runs from the loop later, and the returned request may
/// be cancelled until then.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_getaddrinfo(
    dns_base: *mut EvdnsBase,
    nodename: *const c_char,
    servname: *const c_char,
    hints_in: *const libc::addrinfo,
    cb: evdns_getaddrinfo_cb,
    arg: *mut c_void,
) -> *mut Lookup {
    const NAME: &str = "evdns_getaddrinfo";
    enter(NAME, || {
        if dns_base.is_null() {
            if let Some(f) = cb {
                // SAFETY: the program's callback, called as documented.
                unsafe { f(libc::EAI_FAIL, std::ptr::null_mut(), arg) };
            }
            return refuse(NAME, "called with no evdns base");
        }
        let b = handle(NAME, dns_base)?;
        // SAFETY: non-NULL hints point at a readable addrinfo.
        let hints = (!hints_in.is_null()).then(|| unsafe { &*hints_in });
        Ok(b.getaddrinfo(opt_str(nodename), opt_str(servname), hints, cb, arg))
    })
}

/// Cancels a lookup whose callback has not run yet: the callback then runs
/// from the loop with EVUTIL_EAI_CANCEL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_getaddrinfo_cancel(req: *mut Lookup) {
    enter("evdns_getaddrinfo_cancel", || {
        handle("evdns_getaddrinfo_cancel", req)?;
        // SAFETY: a live request of ours (pointer contract).
        unsafe { dns::cancel(req) };
        Ok(())
    })
}

/// Looks up the IPv4 addresses of @p name: with the search list unless
/// @p flags has DNS_QUERY_NO_SEARCH. @p callback runs once, from the loop.
/// @return a request to pass to evdns_cancel_request() until the callback
/// runs, or NULL if the name cannot be asked
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_base_resolve_ipv4(
    base: *mut EvdnsBase,
    name: *const c_char,
    flags: c_int,
    callback: evdns_callback_type,
    ptr: *mut c_void,
) -> *mut ResolveRequest {
    resolve(
        "evdns_base_resolve_ipv4",
        base,
        false,
        name,
        flags,
        callback,
        ptr,
    )
}

/// As evdns_base_resolve_ipv4(), for the IPv6 addresses.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_base_resolve_ipv6(
    base: *mut EvdnsBase,
    name: *const c_char,
    flags: c_int,
    callback: evdns_callback_type,
    ptr: *mut c_void,
) -> *mut ResolveRequest {
    resolve(
        "evdns_base_resolve_ipv6",
        base,
        true,
        name,
        flags,
        callback,
        ptr,
    )
}

pub(super) fn resolve(
    fname: &'static str,
    base: *mut EvdnsBase,
    v6: bool,
    name: *const c_char,
    flags: c_int,
    callback: evdns_callback_type,
    ptr: *mut c_void,
) -> *mut ResolveRequest {
    enter(fname, || {
        let b = handle(fname, base)?;
        let Some(n) = opt_str(name) else {
            return refuse(fname, "called with a NULL name");
        };
        Ok(b.resolve(v6, n, flags, callback, ptr)
            .unwrap_or(std::ptr::null_mut()))
    })
}

/// Looks up the name of the IPv4 address @p in (a PTR question under
/// in-addr.arpa, never searched). @p flags is unused. @return as
/// evdns_base_resolve_ipv4()
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_base_resolve_reverse(
    base: *mut EvdnsBase,
    r#in: *const libc::in_addr,
    flags: c_int,
    callback: evdns_callback_type,
    ptr: *mut c_void,
) -> *mut ResolveRequest {
    let _ = flags;
    reverse(
        "evdns_base_resolve_reverse",
        base,
        r#in,
        |a| IpAddr::from(a.s_addr.to_ne_bytes()),
        callback,
        ptr,
    )
}

/// As evdns_base_resolve_reverse(), for the IPv6 address @p in (under
/// ip6.arpa).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_base_resolve_reverse_ipv6(
    base: *mut EvdnsBase,
    r#in: *const libc::in6_addr,
    flags: c_int,
    callback: evdns_callback_type,
    ptr: *mut c_void,
) -> *mut ResolveRequest {
    let _ = flags;
    reverse(
        "evdns_base_resolve_reverse_ipv6",
        base,
        r#in,
        |a| IpAddr::from(a.s6_addr),
        callback,
        ptr,
    )
}

/// The body of both reverse lookups: the address `r#in` read by `ip`.
fn reverse<A>(
    name: &'static str,
    base: *mut EvdnsBase,
    r#in: *const A,
    ip: impl FnOnce(&A) -> IpAddr,
    callback: evdns_callback_type,
    ptr: *mut c_void,
) -> *mut ResolveRequest {
    enter(name, || {
        let b = handle(name, base)?;
        let ip = ip(handle(name, r#in)?);
        Ok(b.resolve_reverse(&ip, callback, ptr)
            .unwrap_or(std::ptr::null_mut()))
    })
}

/// Cancels a request whose callback has not run: the callback then runs
/// from the loop with DNS_ERR_CANCEL. Nothing happens once the outcome is
/// on its way. @p base may be NULL (the request's own base is used).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_cancel_request(base: *mut EvdnsBase, req: *mut ResolveRequest) {
    enter("evdns_cancel_request", || {
        handle("evdns_cancel_request", req)?;
        if base.is_null() {
            // SAFETY: a request whose callback has not run (pointer
            // contract), so it and its base are alive.
            unsafe { dns::cancel_request(req) };
        } else {
            handle("evdns_cancel_request", base)?.cancel_request(req);
        }
        Ok(())
    })
}

/// Sends the resolver's log messages (debug ones included) to @p fn
/// instead of libevent's log; NULL goes back to libevent's log.
#[unsafe(no_mangle)]
pub extern "C" fn evdns_set_log_fn(r#fn: evdns_debug_log_fn_type) {
    enter("evdns_set_log_fn", || {
        dns::set_log_fn(r#fn);
        Ok(())
    })
}

/// Does nothing, as in libevent 2.1: transaction ids always come from the
/// library's secure random generator.
#[unsafe(no_mangle)]
pub extern "C" fn evdns_set_transaction_id_fn(r#fn: Option<unsafe extern "C" fn() -> u16>) {
    let _ = r#fn;
}

/// Does nothing, as in libevent 2.1: random bytes always come from the
/// library's secure random generator.
#[unsafe(no_mangle)]
pub extern "C" fn evdns_set_random_bytes_fn(
    r#fn: Option<unsafe extern "C" fn(buf: *mut c_char, len: usize)>,
) {
    let _ = r#fn;
}

/// Serves DNS on the UDP socket @p socket (bound, nonblocking): each query
/// goes to @p cb with @p user_data. The port closes the socket when it
/// goes. @p flags must be 0. @return the port, or NULL
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_add_server_port_with_base(
    base: *mut Base,
    socket: c_int,
    flags: c_int,
    cb: evdns_request_callback_fn_type,
    user_data: *mut c_void,
) -> *mut ServerPort {
    add_server_port(
        "evdns_add_server_port_with_base",
        base,
        socket,
        flags,
        cb,
        user_data,
    )
}

pub(super) fn add_server_port(
    name: &'static str,
    base: *mut Base,
    socket: c_int,
    flags: c_int,
    cb: evdns_request_callback_fn_type,
    user_data: *mut c_void,
) -> *mut ServerPort {
    enter(name, || {
        let base = if base.is_null() {
            crate::reactor::current_base()
        } else {
            base
        };
        handle(name, base)?;
        Ok(ServerPort::new(base, socket, flags, cb, user_data).unwrap_or(std::ptr::null_mut()))
    })
}

/// Stops serving: no request is read any more, and the port (and its
/// socket) goes once the requests it gave out are finished.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_close_server_port(port: *mut ServerPort) {
    enter("evdns_close_server_port", || {
        handle("evdns_close_server_port", port)?;
        // SAFETY: a live port, closed once (pointer contract).
        unsafe { ServerPort::close(port) };
        Ok(())
    })
}

/// Adds a record to the reply: @p section is EVDNS_ANSWER_SECTION,
/// EVDNS_AUTHORITY_SECTION or EVDNS_ADDITIONAL_SECTION; @p data is
/// @p datalen bytes, or with @p is_name a domain name.
/// @return 0, or -1 (a bad section, or the reply is built already)
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_server_request_add_reply(
    req: *mut ServerRequest,
    section: c_int,
    name: *const c_char,
    r#type: c_int,
    class: c_int,
    ttl: c_int,
    datalen: c_int,
    is_name: c_int,
    data: *const c_char,
) -> c_int {
    const NAME: &str = "evdns_server_request_add_reply";
    enter(NAME, || {
        add_reply(
            NAME, req, section, name, r#type, class, ttl, datalen, is_name, data,
        )
    })
}

#[allow(clippy::too_many_arguments)]
fn add_reply(
    fname: &str,
    req: *mut ServerRequest,
    section: c_int,
    name: *const c_char,
    rtype: c_int,
    class: c_int,
    ttl: c_int,
    datalen: c_int,
    is_name: c_int,
    data: *const c_char,
) -> super::EntryResult<c_int> {
    handle(fname, req)?;
    let Some(name) = opt_str(name) else {
        return refuse(fname, "called with a NULL name");
    };
    let data = if data.is_null() {
        None
    } else if is_name != 0 {
        opt_str(data).map(CStr::to_bytes)
    } else {
        Some(super::bytes(
            fname,
            data.cast(),
            usize::try_from(datalen).unwrap_or(0),
        )?)
    };
    // SAFETY: a live request (pointer contract).
    Ok(unsafe {
        server::add_reply(
            req,
            section,
            name.to_bytes(),
            rtype,
            class,
            ttl,
            data,
            is_name != 0,
        )
    })
}

/// Adds @p n IPv4 addresses (struct in_addr at @p addrs) for @p name to
/// the answer. @return as evdns_server_request_add_reply()
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_server_request_add_a_reply(
    req: *mut ServerRequest,
    name: *const c_char,
    n: c_int,
    addrs: *const c_void,
    ttl: c_int,
) -> c_int {
    const NAME: &str = "evdns_server_request_add_a_reply";
    let (t, c) = (server::TYPE_A, server::CLASS_INET);
    enter(NAME, || {
        add_reply(
            NAME,
            req,
            server::EVDNS_ANSWER_SECTION,
            name,
            t,
            c,
            ttl,
            n.saturating_mul(4),
            0,
            addrs.cast(),
        )
    })
}

/// Adds @p n IPv6 addresses (struct in6_addr at @p addrs) for @p name to
/// the answer. @return as evdns_server_request_add_reply()
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_server_request_add_aaaa_reply(
    req: *mut ServerRequest,
    name: *const c_char,
    n: c_int,
    addrs: *const c_void,
    ttl: c_int,
) -> c_int {
    const NAME: &str = "evdns_server_request_add_aaaa_reply";
    let (t, c) = (server::TYPE_AAAA, server::CLASS_INET);
    enter(NAME, || {
        add_reply(
            NAME,
            req,
            server::EVDNS_ANSWER_SECTION,
            name,
            t,
            c,
            ttl,
            n.saturating_mul(16),
            0,
            addrs.cast(),
        )
    })
}

/// Adds a PTR record naming @p hostname to the answer, for the address
/// @p in or the name @p inaddr_name (exactly one of them).
/// @return as evdns_server_request_add_reply(); -1 unless exactly one of
/// @p in and @p inaddr_name is given
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_server_request_add_ptr_reply(
    req: *mut ServerRequest,
    r#in: *mut libc::in_addr,
    inaddr_name: *const c_char,
    hostname: *const c_char,
    ttl: c_int,
) -> c_int {
    const NAME: &str = "evdns_server_request_add_ptr_reply";
    let (t, c) = (server::TYPE_PTR, server::CLASS_INET);
    enter(NAME, || {
        let owned;
        let name = match (r#in.is_null(), inaddr_name.is_null()) {
            (false, true) => {
                // SAFETY: a non-NULL in_addr argument is readable.
                let a = unsafe { (*r#in).s_addr };
                let text = dns::reverse_name(&IpAddr::from(a.to_ne_bytes()));
                owned = std::ffi::CString::new(text).unwrap_or_default();
                owned.as_ptr()
            }
            (true, false) => inaddr_name,
            _ => return Ok(-1),
        };
        add_reply(
            NAME,
            req,
            server::EVDNS_ANSWER_SECTION,
            name,
            t,
            c,
            ttl,
            -1,
            1,
            hostname,
        )
    })
}

/// Adds a CNAME record (@p name is an alias of @p cname) to the answer.
/// @return as evdns_server_request_add_reply()
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_server_request_add_cname_reply(
    req: *mut ServerRequest,
    name: *const c_char,
    cname: *const c_char,
    ttl: c_int,
) -> c_int {
    const NAME: &str = "evdns_server_request_add_cname_reply";
    let (t, c) = (server::TYPE_CNAME, server::CLASS_INET);
    enter(NAME, || {
        add_reply(
            NAME,
            req,
            server::EVDNS_ANSWER_SECTION,
            name,
            t,
            c,
            ttl,
            -1,
            1,
            cname,
        )
    })
}

/// Sets the reply's EVDNS_FLAGS_AA and EVDNS_FLAGS_RD bits to those in
/// @p flags (other bits of @p flags are added as given).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_server_request_set_flags(req: *mut ServerRequest, flags: c_int) {
    enter("evdns_server_request_set_flags", || {
        handle("evdns_server_request_set_flags", req)?;
        // SAFETY: a live request (pointer contract).
        unsafe { server::set_flags(req, flags) };
        Ok(())
    })
}

/// Sends the reply with the records added and the DNS_ERR_* code @p err
/// (0 to 15), and finishes the request (@p req is gone afterwards).
/// @return 0; 1 if the reply waits for the socket (it is sent later);
/// -1 if it cannot be built (@p req is still yours)
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_server_request_respond(
    req: *mut ServerRequest,
    err: c_int,
) -> c_int {
    enter("evdns_server_request_respond", || {
        handle("evdns_server_request_respond", req)?;
        // SAFETY: a live request (pointer contract).
        Ok(unsafe { server::respond(req, err) })
    })
}

/// Finishes the request without a reply. @return 0
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_server_request_drop(req: *mut ServerRequest) -> c_int {
    enter("evdns_server_request_drop", || {
        handle("evdns_server_request_drop", req)?;
        // SAFETY: a live request (pointer contract).
        unsafe { server::drop_request(req) };
        Ok(0)
    })
}

/// Copies the address the request came from into @p sa (@p addr_len
/// bytes). @return its length, or -1 if it does not fit
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_server_request_get_requesting_addr(
    req: *mut ServerRequest,
    sa: *mut libc::sockaddr,
    addr_len: c_int,
) -> c_int {
    const NAME: &str = "evdns_server_request_get_requesting_addr";
    enter(NAME, || {
        handle(NAME, req)?;
        // SAFETY: a live request (pointer contract).
        let bytes = unsafe { server::requesting_addr(req) };
        if usize::try_from(addr_len).unwrap_or(0) < bytes.len() {
            return Ok(-1);
        }
        super::bytes_mut(NAME, sa.cast(), bytes.len())?.copy_from_slice(bytes);
        Ok(bytes.len() as c_int)
    })
}

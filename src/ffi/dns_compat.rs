//! `event2/dns_compat.h`: libevent 1.x's resolver calls, which act on one
//! global resolver on the base of event_init(). The calls that configure
//! it make it when there is none yet (without reading /etc/resolv.conf);
//! evdns_init() makes it from /etc/resolv.conf.

use std::ffi::{c_char, c_int, c_ulong, c_void};

use super::dns::{self, evdns_callback_type};
use super::{EntryResult, enter, refuse};
use crate::dns::{self as core, EvdnsBase};

/// The global resolver, refusing the call when there is none.
fn global<'a>(name: &str) -> EntryResult<&'a EvdnsBase> {
    let base = core::global();
    if base.is_null() {
        return refuse(name, "no global resolver: call evdns_init() first");
    }
    // SAFETY: the global resolver is live until evdns_shutdown or
    // evdns_base_free forgets it.
    Ok(unsafe { &*base })
}

/// The global resolver, made (with no nameserver) if there is none.
fn global_or_new<'a>(name: &str) -> EntryResult<&'a EvdnsBase> {
    if core::global().is_null() {
        let made = dns::new_base(name, std::ptr::null_mut(), 0)?;
        core::set_global(made);
    }
    global(name)
}

/// Makes the global resolver on the base of event_init(), with the
/// nameservers, search list and options of /etc/resolv.conf.
/// @return 0, or -1 if that failed
#[unsafe(no_mangle)]
pub extern "C" fn evdns_init() -> c_int {
    enter("evdns_init", || {
        let made = dns::new_base("evdns_init", std::ptr::null_mut(), 1)?;
        if made.is_null() {
            return Ok(-1);
        }
        core::set_global(made);
        Ok(0)
    })
}

/// The global resolver, or NULL.
#[unsafe(no_mangle)]
pub extern "C" fn evdns_get_global_base() -> *mut EvdnsBase {
    enter("evdns_get_global_base", || Ok(core::global()))
}

/// Frees the global resolver (as evdns_base_free() with @p fail_requests)
/// and forgets the function given to evdns_set_log_fn().
#[unsafe(no_mangle)]
pub extern "C" fn evdns_shutdown(fail_requests: c_int) {
    enter("evdns_shutdown", || {
        let base = core::global();
        core::set_global(std::ptr::null_mut());
        if !base.is_null() {
            // SAFETY: the global resolver is a live base of ours, now
            // forgotten, so freed once.
            unsafe { Box::from_raw(base) }.free(fail_requests != 0);
        }
        core::set_log_fn(None);
        Ok(())
    })
}

/// evdns_base_nameserver_add() on the global resolver.
#[unsafe(no_mangle)]
pub extern "C" fn evdns_nameserver_add(address: c_ulong) -> c_int {
    enter("evdns_nameserver_add", || {
        let b = global_or_new("evdns_nameserver_add")?;
        let ip = std::net::Ipv4Addr::from((address as u32).to_ne_bytes());
        Ok(b.add_nameserver(std::net::SocketAddr::from((ip, 53))))
    })
}

/// evdns_base_nameserver_ip_add() on the global resolver.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_nameserver_ip_add(ip_as_string: *const c_char) -> c_int {
    const NAME: &str = "evdns_nameserver_ip_add";
    enter(NAME, || {
        let b = global_or_new(NAME)?;
        let Some(text) = dns::opt_str(ip_as_string) else {
            return refuse(NAME, "called with a NULL address");
        };
        Ok(b.nameserver_ip_add(&text.to_string_lossy()))
    })
}

/// How many nameservers the global resolver has.
#[unsafe(no_mangle)]
pub extern "C" fn evdns_count_nameservers() -> c_int {
    enter("evdns_count_nameservers", || {
        Ok(global("evdns_count_nameservers")?.count_nameservers())
    })
}

/// evdns_base_clear_nameservers_and_suspend() on the global resolver.
#[unsafe(no_mangle)]
pub extern "C" fn evdns_clear_nameservers_and_suspend() -> c_int {
    enter("evdns_clear_nameservers_and_suspend", || {
        global("evdns_clear_nameservers_and_suspend")?.clear_and_suspend();
        Ok(0)
    })
}

/// evdns_base_resume() on the global resolver.
#[unsafe(no_mangle)]
pub extern "C" fn evdns_resume() -> c_int {
    enter("evdns_resume", || {
        global("evdns_resume")?.resume();
        Ok(0)
    })
}

/// evdns_base_resolv_conf_parse() on the global resolver.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_resolv_conf_parse(flags: c_int, filename: *const c_char) -> c_int {
    enter("evdns_resolv_conf_parse", || {
        let b = global_or_new("evdns_resolv_conf_parse")?;
        Ok(b.resolv_conf_parse(flags, dns::opt_str(filename)))
    })
}

/// evdns_base_set_option() on the global resolver; @p flags is unused.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_set_option(
    option: *const c_char,
    val: *const c_char,
    flags: c_int,
) -> c_int {
    const NAME: &str = "evdns_set_option";
    let _ = flags;
    enter(NAME, || {
        let b = global_or_new(NAME)?;
        let (Some(o), Some(v)) = (dns::opt_str(option), dns::opt_str(val)) else {
            return refuse(NAME, "called with a NULL string");
        };
        Ok(b.set_option(&o.to_string_lossy(), &v.to_string_lossy()))
    })
}

/// evdns_base_search_clear() on the global resolver.
#[unsafe(no_mangle)]
pub extern "C" fn evdns_search_clear() {
    enter("evdns_search_clear", || {
        global("evdns_search_clear")?.search_clear();
        Ok(())
    })
}

/// evdns_base_search_add() on the global resolver.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_search_add(domain: *const c_char) {
    const NAME: &str = "evdns_search_add";
    enter(NAME, || {
        let b = global(NAME)?;
        let Some(d) = dns::opt_str(domain) else {
            return refuse(NAME, "called with a NULL domain");
        };
        b.search_add(&d.to_string_lossy());
        Ok(())
    })
}

/// evdns_base_search_ndots_set() on the global resolver.
#[unsafe(no_mangle)]
pub extern "C" fn evdns_search_ndots_set(ndots: c_int) {
    enter("evdns_search_ndots_set", || {
        global("evdns_search_ndots_set")?.search_ndots_set(ndots);
        Ok(())
    })
}

/// evdns_base_resolve_ipv4() on the global resolver.
/// @return 0, or -1 if the request could not be made
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_resolve_ipv4(
    name: *const c_char,
    flags: c_int,
    callback: evdns_callback_type,
    ptr: *mut c_void,
) -> c_int {
    let base = core::global();
    let req = dns::resolve(
        "evdns_resolve_ipv4",
        base,
        false,
        name,
        flags,
        callback,
        ptr,
    );
    if req.is_null() { -1 } else { 0 }
}

/// evdns_base_resolve_ipv6() on the global resolver.
/// @return 0, or -1 if the request could not be made
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_resolve_ipv6(
    name: *const c_char,
    flags: c_int,
    callback: evdns_callback_type,
    ptr: *mut c_void,
) -> c_int {
    let base = core::global();
    let req = dns::resolve("evdns_resolve_ipv6", base, true, name, flags, callback, ptr);
    if req.is_null() { -1 } else { 0 }
}

/// evdns_base_resolve_reverse() on the global resolver.
/// @return 0, or -1 if the request could not be made
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_resolve_reverse(
    r#in: *const libc::in_addr,
    flags: c_int,
    callback: evdns_callback_type,
    ptr: *mut c_void,
) -> c_int {
    // SAFETY: the arguments are passed on as the program gave them.
    let req =
        unsafe { dns::evdns_base_resolve_reverse(core::global(), r#in, flags, callback, ptr) };
    if req.is_null() { -1 } else { 0 }
}

/// evdns_base_resolve_reverse_ipv6() on the global resolver.
/// @return 0, or -1 if the request could not be made
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_resolve_reverse_ipv6(
    r#in: *const libc::in6_addr,
    flags: c_int,
    callback: evdns_callback_type,
    ptr: *mut c_void,
) -> c_int {
    // SAFETY: the arguments are passed on as the program gave them.
    let req =
        unsafe { dns::evdns_base_resolve_reverse_ipv6(core::global(), r#in, flags, callback, ptr) };
    if req.is_null() { -1 } else { 0 }
}

/// evdns_add_server_port_with_base() on the base of event_init().
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evdns_add_server_port(
    socket: c_int,
    flags: c_int,
    cb: dns::evdns_request_callback_fn_type,
    user_data: *mut c_void,
) -> *mut crate::dns::server::ServerPort {
    let base = std::ptr::null_mut();
    dns::add_server_port("evdns_add_server_port", base, socket, flags, cb, user_data)
}

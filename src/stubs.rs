//! Public libevent functions this library does not implement yet.
//!
//! A program run with LD_PRELOAD must never reach the real libevent with
//! one of our objects, so each unfinished function is still exported here:
//! it logs a warning naming itself and returns libevent's failure value for
//! its return type (-1, NULL, or nothing). Their prototypes are left out of
//! our headers on purpose, so a program built against them fails to compile
//! instead of failing at run time. `scripts/check-binary` reads this file to
//! tell which functions a program needs are only stubs.

use crate::log;

/// The one stub behind every unfinished function.
fn stub(name: &str) {
    log::warn(&format!("{name}: not implemented by bufferevent-rs yet"));
}

macro_rules! stubs {
    ($($ret:ty = $fail:expr => [$($name:ident),* $(,)?];)*) => {
        $($(
            #[unsafe(no_mangle)]
            pub extern "C" fn $name() -> $ret {
                stub(stringify!($name));
                $fail
            }
        )*)*
    };
}

// One name a line: scripts/check-binary and scripts/gen-compat read them.
stubs! {
    i32 = -1 => [
        evdns_clear_nameservers_and_suspend,
        evdns_count_nameservers,
        evdns_init,
        evdns_nameserver_add,
        evdns_nameserver_ip_add,
        evdns_resolv_conf_parse,
        evdns_resolve_ipv4,
        evdns_resolve_ipv6,
        evdns_resolve_reverse,
        evdns_resolve_reverse_ipv6,
        evdns_resume,
        evdns_server_request_add_a_reply,
        evdns_server_request_add_aaaa_reply,
        evdns_server_request_add_cname_reply,
        evdns_server_request_add_ptr_reply,
        evdns_server_request_add_reply,
        evdns_server_request_drop,
        evdns_server_request_get_requesting_addr,
        evdns_server_request_respond,
        evdns_set_option,
    ];
    *mut std::ffi::c_void = std::ptr::null_mut() => [
        evdns_add_server_port,
        evdns_add_server_port_with_base,
        evdns_base_resolve_ipv4,
        evdns_base_resolve_ipv6,
        evdns_base_resolve_reverse,
        evdns_base_resolve_reverse_ipv6,
        evdns_get_global_base,
    ];
    () = () => [
        evdns_cancel_request,
        evdns_close_server_port,
        evdns_search_add,
        evdns_search_clear,
        evdns_search_ndots_set,
        evdns_server_request_set_flags,
        evdns_set_log_fn,
        evdns_set_random_bytes_fn,
        evdns_set_transaction_id_fn,
        evdns_shutdown,
    ];
}

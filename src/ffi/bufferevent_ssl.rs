//! `event2/bufferevent_ssl.h`: bufferevents that speak TLS through OpenSSL.

use std::ffi::{c_int, c_ulong};

use openssl_sys::SSL;

use super::bufferevent::bev_arg;
use super::bufferevent_struct::bufferevent;
use super::{enter, handle, refuse};

use crate::bufferevent::{BEV_OPT_CLOSE_ON_FREE, BEV_OPT_THREADSAFE, ssl};
use crate::log;
use crate::reactor::Base;

/// `enum bufferevent_ssl_state` as it crosses the ABI: BUFFEREVENT_SSL_OPEN,
/// BUFFEREVENT_SSL_CONNECTING or BUFFEREVENT_SSL_ACCEPTING.
pub type BuffereventSslState = c_int;

/// Frees `ssl` if the program gave it away with BEV_OPT_CLOSE_ON_FREE,
/// as 2.1.12 does on every failed creation.
fn refuse_ssl<T>(name: &str, why: &str, ssl: *mut SSL, options: c_int) -> super::EntryResult<T> {
    if options & BEV_OPT_CLOSE_ON_FREE != 0 && !ssl.is_null() {
        // SAFETY: with CLOSE_ON_FREE the program handed the SSL over.
        unsafe { openssl_sys::SSL_free(ssl) };
    }
    refuse(name, why)
}

/// Makes a TLS bufferevent whose encrypted bytes travel through
/// `underlying`, which it takes over (its callbacks become ours). NULL if
/// `underlying` is NULL. With BEV_OPT_CLOSE_ON_FREE, freeing it frees the
/// SSL and the underlying bufferevent.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_openssl_filter_new(
    base: *mut Base,
    underlying: *mut bufferevent,
    ssl: *mut SSL,
    state: BuffereventSslState,
    options: c_int,
) -> *mut bufferevent {
    let name = "bufferevent_openssl_filter_new";
    enter(name, || {
        if underlying.is_null() {
            return refuse_ssl(name, "called with a NULL underlying", ssl, options);
        }
        if ssl.is_null() {
            return refuse(name, "called with a NULL SSL");
        }
        let under = bev_arg(name, underlying)?;
        handle(name, base.cast_const())?;
        if options & BEV_OPT_THREADSAFE != 0 && !crate::thread::locking_enabled() {
            let why = "BEV_OPT_THREADSAFE needs a lock implementation (evthread_use_pthreads)";
            return refuse_ssl(name, why, ssl, options);
        }
        let bev = ssl::filter_new(&under, ssl, state, options);
        if bev.is_null() {
            return Ok(std::ptr::null_mut());
        }
        // SAFETY: bev is the live bufferevent just made.
        Ok(unsafe { (*bev).as_c() })
    })
}

/// Makes a TLS bufferevent on the socket `fd` (or -1: the fd the SSL is
/// already bound to, if any). NULL if the SSL is bound to a different fd.
/// `state` says whether the handshake is done (OPEN) or which side this
/// end takes. With BEV_OPT_CLOSE_ON_FREE, freeing it frees the SSL and
/// closes the fd; no close_notify is sent.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_openssl_socket_new(
    base: *mut Base,
    fd: c_int,
    ssl: *mut SSL,
    state: BuffereventSslState,
    options: c_int,
) -> *mut bufferevent {
    let name = "bufferevent_openssl_socket_new";
    enter(name, || {
        if ssl.is_null() {
            return refuse(name, "called with a NULL SSL");
        }
        if base.is_null() {
            return refuse_ssl(name, "called with a NULL base", ssl, options);
        }
        if options & BEV_OPT_THREADSAFE != 0 && !crate::thread::locking_enabled() {
            let why = "BEV_OPT_THREADSAFE needs a lock implementation (evthread_use_pthreads)";
            return refuse_ssl(name, why, ssl, options);
        }
        let bev = ssl::socket_new(base, fd, ssl, state, options);
        if bev.is_null() {
            return Ok(std::ptr::null_mut());
        }
        // SAFETY: bev is the live bufferevent just made.
        Ok(unsafe { (*bev).as_c() })
    })
}

/// 1 if an unclean close (the connection ends without a TLS close_notify)
/// is reported as BEV_EVENT_EOF, 0 (the default) if as BEV_EVENT_ERROR;
/// -1 for a bufferevent that is not a TLS one. OpenSSL 3's "unexpected
/// eof while reading" counts as an unclean close (libevent 2.1.12 reports
/// it as an error even when allowed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_openssl_get_allow_dirty_shutdown(
    bev: *mut bufferevent,
) -> c_int {
    let name = "bufferevent_openssl_get_allow_dirty_shutdown";
    enter(name, || {
        Ok(ssl::of(&*bev_arg(name, bev)?).map_or(-1, |s| s.allow_dirty_shutdown().into()))
    })
}

/// Sets whether an unclean close is reported as BEV_EVENT_EOF (nonzero)
/// or BEV_EVENT_ERROR (0); ignored for other bufferevents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_openssl_set_allow_dirty_shutdown(
    bev: *mut bufferevent,
    allow_dirty_shutdown: c_int,
) {
    let name = "bufferevent_openssl_set_allow_dirty_shutdown";
    enter(name, || {
        if let Some(s) = ssl::of(&*bev_arg(name, bev)?) {
            s.set_allow_dirty_shutdown(allow_dirty_shutdown != 0);
        }
        Ok(())
    })
}

/// The SSL object of a TLS bufferevent; NULL for other bufferevents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_openssl_get_ssl(bufev: *mut bufferevent) -> *mut SSL {
    let name = "bufferevent_openssl_get_ssl";
    enter(name, || {
        Ok(ssl::of(&*bev_arg(name, bufev)?).map_or(std::ptr::null_mut(), |s| s.ssl()))
    })
}

/// Starts a new handshake on an open TLS bufferevent; -1 for other
/// bufferevents or when OpenSSL refuses.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_ssl_renegotiate(bev: *mut bufferevent) -> c_int {
    let name = "bufferevent_ssl_renegotiate";
    enter(name, || {
        let b = bev_arg(name, bev)?;
        if ssl::of(&b).is_none() {
            log::debug(|| format!("{name}: not a TLS bufferevent"));
            return Ok(-1);
        }
        Ok(ssl::renegotiate(&b))
    })
}

/// Takes the most recent OpenSSL error code kept by a TLS bufferevent
/// (at most three are kept, the latest returned first); 0 when none is
/// left or for other bufferevents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_get_openssl_error(bev: *mut bufferevent) -> c_ulong {
    let name = "bufferevent_get_openssl_error";
    enter(name, || {
        Ok(ssl::of(&*bev_arg(name, bev)?).map_or(0, |s| s.pop_error()))
    })
}

//! `event2/bufferevent_compat.h`: the old forms of bufferevent calls.

use std::ffi::{c_int, c_void};

use super::bufferevent::{bev_arg, bufferevent_data_cb, bufferevent_event_cb};
use super::bufferevent_struct::bufferevent;
use super::{enter, refuse};
use crate::bufferevent::{Callbacks, socket};

/// Old form of bufferevent_socket_new() on the current base (the one
/// event_init() made) followed by bufferevent_setcb().
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_new(
    fd: c_int,
    readcb: bufferevent_data_cb,
    writecb: bufferevent_data_cb,
    eventcb: bufferevent_event_cb,
    cbarg: *mut c_void,
) -> *mut bufferevent {
    enter("bufferevent_new", || {
        let base = crate::reactor::current_base();
        if base.is_null() {
            // LIMITATION: 2.1.12 makes the bufferevent without a base (its
            // events get none either) so that bufferevent_base_set() can give
            // it one later; we need a base from the start, so this returns
            // NULL until event_init() has run; letting a bufferevent wait
            // for its base would lift it.
            return refuse("bufferevent_new", "no current base (call event_init first)");
        }
        let raw = socket::new(base, fd, 0);
        // SAFETY: raw is the live bufferevent just made.
        let bev = unsafe { &*raw };
        bev.set_callbacks(Callbacks {
            read: readcb,
            write: writecb,
            event: eventcb,
            arg: cbarg,
        });
        Ok(bev.as_c())
    })
}

/// Old form of set_timeouts in whole seconds (0: none).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_settimeout(
    bev: *mut bufferevent,
    timeout_read: c_int,
    timeout_write: c_int,
) {
    enter("bufferevent_settimeout", || {
        let b = bev_arg("bufferevent_settimeout", bev)?;
        let tv = |s: c_int| {
            (s != 0).then_some(libc::timeval {
                tv_sec: s.into(),
                tv_usec: 0,
            })
        };
        b.set_timeouts(tv(timeout_read), tv(timeout_write));
        Ok(())
    })
}

//! `event2/bufferevent_compat.h`: the old forms of bufferevent calls.

use std::ffi::c_int;

use super::bufferevent::bev_arg;
use super::bufferevent_struct::bufferevent;
use super::enter;

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

//! `event2/bufferevent.h` and `event2/bufferevent_compat.h`.

use std::ffi::{CStr, c_char, c_int, c_short, c_void};

use super::bufferevent_struct::bufferevent;
use super::{EntryResult, SSize, enter, handle, refuse, refuse_null, timeval_arg, write_out};

use crate::buffer::Buffer;
use crate::bufferevent::ratelimit::{self, Group as RateLimitGroup, TokenBucketCfg};
use crate::bufferevent::{
    BEV_OPT_DEFER_CALLBACKS, BEV_OPT_THREADSAFE, BEV_OPT_UNLOCK_CALLBACKS, BEV_TRIG_ALL_OPTS,
    Bufferevent, Callbacks, FlushMode, filter, pair, socket, ssl,
};
use crate::dns::EvdnsBase;
use crate::reactor::{Base, EV_READ, EV_WRITE};
use crate::thread::Hold;

/// A read or write callback.
pub type bufferevent_data_cb =
    Option<unsafe extern "C" fn(bev: *mut bufferevent, ctx: *mut c_void)>;

/// An event callback: `what` holds BEV_EVENT_* flags.
pub type bufferevent_event_cb =
    Option<unsafe extern "C" fn(bev: *mut bufferevent, what: c_short, ctx: *mut c_void)>;

/// `enum bufferevent_filter_result` as it crosses the ABI: BEV_OK,
/// BEV_NEED_MORE or BEV_ERROR.
pub type FilterResult = c_int;

/// A filter: moves bytes from `src` to `dst`, transformed, writing at most
/// `dst_limit` bytes when that is not negative.
pub type bufferevent_filter_cb = Option<
    unsafe extern "C" fn(
        src: *mut Buffer,
        dst: *mut Buffer,
        dst_limit: SSize,
        mode: FlushMode,
        ctx: *mut c_void,
    ) -> FilterResult,
>;

/// A bufferevent argument, locked (if it has a lock) until the entry
/// returns, as every bufferevent function of libevent locks it.
pub(crate) struct BevArg<'a> {
    bev: &'a Bufferevent,
    _held: Hold,
}

impl std::ops::Deref for BevArg<'_> {
    type Target = Bufferevent;
    fn deref(&self) -> &Bufferevent {
        self.bev
    }
}

/// The bufferevent behind a C pointer, refusing NULL, locked.
#[inline]
pub(crate) fn bev_arg<'a>(name: &str, bev: *mut bufferevent) -> EntryResult<BevArg<'a>> {
    handle(name, bev.cast_const())?;
    // SAFETY: non-NULL bufferevent pointers are live bufferevents of ours.
    let bev = unsafe { Bufferevent::from_c(bev) };
    Ok(BevArg {
        bev,
        _held: bev.hold(),
    })
}

/// Makes a socket bufferevent on `fd` (or -1 for none yet). The fd's
/// blocking mode is left as it is.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_socket_new(
    base: *mut Base,
    fd: c_int,
    options: c_int,
) -> *mut bufferevent {
    enter("bufferevent_socket_new", || {
        handle("bufferevent_socket_new", base.cast_const())?;
        if options & BEV_OPT_UNLOCK_CALLBACKS != 0 && options & BEV_OPT_DEFER_CALLBACKS == 0 {
            return refuse(
                "bufferevent_socket_new",
                "UNLOCK_CALLBACKS requires DEFER_CALLBACKS",
            );
        }
        if options & BEV_OPT_THREADSAFE != 0 && !crate::thread::locking_enabled() {
            return refuse(
                "bufferevent_socket_new",
                "BEV_OPT_THREADSAFE needs a lock implementation (evthread_use_pthreads)",
            );
        }
        let bev = socket::new(base, fd, options);
        // SAFETY: bev is the live bufferevent just made.
        Ok(unsafe { (*bev).as_c() })
    })
}

/// Starts connecting to `sa` (making a socket if the bufferevent has
/// none); the result arrives as BEV_EVENT_CONNECTED or BEV_EVENT_ERROR.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_socket_connect(
    bev: *mut bufferevent,
    sa: *const libc::sockaddr,
    socklen: c_int,
) -> c_int {
    enter("bufferevent_socket_connect", || {
        let b = bev_arg("bufferevent_socket_connect", bev)?;
        let addr = if sa.is_null() {
            None
        } else {
            // SAFETY: a non-NULL address points at socklen bytes (pointer contract).
            Some((unsafe { &*sa }, socklen as libc::socklen_t))
        };
        if ssl::of(&b).is_some() {
            return Ok(ssl::connect(&b, addr));
        }
        if !socket::is_socket(&b) {
            return Ok(-1);
        }
        Ok(socket::connect(&b, addr))
    })
}

/// Frees a bufferevent: its callbacks stop at once; the fd is closed (with
/// BEV_OPT_CLOSE_ON_FREE) when the loop next runs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_free(bev: *mut bufferevent) {
    enter("bufferevent_free", || {
        bev_arg("bufferevent_free", bev)?.free();
        Ok(())
    })
}

/// Sets the read, write and event callbacks and their argument.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_setcb(
    bev: *mut bufferevent,
    readcb: bufferevent_data_cb,
    writecb: bufferevent_data_cb,
    eventcb: bufferevent_event_cb,
    cbarg: *mut c_void,
) {
    enter("bufferevent_setcb", || {
        let b = bev_arg("bufferevent_setcb", bev)?;
        b.set_callbacks(Callbacks {
            read: readcb,
            write: writecb,
            event: eventcb,
            arg: cbarg,
        });
        Ok(())
    })
}

/// Reads the callbacks back; any output pointer may be NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_getcb(
    bev: *mut bufferevent,
    readcb_ptr: *mut bufferevent_data_cb,
    writecb_ptr: *mut bufferevent_data_cb,
    eventcb_ptr: *mut bufferevent_event_cb,
    cbarg_ptr: *mut *mut c_void,
) {
    enter("bufferevent_getcb", || {
        let cbs = bev_arg("bufferevent_getcb", bev)?.callbacks();
        write_out(readcb_ptr, cbs.read);
        write_out(writecb_ptr, cbs.write);
        write_out(eventcb_ptr, cbs.event);
        write_out(cbarg_ptr, cbs.arg);
        Ok(())
    })
}

/// Replaces the fd of a socket bufferevent.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_setfd(bev: *mut bufferevent, fd: c_int) -> c_int {
    enter("bufferevent_setfd", || {
        let b = bev_arg("bufferevent_setfd", bev)?;
        Ok(if socket::is_socket(&b) {
            socket::set_fd(&b, fd)
        } else if ssl::of(&b).is_some() {
            ssl::set_fd(&b, fd)
        } else {
            -1
        })
    })
}

/// The fd of a socket bufferevent, -1 if none.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_getfd(bev: *mut bufferevent) -> c_int {
    enter("bufferevent_getfd", || {
        Ok(bev_arg("bufferevent_getfd", bev)?.fd())
    })
}

/// The base of a bufferevent.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_get_base(bev: *mut bufferevent) -> *mut Base {
    enter("bufferevent_get_base", || {
        Ok(bev_arg("bufferevent_get_base", bev)?.base_ptr())
    })
}

/// Queues `size` bytes for writing; -1 if the output refuses them.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_write(
    bev: *mut bufferevent,
    data: *const c_void,
    size: usize,
) -> c_int {
    enter("bufferevent_write", || {
        let b = bev_arg("bufferevent_write", bev)?;
        let data = super::bytes("bufferevent_write", data, size)?;
        Ok(if b.write(data).is_ok() { 0 } else { -1 })
    })
}

/// Moves the whole of `buf` into the output.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_write_buffer(
    bev: *mut bufferevent,
    buf: *mut Buffer,
) -> c_int {
    enter("bufferevent_write_buffer", || {
        let b = bev_arg("bufferevent_write_buffer", bev)?;
        let src = handle("bufferevent_write_buffer", buf.cast_const())?;
        Ok(if b.write_buffer(src).is_ok() { 0 } else { -1 })
    })
}

/// Takes up to `size` bytes from the input; returns how many.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_read(
    bev: *mut bufferevent,
    data: *mut c_void,
    size: usize,
) -> usize {
    enter("bufferevent_read", || {
        let b = bev_arg("bufferevent_read", bev)?;
        // Only what the input holds is written, as evbuffer_remove does:
        // NULL with an empty input is no misuse, and `size` may overstate
        // the room at `data` as long as the input is shorter.
        let size = size.min(b.input().len());
        let out = super::bytes_mut("bufferevent_read", data, size)?;
        // 2.1.12 returns evbuffer_remove's -1 (a frozen front) as a size_t.
        Ok(b.input().remove(out).unwrap_or(usize::MAX))
    })
}

/// Moves the whole input into `buf`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_read_buffer(bev: *mut bufferevent, buf: *mut Buffer) -> c_int {
    enter("bufferevent_read_buffer", || {
        let b = bev_arg("bufferevent_read_buffer", bev)?;
        let dst = handle("bufferevent_read_buffer", buf.cast_const())?;
        Ok(if dst.add_buffer(b.input()).is_ok() {
            0
        } else {
            -1
        })
    })
}

/// The input buffer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_get_input(bev: *mut bufferevent) -> *mut Buffer {
    buffer_of("bufferevent_get_input", bev, Bufferevent::input_ptr)
}

/// The output buffer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_get_output(bev: *mut bufferevent) -> *mut Buffer {
    buffer_of("bufferevent_get_output", bev, Bufferevent::output_ptr)
}

/// One of a bufferevent's buffers, unlocked as in libevent: the pointer
/// never changes. Most programs ask for every message, so this skips the
/// entry frame too.
fn buffer_of(
    name: &'static str,
    bev: *mut bufferevent,
    which: fn(&Bufferevent) -> *mut Buffer,
) -> *mut Buffer {
    if bev.is_null() {
        return enter(name, || refuse_null(name));
    }
    // SAFETY: a non-NULL bufferevent pointer is a live bufferevent of ours.
    which(unsafe { Bufferevent::from_c(bev) })
}

/// Enables EV_READ and/or EV_WRITE.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_enable(bev: *mut bufferevent, event: c_short) -> c_int {
    enter("bufferevent_enable", || {
        Ok(bev_arg("bufferevent_enable", bev)?.enable(event))
    })
}

/// Disables EV_READ and/or EV_WRITE.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_disable(bev: *mut bufferevent, event: c_short) -> c_int {
    enter("bufferevent_disable", || {
        Ok(bev_arg("bufferevent_disable", bev)?.disable(event))
    })
}

/// The enabled events.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_get_enabled(bev: *mut bufferevent) -> c_short {
    enter("bufferevent_get_enabled", || {
        Ok(bev_arg("bufferevent_get_enabled", bev)?.enabled())
    })
}

/// Sets read and/or write timeouts; NULL or zero means none.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_set_timeouts(
    bev: *mut bufferevent,
    timeout_read: *const libc::timeval,
    timeout_write: *const libc::timeval,
) -> c_int {
    enter("bufferevent_set_timeouts", || {
        let b = bev_arg("bufferevent_set_timeouts", bev)?;
        Ok(b.set_timeouts(timeval_arg(timeout_read), timeval_arg(timeout_write)))
    })
}

/// Sets the low and high watermarks of the given directions.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_setwatermark(
    bev: *mut bufferevent,
    events: c_short,
    lowmark: usize,
    highmark: usize,
) {
    enter("bufferevent_setwatermark", || {
        bev_arg("bufferevent_setwatermark", bev)?.set_watermark(events, lowmark, highmark);
        Ok(())
    })
}

/// Reads the watermarks of exactly one direction; -1 for both or neither.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_getwatermark(
    bev: *mut bufferevent,
    events: c_short,
    lowmark: *mut usize,
    highmark: *mut usize,
) -> c_int {
    enter("bufferevent_getwatermark", || {
        let b = bev_arg("bufferevent_getwatermark", bev)?;
        let wm = match events {
            EV_READ => b.wm_read(),
            EV_WRITE => b.wm_write(),
            _ => return Ok(-1),
        };
        write_out(lowmark, wm.low);
        write_out(highmark, wm.high);
        Ok(0)
    })
}

/// The largest single read.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_get_max_single_read(bev: *const bufferevent) -> isize {
    enter("bufferevent_get_max_single_read", || {
        Ok(bev_arg("bufferevent_get_max_single_read", bev.cast_mut())?.max_single_read() as isize)
    })
}

/// The largest single write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_get_max_single_write(bev: *const bufferevent) -> isize {
    enter("bufferevent_get_max_single_write", || {
        let b = bev_arg("bufferevent_get_max_single_write", bev.cast_mut())?;
        Ok(b.max_single_write() as isize)
    })
}

/// Sets the largest single read (0 restores the default, 16384).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_set_max_single_read(
    bev: *mut bufferevent,
    size: usize,
) -> c_int {
    enter("bufferevent_set_max_single_read", || {
        bev_arg("bufferevent_set_max_single_read", bev)?.set_max_single(false, size as isize);
        Ok(0)
    })
}

/// Sets the largest single write (0 restores the default, 16384).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_set_max_single_write(
    bev: *mut bufferevent,
    size: usize,
) -> c_int {
    enter("bufferevent_set_max_single_write", || {
        bev_arg("bufferevent_set_max_single_write", bev)?.set_max_single(true, size as isize);
        Ok(0)
    })
}

/// Runs the read and/or write callback as if data had moved, subject to
/// the watermarks unless BEV_TRIG_IGNORE_WATERMARKS.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_trigger(
    bev: *mut bufferevent,
    iotype: c_short,
    options: c_int,
) {
    enter("bufferevent_trigger", || {
        let b = bev_arg("bufferevent_trigger", bev)?;
        b.incref();
        b.trigger(iotype, options & BEV_TRIG_ALL_OPTS);
        b.decref();
        Ok(())
    })
}

/// Adds a reference.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_incref(bev: *mut bufferevent) {
    enter("bufferevent_incref", || {
        bev_arg("bufferevent_incref", bev)?.incref();
        Ok(())
    })
}

/// Drops a reference; 1 if it was the last, else 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_decref(bev: *mut bufferevent) -> c_int {
    enter("bufferevent_decref", || {
        Ok(bev_arg("bufferevent_decref", bev)?.decref().into())
    })
}

/// Makes two bufferevents joined to each other: what one writes, the other
/// reads. Callbacks of both are always deferred. 0 on success, -1 on
/// failure (BEV_OPT_THREADSAFE needs a lock implementation).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_pair_new(
    base: *mut Base,
    options: c_int,
    pair: *mut *mut bufferevent,
) -> c_int {
    enter("bufferevent_pair_new", || {
        handle("bufferevent_pair_new", base.cast_const())?;
        if pair.is_null() {
            return refuse("bufferevent_pair_new", "called with a NULL array");
        }
        if options & BEV_OPT_THREADSAFE != 0 && !crate::thread::locking_enabled() {
            return refuse(
                "bufferevent_pair_new",
                "BEV_OPT_THREADSAFE needs a lock implementation (evthread_use_pthreads)",
            );
        }
        let halves = pair::new(base, options);
        for (i, half) in halves.into_iter().enumerate() {
            // SAFETY: the caller passes an array of two pointers; half is live.
            unsafe { *pair.add(i) = (*half).as_c() };
        }
        Ok(0)
    })
}

/// The other half of a pair, or NULL (not a pair, or the partner was freed).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_pair_get_partner(bev: *mut bufferevent) -> *mut bufferevent {
    enter("bufferevent_pair_get_partner", || {
        let b = bev_arg("bufferevent_pair_get_partner", bev)?;
        Ok(pair::partner(&b).map_or(std::ptr::null_mut(), |p| p.as_c()))
    })
}

/// Resolves `hostname` and connects to its first address on `port`.
/// With a NULL evdns base the lookup is a blocking getaddrinfo inside this
/// call; a failed lookup still returns 0, reports BEV_EVENT_ERROR to the
/// event callback, and leaves its EVUTIL_EAI_* code for
/// bufferevent_socket_get_dns_error(). Returns -1 for a family other than
/// AF_INET, AF_INET6 or AF_UNSPEC, or a port outside 1..65535.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_socket_connect_hostname(
    bev: *mut bufferevent,
    evdns_base: *mut EvdnsBase,
    family: c_int,
    hostname: *const c_char,
    port: c_int,
) -> c_int {
    const NAME: &str = "bufferevent_socket_connect_hostname";
    enter(NAME, || {
        let b = bev_arg(NAME, bev)?;
        if !socket::is_socket(&b) && ssl::of(&b).is_none() {
            return Ok(-1);
        }
        if ![libc::AF_INET, libc::AF_INET6, libc::AF_UNSPEC].contains(&family) {
            return Ok(-1);
        }
        let Ok(port) = u16::try_from(port) else {
            return Ok(-1);
        };
        if port == 0 {
            return Ok(-1);
        }
        let host = if hostname.is_null() {
            None
        } else {
            // SAFETY: a non-NULL hostname is a NUL-terminated string.
            Some(unsafe { CStr::from_ptr(hostname) })
        };
        // SAFETY: a non-NULL evdns base is a live one of ours (pointer contract).
        let dns = (!evdns_base.is_null()).then(|| unsafe { &*evdns_base });
        if ssl::of(&b).is_some() {
            if dns.is_some() {
                // LIMITATION: 2.1.12 resolves for a TLS bufferevent through the
                // evdns base too; ours resolves TLS names only without one, so
                // the call fails (-1) and no event comes; routing the TLS
                // connect through the socket kind's lookup would lift it.
                return refuse(NAME, "an evdns base is not supported for TLS yet");
            }
            return Ok(ssl::connect_hostname(&b, family, host, port));
        }
        Ok(socket::connect_hostname(&b, dns, family, host, port))
    })
}

/// The EVUTIL_EAI_* code of the last failed name lookup of
/// bufferevent_socket_connect_hostname(), 0 if it succeeded.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_socket_get_dns_error(bev: *mut bufferevent) -> c_int {
    enter("bufferevent_socket_get_dns_error", || {
        let b = bev_arg("bufferevent_socket_get_dns_error", bev)?;
        Ok(if socket::is_socket(&b) {
            socket::dns_error(&b)
        } else if ssl::of(&b).is_some() {
            ssl::dns_error(&b)
        } else {
            0
        })
    })
}

/// Moves a socket bufferevent to another base; only while none of its
/// events is pending (disable it first). -1 otherwise and for other kinds.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_base_set(base: *mut Base, bufev: *mut bufferevent) -> c_int {
    enter("bufferevent_base_set", || {
        let b = bev_arg("bufferevent_base_set", bufev)?;
        handle("bufferevent_base_set", base.cast_const())?;
        Ok(b.set_base(base))
    })
}

/// Sets the priority of a socket bufferevent's events and deferred
/// callbacks; -1 for other kinds, an out-of-range priority, or while one
/// of its events is active.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_priority_set(bufev: *mut bufferevent, pri: c_int) -> c_int {
    enter("bufferevent_priority_set", || {
        Ok(bev_arg("bufferevent_priority_set", bufev)?.set_priority(pri))
    })
}

/// The priority of a bufferevent's events.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_get_priority(bufev: *const bufferevent) -> c_int {
    enter("bufferevent_get_priority", || {
        Ok(bev_arg("bufferevent_get_priority", bufev.cast_mut())?.priority())
    })
}

/// The bufferevent a filter wraps; NULL for socket bufferevents.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_get_underlying(bufev: *mut bufferevent) -> *mut bufferevent {
    enter("bufferevent_get_underlying", || {
        Ok(bev_arg("bufferevent_get_underlying", bufev)?.underlying())
    })
}

/// Takes the bufferevent's lock and a reference; a free done meanwhile
/// completes at bufferevent_unlock().
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_lock(bufev: *mut bufferevent) {
    enter("bufferevent_lock", || {
        bev_arg("bufferevent_lock", bufev)?.lock();
        Ok(())
    })
}

/// Releases what bufferevent_lock() took.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_unlock(bufev: *mut bufferevent) {
    enter("bufferevent_unlock", || {
        bev_arg("bufferevent_unlock", bufev)?.unlock();
        Ok(())
    })
}

/// Pushes buffered data through now, as far as the kind can: socket
/// bufferevents write from the loop only and return 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_flush(
    bufev: *mut bufferevent,
    iotype: c_short,
    mode: FlushMode,
) -> c_int {
    enter("bufferevent_flush", || {
        Ok(bev_arg("bufferevent_flush", bufev)?.flush(iotype, mode))
    })
}

/// Runs the event callback with `what`, deferred when the bufferevent has
/// BEV_OPT_DEFER_CALLBACKS or `options` holds BEV_TRIG_DEFER_CALLBACKS.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_trigger_event(
    bufev: *mut bufferevent,
    what: c_short,
    options: c_int,
) {
    enter("bufferevent_trigger_event", || {
        bev_arg("bufferevent_trigger_event", bufev)?.trigger_event(what, options);
        Ok(())
    })
}

/// Makes a bufferevent that filters the data of `underlying` through
/// `input_filter` and `output_filter` (NULL: pass through unchanged). The
/// filter takes over the underlying's callbacks. NULL if `underlying` is.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_filter_new(
    underlying: *mut bufferevent,
    input_filter: bufferevent_filter_cb,
    output_filter: bufferevent_filter_cb,
    options: c_int,
    free_context: Option<unsafe extern "C" fn(ctx: *mut c_void)>,
    ctx: *mut c_void,
) -> *mut bufferevent {
    enter("bufferevent_filter_new", || {
        if underlying.is_null() {
            return Ok(std::ptr::null_mut());
        }
        let under = bev_arg("bufferevent_filter_new", underlying)?;
        if options & BEV_OPT_THREADSAFE != 0 && !crate::thread::locking_enabled() {
            return refuse(
                "bufferevent_filter_new",
                "BEV_OPT_THREADSAFE needs a lock implementation (evthread_use_pthreads)",
            );
        }
        let bev = filter::new(
            &under,
            input_filter,
            output_filter,
            options,
            free_context,
            ctx,
        );
        // SAFETY: bev is the live bufferevent just made.
        Ok(unsafe { (*bev).as_c() })
    })
}

fn group_arg<'a>(name: &str, g: *mut RateLimitGroup) -> EntryResult<&'a RateLimitGroup> {
    handle(name, g.cast_const())
}

/// Makes a token bucket configuration: `rate` bytes per tick refill each
/// bucket, up to `burst`; a NULL tick means one second. NULL if a rate is
/// 0, exceeds its burst, or a value exceeds EV_RATE_LIMIT_MAX.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ev_token_bucket_cfg_new(
    read_rate: usize,
    read_burst: usize,
    write_rate: usize,
    write_burst: usize,
    tick_len: *const libc::timeval,
) -> *mut TokenBucketCfg {
    enter("ev_token_bucket_cfg_new", || {
        let tick = timeval_arg(tick_len);
        Ok(
            TokenBucketCfg::new(read_rate, read_burst, write_rate, write_burst, tick)
                .map_or(std::ptr::null_mut(), |cfg| Box::into_raw(Box::new(cfg))),
        )
    })
}

/// Frees a configuration; no bufferevent may still use it.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ev_token_bucket_cfg_free(cfg: *mut TokenBucketCfg) {
    enter("ev_token_bucket_cfg_free", || {
        handle("ev_token_bucket_cfg_free", cfg.cast_const())?;
        // SAFETY: configurations come from Box::into_raw in _cfg_new.
        drop(unsafe { Box::from_raw(cfg) });
        Ok(())
    })
}

/// Limits a bufferevent with `cfg` (kept by pointer: it must outlive the
/// bufferevent), or removes its limit with NULL. Only socket bufferevents
/// are slowed down.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_set_rate_limit(
    bev: *mut bufferevent,
    cfg: *mut TokenBucketCfg,
) -> c_int {
    enter("bufferevent_set_rate_limit", || {
        ratelimit::set(&*bev_arg("bufferevent_set_rate_limit", bev)?, cfg);
        Ok(0)
    })
}

/// The configuration set on a bufferevent, or NULL.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_get_token_bucket_cfg(
    bev: *const bufferevent,
) -> *const TokenBucketCfg {
    enter("bufferevent_get_token_bucket_cfg", || {
        Ok(ratelimit::cfg_of(&*bev_arg(
            "bufferevent_get_token_bucket_cfg",
            bev.cast_mut(),
        )?))
    })
}

/// What the bufferevent's own read bucket holds, or EV_SSIZE_MAX without a
/// limit.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_get_read_limit(bev: *mut bufferevent) -> SSize {
    enter("bufferevent_get_read_limit", || {
        Ok(ratelimit::limit(
            &*bev_arg("bufferevent_get_read_limit", bev)?,
            false,
        ))
    })
}

/// What the bufferevent's own write bucket holds, or EV_SSIZE_MAX.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_get_write_limit(bev: *mut bufferevent) -> SSize {
    enter("bufferevent_get_write_limit", || {
        Ok(ratelimit::limit(
            &*bev_arg("bufferevent_get_write_limit", bev)?,
            true,
        ))
    })
}

/// How much the next read may take: max_single_read without limits, else
/// what the buckets and the group share allow.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_get_max_to_read(bev: *mut bufferevent) -> SSize {
    enter("bufferevent_get_max_to_read", || {
        Ok(bev_arg("bufferevent_get_max_to_read", bev)?.max_to_read() as SSize)
    })
}

/// How much the next write may send.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_get_max_to_write(bev: *mut bufferevent) -> SSize {
    enter("bufferevent_get_max_to_write", || {
        Ok(bev_arg("bufferevent_get_max_to_write", bev)?.max_to_write() as SSize)
    })
}

/// Takes `decr` from the read bucket (may go negative; a negative amount
/// adds). The bufferevent must have a rate limit.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_decrement_read_limit(
    bev: *mut bufferevent,
    decr: SSize,
) -> c_int {
    enter("bufferevent_decrement_read_limit", || {
        Ok(ratelimit::decrement(
            &*bev_arg("bufferevent_decrement_read_limit", bev)?,
            false,
            decr,
        ))
    })
}

/// Takes `decr` from the write bucket.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_decrement_write_limit(
    bev: *mut bufferevent,
    decr: SSize,
) -> c_int {
    enter("bufferevent_decrement_write_limit", || {
        Ok(ratelimit::decrement(
            &*bev_arg("bufferevent_decrement_write_limit", bev)?,
            true,
            decr,
        ))
    })
}

/// Makes a group whose members share one bucket (the configuration is
/// copied). The minimum share starts at 64 bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_rate_limit_group_new(
    base: *mut Base,
    cfg: *const TokenBucketCfg,
) -> *mut RateLimitGroup {
    enter("bufferevent_rate_limit_group_new", || {
        handle("bufferevent_rate_limit_group_new", base.cast_const())?;
        let cfg = handle("bufferevent_rate_limit_group_new", cfg)?;
        Ok(RateLimitGroup::new(base, cfg))
    })
}

/// Replaces a group's configuration (copied); the bucket is clipped to the
/// new burst.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_rate_limit_group_set_cfg(
    g: *mut RateLimitGroup,
    cfg: *const TokenBucketCfg,
) -> c_int {
    enter("bufferevent_rate_limit_group_set_cfg", || {
        if g.is_null() || cfg.is_null() {
            return Ok(-1);
        }
        let cfg = handle("bufferevent_rate_limit_group_set_cfg", cfg)?;
        group_arg("bufferevent_rate_limit_group_set_cfg", g)?.set_cfg(cfg);
        Ok(0)
    })
}

/// Sets the smallest amount a member may move at once (0 disables it; it
/// is never above a rate of the group).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_rate_limit_group_set_min_share(
    g: *mut RateLimitGroup,
    share: usize,
) -> c_int {
    enter("bufferevent_rate_limit_group_set_min_share", || {
        Ok(group_arg("bufferevent_rate_limit_group_set_min_share", g)?.set_min_share(share))
    })
}

/// Frees a group, which must have no members left.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_rate_limit_group_free(g: *mut RateLimitGroup) {
    enter("bufferevent_rate_limit_group_free", || {
        group_arg("bufferevent_rate_limit_group_free", g)?;
        // SAFETY: g is a live group the program gives up.
        unsafe { RateLimitGroup::free(g) };
        Ok(())
    })
}

/// Makes a bufferevent a member of a group (leaving any other).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_add_to_rate_limit_group(
    bev: *mut bufferevent,
    g: *mut RateLimitGroup,
) -> c_int {
    enter("bufferevent_add_to_rate_limit_group", || {
        let b = bev_arg("bufferevent_add_to_rate_limit_group", bev)?;
        ratelimit::add_to_group(&b, group_arg("bufferevent_add_to_rate_limit_group", g)?);
        Ok(0)
    })
}

/// Takes a bufferevent out of its group.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_remove_from_rate_limit_group(bev: *mut bufferevent) -> c_int {
    enter("bufferevent_remove_from_rate_limit_group", || {
        ratelimit::remove_from_group(
            &*bev_arg("bufferevent_remove_from_rate_limit_group", bev)?,
            true,
        );
        Ok(0)
    })
}

/// What the group's read bucket holds.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_rate_limit_group_get_read_limit(
    g: *mut RateLimitGroup,
) -> SSize {
    enter("bufferevent_rate_limit_group_get_read_limit", || {
        Ok(group_arg("bufferevent_rate_limit_group_get_read_limit", g)?.limit(false))
    })
}

/// What the group's write bucket holds.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_rate_limit_group_get_write_limit(
    g: *mut RateLimitGroup,
) -> SSize {
    enter("bufferevent_rate_limit_group_get_write_limit", || {
        Ok(group_arg("bufferevent_rate_limit_group_get_write_limit", g)?.limit(true))
    })
}

/// Takes `decr` from the group's read bucket.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_rate_limit_group_decrement_read(
    g: *mut RateLimitGroup,
    decr: SSize,
) -> c_int {
    enter("bufferevent_rate_limit_group_decrement_read", || {
        let g = group_arg("bufferevent_rate_limit_group_decrement_read", g)?;
        g.add_to_bucket(false, -(decr as i64));
        Ok(0)
    })
}

/// Takes `decr` from the group's write bucket.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_rate_limit_group_decrement_write(
    g: *mut RateLimitGroup,
    decr: SSize,
) -> c_int {
    enter("bufferevent_rate_limit_group_decrement_write", || {
        let g = group_arg("bufferevent_rate_limit_group_decrement_write", g)?;
        g.add_to_bucket(true, -(decr as i64));
        Ok(0)
    })
}

/// The bytes the group's members read and wrote since the last reset.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_rate_limit_group_get_totals(
    g: *mut RateLimitGroup,
    total_read_out: *mut u64,
    total_written_out: *mut u64,
) {
    enter("bufferevent_rate_limit_group_get_totals", || {
        let (read, written) = group_arg("bufferevent_rate_limit_group_get_totals", g)?.totals();
        write_out(total_read_out, read);
        write_out(total_written_out, written);
        Ok(())
    })
}

/// Sets the group's totals back to zero.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bufferevent_rate_limit_group_reset_totals(g: *mut RateLimitGroup) {
    enter("bufferevent_rate_limit_group_reset_totals", || {
        group_arg("bufferevent_rate_limit_group_reset_totals", g)?.reset_totals();
        Ok(())
    })
}

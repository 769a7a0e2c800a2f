//! How a TLS bufferevent moves bytes: the transport around each SSL call
//! (nothing for the socket variant, the memory BIOs for the filter one),
//! the handshake, SSL_read and SSL_write with their "wants" bookkeeping,
//! failures and closes, and the raw bytes charged to rate limits.

use std::ffi::{c_int, c_short, c_ulong};
use std::mem::MaybeUninit;

use openssl_sys::SSL;

use crate::buffer::FrozenEnd;
use crate::ffi::event_struct::EVLIST_INSERTED;
use crate::log;
use crate::reactor::{EV_READ, EV_WRITE};

use super::super::{
    BEV_EVENT_CONNECTED, BEV_EVENT_EOF, BEV_EVENT_ERROR, BEV_EVENT_READING, BEV_EVENT_WRITING,
    BEV_OPT_DEFER_CALLBACKS, Bufferevent, ratelimit, timers,
};
use super::*;

/// Charges the raw bytes the BIOs moved since the last call.
fn charge_raw(bev: &Bufferevent) {
    let s = state(bev);
    let (r, w) = bio_counts(s);
    let read = r.wrapping_sub(s.counted_read.get());
    let written = w.wrapping_sub(s.counted_written.get());
    s.counted_read.set(r);
    s.counted_written.set(w);
    if written > 0 {
        ratelimit::charge(bev, true, written as usize);
    }
    if read > 0 {
        ratelimit::charge(bev, false, read as usize);
    }
}

fn bio_counts(s: &SslState) -> (u64, u64) {
    // SAFETY: reading counters of the live SSL's BIOs, NULL checked.
    unsafe {
        let rbio = openssl_sys::SSL_get_rbio(s.ssl);
        let wbio = openssl_sys::SSL_get_wbio(s.ssl);
        let r = if rbio.is_null() {
            0
        } else {
            BIO_number_read(rbio)
        };
        let w = if wbio.is_null() {
            0
        } else {
            BIO_number_written(wbio)
        };
        (r, w)
    }
}

pub(super) fn note_counts(s: &SslState) {
    let (r, w) = bio_counts(s);
    s.counted_read.set(r);
    s.counted_written.set(w);
}

/// Filter variant: hands everything the underlying has read to the SSL,
/// straight from the input's chunks.
fn feed_from_underlying(s: &SslState) {
    let Some(under) = under_of(s) else { return };
    let input = under.input();
    // SAFETY: the read BIO is the memory BIO filter_new installed.
    let rbio = unsafe { openssl_sys::SSL_get_rbio(s.ssl) };
    while !input.is_empty() && !input.is_frozen(FrozenEnd::Front) {
        let (_, regions) = input.peek(None, None, 1);
        let Some(&(ptr, len)) = regions.first() else {
            break;
        };
        let n = len.min(c_int::MAX as usize) as c_int;
        // SAFETY: ptr and len describe bytes of the input's first chunk,
        // which nothing changes until the drain below; a memory BIO takes
        // all of them or fails.
        let put = unsafe { openssl_sys::BIO_write(rbio, ptr.cast_const().cast(), n) };
        if put <= 0 {
            break;
        }
        let _ = input.drain(put as usize);
    }
}

/// Filter variant: moves what the SSL has written to the underlying.
fn flush_to_underlying(s: &SslState) {
    let Some(under) = under_of(s) else { return };
    // SAFETY: the write BIO is the memory BIO filter_new installed.
    let wbio = unsafe { openssl_sys::SSL_get_wbio(s.ssl) };
    // Not zeroed: BIO_read initialises what it reports, and only that is
    // read back.
    let mut chunk = MaybeUninit::<[u8; IO_PIECE]>::uninit();
    loop {
        // SAFETY: asking a memory BIO how much it holds.
        let pending =
            unsafe { openssl_sys::BIO_ctrl(wbio, BIO_CTRL_PENDING, 0, std::ptr::null_mut()) };
        if pending <= 0 {
            break;
        }
        let room = IO_PIECE as c_int;
        // SAFETY: reading into our own buffer of `room` bytes.
        let n = unsafe { openssl_sys::BIO_read(wbio, chunk.as_mut_ptr().cast(), room) };
        if n <= 0 {
            break;
        }
        // SAFETY: BIO_read wrote the first n bytes of chunk.
        let got = unsafe { std::slice::from_raw_parts(chunk.as_ptr().cast::<u8>(), n as usize) };
        let _ = under.output().add(got);
    }
}

/// Runs one SSL operation with the transport prepared around it.
pub(super) fn ssl_call(s: &SslState, op: impl FnOnce(*mut SSL) -> c_int) -> (c_int, c_int) {
    feed_from_underlying(s);
    // SAFETY: clearing this thread's OpenSSL error queue, so that what we
    // collect after the call belongs to it.
    unsafe { openssl_sys::ERR_clear_error() };
    let r = op(s.ssl);
    let err = if r > 0 {
        SSL_ERROR_NONE
    } else {
        // SAFETY: asking the live SSL why the call just made failed.
        unsafe { openssl_sys::SSL_get_error(s.ssl, r) }
    };
    flush_to_underlying(s);
    (r, err)
}

/// OpenSSL's reason for a close without close_notify.
const ERR_LIB_SSL: c_int = 20;
const SSL_R_UNEXPECTED_EOF_WHILE_READING: c_int = 294;

/// Whether the oldest queued OpenSSL error says the peer closed the
/// connection without close_notify.
fn unexpected_eof() -> bool {
    // SAFETY: peeking at this thread's OpenSSL error queue.
    let e = unsafe { ERR_peek_error() };
    openssl_sys::ERR_GET_LIB(e) == ERR_LIB_SSL
        && openssl_sys::ERR_GET_REASON(e) == SSL_R_UNEXPECTED_EOF_WHILE_READING
}

/// The connection failed or closed: keeps the error codes, stops I/O and
/// tells the program `when` (READING or WRITING) with EOF or ERROR.
fn conn_closed(bev: &Bufferevent, when: c_short, err: c_int, ret: c_int) {
    let s = state(bev);
    let mut event = BEV_EVENT_ERROR;
    let mut dirty = false;
    match err {
        SSL_ERROR_ZERO_RETURN => {
            // SAFETY: reading the live SSL's shutdown flags.
            if unsafe { openssl_sys::SSL_get_shutdown(s.ssl) } & SSL_RECEIVED_SHUTDOWN != 0 {
                event = BEV_EVENT_EOF;
            } else {
                dirty = true;
            }
        }
        SSL_ERROR_SYSCALL => {
            // SAFETY: peeking at this thread's OpenSSL error queue.
            if (ret == 0 || ret == -1) && unsafe { ERR_peek_error() } == 0 {
                dirty = true;
            }
            s.push_error(err as c_ulong);
        }
        SSL_ERROR_SSL => {
            // OpenSSL 3 reports a close without close_notify as a protocol
            // error, where 1.1 said SYSCALL with nothing queued. 2.1.12
            // then reports ERROR even with allow_dirty_shutdown; we call it
            // a dirty shutdown, as that flag's documentation promises.
            dirty = unexpected_eof();
            s.push_error(err as c_ulong);
        }
        SSL_ERROR_WANT_X509_LOOKUP => s.push_error(err as c_ulong),
        _ => log::warn(&format!("BUG: Unexpected OpenSSL error code {err}")),
    }
    loop {
        // SAFETY: popping this thread's OpenSSL error queue.
        let e = unsafe { ERR_get_error() };
        if e == 0 {
            break;
        }
        s.push_error(e);
    }
    if dirty && s.allow_dirty_shutdown.get() {
        event = BEV_EVENT_EOF;
    }
    stop_reading(bev);
    stop_writing(bev);
    bev.run_eventcb(when | event, 0);
}

/// Socket variant, handshake just done: an event still waiting from the
/// handshake is not re-armed by enabling it again, and the fd may hold
/// what the peer sent right after its last handshake message (TLS 1.3
/// application data behind the client's Finished) with no new edge to
/// come. Each side the fd is still known ready for runs once more, to find
/// out.
fn keep_edges(bev: &Bufferevent, fd: c_int) {
    let base = bev.base();
    for (ev, what) in [(bev.ev_read(), EV_READ), (bev.ev_write(), EV_WRITE)] {
        if ev.flags() & EVLIST_INSERTED != 0 && base.is_ready(fd, what) {
            base.activate_later(ev, what);
        }
    }
}

/// Drives the handshake one step; 1 when it finished, 0 while it waits,
/// -1 when it failed (already reported).
pub(super) fn do_handshake(bev: &Bufferevent) -> c_int {
    let s = state(bev);
    let (r, err) = ssl_call(s, |ssl| {
        // SAFETY: the live SSL, set to one side of the handshake.
        unsafe { openssl_sys::SSL_do_handshake(ssl) }
    });
    charge_raw(bev);
    let fd = bev.ev_read().fd();
    if r == 1 {
        s.phase.set(Phase::Open);
        if let Some(under) = under_of(s) {
            take_underlying_callbacks(bev, under);
        }
        bev.enable(bev.enabled());
        if s.underlying.is_null() {
            keep_edges(bev, fd);
        }
        bev.run_eventcb(BEV_EVENT_CONNECTED, 0);
        return 1;
    }
    match err {
        SSL_ERROR_WANT_WRITE => {
            if s.underlying.is_null() {
                bev.base().clear_ready(fd, EV_WRITE);
            }
            stop_reading(bev);
            start_writing(bev)
        }
        SSL_ERROR_WANT_READ => {
            if s.underlying.is_null() {
                bev.base().clear_ready(fd, EV_READ);
            }
            stop_writing(bev);
            start_reading(bev)
        }
        _ => {
            conn_closed(bev, BEV_EVENT_READING, err, r);
            -1
        }
    }
}

/// The most one SSL_read or SSL_write moves: a TLS record's payload.
const IO_PIECE: usize = 16384;

const MADE_PROGRESS: u8 = 1;
const BLOCKED: u8 = 2;
const FAILED: u8 = 4;

/// One SSL_read of at most `n` bytes into the input.
fn do_read(bev: &Bufferevent, n: usize) -> u8 {
    let s = state(bev);
    if bev.read_suspended() {
        return 0;
    }
    // Not zeroed: SSL_read initialises what it reports, and only that is
    // read back.
    let mut space = MaybeUninit::<[u8; IO_PIECE]>::uninit();
    let n = n.min(bev.max_to_read()).clamp(1, IO_PIECE);
    let (r, err) = ssl_call(s, |ssl| {
        // SAFETY: reading into our own buffer of n bytes.
        unsafe { openssl_sys::SSL_read(ssl, space.as_mut_ptr().cast(), n as c_int) }
    });
    if r > 0 {
        charge_raw(bev);
        // SAFETY: SSL_read wrote the first r bytes of space.
        let got = unsafe { std::slice::from_raw_parts(space.as_ptr().cast::<u8>(), r as usize) };
        let _ = bev.input().add(got);
        if s.read_wants_write.get() && clear_read_wants_write(bev) < 0 {
            return FAILED | MADE_PROGRESS;
        }
        if !s.underlying.is_null() {
            timers::reset_read(bev);
        }
        return MADE_PROGRESS;
    }
    charge_raw(bev);
    match err {
        SSL_ERROR_WANT_READ => {
            if s.underlying.is_null() {
                bev.base().clear_ready(bev.ev_read().fd(), EV_READ);
            }
            if s.read_wants_write.get() && clear_read_wants_write(bev) < 0 {
                return FAILED | BLOCKED;
            }
        }
        SSL_ERROR_WANT_WRITE => {
            if s.underlying.is_null() {
                bev.base().clear_ready(bev.ev_read().fd(), EV_WRITE);
            }
            if !s.read_wants_write.get() && set_read_wants_write(bev) < 0 {
                return FAILED | BLOCKED;
            }
        }
        _ => conn_closed(bev, BEV_EVENT_READING, err, r),
    }
    BLOCKED
}

/// SSL_writes of the output, at most `atmost` bytes.
fn do_write(bev: &Bufferevent, atmost: usize) -> u8 {
    let s = state(bev);
    let output = bev.output();
    let mut result = 0;
    let mut written = 0usize;
    let mut budget = match s.last_write.get() {
        0 => atmost.min(bev.max_to_write()),
        again => again,
    };
    // Only for a retried write longer than the chunk it starts in.
    let mut piece = Vec::new();
    while budget > 0
        && output.len() > written
        && !bev.write_suspended()
        && !output.is_frozen(FrozenEnd::Front)
    {
        let (_, regions) = output.peek(None, Some(written), 1);
        let Some(&(ptr, avail)) = regions.first() else {
            break;
        };
        let got = match s.last_write.get() {
            0 => budget.min(avail).min(IO_PIECE),
            again => again.min(output.len() - written),
        };
        // SSL_write reads straight from the output's chunk (the SSL takes
        // a moving write buffer); a retry may span chunks, then it goes
        // through a copy.
        let from = if got <= avail {
            ptr.cast_const()
        } else {
            piece.resize(got, 0);
            let n = output.copyout_from(written, &mut piece).unwrap_or(0);
            if n < got {
                break;
            }
            piece.as_ptr()
        };
        let (r, err) = ssl_call(s, |ssl| {
            // SAFETY: `from` holds `got` bytes: of `piece`, or of the
            // output's chunk, whose memory never moves and which only a
            // drain (none happens inside SSL_write) could free.
            unsafe { openssl_sys::SSL_write(ssl, from.cast(), got as c_int) }
        });
        charge_raw(bev);
        if r > 0 {
            result |= MADE_PROGRESS;
            s.last_write.set(0);
            written += r as usize;
            budget = budget.saturating_sub(r as usize);
            if s.write_wants_read.get() && clear_write_wants_read(bev) < 0 {
                result |= FAILED;
                break;
            }
            continue;
        }
        match err {
            SSL_ERROR_WANT_WRITE => {
                if s.underlying.is_null() {
                    bev.base().clear_ready(bev.ev_write().fd(), EV_WRITE);
                }
                if s.write_wants_read.get() && clear_write_wants_read(bev) < 0 {
                    result |= FAILED;
                }
                s.last_write.set(got);
            }
            SSL_ERROR_WANT_READ => {
                if s.underlying.is_null() {
                    bev.base().clear_ready(bev.ev_write().fd(), EV_READ);
                }
                if !s.write_wants_read.get() && set_write_wants_read(bev) < 0 {
                    result |= FAILED;
                }
                s.last_write.set(got);
            }
            _ => {
                s.last_write.set(0);
                let _ = output.drain(written);
                conn_closed(bev, BEV_EVENT_WRITING, err, r);
                return result | BLOCKED;
            }
        }
        result |= BLOCKED;
        break;
    }
    if written > 0 {
        let _ = output.drain(written);
        if !s.underlying.is_null() {
            timers::reset_write(bev);
        }
        bev.trigger(EV_WRITE, BEV_OPT_DEFER_CALLBACKS);
    }
    result
}

/// How much the next read may take; 0 when reading should stop.
fn bytes_to_read(bev: &Bufferevent) -> usize {
    let s = state(bev);
    if s.write_wants_read.get() || bev.enabled() & EV_READ == 0 || bev.read_suspended() {
        return 0;
    }
    let high = bev.wm_read().high;
    let want = if high != 0 {
        high.saturating_sub(bev.input().len())
    } else {
        bev.max_single_read()
    };
    want.min(bev.max_to_read())
}

/// Whether an SSL_read can go ahead without blocking the loop. On a
/// nonblocking fd it always can (it answers WANT_READ when drained). A
/// blocking fd, which 2.1.12 accepts and leaves blocking, is asked first
/// unless OpenSSL holds decrypted bytes: the readiness we keep says only
/// that the last read was not short, and a blocking read of a drained fd
/// would stall the loop where libevent's level-triggered wait would not.
fn more_to_read(bev: &Bufferevent) -> bool {
    let s = state(bev);
    if !s.blocking_fd.get() {
        return true;
    }
    // SAFETY: asking the live SSL how many decrypted bytes it holds.
    if unsafe { openssl_sys::SSL_pending(s.ssl) } > 0 {
        return true;
    }
    let mut pfd = libc::pollfd {
        fd: bev.ev_read().fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: polling one pollfd of ours without waiting.
    let r = unsafe { libc::poll(&mut pfd, 1, 0) };
    // An error, a hang-up or data: let SSL_read find out which.
    r != 0
}

/// Reads and decrypts until OpenSSL blocks or reading should stop.
pub(super) fn consider_reading(bev: &Bufferevent) {
    let s = state(bev);
    while s.write_wants_read.get() {
        if do_write(bev, bev.max_single_write()) & (BLOCKED | FAILED) != 0 {
            break;
        }
    }
    if s.write_wants_read.get() {
        return;
    }
    let mut all = 0;
    let mut n = bytes_to_read(bev);
    // A fairness cap for the socket variant: past it the rest waits for
    // the next loop pass.
    let mut allowance = bev.max_single_read().max(1) * 4;
    while n > 0 {
        if !more_to_read(bev) {
            bev.base().clear_ready(bev.ev_read().fd(), EV_READ);
            all |= BLOCKED;
            break;
        }
        let r = do_read(bev, n);
        all |= r;
        if r & (BLOCKED | FAILED) != 0 || bev.read_suspended() {
            break;
        }
        // SAFETY: asking the live SSL how many decrypted bytes it holds.
        let pending = unsafe { openssl_sys::SSL_pending(s.ssl) }.max(0) as usize;
        n = if pending > 0 {
            pending.min(bytes_to_read(bev).max(1))
        } else if !s.underlying.is_null() || allowance > 0 {
            bytes_to_read(bev)
        } else {
            0
        };
        allowance = allowance.saturating_sub(n);
    }
    if all & MADE_PROGRESS != 0 {
        bev.trigger(EV_READ, 0);
    }
    if !s.underlying.is_null() || bev.refcount() == 0 {
        return;
    }
    let ev = bev.ev_read();
    if bev.read_suspended() || bev.enabled() & EV_READ == 0 {
        bev.base().del(ev);
    } else if all & (BLOCKED | FAILED) == 0 && ev.flags() & EVLIST_INSERTED != 0 {
        // Stopped early with the fd still readable: the edge is not lost.
        bev.base().activate_later(ev, EV_READ);
    }
}

/// Encrypts and sends the output until OpenSSL blocks or it is empty.
pub(super) fn consider_writing(bev: &Bufferevent) {
    let s = state(bev);
    while s.read_wants_write.get() {
        let r = do_read(bev, 1024);
        if r & MADE_PROGRESS != 0 {
            bev.trigger(EV_READ, 0);
        }
        if r & (BLOCKED | FAILED) != 0 {
            break;
        }
    }
    if s.read_wants_write.get() {
        return;
    }
    let under = under_of(s);
    let mut last = 0;
    let mut rounds = 4;
    while bev.enabled() & EV_WRITE != 0 && !bev.write_suspended() && !bev.output().is_empty() {
        let mut n = bev.max_single_write();
        if let Some(u) = under {
            let high = u.wm_write().high;
            if high != 0 {
                if u.output().len() >= high {
                    break;
                }
                n = high - u.output().len();
            }
        } else if rounds == 0 {
            break;
        }
        rounds -= 1;
        last = do_write(bev, n);
        if last & (BLOCKED | FAILED) != 0 || last & MADE_PROGRESS == 0 || bev.refcount() == 0 {
            break;
        }
    }
    if under.is_some() || bev.refcount() == 0 {
        return;
    }
    let ev = bev.ev_write();
    if bev.output().is_empty() || bev.write_suspended() || bev.enabled() & EV_WRITE == 0 {
        bev.base().del(ev);
    } else if last == MADE_PROGRESS && ev.flags() & EVLIST_INSERTED != 0 {
        bev.base().activate_later(ev, EV_WRITE);
    }
}

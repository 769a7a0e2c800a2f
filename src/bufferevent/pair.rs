//! Paired bufferevents: two halves in one process, where what one writes
//! is moved (as chunks, not copied) into the other's input as soon as the
//! writer has EV_WRITE and the reader EV_READ enabled. Their callbacks are
//! always deferred, and their timeouts are plain timers.

use std::cell::Cell;
use std::ffi::{c_int, c_short, c_void};
use std::sync::Arc;

use crate::buffer::{Buffer, BufferError, CallbackId, CbInfo, FrozenEnd};
use crate::reactor::{Base, EV_READ, EV_WRITE};
use crate::thread::Lock;

use super::{
    BEV_EVENT_EOF, BEV_EVENT_READING, BEV_EVENT_WRITING, BEV_OPT_DEFER_CALLBACKS, Bufferevent,
    Kind, timers,
};

/// How `bufferevent_flush` is asked to move data.
pub const BEV_NORMAL: c_int = 0;
pub const BEV_FINISHED: c_int = 2;

/// A half's link to the other; NULL once either half is gone.
#[derive(Default)]
pub struct PairState {
    partner: Cell<*const Bufferevent>,
    /// The half's own callback on its output, which hands writes on. The
    /// compat `evbuffer_setcb` can remove it, and writes then stay put.
    out_cb: Cell<Option<CallbackId>>,
}

fn state(bev: &Bufferevent) -> Option<&PairState> {
    match &bev.kind {
        Kind::Pair(p) => Some(p),
        _ => None,
    }
}

/// The other half, if `bev` is a pair half whose partner still lives.
pub fn partner(bev: &Bufferevent) -> Option<&Bufferevent> {
    let p = state(bev)?.partner.get();
    // SAFETY: a partner pointer is cleared (in `unlink`) before the
    // partner's memory can go away.
    (!p.is_null()).then(|| unsafe { &*p })
}

/// `bufferevent_pair_new`: both halves, linked, with deferred callbacks.
pub fn new(base: *mut Base, options: c_int) -> [*mut Bufferevent; 2] {
    let options = options | BEV_OPT_DEFER_CALLBACKS;
    let first = half(base, options, None);
    // SAFETY: first is the live bufferevent just made.
    let shared = unsafe { (*first).shared_lock() };
    let halves = [first, half(base, options, shared)];
    // SAFETY: both are live bufferevents just made.
    let (a, b) = unsafe { (&*halves[0], &*halves[1]) };
    state(a).expect("a pair half").partner.set(b);
    state(b).expect("a pair half").partner.set(a);
    halves
}

/// One half; with BEV_OPT_THREADSAFE the second shares the first's lock,
/// since moving data between them touches both.
fn half(base: *mut Base, options: c_int, lock: Option<Arc<Lock>>) -> *mut Bufferevent {
    let kind = Kind::Pair(PairState::default());
    let raw = Bufferevent::create_sharing(base, options, kind, lock);
    // SAFETY: raw is the live bufferevent just made.
    let bev = unsafe { &*raw };
    timers::assign(bev);
    // Deferrable, as libevent registers it: after evbuffer_defer_callbacks
    // on the output, writes wait there until the loop runs the callbacks.
    let out_cb = bev
        .output()
        .add_internal_deferrable_cb(output_changed, raw.cast());
    if let Some(st) = state(bev) {
        st.out_cb.set(Some(out_cb));
    }
    bev.input().set_frozen(FrozenEnd::Back, true);
    bev.output().set_frozen(FrozenEnd::Front, true);
    raw
}

/// Takes a reference on `bev` and its partner for the duration of `f`.
fn with_both<R>(bev: &Bufferevent, f: impl FnOnce() -> R) -> R {
    bev.incref();
    let other = partner(bev).map(|p| {
        p.incref();
        std::ptr::from_ref(p)
    });
    let r = f();
    if let Some(p) = other {
        // SAFETY: the reference taken above keeps the partner's memory.
        unsafe { (*p).decref() };
    }
    bev.decref();
    r
}

/// Whether `src` should hand its output to `dst` now.
fn wants_to_talk(src: &Bufferevent, dst: &Bufferevent) -> bool {
    src.enabled() & EV_WRITE != 0
        && dst.enabled() & EV_READ != 0
        && !dst.read_suspended()
        && !src.output().is_empty()
}

/// The partner that new output of `bev` would reach at once and whole,
/// by a path on which no program code runs: `bev` has nothing queued,
/// its own callback on the output is still there to hand data on (and
/// would run now, the output not deferring its callbacks), neither its
/// output nor the partner's input has a program callback, both keep the
/// freezes a pair sets (a transfer would restore one the program lifted),
/// and the partner has no read high watermark. Writes then skip the
/// output: nobody could tell the difference.
#[inline(always)]
fn direct_partner(bev: &Bufferevent) -> Option<&Bufferevent> {
    let other = partner(bev)?;
    let own_cb = state(bev)?.out_cb.get()?;
    let direct = bev.enabled() & EV_WRITE != 0
        && other.enabled() & EV_READ != 0
        && !other.read_suspended()
        && other.wm_read().high == 0
        && bev.output().idle_with_own_callback(own_cb)
        && !other.input().has_program_callbacks()
        && other.input().is_frozen(FrozenEnd::Back);
    direct.then_some(other)
}

/// `bufferevent_write` on a pair half.
pub fn write(bev: &Bufferevent, data: &[u8]) -> Result<(), BufferError> {
    match direct_partner(bev) {
        Some(other) if !data.is_empty() => {
            other.input().add_as_moved(data);
            moved(bev, other);
            Ok(())
        }
        _ => bev.output().add(data),
    }
}

/// `bufferevent_write_buffer` on a pair half: `buf` goes straight to the
/// partner when [`direct_partner`] allows and `buf` has no callbacks.
pub fn write_buffer(bev: &Bufferevent, buf: &Buffer) -> Result<(), BufferError> {
    let Some(other) = direct_partner(bev) else {
        return bev.output().add_buffer(buf);
    };
    let theirs = other.input();
    // On the way through the output, `buf`'s callbacks run while the bytes
    // sit in the output, before they reach the partner. Any of them may
    // run program code (its own, or a filter's through a bufferevent's
    // callback on its input) that could look: such a buffer goes that way.
    if buf.is_empty()
        || buf.has_callbacks()
        || std::ptr::eq(buf, theirs)
        || std::ptr::eq(buf, bev.output())
        || buf.is_frozen(FrozenEnd::Front)
    {
        return bev.output().add_buffer(buf);
    }
    // Nothing of the program's runs from here on (a pair's callbacks are
    // deferred), so neither half can go away meanwhile.
    theirs.add_buffer_unfrozen(buf);
    moved(bev, other);
    Ok(())
}

/// Moves `src`'s output into `dst`'s input, up to `dst`'s read high
/// watermark unless `ignore_wm`, then runs the callbacks that are due.
///
/// As in libevent, the two ends the bytes pass through are unfrozen for
/// the move and frozen again afterwards: the program's callbacks on
/// either buffer, which run during the move, may prepend to the output
/// or add to the input then (and the bytes move on in a nested
/// transfer), and an end the program unfroze earlier ends up frozen.
fn transfer(src: &Bufferevent, dst: &Bufferevent, ignore_wm: bool) {
    src.output().set_frozen(FrozenEnd::Front, false);
    dst.input().set_frozen(FrozenEnd::Back, false);
    transfer_open(src, dst, ignore_wm);
    src.output().set_frozen(FrozenEnd::Front, true);
    dst.input().set_frozen(FrozenEnd::Back, true);
}

fn transfer_open(src: &Bufferevent, dst: &Bufferevent, ignore_wm: bool) {
    let high = dst.wm_read().high;
    let room = high.saturating_sub(dst.input().len());
    if high != 0 && room == 0 && !ignore_wm {
        return;
    }
    // The halves' own ends are frozen against the program, not against us.
    let n = if high != 0 && room > 0 {
        src.output().remove_buffer_unfrozen(dst.input(), room)
    } else {
        let n = src.output().len();
        dst.input().add_buffer_unfrozen(src.output());
        n
    };
    if n > 0 {
        moved(src, dst);
    } else {
        dst.trigger(EV_READ, 0);
        src.trigger(EV_WRITE, 0);
    }
}

/// After data moved from `src` to `dst`: `dst`'s timeouts start again,
/// and each side's callback runs if its watermark says so.
fn moved(src: &Bufferevent, dst: &Bufferevent) {
    timers::reset_read(dst);
    // Without a write timeout the write timer is never armed: the common
    // case then touches neither `dst`'s output nor its timer.
    if Bufferevent::timeout_ns(dst.timeout_write()).is_some() {
        if !dst.output().is_empty() {
            timers::reset_write(dst);
        } else {
            timers::stop(dst, EV_WRITE);
        }
    }
    dst.trigger(EV_READ, 0);
    src.trigger(EV_WRITE, 0);
}

pub fn enable(bev: &Bufferevent, what: c_short) -> c_int {
    with_both(bev, || {
        if what & EV_READ != 0 {
            timers::reset_read(bev);
        }
        if what & EV_WRITE != 0 && !bev.output().is_empty() {
            timers::reset_write(bev);
        }
        if let Some(other) = partner(bev)
            && what & EV_READ != 0
            && wants_to_talk(other, bev)
        {
            transfer(other, bev, false);
        }
        if let Some(other) = partner(bev)
            && what & EV_WRITE != 0
            && wants_to_talk(bev, other)
        {
            transfer(bev, other, false);
        }
    });
    0
}

pub fn disable(bev: &Bufferevent, what: c_short) -> c_int {
    timers::stop(bev, what);
    0
}

/// At the last reference: the partner forgets this half (PAIR-8: it gets
/// no event, its flush fails and its writes stay in its output).
pub fn unlink(bev: &Bufferevent) {
    if let Some(other) = partner(bev)
        && let Some(st) = state(other)
    {
        st.partner.set(std::ptr::null());
    }
    if let Some(st) = state(bev) {
        st.partner.set(std::ptr::null());
        // A deferred run of the output's callbacks may still be queued and
        // outlive this half (the buffer waits for it); our callback must
        // not be in it, its argument being this half's memory.
        if let Some(id) = st.out_cb.take() {
            bev.output().remove_callback(id);
        }
    }
}

/// `bufferevent_flush` on a pair half.
pub fn flush(bev: &Bufferevent, iotype: c_short, mode: c_int) -> c_int {
    let Some(other) = partner(bev) else { return -1 };
    if mode == BEV_NORMAL {
        return 0;
    }
    let other = std::ptr::from_ref(other);
    with_both(bev, || {
        // SAFETY: with_both holds a reference on the partner.
        let other = unsafe { &*other };
        if iotype & EV_READ != 0 {
            transfer(other, bev, true);
        }
        if iotype & EV_WRITE != 0 {
            transfer(bev, other, true);
        }
        if mode == BEV_FINISHED {
            let mut what = BEV_EVENT_EOF;
            if iotype & EV_READ != 0 {
                what |= BEV_EVENT_WRITING;
            }
            if iotype & EV_WRITE != 0 {
                what |= BEV_EVENT_READING;
            }
            other.run_eventcb(what, 0);
        }
    });
    0
}

/// The output's change callback: new data goes to a partner that reads.
fn output_changed(_buf: &Buffer, info: &CbInfo, arg: *mut c_void) {
    // SAFETY: arg is the pair half owning this output.
    let bev = unsafe { &*arg.cast::<Bufferevent>() };
    if info.n_added <= info.n_deleted {
        return;
    }
    let Some(other) = partner(bev) else { return };
    let other = std::ptr::from_ref(other);
    with_both(bev, || {
        // SAFETY: with_both holds a reference on the partner.
        let other = unsafe { &*other };
        if wants_to_talk(bev, other) {
            transfer(bev, other, false);
        }
    });
}

//! Filtering bufferevents: a bufferevent over another one (the
//! underlying), passing data through the program's input and output
//! filter functions. The filter takes over the underlying's callbacks and
//! keeps its reading suspended while the filter itself does not read.

use std::cell::Cell;
use std::ffi::{c_int, c_short, c_void};

use crate::buffer::{Buffer, CallbackId, CbInfo};
use crate::ffi::bufferevent::bufferevent_filter_cb;
use crate::ffi::bufferevent_struct::bufferevent;
use crate::log;
use crate::reactor::{EV_READ, EV_WRITE};

use super::{BEV_OPT_CLOSE_ON_FREE, Bufferevent, Callbacks, Kind, timers};

/// Why the underlying's reading is held back: the filter does not read.
pub const SUSPEND_FILTER_READ: u16 = 0x10;

/// `enum bufferevent_filter_result`.
pub const BEV_OK: c_int = 0;
/// The flush modes a filter is called with.
const BEV_NORMAL: c_int = 0;

/// The program's cleanup for the filter context.
pub type FreeContext = Option<unsafe extern "C" fn(ctx: *mut c_void)>;

/// A callback record on one of our buffers that can be switched on and off.
const CB_ENABLED: u32 = 1;

pub struct FilterState {
    underlying: *const Bufferevent,
    process_in: bufferevent_filter_cb,
    process_out: bufferevent_filter_cb,
    free_context: FreeContext,
    ctx: *mut c_void,
    inbuf_cb: Cell<Option<CallbackId>>,
    outbuf_cb: Cell<Option<CallbackId>>,
}

fn state(bev: &Bufferevent) -> &FilterState {
    match &bev.kind {
        Kind::Filter(f) => f,
        _ => unreachable!("filter handlers run only on filter bufferevents"),
    }
}

/// The bufferevent under a filter.
pub fn underlying(bev: &Bufferevent) -> Option<&Bufferevent> {
    match &bev.kind {
        // SAFETY: the filter holds a reference on its underlying bufferevent
        // until its own teardown.
        Kind::Filter(f) => Some(unsafe { &*f.underlying }),
        _ => None,
    }
}

/// `bufferevent_filter_new` (the underlying is checked by the caller).
pub fn new(
    under: &Bufferevent,
    input: bufferevent_filter_cb,
    output: bufferevent_filter_cb,
    options: c_int,
    free_context: FreeContext,
    ctx: *mut c_void,
) -> *mut Bufferevent {
    let kind = Kind::Filter(Box::new(FilterState {
        underlying: under,
        process_in: input,
        process_out: output,
        free_context,
        ctx,
        inbuf_cb: Cell::new(None),
        outbuf_cb: Cell::new(None),
    }));
    // With BEV_OPT_THREADSAFE a filter gets a lock of its own and leaves
    // the underlying bufferevent's alone: 2.1.12 makes the lock before it
    // knows the underlying one (a TLS filter shares it).
    let raw = Bufferevent::create(under.base_ptr(), options, kind);
    // SAFETY: raw is the live bufferevent just made.
    let bev = unsafe { &*raw };
    let st = state(bev);
    under.set_callbacks(Callbacks {
        read: Some(under_read),
        write: Some(under_write),
        event: Some(under_event),
        arg: raw.cast(),
    });
    let inbuf = bev.input().add_internal_cb(input_drained, raw.cast());
    bev.input().set_callback_flags(inbuf, CB_ENABLED, false);
    st.inbuf_cb.set(Some(inbuf));
    st.outbuf_cb
        .set(Some(bev.output().add_internal_cb(output_added, raw.cast())));
    timers::assign(bev);
    under.incref();
    under.enable(EV_READ | EV_WRITE);
    under.suspend_read(SUSPEND_FILTER_READ);
    raw
}

fn input_full(bev: &Bufferevent, mode: c_int) -> bool {
    let high = bev.wm_read().high;
    mode == BEV_NORMAL && high != 0 && bev.input().len() >= high
}

fn under_output_full(bev: &Bufferevent, mode: c_int) -> bool {
    let Some(under) = underlying(bev) else {
        return false;
    };
    let high = under.wm_write().high;
    mode == BEV_NORMAL && high != 0 && under.output().len() >= high
}

/// The most a filter may put into a buffer of `len` bytes whose high
/// watermark is `high`: -1 (no limit) without one or outside BEV_NORMAL.
fn dst_limit(high: usize, len: usize, mode: c_int) -> isize {
    if mode == BEV_NORMAL && high != 0 {
        high as isize - len as isize
    } else {
        -1
    }
}

/// Calls a filter function (or the pass-through one) and returns its result.
fn call_filter(
    f: bufferevent_filter_cb,
    src: &Buffer,
    dst: &Buffer,
    limit: isize,
    mode: c_int,
    ctx: *mut c_void,
) -> c_int {
    match f {
        Some(f) => {
            let (src, dst) = (
                std::ptr::from_ref(src).cast_mut(),
                std::ptr::from_ref(dst).cast_mut(),
            );
            // SAFETY: calling the program's filter with two live buffers.
            unsafe { f(src, dst, limit, mode, ctx) }
        }
        None => {
            let n = if limit < 0 {
                usize::MAX
            } else {
                limit as usize
            };
            if src.remove_buffer(dst, n).is_ok() {
                BEV_OK
            } else {
                2
            }
        }
    }
}

/// Moves data from the underlying's input through the input filter.
fn process_input(bev: &Bufferevent, mode: c_int, processed: &mut bool) -> c_int {
    if mode == BEV_NORMAL && (bev.enabled() & EV_READ == 0 || input_full(bev, mode)) {
        return BEV_OK;
    }
    let st = state(bev);
    let Some(under) = underlying(bev) else {
        return BEV_OK;
    };
    let mut res;
    loop {
        let limit = dst_limit(bev.wm_read().high, bev.input().len(), mode);
        res = call_filter(
            st.process_in,
            under.input(),
            bev.input(),
            limit,
            mode,
            st.ctx,
        );
        if res == BEV_OK {
            *processed = true;
        }
        let more = res == BEV_OK
            && bev.enabled() & EV_READ != 0
            && !under.input().is_empty()
            && !input_full(bev, mode);
        if !more {
            break;
        }
    }
    if *processed {
        timers::reset_read(bev);
    }
    res
}

/// Moves data from the filter's output through the output filter into the
/// underlying's output, running the write callback as it goes.
fn process_output(bev: &Bufferevent, mode: c_int, processed_any: &mut bool) -> c_int {
    if mode == BEV_NORMAL
        && (bev.enabled() & EV_WRITE == 0
            || under_output_full(bev, mode)
            || bev.output().is_empty())
    {
        return BEV_OK;
    }
    let st = state(bev);
    let Some(under) = underlying(bev) else {
        return BEV_OK;
    };
    let outbuf = st.outbuf_cb.get();
    if let Some(id) = outbuf {
        bev.output().set_callback_flags(id, CB_ENABLED, false);
    }
    let mut res;
    let can_go_on = |res: c_int| {
        res == BEV_OK
            && bev.enabled() & EV_WRITE != 0
            && !bev.output().is_empty()
            && !under_output_full(bev, mode)
    };
    loop {
        let mut processed = false;
        loop {
            let limit = dst_limit(under.wm_write().high, under.output().len(), mode);
            res = call_filter(
                st.process_out,
                bev.output(),
                under.output(),
                limit,
                mode,
                st.ctx,
            );
            if res == BEV_OK {
                processed = true;
                *processed_any = true;
            }
            if !can_go_on(res) {
                break;
            }
        }
        if !processed {
            break;
        }
        bev.trigger(EV_WRITE, 0);
        if !can_go_on(res) {
            break;
        }
    }
    if let Some(id) = outbuf {
        bev.output().set_callback_flags(id, CB_ENABLED, true);
    }
    if *processed_any {
        timers::reset_write(bev);
    }
    res
}

/// Filters what the underlying has read and tells the program.
fn read_from_underlying(bev: &Bufferevent) {
    let mut processed = false;
    process_input(bev, BEV_NORMAL, &mut processed);
    if processed {
        bev.trigger(EV_READ, 0);
        let under_has_more = underlying(bev).is_some_and(|u| !u.input().is_empty());
        if under_has_more && input_full(bev, BEV_NORMAL) {
            // Resume once the program drains the filter's input.
            if let Some(id) = state(bev).inbuf_cb.get() {
                bev.input().set_callback_flags(id, CB_ENABLED, true);
            }
        }
    }
}

pub fn enable(bev: &Bufferevent, what: c_short) -> c_int {
    if what & EV_WRITE != 0 {
        timers::reset_write(bev);
    }
    if what & EV_READ != 0 {
        timers::reset_read(bev);
        if let Some(under) = underlying(bev) {
            under.unsuspend_read(SUSPEND_FILTER_READ);
        }
    }
    0
}

pub fn disable(bev: &Bufferevent, what: c_short) -> c_int {
    timers::stop(bev, what);
    if what & EV_READ != 0
        && let Some(under) = underlying(bev)
    {
        under.suspend_read(SUSPEND_FILTER_READ);
    }
    0
}

/// `bufferevent_flush` on a filter: 1 if a filter function moved data.
pub fn flush(bev: &Bufferevent, iotype: c_short, mode: c_int) -> c_int {
    bev.incref();
    let mut processed = false;
    if iotype & EV_READ != 0 {
        process_input(bev, mode, &mut processed);
    }
    if iotype & EV_WRITE != 0 {
        process_output(bev, mode, &mut processed);
    }
    if let Some(under) = underlying(bev) {
        under.flush(iotype, mode);
    }
    bev.decref();
    processed.into()
}

/// At the last reference: frees the underlying with BEV_OPT_CLOSE_ON_FREE,
/// else hands it back quiet and reading as before.
pub fn unlink(bev: &Bufferevent) {
    if let Some(under) = underlying(bev) {
        release_underlying(bev, under);
    }
}

/// What any bufferevent over another does when it goes (filters and TLS
/// filters alike): frees the underlying with BEV_OPT_CLOSE_ON_FREE, else
/// clears the callbacks it set there and lets the underlying read again.
pub fn release_underlying(bev: &Bufferevent, under: &Bufferevent) {
    if bev.options() & BEV_OPT_CLOSE_ON_FREE != 0 {
        if under.refcount() < 2 {
            log::warn("BEV_OPT_CLOSE_ON_FREE set on an bufferevent with too few references");
        } else {
            under.free();
        }
    } else {
        // Only callbacks still ours (argument: this filter) are cleared.
        if under.callbacks().arg == std::ptr::from_ref(bev).cast_mut().cast() {
            under.set_callbacks(Callbacks {
                read: None,
                write: None,
                event: None,
                arg: std::ptr::null_mut(),
            });
        }
        under.unsuspend_read(SUSPEND_FILTER_READ);
    }
}

/// On the loop after the last reference: the program's context cleanup,
/// then the reference on the underlying goes.
pub fn destruct(bev: &Bufferevent) {
    let st = state(bev);
    if let Some(free) = st.free_context {
        // SAFETY: calling the program's cleanup with its own context.
        unsafe { free(st.ctx) };
    }
    if let Some(under) = underlying(bev) {
        under.decref();
    }
}

/// The filter behind an underlying's callback argument.
fn filter_of<'a>(arg: *mut c_void) -> &'a Bufferevent {
    // SAFETY: the underlying's callbacks are ours only while the filter
    // lives (unlink clears them), with the filter as their argument.
    unsafe { &*arg.cast::<Bufferevent>() }
}

unsafe extern "C" fn under_read(_under: *mut bufferevent, arg: *mut c_void) {
    let bev = filter_of(arg);
    if bev.refcount() > 0 {
        bev.incref();
        read_from_underlying(bev);
        bev.decref();
    }
}

unsafe extern "C" fn under_write(_under: *mut bufferevent, arg: *mut c_void) {
    let bev = filter_of(arg);
    if bev.refcount() > 0 {
        bev.incref();
        let mut processed = false;
        process_output(bev, BEV_NORMAL, &mut processed);
        bev.decref();
    }
}

unsafe extern "C" fn under_event(_under: *mut bufferevent, what: c_short, arg: *mut c_void) {
    let bev = filter_of(arg);
    if bev.refcount() > 0 {
        bev.run_eventcb(what, 0);
    }
}

/// The filter's input callback, switched on while the input is full and
/// the underlying still holds data: filters more once the program drained.
fn input_drained(_buf: &Buffer, _info: &CbInfo, arg: *mut c_void) {
    let bev = filter_of(arg);
    if input_full(bev, BEV_NORMAL) {
        return;
    }
    if let Some(id) = state(bev).inbuf_cb.get() {
        bev.input().set_callback_flags(id, CB_ENABLED, false);
    }
    if underlying(bev).is_some_and(|u| !u.input().is_empty()) {
        bev.incref();
        read_from_underlying(bev);
        bev.decref();
    }
}

/// The filter's output callback: data the program adds is filtered at once.
fn output_added(_buf: &Buffer, info: &CbInfo, arg: *mut c_void) {
    if info.n_added == 0 {
        return;
    }
    let bev = filter_of(arg);
    bev.incref();
    let mut processed = false;
    process_output(bev, BEV_NORMAL, &mut processed);
    bev.decref();
}

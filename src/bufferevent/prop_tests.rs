//! Property test of the filter path: a filter bufferevent over one half of
//! a pair, whose filters pass data through in pieces of any size and
//! answer BEV_NEED_MORE at random points, under arbitrary writes from both
//! ends. Every byte written must arrive, once and in order, at the other
//! end. Driven through the C entry points, as a program would.
//!
//! `cargo test` runs few cases; PROPTEST_CASES=<n> runs more (scripts/fuzz).

use std::cell::{Cell, RefCell};
use std::ffi::{c_int, c_short, c_void};

use proptest::prelude::*;

use super::{BEV_OPT_CLOSE_ON_FREE, BEV_OPT_DEFER_CALLBACKS};
use crate::buffer::Buffer;
use crate::buffer::prop_tests::cases;
use crate::ffi::buffer::{evbuffer_get_length, evbuffer_remove, evbuffer_remove_buffer};
use crate::ffi::bufferevent::*;
use crate::ffi::bufferevent_struct::bufferevent;
use crate::ffi::event::{event_base_free, event_base_loop, event_base_new};
use crate::reactor::{EV_READ, EV_WRITE, EVLOOP_NONBLOCK};

const BEV_OK: c_int = 0;
const BEV_NEED_MORE: c_int = 1;
const BEV_FLUSH: c_int = 1;
const BEV_FINISHED: c_int = 2;
const BEV_EVENT_READING: c_short = 0x01;
const BEV_EVENT_WRITING: c_short = 0x02;
const BEV_EVENT_EOF: c_short = 0x10;

/// How one direction's filter behaves: a seeded choice of piece sizes and
/// of when to answer BEV_NEED_MORE.
struct Plan {
    rng: Cell<u64>,
    max_piece: usize,
    need_more_pct: u64,
    /// Bytes this filter has let through.
    passed: Cell<usize>,
}

impl Plan {
    fn new(seed: u64, max_piece: usize, need_more_pct: u64) -> Plan {
        Plan {
            rng: Cell::new(seed | 1),
            max_piece,
            need_more_pct,
            passed: Cell::new(0),
        }
    }

    fn next(&self) -> u64 {
        let mut x = self.rng.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng.set(x);
        x
    }
}

/// The filter function of both directions.
unsafe extern "C" fn pieces(
    src: *mut Buffer,
    dst: *mut Buffer,
    limit: isize,
    mode: c_int,
    ctx: *mut c_void,
) -> c_int {
    // SAFETY: ctx is the Plan the test passed, alive until the filter goes.
    let plan = unsafe { &*ctx.cast::<Plan>() };
    // SAFETY: src is the live buffer the filter was called with.
    let have = unsafe { evbuffer_get_length(src) };
    let room = usize::try_from(limit).unwrap_or(usize::MAX);
    let (want, ok) = if mode == BEV_FINISHED {
        (have, true)
    } else {
        let r = plan.next();
        let need_more = r % 100 < plan.need_more_pct;
        // A filter answering BEV_OK must move something while it has
        // input, or the library rightly calls it forever.
        let least = usize::from(!need_more);
        let piece = least + (r >> 8) as usize % plan.max_piece;
        (piece, !need_more)
    };
    let n = want.min(have).min(room);
    if n > 0 {
        // SAFETY: both are live buffers given to the filter.
        let moved = unsafe { evbuffer_remove_buffer(src, dst, n) };
        assert_eq!(moved, n as c_int);
        plan.passed.set(plan.passed.get() + n);
    }
    if ok && (n > 0 || have == 0 || mode == BEV_FINISHED) {
        BEV_OK
    } else {
        BEV_NEED_MORE
    }
}

/// Where a bufferevent's readable bytes go.
#[derive(Default)]
struct Sink {
    got: RefCell<Vec<u8>>,
    events: Cell<c_short>,
}

fn take_all(bev: *mut bufferevent, sink: &Sink) {
    let mut chunk = [0u8; 512];
    loop {
        // SAFETY: bev is live; its input is a live buffer; chunk is writable.
        let n = unsafe {
            evbuffer_remove(
                bufferevent_get_input(bev),
                chunk.as_mut_ptr().cast(),
                chunk.len(),
            )
        };
        if n <= 0 {
            break;
        }
        sink.got
            .borrow_mut()
            .extend_from_slice(&chunk[..n as usize]);
    }
}

unsafe extern "C" fn on_read(bev: *mut bufferevent, arg: *mut c_void) {
    // SAFETY: arg is the test's Sink, which outlives the bufferevents.
    take_all(bev, unsafe { &*arg.cast::<Sink>() });
}

unsafe extern "C" fn on_event(_bev: *mut bufferevent, what: c_short, arg: *mut c_void) {
    // SAFETY: as in on_read.
    let sink = unsafe { &*arg.cast::<Sink>() };
    sink.events.set(sink.events.get() | what);
}

#[derive(Debug, Clone)]
enum Step {
    /// The program writes to the filter (filtered, then out of the pair).
    WriteFilter(Vec<u8>),
    /// The far end of the pair writes (filtered on the way in).
    WriteFar(Vec<u8>),
    /// One non-blocking pass of the loop.
    Loop,
    /// `bufferevent_flush(filter, EV_WRITE, BEV_FLUSH)`.
    Flush,
    /// Writing on the filter is switched off or back on.
    ToggleWrite,
}

fn step() -> impl Strategy<Value = Step> {
    let data = prop::collection::vec(any::<u8>(), 0..300);
    prop_oneof![
        4 => data.clone().prop_map(Step::WriteFilter),
        4 => data.prop_map(Step::WriteFar),
        4 => Just(Step::Loop),
        1 => Just(Step::Flush),
        1 => Just(Step::ToggleWrite),
    ]
}

fn loop_until_idle(base: *mut crate::reactor::Base) {
    for _ in 0..64 {
        // SAFETY: base is live.
        let r = unsafe { event_base_loop(base, EVLOOP_NONBLOCK) };
        assert!(r >= 0);
    }
}

#[allow(clippy::too_many_arguments)]
fn run(
    steps: &[Step],
    seeds: (u64, u64),
    max_piece: usize,
    need_more_pct: u64,
    read_high: usize,
    under_write_high: usize,
    defer: bool,
) {
    let base = event_base_new();
    assert!(!base.is_null());
    let opts = if defer { BEV_OPT_DEFER_CALLBACKS } else { 0 };
    let mut pair = [std::ptr::null_mut(); 2];
    // SAFETY: base is live; pair is writable for two pointers.
    let got = unsafe { bufferevent_pair_new(base, opts, pair.as_mut_ptr()) };
    assert_eq!(got, 0);
    let [near, far] = pair;
    let plan_in = Box::new(Plan::new(seeds.0, max_piece, need_more_pct));
    let plan_out = Box::new(Plan::new(seeds.1, max_piece, need_more_pct));
    let ctx_in: *const Plan = &*plan_in;
    let ctx_out: *const Plan = &*plan_out;
    // One context serves both filter functions: each wrapper picks its plan.
    // SAFETY: near is live; the contexts outlive the filter.
    let filt = unsafe {
        bufferevent_filter_new(
            near,
            Some(filter_in),
            Some(filter_out),
            opts | BEV_OPT_CLOSE_ON_FREE,
            Some(free_contexts),
            Box::into_raw(Box::new((ctx_in, ctx_out))).cast(),
        )
    };
    assert!(!filt.is_null());
    let at_filter = Sink::default();
    let at_far = Sink::default();
    let fa: *const Sink = &at_filter;
    let fb: *const Sink = &at_far;
    // SAFETY: live bufferevents; the sinks outlive them.
    unsafe {
        bufferevent_setcb(filt, Some(on_read), None, Some(on_event), fa as *mut c_void);
    }
    // SAFETY: as above.
    unsafe { bufferevent_setcb(far, Some(on_read), None, Some(on_event), fb as *mut c_void) };
    // SAFETY: live bufferevents.
    unsafe {
        assert_eq!(bufferevent_enable(filt, EV_READ | EV_WRITE), 0);
        assert_eq!(bufferevent_enable(far, EV_READ | EV_WRITE), 0);
        if read_high > 0 {
            bufferevent_setwatermark(filt, EV_READ, 0, read_high);
        }
        if under_write_high > 0 {
            bufferevent_setwatermark(near, EV_WRITE, 0, under_write_high);
        }
    }

    let mut sent_out = Vec::new();
    let mut sent_in = Vec::new();
    let mut writing = true;
    for s in steps {
        match s {
            Step::WriteFilter(d) => {
                // SAFETY: live bufferevent; d is readable for its length.
                let got = unsafe { bufferevent_write(filt, d.as_ptr().cast(), d.len()) };
                assert_eq!(got, 0);
                sent_out.extend_from_slice(d);
            }
            Step::WriteFar(d) => {
                // SAFETY: as above.
                let got = unsafe { bufferevent_write(far, d.as_ptr().cast(), d.len()) };
                assert_eq!(got, 0);
                sent_in.extend_from_slice(d);
            }
            Step::Loop => {
                // SAFETY: base is live.
                assert!(unsafe { event_base_loop(base, EVLOOP_NONBLOCK) } >= 0);
            }
            Step::Flush => {
                // SAFETY: live bufferevent.
                assert!(unsafe { bufferevent_flush(filt, EV_WRITE, BEV_FLUSH) } >= 0);
            }
            Step::ToggleWrite => {
                writing = !writing;
                // SAFETY: live bufferevent.
                let r = unsafe {
                    if writing {
                        bufferevent_enable(filt, EV_WRITE)
                    } else {
                        bufferevent_disable(filt, EV_WRITE)
                    }
                };
                assert_eq!(r, 0);
            }
        }
        // Nothing may come out that was not sent, or out of order.
        assert!(
            sent_out.starts_with(&at_far.got.borrow()),
            "outgoing bytes corrupted"
        );
        assert!(
            sent_in.starts_with(&at_filter.got.borrow()),
            "incoming bytes corrupted"
        );
    }

    // Drain: run the loop, then push the rest through as a program ending
    // the stream does, and read what is left behind.
    loop_until_idle(base);
    assert_eq!(at_filter.events.get(), 0, "unexpected event on the filter");
    assert_eq!(at_far.events.get(), 0, "unexpected event on the far end");
    // SAFETY: live bufferevents.
    unsafe {
        assert_eq!(bufferevent_enable(filt, EV_WRITE), 0);
        bufferevent_setwatermark(filt, EV_READ, 0, 0);
        bufferevent_setwatermark(near, EV_WRITE, 0, 0);
    }
    // A filter flush filters what its underlying holds, then flushes the
    // underlying, which may bring in more: twice takes everything.
    for _ in 0..2 {
        // SAFETY: live bufferevent.
        assert!(unsafe { bufferevent_flush(filt, EV_READ | EV_WRITE, BEV_FINISHED) } >= 0);
        loop_until_idle(base);
    }
    take_all(filt, &at_filter);
    take_all(far, &at_far);

    assert_eq!(
        at_far.got.borrow().len(),
        sent_out.len(),
        "outgoing bytes lost"
    );
    assert!(*at_far.got.borrow() == sent_out, "outgoing bytes differ");
    assert_eq!(
        at_filter.got.borrow().len(),
        sent_in.len(),
        "incoming bytes lost"
    );
    assert!(*at_filter.got.borrow() == sent_in, "incoming bytes differ");
    assert_eq!(plan_out.passed.get(), sent_out.len());
    assert_eq!(plan_in.passed.get(), sent_in.len());
    // BEV_FINISHED on a pair tells the partner the stream ended, in both
    // directions of the flush.
    assert_eq!(at_filter.events.get(), 0, "unexpected event on the filter");
    assert_eq!(
        at_far.events.get(),
        BEV_EVENT_EOF | BEV_EVENT_READING | BEV_EVENT_WRITING
    );

    // SAFETY: live bufferevents and base, each freed once; the filter
    // frees near (BEV_OPT_CLOSE_ON_FREE).
    unsafe {
        bufferevent_free(filt);
        bufferevent_free(far);
    }
    loop_until_idle(base);
    // SAFETY: nothing uses the base any more.
    unsafe { event_base_free(base) };
    drop((plan_in, plan_out));
}

/// The filter's `free_context`: the pair of plans' addresses it was given.
unsafe extern "C" fn free_contexts(ctx: *mut c_void) {
    // SAFETY: ctx is the Box the test leaked into the filter, freed once.
    drop(unsafe { Box::from_raw(ctx.cast::<Contexts>()) });
}

/// The two contexts the filter wrappers pick from.
type Contexts = (*const Plan, *const Plan);

unsafe extern "C" fn filter_in(
    src: *mut Buffer,
    dst: *mut Buffer,
    limit: isize,
    mode: c_int,
    ctx: *mut c_void,
) -> c_int {
    // SAFETY: ctx is the test's Contexts, alive while the filter is.
    let (plan, _) = unsafe { *ctx.cast::<Contexts>() };
    // SAFETY: forwarded as given.
    unsafe { pieces(src, dst, limit, mode, plan as *mut c_void) }
}

unsafe extern "C" fn filter_out(
    src: *mut Buffer,
    dst: *mut Buffer,
    limit: isize,
    mode: c_int,
    ctx: *mut c_void,
) -> c_int {
    // SAFETY: as in filter_in.
    let (_, plan) = unsafe { *ctx.cast::<Contexts>() };
    // SAFETY: forwarded as given.
    unsafe { pieces(src, dst, limit, mode, plan as *mut c_void) }
}

proptest! {
    #![proptest_config(cases(64))]

    #[test]
    fn filter_delivers_every_byte_in_order(
        steps in prop::collection::vec(step(), 0..40),
        seeds in any::<(u64, u64)>(),
        max_piece in 1..200usize,
        need_more_pct in 0..60u64,
        read_high in prop_oneof![Just(0usize), 1..256usize],
        under_write_high in prop_oneof![Just(0usize), 1..256usize],
        defer in any::<bool>(),
    ) {
        run(&steps, seeds, max_piece, need_more_pct, read_high, under_write_high, defer);
    }
}

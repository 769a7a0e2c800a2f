//! Rate limiting: token buckets per bufferevent and shared by groups.
//!
//! A bucket holds how many bytes may still move in each direction; it is
//! refilled by `rate` bytes per whole tick that has passed (tick numbers
//! are absolute: the base's time divided by the tick length), up to the
//! burst. When a bucket runs dry that direction is suspended and a one-tick
//! timer refills it. A group's bucket is shared: each member may use an
//! equal share of it, but never less than the group's minimum share.
//! Only socket bufferevents consult and charge buckets.

use std::cell::{Cell, RefCell, UnsafeCell};
use std::ffi::{c_short, c_void};

use crate::ffi::event_struct::event;
use crate::reactor::event_mem::EvPtr;
use crate::reactor::{Base, EV_PERSIST, EV_TIMEOUT, clock};

use super::Bufferevent;
use crate::thread::{Held, Lock};
use std::sync::Arc;

/// Why a side is held back: its own bucket, or its group's.
pub const SUSPEND_BW: u16 = 0x02;
pub const SUSPEND_BW_GROUP: u16 = 0x04;

/// The largest rate, burst or bucket value: EV_SSIZE_MAX.
pub const RATE_LIMIT_MAX: usize = isize::MAX as usize;

/// A token bucket configuration (`struct ev_token_bucket_cfg`).
#[derive(Clone, Copy, Debug)]
pub struct TokenBucketCfg {
    read_rate: i64,
    read_burst: i64,
    write_rate: i64,
    write_burst: i64,
    tick: libc::timeval,
    msec_per_tick: u64,
}

impl TokenBucketCfg {
    /// Checks and builds a configuration; None where libevent returns NULL.
    pub fn new(
        read_rate: usize,
        read_burst: usize,
        write_rate: usize,
        write_burst: usize,
        tick: Option<libc::timeval>,
    ) -> Option<TokenBucketCfg> {
        let tick = tick.unwrap_or(libc::timeval {
            tv_sec: 1,
            tv_usec: 0,
        });
        if read_rate > read_burst || write_rate > write_burst || read_rate < 1 || write_rate < 1 {
            return None;
        }
        if [read_rate, read_burst, write_rate, write_burst]
            .iter()
            .any(|&v| v > RATE_LIMIT_MAX)
        {
            return None;
        }
        // Common-timeout tag bits above the low 20 bits of tv_usec are not
        // part of the length.
        let usec = (tick.tv_usec as u64) & 0xfffff;
        let msec_per_tick = (tick.tv_sec.max(0) as u64) * 1000 + usec / 1000;
        Some(TokenBucketCfg {
            read_rate: read_rate as i64,
            read_burst: read_burst as i64,
            write_rate: write_rate as i64,
            write_burst: write_burst as i64,
            tick,
            msec_per_tick: msec_per_tick.max(1),
        })
    }

    fn tick_ns(&self) -> u64 {
        clock::timeval_to_ns(self.tick)
    }

    /// The absolute number of the tick `now` (monotonic ns) falls in.
    fn tick_at(&self, now: u64) -> u32 {
        (now / 1_000_000 / self.msec_per_tick) as u32
    }

    fn rate(&self, write: bool) -> i64 {
        if write {
            self.write_rate
        } else {
            self.read_rate
        }
    }

    fn burst(&self, write: bool) -> i64 {
        if write {
            self.write_burst
        } else {
            self.read_burst
        }
    }
}

/// The two buckets and the tick they were last refilled at.
#[derive(Clone, Copy, Debug, Default)]
struct Bucket {
    read: i64,
    write: i64,
    last_tick: u32,
}

impl Bucket {
    fn start(cfg: &TokenBucketCfg, tick: u32) -> Bucket {
        Bucket {
            read: cfg.read_rate,
            write: cfg.write_rate,
            last_tick: tick,
        }
    }

    fn get(&self, write: bool) -> i64 {
        if write { self.write } else { self.read }
    }

    fn get_mut(&mut self, write: bool) -> &mut i64 {
        if write {
            &mut self.write
        } else {
            &mut self.read
        }
    }

    /// Adds `rate` per whole tick passed since the last refill, up to the burst.
    fn refill(&mut self, cfg: &TokenBucketCfg, tick: u32) {
        let n = tick.wrapping_sub(self.last_tick);
        if n == 0 || n > i32::MAX as u32 {
            return;
        }
        for write in [false, true] {
            let (rate, burst) = (cfg.rate(write), cfg.burst(write));
            let value = self.get_mut(write);
            let room = burst.saturating_sub(*value);
            *value = if room / i64::from(n) < rate {
                burst
            } else {
                *value + i64::from(n) * rate
            };
        }
        self.last_tick = tick;
    }
}

/// A bufferevent's own limits.
pub struct BevLimit {
    /// The program's configuration, which must outlive the bufferevent.
    cfg: Cell<*const TokenBucketCfg>,
    bucket: Cell<Bucket>,
    /// A one-tick timer that refills a dry bucket.
    refill: Box<UnsafeCell<event>>,
    group: Cell<*const Group>,
}

impl BevLimit {
    fn cfg(&self) -> Option<&TokenBucketCfg> {
        let p = self.cfg.get();
        // SAFETY: the program keeps a configuration alive while it is set
        // on a bufferevent (libevent's contract).
        (!p.is_null()).then(|| unsafe { &*p })
    }

    fn group(&self) -> Option<&Group> {
        let p = self.group.get();
        // SAFETY: a group cannot be freed while it has members.
        (!p.is_null()).then(|| unsafe { &*p })
    }

    fn refill_event(&self) -> EvPtr {
        EvPtr::new(self.refill.get()).expect("boxed event")
    }
}

/// A rate-limit group (`struct bufferevent_rate_limit_group`).
///
/// With a thread implementation installed the group has a lock, always
/// taken after a member's own lock and never the other way: the group then
/// does not reach into its members. A member sees a suspension when it
/// next asks for its share (max_to_move suspends it), and a resumption is
/// handed to each member as a run of its own refill event, which takes
/// the member's lock first. Without threads the group suspends and resumes
/// its members at once, as libevent does.
pub struct Group {
    base: *mut Base,
    cfg: Cell<TokenBucketCfg>,
    bucket: Cell<Bucket>,
    members: RefCell<Vec<*const Bufferevent>>,
    configured_min_share: Cell<usize>,
    min_share: Cell<i64>,
    read_suspended: Cell<bool>,
    write_suspended: Cell<bool>,
    total_read: Cell<u64>,
    total_written: Cell<u64>,
    /// A persistent timer, one tick long, that refills the group's bucket.
    refill: Box<UnsafeCell<event>>,
    /// For the random order in which members are resumed.
    seed: Cell<u32>,
    lock: Option<Arc<Lock>>,
}

fn new_timer(
    base: *mut Base,
    persist: bool,
    cb: TimerCb,
    arg: *mut c_void,
) -> Box<UnsafeCell<event>> {
    // SAFETY: an all-zero struct event is a valid unassigned event.
    let ev = Box::new(UnsafeCell::new(unsafe { std::mem::zeroed::<event>() }));
    let ptr = EvPtr::new(ev.get()).expect("boxed event");
    // SAFETY: base is the live base the caller checked.
    let pri = unsafe { (*base).default_priority() };
    let flags = if persist { EV_PERSIST } else { 0 };
    ptr.assign(base, -1, flags, Some(cb), arg, pri);
    ev
}

type TimerCb = unsafe extern "C" fn(fd: i32, what: c_short, arg: *mut c_void);

fn tick_now(base: &Base, cfg: &TokenBucketCfg) -> u32 {
    cfg.tick_at(base.now())
}

/// The limits of `bev`, made on first use.
fn limits(bev: &Bufferevent) -> &BevLimit {
    let slot = bev.rate_slot();
    if let Some(lim) = slot.get() {
        return lim;
    }
    let me = std::ptr::from_ref(bev).cast_mut().cast::<c_void>();
    let lim = BevLimit {
        cfg: Cell::new(std::ptr::null()),
        bucket: Cell::new(Bucket::default()),
        refill: new_timer(bev.base_ptr(), false, bev_refill, me),
        group: Cell::new(std::ptr::null()),
    };
    let _ = slot.set(Box::new(lim));
    slot.get().expect("just set")
}

fn suspend(bev: &Bufferevent, write: bool, why: u16) {
    if write {
        bev.suspend_write(why)
    } else {
        bev.suspend_read(why)
    }
}

fn unsuspend(bev: &Bufferevent, write: bool, why: u16) {
    if write {
        bev.unsuspend_write(why)
    } else {
        bev.unsuspend_read(why)
    }
}

fn suspended_for(bev: &Bufferevent, write: bool, why: u16) -> bool {
    bev.suspend_reasons(write) & why != 0
}

/// `bufferevent_set_rate_limit`: buckets start at one tick's rate.
pub fn set(bev: &Bufferevent, cfg: *const TokenBucketCfg) {
    if cfg.is_null() {
        if let Some(lim) = bev.rate_slot().get() {
            lim.cfg.set(std::ptr::null());
            bev.base().del(lim.refill_event());
            for write in [false, true] {
                unsuspend(bev, write, SUSPEND_BW);
            }
        }
        return;
    }
    let lim = limits(bev);
    if lim.cfg.get() == cfg {
        return;
    }
    // SAFETY: a non-NULL configuration from the program is live (contract).
    let new = unsafe { &*cfg };
    let reinit = !lim.cfg.get().is_null();
    let mut bucket = lim.bucket.get();
    if reinit {
        // Only clip: this tick's bandwidth may already be spent.
        bucket.read = bucket.read.min(new.read_burst);
        bucket.write = bucket.write.min(new.write_burst);
        bev.base().del(lim.refill_event());
    } else {
        bucket = Bucket::start(new, tick_now(bev.base(), new));
    }
    lim.bucket.set(bucket);
    lim.cfg.set(cfg);
    let mut dry = false;
    for write in [false, true] {
        if bucket.get(write) > 0 {
            unsuspend(bev, write, SUSPEND_BW);
        } else {
            suspend(bev, write, SUSPEND_BW);
            dry = true;
        }
    }
    if dry {
        let _ = bev
            .base()
            .add(lim.refill_event(), Some(new.tick_ns()), false);
    }
}

/// The configuration set on `bev`, or NULL.
pub fn cfg_of(bev: &Bufferevent) -> *const TokenBucketCfg {
    bev.rate_slot()
        .get()
        .map_or(std::ptr::null(), |l| l.cfg.get())
}

/// Brings `bev`'s own buckets up to date.
fn update(bev: &Bufferevent, lim: &BevLimit) {
    if let Some(cfg) = lim.cfg() {
        let mut bucket = lim.bucket.get();
        bucket.refill(cfg, tick_now(bev.base(), cfg));
        lim.bucket.set(bucket);
    }
}

/// `bufferevent_get_read_limit` / `_write_limit`: the bucket, or
/// EV_SSIZE_MAX without a configuration.
pub fn limit(bev: &Bufferevent, write: bool) -> isize {
    match bev.rate_slot().get() {
        Some(lim) if lim.cfg().is_some() => {
            update(bev, lim);
            lim.bucket.get().get(write) as isize
        }
        _ => isize::MAX,
    }
}

/// How much one read or write may move now: `max_single` without limits,
/// else the bucket (not clamped to `max_single`) and the group share.
pub fn max_to_move(bev: &Bufferevent, write: bool, max_single: usize) -> usize {
    let Some(lim) = bev.rate_slot().get() else {
        return max_single;
    };
    let mut max = max_single as i64;
    if lim.cfg().is_some() {
        update(bev, lim);
        max = lim.bucket.get().get(write);
    }
    if let Some(g) = lim.group() {
        let _held = g.hold();
        let share = if g.suspended(write) {
            suspend(bev, write, SUSPEND_BW_GROUP);
            0
        } else {
            let members = g.members.borrow().len().max(1) as i64;
            (g.bucket.get().get(write) / members).max(g.min_share.get())
        };
        max = max.min(share);
    }
    max.max(0) as usize
}

/// Charges `bytes` moved by a socket to its buckets and its group's.
pub fn charge(bev: &Bufferevent, write: bool, bytes: usize) {
    let Some(lim) = bev.rate_slot().get() else {
        return;
    };
    let bytes = bytes as i64;
    if let Some(cfg) = lim.cfg() {
        let mut bucket = lim.bucket.get();
        *bucket.get_mut(write) -= bytes;
        lim.bucket.set(bucket);
        if bucket.get(write) <= 0 {
            suspend(bev, write, SUSPEND_BW);
            let _ = bev
                .base()
                .add(lim.refill_event(), Some(cfg.tick_ns()), false);
        } else if suspended_for(bev, write, SUSPEND_BW) {
            if !suspended_for(bev, !write, SUSPEND_BW) {
                bev.base().del(lim.refill_event());
            }
            unsuspend(bev, write, SUSPEND_BW);
        }
    }
    if let Some(g) = lim.group() {
        let _held = g.hold();
        let total = if write {
            &g.total_written
        } else {
            &g.total_read
        };
        total.set(total.get() + bytes as u64);
        g.add_to_bucket(write, -bytes);
    }
}

/// `bufferevent_decrement_read_limit` / `_write_limit`: may drive the
/// bucket negative; a negative amount adds.
pub fn decrement(bev: &Bufferevent, write: bool, amount: isize) -> i32 {
    let Some(lim) = bev.rate_slot().get() else {
        return -1;
    };
    let Some(cfg) = lim.cfg() else { return -1 };
    let mut bucket = lim.bucket.get();
    let old = bucket.get(write);
    *bucket.get_mut(write) = old.saturating_sub(amount as i64);
    lim.bucket.set(bucket);
    let new = bucket.get(write);
    if old > 0 && new <= 0 {
        suspend(bev, write, SUSPEND_BW);
        if bev
            .base()
            .add(lim.refill_event(), Some(cfg.tick_ns()), false)
            .is_err()
        {
            return -1;
        }
    } else if old <= 0 && new > 0 {
        if !suspended_for(bev, !write, SUSPEND_BW) {
            bev.base().del(lim.refill_event());
        }
        unsuspend(bev, write, SUSPEND_BW);
    }
    0
}

/// The one-tick refill timer of a bufferevent's own buckets.
unsafe extern "C" fn bev_refill(_fd: i32, _what: c_short, arg: *mut c_void) {
    // SAFETY: arg is the bufferevent owning this timer, which is deleted
    // before the bufferevent goes.
    let bev = unsafe { &*arg.cast::<Bufferevent>() };
    let Some(_held) = bev.hold_live() else {
        return;
    };
    let Some(lim) = bev.rate_slot().get() else {
        return;
    };
    // A thread-safe group's resumption arrives here (see Group).
    if let Some(g) = lim.group() {
        let _group = g.hold();
        for write in [false, true] {
            if !g.suspended(write) && suspended_for(bev, write, SUSPEND_BW_GROUP) {
                unsuspend(bev, write, SUSPEND_BW_GROUP);
            }
        }
    }
    let Some(cfg) = lim.cfg().copied() else {
        return;
    };
    update(bev, lim);
    let bucket = lim.bucket.get();
    let mut again = false;
    for write in [false, true] {
        if suspended_for(bev, write, SUSPEND_BW) {
            if bucket.get(write) > 0 {
                unsuspend(bev, write, SUSPEND_BW);
            } else {
                again = true;
            }
        }
    }
    if again {
        let _ = bev
            .base()
            .add(lim.refill_event(), Some(cfg.tick_ns()), false);
    }
}

/// At the bufferevent's teardown: stops its timer and leaves its group.
pub fn unlink(bev: &Bufferevent) {
    if let Some(lim) = bev.rate_slot().get() {
        bev.base().del(lim.refill_event());
        remove_from_group(bev, false);
    }
}

impl Group {
    /// `bufferevent_rate_limit_group_new`: copies `cfg`, starts the bucket
    /// at one tick's rate and the refill timer.
    pub fn new(base: *mut Base, cfg: &TokenBucketCfg) -> *mut Group {
        // SAFETY: base is the live base the caller checked.
        let b = unsafe { &*base };
        let seed = (clock::monotonic_ns() as u32) | 1;
        let raw = Box::into_raw(Box::new(Group {
            base,
            cfg: Cell::new(*cfg),
            bucket: Cell::new(Bucket::start(cfg, tick_now(b, cfg))),
            members: RefCell::new(Vec::new()),
            configured_min_share: Cell::new(0),
            min_share: Cell::new(0),
            read_suspended: Cell::new(false),
            write_suspended: Cell::new(false),
            total_read: Cell::new(0),
            total_written: Cell::new(0),
            // SAFETY: an all-zero struct event is valid; assigned below.
            refill: Box::new(UnsafeCell::new(unsafe { std::mem::zeroed() })),
            seed: Cell::new(seed),
            lock: Lock::new(),
        }));
        // SAFETY: raw is the allocation just made.
        let g = unsafe { &*raw };
        let ev = g.refill_event();
        ev.assign(
            base,
            -1,
            EV_PERSIST,
            Some(group_refill),
            raw.cast(),
            b.default_priority(),
        );
        let _ = b.add(ev, Some(cfg.tick_ns()), false);
        g.set_min_share(64);
        raw
    }

    fn base(&self) -> &Base {
        // SAFETY: groups are freed before their base (libevent's contract).
        unsafe { &*self.base }
    }

    /// Takes the group's lock (if it has one) until the guard is dropped.
    fn hold(&self) -> Held<'_> {
        crate::thread::hold(self.lock.as_deref())
    }

    fn refill_event(&self) -> EvPtr {
        EvPtr::new(self.refill.get()).expect("boxed event")
    }

    pub fn member_count(&self) -> usize {
        let _held = self.hold();
        self.members.borrow().len()
    }

    fn suspended(&self, write: bool) -> bool {
        if write {
            self.write_suspended.get()
        } else {
            self.read_suspended.get()
        }
    }

    /// `bufferevent_rate_limit_group_set_min_share`: never above a rate.
    pub fn set_min_share(&self, share: usize) -> i32 {
        let _held = self.hold();
        if share > RATE_LIMIT_MAX {
            return -1;
        }
        self.configured_min_share.set(share);
        let cfg = self.cfg.get();
        let share = (share as i64).min(cfg.read_rate).min(cfg.write_rate);
        self.min_share.set(share);
        0
    }

    /// `bufferevent_rate_limit_group_set_cfg`: copies `cfg` and clips the
    /// bucket down to the new burst.
    pub fn set_cfg(&self, cfg: &TokenBucketCfg) {
        let _held = self.hold();
        let same_tick = {
            let old = self.cfg.get().tick;
            old.tv_sec == cfg.tick.tv_sec && old.tv_usec == cfg.tick.tv_usec
        };
        self.cfg.set(*cfg);
        let mut bucket = self.bucket.get();
        bucket.read = bucket.read.min(cfg.read_burst);
        bucket.write = bucket.write.min(cfg.write_burst);
        self.bucket.set(bucket);
        if !same_tick {
            let _ = self
                .base()
                .add(self.refill_event(), Some(cfg.tick_ns()), false);
        }
        self.set_min_share(self.configured_min_share.get());
    }

    pub fn limit(&self, write: bool) -> isize {
        let _held = self.hold();
        self.bucket.get().get(write) as isize
    }

    pub fn totals(&self) -> (u64, u64) {
        let _held = self.hold();
        (self.total_read.get(), self.total_written.get())
    }

    pub fn reset_totals(&self) {
        let _held = self.hold();
        self.total_read.set(0);
        self.total_written.set(0);
    }

    /// Adds `delta` to one bucket, suspending or resuming the members when
    /// it crosses zero.
    pub fn add_to_bucket(&self, write: bool, delta: i64) {
        let _held = self.hold();
        let mut bucket = self.bucket.get();
        let old = bucket.get(write);
        *bucket.get_mut(write) = old.saturating_add(delta);
        self.bucket.set(bucket);
        let new = bucket.get(write);
        if new <= 0 && !self.suspended(write) {
            self.suspend_all(write);
        } else if new > 0 && self.suspended(write) {
            self.resume_all(write);
        }
    }

    fn set_suspended(&self, write: bool, on: bool) {
        if write {
            self.write_suspended.set(on)
        } else {
            self.read_suspended.set(on)
        }
    }

    fn suspend_all(&self, write: bool) {
        self.set_suspended(write, true);
        if self.lock.is_some() {
            // Members suspend themselves in max_to_move (see the type).
            return;
        }
        for bev in self.members.borrow().clone() {
            // SAFETY: members leave the group before they are torn down.
            suspend(unsafe { &*bev }, write, SUSPEND_BW_GROUP);
        }
    }

    /// Resumes the members in a random order, so no member always goes first.
    fn resume_all(&self, write: bool) {
        self.set_suspended(write, false);
        let mut order = self.members.borrow().clone();
        for i in (1..order.len()).rev() {
            let j = (self.next_random() as usize) % (i + 1);
            order.swap(i, j);
        }
        for bev in order {
            // SAFETY: as in suspend_all.
            let bev = unsafe { &*bev };
            if self.lock.is_none() {
                unsuspend(bev, write, SUSPEND_BW_GROUP);
            } else if let Some(lim) = bev.rate_slot().get() {
                // The member's refill event resumes it under its own lock.
                bev.base().activate(lim.refill_event(), EV_TIMEOUT);
            }
        }
    }

    fn next_random(&self) -> u32 {
        let mut x = self.seed.get();
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.seed.set(x);
        x
    }

    /// `bufferevent_rate_limit_group_free`: a group with members left is a
    /// fatal error, as in libevent.
    ///
    /// # Safety
    /// `g` is a live group the program gives up.
    pub unsafe fn free(g: *mut Group) {
        // SAFETY: caller's promise.
        let me = unsafe { &*g };
        let held = me.hold();
        if !me.members.borrow().is_empty() {
            crate::log::fatal("bufferevent_rate_limit_group_free: the group still has members");
        }
        me.base().del(me.refill_event());
        drop(held);
        // SAFETY: g came from Box::into_raw in `new`; its timer is deleted.
        drop(unsafe { Box::from_raw(g) });
    }
}

/// The group's refill timer: refills, and resumes a suspended direction
/// once at least the minimum share is available.
unsafe extern "C" fn group_refill(_fd: i32, _what: c_short, arg: *mut c_void) {
    // SAFETY: arg is the group owning this timer, deleted when it is freed.
    let g = unsafe { &*arg.cast::<Group>() };
    let _held = g.hold();
    let cfg = g.cfg.get();
    let mut bucket = g.bucket.get();
    bucket.refill(&cfg, tick_now(g.base(), &cfg));
    g.bucket.set(bucket);
    for write in [false, true] {
        // With a minimum share of 0 an empty bucket would pass; resuming
        // then gives every member a share of 0, which reads nothing, and
        // with edge-triggered readiness nothing would wake it again.
        if g.suspended(write) && bucket.get(write) >= g.min_share.get().max(1) {
            g.resume_all(write);
        }
    }
}

/// `bufferevent_add_to_rate_limit_group`.
pub fn add_to_group(bev: &Bufferevent, g: &Group) {
    let lim = limits(bev);
    if std::ptr::eq(lim.group.get(), g) {
        return;
    }
    remove_from_group(bev, true);
    let _held = g.hold();
    lim.group.set(g);
    g.members.borrow_mut().push(bev);
    for write in [false, true] {
        if g.suspended(write) {
            suspend(bev, write, SUSPEND_BW_GROUP);
        }
    }
}

/// `bufferevent_remove_from_rate_limit_group`.
pub fn remove_from_group(bev: &Bufferevent, resume: bool) {
    let Some(lim) = bev.rate_slot().get() else {
        return;
    };
    if let Some(g) = lim.group() {
        let _held = g.hold();
        g.members.borrow_mut().retain(|&m| !std::ptr::eq(m, bev));
        lim.group.set(std::ptr::null());
    }
    if resume {
        for write in [false, true] {
            unsuspend(bev, write, SUSPEND_BW_GROUP);
        }
    }
}

//! Bufferevents: the behaviour common to every kind (callbacks and their
//! deferral, watermarks, suspension, timeouts, enabled flags, reference
//! counts and teardown) and one state machine per kind. A kind only says
//! how bytes move.

use std::cell::{Cell, OnceCell, UnsafeCell};
use std::ffi::{c_int, c_short, c_void};
use std::sync::Arc;

use crate::buffer::{Buffer, BufferError};
use crate::ffi::bufferevent_struct::{bufferevent, event_watermark};
use crate::ffi::event_struct::{EVLIST_ACTIVE, EVLIST_FINALIZING, event_callback};
use crate::reactor::event_mem::{CbPtr, EVLIST_X_RELEASE};
use crate::reactor::{Base, EV_READ, EV_WRITE, clock};
use crate::thread::{Hold, Lock, LockSlot};

pub mod filter;
pub mod pair;
pub mod public;
pub mod ratelimit;
pub mod socket;
pub mod ssl;
pub mod timers;

pub use public::Callbacks;

pub const BEV_EVENT_READING: c_short = 0x01;
pub const BEV_EVENT_WRITING: c_short = 0x02;
pub const BEV_EVENT_EOF: c_short = 0x10;
pub const BEV_EVENT_ERROR: c_short = 0x20;
pub const BEV_EVENT_TIMEOUT: c_short = 0x40;
pub const BEV_EVENT_CONNECTED: c_short = 0x80;

pub const BEV_OPT_CLOSE_ON_FREE: c_int = 0x01;
pub const BEV_OPT_THREADSAFE: c_int = 0x02;
pub const BEV_OPT_DEFER_CALLBACKS: c_int = 0x04;
pub const BEV_OPT_UNLOCK_CALLBACKS: c_int = 0x08;

/// `enum bufferevent_flush_mode` as C passes it (BEV_NORMAL, BEV_FLUSH,
/// BEV_FINISHED), kept an integer so an unexpected value is no UB.
pub type FlushMode = c_int;

/// Largest read or write in one go unless the program sets another.
pub const DEFAULT_MAX_SINGLE: usize = 16384;

/// Why reading or writing is held back although enabled.
pub const SUSPEND_WM: u16 = 0x01;
/// Reading and writing wait for the name lookup of `connect_hostname`.
pub const SUSPEND_LOOKUP: u16 = 0x08;

/// The kinds of bufferevent and their own state.
pub enum Kind {
    Socket(socket::SocketState),
    Pair(pair::PairState),
    /// Boxed, like the TLS state: these kinds are rarer, and every
    /// bufferevent pays for the largest kind.
    Filter(Box<filter::FilterState>),
    Ssl(Box<ssl::SslState>),
}

/// A bufferevent: the public prefix C programs read, then our state.
#[repr(C)]
pub struct Bufferevent {
    public: UnsafeCell<bufferevent>,
    // What every message touches comes first, next to the public fields
    // it also reads (buffers, callbacks, watermarks, `enabled`): with many
    // bufferevents in turn, each cache line of one is a miss.
    refcnt: Cell<u32>,
    options: c_int,
    read_suspended: Cell<u16>,
    write_suspended: Cell<u16>,
    readcb_pending: Cell<bool>,
    writecb_pending: Cell<bool>,
    eventcb_pending: Cell<c_short>,
    /// The recursive lock of BEV_OPT_THREADSAFE, shared with the buffers
    /// (and with a pair's partner, a filter's underlying bufferevent).
    lock: LockSlot,
    /// Our record in the active queues: for deferred callbacks while the
    /// bufferevent lives, then for its teardown once the last reference is
    /// gone (a deferred run holds a reference, so it is idle by then).
    deferred: UnsafeCell<event_callback>,
    pub(crate) kind: Kind,
    errno_pending: Cell<c_int>,
    /// Whether the input's watermark callback is registered: only once a
    /// read high watermark is first set, as libevent does, so that idle
    /// bufferevents without one carry no callback.
    wm_watch: Cell<bool>,
    max_single_read: Cell<usize>,
    max_single_write: Cell<usize>,
    /// Token buckets and group membership, made on first use.
    rate: OnceCell<Box<ratelimit::BevLimit>>,
}

impl Bufferevent {
    /// Allocates a bufferevent of `kind` on `base` with fresh buffers,
    /// enabled for writing only (as libevent starts them), with a lock of
    /// its own if `options` asks for BEV_OPT_THREADSAFE.
    pub fn create(base: *mut Base, options: c_int, kind: Kind) -> *mut Bufferevent {
        Bufferevent::create_sharing(base, options, kind, None)
    }

    /// [`Bufferevent::create`], using `lock` for BEV_OPT_THREADSAFE when
    /// given (a pair's halves, a filter and what it wraps share one).
    pub fn create_sharing(
        base: *mut Base,
        options: c_int,
        kind: Kind,
        lock: Option<Arc<Lock>>,
    ) -> *mut Bufferevent {
        let bev = Box::new(Bufferevent {
            // SAFETY: all-zero is a valid prefix (NULL pointers, no callbacks);
            // init_public fills it below.
            public: UnsafeCell::new(unsafe { std::mem::zeroed() }),
            refcnt: Cell::new(1),
            options,
            kind,
            read_suspended: Cell::new(0),
            write_suspended: Cell::new(0),
            // SAFETY: all-zero is a valid unqueued record; init_self fills it.
            deferred: UnsafeCell::new(unsafe { std::mem::zeroed() }),
            readcb_pending: Cell::new(false),
            writecb_pending: Cell::new(false),
            eventcb_pending: Cell::new(0),
            errno_pending: Cell::new(0),
            max_single_read: Cell::new(DEFAULT_MAX_SINGLE),
            max_single_write: Cell::new(DEFAULT_MAX_SINGLE),
            rate: OnceCell::new(),
            wm_watch: Cell::new(false),
            lock: LockSlot::empty(),
        });
        let raw = Box::into_raw(bev);
        // SAFETY: raw is the allocation just made; nothing else refers to it.
        let me = unsafe { &*raw };
        let input = Buffer::new().into_raw();
        let output = Buffer::new().into_raw();
        me.init_public(base, input, output);
        me.set_enabled(EV_WRITE);
        // SAFETY: base is the live base the caller checked.
        let pri = unsafe { (*base).default_priority() };
        me.deferred_cb()
            .init_self(Some(run_deferred), raw.cast(), pri);
        me.deferred_cb()
            .set_flags(me.deferred_cb().flags() | EVLIST_X_RELEASE);
        if options & BEV_OPT_THREADSAFE != 0 {
            me.enable_locking(lock);
        }
        raw
    }

    /// Gives the bufferevent and its buffers `lock`, or a new one; false
    /// if it has one already or none can be made.
    pub fn enable_locking(&self, lock: Option<Arc<Lock>>) -> bool {
        if self.lock.get().is_some() {
            return false;
        }
        let Some(lock) = lock.or_else(Lock::new) else {
            return false;
        };
        self.input().enable_locking(Some(lock.clone()));
        self.output().enable_locking(Some(lock.clone()));
        self.lock.set(lock)
    }

    /// The lock a bufferevent wrapping `under` (a filter) gets with
    /// `options`: with BEV_OPT_THREADSAFE, the one of `under`, or a new one
    /// that `under` then shares, since the wrapper works on both.
    pub fn wrapper_lock(under: &Bufferevent, options: c_int) -> Option<Arc<Lock>> {
        if options & BEV_OPT_THREADSAFE == 0 {
            return None;
        }
        if let Some(lock) = under.shared_lock() {
            return Some(lock);
        }
        let lock = Lock::new()?;
        under.enable_locking(Some(lock.clone()));
        Some(lock)
    }

    /// The bufferevent's lock, to share with another bufferevent.
    pub fn shared_lock(&self) -> Option<Arc<Lock>> {
        self.lock.shared()
    }

    /// Takes the bufferevent's lock (if any) for an entry point; the
    /// guard keeps the lock alive even if the bufferevent is torn down
    /// by another thread meanwhile.
    pub fn hold(&self) -> Hold {
        Hold::new(self.lock.shared())
    }

    /// [`Bufferevent::hold`] for work the loop does on the bufferevent's
    /// behalf (I/O readiness, timeouts): None when the last reference was
    /// dropped, by another thread, after the loop picked the work up; the
    /// teardown is queued then and nothing else may happen.
    pub fn hold_live(&self) -> Option<Hold> {
        let held = self.hold();
        (self.refcnt.get() > 0).then_some(held)
    }

    /// Does work the loop picked up for the bufferevent, holding its lock
    /// and a reference throughout (see [`Bufferevent::hold_live`]).
    pub fn loop_work(&self, f: impl FnOnce(&Bufferevent)) {
        let Some(_held) = self.hold_live() else {
            return;
        };
        self.incref();
        f(self);
        self.decref();
    }

    /// The bufferevent behind a C pointer.
    ///
    /// # Safety
    /// `bev` is a live bufferevent of ours.
    pub unsafe fn from_c<'a>(bev: *mut bufferevent) -> &'a Bufferevent {
        // SAFETY: the public prefix is the first field of a #[repr(C)]
        // Bufferevent, so the pointers coincide (caller's promise).
        unsafe { &*bev.cast::<Bufferevent>() }
    }

    fn deferred_cb(&self) -> CbPtr {
        CbPtr::new(self.deferred.get()).expect("field of a live struct")
    }

    pub fn options(&self) -> c_int {
        self.options
    }

    pub fn refcount(&self) -> usize {
        self.refcnt.get() as usize
    }

    #[inline]
    pub fn incref(&self) {
        self.refcnt.set(self.refcnt.get() + 1);
    }

    /// Drops a reference; at the last one, stops all I/O at once and
    /// leaves the rest of the teardown (closing the fd, freeing memory) to
    /// the loop's next pass, as libevent does. True if it was the last.
    #[inline]
    pub fn decref(&self) -> bool {
        let n = self.refcnt.get() - 1;
        self.refcnt.set(n);
        if n > 0 {
            return false;
        }
        self.last_reference_gone();
        true
    }

    /// The part of [`Bufferevent::decref`] for the last reference.
    #[cold]
    fn last_reference_gone(&self) {
        let base = self.base();
        base.del(self.ev_read());
        base.del(self.ev_write());
        base.unschedule(self.deferred_cb());
        self.kind_unlink();
        ratelimit::unlink(self);
        let record = self.deferred_cb();
        let me = std::ptr::from_ref(self).cast_mut().cast::<c_void>();
        record.init_self(Some(run_finalizer), me, record.pri() as u8);
        record.set_flags(record.flags() | EVLIST_FINALIZING);
        base.schedule(record);
    }

    /// `bufferevent_free`: clears the callbacks now and drops one reference.
    pub fn free(&self) {
        self.set_callbacks(Callbacks {
            read: None,
            write: None,
            event: None,
            arg: std::ptr::null_mut(),
        });
        self.decref();
    }

    pub fn read_suspended(&self) -> bool {
        self.read_suspended.get() != 0
    }

    pub fn write_suspended(&self) -> bool {
        self.write_suspended.get() != 0
    }

    /// `bufferevent_enable`.
    pub fn enable(&self, what: c_short) -> c_int {
        self.incref();
        let mut impl_events = what;
        if self.read_suspended() {
            impl_events &= !EV_READ;
        }
        if self.write_suspended() {
            impl_events &= !EV_WRITE;
        }
        self.set_enabled(self.enabled() | what);
        let r = if impl_events != 0 {
            self.kind_enable(impl_events)
        } else {
            0
        };
        self.decref();
        r
    }

    /// `bufferevent_disable`.
    pub fn disable(&self, what: c_short) -> c_int {
        self.set_enabled(self.enabled() & !what);
        self.kind_disable(what)
    }

    fn kind_enable(&self, what: c_short) -> c_int {
        match &self.kind {
            Kind::Socket(_) => socket::enable(self, what),
            Kind::Pair(_) => pair::enable(self, what),
            Kind::Filter(_) => filter::enable(self, what),
            Kind::Ssl(_) => ssl::enable(self, what),
        }
    }

    fn kind_disable(&self, what: c_short) -> c_int {
        match &self.kind {
            Kind::Socket(_) => socket::disable(self, what),
            Kind::Pair(_) => pair::disable(self, what),
            Kind::Filter(_) => filter::disable(self, what),
            Kind::Ssl(_) => ssl::disable(self, what),
        }
    }

    fn kind_unlink(&self) {
        match &self.kind {
            Kind::Socket(_) => socket::unlink(self),
            Kind::Pair(_) => pair::unlink(self),
            Kind::Filter(_) => filter::unlink(self),
            Kind::Ssl(_) => ssl::unlink(self),
        }
    }

    fn kind_destruct(&self) {
        match &self.kind {
            Kind::Socket(_) => socket::destruct(self),
            Kind::Pair(_) => {}
            Kind::Filter(_) => filter::destruct(self),
            Kind::Ssl(_) => ssl::destruct(self),
        }
    }

    /// The fd under the bufferevent: a socket's own, a filter's
    /// underlying's, -1 for pairs.
    pub fn fd(&self) -> c_int {
        match &self.kind {
            Kind::Socket(_) => socket::fd(self),
            Kind::Pair(_) => -1,
            Kind::Filter(_) => filter::underlying(self).map_or(-1, Bufferevent::fd),
            Kind::Ssl(_) => ssl::fd(self),
        }
    }

    /// `bufferevent_flush`: sockets and TLS bufferevents have nothing to
    /// flush (0, as 2.1.12 answers); a pair half pushes its data to its
    /// partner.
    pub fn flush(&self, iotype: c_short, mode: FlushMode) -> c_int {
        match &self.kind {
            Kind::Socket(_) | Kind::Ssl(_) => 0,
            Kind::Pair(_) => pair::flush(self, iotype, mode),
            Kind::Filter(_) => filter::flush(self, iotype, mode),
        }
    }

    /// `bufferevent_write`: appends a copy of `data` to the output (a
    /// pair half may hand it straight to its partner).
    pub fn write(&self, data: &[u8]) -> Result<(), BufferError> {
        match &self.kind {
            Kind::Pair(_) => pair::write(self, data),
            _ => self.output().add(data),
        }
    }

    /// `bufferevent_write_buffer`: moves all of `buf` to the output.
    pub fn write_buffer(&self, buf: &Buffer) -> Result<(), BufferError> {
        match &self.kind {
            Kind::Pair(_) => pair::write_buffer(self, buf),
            _ => self.output().add_buffer(buf),
        }
    }

    /// Holds reading back for `why` (a watermark, a rate limit, ...).
    pub fn suspend_read(&self, why: u16) {
        if self.read_suspended.get() == 0 {
            self.kind_disable(EV_READ);
        }
        self.read_suspended.set(self.read_suspended.get() | why);
    }

    /// Holds writing back for `why`.
    pub fn suspend_write(&self, why: u16) {
        if self.write_suspended.get() == 0 {
            self.kind_disable(EV_WRITE);
        }
        self.write_suspended.set(self.write_suspended.get() | why);
    }

    /// Lifts one reason for holding writing back.
    pub fn unsuspend_write(&self, why: u16) {
        let left = self.write_suspended.get() & !why;
        self.write_suspended.set(left);
        if left == 0 && self.enabled() & EV_WRITE != 0 {
            self.kind_enable(EV_WRITE);
        }
    }

    /// The reasons one side is held back (SUSPEND_* bits).
    pub fn suspend_reasons(&self, write: bool) -> u16 {
        if write {
            self.write_suspended.get()
        } else {
            self.read_suspended.get()
        }
    }

    /// The rate-limit state slot.
    pub fn rate_slot(&self) -> &OnceCell<Box<ratelimit::BevLimit>> {
        &self.rate
    }

    /// How much one read may take now: max_single_read, or what the rate
    /// limits allow.
    pub fn max_to_read(&self) -> usize {
        ratelimit::max_to_move(self, false, self.max_single_read())
    }

    /// How much one write may send now.
    pub fn max_to_write(&self) -> usize {
        ratelimit::max_to_move(self, true, self.max_single_write())
    }

    /// Lifts one reason for holding reading back.
    pub fn unsuspend_read(&self, why: u16) {
        let left = self.read_suspended.get() & !why;
        self.read_suspended.set(left);
        if left == 0 && self.enabled() & EV_READ != 0 {
            self.kind_enable(EV_READ);
        }
    }

    /// `bufferevent_setwatermark`.
    pub fn set_watermark(&self, what: c_short, low: usize, high: usize) {
        let wm = event_watermark { low, high };
        if what & EV_WRITE != 0 {
            self.set_wm_write(wm);
        }
        if what & EV_READ != 0 {
            self.set_wm_read(wm);
            if high != 0 && !self.wm_watch.replace(true) {
                let me = std::ptr::from_ref(self).cast_mut().cast::<c_void>();
                self.input().add_internal_cb(input_changed, me);
            }
            if high != 0 && self.input().len() >= high {
                self.suspend_read(SUSPEND_WM);
            } else {
                self.unsuspend_read(SUSPEND_WM);
            }
        }
    }

    /// `bufferevent_set_timeouts`: NULL or a zero timeval means none.
    pub fn set_timeouts(&self, read: Option<libc::timeval>, write: Option<libc::timeval>) -> c_int {
        let zero = libc::timeval {
            tv_sec: 0,
            tv_usec: 0,
        };
        self.set_timeouts_fields(read.unwrap_or(zero), write.unwrap_or(zero));
        match &self.kind {
            Kind::Socket(_) => socket::adjust_timeouts(self),
            Kind::Pair(_) | Kind::Filter(_) => timers::adjust(self),
            Kind::Ssl(_) => ssl::adjust_timeouts(self),
        }
    }

    /// The timeout to add a side's event with, if one is set.
    pub fn timeout_ns(tv: libc::timeval) -> Option<u64> {
        clock::is_set(tv).then(|| clock::relative_ns(tv))
    }

    pub fn max_single_read(&self) -> usize {
        self.max_single_read.get()
    }

    pub fn max_single_write(&self) -> usize {
        self.max_single_write.get()
    }

    /// Sets the largest single read or write; 0 (or an out-of-range size)
    /// restores the default, as libevent does.
    pub fn set_max_single(&self, write: bool, size: isize) {
        let size = if size <= 0 || size > isize::MAX / 2 {
            DEFAULT_MAX_SINGLE
        } else {
            size as usize
        };
        if write {
            self.max_single_write.set(size);
        } else {
            self.max_single_read.set(size);
        }
    }

    /// `bufferevent_lock`: takes the recursive lock (if the bufferevent
    /// has one) and a reference, so a free done while locked finishes at
    /// the unlock.
    pub fn lock(&self) {
        if let Some(l) = self.lock.get() {
            l.lock();
        }
        self.incref();
    }

    /// `bufferevent_unlock`: drops the reference `lock` took, then the lock.
    pub fn unlock(&self) {
        // The teardown the decref may queue takes the lock before freeing
        // it, so it is still ours to release here.
        let lock = self.lock.shared();
        self.decref();
        if let Some(l) = lock {
            l.unlock();
        }
    }

    /// `bufferevent_get_priority`: the priority of the bufferevent's events.
    pub fn priority(&self) -> c_int {
        self.ev_read().cb().pri() as c_int
    }

    /// `bufferevent_priority_set`: moves the events and the deferred
    /// callbacks to priority `pri`; -1 for kinds that have no events of
    /// their own, an out-of-range value, or an event that is active.
    pub fn set_priority(&self, pri: c_int) -> c_int {
        if !matches!(self.kind, Kind::Socket(_)) {
            return -1;
        }
        if pri < 0 || pri as usize >= self.base().priorities() {
            return -1;
        }
        for ev in [self.ev_read(), self.ev_write()] {
            if ev.flags() & EVLIST_ACTIVE != 0 {
                return -1;
            }
            ev.cb().set_pri(pri as u8);
        }
        // A queued record sits in its priority's queue: requeue it there.
        let queued = self.base().unschedule(self.deferred_cb());
        self.deferred_cb().set_pri(pri as u8);
        if queued {
            self.base().schedule(self.deferred_cb());
        }
        0
    }

    /// `bufferevent_base_set`: moves the bufferevent to `base`, only while
    /// none of its events is pending or active (-1 otherwise, and for kinds
    /// that cannot move).
    pub fn set_base(&self, base: *mut Base) -> c_int {
        let r = match &self.kind {
            Kind::Socket(_) => socket::set_base(self, base),
            Kind::Pair(_) | Kind::Filter(_) | Kind::Ssl(_) => -1,
        };
        if r == 0 {
            // Our own records keep their priority, as libevent's deferred
            // callback does, but must fit the new base's queues.
            let last = self.base().priorities().saturating_sub(1);
            let cb = self.deferred_cb();
            if cb.pri() > last {
                cb.set_pri(last as u8);
            }
        }
        r
    }

    /// `bufferevent_get_underlying`: the bufferevent a filter wraps, NULL
    /// for the other kinds.
    pub fn underlying(&self) -> *mut bufferevent {
        filter::underlying(self)
            .or_else(|| ssl::underlying(self))
            .map_or(std::ptr::null_mut(), Bufferevent::as_c)
    }

    /// `bufferevent_trigger_event`: runs the event callback with `what`,
    /// deferred if the bufferevent or `options` says so.
    pub fn trigger_event(&self, what: c_short, options: c_int) {
        self.incref();
        self.run_eventcb(what, options & BEV_TRIG_ALL_OPTS);
        self.decref();
    }

    /// `bufferevent_trigger`'s logic: run the read callback if the input
    /// holds at least the low watermark, the write callback if the output
    /// is down to its low watermark.
    #[inline]
    pub fn trigger(&self, what: c_short, options: c_int) {
        // Whether a callback is set is the cheaper question, so it goes
        // first; both are plain reads. A read callback run here may change
        // the callbacks, so the write side looks again.
        let ignore_wm = options & BEV_TRIG_IGNORE_WATERMARKS != 0;
        if what & EV_READ != 0
            && self.callbacks().read.is_some()
            && (ignore_wm || self.input().len() >= self.wm_read().low)
        {
            self.run_readcb(options);
        }
        if what & EV_WRITE != 0
            && self.callbacks().write.is_some()
            && (ignore_wm || self.output().len() <= self.wm_write().low)
        {
            self.run_writecb(options);
        }
    }

    fn defers(&self, options: c_int) -> bool {
        (self.options | options) & BEV_OPT_DEFER_CALLBACKS != 0
    }

    fn schedule_deferred(&self) {
        if self.base().schedule(self.deferred_cb()) {
            self.incref();
        }
    }

    #[inline(never)]
    pub fn run_readcb(&self, options: c_int) {
        let cbs = self.callbacks();
        let Some(cb) = cbs.read else { return };
        if self.defers(options) {
            self.readcb_pending.set(true);
            self.schedule_deferred();
        } else {
            // SAFETY: calling the program's read callback with its argument.
            unsafe { cb(self.as_c(), cbs.arg) };
            self.input_watermark_check();
        }
    }

    #[inline(never)]
    pub fn run_writecb(&self, options: c_int) {
        let cbs = self.callbacks();
        let Some(cb) = cbs.write else { return };
        if self.defers(options) {
            self.writecb_pending.set(true);
            self.schedule_deferred();
        } else {
            // SAFETY: calling the program's write callback with its argument.
            unsafe { cb(self.as_c(), cbs.arg) };
        }
    }

    pub fn run_eventcb(&self, what: c_short, options: c_int) {
        let cbs = self.callbacks();
        let Some(cb) = cbs.event else { return };
        if self.defers(options) {
            self.eventcb_pending.set(self.eventcb_pending.get() | what);
            self.errno_pending.set(crate::sys::errno());
            self.schedule_deferred();
        } else {
            // SAFETY: calling the program's event callback with its argument.
            unsafe { cb(self.as_c(), what, cbs.arg) };
        }
    }

    /// After a read callback left the input at or above the high
    /// watermark while reading is enabled, libevent 2.1 schedules the read
    /// callback again (deferred), so the program keeps being told.
    fn input_watermark_check(&self) {
        let wm = self.wm_read();
        if wm.high == 0 || self.enabled() & EV_READ == 0 || self.input().len() < wm.high {
            return;
        }
        self.trigger(EV_READ, BEV_OPT_DEFER_CALLBACKS);
    }

    /// Calls a deferred user callback, with the lock released around it
    /// for BEV_OPT_UNLOCK_CALLBACKS.
    fn deferred_call(&self, f: impl FnOnce()) {
        let unlock = self.options & BEV_OPT_UNLOCK_CALLBACKS != 0;
        crate::thread::released(self.lock.get().filter(|_| unlock), f)
    }

    /// Runs the callbacks that were deferred, in libevent's order: a
    /// pending CONNECTED alone first, then read, write, and all other
    /// event flags in one call with the saved errno.
    fn run_pending(&self) {
        if self.eventcb_pending.get() & BEV_EVENT_CONNECTED != 0
            && let Some(cb) = self.callbacks().event
        {
            self.eventcb_pending
                .set(self.eventcb_pending.get() & !BEV_EVENT_CONNECTED);
            let arg = self.callbacks().arg;
            // SAFETY: calling the program's event callback.
            self.deferred_call(|| unsafe { cb(self.as_c(), BEV_EVENT_CONNECTED, arg) });
        }
        if self.readcb_pending.get()
            && let Some(cb) = self.callbacks().read
        {
            self.readcb_pending.set(false);
            let arg = self.callbacks().arg;
            // SAFETY: calling the program's read callback.
            self.deferred_call(|| unsafe { cb(self.as_c(), arg) });
            self.input_watermark_check();
        }
        if self.writecb_pending.get()
            && let Some(cb) = self.callbacks().write
        {
            self.writecb_pending.set(false);
            let arg = self.callbacks().arg;
            // SAFETY: calling the program's write callback.
            self.deferred_call(|| unsafe { cb(self.as_c(), arg) });
        }
        let what = self.eventcb_pending.get();
        if what != 0
            && let Some(cb) = self.callbacks().event
        {
            let err = self.errno_pending.get();
            self.eventcb_pending.set(0);
            self.errno_pending.set(0);
            crate::sys::set_errno(err);
            let arg = self.callbacks().arg;
            // SAFETY: calling the program's event callback.
            self.deferred_call(|| unsafe { cb(self.as_c(), what, arg) });
        }
    }
}

/// BEV_TRIG_IGNORE_WATERMARKS.
pub const BEV_TRIG_IGNORE_WATERMARKS: c_int = 0x10000;

/// The options `bufferevent_trigger` and `bufferevent_trigger_event` take;
/// BEV_TRIG_DEFER_CALLBACKS is BEV_OPT_DEFER_CALLBACKS.
pub const BEV_TRIG_ALL_OPTS: c_int = BEV_TRIG_IGNORE_WATERMARKS | BEV_OPT_DEFER_CALLBACKS;

/// The deferred-callback record's function.
unsafe extern "C" fn run_deferred(_cb: *mut event_callback, arg: *mut c_void) {
    // SAFETY: arg is the bufferevent that owns this record; the reference
    // taken when it was scheduled keeps it alive.
    let bev = unsafe { &*arg.cast::<Bufferevent>() };
    let _held = bev.hold();
    if !bev.base().shutting_down() {
        bev.run_pending();
    }
    bev.decref();
}

/// The teardown after the last reference: the kind's own cleanup (closing
/// the fd), the buffers, then the memory.
unsafe extern "C" fn run_finalizer(_cb: *mut event_callback, arg: *mut c_void) {
    let raw = arg.cast::<Bufferevent>();
    {
        // SAFETY: arg is the bufferevent whose last reference is gone; only
        // this record still refers to it.
        let bev = unsafe { &*raw };
        // Another thread may still be between its last decref and its
        // unlock: wait for it before taking the bufferevent apart.
        drop(bev.hold());
        bev.kind_destruct();
        // SAFETY: the buffers were made in `create` and nothing else frees them.
        unsafe {
            Buffer::free_raw(bev.input_ptr());
            Buffer::free_raw(bev.output_ptr());
        }
    }
    // SAFETY: raw came from Box::into_raw in `create`; the reactor does not
    // touch a record after running it.
    drop(unsafe { Box::from_raw(raw) });
}

/// The input's change callback: keeps reading suspended exactly while the
/// input is at or above the read high watermark.
fn input_changed(buf: &Buffer, _info: &crate::buffer::CbInfo, arg: *mut c_void) {
    // SAFETY: arg is the bufferevent owning this input; the callback is
    // removed with the buffer when the bufferevent is torn down.
    let bev = unsafe { &*arg.cast::<Bufferevent>() };
    let high = bev.wm_read().high;
    if high == 0 {
        return;
    }
    if buf.len() >= high {
        bev.suspend_read(SUSPEND_WM);
    } else {
        bev.unsuspend_read(SUSPEND_WM);
    }
}

#[cfg(test)]
mod prop_tests;

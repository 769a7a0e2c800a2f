//! The event loop (`struct event_base`): fd readiness from mio's epoll,
//! a timer heap, and active queues by priority, with libevent's semantics
//! for adding, deleting, activating and running events.
//!
//! The base holds pointers to events that are pending or active and never
//! touches an event after its callback returns unless it is still
//! registered: the callback may have freed it. No borrow of the base's
//! state is held while a callback runs, so callbacks may call anything.
//!
//! With a thread implementation installed the base has a recursive lock:
//! every method takes it, and the loop holds it except while it waits in
//! epoll and while a callback runs, as libevent does. Another thread's
//! change wakes a waiting loop through the base's [`io::Wake`].

use std::cell::{Cell, RefCell, UnsafeCell};
use std::ffi::{c_short, c_ulong, c_void};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};
use std::time::Duration;

mod active;
pub mod clock;
pub mod config;
pub mod debug;
pub mod event_mem;
mod io;
mod signal;
pub use signal::stop_repeats;
mod timers;

use crate::ffi::event::event_callback_fn;
use crate::ffi::event_struct::{
    EVLIST_ACTIVE, EVLIST_ACTIVE_LATER, EVLIST_FINALIZING, EVLIST_INIT, EVLIST_INSERTED,
    EVLIST_INTERNAL, EVLIST_TIMEOUT, event,
};
use crate::log;
use crate::thread::{self, Cond, Held, Lock};
use active::ActiveQueues;
use event_mem::{
    CLOSURE_CB_SELF, CLOSURE_EVENT_FINALIZE, CLOSURE_EVENT_FINALIZE_FREE, CLOSURE_PERSIST, CbPtr,
    EvPtr,
};
use io::{Io, Waiter, Wake};
use timers::Timers;

pub const EV_TIMEOUT: c_short = 0x01;
pub const EV_READ: c_short = 0x02;
pub const EV_WRITE: c_short = 0x04;
pub const EV_SIGNAL: c_short = 0x08;
pub const EV_PERSIST: c_short = 0x10;
pub const EV_ET: c_short = 0x20;
pub const EV_FINALIZE: c_short = 0x40;
pub const EV_CLOSED: c_short = 0x80;

pub const EVLOOP_ONCE: i32 = 0x01;
pub const EVLOOP_NONBLOCK: i32 = 0x02;
pub const EVLOOP_NO_EXIT_ON_EMPTY: i32 = 0x04;

/// The implicit base of libevent's old API: the one `event_init` made
/// last. Shared by every thread, as in libevent.
static CURRENT_BASE: AtomicPtr<Base> = AtomicPtr::new(std::ptr::null_mut());

/// The base `event_init` made last, or NULL.
pub fn current_base() -> *mut Base {
    CURRENT_BASE.load(Ordering::Acquire)
}

/// Makes `base` the implicit base of the old API (NULL to forget it).
pub fn set_current_base(base: *mut Base) {
    CURRENT_BASE.store(base, Ordering::Release);
}

/// Why an event could not be added.
#[derive(Debug)]
pub enum AddError {
    NoBase,
    Finalizing,
    Register(std::io::Error),
    Signal(std::io::Error),
}

/// How `event_del` treats a callback of the event running in another
/// thread (EVENT_DEL_NOBLOCK, EVENT_DEL_BLOCK, EVENT_DEL_AUTOBLOCK).
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum DelWait {
    Never,
    Always,
    /// Unless the event was made with EV_FINALIZE.
    Auto,
}

/// An event base.
pub struct Base {
    state: RefCell<State>,
    /// Touched only by the thread running the loop (or by event_reinit).
    waiter: UnsafeCell<Waiter>,
    /// Present when a thread implementation was installed before the base
    /// was made (and EVENT_BASE_FLAG_NOLOCK not given).
    lock: Option<Arc<Lock>>,
    /// Broadcast when a callback returns, for event_del in other threads.
    cond: Option<Cond>,
    /// The monotonic time cached for the current pass (0: not cached).
    cached_now: AtomicU64,
    /// While a persistent event's callback runs: that event and the
    /// deadline its timer had before the callback re-armed it (None: no
    /// timer), for `undo_rearm`. Only the loop's thread touches it.
    rearmed: Cell<Option<(EvPtr, Option<u64>)>>,
    /// EVENT_BASE_FLAG_NO_CACHE_TIME: never cache the time.
    no_cache: bool,
    /// event_config_set_max_dispatch_interval's bound, if any.
    limit: Cell<Option<config::DispatchLimit>>,
    method: &'static str,
    /// Set while event_base_free tears the base down.
    shutting_down: AtomicBool,
    /// Whether the base has a wake-up (read without borrowing the state on
    /// every change, which single-threaded programs make often).
    wakeable: AtomicBool,
    features: i32,
}

struct State {
    io: Io,
    timers: Timers,
    active: ActiveQueues,
    /// Callbacks that become active at the start of the next pass.
    later: Vec<CbPtr>,
    /// Pending fd and timer registrations of non-internal events, counted
    /// as libevent counts them (an fd event with a timeout counts twice).
    event_count: usize,
    running: bool,
    /// Set by loopbreak: stop after the current callback.
    break_now: bool,
    /// Set by loopcontinue: poll again before running more callbacks.
    continue_now: bool,
    /// Set by the loopexit callback: stop after the current pass.
    exit_now: bool,
    got_break: bool,
    got_exit: bool,
    /// The callback being run, for event_base_get_running_event.
    running_cb: Option<CbPtr>,
    /// Events made by event_base_once that have not fired yet.
    once: Vec<*mut OnceEvent>,
    activations: Vec<io::Activation>,
    signals: signal::Signals,
    /// The internal event on the signal pipe, once there is one.
    signal_event: Option<Box<event>>,
    /// Durations given to event_base_init_common_timeout, by index. Boxed:
    /// the program keeps pointers to them while the Vec grows.
    #[allow(clippy::vec_box)]
    common: Vec<Box<libc::timeval>>,
    max_active: usize,
    max_added: usize,
    /// Lets other threads interrupt the wait, once the base is notifiable.
    wake: Option<Wake>,
    /// The id of the thread running the loop (thread.h's id function).
    owner: c_ulong,
    /// Threads in event_del waiting for the running callback to return.
    del_waiters: usize,
}

/// The storage of an event_base_once event, freed when it fires or with
/// the base.
struct OnceEvent {
    ev: event,
    cb: event_callback_fn,
    arg: *mut c_void,
    /// For the library's own one-shot callbacks: frees `arg` when the base
    /// is freed before the callback ran.
    release: Option<unsafe fn(*mut c_void)>,
}

impl Base {
    /// Makes a base that reports `method` and `features` (the backend the
    /// reference would have chosen) and caches the time unless `no_cache`.
    /// It gets a lock, and can be woken from other threads, when a thread
    /// implementation is installed, unless `nolock`.
    pub fn new(
        method: &'static str,
        features: i32,
        no_cache: bool,
        nolock: bool,
    ) -> std::io::Result<Base> {
        // libevent announces its backend when this is set, whatever the
        // config says about the environment.
        if std::env::var_os("EVENT_SHOW_METHOD").is_some() {
            log::emit(log::EVENT_LOG_MSG, &format!("libevent using: {method}"));
        }
        debug::note_base();
        let waiter = Waiter::new()?;
        let lock = if nolock { None } else { Lock::new() };
        let wake = match lock {
            Some(_) => Some(Wake::new(waiter.epfd())?),
            None => None,
        };
        let lock_made = wake.is_some();
        Ok(Base {
            cond: lock.as_ref().and_then(|_| Cond::new()),
            lock,
            state: RefCell::new(State {
                io: Io::new(waiter.epfd()),
                timers: Timers::default(),
                active: ActiveQueues::new(1),
                later: Vec::new(),
                event_count: 0,
                running: false,
                break_now: false,
                continue_now: false,
                exit_now: false,
                got_break: false,
                got_exit: false,
                running_cb: None,
                once: Vec::new(),
                activations: Vec::new(),
                signals: signal::Signals::new(),
                signal_event: None,
                common: Vec::new(),
                max_active: 0,
                max_added: 0,
                wake,
                owner: 0,
                del_waiters: 0,
            }),
            waiter: UnsafeCell::new(waiter),
            cached_now: AtomicU64::new(0),
            rearmed: Cell::new(None),
            no_cache,
            limit: Cell::new(None),
            method,
            features,
            shutting_down: AtomicBool::new(false),
            wakeable: AtomicBool::new(lock_made),
        })
    }

    /// Takes the base's lock (if it has one) until the guard is dropped.
    fn hold(&self) -> Held<'_> {
        thread::hold(self.lock.as_deref())
    }

    /// Runs `f` with the base's lock released: the loop, which holds it
    /// once, around waiting and around callbacks.
    fn unlocked<R>(&self, f: impl FnOnce() -> R) -> R {
        thread::released(self.lock.as_deref(), f)
    }

    /// Whether the caller is the thread running the loop, or the loop is
    /// not running in another thread (libevent's EVBASE_IN_THREAD).
    fn in_loop_thread(&self, st: &State) -> bool {
        thread::current_id().is_none_or(|id| id == st.owner)
    }

    /// Interrupts the loop's wait if another thread is in it; called with
    /// the lock held after a change the loop must see.
    #[inline]
    fn wake_loop(&self) {
        if self.wakeable.load(Ordering::Relaxed) {
            self.wake_waiting_loop();
        }
    }

    #[inline(never)]
    fn wake_waiting_loop(&self) {
        let st = self.state.borrow();
        if st.running
            && let Some(wake) = &st.wake
            && thread::current_id().is_some_and(|id| id != st.owner)
        {
            wake.wake();
        }
    }

    /// `evthread_make_base_notifiable`: lets other threads wake the loop.
    pub fn make_notifiable(&self) -> std::io::Result<()> {
        let _held = self.hold();
        let mut st = self.state.borrow_mut();
        if st.wake.is_none() {
            st.wake = Some(Wake::new(st.io.epfd())?);
            self.wakeable.store(true, Ordering::Relaxed);
        }
        Ok(())
    }

    pub fn method(&self) -> &'static str {
        self.method
    }

    pub fn features(&self) -> i32 {
        self.features
    }

    pub fn set_dispatch_limit(&self, limit: Option<config::DispatchLimit>) {
        self.limit.set(limit);
    }

    fn me(&self) -> *mut Base {
        self as *const Base as *mut Base
    }

    /// The time of the current pass if cached, else the clock.
    pub fn now(&self) -> u64 {
        match self.cached_now.load(Ordering::Relaxed) {
            0 => clock::monotonic_ns(),
            t => t,
        }
    }

    pub fn priorities(&self) -> usize {
        let _held = self.hold();
        self.state.borrow().active.priorities()
    }

    /// Sets the number of priorities; refused while callbacks are active.
    pub fn set_priorities(&self, n: usize) -> bool {
        let _held = self.hold();
        let mut st = self.state.borrow_mut();
        if n == 0 || n >= 256 || st.active.len() + st.later.len() > 0 {
            return false;
        }
        st.active.set_priorities(n);
        true
    }

    /// The priority new events get: the middle one.
    pub fn default_priority(&self) -> u8 {
        (self.priorities() / 2) as u8
    }

    /// `event_add`: waits for the event's fd and/or a timeout of `tv`
    /// (absolute in the monotonic clock when `absolute`).
    pub fn add(&self, ev: EvPtr, tv: Option<u64>, absolute: bool) -> Result<(), AddError> {
        let _held = self.hold();
        let flags = ev.flags();
        if flags & EVLIST_FINALIZING != 0 {
            return Err(AddError::Finalizing);
        }
        let busy = EVLIST_INSERTED | EVLIST_ACTIVE | EVLIST_ACTIVE_LATER;
        if ev.events() & EV_SIGNAL != 0 && flags & busy == 0 {
            self.add_signal(ev)?;
        }
        {
            let mut st = self.state.borrow_mut();
            let watches_fd = ev.events() & (EV_READ | EV_WRITE | EV_CLOSED) != 0;
            if watches_fd && flags & busy == 0 {
                st.io.add(ev).map_err(AddError::Register)?;
                ev.set_flags(ev.flags() | EVLIST_INSERTED);
                st.count(ev, 1);
            }
            if let Some(tv) = tv {
                if ev.cb().closure() == CLOSURE_PERSIST && !absolute {
                    ev.set_interval(tv);
                }
                if ev.flags() & EVLIST_TIMEOUT != 0 {
                    st.timers.remove(ev);
                    st.count(ev, -1);
                    ev.set_flags(ev.flags() & !EVLIST_TIMEOUT);
                }
                // A timeout that already fired but has not run is replaced.
                if ev.flags() & EVLIST_ACTIVE != 0 && ev.res() & EV_TIMEOUT != 0 {
                    st.active.remove(ev.cb());
                    ev.set_flags(ev.flags() & !EVLIST_ACTIVE);
                }
                let deadline = if absolute {
                    tv
                } else {
                    self.now().saturating_add(tv)
                };
                st.timers.insert(ev, deadline);
                ev.set_flags(ev.flags() | EVLIST_TIMEOUT);
                st.count(ev, 1);
            }
        }
        self.wake_loop();
        Ok(())
    }

    /// Adds a signal event: makes the signal pipe and its internal event
    /// on first use, and takes the signal from its previous handler.
    fn add_signal(&self, ev: EvPtr) -> Result<(), AddError> {
        let me = self.me();
        if let Some(other) = signal::other_receiver(me) {
            log::warn(&format!(
                "Added a signal to event base {me:p} with signals already added to \
                 event_base {other:p}.  Only one can have signals at a time with the \
                 epoll method.  The base with the most recently added signal or the most \
                 recent event_base_loop() call gets preference; do not rely on this \
                 behavior in future Libevent versions."
            ));
        }
        let made = self.state.borrow_mut().signals.ensure_pipe();
        let (fd, new) = made.map_err(AddError::Signal)?;
        if new {
            self.watch_signal_pipe(fd)?;
        }
        let mut st = self.state.borrow_mut();
        st.signals.add(me, ev).map_err(AddError::Signal)?;
        ev.set_flags(ev.flags() | EVLIST_INSERTED);
        st.count(ev, 1);
        Ok(())
    }

    /// Makes (or re-makes) the internal event reading the signal pipe.
    fn watch_signal_pipe(&self, fd: i32) -> Result<(), AddError> {
        let me = self.me();
        let pev = {
            let mut st = self.state.borrow_mut();
            let boxed = st.signal_event.get_or_insert_with(|| {
                // SAFETY: an all-zero struct event is a valid unassigned event.
                Box::new(unsafe { std::mem::zeroed() })
            });
            EvPtr::new(&raw mut **boxed).expect("boxed pointer is not null")
        };
        pev.assign(
            me,
            fd,
            EV_READ | EV_PERSIST,
            Some(signal::pipe_cb),
            me.cast(),
            0,
        );
        pev.set_flags(pev.flags() | EVLIST_INTERNAL);
        self.add(pev, None, false)
    }

    /// Runs from the signal pipe's event: activates the events of each
    /// signal that arrived, with EV_SIGNAL.
    fn deliver_signals(&self) {
        let _held = self.hold();
        let caught = self.state.borrow().signals.drain();
        for (sig, times) in caught {
            let events = self.state.borrow().signals.events_of(sig);
            let times = c_short::try_from(times).unwrap_or(c_short::MAX);
            for ev in events {
                self.activate_n(ev, EV_SIGNAL, times);
            }
        }
    }

    /// `event_base_active_by_signal`: as if `sig` had arrived.
    pub fn active_by_signal(&self, sig: i32) {
        let _held = self.hold();
        let events = self.state.borrow().signals.events_of(sig);
        for ev in events {
            self.activate(ev, EV_SIGNAL);
        }
    }

    /// `event_base_active_by_fd`: activates the events on `fd` that wait
    /// for any of `what`, with those flags.
    pub fn active_by_fd(&self, fd: i32, what: c_short) {
        let _held = self.hold();
        let events = self.state.borrow().io.events_of(fd);
        for ev in events {
            let res = ev.events() & what & (EV_READ | EV_WRITE | EV_CLOSED | EV_TIMEOUT);
            if res != 0 {
                self.activate(ev, res);
            }
        }
    }

    /// Every non-internal event that is pending or active, each once.
    pub fn all_events(&self) -> Vec<EvPtr> {
        let _held = self.hold();
        let st = self.state.borrow();
        let mut out: Vec<EvPtr> = st.io.all_events();
        out.extend(st.signals.all());
        out.extend(st.timers.events());
        out.extend(st.active.all().into_iter().filter_map(CbPtr::as_event));
        out.extend(st.later.iter().filter_map(|c| c.as_event()));
        let mut seen = std::collections::HashSet::new();
        out.retain(|ev| ev.flags() & EVLIST_INTERNAL == 0 && seen.insert(ev.as_raw()));
        out
    }

    /// `event_base_loopcontinue`: stop running callbacks and poll again.
    pub fn loopcontinue(&self) {
        let _held = self.hold();
        self.state.borrow_mut().continue_now = true;
    }

    /// The largest number of active and added events seen, optionally
    /// starting the count again from zero (as libevent does).
    pub fn max_counts(&self, clear: bool) -> (usize, usize) {
        let _held = self.hold();
        let mut st = self.state.borrow_mut();
        let out = (st.max_active, st.max_added);
        if clear {
            st.max_active = 0;
            st.max_added = 0;
        }
        out
    }

    /// `event_base_update_cache_time`: refreshes the cached time while the
    /// loop runs.
    pub fn update_cache_time(&self) {
        let _held = self.hold();
        if self.state.borrow().running && !self.no_cache {
            self.cached_now
                .store(clock::monotonic_ns(), Ordering::Relaxed);
        }
    }

    /// `event_base_init_common_timeout`: a timeval standing for `duration`,
    /// the same one for the same duration, with tag bits in tv_usec.
    pub fn common_timeout(&self, duration: libc::timeval) -> *const libc::timeval {
        let _held = self.hold();
        let mut st = self.state.borrow_mut();
        let usec = duration.tv_usec.rem_euclid(1_000_000);
        let sec = duration.tv_sec + duration.tv_usec.div_euclid(1_000_000);
        let found = st
            .common
            .iter()
            .find(|tv| tv.tv_sec == sec && clock::common_timeout_usec(tv.tv_usec) == Some(usec));
        if let Some(tv) = found {
            return &raw const **tv;
        }
        if st.common.len() >= clock::MAX_COMMON_TIMEOUTS {
            return std::ptr::null();
        }
        let tagged = clock::tag_common_timeout(usec, st.common.len());
        st.common.push(Box::new(libc::timeval {
            tv_sec: sec,
            tv_usec: tagged,
        }));
        &raw const **st.common.last().expect("pushed just now")
    }

    /// `event_finalize`: deletes `ev` and runs `f` from the loop once it is
    /// not running, freeing the event afterwards when `free` is set.
    pub fn finalize(&self, ev: EvPtr, f: event_mem::FinalizeFn, free: bool) {
        let _held = self.hold();
        {
            let mut st = self.state.borrow_mut();
            st.unlink(ev);
        }
        ev.set_finalizer(f, free);
        ev.set_res(EV_FINALIZE);
        ev.set_flags(ev.flags() | EVLIST_ACTIVE);
        self.state.borrow_mut().active.push(ev.cb());
        ev.set_flags(ev.flags() | EVLIST_FINALIZING);
        self.wake_loop();
    }

    /// `event_reinit` in a forked child: a new epoll instance with every
    /// registration made again, and a signal pipe of the child's own.
    pub fn reinit(&self) -> std::io::Result<()> {
        let _held = self.hold();
        let me = self.me();
        let waiter = Waiter::new()?;
        let epfd = waiter.epfd();
        // SAFETY: event_reinit runs in the child's only thread, which is not
        // waiting (it may be inside a callback of the loop, never in epoll).
        unsafe { *self.waiter.get() = waiter };
        let mut st = self.state.borrow_mut();
        st.io.reinit(epfd);
        if st.wake.is_some() {
            // The parent's eventfd is shared with it: the child needs its own.
            st.wake = Some(Wake::new(epfd)?);
        }
        let pev = st
            .signal_event
            .as_mut()
            .map(|b| EvPtr::new(&raw mut **b).expect("boxed pointer is not null"));
        if let Some(pev) = pev {
            if pev.flags() & EVLIST_INSERTED != 0 {
                st.io.del(pev);
                st.count(pev, -1);
            }
            pev.set_flags(EVLIST_INIT);
        }
        let fresh = st.signals.reinit(me)?;
        st.io.register_all()?;
        drop(st);
        if let Some(fd) = fresh {
            self.watch_signal_pipe(fd).map_err(|e| match e {
                AddError::Register(e) | AddError::Signal(e) => e,
                _ => std::io::Error::from_raw_os_error(libc::EINVAL),
            })?;
        }
        Ok(())
    }

    /// Stops waiting for `ev` and takes it off the active queues, never
    /// waiting for its callback: the library's own events.
    pub fn del(&self, ev: EvPtr) {
        // The library deletes its events often when they are not pending
        // (timeouts off, a side disabled twice): nothing to do then. Its
        // events change only under their owner's lock, so the flags are
        // stable here.
        let linked = EVLIST_INSERTED | EVLIST_TIMEOUT | EVLIST_ACTIVE | EVLIST_ACTIVE_LATER;
        if ev.flags() & linked == 0 {
            return;
        }
        // Without del_waiting's look at the running callback: this runs
        // on every write that empties an output.
        let _held = self.hold();
        self.unlink_and_wake(ev);
    }

    /// Takes `ev` off every list and queue; the caller holds the lock.
    fn unlink_and_wake(&self, ev: EvPtr) {
        self.state.borrow_mut().unlink(ev);
        self.wake_loop();
    }

    /// `event_del`: as [`Base::del`], then, when the event's callback is
    /// running in the loop's thread and this is another thread, waits for
    /// the callback to return if `wait` says so (needs a condition).
    pub fn del_waiting(&self, ev: EvPtr, wait: DelWait) {
        let _held = self.hold();
        self.unlink_and_wake(ev);
        let must_wait = {
            let st = self.state.borrow();
            wait != DelWait::Never
                && st.running_cb == Some(ev.cb())
                && !self.in_loop_thread(&st)
                && (wait == DelWait::Always || ev.events() & EV_FINALIZE == 0)
        };
        if must_wait && let (Some(cond), Some(lock)) = (&self.cond, &self.lock) {
            self.state.borrow_mut().del_waiters += 1;
            cond.wait(lock);
        }
    }

    /// How many callbacks are active (or due on the next pass), and how
    /// many fd and timer registrations keep the loop running.
    pub fn counts(&self) -> (usize, usize) {
        let _held = self.hold();
        let st = self.state.borrow();
        (st.active.len() + st.later.len(), st.event_count)
    }

    /// `event_remove_timer`: drops the timeout, keeps the fd part pending.
    pub fn remove_timer(&self, ev: EvPtr) {
        let _held = self.hold();
        let mut st = self.state.borrow_mut();
        if ev.flags() & EVLIST_TIMEOUT != 0 {
            st.timers.remove(ev);
            st.count(ev, -1);
            ev.set_flags(ev.flags() & !EVLIST_TIMEOUT);
        }
        if ev.events() & EV_SIGNAL == 0 {
            ev.set_interval(0);
        }
    }

    /// `event_active`: queues the event to run with `res`; a second
    /// activation before it runs adds its flags to the first.
    pub fn activate(&self, ev: EvPtr, res: c_short) {
        self.activate_n(ev, res, 1);
    }

    /// `event_active` with a count: a signal event newly activated runs
    /// its callback `ncalls` times (once per arrival of the signal).
    pub fn activate_n(&self, ev: EvPtr, res: c_short, ncalls: c_short) {
        let _held = self.hold();
        self.state.borrow_mut().activate(ev, res, ncalls);
        self.wake_loop();
    }

    /// Activates what a poll reported, under one hold of the lock and the
    /// state (the loop's thread: no wake-up needed).
    fn activate_reported(&self, activations: &[io::Activation]) {
        let _held = self.hold();
        let mut st = self.state.borrow_mut();
        for &(ev, res) in activations {
            st.activate(ev, res, 1);
        }
    }

    /// Queues the event to run on the next pass, so a fd that is still
    /// ready after its callback does not starve the other callbacks.
    pub fn activate_later(&self, ev: EvPtr, res: c_short) {
        let _held = self.hold();
        let mut st = self.state.borrow_mut();
        let flags = ev.flags();
        if flags & (EVLIST_ACTIVE | EVLIST_ACTIVE_LATER | EVLIST_FINALIZING) != 0 {
            ev.set_res(ev.res() | res);
            return;
        }
        ev.set_res(res);
        ev.set_flags(flags | EVLIST_ACTIVE_LATER);
        st.later.push(ev.cb());
    }

    /// Queues a record of our own (CB_SELF); false if it was queued already.
    pub fn schedule(&self, cb: CbPtr) -> bool {
        // Every deferred bufferevent callback comes here: a base without a
        // lock (the common case) goes straight to the queue.
        if self.lock.is_some() {
            return self.schedule_locked(cb);
        }
        self.schedule_held(cb)
    }

    #[inline(never)]
    fn schedule_locked(&self, cb: CbPtr) -> bool {
        let _held = self.hold();
        self.schedule_held(cb)
    }

    /// [`Base::schedule`] with the base's lock held, if it has one.
    #[inline(always)]
    fn schedule_held(&self, cb: CbPtr) -> bool {
        let flags = cb.flags();
        if flags & (EVLIST_ACTIVE | EVLIST_ACTIVE_LATER) != 0 {
            return false;
        }
        cb.set_flags(flags | EVLIST_ACTIVE);
        self.state.borrow_mut().active.push(cb);
        self.wake_loop();
        true
    }

    /// Takes a queued record of our own off the queues; true if it was queued.
    pub fn unschedule(&self, cb: CbPtr) -> bool {
        let _held = self.hold();
        let mut st = self.state.borrow_mut();
        let flags = cb.flags();
        if flags & EVLIST_ACTIVE != 0 {
            st.active.remove(cb);
        } else if flags & EVLIST_ACTIVE_LATER != 0 {
            st.later.retain(|&c| c != cb);
        } else {
            return false;
        }
        cb.set_flags(flags & !(EVLIST_ACTIVE | EVLIST_ACTIVE_LATER));
        true
    }

    /// `event_pending`: which of `what` the event waits for or is active
    /// with, and its expiry in the monotonic clock when it has a timeout.
    pub fn pending(&self, ev: EvPtr, what: c_short) -> (c_short, Option<u64>) {
        let _held = self.hold();
        let flags = ev.flags();
        let mut found = 0;
        if flags & EVLIST_INSERTED != 0 {
            found |= ev.events() & (EV_READ | EV_WRITE | EV_CLOSED | EV_SIGNAL);
        }
        if flags & (EVLIST_ACTIVE | EVLIST_ACTIVE_LATER) != 0 {
            found |= ev.res();
        }
        if flags & EVLIST_TIMEOUT != 0 {
            found |= EV_TIMEOUT;
        }
        let found = found & what & (EV_TIMEOUT | EV_READ | EV_WRITE | EV_CLOSED | EV_SIGNAL);
        let deadline =
            (flags & EVLIST_TIMEOUT != 0 && what & EV_TIMEOUT != 0).then(|| ev.deadline());
        (found, deadline)
    }

    /// Forgets that `fd` is ready for `what`: a read or write came up short.
    pub fn clear_ready(&self, fd: i32, what: c_short) {
        let _held = self.hold();
        self.state.borrow_mut().io.clear_ready(fd, what);
    }

    /// Has the next poll report `ev` (a bufferevent's event) again if its
    /// fd is still known ready for it: where libevent's level-triggered
    /// epoll would report an fd a read or write did not exhaust, in the
    /// same order among that fd's events.
    pub fn report_again(&self, ev: EvPtr) {
        let _held = self.hold();
        self.state.borrow_mut().io.report_again(ev);
    }

    /// Whether `fd` is known ready for `what` (edge-triggered fds only).
    pub fn is_ready(&self, fd: i32, what: c_short) -> bool {
        let _held = self.hold();
        self.state.borrow().io.is_ready(fd, what)
    }

    /// Keeps `fd` registered while a bufferevent uses it, or lets it go
    /// (before it is closed or handed back to the program).
    pub fn own_fd(&self, fd: i32, owned: bool) {
        let _held = self.hold();
        self.state.borrow_mut().io.set_owned(fd, owned);
    }

    /// Whether event_base_free is tearing the base down: records run then
    /// only release what they hold, they call nothing of the program's.
    pub fn shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Acquire)
    }

    /// The callback currently running, if any.
    pub fn running_callback(&self) -> Option<CbPtr> {
        let _held = self.hold();
        self.state.borrow().running_cb
    }

    pub fn got_exit(&self) -> bool {
        let _held = self.hold();
        let st = self.state.borrow();
        st.got_exit || st.exit_now
    }

    pub fn got_break(&self) -> bool {
        let _held = self.hold();
        let st = self.state.borrow();
        st.got_break || st.break_now
    }

    /// `event_base_loopbreak`: stop right after the running callback.
    pub fn loopbreak(&self) {
        let _held = self.hold();
        self.state.borrow_mut().break_now = true;
        self.wake_loop();
    }

    /// `event_base_loopexit`: stop once the current pass is over, now or
    /// after `tv` nanoseconds. Like libevent, this is a one-shot event.
    pub fn loopexit(&self, tv: Option<u64>) -> i32 {
        let me = self as *const Base as *mut c_void;
        self.once(-1, EV_TIMEOUT, Some(loopexit_cb), me, tv)
    }

    /// `event_base_once`: runs `cb` once when the fd is ready or after
    /// `tv`, then frees its own storage.
    pub fn once(
        &self,
        fd: i32,
        events: c_short,
        cb: event_callback_fn,
        arg: *mut c_void,
        tv: Option<u64>,
    ) -> i32 {
        self.once_releasing(fd, events, cb, arg, tv, None)
    }

    /// `once` for the library's own callbacks: if the base is freed first,
    /// `release(arg)` frees what the callback would have consumed.
    pub fn once_releasing(
        &self,
        fd: i32,
        events: c_short,
        cb: event_callback_fn,
        arg: *mut c_void,
        tv: Option<u64>,
        release: Option<unsafe fn(*mut c_void)>,
    ) -> i32 {
        let _held = self.hold();
        if events & (EV_SIGNAL | EV_PERSIST) != 0 {
            return -1;
        }
        let timer_only = events == EV_TIMEOUT;
        if !timer_only && events & (EV_READ | EV_WRITE) == 0 {
            return -1;
        }
        let storage = Box::new(OnceEvent {
            // SAFETY: an all-zero struct event is a valid unassigned event.
            ev: unsafe { std::mem::zeroed() },
            cb,
            arg,
            release,
        });
        let raw = Box::into_raw(storage);
        // SAFETY: raw is our own fresh allocation.
        let ev = EvPtr::new(unsafe { &raw mut (*raw).ev }).expect("boxed pointer is not null");
        let base = self as *const Base as *mut Base;
        let (fd, kinds) = if timer_only {
            (-1, 0)
        } else {
            (fd, events & (EV_READ | EV_WRITE | EV_CLOSED))
        };
        ev.assign(
            base,
            fd,
            kinds,
            Some(once_cb),
            raw.cast(),
            self.default_priority(),
        );
        self.state.borrow_mut().once.push(raw);
        if timer_only && tv.is_none() {
            self.activate(ev, EV_TIMEOUT);
            return 0;
        }
        if self.add(ev, tv, false).is_err() {
            self.state.borrow_mut().once.retain(|&p| p != raw);
            // SAFETY: the event never became pending; we still own the box.
            drop(unsafe { Box::from_raw(raw) });
            return -1;
        }
        0
    }

    /// `event_base_loop`.
    pub fn run(&self, flags: i32) -> i32 {
        let _held = self.hold();
        {
            let mut st = self.state.borrow_mut();
            if st.running {
                drop(st);
                log::warn(
                    "event_base_loop: reentrant invocation. Only one event_base_loop can \
                     run on each event_base at once.",
                );
                return -1;
            }
            st.running = true;
            st.owner = thread::current_id().unwrap_or(0);
            st.signals.receive(self.me());
            st.got_break = false;
            st.got_exit = false;
            st.break_now = false;
            st.exit_now = false;
        }
        self.cached_now.store(0, Ordering::Relaxed);
        let result = self.run_passes(flags);
        self.cached_now.store(0, Ordering::Relaxed);
        let mut st = self.state.borrow_mut();
        st.running = false;
        st.got_break |= st.break_now;
        st.got_exit |= st.exit_now;
        st.break_now = false;
        st.exit_now = false;
        result
    }

    fn run_passes(&self, flags: i32) -> i32 {
        let mut activations = std::mem::take(&mut self.state.borrow_mut().activations);
        let result = loop {
            let timeout = {
                let mut st = self.state.borrow_mut();
                if st.exit_now || st.break_now {
                    break 0;
                }
                let active = st.active.len() + st.later.len();
                if flags & EVLOOP_NO_EXIT_ON_EMPTY == 0 && st.event_count == 0 && active == 0 {
                    break 1;
                }
                let timeout = if active > 0 || flags & EVLOOP_NONBLOCK != 0 {
                    Some(Duration::ZERO)
                } else {
                    st.timers.next_deadline().map(|deadline| {
                        Duration::from_nanos(deadline.saturating_sub(clock::monotonic_ns()))
                    })
                };
                for cb in std::mem::take(&mut st.later) {
                    cb.set_flags((cb.flags() & !EVLIST_ACTIVE_LATER) | EVLIST_ACTIVE);
                    st.active.push(cb);
                }
                timeout
            };
            self.cached_now.store(0, Ordering::Relaxed);
            activations.clear();
            let timeout = self.state.borrow().io.wait_limit(timeout);
            // SAFETY: only the thread running the loop touches the waiter
            // (`running` is set under the lock), and nothing else runs in
            // this thread between the wait and reading its events.
            let waiter = unsafe { &mut *self.waiter.get() };
            if let Err(e) = self.unlocked(|| waiter.wait(timeout)) {
                log::warn(&format!("event_base_loop: epoll_wait: {e}"));
                break -1;
            }
            self.state
                .borrow_mut()
                .io
                .ready_events(waiter, &mut activations);
            if !self.no_cache {
                self.cached_now
                    .store(clock::monotonic_ns(), Ordering::Relaxed);
            }
            self.activate_reported(&activations);
            self.expire_timers();
            let busy = {
                let st = self.state.borrow();
                st.active.len() > 0
            };
            if busy {
                let ran = self.run_active();
                let st = self.state.borrow();
                if flags & EVLOOP_ONCE != 0 && st.active.len() + st.later.len() == 0 && ran > 0 {
                    break 0;
                }
            } else if flags & EVLOOP_NONBLOCK != 0 {
                break 0;
            }
        };
        self.state.borrow_mut().activations = activations;
        result
    }

    /// Moves every expired timer to the active queues with EV_TIMEOUT.
    fn expire_timers(&self) {
        let now = self.now();
        loop {
            let expired = self.state.borrow_mut().timers.pop_expired(now);
            let Some(ev) = expired else { break };
            {
                let mut st = self.state.borrow_mut();
                ev.set_flags(ev.flags() & !EVLIST_TIMEOUT);
                st.count(ev, -1);
                st.unlink(ev);
            }
            self.activate(ev, EV_TIMEOUT);
        }
    }

    /// Runs the most urgent non-empty queue until it is empty or the loop
    /// is told to stop; returns how many non-internal callbacks ran.
    ///
    /// A queue whose callbacks were all internal (the signal pipe) does
    /// not count: the next busy queue runs in the same pass, as in libevent.
    fn run_active(&self) -> usize {
        self.state.borrow_mut().continue_now = false;
        let limit = self.limit.get();
        let end = limit.and_then(|l| l.max_ns).map(|ns| {
            self.update_cache_time();
            self.now().saturating_add(ns)
        });
        let mut from = 0;
        loop {
            let Some(pri) = self.state.borrow().active.first_busy_from(from) else {
                return 0;
            };
            let (max, end) = match limit {
                Some(l) if pri >= l.min_priority => (l.max_callbacks, end),
                _ => (usize::MAX, None),
            };
            let ran = self.run_queue(pri, max, end);
            let st = self.state.borrow();
            if ran > 0 || st.break_now || st.continue_now {
                return ran;
            }
            from = pri + 1;
        }
    }

    /// Runs queue `pri` until it is empty, the loop is told to stop, or
    /// `max` non-internal callbacks ran or the time passed `end`.
    fn run_queue(&self, pri: usize, max: usize, end: Option<u64>) -> usize {
        let mut ran = 0;
        loop {
            let cb = {
                let mut st = self.state.borrow_mut();
                if st.continue_now || (ran > 0 && ran >= max) {
                    break;
                }
                let Some(cb) = st.active.pop(pri) else { break };
                // Read once and kept: reading the flags back right after
                // this narrower store would stall on store forwarding.
                let flags = cb.flags() & !EVLIST_ACTIVE;
                cb.set_flags(flags);
                if let Some(ev) = cb.as_event()
                    && ev.events() & EV_PERSIST == 0
                    && !is_finalizing(cb)
                {
                    st.unlink(ev);
                }
                st.running_cb = Some(cb);
                (cb, flags)
            };
            let (cb, flags) = cb;
            if flags & EVLIST_INTERNAL == 0 {
                ran += 1;
            }
            match cb.as_event() {
                None => self.unlocked(|| cb.call_self()),
                Some(ev) => self.run_event(cb, ev),
            }
            {
                let mut st = self.state.borrow_mut();
                st.running_cb = None;
                if st.del_waiters > 0 {
                    self.wake_deleters(&mut st);
                }
                if st.break_now {
                    break;
                }
            }
            if let Some(end) = end
                && ran > 0
            {
                self.update_cache_time();
                if self.now() >= end {
                    break;
                }
            }
        }
        ran
    }

    /// Runs an active event (not a record of our own), as `run_queue`
    /// took it off its queue. Out of line: the loop's common case is a
    /// deferred callback of ours, and a lean loop keeps its state in
    /// registers.
    #[inline(never)]
    fn run_event(&self, cb: CbPtr, ev: EvPtr) {
        if is_finalizing(cb) {
            debug::note_teardown(ev);
            self.unlocked(|| ev.call_finalizer())
        } else if cb.closure() == event_mem::CLOSURE_SIGNAL {
            self.call_signal(ev)
        } else {
            let res = ev.res();
            if cb.closure() == CLOSURE_PERSIST {
                let prev = (ev.flags() & EVLIST_TIMEOUT != 0).then(|| ev.deadline());
                self.rearmed.set(Some((ev, prev)));
                self.rearm_persistent(ev);
            }
            self.unlocked(|| ev.call(res));
            self.rearmed.set(None);
        }
    }

    /// Wakes the threads waiting in `event_del` for the callback that just
    /// finished.
    #[cold]
    fn wake_deleters(&self, st: &mut State) {
        st.del_waiters = 0;
        if let Some(cond) = &self.cond {
            cond.broadcast();
        }
    }

    /// Calls a signal event's callback once per arrival, stopping early
    /// when a callback deletes or frees the event or breaks the loop.
    fn call_signal(&self, ev: EvPtr) {
        let res = ev.res();
        let mut left = ev.ncalls().max(1);
        let prev = signal::start_repeats(ev);
        loop {
            left -= 1;
            ev.set_ncalls(left);
            self.unlocked(|| ev.call(res));
            if left <= 0 || !signal::still_repeating(ev) || self.state.borrow().break_now {
                break;
            }
        }
        if signal::still_repeating(ev) {
            ev.set_ncalls(0);
        }
        signal::end_repeats(prev);
    }

    /// Re-arms a persistent event's timeout before its callback runs: one
    /// interval after the expiry that fired, or after now for fd readiness.
    fn rearm_persistent(&self, ev: EvPtr) {
        let interval = ev.interval();
        if interval == 0 {
            return;
        }
        let now = self.now();
        let from = if ev.res() & EV_TIMEOUT != 0 {
            ev.deadline()
        } else {
            now
        };
        let mut at = from.saturating_add(interval);
        if at < now {
            at = now.saturating_add(interval);
        }
        // The event was registered a moment ago, so adding again can only
        // fail if its fd was closed under it, which the next pass reports.
        let _ = self.add(ev, Some(at), true);
    }

    /// Takes back the timer restart of the persistent event whose callback
    /// is running: its timer goes back to the deadline it had before (or
    /// to none). A bufferevent calls it when the readiness it acted on
    /// turned out to be stale (a read found nothing): libevent's
    /// level-triggered epoll would not have reported the fd at all, so
    /// its idle timer would not have restarted.
    pub fn undo_rearm(&self, ev: EvPtr) {
        let _held = self.hold();
        let Some((which, prev)) = self.rearmed.get() else {
            return;
        };
        if which != ev || ev.flags() & EVLIST_INSERTED == 0 {
            return;
        }
        self.rearmed.set(None);
        let mut st = self.state.borrow_mut();
        if ev.flags() & EVLIST_TIMEOUT != 0 {
            st.timers.remove(ev);
            st.count(ev, -1);
            ev.set_flags(ev.flags() & !EVLIST_TIMEOUT);
        }
        if let Some(deadline) = prev {
            st.timers.insert(ev, deadline);
            ev.set_flags(ev.flags() | EVLIST_TIMEOUT);
            st.count(ev, 1);
        }
    }

    /// Called from `event_base_free`: runs the pending finalizers of
    /// bufferevents freed earlier, and forgets every event without running
    /// its callback.
    pub fn shutdown(&self, run_finalizers: bool) {
        self.shutting_down.store(true, Ordering::Release);
        // A finalizer may release another bufferevent (a filter its
        // underlying), which queues one more: run until none is left.
        loop {
            let queued = {
                let mut st = self.state.borrow_mut();
                let mut all = st.active.drain_all();
                all.append(&mut st.later);
                all
            };
            if queued.is_empty() {
                break;
            }
            for cb in &queued {
                cb.set_flags(cb.flags() & !(EVLIST_ACTIVE | EVLIST_ACTIVE_LATER));
            }
            for cb in queued {
                let ours = event_mem::EVLIST_X_RELEASE | EVLIST_FINALIZING;
                if cb.closure() == CLOSURE_CB_SELF {
                    if cb.flags() & ours != 0 {
                        cb.call_self();
                    }
                } else if run_finalizers
                    && is_finalizing(cb)
                    && let Some(ev) = cb.as_event()
                {
                    ev.call_finalizer();
                }
            }
        }
        let me = self.me();
        let mut st = self.state.borrow_mut();
        if let Some(pev) = st.signal_event.as_mut().map(|b| EvPtr::new(&raw mut **b)) {
            let pev = pev.expect("boxed pointer is not null");
            st.unlink(pev);
        }
        let signalled: Vec<EvPtr> = st.signals.all().collect();
        for ev in signalled {
            st.unlink(ev);
        }
        st.signals.shutdown(me);
        let timed: Vec<EvPtr> = st.timers.events().collect();
        for ev in timed {
            st.unlink(ev);
        }
        for raw in std::mem::take(&mut st.once) {
            // SAFETY: the once storage is ours and no longer referenced: its
            // event was unlinked above or never added.
            let ev = EvPtr::new(unsafe { &raw mut (*raw).ev }).expect("boxed pointer");
            st.unlink(ev);
            // SAFETY: as above; nothing refers to the box any more.
            let once = unsafe { Box::from_raw(raw) };
            if let Some(release) = once.release {
                // SAFETY: the callback never ran, so its argument is still
                // the caller's to free, with the function it gave for that.
                unsafe { release(once.arg) };
            }
        }
    }
}

impl State {
    /// `Base::activate_n` with the lock held and the state borrowed.
    fn activate(&mut self, ev: EvPtr, res: c_short, ncalls: c_short) {
        let flags = ev.flags();
        if flags & EVLIST_FINALIZING != 0 {
            return;
        }
        if flags & EVLIST_ACTIVE != 0 {
            ev.set_res(ev.res() | res);
            return;
        }
        if flags & EVLIST_ACTIVE_LATER != 0 {
            ev.set_res(ev.res() | res);
            self.later.retain(|&c| c != ev.cb());
            ev.set_flags(flags & !EVLIST_ACTIVE_LATER);
        } else {
            ev.set_res(res);
        }
        if ev.cb().closure() == event_mem::CLOSURE_SIGNAL {
            ev.set_ncalls(ncalls.max(1));
        }
        ev.set_flags(ev.flags() | EVLIST_ACTIVE);
        self.active.push(ev.cb());
        self.max_active = self.max_active.max(self.active.len() + self.later.len());
    }

    /// Adjusts the count of registrations that keep the loop running.
    fn count(&mut self, ev: EvPtr, delta: isize) {
        if ev.flags() & EVLIST_INTERNAL == 0 {
            self.event_count = self.event_count.saturating_add_signed(delta);
            self.max_added = self.max_added.max(self.event_count);
        }
    }

    /// Takes `ev` out of every structure of the base.
    fn unlink(&mut self, ev: EvPtr) {
        let flags = ev.flags();
        if flags & EVLIST_TIMEOUT != 0 {
            self.timers.remove(ev);
            self.count(ev, -1);
        }
        if flags & EVLIST_ACTIVE != 0 {
            self.active.remove(ev.cb());
        }
        if flags & EVLIST_ACTIVE_LATER != 0 {
            self.later.retain(|&c| c != ev.cb());
        }
        if flags & EVLIST_INSERTED != 0 {
            if ev.events() & EV_SIGNAL != 0 {
                self.signals.del(ev.base(), ev);
            } else {
                self.io.del(ev);
            }
            self.count(ev, -1);
        }
        let keep = EVLIST_INIT | EVLIST_INTERNAL | event_mem::EVLIST_X_EDGE | EVLIST_FINALIZING;
        ev.set_flags(flags & keep);
    }
}

/// Whether a queued record is an event waiting for its finalizer.
fn is_finalizing(cb: CbPtr) -> bool {
    matches!(
        cb.closure(),
        CLOSURE_EVENT_FINALIZE | CLOSURE_EVENT_FINALIZE_FREE
    )
}

/// Runs an event_base_once callback and frees its storage.
unsafe extern "C" fn once_cb(fd: i32, what: c_short, arg: *mut c_void) {
    let raw = arg.cast::<OnceEvent>();
    // SAFETY: arg is the OnceEvent this callback was assigned with; it is
    // still allocated because only this callback or the base frees it.
    let (cb, user_arg, base) = unsafe { ((*raw).cb, (*raw).arg, (*raw).ev.ev_base) };
    // SAFETY: the base outlives its events' callbacks.
    let base = unsafe { &*base };
    {
        let _held = base.hold();
        base.state.borrow_mut().once.retain(|&p| p != raw);
    }
    // SAFETY: the event is no longer pending or active (non-persistent
    // events are unlinked before their callback), so nothing refers to it.
    drop(unsafe { Box::from_raw(raw) });
    if let Some(cb) = cb {
        // SAFETY: calling the program's callback as event_base_once promises.
        unsafe { cb(fd, what, user_arg) };
    }
}

/// The one-shot callback behind event_base_loopexit.
unsafe extern "C" fn loopexit_cb(_fd: i32, _what: c_short, arg: *mut c_void) {
    // SAFETY: arg is the base that scheduled this callback, alive while its
    // loop runs callbacks.
    let base = unsafe { &*arg.cast::<Base>() };
    let _held = base.hold();
    base.state.borrow_mut().exit_now = true;
}

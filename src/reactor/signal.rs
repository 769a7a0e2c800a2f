//! Signals: one process-wide handler that writes the signal's number to a
//! pipe, and per base the events waiting for each signal.
//!
//! Each base with signal events owns a pipe whose read end is an internal
//! event of that base, so signal callbacks run from the loop like any
//! other. The handler writes to one pipe only: that of the base that most
//! recently added a signal event or started its loop, as in libevent, where
//! only one base receives signals at a time.

use std::cell::Cell;
use std::collections::HashMap;
use std::ffi::{c_int, c_short, c_void};
use std::sync::atomic::{AtomicI32, AtomicPtr, AtomicUsize, Ordering};

use super::Base;
use super::event_mem::EvPtr;

/// The write end of the receiving base's pipe, or -1.
static RECEIVER_FD: AtomicI32 = AtomicI32::new(-1);
/// The receiving base.
static RECEIVER: AtomicPtr<Base> = AtomicPtr::new(std::ptr::null_mut());
/// How many signal events the receiving base has added.
static RECEIVER_SIGNALS: AtomicUsize = AtomicUsize::new(0);

/// The handler installed for every signal some base waits for: it only
/// writes the signal number to the receiving pipe (async-signal-safe).
extern "C" fn on_signal(sig: c_int) {
    // SAFETY: errno is thread-local; saving and restoring it keeps the
    // interrupted code's value.
    let saved = unsafe { *libc::__errno_location() };
    let fd = RECEIVER_FD.load(Ordering::Relaxed);
    if fd >= 0 {
        let byte = sig as u8;
        // SAFETY: write(2) is async-signal-safe and reads one byte we own.
        unsafe { libc::write(fd, (&raw const byte).cast(), 1) };
    }
    // SAFETY: as above.
    unsafe { *libc::__errno_location() = saved };
}

/// The signal state of one base.
pub struct Signals {
    /// Read and write ends of the pipe, once a signal event was added.
    pipe: Option<(c_int, c_int)>,
    /// The events waiting for each signal.
    events: HashMap<c_int, Vec<EvPtr>>,
    /// The disposition each signal had before this base took it.
    saved: HashMap<c_int, libc::sigaction>,
}

impl Signals {
    pub fn new() -> Signals {
        Signals {
            pipe: None,
            events: HashMap::new(),
            saved: HashMap::new(),
        }
    }

    /// The pipe's read end, made on first use; the bool is true when it is
    /// new and must be watched by the base.
    pub fn ensure_pipe(&mut self) -> std::io::Result<(c_int, bool)> {
        if let Some((r, _)) = self.pipe {
            return Ok((r, false));
        }
        let mut fds = [0 as c_int; 2];
        // SAFETY: pipe2 writes two fds into the array we own.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_NONBLOCK | libc::O_CLOEXEC) } < 0 {
            return Err(std::io::Error::last_os_error());
        }
        self.pipe = Some((fds[0], fds[1]));
        Ok((fds[0], true))
    }

    /// How many signal events are added.
    pub fn count(&self) -> usize {
        self.events.values().map(Vec::len).sum()
    }

    /// Adds `ev` to the events of its signal, taking the signal from its
    /// previous handler if this is the first.
    pub fn add(&mut self, base: *mut Base, ev: EvPtr) -> std::io::Result<()> {
        let sig = ev.fd();
        if !(1..65).contains(&sig) {
            return Err(std::io::Error::from_raw_os_error(libc::EINVAL));
        }
        let list = self.events.entry(sig).or_default();
        if list.is_empty() {
            // SAFETY: an all-zero sigaction is a valid value to fill in.
            let mut new: libc::sigaction = unsafe { std::mem::zeroed() };
            new.sa_sigaction = on_signal as extern "C" fn(c_int) as usize;
            new.sa_flags = libc::SA_RESTART;
            // SAFETY: sigfillset initializes the mask we own.
            unsafe { libc::sigfillset(&mut new.sa_mask) };
            // SAFETY: an all-zero sigaction is a valid output buffer.
            let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
            // SAFETY: both structs are ours and initialized.
            if unsafe { libc::sigaction(sig, &new, &mut old) } < 0 {
                let e = std::io::Error::last_os_error();
                self.events.remove(&sig);
                return Err(e);
            }
            self.saved.insert(sig, old);
        }
        let list = self.events.entry(sig).or_default();
        if !list.contains(&ev) {
            list.push(ev);
        }
        self.receive(base);
        Ok(())
    }

    /// Removes `ev`; the last event of a signal gives the signal back to
    /// the disposition it had before.
    pub fn del(&mut self, base: *mut Base, ev: EvPtr) {
        let sig = ev.fd();
        let Some(list) = self.events.get_mut(&sig) else {
            return;
        };
        list.retain(|&e| e != ev);
        if list.is_empty() {
            self.events.remove(&sig);
            self.restore(sig);
        }
        if RECEIVER.load(Ordering::Acquire) == base {
            RECEIVER_SIGNALS.store(self.count(), Ordering::Release);
        }
    }

    fn restore(&mut self, sig: c_int) {
        if let Some(old) = self.saved.remove(&sig) {
            // SAFETY: `old` is the disposition sigaction gave us earlier.
            unsafe { libc::sigaction(sig, &old, std::ptr::null_mut()) };
        }
    }

    /// Makes this base the one that receives signals.
    pub fn receive(&self, base: *mut Base) {
        if let Some((_, w)) = self.pipe {
            RECEIVER.store(base, Ordering::Release);
            RECEIVER_SIGNALS.store(self.count(), Ordering::Release);
            RECEIVER_FD.store(w, Ordering::Release);
        }
    }

    /// The events of signal `sig`.
    pub fn events_of(&self, sig: c_int) -> Vec<EvPtr> {
        self.events.get(&sig).cloned().unwrap_or_default()
    }

    /// Every signal event.
    pub fn all(&self) -> impl Iterator<Item = EvPtr> + '_ {
        self.events.values().flatten().copied()
    }

    /// Reads what the handler wrote: how often each signal arrived.
    pub fn drain(&self) -> Vec<(c_int, u32)> {
        let mut caught: Vec<(c_int, u32)> = Vec::new();
        let Some((r, _)) = self.pipe else {
            return caught;
        };
        let mut buf = [0u8; 256];
        loop {
            // SAFETY: read(2) writes at most buf.len() bytes into buf.
            let n = unsafe { libc::read(r, buf.as_mut_ptr().cast(), buf.len()) };
            if n <= 0 {
                break;
            }
            for &b in &buf[..n as usize] {
                let sig = c_int::from(b);
                match caught.iter_mut().find(|(s, _)| *s == sig) {
                    Some((_, n)) => *n += 1,
                    None => caught.push((sig, 1)),
                }
            }
        }
        caught
    }

    /// A forked child: a pipe of its own, so the parent does not read the
    /// child's signals. Returns the new read end, if there was a pipe.
    pub fn reinit(&mut self, base: *mut Base) -> std::io::Result<Option<c_int>> {
        let Some((r, w)) = self.pipe.take() else {
            return Ok(None);
        };
        let was_receiver = RECEIVER_FD.load(Ordering::Acquire) == w;
        // SAFETY: both fds are ours; the child's copies only.
        unsafe {
            libc::close(r);
            libc::close(w);
        }
        let (r, _) = self.ensure_pipe()?;
        if was_receiver {
            self.receive(base);
        }
        Ok(Some(r))
    }

    /// A base is freed: give every signal back and close the pipe.
    pub fn shutdown(&mut self, base: *mut Base) {
        let sigs: Vec<c_int> = self.saved.keys().copied().collect();
        for sig in sigs {
            self.restore(sig);
        }
        self.events.clear();
        if RECEIVER.load(Ordering::Acquire) == base {
            RECEIVER_FD.store(-1, Ordering::Release);
            RECEIVER.store(std::ptr::null_mut(), Ordering::Release);
            RECEIVER_SIGNALS.store(0, Ordering::Release);
        }
        if let Some((r, w)) = self.pipe.take() {
            // SAFETY: the pipe is ours and nothing else uses it any more.
            unsafe {
                libc::close(r);
                libc::close(w);
            }
        }
    }
}

thread_local! {
    /// The signal event whose callback runs once per arrival right now;
    /// deleting or freeing it clears this, so no further call touches it.
    static REPEATING: Cell<*mut crate::ffi::event_struct::event> =
        const { Cell::new(std::ptr::null_mut()) };
}

/// Marks `ev` as the event being called repeatedly; returns the previous
/// one, to restore after.
pub fn start_repeats(ev: EvPtr) -> *mut crate::ffi::event_struct::event {
    REPEATING.with(|r| r.replace(ev.as_raw()))
}

/// Whether `ev` may be called again (it was not deleted meanwhile).
pub fn still_repeating(ev: EvPtr) -> bool {
    REPEATING.with(|r| r.get() == ev.as_raw())
}

pub fn end_repeats(prev: *mut crate::ffi::event_struct::event) {
    REPEATING.with(|r| r.set(prev));
}

/// Called by every event_del and event_free: `ev` must not be called
/// again by a repeat in progress.
pub fn stop_repeats(ev: *mut crate::ffi::event_struct::event) {
    REPEATING.with(|r| {
        if r.get() == ev {
            r.set(std::ptr::null_mut());
        }
    });
}

/// The base that receives signals now, if another base with signal
/// events: adding a signal elsewhere then deserves a warning.
pub fn other_receiver(base: *mut Base) -> Option<*mut Base> {
    let current = RECEIVER.load(Ordering::Acquire);
    (!current.is_null() && current != base && RECEIVER_SIGNALS.load(Ordering::Acquire) > 0)
        .then_some(current)
}

/// The callback of a base's pipe event: activates the events of every
/// signal that arrived.
pub unsafe extern "C" fn pipe_cb(_fd: c_int, _what: c_short, arg: *mut c_void) {
    // SAFETY: arg is the base whose internal pipe event this is; the base
    // is alive while its loop runs callbacks.
    let base = unsafe { &*arg.cast::<Base>() };
    base.deliver_signals();
}

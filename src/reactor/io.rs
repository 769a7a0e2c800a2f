//! The fd table over mio's epoll: one registration per fd and the events
//! that wait on it.
//!
//! An fd used only by bufferevents is registered once, edge-triggered, for
//! reading and writing, and its readiness is kept here: enabling or
//! disabling a side then costs no system call. Writing interest is dropped
//! while the fd is known writable, where the kernel would otherwise wake
//! us each time the peer reads (see [`Out`]). An fd with any of the
//! program's own (level-triggered) events is registered level-triggered on
//! mio's epoll descriptor with exactly the union of its events' interests,
//! as libevent does. An fd that epoll refuses (a regular file, /dev/null) is
//! always ready, as on libevent's poll backend.
//!
//! Waiting is apart from the table: the loop waits in [`Waiter`] with the
//! base unlocked, while other threads may change registrations in [`Io`]
//! (epoll_ctl on the same instance is safe during epoll_wait).

use std::ffi::c_short;
use std::os::fd::{AsRawFd, RawFd};
use std::time::Duration;

use mio::{Events, Poll, Token};

use super::event_mem::{EVLIST_X_EDGE, EvPtr};
use super::{EV_CLOSED, EV_ET, EV_READ, EV_WRITE};

/// How an fd is registered with epoll.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
enum Mode {
    #[default]
    None,
    /// Edge-triggered for reading and writing, readiness kept in `ready`.
    Edge,
    /// Level-triggered with these epoll interest bits (EPOLLIN, EPOLLOUT,
    /// EPOLLRDHUP: they fit 16 bits, which keeps an fd's entry small).
    Level(u16),
    /// Refused by epoll: reported ready on every pass.
    AlwaysReady,
}

/// The events waiting on one fd, oldest first. Nearly always one or two (a
/// bufferevent's read and write events): those are kept in the entry
/// itself, so an fd costs no allocation of its own; more go to the heap.
#[derive(Default)]
struct FdEvents {
    /// Filled in order: the second only when the first is.
    first: [Option<EvPtr>; 2],
    /// The third on, when there are more than two. Boxed: one word in
    /// every fd's entry instead of three, for the rare fd that needs it.
    #[allow(clippy::box_collection)]
    more: Option<Box<Vec<EvPtr>>>,
}

impl FdEvents {
    fn iter(&self) -> impl DoubleEndedIterator<Item = EvPtr> + '_ {
        let more = self.more.iter().flat_map(|v| v.iter().copied());
        self.first.iter().flatten().copied().chain(more)
    }

    /// Calls `f` on each event, newest first: the order libevent's per-fd
    /// lists run in. Spelled out rather than `iter().rev()`, whose chained
    /// iterators cost more than the loop they drive (this runs per report).
    #[inline]
    fn for_each_newest_first(&self, mut f: impl FnMut(EvPtr)) {
        if let Some(more) = &self.more {
            for &ev in more.iter().rev() {
                f(ev);
            }
        }
        if let Some(ev) = self.first[1] {
            f(ev);
        }
        if let Some(ev) = self.first[0] {
            f(ev);
        }
    }

    fn is_empty(&self) -> bool {
        self.first[0].is_none()
    }

    fn contains(&self, ev: EvPtr) -> bool {
        self.iter().any(|e| e == ev)
    }

    fn push(&mut self, ev: EvPtr) {
        match &mut self.first {
            [None, _] => self.first[0] = Some(ev),
            [Some(_), None] => self.first[1] = Some(ev),
            _ => self.more.get_or_insert_with(Default::default).push(ev),
        }
    }

    fn remove(&mut self, ev: EvPtr) {
        if self.more.is_none() {
            if self.first[0] == Some(ev) {
                self.first[0] = self.first[1].take();
            } else if self.first[1] == Some(ev) {
                self.first[1] = None;
            }
            return;
        }
        let left: Vec<EvPtr> = self.iter().filter(|&e| e != ev).collect();
        *self = FdEvents::default();
        for e in left {
            self.push(e);
        }
    }

    fn to_vec(&self) -> Vec<EvPtr> {
        self.iter().collect()
    }
}

#[derive(Default)]
struct FdEntry {
    events: FdEvents,
    mode: Mode,
    /// EV_READ / EV_WRITE / EV_CLOSED known to hold (edge mode).
    ready: c_short,
    /// A bufferevent uses this fd: keep it registered while it has no
    /// events, until the bufferevent lets it go.
    owned: bool,
    /// Whether the edge registration has EPOLLOUT.
    out: Out,
}

/// EPOLLOUT in an edge registration. An AF_UNIX socket wakes its epoll
/// entry with EPOLLOUT each time the peer reads, though a socket known
/// writable has nothing new to tell: once a wake-up brings nothing but
/// that, a bufferevent's fd is registered without EPOLLOUT and counted
/// writable (`ready`) until a write comes up short; it then gets EPOLLOUT
/// back for good.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
enum Out {
    /// Registered, and dropped at the first such wake-up.
    #[default]
    Probing,
    /// Not registered: the fd is known writable.
    Dropped,
    /// Registered until the fd is let go: a write came up short, or an
    /// event of the program waits on the fd's edges.
    Kept,
}

pub struct Io {
    /// The epoll instance of the base's [`Waiter`].
    epfd: RawFd,
    fds: Vec<FdEntry>,
    always_ready: Vec<RawFd>,
    /// Events added while their fd was already known ready (edge mode):
    /// reported with the next poll's results, where libevent's
    /// level-triggered epoll would report them, so they run after the
    /// callbacks that were active already, not before.
    known_ready: Vec<(RawFd, EvPtr)>,
}

/// The epoll instance and the buffer it reports into; used only by the
/// thread running the loop.
pub struct Waiter {
    poll: Poll,
    events: Events,
}

/// The token of the base's waker, which no fd can have.
const WAKER: Token = Token(usize::MAX);

impl Waiter {
    pub fn new() -> std::io::Result<Waiter> {
        Ok(Waiter {
            poll: Poll::new()?,
            events: Events::with_capacity(1024),
        })
    }

    pub fn epfd(&self) -> RawFd {
        self.poll.as_raw_fd()
    }

    /// Waits up to `timeout` (None: forever). An interrupted wait reports
    /// nothing.
    pub fn wait(&mut self, timeout: Option<Duration>) -> std::io::Result<()> {
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {
                self.events.clear();
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

/// An event to activate with these result flags.
pub type Activation = (EvPtr, c_short);

const WANTED: c_short = EV_READ | EV_WRITE | EV_CLOSED;

/// The edge registration without and with writing interest.
const EDGE_IN: u32 = (libc::EPOLLIN | libc::EPOLLRDHUP | libc::EPOLLET) as u32;
const EDGE_INOUT: u32 = EDGE_IN | libc::EPOLLOUT as u32;

/// Interrupts the loop's wait from another thread: an eventfd on the
/// base's epoll instance, made by whichever thread asks for it (mio's
/// Waker would need the Poll, which only the waiting thread may touch).
pub struct Wake {
    fd: RawFd,
}

impl Wake {
    /// A new eventfd registered, edge-triggered, on epoll instance `epfd`.
    pub fn new(epfd: RawFd) -> std::io::Result<Wake> {
        // SAFETY: eventfd takes no pointers.
        let fd = unsafe { libc::eventfd(0, libc::EFD_NONBLOCK | libc::EFD_CLOEXEC) };
        if fd < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let wake = Wake { fd };
        let bits = (libc::EPOLLIN | libc::EPOLLET) as u32;
        epoll_ctl_token(epfd, libc::EPOLL_CTL_ADD, fd, bits, WAKER.0 as u64)?;
        Ok(wake)
    }

    /// Makes the eventfd readable: a new edge for the waiting loop. The
    /// counter is never read; at its limit the write fails with EAGAIN,
    /// and then it is drained so that the next write makes an edge.
    pub fn wake(&self) {
        let one = 1u64.to_ne_bytes();
        // SAFETY: writing 8 bytes we own to our eventfd.
        let r = unsafe { libc::write(self.fd, one.as_ptr().cast(), 8) };
        if r < 0 {
            let mut sink = [0u8; 8];
            // SAFETY: reading 8 bytes into a buffer we own, then writing again.
            unsafe {
                libc::read(self.fd, sink.as_mut_ptr().cast(), 8);
                libc::write(self.fd, one.as_ptr().cast(), 8);
            }
        }
    }
}

impl Drop for Wake {
    fn drop(&mut self) {
        crate::sys::close(self.fd);
    }
}

impl Io {
    pub fn new(epfd: RawFd) -> Io {
        Io {
            epfd,
            fds: Vec::new(),
            always_ready: Vec::new(),
            known_ready: Vec::new(),
        }
    }

    pub fn epfd(&self) -> RawFd {
        self.epfd
    }

    fn entry(&mut self, fd: RawFd) -> &mut FdEntry {
        let idx = fd as usize;
        if idx >= self.fds.len() {
            self.fds.resize_with(idx + 1, FdEntry::default);
        }
        &mut self.fds[idx]
    }

    /// Adds `ev` to the events of its fd, registering or changing the
    /// registration as needed. If the fd is known ready for it already
    /// (edge mode), the next poll reports it.
    pub fn add(&mut self, ev: EvPtr) -> std::io::Result<()> {
        let fd = ev.fd();
        let entry = self.entry(fd);
        if !entry.events.contains(ev) {
            entry.events.push(ev);
        }
        // A bufferevent's event on its fd, registered edge-triggered
        // already: nothing to change (the common case, on every enable).
        let unchanged = entry.mode == Mode::Edge && ev.flags() & EVLIST_X_EDGE != 0;
        // A program's EV_ET event wants every edge, writable ones too.
        let result = if unchanged { Ok(()) } else { self.update(fd) }.and_then(|()| {
            if ev.events() & EV_ET != 0 {
                self.keep_out(fd)
            } else {
                Ok(())
            }
        });
        if let Err(e) = result {
            let entry = self.entry(fd);
            entry.events.remove(ev);
            return Err(e);
        }
        let entry = self.entry(fd);
        // An EV_ET event of the program waits for the next edge: readiness
        // seen before it was added is not news to it.
        if entry.mode == Mode::Edge
            && ev.events() & EV_ET == 0
            && entry.ready & ev.events() & WANTED != 0
        {
            self.known_ready.push((fd, ev));
        }
        Ok(())
    }

    /// Has the next poll report `ev` again if its fd is still known ready
    /// for it then, as a level-triggered epoll would.
    pub fn report_again(&mut self, ev: EvPtr) {
        self.known_ready.push((ev.fd(), ev));
    }

    /// Removes `ev` from its fd.
    pub fn del(&mut self, ev: EvPtr) {
        let fd = ev.fd();
        if fd < 0 || fd as usize >= self.fds.len() {
            return;
        }
        let entry = self.entry(fd);
        entry.events.remove(ev);
        // A bufferevent keeps its fd registered while it holds it.
        if entry.owned && entry.mode == Mode::Edge {
            return;
        }
        // The fd closed under us is taken care of in `epoll_del`; any other
        // failure leaves the old registration, which reports nothing to
        // the events left.
        let _ = self.update(fd);
    }

    /// The events waiting on `fd`.
    pub fn events_of(&self, fd: RawFd) -> Vec<EvPtr> {
        usize::try_from(fd)
            .ok()
            .and_then(|i| self.fds.get(i))
            .map_or_else(Vec::new, |e| e.events.to_vec())
    }

    /// Every event waiting on some fd.
    pub fn all_events(&self) -> Vec<EvPtr> {
        self.fds.iter().flat_map(|e| e.events.iter()).collect()
    }

    /// A forked child shares its parent's epoll instance: moves to the
    /// new instance `epfd` and forgets every registration, without
    /// touching the old instance. `register_all` then makes them again.
    pub fn reinit(&mut self, epfd: RawFd) {
        self.epfd = epfd;
        self.always_ready.clear();
        for entry in &mut self.fds {
            entry.mode = Mode::None;
            entry.ready = 0;
            entry.out = Out::Probing;
        }
    }

    /// Registers every fd that has events (or a bufferevent) again.
    pub fn register_all(&mut self) -> std::io::Result<()> {
        for fd in 0..self.fds.len() {
            self.update(fd as RawFd)?;
        }
        Ok(())
    }

    /// Marks `fd` as used by a bufferevent (or not any more).
    pub fn set_owned(&mut self, fd: RawFd, owned: bool) {
        if fd < 0 {
            return;
        }
        self.entry(fd).owned = owned;
        let _ = self.update(fd);
    }

    /// Forgets that `fd` is ready for `what` (a read or write came up short).
    /// Once the peer has closed, reading stays ready: the end of the stream
    /// is still to be read, and no new edge will announce it. A full socket
    /// is watched for writability from then on.
    pub fn clear_ready(&mut self, fd: RawFd, what: c_short) {
        if fd >= 0 && (fd as usize) < self.fds.len() {
            let entry = &mut self.fds[fd as usize];
            let mut what = what;
            if entry.ready & EV_CLOSED != 0 {
                what &= !EV_READ;
            }
            entry.ready &= !what;
            if what & EV_WRITE != 0 && entry.out != Out::Kept {
                // Failing, the next short write tries again; an error or
                // hang-up is reported all the same.
                let _ = self.keep_out(fd);
            }
        }
    }

    /// Keeps EPOLLOUT in the edge registration of `fd` from now on. Adding
    /// it back makes epoll look at the fd again, so a socket that became
    /// writable meanwhile is reported by the next poll.
    fn keep_out(&mut self, fd: RawFd) -> std::io::Result<()> {
        let epfd = self.epfd;
        let entry = &mut self.fds[fd as usize];
        if entry.mode == Mode::Edge && entry.out == Out::Dropped {
            epoll_mod(epfd, fd, EDGE_INOUT)?;
        }
        entry.out = Out::Kept;
        Ok(())
    }

    /// Whether `fd` is known ready for `what`.
    pub fn is_ready(&self, fd: RawFd, what: c_short) -> bool {
        fd >= 0 && (fd as usize) < self.fds.len() && self.fds[fd as usize].ready & what != 0
    }

    /// Brings the registration of `fd` in line with its events.
    fn update(&mut self, fd: RawFd) -> std::io::Result<()> {
        let entry = &self.fds[fd as usize];
        let level = entry.events.iter().any(|e| e.flags() & EVLIST_X_EDGE == 0);
        let wanted = if entry.mode == Mode::AlwaysReady && !entry.events.is_empty() {
            Mode::AlwaysReady
        } else if level {
            let mut bits = 0u32;
            for e in entry.events.iter() {
                let what = e.events();
                if what & EV_READ != 0 {
                    bits |= libc::EPOLLIN as u32;
                }
                if what & EV_WRITE != 0 {
                    bits |= libc::EPOLLOUT as u32;
                }
                if what & EV_CLOSED != 0 {
                    bits |= libc::EPOLLRDHUP as u32;
                }
            }
            Mode::Level(bits as u16)
        } else if !entry.events.is_empty() || (entry.owned && entry.mode == Mode::Edge) {
            Mode::Edge
        } else {
            Mode::None
        };
        let current = entry.mode;
        if wanted == current {
            return Ok(());
        }
        let epfd = self.epfd;
        // A new edge registration has EPOLLOUT, so that the first poll
        // tells whether the fd is writable (a connect in progress is not).
        let edge = EDGE_INOUT;
        let result = match (current, wanted) {
            (_, Mode::None) => {
                if matches!(current, Mode::Edge | Mode::Level(_)) {
                    epoll_del(epfd, fd)
                } else {
                    Ok(())
                }
            }
            (Mode::None, Mode::Edge) => epoll_add(epfd, fd, edge),
            (Mode::None, Mode::Level(bits)) => epoll_add(epfd, fd, u32::from(bits)),
            (Mode::Edge | Mode::Level(_), Mode::Level(bits)) => {
                epoll_mod(epfd, fd, u32::from(bits))
            }
            (Mode::Level(_), Mode::Edge) => epoll_mod(epfd, fd, edge),
            _ => Ok(()),
        };
        let entry = &mut self.fds[fd as usize];
        match result {
            Ok(()) => {
                if wanted != Mode::Edge {
                    entry.ready = 0;
                }
                if wanted == Mode::None {
                    entry.out = Out::Probing;
                }
                // A new edge registration has EPOLLOUT; only a
                // bufferevent's fd may go without it later.
                if wanted == Mode::Edge && current != Mode::Edge {
                    entry.out = if entry.owned && entry.out != Out::Kept {
                        Out::Probing
                    } else {
                        Out::Kept
                    };
                }
                entry.mode = wanted;
                Ok(())
            }
            Err(e) if e.raw_os_error() == Some(libc::EPERM) && current == Mode::None => {
                entry.mode = Mode::AlwaysReady;
                self.always_ready.push(fd);
                Ok(())
            }
            Err(e) => Err(e),
        }
        .inspect(|()| {
            if wanted == Mode::None {
                self.always_ready.retain(|&f| f != fd);
            }
        })
    }

    /// How long the next wait may last: not at all while some fd is
    /// always ready or known ready for an event added since.
    pub fn wait_limit(&self, timeout: Option<Duration>) -> Option<Duration> {
        if self.always_ready.is_empty() && self.known_ready.is_empty() {
            timeout
        } else {
            Some(Duration::ZERO)
        }
    }

    /// The events to activate for what `waiter` reported in its last wait
    /// (registrations may have changed since: events are looked up now).
    pub fn ready_events(&mut self, waiter: &Waiter, out: &mut Vec<Activation>) {
        for event in waiter.events.iter() {
            if event.token() == WAKER {
                continue;
            }
            let fd = event.token().0 as RawFd;
            let hup_or_err =
                event.is_error() || (event.is_read_closed() && event.is_write_closed());
            let what = if hup_or_err {
                EV_READ | EV_WRITE | if event.is_read_closed() { EV_CLOSED } else { 0 }
            } else {
                let mut what = 0;
                if event.is_readable() {
                    what |= EV_READ;
                }
                if event.is_writable() {
                    what |= EV_WRITE;
                }
                if event.is_read_closed() {
                    what |= EV_CLOSED;
                }
                what
            };
            let Some(entry) = self.fds.get_mut(fd as usize) else {
                continue;
            };
            let mut what = what;
            if entry.mode == Mode::Edge {
                if entry.out == Out::Dropped {
                    // Without EPOLLOUT the report lacks what epoll would
                    // have added for a writable fd.
                    what |= entry.ready & EV_WRITE;
                } else if entry.out == Out::Probing
                    && what == EV_WRITE
                    && entry.ready & EV_WRITE != 0
                    && epoll_mod(self.epfd, fd, EDGE_IN).is_ok()
                {
                    // Only "writable again", on an fd known writable: a
                    // peer's read woke us. Stop listening for that (on
                    // failure EPOLLOUT simply stays).
                    entry.out = Out::Dropped;
                }
                entry.ready |= what;
            }
            // Newest first, as libevent's per-fd lists run: of a read and
            // a write ready together, the one added last goes first.
            entry.events.for_each_newest_first(|ev| {
                let res = ev.events() & what & WANTED;
                if res != 0 {
                    out.push((ev, res));
                }
            });
        }
        // One report per fd, its events newest first as above. Only events
        // still waiting on the fd are taken: one deleted since (perhaps
        // freed) is compared, never read.
        // Within one fd the order does not matter (its events run in the
        // fd's own order below); the list is often in order already.
        if !self.known_ready.is_sorted_by_key(|&(fd, _)| fd) {
            self.known_ready.sort_unstable_by_key(|&(fd, _)| fd);
        }
        let mut at = 0;
        while at < self.known_ready.len() {
            let fd = self.known_ready[at].0;
            let end = at + self.known_ready[at..].partition_point(|&(f, _)| f == fd);
            let group = &self.known_ready[at..end];
            at = end;
            let Some(entry) = self.fds.get(fd as usize) else {
                continue;
            };
            if entry.mode != Mode::Edge {
                continue;
            }
            entry.events.for_each_newest_first(|ev| {
                let res = entry.ready & ev.events() & WANTED;
                if res != 0 && group.iter().any(|&(_, e)| e == ev) {
                    out.push((ev, res));
                }
            });
        }
        self.known_ready.clear();
        for &fd in &self.always_ready {
            for ev in self.fds[fd as usize].events.iter() {
                let res = ev.events() & (EV_READ | EV_WRITE);
                if res != 0 {
                    out.push((ev, res));
                }
            }
        }
    }
}

// The table can be out of date with epoll: a program may close an fd that
// still has events (or whose bufferevent is not finalized yet), which drops
// it from epoll, and get the same number back from its next socket. As
// libevent's epoll backend does, a change that finds the kernel's view
// different is retried as the one that fits it.

/// Registers `fd`; one epoll already has (a stale number reused) is changed.
fn epoll_add(epfd: RawFd, fd: RawFd, bits: u32) -> std::io::Result<()> {
    match epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, bits) {
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => {
            epoll_ctl(epfd, libc::EPOLL_CTL_MOD, fd, bits)
        }
        r => r,
    }
}

/// Changes the registration of `fd`; one epoll has forgotten (the fd was
/// closed and its number reused) is made again.
fn epoll_mod(epfd: RawFd, fd: RawFd, bits: u32) -> std::io::Result<()> {
    match epoll_ctl(epfd, libc::EPOLL_CTL_MOD, fd, bits) {
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            epoll_ctl(epfd, libc::EPOLL_CTL_ADD, fd, bits)
        }
        r => r,
    }
}

/// Drops the registration of `fd`; an fd already closed (so gone from
/// epoll) counts as dropped, else the table would keep a registration the
/// next fd with its number does not have.
fn epoll_del(epfd: RawFd, fd: RawFd) -> std::io::Result<()> {
    match epoll_ctl(epfd, libc::EPOLL_CTL_DEL, fd, 0) {
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ENOENT | libc::EBADF | libc::EPERM)
            ) =>
        {
            Ok(())
        }
        r => r,
    }
}

fn epoll_ctl(epfd: RawFd, op: i32, fd: RawFd, bits: u32) -> std::io::Result<()> {
    epoll_ctl_token(epfd, op, fd, bits, fd as u64)
}

/// epoll_ctl reporting `fd`'s readiness with `token`.
fn epoll_ctl_token(epfd: RawFd, op: i32, fd: RawFd, bits: u32, token: u64) -> std::io::Result<()> {
    let mut event = libc::epoll_event {
        events: bits,
        u64: token,
    };
    // SAFETY: epoll_ctl reads one epoll_event we own; fds are plain integers.
    let r = unsafe { libc::epoll_ctl(epfd, op, fd, &mut event) };
    if r < 0 {
        Err(std::io::Error::last_os_error())
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The fd table is as long as the highest fd number: an entry stays
    /// four words, so that idle connections cost no more than before.
    #[test]
    fn fd_entry_is_four_words() {
        assert_eq!(std::mem::size_of::<FdEntry>(), 32);
    }
}

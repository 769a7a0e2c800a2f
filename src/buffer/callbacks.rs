//! Change callbacks: C callbacks and the bufferevents' own, in one list.

use std::ffi::c_void;
use std::rc::Rc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::Buffer;

/// What changed, as `struct evbuffer_cb_info` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CbInfo {
    /// The length before the change.
    pub orig_size: usize,
    pub n_added: usize,
    pub n_deleted: usize,
}

/// Identifies one registered callback; never reused within a thread.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CallbackId(pub(crate) usize);

impl CallbackId {
    /// The opaque value C sees as `struct evbuffer_cb_entry *`.
    pub fn to_raw(self) -> usize {
        self.0
    }

    pub fn from_raw(raw: usize) -> CallbackId {
        CallbackId(raw)
    }
}

/// Flag that keeps a callback running (`EVBUFFER_CB_ENABLED`).
pub const CB_ENABLED: u32 = 1;

/// Flag of a library callback that runs at once even on a buffer that
/// defers its callbacks (libevent's internal EVBUFFER_CB_NODEFER). The
/// program cannot set it: the entry points pass on CB_ENABLED only.
const CB_NODEFER: u32 = 2;

pub type CallbackFn = Rc<dyn Fn(&Buffer, &CbInfo)>;

/// One of the library's own callbacks: a function and its argument.
pub type InternalFn = fn(buf: &Buffer, info: &CbInfo, arg: *mut c_void);

/// What an entry calls.
#[derive(Clone)]
pub(crate) enum Func {
    /// The library's own. It costs a copy, not a count, to take out of
    /// the list: it runs on every change of a bufferevent's buffers.
    Internal(InternalFn, *mut c_void),
    /// The program's, through a closure over its C function and argument.
    Program(CallbackFn),
}

impl Func {
    fn is_internal(&self) -> bool {
        matches!(self, Func::Internal(..))
    }

    fn call(&self, buf: &Buffer, info: &CbInfo) {
        match self {
            Func::Internal(f, arg) => f(buf, info, *arg),
            Func::Program(f) => f(buf, info),
        }
    }
}

pub(crate) struct Entry {
    pub id: CallbackId,
    /// Identity for `evbuffer_remove_cb(buf, fn, arg)`.
    pub key: (usize, usize),
    pub flags: u32,
    pub func: Func,
}

impl Entry {
    /// Whether this entry runs in a pass of `pass`.
    fn runs_in(&self, pass: Pass) -> bool {
        self.flags & CB_ENABLED != 0
            && match pass {
                Pass::All => true,
                Pass::NoDefer => self.flags & CB_NODEFER != 0,
                Pass::Deferred => self.flags & CB_NODEFER == 0,
            }
    }
}

/// Which callbacks a run calls.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pass {
    All,
    /// Changes on a deferring buffer: only those marked CB_NODEFER, now.
    NoDefer,
    /// The deferred run from the loop: all the others.
    Deferred,
}

/// The callbacks of one buffer, oldest first.
#[derive(Default)]
pub(crate) struct List {
    pub entries: Vec<Entry>,
    /// How many entries are the program's: asked on every write to a
    /// pair, and kept here so the answer needs no walk of the entries.
    program: usize,
}

impl List {
    /// Brings `program` up to date after the entries changed.
    fn recount(&mut self) {
        self.program = self
            .entries
            .iter()
            .filter(|e| !e.func.is_internal())
            .count();
    }
}

/// Ids grow with every registration in the process, so that a later
/// callback always has a larger id, whichever thread added it.
static NEXT_ID: AtomicUsize = AtomicUsize::new(1);

fn next_id() -> CallbackId {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    // Multiples of 8 look like aligned pointers to C and are never NULL.
    CallbackId(id * 8)
}

impl Buffer {
    /// Registers `func` to run after every change; `key` identifies it for
    /// [`Buffer::remove_callback_by_key`].
    pub fn add_callback(&self, key: (usize, usize), func: CallbackFn) -> CallbackId {
        self.add_entry(key, Func::Program(func), CB_ENABLED)
    }

    fn add_entry(&self, key: (usize, usize), func: Func, flags: u32) -> CallbackId {
        let id = next_id();
        let entry = Entry {
            id,
            key,
            flags,
            func,
        };
        let mut cbs = self.cbs.borrow_mut();
        // Most buffers carry one or two callbacks: grow one entry at a time
        // rather than the default four, which idle connections would pay for.
        cbs.entries.reserve_exact(1);
        cbs.entries.push(entry);
        cbs.recount();
        id
    }

    /// Whether any of the program's callbacks is registered (enabled or
    /// not): without one, a change runs only the library's own.
    pub fn has_program_callbacks(&self) -> bool {
        self.cbs.borrow().program > 0
    }

    /// Whether any callback, the program's or the library's, is registered.
    pub fn has_callbacks(&self) -> bool {
        !self.cbs.borrow().entries.is_empty()
    }

    /// Whether the buffer is empty, open at the back, frozen at the front,
    /// does not defer its callbacks, and is listened to by the library's
    /// callback `own` and by no callback of the program's: what a pair half
    /// asks of its output, on every write, before handing the bytes
    /// straight to its partner. One look at each part.
    ///
    /// A front the program unfroze sends the write the long way, through
    /// the transfer that freezes it again, as libevent's always does.
    pub(crate) fn idle_with_own_callback(&self, own: CallbackId) -> bool {
        {
            let inner = self.inner.borrow();
            if inner.len != 0 || inner.frozen_back || !inner.frozen_front || inner.deferring {
                return false;
            }
        }
        let cbs = self.cbs.borrow();
        cbs.program == 0 && cbs.entries.iter().any(|e| e.id == own)
    }

    /// Registers a callback of the library's own, run in the same list and
    /// order as C callbacks (newest first), and at once even when the
    /// buffer defers its callbacks.
    // LIMITATION: 2.1.12 registers the socket, filter and TLS kinds' own
    // callbacks deferrable, so evbuffer_defer_callbacks on such a buffer
    // delays them to the loop; ours run at once (only the pair's output
    // callback is deferrable, see add_internal_deferrable_cb).
    pub fn add_internal_cb(&self, f: InternalFn, arg: *mut c_void) -> CallbackId {
        let key = (f as usize, arg as usize);
        self.add_entry(key, Func::Internal(f, arg), CB_ENABLED | CB_NODEFER)
    }

    /// [`Buffer::add_internal_cb`] for a callback that waits for the loop,
    /// with the program's, once the buffer defers its callbacks: libevent
    /// registers a pair half's output callback that way, so that
    /// `evbuffer_defer_callbacks` on the output holds writes there until
    /// the loop runs.
    pub fn add_internal_deferrable_cb(&self, f: InternalFn, arg: *mut c_void) -> CallbackId {
        let key = (f as usize, arg as usize);
        self.add_entry(key, Func::Internal(f, arg), CB_ENABLED)
    }

    /// Removes one callback; false when it is not registered here.
    pub fn remove_callback(&self, id: CallbackId) -> bool {
        let mut cbs = self.cbs.borrow_mut();
        let before = cbs.entries.len();
        cbs.entries.retain(|e| e.id != id);
        cbs.recount();
        before != cbs.entries.len()
    }

    /// Removes the newest callback registered with `key`; false if none.
    pub fn remove_callback_by_key(&self, key: (usize, usize)) -> bool {
        let mut cbs = self.cbs.borrow_mut();
        match cbs.entries.iter().rposition(|e| e.key == key) {
            Some(i) => {
                cbs.entries.remove(i);
                cbs.recount();
                true
            }
            None => false,
        }
    }

    /// Removes every callback.
    pub fn clear_callbacks(&self) {
        let old = {
            let mut cbs = self.cbs.borrow_mut();
            let old = std::mem::take(&mut cbs.entries);
            cbs.recount();
            old
        };
        drop(old);
    }

    /// Sets (`on`) or clears flags of a callback; false if it is not here.
    pub fn set_callback_flags(&self, id: CallbackId, flags: u32, on: bool) -> bool {
        let mut cbs = self.cbs.borrow_mut();
        match cbs.entries.iter_mut().find(|e| e.id == id) {
            Some(e) => {
                if on {
                    e.flags |= flags;
                } else {
                    e.flags &= !flags;
                }
                true
            }
            None => false,
        }
    }

    /// Reports a change from `orig_size` by `n_added` and `n_deleted` bytes:
    /// runs the enabled callbacks, newest first, or, on a buffer that defers
    /// them, adds the change to the batch for the loop and runs only the
    /// library's own callbacks now (with the batch's counts so far, as
    /// libevent 2.1.12 does). No change, no call.
    #[inline]
    pub(crate) fn notify(&self, orig_size: usize, n_added: usize, n_deleted: usize) {
        // Most buffers have no callback and never defer: decided inline.
        if self.cbs.borrow().entries.is_empty() && !self.is_deferring() {
            return;
        }
        self.notify_listeners(orig_size, n_added, n_deleted);
    }

    fn notify_listeners(&self, orig_size: usize, n_added: usize, n_deleted: usize) {
        if n_added == 0 && n_deleted == 0 {
            return;
        }
        if self.cbs.borrow().entries.is_empty() {
            // Nothing listens: libevent forgets the counts too.
            self.take_pending();
            return;
        }
        if self.is_deferring() {
            let (a, d) = self.add_pending(n_added, n_deleted);
            self.schedule_deferred();
            let info = CbInfo {
                orig_size: (self.len() + d).saturating_sub(a),
                n_added: a,
                n_deleted: d,
            };
            self.run_callbacks(&info, Pass::NoDefer);
            return;
        }
        let info = CbInfo {
            orig_size,
            n_added,
            n_deleted,
        };
        self.run_callbacks(&info, Pass::All);
    }

    /// The loop's run of deferred callbacks: one report for the batch.
    pub(crate) fn run_deferred_callbacks(&self) {
        let (a, d) = self.take_pending();
        if a == 0 && d == 0 {
            return;
        }
        let info = CbInfo {
            orig_size: (self.len() + d).saturating_sub(a),
            n_added: a,
            n_deleted: d,
        };
        self.run_callbacks(&info, Pass::Deferred);
    }

    /// Calls the callbacks `pass` selects with `info`.
    ///
    /// A callback may change the buffer, add or remove callbacks or free the
    /// buffer: the list is re-read before each call and no borrow is held.
    /// Freeing the buffer stops the run, except in a deferred run for a
    /// buffer freed before it started (libevent still calls them then).
    fn run_callbacks(&self, info: &CbInfo, pass: Pass) {
        // Walk newest to oldest by id (ids grow with registration), looking
        // the next one up after each call: callbacks added meanwhile are
        // skipped, removed ones are not called, and nothing is allocated.
        // A lone entry (a bufferevent's own callback, nearly always) is
        // that walk's first and last step.
        let first = {
            let cbs = self.cbs.borrow();
            match cbs.entries.as_slice() {
                [] => return,
                [only] => {
                    let func = only.runs_in(pass).then(|| only.func.clone());
                    drop(cbs);
                    if let Some(func) = func {
                        self.busy.set(self.busy.get() + 1);
                        func.call(self, info);
                        self.busy.set(self.busy.get() - 1);
                    }
                    return;
                }
                [.., newest] => newest.id.0,
            }
        };
        let stop_when_freed = !self.freed.get();
        let mut bound = first + 1;
        self.busy.set(self.busy.get() + 1);
        while !(stop_when_freed && self.freed.get()) {
            let next = {
                let cbs = self.cbs.borrow();
                let found = cbs.entries.iter().rev().find(|e| e.id.0 < bound);
                found.map(|e| (e.id.0, e.runs_in(pass).then(|| e.func.clone())))
            };
            let Some((id, func)) = next else {
                break;
            };
            bound = id;
            if let Some(func) = func {
                func.call(self, info);
            }
        }
        self.busy.set(self.busy.get() - 1);
    }
}

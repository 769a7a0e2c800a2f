//! Change callbacks: C callbacks and the bufferevents' own, in one list.

use std::ffi::c_void;
use std::rc::Rc;

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

pub type CallbackFn = Rc<dyn Fn(&Buffer, &CbInfo)>;

pub(crate) struct Entry {
    pub id: CallbackId,
    /// Identity for `evbuffer_remove_cb(buf, fn, arg)`.
    pub key: (usize, usize),
    pub flags: u32,
    pub func: CallbackFn,
}

/// The callbacks of one buffer, oldest first.
#[derive(Default)]
pub(crate) struct List {
    pub entries: Vec<Entry>,
}

thread_local! {
    static NEXT_ID: std::cell::Cell<usize> = const { std::cell::Cell::new(1) };
}

fn next_id() -> CallbackId {
    NEXT_ID.with(|n| {
        let id = n.get();
        n.set(id + 1);
        // Multiples of 8 look like aligned pointers to C and are never NULL.
        CallbackId(id * 8)
    })
}

impl Buffer {
    /// Registers `func` to run after every change; `key` identifies it for
    /// [`Buffer::remove_callback_by_key`].
    pub fn add_callback(&self, key: (usize, usize), func: CallbackFn) -> CallbackId {
        let id = next_id();
        let entry = Entry {
            id,
            key,
            flags: CB_ENABLED,
            func,
        };
        self.cbs.borrow_mut().entries.push(entry);
        id
    }

    /// Registers a callback of the library's own, run in the same list and
    /// order as C callbacks (newest first).
    pub fn add_internal_cb(
        &self,
        f: fn(buf: &Buffer, info: &CbInfo, arg: *mut c_void),
        arg: *mut c_void,
    ) -> CallbackId {
        let key = (f as usize, arg as usize);
        self.add_callback(
            key,
            Rc::new(move |buf: &Buffer, info: &CbInfo| f(buf, info, arg)),
        )
    }

    /// Removes one callback; false when it is not registered here.
    pub fn remove_callback(&self, id: CallbackId) -> bool {
        let mut cbs = self.cbs.borrow_mut();
        let before = cbs.entries.len();
        cbs.entries.retain(|e| e.id != id);
        before != cbs.entries.len()
    }

    /// Removes the newest callback registered with `key`; false if none.
    pub fn remove_callback_by_key(&self, key: (usize, usize)) -> bool {
        let mut cbs = self.cbs.borrow_mut();
        match cbs.entries.iter().rposition(|e| e.key == key) {
            Some(i) => {
                cbs.entries.remove(i);
                true
            }
            None => false,
        }
    }

    /// Removes every callback.
    pub fn clear_callbacks(&self) {
        let old = std::mem::take(&mut self.cbs.borrow_mut().entries);
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

    /// Runs the enabled callbacks, newest first, for a change from
    /// `orig_size` by `n_added` and `n_deleted` bytes; no change, no call.
    ///
    /// A callback may change the buffer, add or remove callbacks or free the
    /// buffer: the list is re-read before each call and no borrow is held.
    pub(crate) fn notify(&self, orig_size: usize, n_added: usize, n_deleted: usize) {
        if n_added == 0 && n_deleted == 0 {
            return;
        }
        let info = CbInfo {
            orig_size,
            n_added,
            n_deleted,
        };
        // Walk newest to oldest by id (ids grow with registration), looking
        // the next one up after each call: callbacks added meanwhile are
        // skipped, removed ones are not called, and nothing is allocated.
        let Some(newest) = self.cbs.borrow().entries.last().map(|e| e.id.0) else {
            return;
        };
        let mut bound = newest + 1;
        self.busy.set(self.busy.get() + 1);
        while !self.freed.get() {
            let next = {
                let cbs = self.cbs.borrow();
                cbs.entries
                    .iter()
                    .rev()
                    .find(|e| e.id.0 < bound)
                    .map(|e| (e.id.0, (e.flags & CB_ENABLED != 0).then(|| e.func.clone())))
            };
            let Some((id, func)) = next else {
                break;
            };
            bound = id;
            if let Some(func) = func {
                func(self, &info);
            }
        }
        self.busy.set(self.busy.get() - 1);
    }
}

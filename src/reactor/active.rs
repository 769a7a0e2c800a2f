//! The active queues: one doubly linked list per priority, linked through
//! each record's own `evcb_active_next`, so removing an event that is
//! active (because the program deleted or freed it) is O(1) and nothing is
//! allocated per activation.

use super::event_mem::CbPtr;

#[derive(Default, Clone, Copy)]
struct Queue {
    head: Option<CbPtr>,
    tail: Option<CbPtr>,
}

pub struct ActiveQueues {
    queues: Vec<Queue>,
    len: usize,
}

impl ActiveQueues {
    pub fn new(priorities: usize) -> ActiveQueues {
        ActiveQueues {
            queues: vec![Queue::default(); priorities],
            len: 0,
        }
    }

    pub fn priorities(&self) -> usize {
        self.queues.len()
    }

    /// Changes the number of priorities; only valid while all are empty.
    pub fn set_priorities(&mut self, n: usize) {
        debug_assert_eq!(self.len, 0);
        self.queues = vec![Queue::default(); n];
    }

    pub fn len(&self) -> usize {
        self.len
    }

    /// Appends `cb` to the queue of its priority.
    pub fn push(&mut self, cb: CbPtr) {
        let pri = cb.pri().min(self.queues.len() - 1);
        let q = &mut self.queues[pri];
        cb.set_links(q.tail, None);
        match q.tail {
            Some(tail) => tail.set_next(Some(cb)),
            None => q.head = Some(cb),
        }
        q.tail = Some(cb);
        self.len += 1;
    }

    /// Unlinks `cb`, which must be in the queue of its priority.
    pub fn remove(&mut self, cb: CbPtr) {
        let pri = cb.pri().min(self.queues.len() - 1);
        let q = &mut self.queues[pri];
        let (prev, next) = (cb.prev(), cb.next());
        match prev {
            Some(p) => p.set_next(next),
            None => q.head = next,
        }
        match next {
            Some(n) => n.set_prev(prev),
            None => q.tail = prev,
        }
        cb.set_links(None, None);
        self.len -= 1;
    }

    /// The most urgent non-empty priority.
    pub fn first_busy(&self) -> Option<usize> {
        self.first_busy_from(0)
    }

    /// The most urgent non-empty priority at `start` or after.
    pub fn first_busy_from(&self, start: usize) -> Option<usize> {
        let rest = self.queues.get(start..)?;
        rest.iter()
            .position(|q| q.head.is_some())
            .map(|i| i + start)
    }

    /// Takes the head of queue `pri`.
    pub fn pop(&mut self, pri: usize) -> Option<CbPtr> {
        // `remove` for the one record known to have no predecessor.
        let q = self.queues.get_mut(pri)?;
        let head = q.head?;
        let next = head.next();
        q.head = next;
        match next {
            Some(n) => {
                n.set_prev(None);
                // The next record's owner was last touched when it was
                // queued, often a whole round of callbacks ago: start
                // fetching it now, while this one's callback runs.
                crate::sys::prefetch(n.as_raw().cast_const().cast());
            }
            None => q.tail = None,
        }
        head.set_links(None, None);
        self.len -= 1;
        Some(head)
    }

    /// Every queued record, most urgent first, left in place.
    pub fn all(&self) -> Vec<CbPtr> {
        let mut out = Vec::with_capacity(self.len);
        for q in &self.queues {
            let mut at = q.head;
            while let Some(cb) = at {
                out.push(cb);
                at = cb.next();
            }
        }
        out
    }

    /// Takes every record, most urgent first (used when a base is freed).
    pub fn drain_all(&mut self) -> Vec<CbPtr> {
        let mut out = Vec::with_capacity(self.len);
        while let Some(pri) = self.first_busy() {
            while let Some(cb) = self.pop(pri) {
                out.push(cb);
            }
        }
        out
    }
}

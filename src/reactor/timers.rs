//! The timer heap: a binary min-heap of events by deadline. Each event
//! keeps its own position (`min_heap_idx`) so removal is O(log n).

use super::event_mem::EvPtr;

struct Entry {
    deadline: u64,
    /// Insertion order, so equal deadlines fire in the order they were set.
    seq: u64,
    ev: EvPtr,
}

impl Entry {
    fn before(&self, other: &Entry) -> bool {
        (self.deadline, self.seq) < (other.deadline, other.seq)
    }
}

#[derive(Default)]
pub struct Timers {
    heap: Vec<Entry>,
    next_seq: u64,
}

impl Timers {
    /// The earliest deadline, if any.
    pub fn next_deadline(&self) -> Option<u64> {
        self.heap.first().map(|e| e.deadline)
    }

    /// Adds `ev` (not in the heap) to expire at `deadline`.
    pub fn insert(&mut self, ev: EvPtr, deadline: u64) {
        ev.set_deadline(deadline);
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry { deadline, seq, ev });
        let last = self.heap.len() - 1;
        self.set_index(last);
        self.sift_up(last);
    }

    /// Removes `ev` from the heap; a no-op when it is not there.
    pub fn remove(&mut self, ev: EvPtr) {
        let idx = ev.heap_index();
        if idx < 0 || idx as usize >= self.heap.len() || self.heap[idx as usize].ev != ev {
            return;
        }
        let idx = idx as usize;
        ev.set_heap_index(-1);
        let last = self.heap.pop().expect("heap holds the event being removed");
        if idx < self.heap.len() {
            self.heap[idx] = last;
            self.set_index(idx);
            self.sift_down(idx);
            self.sift_up(idx);
        }
    }

    /// Takes the earliest event if it expires at or before `now`.
    pub fn pop_expired(&mut self, now: u64) -> Option<EvPtr> {
        let first = self.heap.first()?;
        if first.deadline > now {
            return None;
        }
        let ev = first.ev;
        self.remove(ev);
        Some(ev)
    }

    /// Every event in the heap, in no particular order.
    pub fn events(&self) -> impl Iterator<Item = EvPtr> + '_ {
        self.heap.iter().map(|e| e.ev)
    }

    fn set_index(&self, idx: usize) {
        self.heap[idx].ev.set_heap_index(idx as i32);
    }

    fn sift_up(&mut self, mut idx: usize) {
        while idx > 0 {
            let parent = (idx - 1) / 2;
            if !self.heap[idx].before(&self.heap[parent]) {
                break;
            }
            self.heap.swap(idx, parent);
            self.set_index(idx);
            self.set_index(parent);
            idx = parent;
        }
    }

    fn sift_down(&mut self, mut idx: usize) {
        loop {
            let (left, right) = (2 * idx + 1, 2 * idx + 2);
            let mut best = idx;
            if left < self.heap.len() && self.heap[left].before(&self.heap[best]) {
                best = left;
            }
            if right < self.heap.len() && self.heap[right].before(&self.heap[best]) {
                best = right;
            }
            if best == idx {
                break;
            }
            self.heap.swap(idx, best);
            self.set_index(idx);
            self.set_index(best);
            idx = best;
        }
    }
}

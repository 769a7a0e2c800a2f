//! `event2/event.h`: bases, events and the loop.

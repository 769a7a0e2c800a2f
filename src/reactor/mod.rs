//! The event loop (`event_base`) over mio.

/// An event base.
pub struct Base {}

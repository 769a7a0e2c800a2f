//! `event2/listener.h`: accepting connections.

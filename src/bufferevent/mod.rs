//! Bufferevents: the common core and one state machine per kind.

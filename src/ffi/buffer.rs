//! `event2/buffer.h`: evbuffers.

//! bufferevent-rs: libevent 2.1's bufferevents, event loop, evbuffers and
//! listeners behind libevent's exact C ABI.
//!
//! The C interface lives in [`ffi`]; it checks and converts arguments and
//! calls the core: [`reactor`] (the event loop), [`buffer`] (evbuffer),
//! [`bufferevent`] and [`listener`].

#![allow(non_camel_case_types)]

pub mod ffi;
mod log;
mod mem;
mod stubs;
mod sys;
mod variadic;

mod buffer;
mod bufferevent;
mod dns;
mod listener;
mod reactor;
mod thread;
mod util;

//! `struct event_config` and the choice of backend name.
//!
//! We always wait with mio's epoll (plus the always-ready list for fds
//! epoll refuses), so the backend is only a name and a feature set: the
//! ones libevent 2.1.12 would have chosen on Linux from the methods it
//! has there, the methods a config avoids, the features it requires and
//! the EVENT_NO<METHOD> environment variables.

use std::ffi::c_int;

pub const EV_FEATURE_ET: c_int = 0x01;
pub const EV_FEATURE_O1: c_int = 0x02;
pub const EV_FEATURE_FDS: c_int = 0x04;
pub const EV_FEATURE_EARLY_CLOSE: c_int = 0x08;

pub const EVENT_BASE_FLAG_NOLOCK: c_int = 0x01;
pub const EVENT_BASE_FLAG_IGNORE_ENV: c_int = 0x02;
pub const EVENT_BASE_FLAG_NO_CACHE_TIME: c_int = 0x08;

/// The methods of libevent on Linux, in its order of preference, with
/// their features and the environment variable that disables each.
pub const METHODS: [(&str, c_int, &str); 3] = [
    (
        "epoll",
        EV_FEATURE_ET | EV_FEATURE_O1 | EV_FEATURE_EARLY_CLOSE,
        "EVENT_NOEPOLL",
    ),
    (
        "poll",
        EV_FEATURE_FDS | EV_FEATURE_EARLY_CLOSE,
        "EVENT_NOPOLL",
    ),
    ("select", EV_FEATURE_FDS, "EVENT_NOSELECT"),
];

/// How long a pass may run callbacks of less urgent priorities before
/// the loop polls again (event_config_set_max_dispatch_interval).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DispatchLimit {
    /// Time budget in nanoseconds, if any.
    pub max_ns: Option<u64>,
    /// Callbacks per pass, usize::MAX for no bound.
    pub max_callbacks: usize,
    /// Priorities below this one are never limited.
    pub min_priority: usize,
}

/// What event_config_* collected.
#[derive(Default, Debug)]
pub struct Config {
    pub avoid: Vec<String>,
    pub require: c_int,
    pub flags: c_int,
    pub limit: Option<DispatchLimit>,
}

impl Config {
    /// The method the reference would pick and its features, or None
    /// when every method is excluded.
    pub fn choose(&self) -> Option<(&'static str, c_int)> {
        let use_env = self.flags & EVENT_BASE_FLAG_IGNORE_ENV == 0;
        METHODS
            .iter()
            .find(|(name, features, env)| {
                !self.avoid.iter().any(|a| a == name)
                    && features & self.require == self.require
                    && !(use_env && std::env::var_os(env).is_some())
            })
            .map(|&(name, features, _)| (name, features))
    }

    /// Records event_config_set_max_dispatch_interval's arguments; with
    /// neither a time nor a count bound there is no limit at all.
    pub fn set_limit(&mut self, max_ns: Option<u64>, max_callbacks: c_int, min_priority: c_int) {
        let max_callbacks = usize::try_from(max_callbacks).unwrap_or(usize::MAX);
        self.limit = (max_ns.is_some() || max_callbacks != usize::MAX).then_some(DispatchLimit {
            max_ns,
            max_callbacks,
            min_priority: usize::try_from(min_priority).unwrap_or(0),
        });
    }
}

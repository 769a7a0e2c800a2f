//! Time: the monotonic clock the timers run on, and conversions to and
//! from `struct timeval`.

/// Nanoseconds since an arbitrary start, never going back.
pub fn monotonic_ns() -> u64 {
    clock_ns(libc::CLOCK_MONOTONIC)
}

/// Nanoseconds since the Unix epoch.
pub fn wall_ns() -> u64 {
    clock_ns(libc::CLOCK_REALTIME)
}

fn clock_ns(clock: libc::clockid_t) -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: clock_gettime writes one timespec we own.
    unsafe { libc::clock_gettime(clock, &mut ts) };
    (ts.tv_sec as u64) * 1_000_000_000 + ts.tv_nsec as u64
}

pub fn timeval_to_ns(tv: libc::timeval) -> u64 {
    let secs = tv.tv_sec.max(0) as u64;
    let usecs = tv.tv_usec.max(0) as u64;
    secs.saturating_mul(1_000_000_000)
        .saturating_add(usecs.saturating_mul(1000))
}

pub fn ns_to_timeval(ns: u64) -> libc::timeval {
    libc::timeval {
        tv_sec: (ns / 1_000_000_000) as libc::time_t,
        tv_usec: ((ns % 1_000_000_000) / 1000) as libc::suseconds_t,
    }
}

/// A relative timeout from C, as libevent reads it: negative parts count
/// as given, and the result is clamped at zero.
pub fn relative_ns(tv: libc::timeval) -> u64 {
    let total = (tv.tv_sec as i128) * 1_000_000_000 + (tv.tv_usec as i128) * 1000;
    total.clamp(0, u64::MAX as i128) as u64
}

/// Whether a timeval is set (either part nonzero), as evutil_timerisset.
pub fn is_set(tv: libc::timeval) -> bool {
    tv.tv_sec != 0 || tv.tv_usec != 0
}

/// How many common timeouts a base may have (libevent's limit).
pub const MAX_COMMON_TIMEOUTS: usize = 256;
const COMMON_MASK: i64 = 0xf000_0000;
const COMMON_MAGIC: i64 = 0x5000_0000;
const COMMON_INDEX_SHIFT: u32 = 20;
const USEC_MASK: i64 = 0x000f_ffff;

/// The tv_usec of the `index`-th common timeout of `usec` microseconds.
pub fn tag_common_timeout(usec: libc::suseconds_t, index: usize) -> libc::suseconds_t {
    COMMON_MAGIC | ((index as i64) << COMMON_INDEX_SHIFT) | (usec & USEC_MASK)
}

/// The microseconds of a tagged tv_usec, or None for an ordinary one.
pub fn common_timeout_usec(tv_usec: libc::suseconds_t) -> Option<libc::suseconds_t> {
    (tv_usec & COMMON_MASK == COMMON_MAGIC).then_some(tv_usec & USEC_MASK)
}

/// A relative timeout from C, where a common timeout from
/// event_base_init_common_timeout stands for the duration it was made for.
pub fn timeout_ns(tv: libc::timeval) -> u64 {
    match common_timeout_usec(tv.tv_usec) {
        Some(usec) => relative_ns(libc::timeval {
            tv_sec: tv.tv_sec,
            tv_usec: usec,
        }),
        None => relative_ns(tv),
    }
}

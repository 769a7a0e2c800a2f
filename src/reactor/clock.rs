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

//! Time helpers: the standalone monotonic timer of
//! `evutil_monotonic_timer_*` and HTTP dates of `evutil_date_rfc1123`.

use crate::{mem, sys};

/// `EV_MONOT_PRECISE`: prefer a finer clock to a cheaper one.
pub const MONOT_PRECISE: i32 = 1;
/// `EV_MONOT_FALLBACK`: use the time of day made monotonic.
pub const MONOT_FALLBACK: i32 = 2;

/// A program's monotonic timer.
///
/// A new timer reads `CLOCK_REALTIME` until it is configured, as the
/// reference's all-zero timer does (clock id 0).
pub struct MonotonicTimer {
    /// The clock read, or `None` for the adjusted time of day.
    clock: Option<libc::clockid_t>,
    /// Added to the time of day, grown whenever it steps backwards.
    adjust: libc::timeval,
    /// The last answer of the time-of-day fallback.
    last: libc::timeval,
}

const ZERO_TV: libc::timeval = libc::timeval {
    tv_sec: 0,
    tv_usec: 0,
};

fn tv_usec_total(tv: &libc::timeval) -> i128 {
    i128::from(tv.tv_sec) * 1_000_000 + i128::from(tv.tv_usec)
}

fn tv_from_usec(total: i128) -> libc::timeval {
    libc::timeval {
        tv_sec: total.div_euclid(1_000_000) as libc::time_t,
        tv_usec: total.rem_euclid(1_000_000) as libc::suseconds_t,
    }
}

impl MonotonicTimer {
    pub fn new() -> Self {
        MonotonicTimer {
            clock: Some(libc::CLOCK_REALTIME),
            adjust: ZERO_TV,
            last: ZERO_TV,
        }
    }

    /// A new timer in memory from the program's allocator (where
    /// `event_set_mem_functions` points it, as the reference's timers are);
    /// NULL when memory runs out. Free it with [`MonotonicTimer::free`].
    pub fn allocate() -> *mut MonotonicTimer {
        let p = mem::malloc(std::mem::size_of::<MonotonicTimer>()).cast::<MonotonicTimer>();
        if !p.is_null() {
            // SAFETY: p is fresh memory of the right size, and the
            // allocator's alignment suits a struct of integers.
            unsafe { p.write(MonotonicTimer::new()) };
        }
        p
    }

    /// Frees a timer from [`MonotonicTimer::allocate`].
    ///
    /// # Safety
    /// `p` came from `allocate` and is not used again.
    pub unsafe fn free(p: *mut MonotonicTimer) {
        // The timer holds only integers: nothing to drop but the memory.
        // SAFETY: the caller's contract.
        unsafe { mem::free(p.cast()) };
    }

    /// Chooses the clock for `flags`: the coarse monotonic clock unless
    /// PRECISE or FALLBACK is asked, the precise one unless FALLBACK is,
    /// and the adjusted time of day otherwise. Always 0.
    pub fn configure(&mut self, flags: i32) -> i32 {
        let precise = flags & MONOT_PRECISE != 0;
        let fallback = flags & MONOT_FALLBACK != 0;
        let usable = |c| sys::clock_gettime(c).is_some();
        self.clock = if !precise && !fallback && usable(libc::CLOCK_MONOTONIC_COARSE) {
            Some(libc::CLOCK_MONOTONIC_COARSE)
        } else if !fallback && usable(libc::CLOCK_MONOTONIC) {
            Some(libc::CLOCK_MONOTONIC)
        } else {
            None
        };
        0
    }

    /// The timer's current time, or `None` when the clock cannot be read.
    pub fn now(&mut self) -> Option<libc::timeval> {
        match self.clock {
            Some(clock) => sys::clock_gettime(clock).map(|ts| libc::timeval {
                tv_sec: ts.tv_sec,
                tv_usec: (ts.tv_nsec / 1000) as libc::suseconds_t,
            }),
            None => {
                let tod = sys::gettimeofday().ok()?;
                let mut now = tv_usec_total(&tod) + tv_usec_total(&self.adjust);
                let last = tv_usec_total(&self.last);
                if now < last {
                    // The time of day stepped back: absorb the step.
                    self.adjust = tv_from_usec(tv_usec_total(&self.adjust) + last - now);
                    now = last;
                }
                self.last = tv_from_usec(now);
                Some(self.last)
            }
        }
    }
}

const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Writes the RFC 1123 date of `tm` (now, in UTC, when `None`) into `out`
/// like snprintf and returns its length; 0 with nothing written for an
/// empty buffer. `None` when the weekday or month is out of range.
pub fn date_rfc1123(out: &mut [u8], tm: Option<&libc::tm>) -> Option<i32> {
    let now;
    let tm = match tm {
        Some(tm) => tm,
        None => {
            now = sys::gmtime_now();
            &now
        }
    };
    let day = DAYS.get(usize::try_from(tm.tm_wday).ok()?)?;
    let month = MONTHS.get(usize::try_from(tm.tm_mon).ok()?)?;
    if out.is_empty() {
        return Some(0);
    }
    let text = format!(
        "{day}, {:02} {month} {:4} {:02}:{:02}:{:02} GMT",
        tm.tm_mday,
        1900 + i64::from(tm.tm_year),
        tm.tm_hour,
        tm.tm_min,
        tm.tm_sec
    );
    Some(super::write_truncated(out, text.as_bytes()) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fallback_never_goes_back() {
        let mut t = MonotonicTimer::new();
        t.configure(MONOT_FALLBACK);
        let first = t.now().unwrap();
        // Pretend the last answer was an hour ahead, as after the time of
        // day was set back: the next answers hold there, then move on.
        t.last = tv_from_usec(tv_usec_total(&first) + 3_600_000_000);
        let held = t.now().unwrap();
        assert_eq!(tv_usec_total(&held), tv_usec_total(&t.last));
        assert!(tv_usec_total(&t.adjust) >= 3_600_000_000 - 1_000_000);
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert!(tv_usec_total(&t.now().unwrap()) > tv_usec_total(&held));
    }

    #[test]
    fn dates_and_ranges() {
        // SAFETY: all-zero is a valid struct tm.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        tm.tm_year = 124;
        tm.tm_mday = 1;
        let mut out = [0u8; 40];
        assert_eq!(date_rfc1123(&mut out, Some(&tm)), Some(29));
        assert_eq!(&out[..29], b"Sun, 01 Jan 2024 00:00:00 GMT");
        tm.tm_mon = 12;
        assert_eq!(date_rfc1123(&mut out, Some(&tm)), None);
    }
}

//! Public libevent functions this library does not implement yet.
//!
//! A program run with LD_PRELOAD must never reach the real libevent with
//! one of our objects, so each unfinished function is still exported here:
//! it logs a warning naming itself and returns libevent's failure value for
//! its return type (-1, NULL, or nothing). Their prototypes are left out of
//! our headers on purpose, so a program built against them fails to compile
//! instead of failing at run time. `scripts/check-binary` reads this file to
//! tell which functions a program needs are only stubs.
//!
//! Every in-scope function is implemented now, so the lists are empty; the
//! mechanism stays for the next function that cannot be finished at once.

use crate::log;

/// The one stub behind every unfinished function.
#[allow(dead_code)]
fn stub(name: &str) {
    log::warn(&format!("{name}: not implemented by bufferevent-rs yet"));
}

macro_rules! stubs {
    ($($ret:ty = $fail:expr => [$($name:ident),* $(,)?];)*) => {
        $($(
            #[unsafe(no_mangle)]
            pub extern "C" fn $name() -> $ret {
                stub(stringify!($name));
                $fail
            }
        )*)*
    };
}

// One name a line: scripts/check-binary and scripts/gen-compat read them.
stubs! {
    i32 = -1 => [
    ];
    *mut std::ffi::c_void = std::ptr::null_mut() => [
    ];
    () = () => [
    ];
}

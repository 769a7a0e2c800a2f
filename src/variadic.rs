//! The variadic entry points are written in C (`src/c/printf.c`), since
//! stable Rust cannot define them. Nothing in Rust calls them, so this
//! reference keeps the linker from leaving their object out of the
//! shared library (the version script in build.rs then exports them).

use std::ffi::{c_char, c_int, c_void};

unsafe extern "C" {
    fn evbuffer_add_printf(buf: *mut c_void, fmt: *const c_char, ...) -> c_int;
}

#[used]
static KEEP_C_ENTRIES: unsafe extern "C" fn(*mut c_void, *const c_char, ...) -> c_int =
    evbuffer_add_printf;

//! Builds the variadic C entry points, sets the shared library's soname, and
//! generates the C headers from `src/ffi/` into the build directory.

fn main() {
    println!("cargo:rerun-if-changed=src/c");
    cc::Build::new()
        .file("src/c/printf.c")
        .include("include")
        .warnings(true)
        .extra_warnings(true)
        .flag("-Werror")
        .compile("bufferevent_rs_c");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libbufferevent_rs.so.0");
}

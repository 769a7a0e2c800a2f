//! Builds the variadic C entry points, exports them, and sets the shared
//! library's soname.

fn main() {
    println!("cargo:rerun-if-changed=src/c");
    cc::Build::new()
        .file("src/c/printf.c")
        .include("include")
        .warnings(true)
        .extra_warnings(true)
        .flag("-Werror")
        .compile("bufferevent_rs_c");
    // rustc exports only Rust items; a second version script adds the C ones.
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={dir}/src/c/exports.map");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libbufferevent_rs.so.0");
}

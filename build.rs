//! Builds the variadic C entry points, exports them, sets the shared
//! library's soname, and generates the C headers into `$OUT_DIR/include`.

#[path = "cbindgen/generate.rs"]
mod generate;

use std::path::PathBuf;

fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));

    // The headers go to the build directory only; scripts/gen-headers copies
    // them into include/ and tests/headers.rs compares the two.
    for input in generate::INPUTS {
        println!("cargo:rerun-if-changed={input}");
    }
    if let Err(e) = generate::generate_all(dir.as_ref(), &out.join("include"), &out) {
        panic!("generating the C headers: {e}");
    }

    println!("cargo:rerun-if-changed=src/c");
    cc::Build::new()
        .file("src/c/printf.c")
        .include("include")
        .warnings(true)
        .extra_warnings(true)
        .flag("-Werror")
        .compile("bufferevent_rs_c");
    // rustc exports only Rust items; a second version script adds the C ones.
    println!("cargo:rustc-cdylib-link-arg=-Wl,--version-script={dir}/src/c/exports.map");
    println!("cargo:rustc-cdylib-link-arg=-Wl,-soname,libbufferevent_rs.so.0");
}

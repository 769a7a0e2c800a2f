//! Writes the public C headers: for each header, cbindgen's output for
//! `src/ffi/<module>.rs` with the hand-written parts `cbindgen/<header>.pre`
//! and `cbindgen/<header>.post` spliced around it.
//!
//! build.rs runs this into `$OUT_DIR/include` on every build, and
//! `scripts/gen-headers` copies that result into `include/` for committing;
//! `tests/headers.rs` fails when the two differ.
//!
//! Directives in the hand-written parts (lines starting with `//@`, never
//! written out):
//!
//! - `//@ extern-c`: what comes before stays outside the C++ `extern "C"`
//!   block (includes), what follows goes inside; the block closes after the
//!   `.post` part. A header without it gets no such block.
//! - `//@ unless NAME` ... `//@ end`: a provisional block, dropped as soon as
//!   the module defines NAME (a const, type or function).
//!
//! Besides, a hand-written one-line `#define NAME ...` is dropped when the
//! module defines a `pub const NAME`, so constants can move into Rust one set
//! at a time without a duplicate definition.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// One header: its path under `include/`, its guard, and the module of
/// `src/ffi` that supplies its generated part, if any.
pub struct Header {
    pub path: &'static str,
    pub guard: &'static str,
    pub module: Option<&'static str>,
}

const fn h(path: &'static str, guard: &'static str, module: Option<&'static str>) -> Header {
    Header {
        path,
        guard,
        module,
    }
}

/// Every header we install, in the reference's names.
pub const HEADERS: &[Header] = &[
    h(
        "event2/event-config.h",
        "EVENT2_EVENT_CONFIG_H_INCLUDED_",
        None,
    ),
    h("event2/visibility.h", "EVENT2_VISIBILITY_H_INCLUDED_", None),
    h("event2/util.h", "EVENT2_UTIL_H_INCLUDED_", Some("util")),
    h(
        "event2/keyvalq_struct.h",
        "EVENT2_KEYVALQ_STRUCT_H_INCLUDED_",
        None,
    ),
    h("event2/event.h", "EVENT2_EVENT_H_INCLUDED_", Some("event")),
    h(
        "event2/event_struct.h",
        "EVENT2_EVENT_STRUCT_H_INCLUDED_",
        Some("event_struct"),
    ),
    h(
        "event2/event_compat.h",
        "EVENT2_EVENT_COMPAT_H_INCLUDED_",
        Some("event_compat"),
    ),
    h(
        "event2/buffer.h",
        "EVENT2_BUFFER_H_INCLUDED_",
        Some("buffer"),
    ),
    h(
        "event2/buffer_compat.h",
        "EVENT2_BUFFER_COMPAT_H_INCLUDED_",
        Some("buffer_compat"),
    ),
    h(
        "event2/bufferevent.h",
        "EVENT2_BUFFEREVENT_H_INCLUDED_",
        Some("bufferevent"),
    ),
    h(
        "event2/bufferevent_struct.h",
        "EVENT2_BUFFEREVENT_STRUCT_H_INCLUDED_",
        Some("bufferevent_struct"),
    ),
    h(
        "event2/bufferevent_compat.h",
        "EVENT2_BUFFEREVENT_COMPAT_H_INCLUDED_",
        Some("bufferevent_compat"),
    ),
    h(
        "event2/bufferevent_ssl.h",
        "EVENT2_BUFFEREVENT_SSL_H_INCLUDED_",
        Some("bufferevent_ssl"),
    ),
    h(
        "event2/listener.h",
        "EVENT2_LISTENER_H_INCLUDED_",
        Some("listener"),
    ),
    h(
        "event2/thread.h",
        "EVENT2_THREAD_H_INCLUDED_",
        Some("thread"),
    ),
    h("event2/dns.h", "EVENT2_DNS_H_INCLUDED_", Some("dns")),
    h(
        "event2/dns_compat.h",
        "EVENT2_DNS_COMPAT_H_INCLUDED_",
        Some("dns_compat"),
    ),
    h(
        "event2/dns_struct.h",
        "EVENT2_DNS_STRUCT_H_INCLUDED_",
        Some("dns_struct"),
    ),
    h("event.h", "EVENT1_EVENT_H_INCLUDED_", None),
    h("evutil.h", "EVENT1_EVUTIL_H_INCLUDED_", None),
    h("evdns.h", "EVENT1_EVDNS_H_INCLUDED_", None),
];

/// Files whose change must rerun the generator, relative to the crate root.
pub const INPUTS: &[&str] = &["cbindgen", "cbindgen.toml", "src/ffi"];

/// A row of `cbindgen/names.tsv`.
struct Name {
    rust: String,
    kind: String,
    c: String,
    system: bool,
}

fn read_names(root: &Path) -> Result<Vec<Name>, String> {
    let path = root.join("cbindgen/names.tsv");
    let text = fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut names = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        if cols.len() < 3 || !["struct", "union", "enum", "typedef"].contains(&cols[1]) {
            return Err(format!("{}:{}: bad row", path.display(), n + 1));
        }
        names.push(Name {
            rust: cols[0].to_string(),
            kind: cols[1].to_string(),
            c: cols[2].to_string(),
            system: cols.get(3) == Some(&"system"),
        });
    }
    Ok(names)
}

/// What a module defines, found by reading its `pub` items line by line.
#[derive(Default)]
struct Defined {
    consts: BTreeSet<String>,
    types: BTreeSet<String>,
    fns: BTreeSet<String>,
    /// Types in source order, with their keyword (`struct`, `union`, ...).
    order: Vec<(String, String)>,
}

impl Defined {
    fn has(&self, name: &str) -> bool {
        self.consts.contains(name) || self.types.contains(name) || self.fns.contains(name)
    }
}

fn ident(s: &str) -> String {
    s.chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
        .collect()
}

fn scan(source: &str) -> Defined {
    let mut d = Defined::default();
    for line in source.lines() {
        let line = line.trim_start();
        let Some(rest) = line.strip_prefix("pub ") else {
            continue;
        };
        if let Some(r) = rest.strip_prefix("const ") {
            d.consts.insert(ident(r));
        } else if let Some(i) = rest.find("fn ").filter(|_| rest.contains("extern \"C\"")) {
            d.fns.insert(ident(&rest[i + 3..]));
        } else {
            for kw in ["struct ", "union ", "enum ", "type "] {
                if let Some(r) = rest.strip_prefix(kw) {
                    d.types.insert(ident(r));
                    d.order.push((kw.trim().to_string(), ident(r)));
                }
            }
        }
    }
    d
}

/// Applies the directives of a hand-written part; returns the text before
/// and after `//@ extern-c` (the first is None when there is no such line).
fn splice(text: &str, defined: &Defined, file: &Path) -> Result<(Option<String>, String), String> {
    let mut outside = None;
    let mut out = String::new();
    let mut skipping: Option<String> = None;
    for (n, line) in text.lines().enumerate() {
        let at = || format!("{}:{}", file.display(), n + 1);
        if let Some(d) = line.strip_prefix("//@") {
            let d = d.trim();
            if d == "extern-c" {
                outside = Some(std::mem::take(&mut out));
            } else if let Some(name) = d.strip_prefix("unless ") {
                if skipping.is_none() && defined.has(name.trim()) {
                    skipping = Some(name.trim().to_string());
                }
            } else if d == "end" {
                skipping = None;
            } else {
                return Err(format!("{}: unknown directive //@{d}", at()));
            }
            continue;
        }
        if skipping.is_some() {
            continue;
        }
        if let Some(r) = line.strip_prefix("#define ")
            && defined.consts.contains(&ident(r))
        {
            continue;
        }
        out.push_str(line);
        out.push('\n');
    }
    Ok((outside, out))
}

fn read_part(root: &Path, header: &str, suffix: &str) -> Result<(PathBuf, String), String> {
    let path = root.join("cbindgen").join(format!("{header}.{suffix}"));
    match fs::read_to_string(&path) {
        Ok(text) => Ok((path, text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok((path, String::new())),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

/// Produces the text of one header.
fn generate_one(root: &Path, scratch: &Path, header: &Header) -> Result<String, String> {
    let names = read_names(root)?;
    let module_path = header
        .module
        .map(|m| root.join("src/ffi").join(format!("{m}.rs")))
        .filter(|p| p.exists());
    let (src, source) = match &module_path {
        Some(p) => (
            p.clone(),
            fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()))?,
        ),
        None => {
            let empty = scratch.join("empty.rs");
            fs::write(&empty, "").map_err(|e| format!("{}: {e}", empty.display()))?;
            (empty, String::new())
        }
    };
    let defined = scan(&source);

    let mut config = cbindgen::Config::from_file(root.join("cbindgen.toml"))?;
    // cbindgen writes its trailer after the guard's #endif, so the guard is
    // written here, around everything including the extern "C" block.
    config.include_guard = None;
    for n in &names {
        let local = defined.types.contains(&n.rust);
        let to = if n.system || !local {
            if n.kind == "typedef" {
                n.c.clone()
            } else {
                format!("{} {}", n.kind, n.c)
            }
        } else {
            n.c.clone()
        };
        if to != n.rust {
            config.export.rename.insert(n.rust.clone(), to);
        }
        if n.system && local {
            config.export.exclude.push(n.rust.clone());
        }
    }
    // cbindgen emits only types that functions reach, and a struct header has
    // none, so every type of the module is listed. cbindgen orders types by
    // a depth-first walk from these roots that also follows pointers, which
    // breaks cycles (event -> callback -> `struct event *`) at the first root:
    // walking from the last-defined type first keeps by-value members ahead
    // of their containers when the module defines a type before using it.
    config.export.include = defined.order.iter().rev().map(|(_, n)| n.clone()).collect();

    // Forward declarations, so that a pointer to a struct in a prototype or a
    // function pointer type never declares the tag inside a parameter list.
    let mut forward = BTreeSet::new();
    for (kw, name) in &defined.order {
        if kw == "struct" || kw == "union" {
            let c = names
                .iter()
                .find(|n| &n.rust == name)
                .map_or(name.as_str(), |n| &n.c);
            forward.insert(format!("{kw} {c};"));
        }
    }
    for n in &names {
        let used = source
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .any(|w| w == n.rust);
        if used && !n.system && (n.kind == "struct" || n.kind == "union") {
            forward.insert(format!("{} {};", n.kind, n.c));
        }
    }

    let sources = match module_path {
        Some(_) => format!("src/ffi/{}.rs and ", header.module.unwrap_or_default()),
        None => String::new(),
    };
    let banner = fs::read_to_string(root.join("cbindgen/banner.txt"))
        .map_err(|e| format!("cbindgen/banner.txt: {e}"))?;
    config.header = Some(
        banner.trim_end().replace("@HEADER@", header.path).replace(
            "@SOURCES@",
            &format!("{sources}cbindgen/{}.pre/.post", header.path),
        ) + &format!("\n\n#ifndef {0}\n#define {0}", header.guard),
    );

    let (pre_path, pre) = read_part(root, header.path, "pre")?;
    let (post_path, post) = read_part(root, header.path, "post")?;
    let (outside, inside) = splice(&pre, &defined, &pre_path)?;
    let (_, after) = splice(&post, &defined, &post_path)?;
    let extern_c = outside.is_some();
    let mut after_includes = String::new();
    if let Some(outside) = outside {
        after_includes.push_str(outside.trim_end());
        after_includes.push_str("\n\n#ifdef __cplusplus\nextern \"C\" {\n#endif\n");
    }
    // A declaration the hand-written part already makes is not repeated.
    forward.retain(|f| !inside.lines().any(|l| l.trim() == f));
    if !forward.is_empty() {
        after_includes.push('\n');
        for f in &forward {
            after_includes.push_str(f);
            after_includes.push('\n');
        }
    }
    after_includes.push('\n');
    after_includes.push_str(inside.trim());
    config.after_includes = Some(after_includes.trim_start().to_string());
    let mut trailer = after.trim().to_string();
    if extern_c {
        trailer.push_str("\n\n#ifdef __cplusplus\n}\n#endif");
    }
    trailer.push_str(&format!("\n\n#endif /* {} */", header.guard));
    config.trailer = Some(trailer.trim_start().to_string());

    let bindings = cbindgen::Builder::new()
        .with_config(config)
        .with_src(&src)
        .generate()
        .map_err(|e| format!("cbindgen on {}: {e}", src.display()))?;
    let mut text = Vec::new();
    bindings.write(&mut text);
    String::from_utf8(text).map_err(|e| e.to_string())
}

/// Generates every header under `out` (mirroring `include/`); `scratch` is
/// a directory for temporary files. Returns the paths written.
pub fn generate_all(root: &Path, out: &Path, scratch: &Path) -> Result<Vec<PathBuf>, String> {
    let mut written = Vec::new();
    for header in HEADERS {
        let text = generate_one(root, scratch, header)?;
        let path = out.join(header.path);
        if let Some(dir) = path.parent() {
            fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        // Leave an unchanged file alone so its timestamp does not move.
        if fs::read_to_string(&path).ok().as_deref() != Some(text.as_str()) {
            fs::write(&path, &text).map_err(|e| format!("{}: {e}", path.display()))?;
        }
        written.push(path);
    }
    Ok(written)
}

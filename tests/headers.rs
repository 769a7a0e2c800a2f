//! Checks of the C headers in `include/`: that they are what the generator
//! produces now, that each compiles alone as C and C++, that they define the
//! reference's macros with the same values, and that the public structs have
//! the reference's layout.
//!
//! The reference is the libevent 2.1.12 installed in /usr/include/event2;
//! checks that need it, or a compiler, say so and pass when it is missing.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Where build.rs wrote the headers of this build.
const GENERATED: &str = concat!(env!("OUT_DIR"), "/include");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
const REFERENCE: &str = "/usr/include";
const LAYOUT: &str = "/work/shared/reference/libevent-2.1.12-x86_64-layout.tsv";

/// The reference headers in scope, under `event2/`.
const IN_SCOPE: &[&str] = &[
    "event.h",
    "event_struct.h",
    "event_compat.h",
    "buffer.h",
    "buffer_compat.h",
    "bufferevent.h",
    "bufferevent_struct.h",
    "bufferevent_compat.h",
    "bufferevent_ssl.h",
    "listener.h",
    "thread.h",
    "util.h",
    "dns.h",
    "dns_compat.h",
    "dns_struct.h",
    "visibility.h",
    "event-config.h",
    "keyvalq_struct.h",
];

fn committed() -> PathBuf {
    Path::new(ROOT).join("include")
}

/// Every `.h` under `dir`, as paths relative to it.
fn headers_under(dir: &Path) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|e| e == "h") {
                let rel = p.strip_prefix(dir).unwrap().to_string_lossy().into_owned();
                found.insert(rel);
            }
        }
    }
    found
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "bufferevent-rs-headers-{}-{name}",
        std::process::id()
    ));
    fs::create_dir_all(&dir).unwrap();
    dir
}

fn have(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Runs a command; returns its stdout, or its stderr as the error.
fn run(cmd: &mut Command) -> Result<String, String> {
    let out = cmd.output().map_err(|e| format!("{cmd:?}: {e}"))?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(format!(
            "{cmd:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

#[test]
fn committed_headers_are_generated_ones() {
    let generated = headers_under(Path::new(GENERATED));
    let ours = headers_under(&committed());
    assert!(
        !generated.is_empty(),
        "build.rs wrote no header into {GENERATED}"
    );
    let mut problems = Vec::new();
    for h in &generated {
        let want = fs::read_to_string(Path::new(GENERATED).join(h)).unwrap();
        match fs::read_to_string(committed().join(h)) {
            Err(_) => problems.push(format!("include/{h} is missing")),
            Ok(have) if have != want => {
                let line = have.lines().zip(want.lines()).position(|(a, b)| a != b);
                let line = line.unwrap_or_else(|| have.lines().count().min(want.lines().count()));
                problems.push(format!(
                    "include/{h} differs from the generated one from line {}:\n  committed: {:?}\n  generated: {:?}\n  (diff -u include/{h} {GENERATED}/{h})",
                    line + 1,
                    have.lines().nth(line).unwrap_or("<end of file>"),
                    want.lines().nth(line).unwrap_or("<end of file>"),
                ));
            }
            Ok(_) => {}
        }
    }
    for h in ours.difference(&generated) {
        problems.push(format!("include/{h} is not generated any more"));
    }
    assert!(
        problems.is_empty(),
        "the committed headers are stale; run scripts/gen-headers and commit include/:\n{}",
        problems.join("\n")
    );
}

#[test]
fn each_header_compiles_alone() {
    let dir = scratch("alone");
    let mut compilers = vec![
        ("gcc", "c", vec!["-std=c99", "-Wpedantic"]),
        ("gcc", "c", vec!["-std=c11", "-Wpedantic"]),
    ];
    if have("g++") {
        compilers.push(("g++", "cc", vec!["-std=c++11"]));
        compilers.push(("g++", "cc", vec!["-std=c++17"]));
    } else {
        eprintln!("SKIP: no g++, the headers are not compiled as C++11/C++17");
    }
    if !have("gcc") {
        eprintln!("SKIP: no gcc, the headers are not compiled");
        return;
    }
    let mut failures = Vec::new();
    for h in headers_under(&committed()) {
        for (cc, ext, flags) in &compilers {
            let src = dir.join(format!("alone.{ext}"));
            fs::write(
                &src,
                format!("#include <{h}>\nint main(void) {{ return 0; }}\n"),
            )
            .unwrap();
            let result = run(Command::new(cc)
                .args(flags)
                .args(["-Wall", "-Wextra", "-Werror", "-fsyntax-only", "-I"])
                .arg(committed())
                .arg(&src));
            if let Err(e) = result {
                failures.push(format!("{h} with {cc} {}:\n{e}", flags.join(" ")));
            }
        }
    }
    let _ = fs::remove_dir_all(&dir);
    assert!(
        failures.is_empty(),
        "{} failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Object-like macros a header's own text defines.
fn own_object_macros(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let Some(rest) = line.trim_start().strip_prefix('#') else {
            continue;
        };
        let Some(rest) = rest.trim_start().strip_prefix("define") else {
            continue;
        };
        if !rest.starts_with([' ', '\t']) {
            continue;
        }
        let rest = rest.trim_start();
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        if !name.is_empty() && !rest[name.len()..].starts_with('(') {
            names.insert(name);
        }
    }
    names
}

/// The macros defined after including `header` from `include`, by name.
fn defined_macros(
    include: &Path,
    header: &str,
    dir: &Path,
) -> Result<BTreeMap<String, String>, String> {
    let src = dir.join("macros.c");
    fs::write(&src, format!("#include <{header}>\n")).unwrap();
    let out = run(Command::new("gcc")
        .args(["-dM", "-E", "-I"])
        .arg(include)
        .arg(&src))?;
    let mut macros = BTreeMap::new();
    for line in out.lines() {
        let Some(rest) = line.strip_prefix("#define ") else {
            continue;
        };
        let name: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        macros.insert(name.clone(), rest[name.len()..].trim().to_string());
    }
    Ok(macros)
}

/// The full expansion of each name after including `header`, then every
/// header in scope (a compat header may name constants it does not include).
fn expansions(
    include: &Path,
    header: &str,
    names: &[String],
    dir: &Path,
) -> Result<BTreeMap<String, String>, String> {
    let src = dir.join("expand.c");
    let mut text = format!("#include <{header}>\n");
    for h in IN_SCOPE {
        text.push_str(&format!("#include <event2/{h}>\n"));
    }
    for n in names {
        // The name is quoted so that it is not expanded itself.
        text.push_str(&format!("@@\"{n}\" {n}\n"));
    }
    fs::write(&src, text).unwrap();
    let out = run(Command::new("gcc")
        .args(["-E", "-P", "-I"])
        .arg(include)
        .arg(&src))?;
    let mut map = BTreeMap::new();
    for line in out.lines() {
        if let Some(rest) = line.strip_prefix("@@\"")
            && let Some((name, value)) = rest.split_once('"')
        {
            let value: String = value.split_whitespace().collect::<Vec<_>>().join(" ");
            map.insert(name.to_string(), value);
        }
    }
    Ok(map)
}

/// Feature-test macros the reference's event-config.h sets for its own
/// build; a public header must not set them for programs.
const NOT_OURS: &[&str] = &[
    "STDC_HEADERS",
    "_ALL_SOURCE",
    "_DARWIN_C_SOURCE",
    "__EXTENSIONS__",
    "_GNU_SOURCE",
    "_HPUX_ALT_XOPEN_SOCKET_API",
    "_NETBSD_SOURCE",
    "_OPENBSD_SOURCE",
    "_POSIX_PTHREAD_SEMANTICS",
    "__STDC_WANT_IEC_60559_ATTRIBS_EXT__",
    "__STDC_WANT_IEC_60559_BFP_EXT__",
    "__STDC_WANT_IEC_60559_DFP_EXT__",
    "__STDC_WANT_IEC_60559_FUNCS_EXT__",
    "__STDC_WANT_IEC_60559_TYPES_EXT__",
    "__STDC_WANT_LIB_EXT2__",
    "__STDC_WANT_MATH_SPEC_FUNCS__",
    "_TANDEM_SOURCE",
];

#[test]
fn macros_match_reference() {
    if !Path::new(REFERENCE).join("event2/event.h").exists() || !have("gcc") {
        eprintln!("SKIP: no reference headers in {REFERENCE}/event2 or no gcc");
        return;
    }
    let dir = scratch("macros");
    let mut failures = Vec::new();
    for h in IN_SCOPE {
        let header = format!("event2/{h}");
        let text = fs::read_to_string(Path::new(REFERENCE).join(&header)).unwrap();
        let theirs = defined_macros(Path::new(REFERENCE), &header, &dir).unwrap();
        let ours = match defined_macros(&committed(), &header, &dir) {
            Ok(m) => m,
            Err(e) => {
                failures.push(format!("{header}: does not preprocess: {e}"));
                continue;
            }
        };
        // Names this header defines on this platform, guards included.
        let names: Vec<String> = own_object_macros(&text)
            .into_iter()
            .filter(|n| theirs.contains_key(n) && !NOT_OURS.contains(&n.as_str()))
            .collect();
        let missing: Vec<&String> = names.iter().filter(|n| !ours.contains_key(*n)).collect();
        if !missing.is_empty() {
            failures.push(format!("{header}: missing {missing:?}"));
        }
        let present: Vec<String> = names
            .iter()
            .filter(|n| ours.contains_key(*n))
            .cloned()
            .collect();
        let want = expansions(Path::new(REFERENCE), &header, &present, &dir).unwrap();
        let have = expansions(&committed(), &header, &present, &dir).unwrap();
        // Values that differ in spelling are compared by the preprocessor.
        let mut check = String::new();
        for n in &present {
            let (w, h) = (&want[n], &have[n]);
            if w == h {
                continue;
            }
            if w.is_empty() || h.is_empty() || w.contains('"') || h.contains('"') {
                failures.push(format!("{header}: {n} is `{h}`, the reference's `{w}`"));
                continue;
            }
            check.push_str(&format!(
                "#if !(({h}) == ({w}))\n#error \"{n}: ours `{}` but reference `{}`\"\n#endif\n",
                h.replace('"', "'"),
                w.replace('"', "'")
            ));
        }
        if !check.is_empty() {
            let src = dir.join("values.c");
            fs::write(&src, check).unwrap();
            if let Err(e) = run(Command::new("gcc")
                .args(["-E", "-o", "/dev/null"])
                .arg(&src))
            {
                let errors: Vec<&str> = e
                    .lines()
                    .filter(|l| l.contains("#error") || l.contains("error:"))
                    .collect();
                failures.push(format!(
                    "{header}: values differ:\n  {}",
                    errors.join("\n  ")
                ));
            }
        }
        report_missing_functions(h, &text);
    }
    let _ = fs::remove_dir_all(&dir);
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Names declared after EVENT2_EXPORT_SYMBOL in a header's text.
fn exported_functions(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for piece in text.split("EVENT2_EXPORT_SYMBOL").skip(1) {
        let Some(open) = piece.find('(') else {
            continue;
        };
        let before = &piece[..open];
        if before.contains(';') || before.contains('#') {
            continue;
        }
        let name: String = before
            .trim_end()
            .chars()
            .rev()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        // Skip the compiler keywords of visibility.h's own definitions.
        if !name.is_empty() && !name.starts_with("__") {
            names.insert(name);
        }
    }
    names
}

/// Prototypes come from the ffi modules as they are written: the ones still
/// absent are listed, not failed.
fn report_missing_functions(h: &str, reference_text: &str) {
    let ours = fs::read_to_string(committed().join("event2").join(h)).unwrap_or_default();
    let ours = exported_functions(&ours);
    let missing: Vec<String> = exported_functions(reference_text)
        .difference(&ours)
        .cloned()
        .collect();
    if !missing.is_empty() {
        eprintln!(
            "event2/{h}: {} prototypes not written yet: {}",
            missing.len(),
            missing.join(" ")
        );
    }
}

#[test]
fn layout_matches_reference_table() {
    let Ok(table) = fs::read_to_string(LAYOUT) else {
        eprintln!("SKIP: no layout table at {LAYOUT}");
        return;
    };
    if !have("gcc") {
        eprintln!("SKIP: no gcc");
        return;
    }
    let mut program = String::from(
        "#include <stdio.h>\n#include <stddef.h>\n#include <event2/event.h>\n\
         #include <event2/event_struct.h>\n#include <event2/buffer.h>\n\
         #include <event2/bufferevent.h>\n#include <event2/bufferevent_struct.h>\n\
         int main(void)\n{\n",
    );
    let mut want = String::new();
    for row in table.lines() {
        let cols: Vec<&str> = row.split('\t').collect();
        match cols.as_slice() {
            ["offsetof", what, value] => {
                let (ty, field) = what.split_once('.').unwrap();
                program.push_str(&format!(
                    "\tprintf(\"offsetof\\t{what}\\t%zu\\n\", offsetof({ty}, {field}));\n"
                ));
                want.push_str(&format!("offsetof\t{what}\t{value}\n"));
            }
            ["sizeof", ty, value] => {
                program.push_str(&format!(
                    "\tprintf(\"sizeof\\t{ty}\\t%zu\\n\", sizeof({ty}));\n"
                ));
                want.push_str(&format!("sizeof\t{ty}\t{value}\n"));
            }
            ["LIBEVENT_VERSION_NUMBER", number, text] => {
                program.push_str(
                    "\tprintf(\"LIBEVENT_VERSION_NUMBER\\t0x%08x\\t%s\\n\", \
                     (unsigned)LIBEVENT_VERSION_NUMBER, LIBEVENT_VERSION);\n",
                );
                want.push_str(&format!("LIBEVENT_VERSION_NUMBER\t{number}\t{text}\n"));
            }
            ["event_get_struct_event_size", _] => {
                // A call into the library; the C tests check it at run time.
            }
            _ => panic!("unknown row in {LAYOUT}: {row:?}"),
        }
    }
    program.push_str("\treturn 0;\n}\n");
    let dir = scratch("layout");
    let src = dir.join("layout.c");
    let exe = dir.join("layout");
    fs::write(&src, program).unwrap();
    let built = run(Command::new("gcc")
        .args(["-std=c11", "-Wall", "-Werror", "-I"])
        .arg(committed())
        .arg(&src)
        .arg("-o")
        .arg(&exe));
    if let Err(e) = built {
        panic!("the layout program does not build against include/:\n{e}");
    }
    let have = run(&mut Command::new(&exe)).unwrap();
    let _ = fs::remove_dir_all(&dir);
    let wrong: Vec<String> = want
        .lines()
        .zip(have.lines())
        .filter(|(w, h)| w != h)
        .map(|(w, h)| format!("  want {w:?}\n  have {h:?}"))
        .collect();
    assert!(
        wrong.is_empty(),
        "layout differs from {LAYOUT}:\n{}",
        wrong.join("\n")
    );
}

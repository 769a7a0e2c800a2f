//! Property tests of the evbuffer calls that look into bytes a peer sent:
//! `evbuffer_readln` in every end-of-line style, `evbuffer_search`,
//! `evbuffer_search_range` and `evbuffer_search_eol`. Each is driven
//! through its C entry point on input cut into chunks at arbitrary points
//! and compared with a plain model over one `Vec<u8>`, written from the
//! rules in buffer.h.
//!
//! `cargo test` runs few cases; `PROPTEST_CASES=<n>` runs more (see
//! scripts/fuzz). Failures proptest finds are kept under
//! proptest-regressions/ and replayed first; inputs worth keeping by hand
//! live in tests/corpus/readln/ and are replayed by `readln_corpus`.

use std::ffi::{c_int, c_void};
use std::path::PathBuf;

use proptest::prelude::*;

use super::Buffer;
use crate::ffi::buffer::*;

/// The five `enum evbuffer_eol_style` values, in order.
const STYLES: [c_int; 5] = [0, 1, 2, 3, 4];

/// Cases per property: PROPTEST_CASES when set, else `quick`.
pub(crate) fn cases(quick: u32) -> ProptestConfig {
    let mut cfg = ProptestConfig::default();
    if std::env::var_os("PROPTEST_CASES").is_none() {
        cfg.cases = quick;
    }
    cfg
}

/// Where a style says the first line of `data` ends: (length of the line,
/// length of its end), or None without a complete line.
fn model_eol(data: &[u8], style: c_int) -> Option<(usize, usize)> {
    let is_end = |b: &u8| *b == b'\r' || *b == b'\n';
    match style {
        // The first CR or LF starts the end, which is the whole run of them.
        0 => {
            let p = data.iter().position(is_end)?;
            Some((p, data[p..].iter().take_while(|b| is_end(b)).count()))
        }
        // An LF, taking a CR just before it along.
        1 => {
            let p = data.iter().position(|&b| b == b'\n')?;
            if p > 0 && data[p - 1] == b'\r' {
                Some((p - 1, 2))
            } else {
                Some((p, 1))
            }
        }
        // The two bytes CR LF.
        2 => data.windows(2).position(|w| w == b"\r\n").map(|p| (p, 2)),
        3 => data.iter().position(|&b| b == b'\n').map(|p| (p, 1)),
        4 => data.iter().position(|&b| b == 0).map(|p| (p, 1)),
        _ => None,
    }
}

/// The first match of `what` at or after `start` ending at or before `end`.
fn model_search(hay: &[u8], what: &[u8], start: usize, end: usize) -> Option<usize> {
    if start > hay.len() {
        return None;
    }
    if what.is_empty() {
        return Some(start);
    }
    let end = end.min(hay.len());
    (start..hay.len())
        .find(|&p| hay[p..].starts_with(what))
        .filter(|&p| p + what.len() <= end)
}

/// An evbuffer through its C handle, freed on drop.
struct Evb(*mut Buffer);

impl Evb {
    fn new() -> Evb {
        // SAFETY: evbuffer_new takes no argument.
        Evb(unsafe { evbuffer_new() })
    }

    /// Appends `parts`, each as its own chunk (moved in from a scratch
    /// buffer, so never merged with what is there), or copied onto the end
    /// as `evbuffer_add` does when `merge`.
    fn arrive(&self, parts: &[Vec<u8>], merge: bool) {
        for p in parts {
            if merge {
                // SAFETY: live handle; p is readable for its length.
                let r = unsafe { evbuffer_add(self.0, p.as_ptr().cast(), p.len()) };
                assert_eq!(r, 0);
            } else {
                let t = Evb::new();
                // SAFETY: live handles; p is readable for its length.
                let r = unsafe { evbuffer_add(t.0, p.as_ptr().cast(), p.len()) };
                assert_eq!(r, 0);
                // SAFETY: live handles.
                assert_eq!(unsafe { evbuffer_add_buffer(self.0, t.0) }, 0);
            }
        }
    }

    fn len(&self) -> usize {
        // SAFETY: live handle.
        unsafe { evbuffer_get_length(self.0) }
    }

    fn contents(&self) -> Vec<u8> {
        let mut out = vec![0u8; self.len()];
        // SAFETY: live handle; out is writable for its length.
        let n = unsafe { evbuffer_copyout(self.0, out.as_mut_ptr().cast(), out.len()) };
        assert_eq!(n, out.len() as isize);
        out
    }

    /// `evbuffer_readln`, checking the C contract of its answer: the line,
    /// NUL-terminated, with its length in *n_read_out (0 when none).
    fn readln(&self, style: c_int) -> Option<Vec<u8>> {
        let mut n = usize::MAX;
        // SAFETY: live handle; n is writable.
        let p = unsafe { evbuffer_readln(self.0, &mut n, style) };
        if p.is_null() {
            assert_eq!(n, 0, "n_read_out without a line");
            return None;
        }
        // SAFETY: a returned line holds n bytes and a NUL after them.
        let line = unsafe { std::slice::from_raw_parts(p.cast::<u8>(), n + 1) }.to_vec();
        // SAFETY: the line came from malloc and is ours to free.
        unsafe { libc::free(p.cast::<c_void>()) };
        assert_eq!(line[n], 0, "line not NUL-terminated");
        Some(line[..n].to_vec())
    }

    /// A pointer at `pos` made with `evbuffer_ptr_set`; None when it
    /// refuses (past the end), which it must exactly then.
    fn ptr(&self, pos: usize, split: Option<usize>) -> Option<evbuffer_ptr> {
        let mut p = evbuffer_ptr {
            pos: 0,
            internal_: evbuffer_ptr_internal {
                chain: std::ptr::null_mut(),
                pos_in_chain: 0,
            },
        };
        // Reach pos in one step, or in two with EVBUFFER_PTR_ADD.
        let first = split.map_or(pos, |s| s.min(pos));
        // SAFETY: live handle; p is writable.
        let r = unsafe { evbuffer_ptr_set(self.0, &mut p, first, EVBUFFER_PTR_SET) };
        let mut ok = r == 0;
        if ok && first < pos {
            // SAFETY: as above.
            let r = unsafe { evbuffer_ptr_set(self.0, &mut p, pos - first, EVBUFFER_PTR_ADD) };
            ok = r == 0;
        }
        assert_eq!(ok, pos <= self.len(), "evbuffer_ptr_set to {pos}");
        if ok {
            assert_eq!(p.pos, pos as isize);
            Some(p)
        } else {
            assert_eq!(p.pos, -1, "a refused pointer says -1");
            None
        }
    }
}

impl Drop for Evb {
    fn drop(&mut self) {
        // SAFETY: the handle is live and freed once, here.
        unsafe { evbuffer_free(self.0) };
    }
}

/// Reads every complete line there is in `style`, checking each against
/// the model, which it keeps in step.
fn read_all(buf: &Evb, model: &mut Vec<u8>, style: c_int) -> Vec<Vec<u8>> {
    let mut lines = Vec::new();
    loop {
        let want = model_eol(model, style);
        let got = buf.readln(style);
        match (want, got) {
            (None, None) => break,
            (Some((n, eol)), Some(line)) => {
                assert_eq!(line, model[..n], "style {style}: wrong line");
                model.drain(..n + eol);
                lines.push(line);
            }
            (want, got) => panic!("style {style}: model says {want:?}, readln gave {got:?}"),
        }
        assert_eq!(
            buf.len(),
            model.len(),
            "style {style}: wrong amount consumed"
        );
    }
    assert_eq!(buf.contents(), *model);
    lines
}

/// Cuts `data` at the given points (taken modulo its length, in order).
fn split(data: &[u8], cuts: &[usize]) -> Vec<Vec<u8>> {
    let mut at: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
    at.sort_unstable();
    at.push(data.len());
    let mut out = Vec::new();
    let mut from = 0;
    for to in at {
        if to > from {
            out.push(data[from..to].to_vec());
            from = to;
        }
    }
    out
}

/// Bytes where line ends are common: mostly letters, CR, LF and NUL.
fn liney() -> impl Strategy<Value = Vec<u8>> {
    let byte = prop_oneof![
        4 => Just(b'a'),
        1 => Just(b'b'),
        3 => Just(b'\r'),
        3 => Just(b'\n'),
        1 => Just(0u8),
        1 => any::<u8>(),
    ];
    prop::collection::vec(byte, 0..96)
}

/// One step of a reader's life.
#[derive(Debug, Clone)]
enum Op {
    /// Bytes arrive, cut into chunks, or copied onto the end.
    Arrive(Vec<Vec<u8>>, bool),
    Readln(c_int),
    Drain(usize),
    Prepend(Vec<u8>),
    /// `evbuffer_pullup` of this many bytes (reshapes, changes nothing).
    Pullup(usize),
    /// `evbuffer_remove_buffer` of this many bytes into a scratch buffer.
    Remove(usize),
    /// The whole buffer goes to a scratch buffer and comes back.
    RoundTrip,
    /// The program writes a byte (at a position modulo the length) through
    /// the pointer `evbuffer_pullup(buf, -1)` gave it.
    Poke(usize, u8),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        5 => (liney(), prop::collection::vec(any::<usize>(), 0..4), any::<bool>())
            .prop_map(|(d, cuts, merge)| Op::Arrive(split(&d, &cuts), merge)),
        6 => (0..5 as c_int).prop_map(Op::Readln),
        1 => (0..40usize).prop_map(Op::Drain),
        1 => prop::collection::vec(prop_oneof![Just(b'\r'), Just(b'\n'), Just(b'x')], 1..4)
            .prop_map(Op::Prepend),
        1 => (0..64usize).prop_map(Op::Pullup),
        1 => (0..40usize).prop_map(Op::Remove),
        1 => Just(Op::RoundTrip),
        1 => (any::<usize>(), prop_oneof![Just(b'\r'), Just(b'\n'), Just(0u8)])
            .prop_map(|(at, b)| Op::Poke(at, b)),
    ]
}

fn run_ops(ops: &[Op]) {
    let buf = Evb::new();
    let mut model = Vec::new();
    for op in ops {
        match op {
            Op::Arrive(parts, merge) => {
                buf.arrive(parts, *merge);
                model.extend(parts.iter().flatten());
            }
            Op::Readln(style) => {
                let want = model_eol(&model, *style);
                let got = buf.readln(*style);
                match (want, got) {
                    (None, None) => {}
                    (Some((n, eol)), Some(line)) => {
                        assert_eq!(line, model[..n]);
                        model.drain(..n + eol);
                    }
                    (w, g) => panic!("style {style}: model {w:?}, readln {g:?}"),
                }
            }
            Op::Drain(n) => {
                // SAFETY: live handle.
                assert_eq!(unsafe { evbuffer_drain(buf.0, *n) }, 0);
                model.drain(..(*n).min(model.len()));
            }
            Op::Prepend(d) => {
                // SAFETY: live handle; d is readable for its length.
                let got = unsafe { evbuffer_prepend(buf.0, d.as_ptr().cast(), d.len()) };
                assert_eq!(got, 0);
                model.splice(0..0, d.iter().copied());
            }
            Op::Pullup(n) => {
                // SAFETY: live handle.
                let p = unsafe { evbuffer_pullup(buf.0, *n as isize) };
                assert_eq!(p.is_null(), *n == 0 || *n > model.len());
            }
            Op::Remove(n) => {
                let t = Evb::new();
                // SAFETY: live handles.
                let got = unsafe { evbuffer_remove_buffer(buf.0, t.0, *n) };
                let k = (*n).min(model.len());
                assert_eq!(got, k as c_int);
                assert_eq!(t.contents(), model[..k]);
                model.drain(..k);
            }
            Op::Poke(at, b) => {
                if !model.is_empty() {
                    let at = at % model.len();
                    // SAFETY: live handle.
                    let p = unsafe { evbuffer_pullup(buf.0, -1) };
                    assert!(!p.is_null());
                    // SAFETY: pullup made all model.len() bytes contiguous at p.
                    unsafe { p.add(at).write(*b) };
                    model[at] = *b;
                }
            }
            Op::RoundTrip => {
                let t = Evb::new();
                // SAFETY: live handles.
                assert_eq!(unsafe { evbuffer_add_buffer(t.0, buf.0) }, 0);
                // SAFETY: live handles.
                assert_eq!(unsafe { evbuffer_add_buffer(buf.0, t.0) }, 0);
            }
        }
        assert_eq!(buf.len(), model.len(), "after {op:?}");
    }
    assert_eq!(buf.contents(), model);
}

/// Replays `data` arriving in `parts` with a read of every complete line
/// after each arrival, as a network reader does.
fn replay(parts: &[Vec<u8>], style: c_int, merge: bool) -> Vec<Vec<u8>> {
    let buf = Evb::new();
    let mut model = Vec::new();
    let mut lines = Vec::new();
    for p in parts {
        buf.arrive(std::slice::from_ref(p), merge);
        model.extend_from_slice(p);
        lines.extend(read_all(&buf, &mut model, style));
    }
    lines
}

proptest! {
    #![proptest_config(cases(256))]

    /// However the input is cut, a reader that reads after each arrival
    /// gets the model's lines, and the same lines as one that gets it whole.
    #[test]
    fn readln_matches_model_over_split_input(
        data in liney(),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
        style in 0..5 as c_int,
        merge in any::<bool>(),
    ) {
        let parts = split(&data, &cuts);
        let piecewise = replay(&parts, style, merge);
        let whole = replay(std::slice::from_ref(&data), style, false);
        // Only EOL_ANY may end a line early where a CR waits for its LF
        // (BUF-6), so its lines may differ between the two.
        if style != 0 {
            prop_assert_eq!(piecewise, whole);
        }
    }

    /// readln stays right whatever else happens to the buffer between
    /// reads: draining, prepending, reshaping, moving data out and back.
    #[test]
    fn readln_matches_model_between_other_changes(
        ops in prop::collection::vec(op(), 0..40),
    ) {
        run_ops(&ops);
    }

    /// search, search_range and search_eol agree with the model from any
    /// start (reached with PTR_SET or PTR_ADD), to any end, on any chunking.
    #[test]
    fn search_matches_model(
        hay in prop::collection::vec(
            prop_oneof![Just(b'a'), Just(b'b'), Just(b'\r'), Just(b'\n')], 0..80),
        cuts in prop::collection::vec(any::<usize>(), 0..8),
        needle_from in any::<usize>(),
        needle_len in 0..6usize,
        junk_needle in prop::option::of(prop::collection::vec(any::<u8>(), 0..4)),
        start in 0..90usize,
        end in prop::option::of(0..90usize),
        step in prop::option::of(0..90usize),
        style in 0..5 as c_int,
    ) {
        let buf = Evb::new();
        buf.arrive(&split(&hay, &cuts), false);
        // Mostly a piece of the haystack, so that there is something to find.
        let needle = junk_needle.unwrap_or_else(|| {
            let from = needle_from % (hay.len() + 1);
            hay[from..(from + needle_len).min(hay.len())].to_vec()
        });
        let start_ptr = buf.ptr(start, step);
        let end_ptr = end.and_then(|e| buf.ptr(e, None));
        let sp = start_ptr.as_ref().map_or(std::ptr::null(), |p| p as *const _);
        let ep = end_ptr.as_ref().map_or(std::ptr::null(), |p| p as *const _);
        let what = needle.as_ptr().cast();

        if start_ptr.is_some() {
            let want = model_search(&hay, &needle, start, hay.len());
            // SAFETY: live handle; needle and the pointer are readable.
            let got = unsafe { evbuffer_search(buf.0, what, needle.len(), sp) };
            prop_assert_eq!(got.pos, want.map_or(-1, |p| p as isize), "search");

            let end_at = end_ptr.map_or(hay.len(), |e| e.pos as usize);
            let want = model_search(&hay, &needle, start, end_at);
            // SAFETY: as above.
            let got = unsafe { evbuffer_search_range(buf.0, what, needle.len(), sp, ep) };
            prop_assert_eq!(got.pos, want.map_or(-1, |p| p as isize), "search_range");

            let mut p = start_ptr.unwrap();
            let mut eol_len = usize::MAX;
            let want = model_eol(&hay[start..], style).map(|(at, n)| (start + at, n));
            // SAFETY: live handle; p and eol_len are writable.
            let got = unsafe { evbuffer_search_eol(buf.0, &mut p, &mut eol_len, style) };
            prop_assert_eq!(got.pos, want.map_or(-1, |w| w.0 as isize), "search_eol");
            prop_assert_eq!(eol_len, want.map_or(0, |w| w.1), "search_eol length");
        }

        // Every match, found one after another by moving past each (BUF-12).
        if !needle.is_empty() {
            let all: Vec<usize> =
                (0..hay.len()).filter(|&p| hay[p..].starts_with(&needle)).collect();
            let mut found = Vec::new();
            // SAFETY: live handle; needle is readable.
            let mut at = unsafe { evbuffer_search(buf.0, what, needle.len(), std::ptr::null()) };
            while at.pos >= 0 {
                found.push(at.pos as usize);
                // SAFETY: live handle; at is writable.
                if unsafe { evbuffer_ptr_set(buf.0, &mut at, 1, EVBUFFER_PTR_ADD) } != 0 {
                    break;
                }
                // SAFETY: as above.
                at = unsafe { evbuffer_search(buf.0, what, needle.len(), &at) };
            }
            prop_assert_eq!(found, all);
        }
        prop_assert_eq!(buf.contents(), hay, "searching changed the buffer");
    }
}

/// The hand-picked inputs of tests/corpus/readln/: each style, the input
/// whole, cut once at every point, and one byte at a time.
#[test]
fn readln_corpus() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/readln");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("tests/corpus/readln exists")
        .map(|e| e.expect("readable entry").path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus");
    for f in files {
        let data = std::fs::read(&f).expect("readable corpus file");
        for style in STYLES {
            for merge in [false, true] {
                replay(std::slice::from_ref(&data), style, merge);
                let bytes: Vec<Vec<u8>> = data.iter().map(|&b| vec![b]).collect();
                replay(&bytes, style, merge);
                for cut in 1..data.len() {
                    replay(&split(&data, &[cut]), style, merge);
                }
            }
        }
    }
}

/// The model itself, on the examples BEHAVIOUR.md gives for each style.
#[test]
fn model_follows_the_documented_examples() {
    assert_eq!(model_eol(b"a\r\n\r\nb\n", 0), Some((1, 4)));
    assert_eq!(model_eol(b"abc\r", 0), Some((3, 1)));
    assert_eq!(model_eol(b"d\r", 1), None);
    assert_eq!(model_eol(b"\r\n\r\n", 1), Some((0, 2)));
    assert_eq!(model_eol(b"a\nb\r\n", 2), Some((3, 2)));
    assert_eq!(model_eol(b"a\r", 2), None);
    assert_eq!(model_eol(b"a\r\n", 3), Some((2, 1)));
    assert_eq!(model_eol(b"x\0", 4), Some((1, 1)));
    assert_eq!(model_search(b"abcabc", b"abc", 1, 6), Some(3));
    assert_eq!(model_search(b"abcabc", b"abc", 1, 5), None);
}

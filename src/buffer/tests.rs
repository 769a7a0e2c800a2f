use std::cell::RefCell;
use std::ffi::c_void;
use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::rc::Rc;

use super::*;

/// A buffer whose chunks are exactly `parts` (moved in, never merged).
fn pieces(parts: &[&[u8]]) -> Buffer {
    let buf = Buffer::new();
    for p in parts {
        let t = Buffer::new();
        t.add(p).unwrap();
        buf.add_buffer(&t).unwrap();
    }
    buf
}

fn all_lines(buf: &Buffer, style: Eol) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(line) = buf.readln(style).unwrap() {
        out.push(String::from_utf8(line).unwrap());
    }
    out
}

fn chunk_count(buf: &Buffer) -> usize {
    buf.peek(None, None, 0).0
}

#[test]
fn new_buffer_is_empty_and_holds_no_chunk() {
    let buf = Buffer::new();
    assert_eq!(buf.len(), 0);
    assert_eq!(buf.contiguous_space(), 0);
    buf.add(b"").unwrap();
    assert_eq!(buf.len(), 0);
    assert_eq!(buf.inner.borrow().chunks.len(), 0);
}

#[test]
fn readln_any_consumes_whole_runs() {
    let buf = pieces(&[b"a\r", b"\n\r\nb\n", b"\r\nc"]);
    assert_eq!(all_lines(&buf, Eol::Any), ["a", "b"]);
    assert_eq!(buf.contents(), b"c");
    let buf = pieces(&[b"\r\nx\n"]);
    assert_eq!(all_lines(&buf, Eol::Any), ["", "x"]);
}

#[test]
fn readln_any_trailing_cr_gives_line_then_empty_line() {
    let buf = pieces(&[b"abc\r"]);
    assert_eq!(all_lines(&buf, Eol::Any), ["abc"]);
    buf.add(b"\n").unwrap();
    assert_eq!(all_lines(&buf, Eol::Any), [""]);
}

#[test]
fn readln_crlf_split_across_chunks() {
    let buf = pieces(&[b"ab\r", b"\ncd\r", b"\r\n", b"e", b"f\n", b"d\r"]);
    assert_eq!(all_lines(&buf, Eol::Crlf), ["ab", "cd\r", "ef"]);
    assert_eq!(buf.contents(), b"d\r");
    buf.add(b"\n\r\n").unwrap();
    assert_eq!(all_lines(&buf, Eol::Crlf), ["d", ""]);
}

#[test]
fn readln_crlf_strict_only_crlf() {
    let buf = pieces(&[b"a\nb\r", b"\nc\r"]);
    assert_eq!(all_lines(&buf, Eol::CrlfStrict), ["a\nb"]);
    assert_eq!(buf.contents(), b"c\r");
    buf.add(b"\n").unwrap();
    assert_eq!(all_lines(&buf, Eol::CrlfStrict), ["c"]);
}

#[test]
fn readln_lf_keeps_cr_and_nul_style() {
    let buf = pieces(&[b"a\r", b"\nb\n"]);
    assert_eq!(all_lines(&buf, Eol::Lf), ["a\r", "b"]);
    let buf = pieces(&[b"x\0", b"y", b"\0z"]);
    assert_eq!(all_lines(&buf, Eol::Nul), ["x", "y"]);
    assert_eq!(buf.contents(), b"z");
}

#[test]
fn readln_without_line_changes_nothing() {
    let buf = pieces(&[b"abc", b"def"]);
    for style in [Eol::Any, Eol::Crlf, Eol::CrlfStrict, Eol::Lf, Eol::Nul] {
        assert_eq!(buf.readln(style).unwrap(), None);
    }
    assert_eq!(buf.contents(), b"abcdef");
}

#[test]
fn readln_resumes_scan_of_long_line() {
    let buf = Buffer::new();
    for _ in 0..100 {
        buf.add(&[b'x'; 1000]).unwrap();
        assert_eq!(buf.readln(Eol::CrlfStrict).unwrap(), None);
        assert_eq!(buf.readln(Eol::Crlf).unwrap(), None);
    }
    assert!(matches!(
        buf.inner.borrow().scan(),
        Some((Eol::Crlf, 100_000))
    ));
    buf.add(b"\r").unwrap();
    assert_eq!(buf.readln(Eol::CrlfStrict).unwrap(), None);
    buf.add(b"\nrest").unwrap();
    let line = buf.readln(Eol::CrlfStrict).unwrap().unwrap();
    assert_eq!(line.len(), 100_000);
    assert_eq!(buf.contents(), b"rest");
    // A drain forgets the scan: "\n" now at 0 must be found.
    buf.drain(4).unwrap();
    buf.add(b"\n").unwrap();
    assert_eq!(buf.readln(Eol::Lf).unwrap(), Some(Vec::new()));
}

#[test]
fn readln_scan_memory_is_per_style() {
    let buf = pieces(&[b"ab\rcd"]);
    assert_eq!(buf.readln(Eol::Lf).unwrap(), None);
    assert_eq!(buf.readln(Eol::Any).unwrap(), Some(b"ab".to_vec()));
}

#[test]
fn search_across_chunks_and_at_last_byte() {
    let buf = pieces(&[b"xxab", b"cxxa", b"b", b"cabc"]);
    assert_eq!(buf.search(b"abc", 0, None), Some(2));
    assert_eq!(buf.search(b"abc", 3, None), Some(7));
    assert_eq!(buf.search(b"abc", 8, None), Some(10));
    assert_eq!(buf.search(b"abc", 11, None), None);
    assert_eq!(buf.search(b"c", 12, None), Some(12));
    assert_eq!(buf.search(b"cabc", 0, None), Some(9));
    assert_eq!(buf.search(b"q", 0, None), None);
    assert_eq!(buf.search(b"", 5, None), Some(5));
    assert_eq!(buf.search(b"a", 14, None), None);
    assert_eq!(buf.len(), 13);
}

#[test]
fn search_range_needs_match_to_end_before_end() {
    let buf = pieces(&[b"xxab", b"cxxa", b"b", b"cabc"]);
    assert_eq!(buf.search(b"abc", 0, Some(5)), Some(2));
    assert_eq!(buf.search(b"abc", 0, Some(4)), None);
    assert_eq!(buf.search(b"abc", 3, Some(10)), Some(7));
    assert_eq!(buf.search(b"abc", 3, Some(9)), None);
}

#[test]
fn search_eol_reports_start_and_length() {
    let buf = pieces(&[b"ab\r", b"\ncd"]);
    assert_eq!(buf.search_eol(0, Eol::Crlf), Some((2, 2)));
    assert_eq!(buf.search_eol(3, Eol::Crlf), Some((3, 1)));
    assert_eq!(buf.search_eol(0, Eol::Nul), None);
    assert_eq!(buf.search_eol(0, Eol::Any), Some((2, 2)));
}

#[test]
fn peek_counts_chunks_and_stops_at_end() {
    let buf = pieces(&[b"xxab", b"cxxa", b"b", b"cabc"]);
    let (n, v) = buf.peek(None, None, 8);
    assert_eq!(n, 4);
    assert_eq!(v.iter().map(|r| r.1).collect::<Vec<_>>(), [4, 4, 1, 4]);
    // With a length and too few vectors, the count still covers the range.
    let (n, v) = buf.peek(Some(9), None, 1);
    assert_eq!((n, v.len(), v[0].1), (3, 1, 4));
    // Without a length it stops at the vectors given.
    assert_eq!(buf.peek(None, None, 2).0, 2);
    // Past the end: the whole buffer, no more.
    assert_eq!(buf.peek(Some(100), None, 8).0, 4);
    // From a position mid-chunk.
    let (n, v) = buf.peek(Some(3), Some(7), 8);
    assert_eq!(n, 3);
    assert_eq!((v[0].1, v[1].1), (1, 1));
    assert_eq!(buf.peek(Some(3), Some(13), 8).0, 0);
    assert_eq!(buf.peek(None, Some(7), 0).0, 3);
}

#[test]
fn pullup_rules() {
    let buf = pieces(&[b"ab", b"cd", b"ef"]);
    assert_eq!(buf.pullup(Some(0)), None);
    assert_eq!(buf.pullup(Some(7)), None);
    assert_eq!(chunk_count(&buf), 3);
    let first = buf.pullup(Some(2)).unwrap();
    assert_eq!(chunk_count(&buf), 3);
    assert_eq!(buf.pullup(Some(1)), Some(first));
    buf.pullup(Some(3)).unwrap();
    assert_eq!(buf.contiguous_space(), 3);
    assert_eq!(chunk_count(&buf), 3);
    buf.pullup(None).unwrap();
    assert_eq!(chunk_count(&buf), 1);
    assert_eq!(buf.contents(), b"abcdef");
    assert_eq!(Buffer::new().pullup(None), None);
}

#[test]
fn reserve_more_than_one_chunk_and_commit() {
    let buf = Buffer::new();
    buf.add(b"head").unwrap();
    let regions = buf.reserve(30_000, 2).unwrap();
    assert!(!regions.is_empty() && regions.len() <= 2);
    assert!(regions.iter().map(|r| r.1).sum::<usize>() >= 30_000);
    assert_eq!(buf.len(), 4);
    let mut commit = Vec::new();
    for (i, &(p, n)) in regions.iter().enumerate() {
        let fill = n.min(3);
        // SAFETY: the region is reserved room of `n` >= `fill` bytes.
        unsafe { std::ptr::write_bytes(p, b'0' + i as u8, fill) };
        commit.push((p.cast_const(), fill));
    }
    assert_eq!(buf.commit(&commit), Ok(commit.iter().map(|c| c.1).sum()));
    let want: &[u8] = if regions.len() == 2 {
        b"head000111"
    } else {
        b"head000"
    };
    assert_eq!(buf.contents(), want);
}

#[test]
fn reserve_one_region_is_contiguous_and_commit_checks() {
    let buf = Buffer::new();
    buf.add(b"x").unwrap();
    let r = buf.reserve(20_000, 1).unwrap();
    assert_eq!(r.len(), 1);
    assert!(r[0].1 >= 20_000);
    assert_eq!(
        buf.commit(&[(r[0].0.cast_const(), r[0].1 + 1)]),
        Err(BufferError::Invalid)
    );
    assert_eq!(buf.commit(&[]), Ok(0));
    assert_eq!(buf.reserve(10, 0), Err(BufferError::Invalid));
    assert_eq!(buf.commit(&[(r[0].0.cast_const(), 0)]), Ok(0));
    assert_eq!(buf.len(), 1);
}

#[test]
fn expand_makes_one_piece_room() {
    let buf = pieces(&[b"abc"]);
    buf.expand(10_000);
    assert_eq!(buf.len(), 3);
    assert_eq!(buf.reserve(10_000, 1).unwrap().len(), 1);
}

fn foreign(data: &'static [u8], log: &Rc<RefCell<Vec<String>>>, tag: &str) -> Foreign {
    let log = log.clone();
    let tag = tag.to_string();
    let cleanup = Box::new(move || log.borrow_mut().push(tag));
    // SAFETY: static data outlives any buffer.
    unsafe { Foreign::new(data.as_ptr(), data.len(), Some(cleanup)) }
}

#[test]
fn reference_cleanup_runs_when_last_byte_leaves() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let buf = Buffer::new();
    buf.add_foreign(foreign(b"first", &log, "a")).unwrap();
    buf.add_foreign(foreign(b"second", &log, "b")).unwrap();
    buf.drain(3).unwrap();
    assert!(log.borrow().is_empty());
    buf.drain(2).unwrap();
    assert_eq!(*log.borrow(), ["a"]);
    // Moved to another buffer, released by that one.
    let other = Buffer::new();
    other.add_buffer(&buf).unwrap();
    other.drain(6).unwrap();
    assert_eq!(*log.borrow(), ["a", "b"]);
    // Freed buffers release in order.
    let buf = Buffer::new();
    buf.add_foreign(foreign(b"x", &log, "c")).unwrap();
    buf.add_foreign(foreign(b"y", &log, "d")).unwrap();
    drop(buf);
    assert_eq!(*log.borrow(), ["a", "b", "c", "d"]);
}

#[test]
fn reference_cleanup_on_copying_pullup() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let buf = Buffer::new();
    buf.add(b"12").unwrap();
    buf.add_foreign(foreign(b"REF", &log, "r")).unwrap();
    buf.pullup(None).unwrap();
    assert_eq!(*log.borrow(), ["r"]);
    assert_eq!(buf.contents(), b"12REF");
}

#[test]
fn refused_reference_never_cleans_up() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let buf = Buffer::new();
    buf.set_frozen(FrozenEnd::Back, true);
    assert_eq!(
        buf.add_foreign(foreign(b"x", &log, "x")),
        Err(BufferError::Frozen)
    );
    drop(buf);
    assert!(log.borrow().is_empty());
}

#[test]
fn frozen_front_rules() {
    let buf = pieces(&[b"abc\n"]);
    buf.set_frozen(FrozenEnd::Front, true);
    let mut out = [0u8; 2];
    assert_eq!(buf.drain(1), Err(BufferError::Frozen));
    assert_eq!(buf.remove(&mut out), Err(BufferError::Frozen));
    assert_eq!(buf.copyout(&mut out), Err(BufferError::Frozen));
    assert_eq!(buf.readln(Eol::Lf), Err(BufferError::Frozen));
    assert_eq!(buf.prepend(b"x"), Err(BufferError::Frozen));
    assert_eq!(
        buf.remove_buffer(&Buffer::new(), 1),
        Err(BufferError::Frozen)
    );
    assert_eq!(Buffer::new().add_buffer(&buf), Err(BufferError::Frozen));
    assert_eq!(buf.add(b"y"), Ok(()));
    assert!(buf.pullup(None).is_some());
    assert_eq!(buf.len(), 5);
}

#[test]
fn frozen_back_rules() {
    let buf = pieces(&[b"abc"]);
    buf.set_frozen(FrozenEnd::Back, true);
    assert_eq!(buf.add(b"x"), Err(BufferError::Frozen));
    assert!(buf.reserve(1, 1).is_err());
    let src = pieces(&[b"s"]);
    assert_eq!(buf.add_buffer(&src), Err(BufferError::Frozen));
    assert_eq!(buf.prepend(b">"), Ok(()));
    let mut out = [0u8; 1];
    assert_eq!(buf.remove(&mut out), Ok(1));
    assert_eq!(buf.contents(), b"abc");
}

#[test]
fn empty_frozen_buffer_drains_and_removes_nothing() {
    let buf = Buffer::new();
    buf.set_frozen(FrozenEnd::Front, true);
    assert_eq!(buf.drain(1), Ok(()));
    assert_eq!(buf.remove(&mut [0u8; 4]), Ok(0));
}

type Seen = Rc<RefCell<Vec<(usize, CbInfo)>>>;

fn recorder(seen: &Seen, tag: usize) -> CallbackFn {
    let seen = seen.clone();
    Rc::new(move |_buf: &Buffer, info: &CbInfo| seen.borrow_mut().push((tag, *info)))
}

fn info(orig_size: usize, n_added: usize, n_deleted: usize) -> CbInfo {
    CbInfo {
        orig_size,
        n_added,
        n_deleted,
    }
}

#[test]
fn callbacks_newest_first_with_counts() {
    let seen = Seen::default();
    let buf = Buffer::new();
    buf.add_callback((1, 0), recorder(&seen, 1));
    buf.add_callback((2, 0), recorder(&seen, 2));
    buf.add(b"abc").unwrap();
    buf.drain(0).unwrap();
    buf.add(b"").unwrap();
    buf.drain(2).unwrap();
    assert_eq!(
        *seen.borrow(),
        [
            (2, info(0, 3, 0)),
            (1, info(0, 3, 0)),
            (2, info(3, 0, 2)),
            (1, info(3, 0, 2))
        ]
    );
}

#[test]
fn add_buffer_runs_source_callbacks_first() {
    let seen = Seen::default();
    let dst = pieces(&[b"d"]);
    let src = pieces(&[b"ss"]);
    dst.add_callback((1, 0), recorder(&seen, 1));
    src.add_callback((2, 0), recorder(&seen, 2));
    dst.add_buffer(&src).unwrap();
    assert_eq!(*seen.borrow(), [(2, info(2, 0, 2)), (1, info(1, 2, 0))]);
    assert_eq!(dst.add_buffer(&dst), Ok(()));
}

#[test]
fn disabled_callback_misses_changes() {
    let seen = Seen::default();
    let buf = Buffer::new();
    let id = buf.add_callback((1, 0), recorder(&seen, 1));
    buf.set_callback_flags(id, CB_ENABLED, false);
    buf.add(b"ab").unwrap();
    buf.set_callback_flags(id, CB_ENABLED, true);
    buf.add(b"c").unwrap();
    assert_eq!(*seen.borrow(), [(1, info(2, 1, 0))]);
    assert!(buf.remove_callback(id));
    assert!(!buf.remove_callback(id));
    assert!(!buf.remove_callback_by_key((1, 0)));
}

fn drain_one(buf: &Buffer, _info: &CbInfo, arg: *mut c_void) {
    let calls = arg.cast::<usize>();
    // SAFETY: the test passes a pointer to a live usize counter.
    unsafe { *calls += 1 };
    if !buf.is_empty() {
        buf.drain(1).unwrap();
    }
}

#[test]
fn internal_callback_may_change_the_buffer() {
    let buf = Buffer::new();
    let mut calls = 0usize;
    let id = buf.add_internal_cb(drain_one, (&raw mut calls).cast());
    buf.add(b"abc").unwrap();
    assert_eq!(buf.len(), 0);
    assert_eq!(calls, 4);
    buf.remove_callback(id);
}

#[test]
fn callback_removing_others_stops_them() {
    let seen = Seen::default();
    let buf = Buffer::new();
    buf.add_callback((1, 0), recorder(&seen, 1));
    buf.add_callback(
        (2, 0),
        Rc::new(|b: &Buffer, _: &CbInfo| b.clear_callbacks()),
    );
    buf.add(b"x").unwrap();
    buf.add(b"y").unwrap();
    assert!(seen.borrow().is_empty());
}

#[test]
fn free_inside_own_callback_is_deferred() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let raw = Buffer::new().into_raw();
    // SAFETY: raw is a live buffer from into_raw throughout.
    let buf = unsafe { &*raw };
    buf.add_foreign(foreign(b"ref", &log, "freed")).unwrap();
    let seen = Seen::default();
    buf.add_callback((1, 0), recorder(&seen, 1));
    let addr = raw as usize;
    buf.add_callback(
        (2, 0),
        Rc::new(move |_: &Buffer, _: &CbInfo| {
            // SAFETY: the buffer is live; free_raw defers while busy.
            unsafe { Buffer::free_raw(addr as *mut Buffer) }
        }),
    );
    // SAFETY: raw is live until this call frees it on the way out.
    unsafe { Buffer::enter_raw(raw, |b| b.add(b"x").unwrap()) };
    // The newest callback freed it; the older one did not run.
    assert!(seen.borrow().is_empty());
    assert_eq!(*log.borrow(), ["freed"]);
}

#[test]
fn remove_buffer_moves_whole_chunks_and_copies_a_part() {
    let src = pieces(&[b"abc", b"defg", b"hi"]);
    let dst = pieces(&[b"X"]);
    assert_eq!(src.remove_buffer(&dst, 5), Ok(5));
    assert_eq!(dst.contents(), b"Xabcde");
    assert_eq!(src.contents(), b"fghi");
    assert_eq!(src.remove_buffer(&dst, 100), Ok(4));
    assert_eq!(src.len(), 0);
    assert_eq!(dst.len(), 10);
}

#[test]
fn prepend_and_prepend_buffer() {
    let buf = pieces(&[b"world"]);
    buf.prepend(b"hello ").unwrap();
    let src = pieces(&[b">", b"> "]);
    buf.prepend_buffer(&src).unwrap();
    assert_eq!(buf.contents(), b">> hello world");
    assert!(src.is_empty());
    buf.drain(3).unwrap();
    buf.prepend(b"big ").unwrap();
    assert_eq!(buf.contents(), b"big hello world");
}

#[test]
fn copyout_from_and_remove() {
    let buf = pieces(&[b"abc", b"def"]);
    let mut out = [0u8; 4];
    assert_eq!(buf.copyout_from(2, &mut out), Ok(4));
    assert_eq!(&out, b"cdef");
    assert_eq!(buf.copyout_from(7, &mut out), Err(BufferError::Invalid));
    assert_eq!(buf.remove(&mut out), Ok(4));
    assert_eq!(buf.remove(&mut out), Ok(2));
    assert_eq!(buf.remove(&mut out), Ok(0));
    assert_eq!(buf.drain(10), Ok(()));
}

#[test]
fn chunks_are_reused_after_draining() {
    let buf = Buffer::new();
    buf.add(&[1u8; 100]).unwrap();
    let first = buf.pullup(None).unwrap();
    buf.drain(100).unwrap();
    assert_eq!(buf.inner.borrow().chunks.len(), 0);
    buf.add(&[2u8; 100]).unwrap();
    assert_eq!(buf.pullup(None), Some(first));
}

#[test]
fn read_and_write_on_a_socketpair() {
    let (mut a, b) = UnixStream::pair().unwrap();
    b.set_nonblocking(true).unwrap();
    let seen = Seen::default();
    let buf = Buffer::new();
    buf.add_callback((1, 0), recorder(&seen, 1));
    let err = buf.read_from_fd(b.as_raw_fd(), 16384).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::WouldBlock);
    let data: Vec<u8> = (0..30_000u32).map(|i| i as u8).collect();
    a.write_all(&data).unwrap();
    let mut got = 0;
    while got < data.len() {
        got += buf.read_from_fd(b.as_raw_fd(), 10_000).unwrap();
    }
    assert_eq!(buf.contents(), data);
    assert_eq!(seen.borrow()[0].1, info(0, 10_000, 0));
    // Write back through the other direction, at most 7000 bytes.
    let n = buf.write_to_fd(b.as_raw_fd(), 7000).unwrap();
    assert_eq!(n, 7000);
    assert_eq!(buf.len(), 23_000);
    let mut back = vec![0u8; 7000];
    a.read_exact(&mut back).unwrap();
    assert_eq!(back, data[..7000]);
    drop(a);
    assert_eq!(buf.read_from_fd(b.as_raw_fd(), 100).unwrap(), 0);
    assert_eq!(buf.len(), 23_000);
}

#[test]
fn write_gathers_many_chunks() {
    let (mut a, b) = UnixStream::pair().unwrap();
    let parts: Vec<Vec<u8>> = (0..20u8).map(|i| vec![b'a' + i; 10]).collect();
    let refs: Vec<&[u8]> = parts.iter().map(|p| &p[..]).collect();
    let buf = pieces(&refs);
    assert_eq!(buf.write_to_fd(b.as_raw_fd(), usize::MAX).unwrap(), 160);
    assert_eq!(buf.len(), 40);
    let mut got = vec![0u8; 160];
    a.read_exact(&mut got).unwrap();
    assert_eq!(got, parts[..16].concat());
}

fn temp_file(content: &[u8]) -> std::os::fd::RawFd {
    use std::os::fd::IntoRawFd;
    let path = std::env::temp_dir().join(format!("evbuf-seg-{}", std::process::id()));
    std::fs::write(&path, content).unwrap();
    let file = std::fs::File::open(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    file.into_raw_fd()
}

fn is_open(fd: std::os::fd::RawFd) -> bool {
    // SAFETY: F_GETFD only queries the descriptor table.
    unsafe { libc::fcntl(fd, libc::F_GETFD) != -1 }
}

#[test]
fn file_segment_shared_then_closed_after_last_use() {
    let fd = temp_file(b"0123456789");
    let seg = FileSegment::new(fd, 2, 6, FS_CLOSE_ON_FREE).unwrap();
    let log = Rc::new(RefCell::new(Vec::new()));
    let l = log.clone();
    seg.set_cleanup(Box::new(move |flags| l.borrow_mut().push(flags)));
    let a = Buffer::new();
    let b = Buffer::new();
    a.add_segment(&seg, 1, 3).unwrap();
    a.add_segment(&seg, 0, -1).unwrap();
    assert_eq!(a.add_segment(&seg, 4, 5), Err(BufferError::Invalid));
    b.add_segment(&seg, 0, 2).unwrap();
    assert_eq!(a.contents(), b"345234567");
    drop(seg);
    a.drain(100).unwrap();
    assert!(is_open(fd) && log.borrow().is_empty());
    drop(b);
    assert!(!is_open(fd));
    assert_eq!(*log.borrow(), [FS_CLOSE_ON_FREE]);
}

/// A small deterministic generator, so failures can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self, n: usize) -> usize {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        ((self.0 >> 33) as usize) % n
    }
}

/// Lines as the reference splits them, computed on a flat copy.
fn model_line(data: &[u8], style: Eol) -> Option<(usize, usize)> {
    let find = |pred: &dyn Fn(u8) -> bool| data.iter().position(|&b| pred(b));
    match style {
        Eol::Lf => find(&|b| b == b'\n').map(|p| (p, 1)),
        Eol::Nul => find(&|b| b == 0).map(|p| (p, 1)),
        Eol::Any => find(&|b| b == b'\r' || b == b'\n').map(|p| {
            let run = data[p..]
                .iter()
                .take_while(|&&b| b == b'\r' || b == b'\n')
                .count();
            (p, run)
        }),
        Eol::Crlf => find(&|b| b == b'\n').map(|p| {
            if p > 0 && data[p - 1] == b'\r' {
                (p - 1, 2)
            } else {
                (p, 1)
            }
        }),
        Eol::CrlfStrict => data.windows(2).position(|w| w == b"\r\n").map(|p| (p, 2)),
    }
}

#[test]
fn random_pieces_match_a_flat_model() {
    let mut rng = Lcg(7);
    let alphabet = b"ab\r\n\0";
    let styles = [Eol::Any, Eol::Crlf, Eol::CrlfStrict, Eol::Lf, Eol::Nul];
    for _ in 0..300 {
        let buf = Buffer::new();
        let mut model = Vec::new();
        let style = styles[rng.next(styles.len())];
        for _ in 0..40 {
            let piece: Vec<u8> = (0..rng.next(6)).map(|_| alphabet[rng.next(5)]).collect();
            let t = Buffer::new();
            t.add(&piece).unwrap();
            match rng.next(3) {
                0 => buf.add(&piece).unwrap(),
                _ => buf.add_buffer(&t).unwrap(),
            }
            model.extend_from_slice(&piece);
            let needle: Vec<u8> = (0..1 + rng.next(3))
                .map(|_| alphabet[rng.next(5)])
                .collect();
            let start = rng.next(model.len() + 1);
            let naive = model[start..]
                .windows(needle.len())
                .position(|w| w == needle)
                .map(|p| p + start);
            assert_eq!(buf.search(&needle, start, None), naive);
            if rng.next(2) == 0 {
                let got = buf.readln(style).unwrap();
                let want = model_line(&model, style).map(|(p, n)| {
                    let line = model[..p].to_vec();
                    model.drain(..p + n);
                    line
                });
                assert_eq!(got, want);
                assert_eq!(buf.contents(), model);
            }
        }
    }
}

/// A peer that sends a line without end, a little at a time, while the
/// program calls readln after every read: each call must look only at the
/// new bytes. Rescanning 4 MiB on each of 10,000 calls would scan 40 GiB
/// (many seconds); looking at the new bytes only takes milliseconds.
#[test]
fn readln_on_endless_line_does_not_rescan() {
    for style in [Eol::Any, Eol::Crlf, Eol::CrlfStrict, Eol::Lf, Eol::Nul] {
        let buf = Buffer::new();
        buf.add(&vec![b'x'; 4 << 20]).unwrap();
        let started = std::time::Instant::now();
        for _ in 0..10_000 {
            buf.add(b"more bytes, no end").unwrap();
            assert_eq!(buf.readln(style).unwrap(), None);
        }
        let took = started.elapsed();
        assert!(
            took < std::time::Duration::from_secs(2),
            "{style:?}: 10,000 readln calls took {took:?}"
        );
    }
}

#[test]
fn buffer_reference_shares_memory_and_releases_with_last_user() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let src = Buffer::new();
    src.add_foreign(foreign(b"lent", &log, "lent")).unwrap();
    src.add(b"+own").unwrap();
    let dst = Buffer::new();
    dst.add_buffer_reference(&src).unwrap();
    assert_eq!(dst.contents(), b"lent+own");
    // Same memory, not a copy.
    assert_eq!(dst.chunk_at(0), src.chunk_at(0));
    assert_eq!(dst.chunk_at(4).map(|c| c.0), src.chunk_at(4).map(|c| c.0));
    // Neither side writes into shared memory: appends go elsewhere.
    src.add(b"!").unwrap();
    assert_eq!(dst.contents(), b"lent+own");
    // Shared bytes are not shared again; the copy's own bytes would be.
    let third = Buffer::new();
    assert!(third.add_buffer_reference(&dst).is_err());
    assert!(src.add_buffer_reference(&src).is_err());
    src.drain(9).unwrap();
    assert!(log.borrow().is_empty());
    dst.drain(8).unwrap();
    assert_eq!(*log.borrow(), ["lent"]);
    dst.add(b"mine").unwrap();
    third.add_buffer_reference(&dst).unwrap();
    assert_eq!(third.contents(), b"mine");
}

/// As libevent 2.1.12 keeps an evbuffer whose chains are referenced: a
/// freed source keeps all its chunks until the last view of it is gone.
#[test]
fn freed_source_lives_while_viewed() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let src = Buffer::new();
    src.add_foreign(foreign(b"viewed", &log, "viewed")).unwrap();
    let dst = Buffer::new();
    dst.add_buffer_reference(&src).unwrap();
    src.add_foreign(foreign(b"later", &log, "later")).unwrap();
    drop(src);
    assert!(log.borrow().is_empty());
    assert_eq!(dst.contents(), b"viewed");
    dst.drain(3).unwrap();
    assert!(log.borrow().is_empty());
    dst.drain(3).unwrap();
    assert_eq!(*log.borrow(), ["viewed", "later"]);
}

/// Views that came back to the buffer they were made from do not keep it:
/// freeing it releases everything (libevent 2.1.12 leaks it instead).
#[test]
fn views_of_itself_do_not_keep_a_buffer() {
    let log = Rc::new(RefCell::new(Vec::new()));
    let a = Buffer::new();
    a.add_foreign(foreign(b"mine", &log, "mine")).unwrap();
    let b = Buffer::new();
    b.add_buffer_reference(&a).unwrap();
    a.add_buffer(&b).unwrap();
    assert_eq!(a.contents(), b"minemine");
    drop(a);
    assert_eq!(*log.borrow(), ["mine"]);
}

/// A program may write into the memory evbuffer_pullup and evbuffer_peek
/// hand out (2.1.12's readln then sees the change): readln's memory of
/// where no line end was must not outlive such a pointer.
#[test]
fn readln_sees_bytes_written_through_pullup_and_peek() {
    let buf = pieces(&[b"abc", b"def"]);
    assert_eq!(buf.readln(Eol::Lf).unwrap(), None);
    let p = buf.pullup(None).unwrap();
    // SAFETY: pullup made the 6 bytes contiguous at p; nothing changed since.
    unsafe { p.add(1).write(b'\n') };
    assert_eq!(buf.readln(Eol::Lf).unwrap(), Some(b"a".to_vec()));

    let buf = pieces(&[b"abc", b"def"]);
    assert_eq!(buf.readln(Eol::CrlfStrict).unwrap(), None);
    let (n, regions) = buf.peek(None, None, 2);
    assert_eq!(n, 2);
    // SAFETY: the second region is the chunk "def", writable, unchanged.
    unsafe {
        regions[1].0.write(b'\r');
        regions[1].0.add(1).write(b'\n');
    }
    assert_eq!(buf.readln(Eol::CrlfStrict).unwrap(), Some(b"abc".to_vec()));
}

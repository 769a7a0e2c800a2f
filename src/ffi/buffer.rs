//! `event2/buffer.h`: evbuffers.
//!
//! Each entry checks its arguments, converts them, and calls
//! [`crate::buffer::Buffer`]; the handle C holds, `struct evbuffer *`, is a
//! `*mut Buffer`. Every use of a handle goes through [`with`], so a buffer
//! that one of its own callbacks frees is released only once the call that
//! ran the callback returns.

#![allow(non_camel_case_types)]

use std::ffi::{c_char, c_int, c_void};
use std::mem::{offset_of, size_of};
use std::rc::Rc;

use super::{
    EntryResult, FailValue, Failure, bytes, bytes_mut, enter, handle, refuse, refuse_null,
    write_out,
};
use crate::buffer::{
    Buffer, BufferError, CB_ENABLED, CallbackFn, CallbackId, CbInfo, Eol, FS_CLOSE_ON_FREE,
    FileSegment, Foreign, FrozenEnd,
};
use crate::reactor::Base;
use crate::thread::Lock;
use crate::{log, mem};

/// A position in a buffer (`struct evbuffer_ptr`). Only `pos` is read back;
/// `internal_` is filled in for programs that copy the struct around.
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct evbuffer_ptr {
    pub pos: isize,
    pub internal_: evbuffer_ptr_internal,
}

/// The private half of `struct evbuffer_ptr` (anonymous in the C header).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct evbuffer_ptr_internal {
    pub chain: *mut c_void,
    pub pos_in_chain: usize,
}

/// One extent of memory (`struct evbuffer_iovec`, laid out as `struct iovec`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct evbuffer_iovec {
    pub iov_base: *mut c_void,
    pub iov_len: usize,
}

/// What a change did (`struct evbuffer_cb_info`).
#[repr(C)]
#[derive(Debug, Clone, Copy)]
pub struct evbuffer_cb_info {
    pub orig_size: usize,
    pub n_added: usize,
    pub n_deleted: usize,
}

/// A registered callback, as returned by `evbuffer_add_cb` (opaque).
pub struct evbuffer_cb_entry {
    _private: [u8; 0],
}

const _: () = {
    assert!(size_of::<evbuffer_ptr>() == 24);
    assert!(offset_of!(evbuffer_ptr, pos) == 0);
    assert!(offset_of!(evbuffer_ptr, internal_) == 8);
    assert!(offset_of!(evbuffer_ptr_internal, chain) == 0);
    assert!(offset_of!(evbuffer_ptr_internal, pos_in_chain) == 8);
    assert!(size_of::<evbuffer_iovec>() == 16);
    assert!(offset_of!(evbuffer_iovec, iov_base) == 0);
    assert!(offset_of!(evbuffer_iovec, iov_len) == 8);
    assert!(size_of::<evbuffer_cb_info>() == 24);
    assert!(offset_of!(evbuffer_cb_info, orig_size) == 0);
    assert!(offset_of!(evbuffer_cb_info, n_added) == 8);
    assert!(offset_of!(evbuffer_cb_info, n_deleted) == 16);
};

pub const EVBUFFER_EOL_ANY: c_int = 0;
pub const EVBUFFER_EOL_CRLF: c_int = 1;
pub const EVBUFFER_EOL_CRLF_STRICT: c_int = 2;
pub const EVBUFFER_EOL_LF: c_int = 3;
pub const EVBUFFER_EOL_NUL: c_int = 4;
pub const EVBUFFER_PTR_SET: c_int = 0;
pub const EVBUFFER_PTR_ADD: c_int = 1;
pub const EVBUFFER_CB_ENABLED: u32 = 1;
pub const EVBUFFER_FLAG_DRAINS_TO_FD: u64 = 1;

/// `evbuffer_cb_func`: called after each change with what changed.
pub type evbuffer_cb_func =
    Option<unsafe extern "C" fn(buf: *mut Buffer, info: *const evbuffer_cb_info, arg: *mut c_void)>;
/// `evbuffer_ref_cleanup_cb`: releases memory given to `evbuffer_add_reference`.
pub type evbuffer_ref_cleanup_cb =
    Option<unsafe extern "C" fn(data: *const c_void, len: usize, arg: *mut c_void)>;

/// The most `evbuffer_read` takes per call, as in libevent 2.1.
const READ_CAP: usize = 4096;
/// How many chunks `evbuffer_write` sends per call.
const WRITE_IOVECS: usize = 128;

impl From<BufferError> for Failure {
    fn from(_: BufferError) -> Failure {
        Failure
    }
}

/// Runs an entry body on the buffer `buf`, refusing NULL; see the module doc.
pub(crate) fn with<R: FailValue>(
    name: &'static str,
    buf: *mut Buffer,
    f: impl FnOnce(&Buffer) -> EntryResult<R>,
) -> R {
    enter(name, || {
        handle(name, buf)?;
        // SAFETY: a non-NULL handle is a live buffer of ours (pointer contract).
        unsafe { Buffer::enter_raw(buf, f) }
    })
}

/// [`with`] for two buffers.
fn with2<R: FailValue>(
    name: &'static str,
    a: *mut Buffer,
    b: *mut Buffer,
    f: impl FnOnce(&Buffer, &Buffer) -> EntryResult<R>,
) -> R {
    enter(name, || {
        handle(name, a)?;
        handle(name, b)?;
        // Two threads moving data between the same two buffers in opposite
        // directions must take their locks in one order: by address.
        let (first, second) = if a < b { (a, b) } else { (b, a) };
        // SAFETY: non-NULL handles are live buffers of ours (pointer contract).
        let _held = unsafe {
            (
                (*first).lock().map(Lock::hold),
                (*second).lock().map(Lock::hold),
            )
        };
        // SAFETY: as above.
        unsafe { Buffer::enter_raw(a, |a| Buffer::enter_raw(b, |b| f(a, b))) }
    })
}

/// Converts a length from C that must fit in `ev_ssize_t`.
fn size_arg(name: &str, n: isize) -> EntryResult<Option<usize>> {
    if n < 0 {
        Ok(None)
    } else {
        Ok(Some(usize::try_from(n).or_else(|_| refuse(name, "size"))?))
    }
}

/// Reads an optional `struct evbuffer_ptr *` argument: `Ok(None)` for NULL,
/// `Err` for a pointer that holds no position (pos -1).
fn ptr_arg(p: *const evbuffer_ptr) -> Result<Option<usize>, ()> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: a non-NULL evbuffer_ptr argument is readable (pointer contract).
    let pos = unsafe { (*p).pos };
    usize::try_from(pos).map(Some).map_err(|_| ())
}

/// Builds the `struct evbuffer_ptr` for `pos` (or "not found").
fn make_ptr(buf: &Buffer, pos: Option<usize>) -> evbuffer_ptr {
    let Some(pos) = pos else {
        return evbuffer_ptr {
            pos: -1,
            internal_: evbuffer_ptr_internal {
                chain: std::ptr::null_mut(),
                pos_in_chain: 0,
            },
        };
    };
    let (chain, pos_in_chain) = buf.chunk_at(pos).unwrap_or((0, 0));
    evbuffer_ptr {
        pos: pos as isize,
        internal_: evbuffer_ptr_internal {
            chain: chain as *mut c_void,
            pos_in_chain,
        },
    }
}

/// Allocates a new, empty evbuffer; free it with evbuffer_free().
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_new() -> *mut Buffer {
    enter("evbuffer_new", || Ok(Buffer::new().into_raw()))
}

/// Frees an evbuffer and releases referenced memory it holds. May be called
/// from one of the buffer's own callbacks.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_free(buf: *mut Buffer) {
    enter("evbuffer_free", || {
        handle("evbuffer_free", buf)?;
        // SAFETY: a non-NULL handle is a live buffer from evbuffer_new.
        unsafe { Buffer::free_raw(buf) };
        Ok(())
    })
}

/// Enables locking with lock (made with the installed lock functions), or
/// with a new recursive lock if lock is NULL; returns 0, or -1 when the
/// buffer has a lock already or no thread implementation is installed
/// (evthread_use_pthreads and friends).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_enable_locking(buf: *mut Buffer, lock: *mut c_void) -> c_int {
    with("evbuffer_enable_locking", buf, |b| {
        let given = if lock.is_null() {
            None
        } else {
            Some(Lock::adopt(lock).ok_or(Failure)?)
        };
        Ok(if b.enable_locking(given) { 0 } else { -1 })
    })
}

/// Acquires the buffer's lock; a no-op on a buffer without one.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_lock(buf: *mut Buffer) {
    with("evbuffer_lock", buf, |b| {
        if let Some(l) = b.lock() {
            l.lock();
        }
        Ok(())
    })
}

/// Releases the buffer's lock; a no-op on a buffer without one.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_unlock(buf: *mut Buffer) {
    with("evbuffer_unlock", buf, |b| {
        if let Some(l) = b.lock() {
            l.unlock();
        }
        Ok(())
    })
}

/// Sets flags (EVBUFFER_FLAG_DRAINS_TO_FD); returns 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_set_flags(buf: *mut Buffer, flags: u64) -> c_int {
    with("evbuffer_set_flags", buf, |b| {
        b.set_flags(flags, true);
        Ok(0)
    })
}

/// Clears flags; returns 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_clear_flags(buf: *mut Buffer, flags: u64) -> c_int {
    with("evbuffer_clear_flags", buf, |b| {
        b.set_flags(flags, false);
        Ok(0)
    })
}

/// Returns the number of bytes stored in the buffer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_get_length(buf: *const Buffer) -> usize {
    // Asked for every message by most programs: a locked read of one
    // field, without the frame that guards calls able to run callbacks.
    if buf.is_null() {
        return length_refused();
    }
    // SAFETY: a non-NULL buffer pointer is a live buffer of ours.
    let b = unsafe { &*buf };
    if b.lock().is_some() {
        return length_locked(b);
    }
    b.len()
}

/// The rare paths of `evbuffer_get_length`, out of line so that the
/// common one needs no stack frame.
#[cold]
#[inline(never)]
fn length_refused() -> usize {
    enter("evbuffer_get_length", || refuse_null("evbuffer_get_length"))
}

#[inline(never)]
fn length_locked(b: &Buffer) -> usize {
    let _held = b.lock().map(Lock::hold);
    b.len()
}

/// Returns the number of bytes stored in the first chunk (what
/// evbuffer_pullup would return without copying).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_get_contiguous_space(buf: *const Buffer) -> usize {
    with("evbuffer_get_contiguous_space", buf.cast_mut(), |b| {
        Ok(b.contiguous_space())
    })
}

/// Makes room for datlen more bytes in one piece at the end; returns 0, or
/// -1 on failure.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_expand(buf: *mut Buffer, datlen: usize) -> c_int {
    with("evbuffer_expand", buf, |b| {
        if datlen > isize::MAX as usize {
            return refuse("evbuffer_expand", "size too large");
        }
        b.expand(datlen);
        Ok(0)
    })
}

/// Reserves room for size bytes at the end in up to n_vec extents, filled
/// into vec; returns how many extents were used, or -1. Nothing is added
/// until evbuffer_commit_space().
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_reserve_space(
    buf: *mut Buffer,
    size: isize,
    vec: *mut evbuffer_iovec,
    n_vec: c_int,
) -> c_int {
    with("evbuffer_reserve_space", buf, |b| {
        let Some(size) = size_arg("evbuffer_reserve_space", size)? else {
            return Err(Failure);
        };
        let n_vec = usize::try_from(n_vec).map_err(|_| Failure)?;
        if n_vec == 0 || vec.is_null() {
            return Err(Failure);
        }
        let regions = b.reserve(size, n_vec)?;
        for (i, &(p, n)) in regions.iter().enumerate() {
            // SAFETY: vec has n_vec writable entries and regions.len() <= n_vec.
            unsafe {
                vec.add(i).write(evbuffer_iovec {
                    iov_base: p.cast(),
                    iov_len: n,
                })
            };
        }
        Ok(regions.len() as c_int)
    })
}

/// Adds the bytes written into extents from evbuffer_reserve_space(), whose
/// iov_len now says how many were written in each; returns 0, or -1 when
/// the extents do not match the reservation.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_commit_space(
    buf: *mut Buffer,
    vec: *mut evbuffer_iovec,
    n_vecs: c_int,
) -> c_int {
    with("evbuffer_commit_space", buf, |b| {
        let n = usize::try_from(n_vecs).map_err(|_| Failure)?;
        if n > 0 && vec.is_null() {
            return refuse("evbuffer_commit_space", "called with a NULL vector");
        }
        let regions: Vec<(*const u8, usize)> = (0..n)
            .map(|i| {
                // SAFETY: vec has n_vecs readable entries (pointer contract).
                let v = unsafe { vec.add(i).read() };
                (v.iov_base.cast_const().cast::<u8>(), v.iov_len)
            })
            .collect();
        b.commit(&regions)?;
        Ok(0)
    })
}

/// Appends a copy of datlen bytes at data; returns 0, or -1 if the end is
/// frozen.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_add(
    buf: *mut Buffer,
    data: *const c_void,
    datlen: usize,
) -> c_int {
    with("evbuffer_add", buf, |b| {
        b.add(bytes("evbuffer_add", data, datlen)?)?;
        Ok(0)
    })
}

/// Moves up to datlen bytes from the front into data; returns how many, or
/// -1 if the front is frozen.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_remove(
    buf: *mut Buffer,
    data: *mut c_void,
    datlen: usize,
) -> c_int {
    with("evbuffer_remove", buf, |b| {
        let out = bytes_mut("evbuffer_remove", data, datlen.min(b.len()))?;
        Ok(b.remove(out)? as c_int)
    })
}

/// Copies up to datlen bytes from the front into data without removing
/// them; returns how many, or -1.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_copyout(
    buf: *mut Buffer,
    data_out: *mut c_void,
    datlen: usize,
) -> isize {
    with("evbuffer_copyout", buf, |b| {
        let out = bytes_mut("evbuffer_copyout", data_out, datlen.min(b.len()))?;
        Ok(b.copyout(out)? as isize)
    })
}

/// Copies up to datlen bytes starting at pos (the front if NULL) into
/// data_out; returns how many, or -1.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_copyout_from(
    buf: *mut Buffer,
    pos: *const evbuffer_ptr,
    data_out: *mut c_void,
    datlen: usize,
) -> isize {
    with("evbuffer_copyout_from", buf, |b| {
        let start = ptr_arg(pos).map_err(|_| Failure)?.unwrap_or(0);
        let avail = b.len().saturating_sub(start);
        let out = bytes_mut("evbuffer_copyout_from", data_out, datlen.min(avail))?;
        Ok(b.copyout_from(start, out)? as isize)
    })
}

/// Moves up to datlen bytes from the front of src to the end of dst (whole
/// chunks move without copying); returns how many, or -1.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_remove_buffer(
    src: *mut Buffer,
    dst: *mut Buffer,
    datlen: usize,
) -> c_int {
    with2("evbuffer_remove_buffer", src, dst, |s, d| {
        Ok(s.remove_buffer(d, datlen)? as c_int)
    })
}

/// Removes the first line ending in eol_style and returns it NUL-terminated
/// in memory from malloc() (free it with free()), storing its length,
/// without the end of line, in *n_read_out. Returns NULL when there is no
/// complete line (the buffer is then unchanged).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_readln(
    buf: *mut Buffer,
    n_read_out: *mut usize,
    eol_style: c_int,
) -> *mut c_char {
    write_out(n_read_out, 0);
    with("evbuffer_readln", buf, |b| {
        let Some(style) = Eol::from_c(eol_style) else {
            return Ok(std::ptr::null_mut());
        };
        let mut line: *mut u8 = std::ptr::null_mut();
        let got = b.readln_with(style, |n| {
            line = mem::malloc(n + 1).cast();
            if line.is_null() {
                return None;
            }
            // SAFETY: a fresh allocation of n + 1 bytes, ours alone.
            Some(unsafe { std::slice::from_raw_parts_mut(line, n) })
        })?;
        let Some(n) = got else {
            return Ok(std::ptr::null_mut());
        };
        // SAFETY: byte n is the last of the n + 1 allocated.
        unsafe { line.add(n).write(0) };
        write_out(n_read_out, n);
        Ok(line.cast())
    })
}

/// Moves all data from inbuf to the end of outbuf without copying; returns
/// 0, or -1 if outbuf's end or inbuf's front is frozen.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_add_buffer(outbuf: *mut Buffer, inbuf: *mut Buffer) -> c_int {
    with2("evbuffer_add_buffer", outbuf, inbuf, |o, i| {
        o.add_buffer(i)?;
        Ok(0)
    })
}

/// Appends the data of inbuf to outbuf without copying it, leaving inbuf
/// unchanged (both then share the memory); returns 0, or -1 if outbuf is
/// inbuf, outbuf's end is frozen, or inbuf holds data that came from another
/// evbuffer_add_buffer_reference() or from a file segment.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_add_buffer_reference(
    outbuf: *mut Buffer,
    inbuf: *mut Buffer,
) -> c_int {
    with2("evbuffer_add_buffer_reference", outbuf, inbuf, |o, i| {
        o.add_buffer_reference(i)?;
        Ok(0)
    })
}

/// Appends datlen bytes at data without copying them; cleanupfn(data,
/// datlen, cleanupfn_arg) runs once none of them is buffered any more or
/// the buffer is freed. Returns 0, or -1 (then cleanupfn is not called).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_add_reference(
    outbuf: *mut Buffer,
    data: *const c_void,
    datlen: usize,
    cleanupfn: evbuffer_ref_cleanup_cb,
    cleanupfn_arg: *mut c_void,
) -> c_int {
    with("evbuffer_add_reference", outbuf, |b| {
        if data.is_null() && datlen > 0 {
            return refuse("evbuffer_add_reference", "called with a NULL data pointer");
        }
        let cleanup = cleanupfn.map(|f| {
            Box::new(move || {
                // SAFETY: the program's cleanup, called once with its own
                // pointer, length and argument as it documents.
                unsafe { f(data, datlen, cleanupfn_arg) }
            }) as Box<dyn FnOnce()>
        });
        // SAFETY: the program keeps datlen bytes at data readable and
        // unchanged until the cleanup runs (the evbuffer_add_reference contract).
        let chunk = unsafe { Foreign::new(data.cast(), datlen, cleanup) };
        b.add_foreign(chunk)?;
        Ok(0)
    })
}

/// A range of a file for evbuffer_add_file_segment() (opaque to C).
pub struct evbuffer_file_segment {
    seg: Rc<FileSegment>,
}

/// `evbuffer_file_segment_cleanup_cb`: told that a segment is gone.
pub type evbuffer_file_segment_cleanup_cb =
    Option<unsafe extern "C" fn(seg: *const evbuffer_file_segment, flags: c_int, arg: *mut c_void)>;

pub const EVBUF_FS_CLOSE_ON_FREE: u32 = 0x01;
pub const EVBUF_FS_DISABLE_MMAP: u32 = 0x02;
pub const EVBUF_FS_DISABLE_SENDFILE: u32 = 0x04;
pub const EVBUF_FS_DISABLE_LOCKING: u32 = 0x08;

/// Appends length bytes of the file fd from offset (to its end if length
/// is -1) and takes ownership of fd, which is closed once none of those
/// bytes is buffered any more or the buffer is freed. Returns 0, or -1
/// (fd is then closed, unless the arguments were refused outright).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_add_file(
    buf: *mut Buffer,
    fd: c_int,
    offset: i64,
    length: i64,
) -> c_int {
    with("evbuffer_add_file", buf, |b| {
        // libevent 2.1.12 takes the whole file's size for -1 even with an
        // offset, and reads past the end; we take the rest of the file.
        let length = if length == -1 && offset > 0 {
            let whole = crate::buffer::file_size(fd).map_err(|_| Failure)?;
            whole.checked_sub(offset).ok_or(Failure)?
        } else {
            length
        };
        let seg = FileSegment::new(fd, offset, length, FS_CLOSE_ON_FREE).map_err(|_| Failure)?;
        // On failure the segment goes and closes fd, as in libevent 2.1.12.
        b.add_segment(&seg, 0, -1)?;
        Ok(0)
    })
}

/// Makes a segment of length bytes (the file's size if -1) of fd from
/// offset; flags are EVBUF_FS_*. Returns NULL on failure.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_file_segment_new(
    fd: c_int,
    offset: i64,
    length: i64,
    flags: u32,
) -> *mut evbuffer_file_segment {
    enter("evbuffer_file_segment_new", || {
        let seg = FileSegment::new(fd, offset, length, flags).map_err(|_| Failure)?;
        Ok(Box::into_raw(Box::new(evbuffer_file_segment { seg })))
    })
}

/// Releases the program's hold on a segment; it goes (closing fd with
/// EVBUF_FS_CLOSE_ON_FREE, then calling its cleanup) once no buffer holds
/// any of its bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_file_segment_free(seg: *mut evbuffer_file_segment) {
    enter("evbuffer_file_segment_free", || {
        handle("evbuffer_file_segment_free", seg)?;
        // SAFETY: a non-NULL segment came from evbuffer_file_segment_new and
        // is freed once (pointer contract).
        drop(unsafe { Box::from_raw(seg) });
        Ok(())
    })
}

/// Sets the function called, with the segment's flags and arg, once the
/// segment is gone.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_file_segment_add_cleanup_cb(
    seg: *mut evbuffer_file_segment,
    cb: evbuffer_file_segment_cleanup_cb,
    arg: *mut c_void,
) {
    enter("evbuffer_file_segment_add_cleanup_cb", || {
        let s = handle("evbuffer_file_segment_add_cleanup_cb", seg)?;
        if let Some(f) = cb {
            let id = seg.cast_const();
            s.seg.set_cleanup(Box::new(move |flags| {
                // SAFETY: the program's cleanup with its own argument; the
                // segment pointer only identifies the segment.
                unsafe { f(id, flags as c_int, arg) }
            }));
        }
        Ok(())
    })
}

/// Appends length bytes (the rest if -1) of a segment from offset in it;
/// returns 0, or -1.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_add_file_segment(
    buf: *mut Buffer,
    seg: *mut evbuffer_file_segment,
    offset: i64,
    length: i64,
) -> c_int {
    with("evbuffer_add_file_segment", buf, |b| {
        let s = handle("evbuffer_add_file_segment", seg)?;
        b.add_segment(&s.seg, offset, length)?;
        Ok(0)
    })
}

/// Removes len bytes from the front; returns 0, or -1 if the front is
/// frozen (draining an empty buffer always succeeds).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_drain(buf: *mut Buffer, len: usize) -> c_int {
    with("evbuffer_drain", buf, |b| {
        b.drain(len)?;
        Ok(0)
    })
}

/// Writes the buffer's data to fd with one writev(); drains what was
/// written and returns how much, or -1.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_write(buffer: *mut Buffer, fd: c_int) -> c_int {
    // SAFETY: same contract as evbuffer_write_atmost.
    unsafe { evbuffer_write_atmost(buffer, fd, -1) }
}

/// Writes at most howmuch bytes (all if negative) to fd; drains what was
/// written and returns how much, or -1 (also when there is nothing to
/// write).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_write_atmost(
    buffer: *mut Buffer,
    fd: c_int,
    howmuch: isize,
) -> c_int {
    with("evbuffer_write_atmost", buffer, |b| {
        if b.is_frozen(FrozenEnd::Front) {
            return Err(Failure);
        }
        let max = usize::try_from(howmuch).unwrap_or(usize::MAX);
        if max.min(b.len()) == 0 {
            // Nothing to write is a failure in 2.1.12 (no system call made).
            return Err(Failure);
        }
        let n = b
            .write_to_fd_with(fd, max, WRITE_IOVECS)
            .map_err(|_| Failure)?;
        Ok(n as c_int)
    })
}

/// Reads at most 4096 bytes (fewer if howmuch is smaller and not negative)
/// from fd; returns how many, 0 at end of file, or -1 (errno EAGAIN when
/// nothing was ready).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_read(buffer: *mut Buffer, fd: c_int, howmuch: c_int) -> c_int {
    with("evbuffer_read", buffer, |b| {
        if b.is_frozen(FrozenEnd::Back) {
            return Err(Failure);
        }
        let max = usize::try_from(howmuch).map_or(READ_CAP, |h| h.min(READ_CAP));
        let n = b.read_from_fd(fd, max).map_err(|_| Failure)?;
        Ok(n as c_int)
    })
}

/// Finds the first occurrence of len bytes at what, from start (the front if
/// NULL); the result's pos is -1 when there is none.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_search(
    buffer: *mut Buffer,
    what: *const c_char,
    len: usize,
    start: *const evbuffer_ptr,
) -> evbuffer_ptr {
    // SAFETY: same contract as evbuffer_search_range.
    unsafe { evbuffer_search_range(buffer, what, len, start, std::ptr::null()) }
}

impl FailValue for evbuffer_ptr {
    fn fail_value() -> Self {
        evbuffer_ptr {
            pos: -1,
            internal_: evbuffer_ptr_internal {
                chain: std::ptr::null_mut(),
                pos_in_chain: 0,
            },
        }
    }
}

/// Like evbuffer_search(), but only finds matches that end at or before
/// end (the end of the buffer if NULL).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_search_range(
    buffer: *mut Buffer,
    what: *const c_char,
    len: usize,
    start: *const evbuffer_ptr,
    end: *const evbuffer_ptr,
) -> evbuffer_ptr {
    with("evbuffer_search_range", buffer, |b| {
        let needle = bytes("evbuffer_search_range", what.cast(), len)?;
        let start = ptr_arg(start).map_err(|_| Failure)?.unwrap_or(0);
        let end = ptr_arg(end).unwrap_or(None);
        Ok(make_ptr(b, b.search(needle, start, end)))
    })
}

/// Sets pos to position (EVBUFFER_PTR_SET) or moves it forward by position
/// (EVBUFFER_PTR_ADD); returns 0, or -1 if that is past the end (pos is
/// then -1).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_ptr_set(
    buffer: *mut Buffer,
    pos: *mut evbuffer_ptr,
    position: usize,
    how: c_int,
) -> c_int {
    with("evbuffer_ptr_set", buffer, |b| {
        if pos.is_null() {
            return super::refuse_null("evbuffer_ptr_set");
        }
        let target = match how {
            EVBUFFER_PTR_SET => Some(position),
            EVBUFFER_PTR_ADD => match ptr_arg(pos) {
                Ok(Some(p)) => p.checked_add(position),
                _ => return Err(Failure),
            },
            _ => return refuse("evbuffer_ptr_set", "unknown how"),
        };
        let target = target.filter(|&t| t <= b.len());
        // SAFETY: pos is a writable evbuffer_ptr (pointer contract).
        unsafe { pos.write(make_ptr(b, target)) };
        if target.is_some() {
            Ok(0)
        } else {
            Err(Failure)
        }
    })
}

/// Finds the first end of line of eol_style from start (the front if NULL):
/// the result is where it begins and *eol_len_out its length, or pos -1 and
/// 0 when there is none.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_search_eol(
    buffer: *mut Buffer,
    start: *mut evbuffer_ptr,
    eol_len_out: *mut usize,
    eol_style: c_int,
) -> evbuffer_ptr {
    write_out(eol_len_out, 0);
    with("evbuffer_search_eol", buffer, |b| {
        let from = ptr_arg(start).map_err(|_| Failure)?.unwrap_or(0);
        let Some(style) = Eol::from_c(eol_style) else {
            return Err(Failure);
        };
        let found = b.search_eol(from, style);
        if let Some((_, n)) = found {
            write_out(eol_len_out, n);
        }
        Ok(make_ptr(b, found.map(|(p, _)| p)))
    })
}

/// Describes, in up to n_vec extents, the chunks holding len bytes (all if
/// negative) from start_at (the front if NULL); returns how many extents
/// that takes, which may exceed n_vec.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_peek(
    buffer: *mut Buffer,
    len: isize,
    start_at: *mut evbuffer_ptr,
    vec_out: *mut evbuffer_iovec,
    n_vec: c_int,
) -> c_int {
    with("evbuffer_peek", buffer, |b| {
        let n_vec = usize::try_from(n_vec).unwrap_or(0);
        if n_vec > 0 && vec_out.is_null() {
            return refuse("evbuffer_peek", "called with a NULL vector");
        }
        let start = match ptr_arg(start_at) {
            Ok(s) => s,
            Err(()) => return Ok(0),
        };
        let len = usize::try_from(len).ok();
        let (count, regions) = b.peek(len, start, n_vec);
        for (i, &(p, n)) in regions.iter().enumerate() {
            // SAFETY: vec_out has n_vec writable entries and regions.len() <= n_vec.
            unsafe {
                vec_out.add(i).write(evbuffer_iovec {
                    iov_base: p.cast(),
                    iov_len: n,
                })
            };
        }
        Ok(count as c_int)
    })
}

/// Registers cb to run after every change of the buffer, newest first;
/// returns a handle for evbuffer_remove_cb_entry() and the flag calls.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_add_cb(
    buffer: *mut Buffer,
    cb: evbuffer_cb_func,
    cbarg: *mut c_void,
) -> *mut evbuffer_cb_entry {
    with("evbuffer_add_cb", buffer, |b| {
        let Some(f) = cb else {
            return refuse("evbuffer_add_cb", "called with a NULL callback");
        };
        let key = (f as usize, cbarg as usize);
        let func: CallbackFn = Rc::new(move |buf: &Buffer, info: &CbInfo| {
            let info = evbuffer_cb_info {
                orig_size: info.orig_size,
                n_added: info.n_added,
                n_deleted: info.n_deleted,
            };
            let raw = std::ptr::from_ref(buf).cast_mut();
            // SAFETY: the program's callback with its own argument.
            unsafe { f(raw, &info, cbarg) }
        });
        let id = b.add_callback(key, func);
        Ok(id.to_raw() as *mut evbuffer_cb_entry)
    })
}

/// Removes a callback by its handle; returns 0, or -1 if it is not there.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_remove_cb_entry(
    buffer: *mut Buffer,
    ent: *mut evbuffer_cb_entry,
) -> c_int {
    with("evbuffer_remove_cb_entry", buffer, |b| {
        if b.remove_callback(CallbackId::from_raw(ent as usize)) {
            Ok(0)
        } else {
            Err(Failure)
        }
    })
}

/// Removes the callback registered with cb and cbarg; returns 0, or -1 if
/// none matched.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_remove_cb(
    buffer: *mut Buffer,
    cb: evbuffer_cb_func,
    cbarg: *mut c_void,
) -> c_int {
    with("evbuffer_remove_cb", buffer, |b| {
        let key = (cb.map_or(0, |f| f as usize), cbarg as usize);
        if b.remove_callback_by_key(key) {
            Ok(0)
        } else {
            Err(Failure)
        }
    })
}

/// Sets flags (EVBUFFER_CB_ENABLED) on a callback; returns 0, or -1.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_cb_set_flags(
    buffer: *mut Buffer,
    cb: *mut evbuffer_cb_entry,
    flags: u32,
) -> c_int {
    with("evbuffer_cb_set_flags", buffer, |b| {
        let id = CallbackId::from_raw(cb as usize);
        if b.set_callback_flags(id, flags & CB_ENABLED, true) {
            Ok(0)
        } else {
            Err(Failure)
        }
    })
}

/// Clears flags on a callback (clearing EVBUFFER_CB_ENABLED stops it);
/// returns 0, or -1.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_cb_clear_flags(
    buffer: *mut Buffer,
    cb: *mut evbuffer_cb_entry,
    flags: u32,
) -> c_int {
    with("evbuffer_cb_clear_flags", buffer, |b| {
        let id = CallbackId::from_raw(cb as usize);
        if b.set_callback_flags(id, flags & CB_ENABLED, false) {
            Ok(0)
        } else {
            Err(Failure)
        }
    })
}

/// Makes the first size bytes (all if negative) contiguous and returns a
/// pointer to them, valid until the next change; NULL if size is 0 or more
/// than the buffer holds.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_pullup(buf: *mut Buffer, size: isize) -> *mut u8 {
    with("evbuffer_pullup", buf, |b| {
        let size = usize::try_from(size).ok();
        Ok(b.pullup(size).unwrap_or(std::ptr::null_mut()))
    })
}

/// Puts a copy of size bytes at data in front of the buffer's data; returns
/// 0, or -1 if the front is frozen.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_prepend(
    buf: *mut Buffer,
    data: *const c_void,
    size: usize,
) -> c_int {
    with("evbuffer_prepend", buf, |b| {
        b.prepend(bytes("evbuffer_prepend", data, size)?)?;
        Ok(0)
    })
}

/// Moves all data of src in front of dst's data; returns 0, or -1.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_prepend_buffer(dst: *mut Buffer, src: *mut Buffer) -> c_int {
    with2("evbuffer_prepend_buffer", dst, src, |d, s| {
        d.prepend_buffer(s)?;
        Ok(0)
    })
}

/// Forbids changes at the front (at_front nonzero) or the end; returns 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_freeze(buf: *mut Buffer, at_front: c_int) -> c_int {
    with("evbuffer_freeze", buf, |b| {
        b.set_frozen(
            if at_front != 0 {
                FrozenEnd::Front
            } else {
                FrozenEnd::Back
            },
            true,
        );
        Ok(0)
    })
}

/// Allows changes again at the front (at_front nonzero) or the end; returns 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_unfreeze(buf: *mut Buffer, at_front: c_int) -> c_int {
    with("evbuffer_unfreeze", buf, |b| {
        b.set_frozen(
            if at_front != 0 {
                FrozenEnd::Front
            } else {
                FrozenEnd::Back
            },
            false,
        );
        Ok(0)
    })
}

/// Makes the buffer's callbacks run from base's loop instead of during each
/// change: once per batch of changes, with the counts added up since they
/// last ran. The buffer stays allocated until they have run, even if freed
/// meanwhile. Returns 0.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_defer_callbacks(buffer: *mut Buffer, base: *mut Base) -> c_int {
    with("evbuffer_defer_callbacks", buffer, |b| {
        handle("evbuffer_defer_callbacks", base)?;
        log::debug(|| format!("evbuffer_defer_callbacks: {buffer:p} on base {base:p}"));
        b.defer_callbacks(buffer, base);
        Ok(0)
    })
}

/// Appends the n_vec extents in vec; returns how many bytes were added.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn evbuffer_add_iovec(
    buffer: *mut Buffer,
    vec: *mut evbuffer_iovec,
    n_vec: c_int,
) -> usize {
    with("evbuffer_add_iovec", buffer, |b| {
        let n = usize::try_from(n_vec).unwrap_or(0);
        if n > 0 && vec.is_null() {
            return refuse("evbuffer_add_iovec", "called with a NULL vector");
        }
        let vecs = || {
            (0..n).map(|i| {
                // SAFETY: vec has n_vec readable entries (pointer contract).
                unsafe { vec.add(i).read() }
            })
        };
        // libevent first makes room for the sum (wrapping, as its size_t
        // does) and adds nothing when that fails, as it does for a sum no
        // object can have; then it adds vector by vector, stopping at the
        // first that fails (here also at a NULL extent, which it would
        // copy from).
        let sum = vecs().fold(0usize, |s, v| s.wrapping_add(v.iov_len));
        if sum > isize::MAX as usize {
            return Ok(0);
        }
        let parts = vecs().map_while(|v| bytes("evbuffer_add_iovec", v.iov_base, v.iov_len).ok());
        Ok(b.add_parts(parts))
    })
}

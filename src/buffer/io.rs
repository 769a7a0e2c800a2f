//! Moving bytes between a buffer and a file descriptor: one system call per
//! method, straight into or out of chunk memory.

use std::io;
use std::mem::MaybeUninit;
use std::os::fd::RawFd;

use super::Buffer;
use super::chunk::{Chunk, LARGE};
use crate::ffi::buffer::EVBUFFER_FLAG_DRAINS_TO_FD;

/// How many chunks one `writev` of the owner's path sends at most.
pub const WRITE_IOVECS: usize = 16;
/// The most chunks any one `writev` sends (`evbuffer_write` uses this many).
pub const MAX_IOVECS: usize = 128;

impl Buffer {
    /// Reads up to `max` bytes from `fd` with one `read`/`readv` into the
    /// room left in the last chunk and, if that is short of `max`, one new
    /// chunk. Returns how many bytes arrived, `Ok(0)` at end of file, or the
    /// error (`WouldBlock` when nothing is ready). Runs the callbacks for
    /// what arrived. Ignores a frozen end: this is the owner's path.
    pub fn read_from_fd(&self, fd: RawFd, max: usize) -> io::Result<usize> {
        if max == 0 {
            // 2.1.12 makes room first, even for nothing, in a chain of its
            // own after a sealed one: an empty sealed tail goes.
            self.inner.borrow_mut().trim_sealed_tail();
            self.bury();
            return Ok(0);
        }
        let (orig, n) = {
            let mut inner = self.inner.borrow_mut();
            inner.trim_empty_tail();
            let tail = inner.chunks.back_mut().filter(|c| c.spare_len() > 0);
            let first_len = tail.as_ref().map_or(0, |c| c.spare_len().min(max));
            let mut extra = (first_len < max).then(|| Chunk::with_capacity(max.min(LARGE)));
            let mut iov: [libc::iovec; 2] = [libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            }; 2];
            let mut count = 0;
            if let Some(c) = tail {
                iov[count] = libc::iovec {
                    iov_base: c.spare_ptr().cast(),
                    iov_len: first_len,
                };
                count += 1;
            }
            if let Some(c) = extra.as_mut() {
                let want = c.spare_len().min(max - first_len);
                iov[count] = libc::iovec {
                    iov_base: c.spare_ptr().cast(),
                    iov_len: want,
                };
                count += 1;
            }
            let got = if count == 1 {
                // SAFETY: the region is the writable spare room of a chunk we
                // hold mutably; read writes at most iov_len bytes into it.
                unsafe { libc::read(fd, iov[0].iov_base, iov[0].iov_len) }
            } else {
                // SAFETY: both regions are writable spare room of distinct
                // chunks held mutably; readv writes at most their lengths.
                unsafe { libc::readv(fd, iov.as_ptr(), count as libc::c_int) }
            };
            if got < 0 {
                let err = io::Error::last_os_error();
                if let Some(c) = extra {
                    inner.discard(c);
                }
                drop(inner);
                self.bury();
                return Err(err);
            }
            let got = got as usize;
            let mut left = got;
            if first_len > 0 {
                let into_tail = left.min(first_len);
                inner.chunks.back_mut().expect("tail exists").end += into_tail;
                left -= into_tail;
            }
            if let Some(mut c) = extra {
                if left > 0 {
                    c.end += left;
                    inner.chunks.push_back(c);
                } else {
                    inner.discard(c);
                }
            }
            let orig = inner.len;
            inner.len += got;
            (orig, got)
        };
        self.bury();
        self.notify(orig, n, 0);
        Ok(n)
    }

    /// Writes up to `max` bytes to `fd` with one `write`/`writev` of at most
    /// 16 chunks, drains exactly what was written and runs the callbacks.
    /// Ignores a frozen end: this is the owner's path.
    pub fn write_to_fd(&self, fd: RawFd, max: usize) -> io::Result<usize> {
        self.write_to_fd_with(fd, max, WRITE_IOVECS)
    }

    /// [`Buffer::write_to_fd`] with at most `max_iov` (up to 128) chunks per
    /// call.
    ///
    /// A buffer draining to a socket (EVBUFFER_FLAG_DRAINS_TO_FD) sends the
    /// bytes of file segments with sendfile, one segment a call, as
    /// libevent does, and memory around them with writev; it goes on past
    /// each segment boundary while everything tried was taken, so that a
    /// short count still means the socket is full.
    pub(crate) fn write_to_fd_with(
        &self,
        fd: RawFd,
        max: usize,
        max_iov: usize,
    ) -> io::Result<usize> {
        let mut total = 0;
        loop {
            let step = match self.write_step(fd, max - total, max_iov) {
                Ok(step) => step,
                Err(_) if total > 0 => return Ok(total),
                Err(e) => return Err(e),
            };
            total += step.written;
            if !step.at_file || step.written < step.tried || total >= max || self.is_empty() {
                return Ok(total);
            }
        }
    }

    /// One writev, or one sendfile of a segment at the front.
    fn write_step(&self, fd: RawFd, max: usize, max_iov: usize) -> io::Result<Step> {
        let step = {
            let mut inner = self.inner.borrow_mut();
            let to_fd = u64::from(inner.flags) & EVBUFFER_FLAG_DRAINS_TO_FD != 0;
            let first = inner.chunks.iter().find(|c| !c.is_empty());
            if let Some((src, offset, n)) = first
                .filter(|_| to_fd)
                .and_then(|c| c.file_origin().map(|(s, o)| (s, o, c.len().min(max))))
            {
                drop(inner);
                let sent = send_file(fd, src, offset, n)?;
                self.drain_unfrozen(sent);
                return Ok(Step {
                    written: sent,
                    tried: n,
                    at_file: true,
                });
            }
            // On the stack, and left uninitialized past what is filled in:
            // a write allocates nothing and clears no 2 KiB array.
            let mut iov = [const { MaybeUninit::<libc::iovec>::uninit() }; MAX_IOVECS];
            let max_iov = max_iov.clamp(1, MAX_IOVECS);
            let mut count = 0;
            let mut tried = 0;
            let mut at_file = false;
            let mut left = max.min(inner.len);
            for c in inner.chunks.iter_mut() {
                if left == 0 || count == max_iov {
                    break;
                }
                if c.is_empty() {
                    continue;
                }
                if to_fd && c.file_origin().is_some() {
                    at_file = true;
                    break;
                }
                let n = c.len().min(left);
                iov[count].write(libc::iovec {
                    iov_base: c.data_ptr().cast(),
                    iov_len: n,
                });
                count += 1;
                tried += n;
                left -= n;
            }
            if count == 0 {
                return Ok(Step {
                    written: 0,
                    tried: 0,
                    at_file: false,
                });
            }
            let got = if count == 1 {
                // SAFETY: entry 0 was filled in above.
                let one = unsafe { iov[0].assume_init() };
                // One region: a plain write spares the kernel copying in an
                // iovec array.
                // SAFETY: a readable region of a chunk we hold; write only
                // reads from it.
                unsafe { libc::write(fd, one.iov_base, one.iov_len) }
            } else {
                // SAFETY: the first `count` entries were filled in above
                // (MaybeUninit<iovec> has iovec's layout), each a readable
                // region of a chunk we hold; writev only reads from them.
                unsafe { libc::writev(fd, iov.as_ptr().cast(), count as libc::c_int) }
            };
            if got < 0 {
                return Err(io::Error::last_os_error());
            }
            Step {
                written: got as usize,
                tried,
                at_file,
            }
        };
        self.drain_unfrozen(step.written);
        Ok(step)
    }
}

/// What one system call of a write did.
struct Step {
    written: usize,
    tried: usize,
    /// It stopped before (or sent) a file segment: more may follow.
    at_file: bool,
}

/// Sends `len` bytes of file `src` from `offset` to `fd` with sendfile.
fn send_file(fd: RawFd, src: RawFd, offset: i64, len: usize) -> io::Result<usize> {
    let mut off = offset as libc::off_t;
    // SAFETY: sendfile reads and updates only `off`, a local we own.
    let got = unsafe { libc::sendfile(fd, src, &mut off, len) };
    if got < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(got as usize)
}

/// Reads `length` bytes (to the end of the file if negative) from `fd`
/// starting at `offset`, with `pread`, leaving the file position alone.
pub fn read_file_range(fd: RawFd, offset: i64, length: i64) -> io::Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut at = offset;
    let mut left = u64::try_from(length).ok();
    let mut block = vec![0u8; LARGE];
    loop {
        let want = left.map_or(block.len(), |l| l.min(block.len() as u64) as usize);
        if want == 0 {
            return Ok(out);
        }
        // SAFETY: `block` is writable for `want` <= block.len() bytes.
        let got = unsafe { libc::pread(fd, block.as_mut_ptr().cast(), want, at) };
        if got < 0 {
            return Err(io::Error::last_os_error());
        }
        if got == 0 {
            return match left {
                Some(l) if l > 0 => Err(io::Error::from(io::ErrorKind::UnexpectedEof)),
                _ => Ok(out),
            };
        }
        let got = got as usize;
        out.extend_from_slice(&block[..got]);
        at += got as i64;
        left = left.map(|l| l - got as u64);
    }
}

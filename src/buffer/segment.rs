//! File segments (`struct evbuffer_file_segment`): a range of a file whose
//! bytes buffers share, read in once when first added.

use std::cell::{Cell, OnceCell};
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;

use super::chunk::Foreign;
use super::io::read_file_range;
use super::{Buffer, BufferError};
use crate::ffi::buffer::EVBUFFER_FLAG_DRAINS_TO_FD;

/// `EVBUF_FS_CLOSE_ON_FREE`: close the descriptor with the segment.
pub const FS_CLOSE_ON_FREE: u32 = 0x01;
/// `EVBUF_FS_DISABLE_MMAP`: read the range instead of mapping it.
pub const FS_DISABLE_MMAP: u32 = 0x02;
/// `EVBUF_FS_DISABLE_SENDFILE`: never send the range with sendfile.
pub const FS_DISABLE_SENDFILE: u32 = 0x04;

/// A segment's bytes once they are in memory.
enum Contents {
    /// Mapped read-only: `len` bytes at `base + skip` of a mapping of
    /// `skip + len` bytes (mappings start on a page boundary).
    Mapped {
        base: *mut libc::c_void,
        skip: usize,
        len: usize,
    },
    /// Read in with pread.
    Read(Box<[u8]>),
}

impl Contents {
    fn bytes(&self) -> &[u8] {
        match self {
            Contents::Mapped { base, skip, len } => {
                // SAFETY: the mapping covers skip + len readable bytes and
                // lives as long as `self` (unmapped in Drop).
                unsafe { std::slice::from_raw_parts(base.cast::<u8>().add(*skip), *len) }
            }
            Contents::Read(b) => b,
        }
    }

    /// Maps `length` bytes of `fd` from `offset`, as libevent 2.1.12 does
    /// unless told not to; `None` if the system refuses. The mapping starts
    /// at the page boundary before `offset`, so with `length` 0 it still
    /// maps (and never touches) the bytes in between, if any, as 2.1.12
    /// does; at a page boundary nothing is left to map and it fails.
    fn map(fd: RawFd, offset: i64, length: usize) -> Option<Contents> {
        // SAFETY: sysconf has no memory effects.
        let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
        let page = Some(page as i64).filter(|&p| p > 0)?;
        let skip = offset % page;
        let map_len = length.checked_add(skip as usize).filter(|&n| n > 0)?;
        // SAFETY: a new private read-only mapping chosen by the kernel; it
        // aliases no memory of ours.
        let base = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                map_len,
                libc::PROT_READ,
                libc::MAP_PRIVATE,
                fd,
                (offset - skip) as libc::off_t,
            )
        };
        if base == libc::MAP_FAILED {
            return None;
        }
        Some(Contents::Mapped {
            base,
            skip: skip as usize,
            len: length,
        })
    }
}

impl Drop for Contents {
    fn drop(&mut self) {
        if let Contents::Mapped { base, skip, len } = *self {
            // SAFETY: the mapping made in `map`, unmapped once; no slice of
            // it outlives `self`.
            unsafe { libc::munmap(base, skip + len) };
        }
    }
}

/// Runs once a segment is gone, with its flags.
pub type SegmentCleanup = Box<dyn FnOnce(u32)>;

/// A range of an open file. Shared through `Rc`: the program's handle holds
/// one reference and every chunk with some of its bytes another; when the
/// last goes, the descriptor is closed (with [`FS_CLOSE_ON_FREE`]) and then
/// the cleanup runs.
pub struct FileSegment {
    fd: RawFd,
    offset: i64,
    length: i64,
    flags: u32,
    contents: OnceCell<Contents>,
    cleanup: Cell<Option<SegmentCleanup>>,
}

impl FileSegment {
    /// A segment of `length` bytes of `fd` from `offset`; a `length` of -1
    /// means the file's size, as libevent takes it.
    pub fn new(fd: RawFd, offset: i64, length: i64, flags: u32) -> io::Result<Rc<FileSegment>> {
        let length = if length == -1 { file_size(fd)? } else { length };
        if offset < 0 || length < 0 || offset.checked_add(length).is_none() {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        // Not closing fd until made: a segment refused here leaves it to the
        // caller, as in 2.1.12.
        let mut seg = FileSegment {
            fd,
            offset,
            length,
            flags: flags & !FS_CLOSE_ON_FREE,
            contents: OnceCell::new(),
            cleanup: Cell::new(None),
        };
        // Without sendfile 2.1.12 reads the bytes in at once, so a segment
        // it cannot read in is refused here rather than when added.
        if flags & FS_DISABLE_SENDFILE != 0 {
            seg.contents()?;
        }
        seg.flags = flags;
        Ok(Rc::new(seg))
    }

    /// Sets what runs, with the segment's flags, once the segment is gone.
    pub fn set_cleanup(&self, cleanup: SegmentCleanup) {
        self.cleanup.set(Some(cleanup));
    }

    /// The segment's bytes: mapped when first added to a buffer (when made,
    /// under EVBUF_FS_DISABLE_SENDFILE), or read
    /// with pread under EVBUF_FS_DISABLE_MMAP or if mapping fails, as
    /// 2.1.12 chooses. A buffer that drains to a socket sends the range
    /// with sendfile instead (see [`file_origin`]), so a mapping's pages
    /// are then never touched; 2.1.12 does not even map it there.
    fn contents(&self) -> io::Result<&[u8]> {
        if let Some(c) = self.contents.get() {
            return Ok(c.bytes());
        }
        let len = usize::try_from(self.length).map_err(|_| io::ErrorKind::InvalidInput)?;
        // A range past the end of the file is not mapped: touching the
        // missing pages would kill the program (SIGBUS); read, it fails.
        let fits = file_size(self.fd).is_ok_and(|size| {
            self.offset
                .checked_add(self.length)
                .is_some_and(|end| end <= size)
        });
        let may_map = self.flags & FS_DISABLE_MMAP == 0;
        // An empty segment maps no byte it would read, so it is mapped
        // wherever it lies, as 2.1.12 maps it.
        let mapped = if may_map && (fits || len == 0) {
            Contents::map(self.fd, self.offset, len)
        } else {
            None
        };
        let contents = match mapped {
            Some(m) => m,
            // 2.1.12 reads an unmapped segment into memory it allocates,
            // and asking its allocator for nothing gives nothing: an empty
            // segment that is not mapped fails.
            None if len == 0 => return Err(io::Error::from(io::ErrorKind::InvalidInput)),
            None => {
                let data = read_file_range(self.fd, self.offset, self.length)?;
                if (data.len() as u64) < self.length as u64 {
                    return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
                }
                Contents::Read(data.into_boxed_slice())
            }
        };
        Ok(self.contents.get_or_init(|| contents).bytes())
    }
}

impl Drop for FileSegment {
    fn drop(&mut self) {
        if self.flags & FS_CLOSE_ON_FREE != 0 && self.fd >= 0 {
            // SAFETY: the segment owns fd when asked to close it.
            unsafe { libc::close(self.fd) };
        }
        if let Some(cleanup) = self.cleanup.take() {
            cleanup(self.flags);
        }
    }
}

/// The bytes read in by `contents` (empty before).
fn loaded(seg: &FileSegment) -> &[u8] {
    seg.contents.get().map_or(&[], Contents::bytes)
}

/// Where the bytes at `data` (inside the contents of `seg`) lie in the
/// segment's file, for sendfile: its descriptor and offset. None when the
/// segment forbids sendfile (EVBUF_FS_DISABLE_SENDFILE).
pub(crate) fn file_origin(seg: &FileSegment, data: *const u8) -> Option<(RawFd, i64)> {
    if seg.flags & FS_DISABLE_SENDFILE != 0 {
        return None;
    }
    let base = loaded(seg).as_ptr() as usize;
    let skip = (data as usize).checked_sub(base)?;
    Some((seg.fd, seg.offset + i64::try_from(skip).ok()?))
}

/// The size of the open file `fd`.
pub fn file_size(fd: RawFd) -> io::Result<i64> {
    // SAFETY: an all-zero stat is a valid value to be overwritten.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `st` is a writable stat; fstat only fills it.
    if unsafe { libc::fstat(fd, &mut st) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(st.st_size)
}

impl Buffer {
    /// Appends `length` bytes of `seg` from `offset` in it (to its end if
    /// `length` is negative), without copying them again.
    pub fn add_segment(
        &self,
        seg: &Rc<FileSegment>,
        offset: i64,
        length: i64,
    ) -> Result<(), BufferError> {
        // 2.1.12 reads nothing in for a buffer that drains to a socket
        // (it sends file bytes with sendfile); we do, but for an empty
        // segment there is nothing to read and nothing may fail.
        let drains = self.flags() & EVBUFFER_FLAG_DRAINS_TO_FD != 0;
        if !(drains && seg.length == 0) {
            seg.contents().map_err(|_| BufferError::Invalid)?;
        }
        self.check_back()?;
        let length = if length < 0 {
            if offset > seg.length {
                return Err(BufferError::Invalid);
            }
            seg.length - offset
        } else {
            length
        };
        if offset < 0
            || offset
                .checked_add(length)
                .is_none_or(|end| end > seg.length)
        {
            return Err(BufferError::Invalid);
        }
        let chunk = Foreign::shared(seg.clone(), loaded, offset as usize, length as usize);
        self.add_foreign(chunk)
    }
}

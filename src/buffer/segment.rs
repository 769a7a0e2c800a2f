//! File segments (`struct evbuffer_file_segment`): a range of a file whose
//! bytes buffers share, read in once when first added.

use std::cell::{Cell, OnceCell};
use std::io;
use std::os::fd::RawFd;
use std::rc::Rc;

use super::chunk::Foreign;
use super::io::read_file_range;
use super::{Buffer, BufferError};

/// `EVBUF_FS_CLOSE_ON_FREE`: close the descriptor with the segment.
pub const FS_CLOSE_ON_FREE: u32 = 0x01;

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
    contents: OnceCell<Box<[u8]>>,
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
        Ok(Rc::new(FileSegment {
            fd,
            offset,
            length,
            flags,
            contents: OnceCell::new(),
            cleanup: Cell::new(None),
        }))
    }

    /// Sets what runs, with the segment's flags, once the segment is gone.
    pub fn set_cleanup(&self, cleanup: SegmentCleanup) {
        self.cleanup.set(Some(cleanup));
    }

    // LIMITATION: 2.1.12 maps the file or sends it with sendfile; we read the
    // range into memory when it is first added; a caller sees the same bytes,
    // read up front; mmap or sendfile on the write path would lift it.
    fn contents(&self) -> io::Result<&[u8]> {
        if let Some(c) = self.contents.get() {
            return Ok(c);
        }
        let data = read_file_range(self.fd, self.offset, self.length)?;
        if (data.len() as u64) < self.length as u64 {
            return Err(io::Error::from(io::ErrorKind::UnexpectedEof));
        }
        Ok(self.contents.get_or_init(|| data.into_boxed_slice()))
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
    seg.contents.get().map_or(&[], |c| &c[..])
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
        seg.contents().map_err(|_| BufferError::Invalid)?;
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

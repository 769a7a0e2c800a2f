//! Lines: end-of-line styles, `evbuffer_search_eol` and `evbuffer_readln`.

use super::{Buffer, BufferError, Inner};

/// How a line ends (`enum evbuffer_eol_style`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Eol {
    /// Any run of CR and LF characters.
    Any,
    /// LF, optionally preceded by CR.
    Crlf,
    /// CR LF only.
    CrlfStrict,
    /// LF only.
    Lf,
    /// A zero byte.
    Nul,
}

impl Eol {
    /// The style for a C value (0..4), if it is one.
    pub fn from_c(v: i32) -> Option<Eol> {
        Some(match v {
            0 => Eol::Any,
            1 => Eol::Crlf,
            2 => Eol::CrlfStrict,
            3 => Eol::Lf,
            4 => Eol::Nul,
            _ => return None,
        })
    }
}

fn is_cr_or_lf(b: u8) -> bool {
    b == b'\r' || b == b'\n'
}

impl Inner {
    /// Finds the first line end at or after `start`, looking for where one
    /// begins only from `scan_from` on (no line end starts between them).
    /// Returns (position, length of the end), or else the position from
    /// which a later search must look again once more bytes arrive.
    fn find_eol(
        &self,
        start: usize,
        scan_from: usize,
        style: Eol,
    ) -> Result<(usize, usize), usize> {
        let len = self.len;
        match style {
            Eol::Lf => self.find_exact(scan_from, b'\n').map(|p| (p, 1)).ok_or(len),
            Eol::Nul => self.find_exact(scan_from, 0).map(|p| (p, 1)).ok_or(len),
            Eol::Any => match self.find_byte(scan_from, is_cr_or_lf) {
                Some(p) => Ok((p, self.span(p, is_cr_or_lf))),
                None => Err(len),
            },
            Eol::Crlf => match self.find_exact(scan_from, b'\n') {
                Some(p) if p > start && self.byte_at(p - 1) == Some(b'\r') => Ok((p - 1, 2)),
                Some(p) => Ok((p, 1)),
                None => Err(len),
            },
            Eol::CrlfStrict => {
                let mut at = scan_from;
                loop {
                    let Some(p) = self.find_exact(at, b'\r') else {
                        return Err(len);
                    };
                    match self.byte_at(p + 1) {
                        Some(b'\n') => return Ok((p, 2)),
                        // A CR at the very end may yet be followed by LF.
                        None => return Err(p),
                        Some(_) => at = p + 1,
                    }
                }
            }
        }
    }
}

impl Buffer {
    /// Finds the first line end at or after `start`: (position, length).
    pub fn search_eol(&self, start: usize, style: Eol) -> Option<(usize, usize)> {
        let inner = self.inner.borrow();
        if start > inner.len {
            return None;
        }
        inner.find_eol(start, start, style).ok()
    }

    /// Removes the first complete line and its end, handing the line to
    /// `out`, which gets the line's length and returns where to copy it
    /// (`None` if it cannot provide room: the line then stays). Returns the
    /// line's length, or `None` when there is no complete line yet.
    ///
    /// A long line without an end is not rescanned from its start on every
    /// call: the buffer remembers how far it looked.
    pub fn readln_with<'a>(
        &self,
        style: Eol,
        out: impl FnOnce(usize) -> Option<&'a mut [u8]>,
    ) -> Result<Option<usize>, BufferError> {
        let (orig, line, eol_len) = {
            let mut inner = self.inner.borrow_mut();
            if inner.frozen_front {
                return Err(BufferError::Frozen);
            }
            let scan_from = match inner.scan() {
                Some((s, p)) if s == style => p,
                _ => 0,
            };
            let (pos, eol_len) = match inner.find_eol(0, scan_from, style) {
                Ok(found) => found,
                Err(resume) => {
                    inner.set_scan(Some((style, resume)));
                    return Ok(None);
                }
            };
            let Some(dest) = out(pos) else {
                return Ok(None);
            };
            inner.copy_at(0, &mut dest[..pos]);
            let orig = inner.len;
            inner.drain(pos);
            (orig, pos, eol_len)
        };
        // Two changes, as libevent 2.1.12 reports them: the line, then its
        // end, which is whatever is in front once the callbacks have run.
        self.bury();
        self.notify(orig, 0, line);
        let _ = self.drain(eol_len);
        Ok(Some(line))
    }

    /// [`Buffer::readln_with`] into a `Vec`.
    pub fn readln(&self, style: Eol) -> Result<Option<Vec<u8>>, BufferError> {
        let mut line = Vec::new();
        let got = self.readln_with(style, |n| {
            line.resize(n, 0);
            Some(&mut line[..])
        })?;
        Ok(got.map(|_| line))
    }
}

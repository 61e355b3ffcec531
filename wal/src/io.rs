//! The file-system seam of the write path.
//!
//! The writer thread does all its I/O through [`WalIo`] and [`SegmentWriter`], so tests can
//! inject failures at every call ([`crate::fault`]) and the io_uring backend can replace the
//! standard one. Recovery and replay read with `std::fs` directly: they are not on the write
//! path and a read failure already surfaces as an error.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Creates, opens and removes segment files and syncs the WAL directory.
pub trait WalIo: Send + Sync + 'static {
    /// Creates a new, empty segment file; fails if it exists.
    fn create_segment(&self, path: &Path) -> io::Result<Box<dyn SegmentWriter>>;
    /// Opens an existing segment to append at byte offset `len` (its valid length).
    fn open_segment(&self, path: &Path, len: u64) -> io::Result<Box<dyn SegmentWriter>>;
    /// Removes a segment file.
    fn remove_segment(&self, path: &Path) -> io::Result<()>;
    /// Makes creations and removals in `dir` durable; `handle` is the directory, opened
    /// once when the log opened (a descriptor shortage later cannot stop the log).
    fn sync_dir(&self, dir: &Path, handle: &File) -> io::Result<()>;
}

/// Appends to one open segment file.
pub trait SegmentWriter: Send {
    /// Writes all of `buf` at the end of the segment.
    fn append(&mut self, buf: &[u8]) -> io::Result<()>;
    /// Makes everything appended so far durable (`fdatasync`).
    fn sync(&mut self) -> io::Result<()>;
    /// Appends and syncs; a backend may submit both at once.
    fn append_and_sync(&mut self, buf: &[u8]) -> io::Result<()> {
        self.append(buf)?;
        self.sync()
    }
}

/// Plain `pwrite` + `fdatasync`.
#[derive(Debug, Default, Clone, Copy)]
pub struct StdIo;

impl WalIo for StdIo {
    fn create_segment(&self, path: &Path) -> io::Result<Box<dyn SegmentWriter>> {
        let file = OpenOptions::new().write(true).create_new(true).open(path)?;
        Ok(Box::new(StdSegment { file, offset: 0 }))
    }

    fn open_segment(&self, path: &Path, len: u64) -> io::Result<Box<dyn SegmentWriter>> {
        let file = OpenOptions::new().write(true).open(path)?;
        Ok(Box::new(StdSegment { file, offset: len }))
    }

    fn remove_segment(&self, path: &Path) -> io::Result<()> {
        std::fs::remove_file(path)
    }

    fn sync_dir(&self, _dir: &Path, handle: &File) -> io::Result<()> {
        handle.sync_all()
    }
}

struct StdSegment {
    file: File,
    offset: u64,
}

impl SegmentWriter for StdSegment {
    fn append(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file.write_all_at(buf, self.offset)?;
        self.offset += buf.len() as u64;
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        self.file.sync_data()
    }
}

//! The io_uring write path: a segment's write and its `fdatasync` go to the kernel as one
//! linked submission, one system call instead of two. Selected by `io-backend = "io-uring"`;
//! [`crate::io::StdIo`] stays the fallback where the kernel refuses io_uring.

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::Path;

use io_uring::{IoUring, opcode, squeue, types};

use crate::io::{SegmentWriter, StdIo, WalIo};

/// Whether this kernel lets the process set up an io_uring (it may be compiled out, or
/// disabled by `kernel.io_uring_disabled` or a seccomp filter).
pub fn io_uring_available() -> bool {
    IoUring::new(2).is_ok()
}

/// Largest single write submitted; larger buffers are split.
const MAX_WRITE: usize = 1 << 30;
const WRITE_TAG: u64 = 1;
const SYNC_TAG: u64 = 2;

/// Segment files written through a private io_uring each.
#[derive(Debug, Default, Clone, Copy)]
pub struct UringIo;

impl WalIo for UringIo {
    fn create_segment(&self, path: &Path) -> io::Result<Box<dyn SegmentWriter>> {
        let file = OpenOptions::new().write(true).create_new(true).open(path)?;
        Ok(Box::new(UringSegment::new(file, 0)?))
    }

    fn open_segment(&self, path: &Path, len: u64) -> io::Result<Box<dyn SegmentWriter>> {
        let file = OpenOptions::new().write(true).open(path)?;
        Ok(Box::new(UringSegment::new(file, len)?))
    }

    // Directory operations are rare; io_uring buys nothing there.
    fn remove_segment(&self, path: &Path) -> io::Result<()> {
        StdIo.remove_segment(path)
    }

    fn sync_dir(&self, dir: &Path, handle: &std::fs::File) -> io::Result<()> {
        StdIo.sync_dir(dir, handle)
    }
}

struct UringSegment {
    file: File,
    ring: IoUring,
    offset: u64,
}

impl UringSegment {
    fn new(file: File, offset: u64) -> io::Result<Self> {
        Ok(Self {
            file,
            ring: IoUring::new(4)?,
            offset,
        })
    }

    fn write_entry(&self, buf: &[u8]) -> squeue::Entry {
        let len = buf.len().min(MAX_WRITE) as u32;
        opcode::Write::new(types::Fd(self.file.as_raw_fd()), buf.as_ptr(), len)
            .offset(self.offset)
            .build()
            .user_data(WRITE_TAG)
    }

    fn sync_entry(&self) -> squeue::Entry {
        opcode::Fsync::new(types::Fd(self.file.as_raw_fd()))
            .flags(types::FsyncFlags::DATASYNC)
            .build()
            .user_data(SYNC_TAG)
    }

    /// Submits `entries`, waits for all their completions, and returns the results in
    /// submission order (tags are 1-based positions).
    ///
    /// # Safety
    /// Every buffer the entries point to must stay alive and unmoved until this returns;
    /// it does not return before all completions are reaped.
    unsafe fn run(&mut self, entries: &[squeue::Entry]) -> io::Result<[i32; 2]> {
        debug_assert!(entries.len() <= 2);
        {
            let mut queue = self.ring.submission();
            for entry in entries {
                // SAFETY: the caller guarantees the buffers outlive the completion, which we
                // wait for below before returning.
                unsafe { queue.push(entry) }
                    .map_err(|_| io::Error::other("io_uring submission queue full"))?;
            }
        }
        let mut results = [0i32; 2];
        let mut reaped = 0;
        while reaped < entries.len() {
            match self.ring.submit_and_wait(entries.len() - reaped) {
                Ok(_) => {}
                Err(err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(err),
            }
            for cqe in self.ring.completion() {
                let tag = cqe.user_data() as usize;
                results[tag - 1] = cqe.result();
                reaped += 1;
            }
        }
        Ok(results)
    }

    /// Applies the result of one write completion, returning the bytes written.
    fn written(&mut self, result: i32) -> io::Result<usize> {
        if result < 0 {
            return Err(io::Error::from_raw_os_error(-result));
        }
        if result == 0 {
            return Err(io::Error::new(
                io::ErrorKind::WriteZero,
                "io_uring write wrote nothing",
            ));
        }
        self.offset += result as u64;
        Ok(result as usize)
    }
}

fn sync_result(result: i32) -> io::Result<()> {
    if result < 0 {
        Err(io::Error::from_raw_os_error(-result))
    } else {
        Ok(())
    }
}

impl SegmentWriter for UringSegment {
    fn append(&mut self, mut buf: &[u8]) -> io::Result<()> {
        while !buf.is_empty() {
            let entry = self.write_entry(buf);
            // SAFETY: `buf` is borrowed for this whole call and `run` reaps the completion.
            let [result, _] = unsafe { self.run(&[entry])? };
            let written = self.written(result)?;
            buf = &buf[written..];
        }
        Ok(())
    }

    fn sync(&mut self) -> io::Result<()> {
        let entry = self.sync_entry();
        // SAFETY: fsync references no buffer.
        let [result, _] = unsafe { self.run(&[entry])? };
        sync_result(result)
    }

    fn append_and_sync(&mut self, buf: &[u8]) -> io::Result<()> {
        if buf.is_empty() || buf.len() > MAX_WRITE {
            self.append(buf)?;
            return self.sync();
        }
        let write = self.write_entry(buf).flags(squeue::Flags::IO_LINK);
        let sync = self.sync_entry();
        // SAFETY: `buf` is borrowed for this whole call and `run` reaps both completions.
        let [write_result, sync_result_code] = unsafe { self.run(&[write, sync])? };
        let written = self.written(write_result)?;
        if written < buf.len() {
            // A short write breaks the link: the kernel cancelled the fsync.
            self.append(&buf[written..])?;
            return self.sync();
        }
        sync_result(sync_result_code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linked_write_and_sync_lands_bytes() {
        if !io_uring_available() {
            eprintln!("io_uring unavailable on this kernel; skipping");
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("seg");
        let mut segment = UringIo.create_segment(&path).unwrap();
        segment.append_and_sync(b"hello ").unwrap();
        segment.append(b"io_uring").unwrap();
        segment.sync().unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"hello io_uring");
        let mut reopened = UringIo.open_segment(&path, 6).unwrap();
        reopened.append_and_sync(b"world!!!").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"hello world!!!");
    }
}

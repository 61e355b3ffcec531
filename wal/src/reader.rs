//! Replay: records in sequence order from a starting sequence number.

use std::path::PathBuf;

use bytes::Bytes;

use crate::error::{Error, Result};
use crate::format::{SEGMENT_HEADER_LEN, decode_frame, decode_header};

/// One record read back from the log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Its sequence number.
    pub seq: u64,
    /// The bytes that were appended (a zero-copy slice of the segment read into memory).
    pub payload: Bytes,
}

/// Iterates over records `[from, end)` where `end` was the written position when the reader
/// was created. Each segment is read with one `read` call and its frames are checked as they
/// are yielded: damage is an [`Error::Corrupt`] naming file and offset, after which the
/// iterator ends.
pub struct WalReader {
    /// Segments still to read: (first seq, path), in order.
    segments: std::vec::IntoIter<(u64, PathBuf)>,
    /// First seq of the segment after the current one, if any (to check contiguity).
    following_first: Vec<u64>,
    /// Sequence number of the next record to yield.
    next_seq: u64,
    /// Sequence number of the next frame in the current segment.
    next_frame_seq: u64,
    end_seq: u64,
    max_record: u64,
    current: Option<Current>,
    done: bool,
}

struct Current {
    path: PathBuf,
    bytes: Bytes,
    offset: usize,
    /// First seq of the next segment, if there is one: this segment must end just before it.
    next_segment_first: Option<u64>,
}

impl WalReader {
    pub(crate) fn new(
        segments: Vec<(u64, PathBuf)>,
        from: u64,
        end_seq: u64,
        max_record: u64,
    ) -> Self {
        // Skip segments that end before `from`.
        let start = segments
            .iter()
            .rposition(|(first, _)| *first <= from)
            .unwrap_or(0);
        let segments: Vec<_> = segments.into_iter().skip(start).collect();
        let following_first = segments
            .iter()
            .skip(1)
            .map(|(first, _)| *first)
            .rev()
            .collect();
        Self {
            segments: segments.into_iter(),
            following_first,
            next_seq: from,
            next_frame_seq: from,
            end_seq,
            max_record,
            current: None,
            done: from >= end_seq,
        }
    }

    /// The sequence number the next record will have.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    fn open_next_segment(&mut self) -> Result<bool> {
        let Some((first_seq, path)) = self.segments.next() else {
            return Ok(false);
        };
        let next_segment_first = self.following_first.pop();
        let bytes = std::fs::read(&path).map_err(|err| Error::io(&path, err))?;
        let header_seq = decode_header(&bytes).map_err(|reason| Error::Corrupt {
            path: path.clone(),
            offset: 0,
            reason,
        })?;
        if header_seq != first_seq {
            return Err(Error::Corrupt {
                path,
                offset: 12,
                reason: format!("header says first seq {header_seq}, file name says {first_seq}"),
            });
        }
        if first_seq > self.next_seq {
            return Err(Error::Corrupt {
                path,
                offset: 0,
                reason: format!(
                    "segment starts at seq {first_seq}, expected {}",
                    self.next_seq
                ),
            });
        }
        // Frames before `from` are walked (and checked) but not yielded.
        self.next_frame_seq = first_seq;
        self.current = Some(Current {
            path,
            bytes: Bytes::from(bytes),
            offset: SEGMENT_HEADER_LEN,
            next_segment_first,
        });
        Ok(true)
    }

    fn read_next(&mut self) -> Result<Option<Record>> {
        loop {
            if self.next_seq >= self.end_seq {
                return Ok(None);
            }
            if self.current.is_none() && !self.open_next_segment()? {
                return Ok(None);
            }
            let current = self.current.as_mut().expect("segment open");
            let rest = &current.bytes[current.offset..];
            if rest.is_empty() {
                // Segment ended cleanly; it must end exactly where the next one begins, and the
                // last one must hold every record written before this reader was created.
                let must_end_at = current.next_segment_first.unwrap_or(self.end_seq);
                if self.next_frame_seq < must_end_at
                    || current
                        .next_segment_first
                        .is_some_and(|next| next != self.next_frame_seq)
                {
                    return Err(Error::Corrupt {
                        path: current.path.clone(),
                        offset: current.offset as u64,
                        reason: format!(
                            "segment ends before seq {}, but records continue at seq {must_end_at}",
                            self.next_frame_seq
                        ),
                    });
                }
                self.current = None;
                continue;
            }
            let frame =
                decode_frame(rest, self.next_frame_seq, self.max_record).map_err(|damage| {
                    Error::Corrupt {
                        path: current.path.clone(),
                        offset: current.offset as u64,
                        reason: damage.to_string(),
                    }
                })?;
            let start = current.offset + crate::format::FRAME_HEADER_LEN;
            let payload = current.bytes.slice(start..start + frame.payload.len());
            let seq = frame.seq;
            current.offset += frame.encoded_len();
            self.next_frame_seq += 1;
            if seq < self.next_seq {
                continue;
            }
            self.next_seq = seq + 1;
            return Ok(Some(Record { seq, payload }));
        }
    }
}

impl Iterator for WalReader {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.done {
            return None;
        }
        match self.read_next() {
            Ok(Some(record)) => Some(Ok(record)),
            Ok(None) => {
                self.done = true;
                None
            }
            Err(err) => {
                self.done = true;
                Some(Err(err))
            }
        }
    }
}

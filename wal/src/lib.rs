//! IceGate's write-ahead log: the place where an acknowledged record becomes durable.
//!
//! The ingest server appends every request to the WAL and acknowledges it only after
//! [`Appended::durable`] resolves. Records stay here until the Iceberg commit that covers them
//! succeeds; then [`Wal::truncate_before`] deletes the segments they lived in. After a crash,
//! [`Wal::read_from`] replays everything the lake does not cover yet.
//!
//! ```no_run
//! # async fn demo() -> Result<(), icegate_wal::Error> {
//! use icegate_wal::{Wal, WalConfig};
//! let (wal, recovery) = Wal::open("./icegate-data/wal", WalConfig::default())?;
//! println!("recovered up to seq {}", recovery.next_seq);
//! let seq = wal.append(b"one request's bytes")?.durable().await?; // fsynced (policy `always`)
//! for record in wal.read_from(seq)? {
//!     let record = record?;
//!     assert_eq!(record.seq, seq);
//! }
//! wal.truncate_before(seq + 1)?; // once the lake covers everything below seq + 1
//! # Ok(()) }
//! ```
//!
//! # On-disk format (version 1)
//!
//! A WAL is a directory of segment files plus a `LOCK` file (held with an exclusive advisory
//! lock while a [`Wal`] is open, so two processes never write one log).
//!
//! ```text
//! wal/
//!   LOCK
//!   00000000000000000000.wal     segment whose first record has seq 0
//!   00000000000000001742.wal     segment whose first record has seq 1742
//! ```
//!
//! A segment file is named by the sequence number of its first record, as 20 decimal digits,
//! so lexical and numeric order agree. Sequence numbers start at 0 and increase by one per
//! record without gaps across segments. Every integer is little-endian.
//!
//! ```text
//! segment  = header frame*
//!
//! header   (24 bytes)
//!   0   8  magic            b"ICEGWAL\0"
//!   8   4  format version   u32 = 1
//!  12   8  first seq        u64, equal to the number in the file name
//!  20   4  header crc       u32 CRC-32C of bytes 0..20
//!
//! frame    (16 + len bytes)
//!   0   4  len              u32 payload length (≤ max-record-size)
//!   4   4  crc              u32 CRC-32C of payload ‖ len (4 bytes) ‖ seq (8 bytes)
//!   8   8  seq              u64 sequence number: previous frame's + 1
//!  16 len  payload          opaque bytes
//! ```
//!
//! The CRC covers the payload first so it can be computed before the appender takes the log's
//! lock (only the 12 header bytes are folded in under the lock). A frame is valid when its
//! length is within the limit, it lies wholly inside the file, its CRC matches, and its
//! sequence number is the expected one.
//!
//! # Writing and durability
//!
//! Appenders copy their framed record into a shared queue; one writer thread writes everything
//! queued with a single write per segment and then, under [`SyncPolicy::Always`], one
//! `fdatasync` for the whole group (group commit): 64 concurrent appenders share one fsync.
//! [`SyncPolicy::Interval`] acknowledges once the bytes are in the OS (they survive a process
//! crash) and fsyncs at most `sync-interval` later; [`SyncPolicy::Never`] never fsyncs
//! (benchmarks only). A segment rotates before a record would take it past `segment-size`; the
//! finished segment is fsynced, the new one is created, its header fsynced, and the directory
//! fsynced, before any record is written into it. Segment deletion fsyncs the directory too.
//!
//! If a write or fsync fails, the log stops: every record not yet durable fails with
//! [`Error::Failed`], as do later appends, and the log must be reopened. (After a failed
//! fsync the kernel's page cache can no longer be trusted to match the disk, so retrying the
//! fsync would lie.) Records whose append failed may still be replayed after the reopen: a
//! failed acknowledgement means "maybe written", never "acknowledged and lost".
//!
//! # Recovery
//!
//! [`Wal::open`] checks every segment header and scans the last segment. A damaged frame in the
//! last segment with no valid frame after it is a torn tail (a crash during the last group's
//! write): the file is truncated to the last valid frame, fsynced, and a warning logged.
//! A damaged frame followed by a valid one is corruption of data that was once complete, and
//! [`Error::Corrupt`] names the file and offset; so does any damage inside an older segment,
//! found when [`Wal::read_from`] reaches it. Nothing is skipped silently.
//!
//! One case the format cannot tell apart: after a *power loss* (not a process crash), a disk
//! may persist the pages of an unsynced group out of order, leaving a hole followed by valid
//! frames of that same unacknowledged group. That reports [`Error::Corrupt`] too: refusing to
//! start is the safe answer, and the operator decides (the error names file and offset).

mod config;
mod error;
pub mod fault;
mod format;
pub mod io;
mod reader;
mod recovery;
mod segment;
mod uring;
mod wal;

pub use config::{ByteSize, IoBackend, SyncPolicy, WalConfig};
pub use error::{Error, Result};
pub use format::{FORMAT_VERSION, FRAME_HEADER_LEN, MAGIC, SEGMENT_HEADER_LEN};
pub use reader::{Record, WalReader};
pub use recovery::RecoveryReport;
pub use uring::io_uring_available;
pub use wal::{Appended, TruncateOutcome, Wal, WalStats};

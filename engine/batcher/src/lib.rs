//! Between decoding and writing: per-request Arrow mini-batches accumulate per table until a
//! size or age threshold, then leave as one batch sorted by the table's sort order.
//!
//! - [`Batcher`] groups mini-batches by [`TableKey`] (tenant namespace + table), seals a
//!   group when it reaches `flush-size` bytes or `flush-interval` age, concatenates and sorts
//!   it, and tracks which WAL sequence numbers the sealed batch covers.
//! - [`MemoryBudget`] accounts every byte a pending or sealed batch holds (Arrow's own buffer
//!   sizes, capacity included), so the server can push back before memory runs out; a
//!   [`Reservation`] gives its bytes back when the batch it belongs to is dropped.

mod batcher;
mod config;
mod error;
mod memory;
mod sort;

pub use batcher::{Batcher, SealedBatch, TableKey};
pub use config::BatcherConfig;
pub use error::{Error, Result};
pub use memory::{MemoryBudget, Reservation};
pub use sort::sort_batch;

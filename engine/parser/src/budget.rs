//! Memory a decode may use, granted before the batch grows past it.
//!
//! Resource and scope attributes (and a metric's name and description) are copied into
//! every row they cover, so a request's decoded size is not bounded by its own: one resource
//! with 4 KB of attributes over 200,000 empty log records is a 400 KB request and an 800 MB
//! batch. Every decoder therefore meters its batch after each row (values and offsets, see
//! the builders' `bytes`, plus its scratch arena and any parsed JSON tree) and asks its
//! [`DecodeBudget`] for more before it exceeds what was granted; a refusal stops the decode
//! with [`DecodeError::OverBudget`]. Envelopes are walked without collecting their items,
//! so a decode exceeds its grant by at most one record's decoded size.

use crate::error::{DecodeError, Result};

/// Grants memory to one decode.
pub trait DecodeBudget {
    /// Grants at least `bytes` in all for the batch being decoded and returns the new grant
    /// (`>= bytes`), or refuses: `retryable` when the memory is busy now (429), not when the
    /// request alone is over its limit (413). `reason` says which limit refused.
    fn grant(&mut self, bytes: u64) -> std::result::Result<u64, Refusal>;
}

/// Why a [`DecodeBudget`] refused a grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub retryable: bool,
    pub reason: String,
}

/// Grants everything: for decoding trusted or already-bounded input (tests, tools, replay).
#[derive(Debug, Clone, Copy, Default)]
pub struct Unlimited;

impl DecodeBudget for Unlimited {
    fn grant(&mut self, _bytes: u64) -> std::result::Result<u64, Refusal> {
        Ok(u64::MAX)
    }
}

/// Grants up to a fixed number of bytes (not retryable past it): the per-request cap of a
/// caller without a shared budget, and the fuzz targets' memory bound.
#[derive(Debug, Clone, Copy)]
pub struct Limit(pub u64);

impl DecodeBudget for Limit {
    fn grant(&mut self, bytes: u64) -> std::result::Result<u64, Refusal> {
        if bytes > self.0 {
            return Err(Refusal {
                retryable: false,
                reason: format!("over the {}-byte decode limit", self.0),
            });
        }
        Ok(self.0)
    }
}

/// A decoder's two entry points over its `run`: strict `decode` (any error rejects the
/// request; nothing from it is kept) and `decode_within` (within a budget, leaving out and
/// counting the records — `$what` — that do not decode: OTLP partial success).
macro_rules! entry_points {
    ($what:literal) => {
        /// Decodes one request; any error rejects the whole request. `received_at_nanos`
        /// files records that carry no time of their own.
        pub fn decode(
            &mut self,
            request: &[u8],
            received_at_nanos: i64,
        ) -> $crate::error::Result<arrow::array::RecordBatch> {
            self.run(
                request,
                received_at_nanos,
                &mut $crate::budget::Unlimited,
                $crate::budget::OnInvalid::Fail,
            )
            .map(|decoded| decoded.batch)
        }

        #[doc = concat!(
                            "Decodes one request within `budget`, leaving out (and counting) ",
                            $what,
                            " that do not decode (OTLP partial success)."
                        )]
        pub fn decode_within(
            &mut self,
            request: &[u8],
            received_at_nanos: i64,
            budget: &mut dyn $crate::budget::DecodeBudget,
        ) -> $crate::error::Result<$crate::budget::Decoded> {
            self.run(
                request,
                received_at_nanos,
                budget,
                $crate::budget::OnInvalid::Skip,
            )
        }
    };
}
pub(crate) use entry_points;

/// Scratch an arena may keep between requests; a larger one (left by a big request) is
/// freed, so it neither holds memory nor counts against the next request's budget.
const ARENA_KEEP: usize = 8 << 20;

/// Readies a decoder's arena for the next request.
pub(crate) fn reuse(arena: &mut bumpalo::Bump) {
    if arena.allocated_bytes() > ARENA_KEEP {
        *arena = bumpalo::Bump::new();
    } else {
        arena.reset();
    }
}

/// Most bytes one byte of a record's own encoding can become, in the batch and the arena
/// together: an empty span event is 2 bytes on the wire and about 80 decoded (its entry in
/// the events column and its scratch row). Only the frequency of exact measurements depends
/// on it, never what is granted.
pub(crate) const ITEM_EXPANSION: u64 = 48;

/// What every row costs besides strings (fixed-width values, offsets), at most.
pub(crate) const ROW_FIXED: u64 = 256;

/// A decode's running account against its budget.
pub(crate) struct Meter<'b> {
    granted: u64,
    budget: &'b mut dyn DecodeBudget,
}

impl<'b> Meter<'b> {
    pub fn new(budget: &'b mut dyn DecodeBudget) -> Self {
        Self { granted: 0, budget }
    }

    /// Checks the batch's size so far against the grant, asking for more when past it.
    #[inline]
    pub fn check(&mut self, bytes: u64) -> Result<()> {
        if bytes <= self.granted {
            return Ok(());
        }
        self.grow(bytes)
    }

    #[cold]
    fn grow(&mut self, bytes: u64) -> Result<()> {
        match self.budget.grant(bytes) {
            Ok(granted) => {
                self.granted = granted.max(bytes);
                Ok(())
            }
            Err(Refusal { retryable, reason }) => Err(DecodeError::OverBudget {
                bytes,
                retryable,
                reason,
            }),
        }
    }
}

/// What a decode kept and what it rejected: records whose own bytes are invalid (bad UTF-8
/// in one attribute, an id of the wrong size) are left out and counted, so the rest of an
/// export is stored (OTLP partial success). Errors in the envelope reject the whole request.
#[derive(Debug)]
pub struct Decoded {
    pub batch: arrow::array::RecordBatch,
    /// Records (log records, spans, data points) left out.
    pub rejected: u64,
    /// Why the first of them was.
    pub first_error: Option<DecodeError>,
}

/// How a decoder treats a record that does not decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OnInvalid {
    /// The whole request fails (the reference decoders' behaviour).
    Fail,
    /// The record is left out and counted.
    Skip,
}

/// Counts rejected records for [`Decoded`].
#[derive(Debug, Default)]
pub(crate) struct Rejects {
    pub count: u64,
    pub first: Option<DecodeError>,
}

impl Rejects {
    /// Applies `mode` to one record's outcome: `Ok(Some(row))` to keep, `Ok(None)` when it
    /// was rejected and skipped, `Err` when the request fails. Budget refusals always fail.
    #[inline]
    pub fn judge<T>(
        &mut self,
        mode: OnInvalid,
        outcome: Result<T>,
        records: u64,
    ) -> Result<Option<T>> {
        match outcome {
            Ok(row) => Ok(Some(row)),
            Err(err @ DecodeError::OverBudget { .. }) => Err(err),
            Err(err) if mode == OnInvalid::Fail => Err(err),
            Err(err) => {
                self.count += records;
                self.first.get_or_insert(err);
                Ok(None)
            }
        }
    }

    /// [`Rejects::judge`] for a record that did not decode.
    #[inline]
    pub fn reject(&mut self, mode: OnInvalid, err: DecodeError, records: u64) -> Result<()> {
        self.judge::<()>(mode, Err(err), records).map(|_| ())
    }

    /// The finished batch with what was left out of it.
    pub fn into_decoded(self, batch: arrow::array::RecordBatch) -> Decoded {
        Decoded {
            batch,
            rejected: self.count,
            first_error: self.first,
        }
    }
}

/// A decode's meter and reject count, as the record visitors use them.
pub(crate) struct Sink<'b> {
    pub meter: Meter<'b>,
    pub rejects: Rejects,
    pub mode: OnInvalid,
    /// Bytes the decode holds besides its batch (a parsed JSON tree).
    pub base: u64,
    /// The batch's bytes when last measured, and the bounds of the rows added since.
    measured: u64,
    pending: u64,
}

impl Sink<'_> {
    /// Checks the batch's `bytes` (plus the base) against the grant.
    #[inline]
    pub fn check(&mut self, bytes: u64) -> Result<()> {
        self.meter.check(self.base + bytes)
    }

    /// Accounts a row that added at most `row_bound` bytes, measuring the batch (`measure`)
    /// only when the bounds added since the last measurement could pass the grant: exact
    /// where it matters, a few instructions per row otherwise.
    #[inline]
    pub fn check_bounded(&mut self, row_bound: u64, measure: impl FnOnce() -> u64) -> Result<()> {
        self.pending += row_bound;
        if self.base + self.measured + self.pending <= self.meter.granted {
            return Ok(());
        }
        self.measured = measure();
        self.pending = 0;
        self.meter.check(self.base + self.measured)
    }

    /// See [`Rejects::reject`].
    #[inline]
    pub fn reject(&mut self, err: DecodeError, records: u64) -> Result<()> {
        self.rejects.reject(self.mode, err, records)
    }

    /// Charges `bytes` the decode will hold besides its batch, before it allocates them.
    pub fn charge_base(&mut self, bytes: u64) -> Result<()> {
        self.base = bytes;
        self.meter.check(bytes)
    }

    /// See [`Rejects::judge`]; `records` is how many records the outcome stands for.
    #[inline]
    pub fn judge<T>(&mut self, outcome: Result<T>, records: u64) -> Result<Option<T>> {
        self.rejects.judge(self.mode, outcome, records)
    }
}

/// Runs `decode` with a sink over `budget`; the caller then finishes its builder (always, so
/// it starts the next request empty) and hands the batch to [`Rejects::into_decoded`].
pub(crate) fn metered(
    budget: &mut dyn DecodeBudget,
    mode: OnInvalid,
    decode: impl FnOnce(&mut Sink<'_>) -> Result<()>,
) -> Result<Rejects> {
    let mut sink = Sink {
        meter: Meter::new(budget),
        rejects: Rejects::default(),
        mode,
        base: 0,
        measured: 0,
        pending: 0,
    };
    decode(&mut sink).map(|()| sink.rejects)
}

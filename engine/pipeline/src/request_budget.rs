//! The memory one request may hold — its bytes as received and inflated, and what they
//! decode to — reserved from the pipeline's budget before it is allocated.

use icegate_batcher::Reservation;
use icegate_parser::{DecodeBudget, Refusal};

/// Smallest step a decode's reservation grows by: few grants for ordinary requests.
const MIN_STEP: u64 = 1 << 20;

/// A [`DecodeBudget`] over the pipeline's [`icegate_batcher::MemoryBudget`]: grants grow the
/// request's reservation (twice the bytes its batch holds: Arrow builders grow by doubling)
/// up to `limit`. A request over `limit` alone is refused for good (413); one that does not
/// fit beside what others hold now is refused as retryable (429). The reservation then
/// travels with the decoded batch through the WAL to its table's lane.
#[derive(Debug)]
pub struct RequestBudget {
    pub(crate) reservation: Reservation,
    limit: u64,
}

impl RequestBudget {
    pub(crate) fn new(reservation: Reservation, limit: u64) -> Self {
        Self { reservation, limit }
    }

    /// Bytes reserved for the request right now.
    pub fn reserved(&self) -> u64 {
        self.reservation.bytes()
    }

    /// Most bytes one request may reserve.
    pub fn limit(&self) -> u64 {
        self.limit
    }
}

impl DecodeBudget for RequestBudget {
    fn grant(&mut self, bytes: u64) -> Result<u64, Refusal> {
        let need = bytes.saturating_mul(2);
        if need > self.limit {
            return Err(Refusal {
                retryable: false,
                reason: format!(
                    "more than one request may hold: {} bytes reserved at twice the decoded \
                     size, half of max-memory; send smaller requests",
                    self.limit
                ),
            });
        }
        let ahead = need
            .max(self.reservation.bytes().saturating_mul(2))
            .max(MIN_STEP)
            .min(self.limit);
        if self.reservation.try_resize(ahead) || self.reservation.try_resize(need) {
            return Ok(self.reservation.bytes() / 2);
        }
        Err(Refusal {
            retryable: true,
            reason: "more than ingest's memory budget has free now; retry later".into(),
        })
    }
}

/// Memory for a request's bytes as they arrive (and as they inflate), reserved from the
/// pipeline's [`icegate_batcher::MemoryBudget`] before each chunk is kept: bodies in flight
/// on every connection compete for the same memory as decoded batches, so a flood of large
/// or slow requests is answered 429 instead of growing the heap. Size limits (413) are the
/// reader's; this refuses only while the memory is busy (retryable).
#[derive(Debug)]
pub struct BodyBudget {
    reservation: Reservation,
}

impl BodyBudget {
    /// Holds body bytes in `reservation` (usually empty; from the pipeline's budget).
    pub fn new(reservation: Reservation) -> Self {
        Self { reservation }
    }

    /// Bytes reserved right now.
    pub fn reserved(&self) -> u64 {
        self.reservation.bytes()
    }

    /// Makes sure at least `bytes` are reserved, growing ahead (doubling, from
    /// [`BODY_STEP`], never past `cap`) so a body arriving in many small frames takes few
    /// steps; falls back to exactly `bytes` when the step ahead does not fit.
    pub fn hold(&mut self, bytes: u64, cap: u64) -> Result<(), Refusal> {
        if bytes <= self.reservation.bytes() {
            return Ok(());
        }
        let ahead = bytes
            .max(self.reservation.bytes().saturating_mul(2))
            .max(BODY_STEP)
            .min(cap.max(bytes));
        if self.reservation.try_resize(ahead) || self.reservation.try_resize(bytes) {
            return Ok(());
        }
        Err(Refusal {
            retryable: true,
            reason: format!(
                "receiving {bytes} more bytes would pass ingest's memory budget now; retry later"
            ),
        })
    }
}

/// Smallest step a body's reservation grows by.
pub const BODY_STEP: u64 = 64 << 10;

#[cfg(test)]
mod tests {
    use icegate_batcher::MemoryBudget;

    use super::*;

    #[test]
    fn grants_grow_the_reservation_and_stop_at_the_limits() {
        let budget = MemoryBudget::new(64 << 20);
        let mut request = RequestBudget::new(budget.reserve(0), 32 << 20);
        let granted = request.grant(1000).unwrap();
        assert!(granted >= 1000);
        assert_eq!(budget.used(), request.reserved());
        assert!(request.reserved() >= 2000);
        let refused = request.grant(17 << 20).unwrap_err();
        assert!(!refused.retryable, "over the request limit: {refused:?}");
        let held = budget.reserve(60 << 20);
        let busy = request.grant(3 << 20).unwrap_err();
        assert!(busy.retryable, "the budget is busy: {busy:?}");
        drop(held);
        assert!(request.grant(3 << 20).unwrap() >= 3 << 20);
        drop(request);
        assert_eq!(budget.used(), 0);
    }

    #[test]
    fn body_holds_grow_ahead_within_the_cap_and_refuse_while_busy() {
        let budget = MemoryBudget::new(1 << 20);
        let mut body = BodyBudget::new(budget.reserve(0));
        body.hold(10, 1 << 20).unwrap();
        assert_eq!(
            body.reserved(),
            BODY_STEP,
            "grows by a step, not by the frame"
        );
        body.hold(BODY_STEP + 1, 100 << 10).unwrap();
        assert_eq!(body.reserved(), 100 << 10, "never past the cap");
        let held = budget.reserve((1 << 20) - (150 << 10));
        body.hold(140 << 10, 1 << 20).unwrap();
        assert_eq!(
            body.reserved(),
            140 << 10,
            "exactly what is needed when ahead fails"
        );
        let busy = body.hold(200 << 10, 1 << 20).unwrap_err();
        assert!(busy.retryable, "{busy:?}");
        drop((held, body));
        assert_eq!(budget.used(), 0);
    }
}

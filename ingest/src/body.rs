//! Request bodies read into memory reserved before it is used: every frame received and
//! every block inflated is first reserved from the pipeline's memory budget
//! ([`BodyBudget`]), so many connections sending large or slow bodies at once are answered
//! 429 / RESOURCE_EXHAUSTED instead of growing the heap past `max-memory`.

use std::io::Read;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use hyper::body::{Body, Frame, SizeHint};
use icegate_pipeline::BodyBudget;

/// Why a body was not read.
#[derive(Debug, thiserror::Error)]
pub enum BodyError {
    /// More bytes than one request may carry (413, not retryable).
    #[error("{0}")]
    TooLarge(String),
    /// The memory is held by other requests now (429, retryable).
    #[error("{0}")]
    Busy(String),
    /// The body could not be read or inflated (400).
    #[error("{0}")]
    Invalid(String),
}

/// Reads `body` whole, at most `limit` bytes, reserving each frame in `budget` first. A
/// declared length over `limit` was answered before the body was read (see `http`); one
/// within it is reserved at once, so a busy node refuses before waiting for the bytes.
pub async fn read(
    mut body: axum::body::Body,
    declared: Option<u64>,
    limit: u64,
    budget: &mut BodyBudget,
) -> Result<Bytes, BodyError> {
    let declared = declared.filter(|&len| len <= limit);
    if let Some(len) = declared
        && let Err(refusal) = budget.hold(len, limit)
    {
        discard(body, limit);
        return Err(BodyError::Busy(refusal.reason));
    }
    let mut out = BytesMut::with_capacity(declared.unwrap_or(0) as usize);
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|err| BodyError::Invalid(format!("reading the body: {err}")))?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        let len = (out.len() + data.len()) as u64;
        if len > limit {
            return Err(BodyError::TooLarge(format!(
                "the body is over the {limit}-byte request limit (max-request-size)"
            )));
        }
        if let Err(refusal) = budget.hold(len, limit) {
            drop(out);
            discard(body, limit - len);
            return Err(BodyError::Busy(refusal.reason));
        }
        out.extend_from_slice(&data);
    }
    Ok(out.freeze())
}

/// How long the rest of a refused body is read and dropped.
const DISCARD_DEADLINE: std::time::Duration = std::time::Duration::from_secs(10);

/// Reads and drops what is left of a refused body in the background (at most `limit` bytes
/// within 10 s, no memory kept) while the answer goes out: an HTTP/1 client
/// still sending when the server answers and closes sees a reset, not the answer (429, 415),
/// and would not know to back off or to fix its request.
pub fn discard(mut body: axum::body::Body, limit: u64) {
    tokio::spawn(tokio::time::timeout(DISCARD_DEADLINE, async move {
        let mut seen = 0u64;
        while let Some(Ok(frame)) =
            std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await
        {
            if let Some(data) = frame.data_ref() {
                seen += data.len() as u64;
                if seen > limit {
                    return;
                }
            }
        }
    }));
}

/// Inflates a gzip body (members concatenated, as `MultiGzDecoder` reads them) to at most
/// `limit` bytes, reserving each block in `budget` (beside the compressed bytes it already
/// holds) before keeping it: a gzip bomb stops at the limit, not at memory exhaustion.
pub fn gunzip(compressed: &[u8], limit: u64, budget: &mut BodyBudget) -> Result<Bytes, BodyError> {
    const BLOCK: usize = 64 << 10;
    let held = compressed.len() as u64;
    let mut reader = flate2::read::MultiGzDecoder::new(compressed);
    let mut out: Vec<u8> = Vec::new();
    loop {
        let start = out.len();
        let want = (start + BLOCK) as u64;
        budget
            .hold(held + want.min(limit + 1), held + limit + 1)
            .map_err(|r| BodyError::Busy(r.reason))?;
        out.resize(start + BLOCK, 0);
        let n = loop {
            match reader.read(&mut out[start..]) {
                Ok(n) => break n,
                Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(err) => return Err(BodyError::Invalid(format!("invalid gzip body: {err}"))),
            }
        };
        out.truncate(start + n);
        if out.len() as u64 > limit {
            return Err(BodyError::TooLarge(format!(
                "the body inflates beyond the {limit}-byte request limit (max-request-size)"
            )));
        }
        if n == 0 {
            return Ok(Bytes::from(out));
        }
    }
}

/// The memory a gRPC request's body holds, shared between the body as tonic reads it and
/// the handler (through the request's extensions), which keeps it until the message is
/// decoded.
#[derive(Debug, Clone)]
pub struct HeldBody(pub Arc<Mutex<BodyBudget>>);

impl HeldBody {
    pub fn new(budget: BodyBudget) -> Self {
        Self(Arc::new(Mutex::new(budget)))
    }

    /// Makes sure `bytes` are reserved (the message once inflated may be larger than the
    /// frames received).
    pub fn hold(&self, bytes: u64, cap: u64) -> Result<(), icegate_parser::Refusal> {
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .hold(bytes, cap)
    }
}

/// A gRPC request body that reserves every data frame in its [`HeldBody`] before handing
/// it to tonic; when the memory is busy it ends with RESOURCE_EXHAUSTED (tonic finds the
/// `Status` in the error and answers with it, RetryInfo included).
pub struct ReservedBody<B> {
    inner: B,
    held: HeldBody,
    received: u64,
    cap: u64,
    refuse: fn(String) -> tonic::Status,
}

impl<B> ReservedBody<B> {
    /// `cap` bounds how far ahead a reservation grows (the request size limit);
    /// `refuse` turns a refusal into the status the client sees.
    pub fn new(inner: B, held: HeldBody, cap: u64, refuse: fn(String) -> tonic::Status) -> Self {
        Self {
            inner,
            held,
            received: 0,
            cap,
            refuse,
        }
    }
}

impl<B> Body for ReservedBody<B>
where
    B: Body + Unpin,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    type Data = B::Data;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = &mut *self;
        let frame = match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => frame,
            Poll::Ready(Some(Err(err))) => return Poll::Ready(Some(Err(err.into()))),
            Poll::Ready(None) => return Poll::Ready(None),
            Poll::Pending => return Poll::Pending,
        };
        if let Some(data) = frame.data_ref() {
            use bytes::Buf;
            this.received += data.remaining() as u64;
            if let Err(refusal) = this.held.hold(this.received, this.cap) {
                return Poll::Ready(Some(Err(Box::new((this.refuse)(refusal.reason)))));
            }
        }
        Poll::Ready(Some(Ok(frame)))
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use icegate_batcher::MemoryBudget;

    use super::*;

    fn chunked(chunks: usize, size: usize) -> axum::body::Body {
        let frames =
            (0..chunks).map(move |_| Ok::<_, std::io::Error>(Bytes::from(vec![7u8; size])));
        axum::body::Body::from_stream(futures::stream::iter(frames))
    }

    #[tokio::test]
    async fn a_chunked_body_is_reserved_frame_by_frame_and_refused_while_busy() {
        let memory = MemoryBudget::new(1 << 20);
        let mut budget = BodyBudget::new(memory.reserve(0));
        let body = read(chunked(8, 16 << 10), None, 4 << 20, &mut budget)
            .await
            .unwrap();
        assert_eq!(body.len(), 128 << 10);
        assert!(budget.reserved() >= 128 << 10 && memory.used() == budget.reserved());
        drop((body, budget));
        let held = memory.reserve(900 << 10);
        let mut budget = BodyBudget::new(memory.reserve(0));
        let err = read(chunked(16, 16 << 10), None, 4 << 20, &mut budget)
            .await
            .unwrap_err();
        assert!(matches!(err, BodyError::Busy(_)), "{err}");
        assert!(memory.used() <= 1 << 20, "never past the budget");
        drop((held, budget));
        assert_eq!(memory.used(), 0);
    }

    #[tokio::test]
    async fn a_body_over_the_limit_is_refused_as_too_large() {
        let memory = MemoryBudget::new(64 << 20);
        let mut budget = BodyBudget::new(memory.reserve(0));
        let err = read(chunked(20, 64 << 10), None, 1 << 20, &mut budget)
            .await
            .unwrap_err();
        assert!(matches!(err, BodyError::TooLarge(_)), "{err}");
        assert!(budget.reserved() <= 1 << 20);
    }

    #[test]
    fn a_gzip_bomb_stops_at_the_limit_with_bounded_memory() {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        for _ in 0..64 {
            encoder.write_all(&[0u8; 1 << 20]).unwrap();
        }
        let bomb = encoder.finish().unwrap();
        let memory = MemoryBudget::new(64 << 20);
        let mut budget = BodyBudget::new(memory.reserve(0));
        let err = gunzip(&bomb, 4 << 20, &mut budget).unwrap_err();
        assert!(matches!(err, BodyError::TooLarge(_)), "{err}");
        assert!(budget.reserved() <= bomb.len() as u64 + (4 << 20) + 1);
        // Within the budget it inflates whole; without room it is refused as busy.
        let small = {
            let mut encoder =
                flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            encoder.write_all(b"hello ").unwrap();
            encoder.finish().unwrap()
        };
        let mut budget = BodyBudget::new(memory.reserve(0));
        assert_eq!(
            &gunzip(&small, 1 << 20, &mut budget).unwrap()[..],
            b"hello "
        );
        let _held = memory.reserve(64 << 20);
        let mut budget = BodyBudget::new(memory.reserve(0));
        let err = gunzip(&small, 1 << 20, &mut budget).unwrap_err();
        assert!(matches!(err, BodyError::Busy(_)), "{err}");
    }
}

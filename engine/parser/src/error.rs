//! The parser's one error type.

/// Why a request could not be decoded. Decoders reject the whole request (nothing from it is
/// kept), so the client can fix and resend it; the message names the field and byte offset.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// Protobuf bytes that do not follow the wire format or the OTLP schema.
    #[error("malformed OTLP protobuf at byte {offset}: {field}: {problem}")]
    Protobuf {
        offset: usize,
        field: &'static str,
        problem: String,
    },
    /// JSON that does not parse or does not follow the OTLP/JSON encoding.
    #[error("malformed OTLP/JSON: {path}: {problem}")]
    Json { path: String, problem: String },
    /// Structured values nested deeper than the limit (a "nesting bomb").
    #[error("{field}: values nested deeper than {limit} levels")]
    TooDeep { field: &'static str, limit: usize },
    /// The request decodes to more memory than its budget grants ([`crate::DecodeBudget`]):
    /// `retryable` when the memory is busy now (429), not when the request alone is over
    /// its limit (413).
    #[error("request decodes to more than {bytes} bytes, {reason}")]
    OverBudget {
        bytes: u64,
        retryable: bool,
        reason: String,
    },
}

pub type Result<T, E = DecodeError> = std::result::Result<T, E>;

//! Byte layout of segment headers and record frames (documented in the crate root).

/// First eight bytes of every segment file.
pub const MAGIC: [u8; 8] = *b"ICEGWAL\0";
/// The format version this crate writes and reads.
pub const FORMAT_VERSION: u32 = 1;
/// Bytes in a segment header.
pub const SEGMENT_HEADER_LEN: usize = 24;
/// Bytes in a frame before its payload.
pub const FRAME_HEADER_LEN: usize = 16;

/// Encodes the header of the segment whose first record is `first_seq`.
pub(crate) fn encode_header(first_seq: u64) -> [u8; SEGMENT_HEADER_LEN] {
    let mut header = [0u8; SEGMENT_HEADER_LEN];
    header[0..8].copy_from_slice(&MAGIC);
    header[8..12].copy_from_slice(&FORMAT_VERSION.to_le_bytes());
    header[12..20].copy_from_slice(&first_seq.to_le_bytes());
    let crc = crc32c::crc32c(&header[0..20]);
    header[20..24].copy_from_slice(&crc.to_le_bytes());
    header
}

/// Decodes a segment header and returns its first sequence number.
pub(crate) fn decode_header(bytes: &[u8]) -> Result<u64, String> {
    if bytes.len() < SEGMENT_HEADER_LEN {
        return Err(format!(
            "segment header truncated: {} of {SEGMENT_HEADER_LEN} bytes",
            bytes.len()
        ));
    }
    if bytes[0..8] != MAGIC {
        return Err("not a WAL segment: bad magic".into());
    }
    let stored_crc = u32::from_le_bytes(bytes[20..24].try_into().expect("4 bytes"));
    if crc32c::crc32c(&bytes[0..20]) != stored_crc {
        return Err("segment header checksum mismatch".into());
    }
    let version = u32::from_le_bytes(bytes[8..12].try_into().expect("4 bytes"));
    if version != FORMAT_VERSION {
        return Err(format!(
            "unsupported WAL format version {version} (this build reads {FORMAT_VERSION})"
        ));
    }
    Ok(u64::from_le_bytes(
        bytes[12..20].try_into().expect("8 bytes"),
    ))
}

/// CRC of a frame from the payload's own CRC: the payload part is computed outside the log's
/// lock, the 12 header bytes inside it.
pub(crate) fn frame_crc(payload_crc: u32, len: u32, seq: u64) -> u32 {
    let mut tail = [0u8; 12];
    tail[0..4].copy_from_slice(&len.to_le_bytes());
    tail[4..12].copy_from_slice(&seq.to_le_bytes());
    crc32c::crc32c_append(payload_crc, &tail)
}

/// Appends one frame to `out`. `payload_crc` must be `crc32c(payload)`.
pub(crate) fn encode_frame(out: &mut Vec<u8>, seq: u64, payload: &[u8], payload_crc: u32) {
    let len = u32::try_from(payload.len()).expect("record size checked against max-record-size");
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&frame_crc(payload_crc, len, seq).to_le_bytes());
    out.extend_from_slice(&seq.to_le_bytes());
    out.extend_from_slice(payload);
}

/// Why the bytes at some offset are not a valid frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum FrameDamage {
    HeaderTruncated { available: usize },
    TooLarge { len: u64, max: u64 },
    PayloadTruncated { len: u64, available: usize },
    ChecksumMismatch,
    UnexpectedSeq { found: u64, expected: u64 },
}

impl std::fmt::Display for FrameDamage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameDamage::HeaderTruncated { available } => write!(
                f,
                "frame header truncated: {available} of {FRAME_HEADER_LEN} bytes"
            ),
            FrameDamage::TooLarge { len, max } => {
                write!(f, "frame length {len} exceeds max-record-size {max}")
            }
            FrameDamage::PayloadTruncated { len, available } => write!(
                f,
                "frame payload truncated: {available} of {len} bytes present"
            ),
            FrameDamage::ChecksumMismatch => write!(f, "frame checksum mismatch"),
            FrameDamage::UnexpectedSeq { found, expected } => {
                write!(f, "frame has sequence number {found}, expected {expected}")
            }
        }
    }
}

/// A frame decoded in place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Frame<'a> {
    pub seq: u64,
    pub payload: &'a [u8],
}

impl Frame<'_> {
    /// Bytes the frame occupies on disk.
    pub fn encoded_len(&self) -> usize {
        FRAME_HEADER_LEN + self.payload.len()
    }
}

/// Decodes the frame at the start of `buf`, which must carry sequence number `expected_seq`.
/// Never allocates and never trusts the length field beyond `max_record` and `buf`.
pub(crate) fn decode_frame(
    buf: &[u8],
    expected_seq: u64,
    max_record: u64,
) -> Result<Frame<'_>, FrameDamage> {
    if buf.len() < FRAME_HEADER_LEN {
        return Err(FrameDamage::HeaderTruncated {
            available: buf.len(),
        });
    }
    let len = u32::from_le_bytes(buf[0..4].try_into().expect("4 bytes"));
    let stored_crc = u32::from_le_bytes(buf[4..8].try_into().expect("4 bytes"));
    let seq = u64::from_le_bytes(buf[8..16].try_into().expect("8 bytes"));
    if u64::from(len) > max_record {
        return Err(FrameDamage::TooLarge {
            len: u64::from(len),
            max: max_record,
        });
    }
    let body = &buf[FRAME_HEADER_LEN..];
    if body.len() < len as usize {
        return Err(FrameDamage::PayloadTruncated {
            len: u64::from(len),
            available: body.len(),
        });
    }
    let payload = &body[..len as usize];
    if frame_crc(crc32c::crc32c(payload), len, seq) != stored_crc {
        return Err(FrameDamage::ChecksumMismatch);
    }
    if seq != expected_seq {
        return Err(FrameDamage::UnexpectedSeq {
            found: seq,
            expected: expected_seq,
        });
    }
    Ok(Frame { seq, payload })
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn header_round_trips_and_rejects_damage() {
        let header = encode_header(1742);
        assert_eq!(decode_header(&header), Ok(1742));
        assert!(
            decode_header(&header[..10])
                .unwrap_err()
                .contains("truncated")
        );
        let mut bad = header;
        bad[13] ^= 1;
        assert!(decode_header(&bad).unwrap_err().contains("checksum"));
        let mut bad_magic = header;
        bad_magic[0] = b'X';
        assert!(decode_header(&bad_magic).unwrap_err().contains("magic"));
    }

    proptest! {
        #[test]
        fn frames_round_trip(seq in any::<u64>(), payload in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut buf = Vec::new();
            encode_frame(&mut buf, seq, &payload, crc32c::crc32c(&payload));
            prop_assert_eq!(buf.len(), FRAME_HEADER_LEN + payload.len());
            let frame = decode_frame(&buf, seq, 1 << 20).unwrap();
            prop_assert_eq!(frame.seq, seq);
            prop_assert_eq!(frame.payload, &payload[..]);
        }

        #[test]
        fn any_single_bit_flip_is_detected(payload in proptest::collection::vec(any::<u8>(), 1..300), bit in any::<prop::sample::Index>()) {
            let mut buf = Vec::new();
            encode_frame(&mut buf, 7, &payload, crc32c::crc32c(&payload));
            let bit = bit.index(buf.len() * 8);
            buf[bit / 8] ^= 1 << (bit % 8);
            prop_assert!(decode_frame(&buf, 7, 1 << 20).is_err());
        }

        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..64), max in 0u64..1024) {
            let _ = decode_frame(&bytes, 0, max);
            let _ = decode_header(&bytes);
        }
    }
}

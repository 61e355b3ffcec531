//! A minimal protobuf wire-format reader over borrowed bytes: no allocation, every length
//! checked against the bytes actually present before it is used.

use crate::error::{DecodeError, Result};

pub(crate) const VARINT: u8 = 0;
pub(crate) const FIXED64: u8 = 1;
pub(crate) const LEN: u8 = 2;
pub(crate) const FIXED32: u8 = 5;

/// Reads fields from one message's bytes. `base` is the message's offset in the request, so
/// errors point at absolute byte offsets.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    base: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], base: usize) -> Self {
        Self { buf, pos: 0, base }
    }

    /// Absolute offset of the next byte.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub fn error(&self, field: &'static str, problem: impl Into<String>) -> DecodeError {
        DecodeError::Protobuf {
            offset: self.offset(),
            field,
            problem: problem.into(),
        }
    }

    /// The next field number and wire type, or `None` at the end of the message.
    #[inline]
    pub fn next_key(&mut self, message: &'static str) -> Result<Option<(u32, u8)>> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint(message)?;
        let field = key >> 3;
        let wire_type = (key & 7) as u8;
        if field == 0 || field > u64::from(u32::MAX >> 3) {
            return Err(self.error(message, format!("invalid field number {field}")));
        }
        Ok(Some((field as u32, wire_type)))
    }

    #[inline]
    pub fn varint(&mut self, field: &'static str) -> Result<u64> {
        // Most varints in OTLP (keys, lengths, small counts) fit in one byte.
        if let Some(&byte) = self.buf.get(self.pos)
            && byte < 0x80
        {
            self.pos += 1;
            return Ok(u64::from(byte));
        }
        self.varint_slow(field)
    }

    #[cold]
    fn varint_slow(&mut self, field: &'static str) -> Result<u64> {
        let mut value = 0u64;
        for shift in 0..10 {
            let Some(&byte) = self.buf.get(self.pos) else {
                return Err(self.error(field, "truncated varint"));
            };
            self.pos += 1;
            if shift == 9 && byte > 1 {
                return Err(self.error(field, "varint longer than 64 bits"));
            }
            value |= u64::from(byte & 0x7f) << (shift * 7);
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err(self.error(field, "varint longer than 10 bytes"))
    }

    #[inline]
    pub fn fixed64(&mut self, field: &'static str) -> Result<u64> {
        let bytes = self.take(8, field)?;
        Ok(u64::from_le_bytes(bytes.try_into().expect("8 bytes")))
    }

    #[inline]
    pub fn fixed32(&mut self, field: &'static str) -> Result<u32> {
        let bytes = self.take(4, field)?;
        Ok(u32::from_le_bytes(bytes.try_into().expect("4 bytes")))
    }

    /// A length-delimited field's bytes and their absolute offset.
    #[inline]
    pub fn bytes(&mut self, field: &'static str) -> Result<(&'a [u8], usize)> {
        let len = self.varint(field)?;
        let remaining = self.buf.len() - self.pos;
        if len > remaining as u64 {
            return Err(self.error(
                field,
                format!("length {len} exceeds the {remaining} bytes left in the message"),
            ));
        }
        let offset = self.offset();
        Ok((self.take(len as usize, field)?, offset))
    }

    #[inline]
    pub fn str(&mut self, field: &'static str) -> Result<&'a str> {
        let (bytes, offset) = self.bytes(field)?;
        // SIMD validation for the common, valid case; std pinpoints the byte when it fails.
        simdutf8::basic::from_utf8(bytes).or_else(|_| {
            std::str::from_utf8(bytes).map_err(|err| DecodeError::Protobuf {
                offset: offset + err.valid_up_to(),
                field,
                problem: "invalid UTF-8 in string".into(),
            })
        })
    }

    #[inline]
    fn take(&mut self, len: usize, field: &'static str) -> Result<&'a [u8]> {
        if self.buf.len() - self.pos < len {
            return Err(self.error(field, format!("truncated: needs {len} bytes")));
        }
        let bytes = &self.buf[self.pos..self.pos + len];
        self.pos += len;
        Ok(bytes)
    }

    /// Skips a field this decoder does not know (forward compatibility). Groups, deprecated
    /// since proto2 and absent from OTLP, are rejected.
    pub fn skip(&mut self, wire_type: u8, message: &'static str) -> Result<()> {
        match wire_type {
            VARINT => self.varint(message).map(drop),
            FIXED64 => self.take(8, message).map(drop),
            LEN => self.bytes(message).map(drop),
            FIXED32 => self.take(4, message).map(drop),
            other => Err(self.error(message, format!("unsupported wire type {other}"))),
        }
    }

    /// Appends the values of a `repeated fixed64` field, packed (one LEN field) or not.
    pub fn repeated_fixed64(
        &mut self,
        wire_type: u8,
        field: &'static str,
        out: &mut impl Extend<u64>,
    ) -> Result<()> {
        match wire_type {
            FIXED64 => {
                let value = self.fixed64(field)?;
                out.extend([value]);
            }
            LEN => {
                let (bytes, offset) = self.bytes(field)?;
                if bytes.len() % 8 != 0 {
                    return Err(DecodeError::Protobuf {
                        offset,
                        field,
                        problem: format!(
                            "packed fixed64 length {} is not a multiple of 8",
                            bytes.len()
                        ),
                    });
                }
                out.extend(
                    bytes
                        .chunks_exact(8)
                        .map(|chunk| u64::from_le_bytes(chunk.try_into().expect("8 bytes"))),
                );
            }
            other => return Err(self.error(field, format!("wire type {other}, expected 1 or 2"))),
        }
        Ok(())
    }

    /// Appends the values of a `repeated uint64` field, packed or not.
    pub fn repeated_varint(
        &mut self,
        wire_type: u8,
        field: &'static str,
        out: &mut impl Extend<u64>,
    ) -> Result<()> {
        match wire_type {
            VARINT => {
                let value = self.varint(field)?;
                out.extend([value]);
            }
            LEN => {
                let (bytes, offset) = self.bytes(field)?;
                let mut packed = Reader::new(bytes, offset);
                while packed.pos < packed.buf.len() {
                    let value = packed.varint(field)?;
                    out.extend([value]);
                }
            }
            other => return Err(self.error(field, format!("wire type {other}, expected 0 or 2"))),
        }
        Ok(())
    }

    /// Fails unless a known field arrived with the wire type its schema gives it.
    #[inline]
    pub fn expect(&self, wire_type: u8, expected: u8, field: &'static str) -> Result<()> {
        if wire_type == expected {
            Ok(())
        } else {
            Err(self.error(field, format!("wire type {wire_type}, expected {expected}")))
        }
    }
}

/// Decodes a zigzag-encoded `sint32`.
pub(crate) fn zigzag32(value: u64) -> i32 {
    let value = value as u32;
    ((value >> 1) as i32) ^ -((value & 1) as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zigzag_decodes_signed_values() {
        assert_eq!(zigzag32(0), 0);
        assert_eq!(zigzag32(1), -1);
        assert_eq!(zigzag32(2), 1);
        assert_eq!(zigzag32(4_294_967_294), i32::MAX);
        assert_eq!(zigzag32(4_294_967_295), i32::MIN);
    }

    #[test]
    fn varints_decode_and_reject_overlong() {
        let mut r = Reader::new(&[0xac, 0x02], 0);
        assert_eq!(r.varint("x").unwrap(), 300);
        let max = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01];
        assert_eq!(Reader::new(&max, 0).varint("x").unwrap(), u64::MAX);
        let over = [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02];
        assert!(Reader::new(&over, 0).varint("x").is_err());
        assert!(Reader::new(&[0x80], 0).varint("x").is_err());
    }

    #[test]
    fn lengths_beyond_the_message_are_rejected_before_use() {
        // Field 1, LEN, length 2^62: no allocation, a precise error.
        let mut r = Reader::new(
            &[0x0a, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x40],
            7,
        );
        assert_eq!(r.next_key("m").unwrap(), Some((1, LEN)));
        let err = r.bytes("m.f").unwrap_err().to_string();
        assert!(err.contains("exceeds the 0 bytes left"), "{err}");
        assert!(err.contains("byte 17"), "{err}");
    }
}

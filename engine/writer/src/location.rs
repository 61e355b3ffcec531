//! Where a data file goes: `<table>/data/<field>=<value>/.../<file>`, with every partition
//! value made safe for any storage.
//!
//! iceberg-rust 0.10 puts the raw value in the path, so a `service.name` of `../x` escapes the
//! table's directory, 300 bytes exceed the file-name limit, and NUL, `?` or `#` break object
//! stores and readers. Here each value is percent-encoded (every byte outside
//! `[A-Za-z0-9._-]`, as Java Iceberg's URL encoding does for `/`, `%`, `?`, `#` and controls),
//! so no value can add or leave a directory, and a value whose encoding is longer than
//! [`MAX_ENCODED_VALUE`] bytes is cut to a prefix plus a hash of the whole value, so every
//! path segment stays far below 255 bytes. The path only has to be unique and valid: readers
//! take partition values from the manifests, and the column keeps the original value.

use iceberg::spec::{PartitionKey, TableMetadata};
use iceberg::writer::file_writer::location_generator::{
    DefaultLocationGenerator, LocationGenerator,
};

/// Longest encoded partition value kept whole (bytes). Longer ones become
/// [`SHORTENED_PREFIX`] bytes of their encoding, `-`, and 16 hex digits of a hash.
pub const MAX_ENCODED_VALUE: usize = 128;
/// Bytes of the encoding kept before the hash in a shortened value.
pub const SHORTENED_PREFIX: usize = 96;

/// A [`LocationGenerator`] with safe partition paths.
#[derive(Debug, Clone)]
pub struct SafeLocationGenerator {
    data_location: String,
}

impl SafeLocationGenerator {
    /// The table's data location (`write.data.path`, else `<location>/data`).
    pub fn new(metadata: &TableMetadata) -> iceberg::Result<Self> {
        let probe = DefaultLocationGenerator::new(metadata)?;
        let data_location = probe
            .generate_location(None, "")
            .trim_end_matches('/')
            .to_string();
        Ok(Self { data_location })
    }
}

impl LocationGenerator for SafeLocationGenerator {
    fn generate_location(&self, partition_key: Option<&PartitionKey>, file_name: &str) -> String {
        let Some(key) = partition_key.filter(|k| !PartitionKey::is_effectively_none(Some(k)))
        else {
            return format!("{}/{file_name}", self.data_location);
        };
        let spec = key.spec();
        let schema = key.schema();
        let Ok(partition_type) = spec.partition_type(schema) else {
            // Cannot happen for a key built from this spec; keep the file in the table anyway.
            return format!("{}/{file_name}", self.data_location);
        };
        let mut path = self.data_location.clone();
        for (i, field) in spec.fields().iter().enumerate() {
            let value = field.transform.to_human_string(
                &partition_type.fields()[i].field_type,
                key.data()[i].as_ref(),
            );
            path.push('/');
            path.push_str(&path_segment(&field.name));
            path.push('=');
            path.push_str(&path_segment(&value));
        }
        path.push('/');
        path.push_str(file_name);
        path
    }
}

/// `value` percent-encoded, shortened with a hash when long (see the module docs).
pub fn path_segment(value: &str) -> String {
    let mut encoded = String::with_capacity(value.len());
    for &byte in value.as_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'.' | b'_' | b'-') {
            encoded.push(byte as char);
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    if encoded.len() <= MAX_ENCODED_VALUE {
        return encoded;
    }
    // Cut between escapes, never inside a `%XX`.
    let bytes = encoded.as_bytes();
    let mut cut = 0;
    while cut < bytes.len() {
        let unit = if bytes[cut] == b'%' { 3 } else { 1 };
        if cut + unit > SHORTENED_PREFIX {
            break;
        }
        cut += unit;
    }
    format!("{}-{:016x}", &encoded[..cut], fnv1a64(value.as_bytes()))
}

/// FNV-1a, 64 bits: stable across versions and platforms (paths must not change meaning).
fn fnv1a64(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    hash
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_cannot_leave_or_add_a_directory() {
        assert_eq!(path_segment("../../etc"), "..%2F..%2Fetc");
        assert_eq!(path_segment("a/b"), "a%2Fb");
        assert_eq!(path_segment("nul\0x"), "nul%00x");
        assert_eq!(path_segment("#?%&= "), "%23%3F%25%26%3D%20");
        assert_eq!(path_segment("checkout-api_v2.1"), "checkout-api_v2.1");
        assert_eq!(path_segment("café"), "caf%C3%A9");
    }

    #[test]
    fn long_values_are_shortened_with_a_hash_and_stay_distinct() {
        let a = path_segment(&"p".repeat(300));
        let b = path_segment(&format!("{}q", "p".repeat(299)));
        assert!(a.len() <= SHORTENED_PREFIX + 17, "{a}");
        assert_ne!(a, b);
        assert!(a.starts_with(&"p".repeat(SHORTENED_PREFIX)));
        // A cut never splits an escape.
        let escaped = path_segment(&"/".repeat(100));
        let prefix = escaped.rsplit_once('-').unwrap().0;
        assert!(
            prefix.len().is_multiple_of(3) && prefix.len() <= SHORTENED_PREFIX,
            "{escaped}"
        );
    }
}

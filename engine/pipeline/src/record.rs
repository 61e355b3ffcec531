//! A mini-batch as a WAL record payload — self-describing across upgrades.
//!
//! ```text
//! version 3 (written):
//! 0     1  format version = 3
//! 1     1  namespace length n (bytes, UTF-8); n bytes namespace
//! 2+n   1  table length t; t bytes table
//! 3+n+t 1  schema: 0 = the schema message is inline in the IPC stream,
//!                  1 = left out; the next 8 bytes are its fingerprint
//! [8]      fingerprint: FNV-1a 64 of the schema's IPC message (little endian)
//! …        an Arrow IPC stream (8-byte alignment): [schema message,] one record batch, end
//! version 2 (read): as 3, but the schema byte is a code: 0 inline, 1 logs, 2 traces,
//!           3 metrics — meaning the schemas of the binaries that wrote version 2, which are
//!           the current built-in schemas (their fingerprints are pinned by a test).
//! version 1 (read): no schema byte; the schema always inline.
//! ```
//!
//! The schema message of a built-in table is ~7 KB, so it is left out and named by its
//! fingerprint; a record decodes by looking the fingerprint up among every built-in schema
//! this build knows — the current ones and every earlier one ([`HISTORICAL_SCHEMAS`]). When a
//! built-in schema changes, its old schema message goes to that list (the pinned-fingerprint
//! test fails until it does), so a WAL written by the older binary still replays. Any other
//! schema (e.g. after evolution) travels inline.

use std::io::Cursor;
use std::sync::LazyLock;

use arrow::array::{MutableArrayData, RecordBatch, make_array};
use arrow::datatypes::SchemaRef;
use arrow::ipc::MetadataVersion;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::{IpcWriteOptions, StreamWriter};
use icegate_batcher::TableKey;
use icegate_schema::{logs_schema, metrics_schema, traces_schema};

use crate::error::{Error, Result};

/// The version this build writes.
pub const VERSION: u8 = 3;
/// Version 2: a schema code meaning one of the built-in schemas.
const CODED_SCHEMA_VERSION: u8 = 2;
/// Version 1: no schema byte, the schema always inline.
const INLINE_SCHEMA_VERSION: u8 = 1;
/// Arrow IPC's end-of-stream marker: continuation token, then a zero length.
const END_OF_STREAM: [u8; 8] = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];

const SCHEMA_INLINE: u8 = 0;
const SCHEMA_FINGERPRINT: u8 = 1;

/// Schema messages of built-in schemas earlier builds wrote and this one no longer has
/// (IPC bytes as [`schema_message`] produces them). Empty: no built-in schema changed yet.
pub const HISTORICAL_SCHEMAS: &[&[u8]] = &[];

/// 8-byte buffer alignment (IPC's minimum; the default 64 pads every one of a logs batch's
/// ~60 buffers, which dominates small records).
fn write_options() -> IpcWriteOptions {
    IpcWriteOptions::try_new(8, false, MetadataVersion::V5).expect("valid IPC options")
}

/// FNV-1a, 64 bits: a stable fingerprint of a schema message (not a security boundary —
/// a record's integrity is the WAL frame's CRC).
pub fn fingerprint(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// The IPC schema message `StreamWriter` writes for `schema`.
pub fn schema_message(schema: &SchemaRef) -> Vec<u8> {
    let mut stream = Vec::new();
    let mut writer = StreamWriter::try_new_with_options(&mut stream, schema, write_options())
        .expect("schemas encode");
    writer.finish().expect("schemas encode");
    drop(writer);
    stream.truncate(stream.len() - END_OF_STREAM.len());
    stream
}

struct KnownSchema {
    schema: Option<SchemaRef>,
    message: Vec<u8>,
    fingerprint: u64,
}

/// Current built-in schemas first (in the order of the version-2 codes), then historical.
static KNOWN_SCHEMAS: LazyLock<Vec<KnownSchema>> = LazyLock::new(|| {
    let current = [logs_schema(), traces_schema(), metrics_schema()]
        .into_iter()
        .map(|schema| {
            let message = schema_message(&schema);
            KnownSchema {
                fingerprint: fingerprint(&message),
                schema: Some(schema),
                message,
            }
        });
    let historical = HISTORICAL_SCHEMAS.iter().map(|message| KnownSchema {
        schema: None,
        fingerprint: fingerprint(message),
        message: message.to_vec(),
    });
    current.chain(historical).collect()
});

/// Fingerprints of the current built-in schemas (logs, traces, metrics).
pub fn builtin_fingerprints() -> [u64; 3] {
    [0, 1, 2].map(|i| KNOWN_SCHEMAS[i].fingerprint)
}

/// Encodes a mini-batch for the WAL.
pub fn encode(key: &TableKey, batch: &RecordBatch) -> Result<Vec<u8>> {
    let ipc = |err: arrow::error::ArrowError| {
        Error::InvalidRecord(format!("encoding a mini-batch of {key}: {err}"))
    };
    let mut stream = Vec::with_capacity(batch.get_array_memory_size() / 2 + 8192);
    let mut writer =
        StreamWriter::try_new_with_options(&mut stream, &batch.schema(), write_options())
            .map_err(ipc)?;
    writer.write(batch).map_err(ipc)?;
    writer.finish().map_err(ipc)?;
    drop(writer);
    let schema = batch.schema();
    let known = KNOWN_SCHEMAS
        .iter()
        .find(|known| known.schema.as_ref() == Some(&schema) && stream.starts_with(&known.message));
    let mut out = Vec::with_capacity(stream.len() + key.namespace.len() + key.table.len() + 12);
    out.push(VERSION);
    for name in [&key.namespace, &key.table] {
        let len = u8::try_from(name.len())
            .map_err(|_| Error::InvalidRecord(format!("name {name:?} longer than 255 bytes")))?;
        out.push(len);
        out.extend_from_slice(name.as_bytes());
    }
    match known {
        Some(known) => {
            out.push(SCHEMA_FINGERPRINT);
            out.extend_from_slice(&known.fingerprint.to_le_bytes());
            out.extend_from_slice(&stream[known.message.len()..]);
        }
        None => {
            out.push(SCHEMA_INLINE);
            out.extend_from_slice(&stream);
        }
    }
    Ok(out)
}

/// Decodes a WAL record written by [`encode`] or by an earlier version.
pub fn decode(bytes: &[u8]) -> Result<(TableKey, RecordBatch)> {
    let invalid = |what: &str| Error::InvalidRecord(what.to_string());
    let (&version, mut rest) = bytes.split_first().ok_or_else(|| invalid("empty record"))?;
    if !(INLINE_SCHEMA_VERSION..=VERSION).contains(&version) {
        return Err(invalid(&format!("unsupported record version {version}")));
    }
    let mut names = Vec::with_capacity(2);
    for _ in 0..2 {
        let (&len, tail) = rest
            .split_first()
            .ok_or_else(|| invalid("truncated header"))?;
        let len = len as usize;
        if tail.len() < len {
            return Err(invalid("truncated name"));
        }
        let name = std::str::from_utf8(&tail[..len]).map_err(|_| invalid("name is not UTF-8"))?;
        names.push(name.to_string());
        rest = &tail[len..];
    }
    let mut prefix: Option<&[u8]> = None;
    if version >= CODED_SCHEMA_VERSION {
        let (&code, tail) = rest
            .split_first()
            .ok_or_else(|| invalid("truncated header"))?;
        rest = tail;
        match (version, code) {
            (_, SCHEMA_INLINE) => {}
            (CODED_SCHEMA_VERSION, 1..=3) => {
                prefix = Some(&KNOWN_SCHEMAS[code as usize - 1].message);
            }
            (VERSION, SCHEMA_FINGERPRINT) => {
                if rest.len() < 8 {
                    return Err(invalid("truncated schema fingerprint"));
                }
                let print = u64::from_le_bytes(rest[..8].try_into().expect("8 bytes"));
                rest = &rest[8..];
                let known = KNOWN_SCHEMAS
                    .iter()
                    .find(|known| known.fingerprint == print)
                    .ok_or_else(|| {
                        invalid(&format!(
                            "schema fingerprint {print:016x} is not one this build knows \
                             (written by a newer build?)"
                        ))
                    })?;
                prefix = Some(&known.message);
            }
            (_, code) => return Err(invalid(&format!("unknown schema code {code}"))),
        }
    }
    // The stream must end with its end-of-stream marker: a cut stream is not a whole record.
    if !rest.ends_with(&END_OF_STREAM) {
        return Err(invalid("IPC stream without its end-of-stream marker"));
    }
    let restored;
    if let Some(prefix) = prefix {
        restored = [prefix, rest].concat();
        rest = &restored;
    }
    let ipc = |err: arrow::error::ArrowError| invalid(&format!("decoding a mini-batch: {err}"));
    let mut reader = StreamReader::try_new(Cursor::new(rest), None).map_err(ipc)?;
    let batch = reader
        .next()
        .ok_or_else(|| invalid("no record batch in the IPC stream"))?
        .map_err(ipc)?;
    if reader.next().is_some() {
        return Err(invalid("more than one record batch in the IPC stream"));
    }
    let table = names.pop().expect("two names");
    let namespace = names.pop().expect("two names");
    Ok((TableKey { namespace, table }, compact(&batch).map_err(ipc)?))
}

/// `batch` with every array in buffers of its own. The IPC reader's arrays are slices of
/// one message body, and `get_array_memory_size` — which seals batches and reserves memory
/// — counts that body once per buffer: a replayed logs record measured ~20× its size, so
/// replay sealed a batch per record and held back on a budget it did not use.
fn compact(batch: &RecordBatch) -> std::result::Result<RecordBatch, arrow::error::ArrowError> {
    let columns = batch
        .columns()
        .iter()
        .map(|column| {
            let data = column.to_data();
            let mut copy = MutableArrayData::new(vec![&data], false, data.len());
            copy.extend(0, 0, data.len());
            make_array(copy.freeze())
        })
        .collect();
    RecordBatch::try_new(batch.schema(), columns)
}

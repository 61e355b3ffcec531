//! A mini-batch as a WAL record payload.
//!
//! ```text
//! 0   1  format version = 2
//! 1   1  namespace length n (bytes, UTF-8)
//! 2   n  namespace
//! 2+n 1  table length t
//! 3+n t  table
//! 3+n+t 1  schema: 0 = carried inline, 1 = logs, 2 = traces, 3 = metrics (icegate_schema)
//! …      an Arrow IPC stream: [the schema message, if inline,] one record batch, end-of-stream
//! ```
//!
//! The schema message of IceGate's own tables (~7 KB with field ids) is left out and restored
//! from `icegate_schema` on decode, and buffers are aligned to 8 bytes rather than 64: a
//! one-record logs request takes about 2 KB in the WAL instead of 7.5 KB. Any other schema (e.g. after evolution) travels inline, so every record
//! decodes on its own. Version 1 records (always inline, no schema byte) still decode.

use std::io::Cursor;
use std::sync::LazyLock;

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::ipc::MetadataVersion;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::{IpcWriteOptions, StreamWriter};
use icegate_schema::{logs_schema, metrics_schema, traces_schema};

use crate::batcher::TableKey;
use crate::error::{Error, Result, arrow};

const VERSION: u8 = 2;
/// Version 1: no schema byte, the schema always inline.
const INLINE_SCHEMA_VERSION: u8 = 1;
/// Arrow IPC's end-of-stream marker: continuation token, then a zero length.
const END_OF_STREAM: [u8; 8] = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];

/// 8-byte buffer alignment (IPC's minimum; the default 64 pads every one of a logs batch's
/// ~60 buffers, which dominates small records).
fn write_options() -> IpcWriteOptions {
    IpcWriteOptions::try_new(8, false, MetadataVersion::V5).expect("valid IPC options")
}

/// The schema message of each well-known schema (codes 1, 2, 3), as `StreamWriter` writes it.
static KNOWN_SCHEMAS: LazyLock<Vec<(SchemaRef, Vec<u8>)>> = LazyLock::new(|| {
    [logs_schema(), traces_schema(), metrics_schema()]
        .into_iter()
        .map(|schema| {
            let mut stream = Vec::new();
            let mut writer =
                StreamWriter::try_new_with_options(&mut stream, &schema, write_options())
                    .expect("schemas encode");
            writer.finish().expect("schemas encode");
            drop(writer);
            stream.truncate(stream.len() - END_OF_STREAM.len());
            (schema, stream)
        })
        .collect()
});

/// Encodes a mini-batch for the WAL.
pub fn encode(key: &TableKey, batch: &RecordBatch) -> Result<Vec<u8>> {
    let mut stream = Vec::with_capacity(batch.get_array_memory_size() / 2 + 8192);
    let mut writer =
        StreamWriter::try_new_with_options(&mut stream, &batch.schema(), write_options())
            .map_err(arrow("encoding a mini-batch"))?;
    writer
        .write(batch)
        .map_err(arrow("encoding a mini-batch"))?;
    writer.finish().map_err(arrow("encoding a mini-batch"))?;
    drop(writer);
    let known = KNOWN_SCHEMAS
        .iter()
        .position(|(schema, prefix)| *schema == batch.schema() && stream.starts_with(prefix));
    let (code, body) = match known {
        Some(index) => (index as u8 + 1, &stream[KNOWN_SCHEMAS[index].1.len()..]),
        None => (0, &stream[..]),
    };
    let mut out = Vec::with_capacity(body.len() + key.namespace.len() + key.table.len() + 4);
    out.push(VERSION);
    for name in [&key.namespace, &key.table] {
        let len = u8::try_from(name.len())
            .map_err(|_| Error::InvalidRecord(format!("name {name:?} longer than 255 bytes")))?;
        out.push(len);
        out.extend_from_slice(name.as_bytes());
    }
    out.push(code);
    out.extend_from_slice(body);
    Ok(out)
}

/// Decodes a WAL record written by [`encode`] (or by version 1).
pub fn decode(bytes: &[u8]) -> Result<(TableKey, RecordBatch)> {
    let invalid = |what: &str| Error::InvalidRecord(what.to_string());
    let (&version, mut rest) = bytes.split_first().ok_or_else(|| invalid("empty record"))?;
    if version != VERSION && version != INLINE_SCHEMA_VERSION {
        return Err(invalid(&format!("unsupported version {version}")));
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
    let restored;
    if version == VERSION {
        let (&code, tail) = rest
            .split_first()
            .ok_or_else(|| invalid("truncated header"))?;
        rest = tail;
        if code != 0 {
            let (_, prefix) = KNOWN_SCHEMAS
                .get(code as usize - 1)
                .ok_or_else(|| invalid(&format!("unknown schema code {code}")))?;
            restored = [prefix.as_slice(), rest].concat();
            rest = &restored;
        }
    }
    // The stream must end with its end-of-stream marker: a cut stream is not a whole record.
    if !rest.ends_with(&END_OF_STREAM) {
        return Err(invalid("IPC stream without its end-of-stream marker"));
    }
    let mut reader =
        StreamReader::try_new(Cursor::new(rest), None).map_err(arrow("decoding a mini-batch"))?;
    let batch = reader
        .next()
        .ok_or_else(|| invalid("no record batch in the IPC stream"))?
        .map_err(arrow("decoding a mini-batch"))?;
    if reader.next().is_some() {
        return Err(invalid("more than one record batch in the IPC stream"));
    }
    let table = names.pop().expect("two names");
    let namespace = names.pop().expect("two names");
    Ok((TableKey { namespace, table }, batch))
}

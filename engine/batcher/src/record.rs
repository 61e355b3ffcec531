//! A mini-batch as a WAL record payload.
//!
//! ```text
//! 0   1  format version = 1
//! 1   1  namespace length n (bytes, UTF-8)
//! 2   n  namespace
//! 2+n 1  table length t
//! 3+n t  table
//! …      one Arrow IPC stream: the schema message, one record batch, end-of-stream
//! ```
//!
//! The IPC stream carries its schema (field ids included), so a record decodes on its own
//! even after the table's schema evolved.

use std::io::Cursor;

use arrow::array::RecordBatch;
use arrow::ipc::reader::StreamReader;
use arrow::ipc::writer::StreamWriter;

use crate::batcher::TableKey;
use crate::error::{Error, Result, arrow};

const VERSION: u8 = 1;
/// Arrow IPC's end-of-stream marker: continuation token, then a zero length.
const END_OF_STREAM: [u8; 8] = [0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0];

/// Encodes a mini-batch for the WAL.
pub fn encode(key: &TableKey, batch: &RecordBatch) -> Result<Vec<u8>> {
    let mut out = Vec::with_capacity(batch.get_array_memory_size() / 2 + 1024);
    out.push(VERSION);
    for name in [&key.namespace, &key.table] {
        let len = u8::try_from(name.len())
            .map_err(|_| Error::InvalidRecord(format!("name {name:?} longer than 255 bytes")))?;
        out.push(len);
        out.extend_from_slice(name.as_bytes());
    }
    let mut writer =
        StreamWriter::try_new(&mut out, &batch.schema()).map_err(arrow("encoding a mini-batch"))?;
    writer
        .write(batch)
        .map_err(arrow("encoding a mini-batch"))?;
    writer.finish().map_err(arrow("encoding a mini-batch"))?;
    drop(writer);
    Ok(out)
}

/// Decodes a WAL record written by [`encode`].
pub fn decode(bytes: &[u8]) -> Result<(TableKey, RecordBatch)> {
    let invalid = |what: &str| Error::InvalidRecord(what.to_string());
    let (&version, mut rest) = bytes.split_first().ok_or_else(|| invalid("empty record"))?;
    if version != VERSION {
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

//! The WAL record codec: round trips, damage, earlier versions, pinned schema fingerprints.

use arrow::array::RecordBatch;
use icegate_batcher::TableKey;
use icegate_parser::{NdjsonContext, NdjsonDecoder};
use icegate_pipeline::record;
use proptest::prelude::*;

fn logs(lines: &[(&str, i64)]) -> RecordBatch {
    let body: String = lines
        .iter()
        .map(|(service, seconds)| format!("{{\"service\":\"{service}\",\"time\":{seconds},\"msg\":\"{service} at {seconds}\"}}\n"))
        .collect();
    NdjsonDecoder::new().decode(body.as_bytes(), &NdjsonContext::default(), 0)
}

#[test]
fn damaged_records_are_errors_not_panics() {
    let key = TableKey::new("default", "logs");
    let bytes = record::encode(&key, &logs(&[("a", 1), ("b", 2)])).unwrap();
    for cut in 0..bytes.len() {
        assert!(record::decode(&bytes[..cut]).is_err(), "cut at {cut}");
    }
    let mut wrong_version = bytes.clone();
    wrong_version[0] = 9;
    assert!(
        record::decode(&wrong_version)
            .unwrap_err()
            .to_string()
            .contains("version")
    );
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn records_round_trip(lines in proptest::collection::vec(("[a-z]{1,8}", 1_600_000_000i64..1_800_000_000), 0..30), namespace in "[a-z_]{1,20}") {
        let lines: Vec<(&str, i64)> = lines.iter().map(|(s, t)| (s.as_str(), *t)).collect();
        let batch = logs(&lines);
        let key = TableKey::new(namespace, "logs");
        let (decoded_key, decoded) = record::decode(&record::encode(&key, &batch).unwrap()).unwrap();
        prop_assert_eq!(decoded_key, key);
        prop_assert_eq!(decoded, batch);
    }

    #[test]
    fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let _ = record::decode(&bytes);
    }
}

#[test]
fn known_schemas_stay_out_of_the_record_and_others_travel_inline() {
    let key = TableKey::new("default", "logs");
    let one_row = logs(&[("a", 1)]);
    let compact = record::encode(&key, &one_row).unwrap();
    assert!(
        compact.len() < 3000,
        "a one-row logs record takes {} bytes",
        compact.len()
    );
    assert_eq!(record::decode(&compact).unwrap().1, one_row);

    // A schema IceGate does not know (here: one column dropped) is carried inline.
    let projected = one_row.project(&[0, 5]).unwrap();
    let inline = record::encode(&key, &projected).unwrap();
    assert_eq!(record::decode(&inline).unwrap().1, projected);

    // Version 1 records (schema always inline, no schema byte) still decode.
    let mut v1 = vec![1u8];
    for name in ["default", "logs"] {
        v1.push(name.len() as u8);
        v1.extend_from_slice(name.as_bytes());
    }
    let mut writer = arrow::ipc::writer::StreamWriter::try_new(&mut v1, &one_row.schema()).unwrap();
    writer.write(&one_row).unwrap();
    writer.finish().unwrap();
    drop(writer);
    assert_eq!(record::decode(&v1).unwrap().1, one_row);
}

/// Version 2 records (what the previous release wrote): the schema byte is a code naming
/// a built-in schema, its message left out.
#[test]
fn version_2_records_still_decode() {
    let one_row = logs(&[("a", 1), ("b", 2)]);
    let mut stream = Vec::new();
    let options =
        arrow::ipc::writer::IpcWriteOptions::try_new(8, false, arrow::ipc::MetadataVersion::V5)
            .unwrap();
    let mut writer = arrow::ipc::writer::StreamWriter::try_new_with_options(
        &mut stream,
        &one_row.schema(),
        options,
    )
    .unwrap();
    writer.write(&one_row).unwrap();
    writer.finish().unwrap();
    drop(writer);
    let prefix = record::schema_message(&one_row.schema());
    assert!(stream.starts_with(&prefix));
    let mut v2 = vec![2u8];
    for name in ["default", "logs"] {
        v2.push(name.len() as u8);
        v2.extend_from_slice(name.as_bytes());
    }
    v2.push(1);
    v2.extend_from_slice(&stream[prefix.len()..]);
    let (key, decoded) = record::decode(&v2).unwrap();
    assert_eq!(key, TableKey::new("default", "logs"));
    assert_eq!(decoded, one_row);
}

/// The built-in schemas' fingerprints as released. If this fails, a built-in schema changed:
/// WALs written by earlier builds name the old schema by its fingerprint, so add the old
/// schema message to `record::HISTORICAL_SCHEMAS` and the new fingerprint here.
#[test]
fn builtin_schema_fingerprints_are_pinned() {
    let pinned = include_str!("fixtures/schema-fingerprints.txt");
    let pinned: Vec<u64> = pinned
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| u64::from_str_radix(line.split_whitespace().next().unwrap(), 16).unwrap())
        .collect();
    for (name, print) in ["logs", "traces", "metrics"]
        .iter()
        .zip(record::builtin_fingerprints())
    {
        assert!(
            pinned.contains(&print),
            "{name} schema fingerprint {print:016x} is not pinned"
        );
    }
    for message in record::HISTORICAL_SCHEMAS {
        assert!(pinned.contains(&record::fingerprint(message)));
    }
}

#[test]
fn unknown_fingerprints_are_precise_errors() {
    let key = TableKey::new("default", "logs");
    let mut bytes = record::encode(&key, &logs(&[("a", 1)])).unwrap();
    let at = 1 + 1 + key.namespace.len() + 1 + key.table.len();
    assert_eq!(bytes[at], 1, "a built-in schema travels as a fingerprint");
    bytes[at + 1] ^= 0xff;
    let err = record::decode(&bytes).unwrap_err().to_string();
    assert!(err.contains("fingerprint"), "{err}");
}

/// A replayed record is sized like the batch it was written from: batches are sealed (and
/// memory reserved) by `get_array_memory_size`, which counts a buffer shared by several
/// arrays once per array.
#[test]
fn a_decoded_record_measures_what_its_batch_measured() {
    let key = TableKey::new("default", "logs");
    let lines: Vec<(String, i64)> = (0..500)
        .map(|i| (format!("svc-{}", i % 7), 1_764_000_000 + i))
        .collect();
    let lines: Vec<(&str, i64)> = lines.iter().map(|(s, t)| (s.as_str(), *t)).collect();
    let batch = logs(&lines);
    let bytes = record::encode(&key, &batch).unwrap();
    let (_, decoded) = record::decode(&bytes).unwrap();
    let (written, replayed) = (
        batch.get_array_memory_size(),
        decoded.get_array_memory_size(),
    );
    assert!(
        replayed <= written * 2,
        "written {written} bytes, replayed {replayed} bytes (record {} bytes)",
        bytes.len()
    );
}

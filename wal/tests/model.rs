//! Random sequences of append / reopen / truncate / read, checked against a plain vector.

mod common;

use common::tiny_config;
use icegate_wal::{Error, SyncPolicy, Wal};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    Append(Vec<u8>),
    /// Several appends in flight at once, awaited together (one group commit).
    AppendMany(Vec<Vec<u8>>),
    Reopen,
    /// Truncate before `len * fraction / 100`.
    Truncate(u8),
    /// Read from `len * fraction / 100`.
    Read(u8),
}

fn op() -> impl Strategy<Value = Op> {
    let payload = proptest::collection::vec(any::<u8>(), 0..300);
    prop_oneof![
        4 => payload.clone().prop_map(Op::Append),
        2 => proptest::collection::vec(payload, 1..12).prop_map(Op::AppendMany),
        1 => Just(Op::Reopen),
        1 => (0u8..=110).prop_map(Op::Truncate),
        2 => (0u8..=110).prop_map(Op::Read),
    ]
}

fn at(fraction: u8, len: usize) -> u64 {
    (len * fraction as usize / 100) as u64
}

async fn run(ops: Vec<Op>, sync: SyncPolicy) -> Result<(), TestCaseError> {
    let dir = tempfile::tempdir().unwrap();
    let config = tiny_config(sync);
    let (mut wal, _) = Wal::open(dir.path(), config.clone()).unwrap();
    let mut model: Vec<Vec<u8>> = Vec::new();
    // Highest truncation point requested so far: the log may keep more, never less.
    let mut truncated_to = 0u64;
    for op in ops {
        match op {
            Op::Append(payload) => {
                let seq = wal.append_durable(&payload).await.unwrap();
                prop_assert_eq!(seq, model.len() as u64);
                model.push(payload);
            }
            Op::AppendMany(payloads) => {
                let pending: Vec<_> = payloads.iter().map(|p| wal.append(p).unwrap()).collect();
                for (pending, payload) in pending.into_iter().zip(payloads) {
                    prop_assert_eq!(pending.durable().await.unwrap(), model.len() as u64);
                    model.push(payload);
                }
            }
            Op::Reopen => {
                wal.close().unwrap();
                drop(wal);
                let (reopened, report) = Wal::open(dir.path(), config.clone()).unwrap();
                prop_assert_eq!(report.next_seq, model.len() as u64);
                prop_assert_eq!(report.truncated_bytes, 0);
                wal = reopened;
            }
            Op::Truncate(fraction) => {
                let seq = at(fraction, model.len());
                let before = wal.stats();
                let outcome = wal.truncate_before(seq).unwrap();
                prop_assert_eq!(
                    wal.stats().disk_bytes,
                    before.disk_bytes - outcome.removed_bytes
                );
                truncated_to = truncated_to.max(seq.min(model.len() as u64));
            }
            Op::Read(fraction) => {
                let from = at(fraction, model.len());
                let first = wal.stats().first_seq;
                prop_assert!(
                    first <= truncated_to,
                    "kept less than asked: {} > {}",
                    first,
                    truncated_to
                );
                match wal.read_from(from) {
                    Ok(reader) => {
                        prop_assert!(from >= first);
                        let records: Vec<_> = reader.collect::<Result<_, _>>().unwrap();
                        let expected = model.get(from as usize..).unwrap_or(&[]);
                        prop_assert_eq!(records.len(), expected.len());
                        for (offset, (record, payload)) in records.iter().zip(expected).enumerate()
                        {
                            prop_assert_eq!(record.seq, from + offset as u64);
                            prop_assert_eq!(&record.payload[..], &payload[..]);
                        }
                    }
                    Err(Error::Truncated {
                        requested,
                        first_available,
                    }) => {
                        prop_assert_eq!(requested, from);
                        prop_assert_eq!(first_available, first);
                        prop_assert!(from < first);
                    }
                    Err(other) => return Err(TestCaseError::fail(other.to_string())),
                }
            }
        }
        prop_assert_eq!(wal.stats().next_seq, model.len() as u64);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    #[test]
    fn log_matches_model(ops in proptest::collection::vec(op(), 1..40), never in any::<bool>()) {
        let sync = if never { SyncPolicy::Never } else { SyncPolicy::Always };
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(run(ops, sync))?;
    }
}

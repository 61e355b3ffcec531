//! How often each key appears, and with what type, over a table's last few batches.

use std::collections::{HashMap, HashSet, VecDeque};

use arrow::array::{Array, MapArray, RecordBatch, StringArray};

use crate::columns::{Promotions, column_name};
use crate::config::PromotionPolicy;
use crate::infer::Kind;
use crate::promote::string_map;

/// One key's counts in one batch.
#[derive(Debug, Clone, Copy)]
struct KeyCount {
    rows: u64,
    /// The join of its values' kinds; `None` while every value was null.
    kind: Option<Kind>,
}

/// One window entry's counts: a batch, or several small ones.
#[derive(Debug, Default)]
struct BatchCounts {
    rows: u64,
    /// Per source (in the policy's order): key → counts.
    keys: Vec<HashMap<String, KeyCount>>,
}

/// A table's key counts over its last `window-batches` batches (small ones counted together).
#[derive(Debug)]
pub struct KeyObserver {
    policy: PromotionPolicy,
    window: VecDeque<BatchCounts>,
    /// Keys not counted because a batch had more than `max-tracked-keys` (a metric).
    pub untracked_keys: u64,
}

/// A column promotion would add.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub source: String,
    pub key: String,
    pub kind: Kind,
    /// Share of the window's rows holding the key.
    pub share: f64,
}

impl KeyObserver {
    pub fn new(policy: PromotionPolicy) -> Self {
        Self {
            policy,
            window: VecDeque::new(),
            untracked_keys: 0,
        }
    }

    pub fn policy(&self) -> &PromotionPolicy {
        &self.policy
    }

    /// Counts `batch`'s keys (a batch of the table's base schema). Keys already promoted are
    /// counted too: a promotion's column is decided once, and counting is cheaper than
    /// asking.
    pub fn observe(&mut self, batch: &RecordBatch) {
        // A window entry holds at least its share of `min-window-rows`: small batches (a
        // quiet table, a short flush interval) are counted together, so the window still
        // reaches `min-window-rows` while its memory stays `window-batches` entries.
        let policy = &self.policy;
        let entry_rows = policy
            .min_window_rows
            .div_ceil(policy.window_batches.max(1) as u64);
        if self
            .window
            .back()
            .is_none_or(|last| last.rows >= entry_rows)
        {
            self.window.push_back(BatchCounts {
                rows: 0,
                keys: vec![HashMap::new(); policy.sources.len()],
            });
            while self.window.len() > policy.window_batches.max(1) {
                self.window.pop_front();
            }
        }
        let counts = self.window.back_mut().expect("pushed above");
        counts.rows += batch.num_rows() as u64;
        let limit = policy.max_tracked_keys;
        let untracked = &mut self.untracked_keys;
        for (source, keys) in policy.sources.iter().zip(&mut counts.keys) {
            let Some(map) = batch
                .column_by_name(source)
                .and_then(|c| string_map(c.as_ref()))
            else {
                continue;
            };
            for_each_row_keys(map, |names, values, range| {
                for i in range {
                    let key = names.value(i);
                    let kind = (!values.is_null(i))
                        .then(|| Kind::of(values.value(i), policy.is_timestamp(key)));
                    let full = keys.len() >= limit;
                    match keys.get_mut(key) {
                        Some(count) => {
                            count.rows += 1;
                            count.kind = join(count.kind, kind);
                        }
                        None if !full => {
                            keys.insert(key.to_string(), KeyCount { rows: 1, kind });
                        }
                        None => *untracked += 1,
                    }
                }
            });
        }
    }

    /// Keys to promote now, given the table's current columns: most common first, as many
    /// as `max-columns` leaves room for.
    pub fn candidates(&self, promotions: &Promotions) -> Vec<Candidate> {
        if !self.policy.promote {
            return Vec::new();
        }
        let room = self
            .policy
            .max_columns
            .saturating_sub(promotions.columns.len());
        if room == 0 {
            return Vec::new();
        }
        let rows: u64 = self.window.iter().map(|batch| batch.rows).sum();
        let mut totals: HashMap<(usize, &str), KeyCount> = HashMap::new();
        for batch in &self.window {
            for (source_index, keys) in batch.keys.iter().enumerate() {
                for (key, count) in keys {
                    let total = totals.entry((source_index, key)).or_insert(KeyCount {
                        rows: 0,
                        kind: None,
                    });
                    total.rows += count.rows;
                    total.kind = join(total.kind, count.kind);
                }
            }
        }
        let mut candidates: Vec<Candidate> = totals
            .into_iter()
            .filter_map(|((source_index, key), count)| {
                let source = &self.policy.sources[source_index];
                let kind = count.kind?;
                let share = count.rows as f64 / rows.max(1) as f64;
                let wanted = self.policy.is_allowed(key)
                    || (rows >= self.policy.min_window_rows && share >= self.policy.min_share);
                (wanted && !self.policy.is_denied(key) && !promotions.has(source, key)).then(|| {
                    Candidate {
                        source: source.clone(),
                        key: key.to_string(),
                        kind,
                        share,
                    }
                })
            })
            .collect();
        candidates.sort_by(|a, b| {
            b.share
                .total_cmp(&a.share)
                .then_with(|| (&a.source, &a.key).cmp(&(&b.source, &b.key)))
        });
        candidates.truncate(room);
        candidates
    }
}

fn join(a: Option<Kind>, b: Option<Kind>) -> Option<Kind> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.join(b)),
        (a, b) => a.or(b),
    }
}

/// Calls `f` with the key and value arrays and each row's entry range.
pub(crate) fn for_each_row_keys(
    map: &MapArray,
    mut f: impl FnMut(&StringArray, &StringArray, std::ops::Range<usize>),
) {
    let (Some(keys), Some(values)) = (
        map.keys().as_any().downcast_ref::<StringArray>(),
        map.values().as_any().downcast_ref::<StringArray>(),
    ) else {
        return;
    };
    let offsets = map.value_offsets();
    for row in 0..map.len() {
        if map.is_valid(row) {
            f(
                keys,
                values,
                offsets[row] as usize..offsets[row + 1] as usize,
            );
        }
    }
}

/// New columns for `candidates`, named so they collide with no column of the table or
/// with each other.
pub fn new_columns(
    candidates: &[Candidate],
    promotions: &Promotions,
) -> Vec<crate::columns::PromotedColumn> {
    let mut taken: HashSet<String> = promotions.names.clone();
    candidates
        .iter()
        .map(|candidate| {
            let name = column_name(&candidate.source, &candidate.key, &taken);
            taken.insert(name.clone());
            crate::columns::PromotedColumn {
                name,
                source: candidate.source.clone(),
                key: candidate.key.clone(),
                column_type: candidate.kind.column_type(),
                field_id: None,
            }
        })
        .collect()
}

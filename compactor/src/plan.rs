//! Which files to rewrite: small files of closed partitions, packed into bins of about the
//! target size, in commit order so each output covers a contiguous stretch of time.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use iceberg::spec::{
    Literal, ManifestEntryRef, PartitionSpec, PrimitiveLiteral, Struct, Transform,
};

use crate::config::CompactorConfig;
use crate::live::TableState;

/// The rewrite of one partition: its bins, each becoming one (or, past the target size, a
/// few) sorted files.
#[derive(Debug, Clone)]
pub struct PartitionRewrite {
    /// Partition values in the table's default spec.
    pub partition: Struct,
    /// Printable partition, e.g. `timestamp_day=2026-12-01/service_name=api`.
    pub label: String,
    pub bins: Vec<Vec<ManifestEntryRef>>,
}

impl PartitionRewrite {
    pub fn inputs(&self) -> impl Iterator<Item = &ManifestEntryRef> {
        self.bins.iter().flatten()
    }

    pub fn input_bytes(&self) -> u64 {
        self.inputs()
            .map(|entry| entry.data_file().file_size_in_bytes())
            .sum()
    }

    pub fn input_files(&self) -> usize {
        self.bins.iter().map(Vec::len).sum()
    }
}

/// Why a table gets no rewrite this round, when it is not simply "nothing to do".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Skip {
    /// Delete files are live; rewriting would have to apply them.
    DeleteFiles,
}

/// The rewrites `state` needs under `config` at `now`.
pub fn plan_rewrites(
    state: &TableState,
    config: &CompactorConfig,
    now: SystemTime,
) -> Result<Vec<PartitionRewrite>, Skip> {
    if state.has_deletes() {
        return Err(Skip::DeleteFiles);
    }
    let metadata = state.table.metadata();
    let spec = metadata.default_partition_spec();
    let small = config.target_file_size / 4 * 3;
    // Grouped by the partition values themselves (labels may collide: null and "null").
    let mut partitions: HashMap<Struct, (String, Vec<ManifestEntryRef>)> = HashMap::new();
    for (spec_id, entry) in state.data_files_with_spec() {
        let file = entry.data_file();
        // Files of an older spec stay as they are: their partition values mean something else.
        if spec_id != spec.spec_id() || file.file_size_in_bytes() >= small {
            continue;
        }
        partitions
            .entry(file.partition().clone())
            .or_insert_with(|| (partition_label(spec, file.partition()), Vec::new()))
            .1
            .push(entry.clone());
    }
    let mut partitions: Vec<_> = partitions.into_iter().collect();
    partitions.sort_by(|(_, (a, _)), (_, (b, _))| a.cmp(b));
    let mut rewrites = Vec::new();
    for (partition, (label, mut files)) in partitions {
        if files.len() < config.min_input_files || !is_closed(spec, &partition, config, now) {
            continue;
        }
        // Commit order is time order for appends: neighbours in a bin hardly overlap, so the
        // merge is mostly a concatenation and each output covers one stretch of time.
        files.sort_by(|a, b| {
            (a.sequence_number(), a.data_file().file_path())
                .cmp(&(b.sequence_number(), b.data_file().file_path()))
        });
        files.truncate(config.max_input_files);
        let bins = pack(files, config.target_file_size);
        if !bins.is_empty() {
            rewrites.push(PartitionRewrite {
                partition,
                label,
                bins,
            });
        }
    }
    Ok(rewrites)
}

/// Consecutive files into bins of at most `target` input bytes; a bin of one file is no
/// rewrite and is dropped (unless it joins its predecessor within 1.5 × target).
fn pack(files: Vec<ManifestEntryRef>, target: u64) -> Vec<Vec<ManifestEntryRef>> {
    let mut bins: Vec<Vec<ManifestEntryRef>> = Vec::new();
    let mut current: Vec<ManifestEntryRef> = Vec::new();
    let mut bytes = 0;
    for file in files {
        let size = file.data_file().file_size_in_bytes();
        if !current.is_empty() && bytes + size > target {
            bins.push(std::mem::take(&mut current));
            bytes = 0;
        }
        bytes += size;
        current.push(file);
    }
    if current.len() == 1 && !bins.is_empty() {
        let last_bytes: u64 = bins
            .last()
            .expect("not empty")
            .iter()
            .map(|entry| entry.data_file().file_size_in_bytes())
            .sum();
        if last_bytes + bytes <= target / 2 * 3 {
            bins.last_mut().expect("not empty").append(&mut current);
        }
    }
    if !current.is_empty() {
        bins.push(current);
    }
    bins.retain(|bin| bin.len() > 1);
    bins
}

/// Whether every time field of `partition` ended at least `closed-after` before `now`.
pub fn is_closed(
    spec: &PartitionSpec,
    partition: &Struct,
    config: &CompactorConfig,
    now: SystemTime,
) -> bool {
    match partition_end(spec, partition) {
        Some(end) => end + config.closed_after <= now,
        None => true,
    }
}

/// The end of the time range a partition covers (the latest end over its time fields: the
/// partition holds rows until then), `None` without time fields.
pub fn partition_end(spec: &PartitionSpec, partition: &Struct) -> Option<SystemTime> {
    let mut end: Option<SystemTime> = None;
    for (field, value) in spec.fields().iter().zip(partition.iter()) {
        let Some(Literal::Primitive(PrimitiveLiteral::Int(ordinal))) = value else {
            continue;
        };
        let ordinal = i64::from(*ordinal);
        let seconds = match field.transform {
            Transform::Hour => (ordinal + 1) * 3600,
            Transform::Day => (ordinal + 1) * 86_400,
            Transform::Month => month_start_days(ordinal + 1) * 86_400,
            Transform::Year => month_start_days((ordinal + 1) * 12) * 86_400,
            _ => continue,
        };
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(seconds.max(0) as u64);
        end = Some(end.map_or(at, |other| other.max(at)));
    }
    end
}

/// Days from 1970-01-01 to the first day of month `months` since January 1970.
fn month_start_days(months: i64) -> i64 {
    let year = 1970 + months.div_euclid(12);
    let month = months.rem_euclid(12) + 1;
    days_from_civil(year, month, 1)
}

/// Howard Hinnant's days-from-civil (proleptic Gregorian).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// `name=value/…` of a partition, for logs and `plan`.
pub fn partition_label(spec: &PartitionSpec, partition: &Struct) -> String {
    spec.fields()
        .iter()
        .zip(partition.iter())
        .map(|(field, value)| {
            let text = match value {
                None => "null".to_string(),
                Some(Literal::Primitive(PrimitiveLiteral::Int(days)))
                    if field.transform == Transform::Day =>
                {
                    civil_from_days(i64::from(*days))
                }
                Some(Literal::Primitive(PrimitiveLiteral::String(text))) => text.clone(),
                Some(Literal::Primitive(PrimitiveLiteral::Int(number))) => number.to_string(),
                Some(Literal::Primitive(PrimitiveLiteral::Long(number))) => number.to_string(),
                Some(other) => format!("{other:?}"),
            };
            format!("{}={text}", field.name)
        })
        .collect::<Vec<_>>()
        .join("/")
}

/// `YYYY-MM-DD` of a day number.
fn civil_from_days(days: i64) -> String {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn calendar_arithmetic_matches_known_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(days_from_civil(2000, 3, 1), 11_017);
        assert_eq!(days_from_civil(2026, 12, 2), 20_789);
        assert_eq!(civil_from_days(20_789), "2026-12-02");
        assert_eq!(civil_from_days(-1), "1969-12-31");
        // February 2024 starts on day 19_754 and has 29 days.
        assert_eq!(month_start_days((2024 - 1970) * 12 + 1), 19_754);
        assert_eq!(month_start_days((2024 - 1970) * 12 + 2), 19_754 + 29);
        for days in -800..800 {
            let text = civil_from_days(days * 97);
            let (y, rest) = text.split_at(4);
            let m: i64 = rest[1..3].parse().unwrap();
            let d: i64 = rest[4..6].parse().unwrap();
            assert_eq!(
                days_from_civil(y.parse().unwrap(), m, d),
                days * 97,
                "{text}"
            );
        }
    }
}

//! What type an attribute value's text has, and whether it fits a column's type.
//!
//! Attribute maps hold text (see `icegate-schema`: integers, doubles and booleans as their
//! JSON literal, everything else as a string), so types are read back from the text with
//! rules that never lose information: a long is the canonical decimal form (`42`, `-7`; not
//! `007` or `+1`, which stay strings), a double has a fraction or an exponent (`1.5`,
//! `1.0`, `1e-7`, `1.3e+120`) as IceGate's decoders write doubles, a boolean is `true` or
//! `false`, and a timestamp (only for keys the policy names) is RFC 3339 text.

use serde::{Deserialize, Serialize};

/// The type of a promoted column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ColumnType {
    String,
    Long,
    Double,
    Boolean,
    /// `timestamptz`, microseconds.
    Timestamp,
}

impl ColumnType {
    /// The Iceberg type's name (`string`, `long`, `double`, `boolean`, `timestamptz`).
    pub fn iceberg_name(self) -> &'static str {
        match self {
            ColumnType::String => "string",
            ColumnType::Long => "long",
            ColumnType::Double => "double",
            ColumnType::Boolean => "boolean",
            ColumnType::Timestamp => "timestamptz",
        }
    }
}

/// What one value's text looks like; joined over the values seen for a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Boolean,
    Long,
    Double,
    /// `NaN`, `inf`, `-inf`: a double's non-finite spellings, but also plausible strings;
    /// they make a double column only alongside numbers.
    NonFinite,
    Timestamp,
    String,
}

impl Kind {
    /// The value's kind; `timestamps` when the key is one the policy reads as a timestamp.
    pub fn of(text: &str, timestamps: bool) -> Kind {
        if timestamps {
            return if parse_timestamp_micros(text).is_some() {
                Kind::Timestamp
            } else {
                Kind::String
            };
        }
        match text {
            "true" | "false" => return Kind::Boolean,
            "NaN" | "inf" | "-inf" => return Kind::NonFinite,
            _ => {}
        }
        if parse_long(text).is_some() {
            Kind::Long
        } else if is_double_literal(text) {
            Kind::Double
        } else {
            Kind::String
        }
    }

    /// The least kind both values fit (associative and commutative).
    pub fn join(self, other: Kind) -> Kind {
        use Kind::*;
        match (self, other) {
            (a, b) if a == b => a,
            (Long | Double | NonFinite, Long | Double | NonFinite) => Double,
            _ => String,
        }
    }

    /// The column type for a key whose values joined to this kind.
    pub fn column_type(self) -> ColumnType {
        match self {
            Kind::Boolean => ColumnType::Boolean,
            Kind::Long => ColumnType::Long,
            Kind::Double => ColumnType::Double,
            Kind::Timestamp => ColumnType::Timestamp,
            Kind::NonFinite | Kind::String => ColumnType::String,
        }
    }
}

/// The canonical decimal text of an i64 (what the decoders write for integers).
pub fn parse_long(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    let canonical = !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (digits == "0" || !digits.starts_with('0'))
        && text != "-0";
    if !canonical {
        return None;
    }
    text.parse().ok()
}

/// A JSON number with a fraction or an exponent, finite.
fn is_double_literal(text: &str) -> bool {
    let body = text.strip_prefix('-').unwrap_or(text);
    let (mantissa, exponent) = match body.find(['e', 'E']) {
        Some(at) => (&body[..at], Some(&body[at + 1..])),
        None => (body, None),
    };
    let (int, fraction) = match mantissa.split_once('.') {
        Some((int, fraction)) => (int, Some(fraction)),
        None => (mantissa, None),
    };
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    let int_ok = digits(int) && (int == "0" || !int.starts_with('0'));
    let fraction_ok = fraction.is_none_or(digits);
    let exponent_ok = exponent.is_none_or(|e| digits(e.strip_prefix(['+', '-']).unwrap_or(e)));
    int_ok
        && fraction_ok
        && exponent_ok
        && (fraction.is_some() || exponent.is_some())
        && text.parse::<f64>().is_ok_and(f64::is_finite)
}

/// A double column's value: any long or double literal, or a non-finite spelling.
pub fn parse_double(text: &str) -> Option<f64> {
    match text {
        "NaN" => Some(f64::NAN),
        "inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        _ if parse_long(text).is_some() || is_double_literal(text) => text.parse().ok(),
        _ => None,
    }
}

pub fn parse_boolean(text: &str) -> Option<bool> {
    match text {
        "true" => Some(true),
        "false" => Some(false),
        _ => None,
    }
}

/// Microseconds since the epoch of RFC 3339 text (sub-microsecond digits truncated).
pub fn parse_timestamp_micros(text: &str) -> Option<i64> {
    icegate_parser::parse_rfc3339(text).map(|nanos| nanos.div_euclid(1000))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn kinds_follow_the_decoders_spelling() {
        let cases = [
            ("42", Kind::Long),
            ("-7", Kind::Long),
            ("0", Kind::Long),
            ("007", Kind::String),
            ("+1", Kind::String),
            ("-0", Kind::String),
            ("1.5", Kind::Double),
            ("1.0", Kind::Double),
            ("1e-7", Kind::Double),
            ("1.3e+120", Kind::Double),
            ("1.", Kind::String),
            (".5", Kind::String),
            ("1e400", Kind::String),
            ("NaN", Kind::NonFinite),
            ("true", Kind::Boolean),
            ("True", Kind::String),
            ("", Kind::String),
            ("GET /", Kind::String),
            ("99999999999999999999", Kind::String),
        ];
        for (text, kind) in cases {
            assert_eq!(Kind::of(text, false), kind, "{text:?}");
        }
        assert_eq!(Kind::of("2026-12-03T10:00:00Z", true), Kind::Timestamp);
        assert_eq!(Kind::of("2026-12-03T10:00:00Z", false), Kind::String);
        assert_eq!(Kind::of("42", true), Kind::String);
    }

    #[test]
    fn joins_widen_numbers_and_fall_back_to_string() {
        use Kind::*;
        assert_eq!(Long.join(Double), Double);
        assert_eq!(NonFinite.join(Long), Double);
        assert_eq!(NonFinite.join(NonFinite).column_type(), ColumnType::String);
        assert_eq!(Boolean.join(Long), String);
        assert_eq!(Timestamp.join(Timestamp), Timestamp);
        assert_eq!(Timestamp.join(String), String);
    }

    fn kind() -> impl Strategy<Value = Kind> {
        prop_oneof![
            Just(Kind::Boolean),
            Just(Kind::Long),
            Just(Kind::Double),
            Just(Kind::NonFinite),
            Just(Kind::Timestamp),
            Just(Kind::String),
        ]
    }

    proptest! {
        #[test]
        fn join_is_a_semilattice(a in kind(), b in kind(), c in kind()) {
            prop_assert_eq!(a.join(b), b.join(a));
            prop_assert_eq!(a.join(b).join(c), a.join(b.join(c)));
            prop_assert_eq!(a.join(a), a);
        }

        #[test]
        fn longs_round_trip_exactly(value: i64) {
            let text = value.to_string();
            prop_assert_eq!(Kind::of(&text, false), Kind::Long);
            prop_assert_eq!(parse_long(&text), Some(value));
            prop_assert_eq!(parse_double(&text), Some(value as f64));
        }

        #[test]
        fn doubles_as_json_writes_them_are_doubles(value in proptest::num::f64::NORMAL) {
            // serde_json spells doubles with a fraction or an exponent, as the decoders do.
            let text = serde_json::to_string(&value).unwrap();
            prop_assert_eq!(Kind::of(&text, false), Kind::Double, "{}", text);
            prop_assert_eq!(parse_double(&text), Some(value));
        }

        #[test]
        fn a_value_of_a_kind_fits_the_kinds_column(text in "[-+.eE0-9a-zNIfnt]{0,12}") {
            match Kind::of(&text, false).column_type() {
                ColumnType::Long => prop_assert!(parse_long(&text).is_some()),
                ColumnType::Double => prop_assert!(parse_double(&text).is_some()),
                ColumnType::Boolean => prop_assert!(parse_boolean(&text).is_some()),
                ColumnType::String | ColumnType::Timestamp => {}
            }
        }
    }
}

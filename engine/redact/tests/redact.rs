//! Every detector with cases it must catch and look-alikes it must leave alone; modes; custom
//! patterns; dropped keys; batches.

use arrow::array::{Array, AsArray, MapArray};
use icegate_parser::{NdjsonContext, NdjsonDecoder};
use icegate_redact::{CustomPattern, Detector, RedactConfig, RedactMode, Redactor};
use proptest::prelude::*;

fn only(detector: Detector) -> Redactor {
    Redactor::new(&RedactConfig {
        detectors: vec![detector],
        ..RedactConfig::default()
    })
    .unwrap()
}

fn check(detector: Detector, positives: &[&str], negatives: &[&str]) {
    let redactor = only(detector);
    let marker = format!("[REDACTED:{}]", detector.label());
    for text in positives {
        let out = redactor.redact_text(text);
        assert!(out.contains(&marker), "{detector:?} missed {text:?}: {out}");
    }
    for text in negatives {
        let out = redactor.redact_text(text);
        assert_eq!(out, *text, "{detector:?} flagged {text:?}");
    }
}

#[test]
fn email() {
    check(
        Detector::Email,
        &[
            "contact ann@example.com today",
            "x.y+tag@mail.co.uk",
            "<first.last@sub-domain.example.org>",
        ],
        &[
            "no at sign here",
            "user@localhost",
            "@handle on social",
            "version 1.2@3",
        ],
    );
}

#[test]
fn payment_card() {
    check(
        Detector::PaymentCard,
        &[
            "card 4111111111111111 ok",
            "4111 1111 1111 1111",
            "mc 5500-0000-0000-0004",
            "amex 378282246310005",
        ],
        &[
            "order 4111111111111112",
            "id 1234567890123",
            "ts 1714564800123",
            "phone 555-0100",
        ],
    );
}

#[test]
fn ipv4() {
    check(
        Detector::Ipv4,
        &[
            "from 10.0.3.17 port",
            "client=192.168.1.254",
            "255.255.255.0",
        ],
        &[
            "version 1.2.3",
            "999.1.1.1",
            "semver 10.20.30",
            "build 10.0.3",
            "256.1.1.1",
        ],
    );
}

#[test]
fn ipv6() {
    check(
        Detector::Ipv6,
        &[
            "peer 2001:db8::1 connected",
            "fe80::1ff:fe23:4567:890a%eth0",
            "::1",
            "2001:0db8:85a3:0000:0000:8a2e:0370:7334",
        ],
        &["at 12:34:56", "ratio 3:2", "key:value:pair"],
    );
}

#[test]
fn bearer_token() {
    check(
        Detector::BearerToken,
        &[
            "Authorization: Bearer abcdefghijklmnop.qrst",
            "bearer dGhpc2lzYXRva2Vu==",
            "jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0In0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
        ],
        &["the bearer of bad news", "Bearer x", "eyJ alone"],
    );
}

#[test]
fn api_key() {
    check(
        Detector::ApiKey,
        &[
            "aws AKIAIOSFODNN7EXAMPLE used",
            "ghp_abcdefghijklmnopqrstuvwxyz0123456789",
            "xoxb-1234567890-abcdefghij",
            "sk_live_abcdefghijklmnop1234",
            "AIzaSyA1234567890abcdefghijklmnopqrstuv",
            "api_key=abcdef123456789012",
            r#""apiKey": "abcdef1234567890abcd""#,
        ],
        &[
            "AKIA short",
            "api_key=short",
            "the key is under the mat",
            "sk_other_abcdefghijklmnop",
        ],
    );
}

#[test]
fn hash_mode_is_keyed_and_stable() {
    let config = |key: &str| RedactConfig {
        mode: RedactMode::Hash,
        hash_key: key.into(),
        ..RedactConfig::default()
    };
    let a = Redactor::new(&config("0123456789abcdef-secret")).unwrap();
    let b = Redactor::new(&config("another-secret-of-16+")).unwrap();
    let first = a.redact_text("from ann@example.com");
    assert!(
        first.starts_with("from [email:") && first.ends_with(']'),
        "{first}"
    );
    assert!(!first.contains("ann@"));
    assert_eq!(
        first,
        a.redact_text("from ann@example.com"),
        "equal values hash equally"
    );
    assert_ne!(first, a.redact_text("from bob@example.com"));
    assert_ne!(
        first,
        b.redact_text("from ann@example.com"),
        "another key, another hash"
    );
    assert!(
        Redactor::new(&config("short")).is_err(),
        "hash mode needs a real key"
    );
}

#[test]
fn custom_patterns_and_bad_patterns() {
    let config = RedactConfig {
        custom: vec![CustomPattern {
            name: "employee-id".into(),
            pattern: r"EMP-\d{6}".into(),
        }],
        ..RedactConfig::default()
    };
    let redactor = Redactor::new(&config).unwrap();
    assert_eq!(
        redactor.redact_text("badge EMP-123456 in"),
        "badge [REDACTED:employee-id] in"
    );
    let bad = RedactConfig {
        custom: vec![CustomPattern {
            name: "broken".into(),
            pattern: "(".into(),
        }],
        ..RedactConfig::default()
    };
    let err = Redactor::new(&bad).err().unwrap().to_string();
    assert!(err.contains("broken"), "{err}");
}

#[test]
fn config_reads_toml_and_rejects_unknown_keys() {
    let config: RedactConfig = toml::from_str(
        "detectors = [\"email\", \"ipv4\"]\nmode = \"mask\"\ndrop-keys = [\"ssn\"]\ncolumns = [\"body\", \"event_name\"]\n",
    )
    .unwrap();
    assert_eq!(config.detectors, vec![Detector::Email, Detector::Ipv4]);
    assert!(toml::from_str::<RedactConfig>("detector = []\n").is_err());
    assert!(toml::from_str::<RedactConfig>("detectors = [\"dna\"]\n").is_err());
}

#[test]
fn batches_get_bodies_and_attribute_values_redacted_and_keys_dropped() {
    let body = concat!(
        "{\"msg\":\"login by ann@example.com\",\"user\":\"ann@example.com\",\"password\":\"hunter2\",\"Authorization\":\"Basic xyz\",\"plan\":\"pro\"}\n",
        "{\"msg\":\"nothing to see\",\"plan\":\"free\"}\n",
    );
    let batch = NdjsonDecoder::new().decode(body.as_bytes(), &NdjsonContext::default(), 0);
    let redacted = Redactor::new(&RedactConfig::default())
        .unwrap()
        .redact_batch(&batch)
        .unwrap();
    assert_eq!(redacted.schema(), batch.schema());
    let bodies = redacted.column_by_name("body").unwrap().as_string::<i32>();
    assert_eq!(bodies.value(0), "login by [REDACTED:email]");
    assert_eq!(bodies.value(1), "nothing to see");
    let attributes = redacted.column_by_name("attributes").unwrap();
    let attributes = attributes.as_any().downcast_ref::<MapArray>().unwrap();
    let row = attributes.value(0);
    let mut pairs: Vec<(String, String)> = (0..row.len())
        .map(|i| {
            (
                row.column(0).as_string::<i32>().value(i).into(),
                row.column(1).as_string::<i32>().value(i).into(),
            )
        })
        .collect();
    pairs.sort();
    assert_eq!(
        pairs,
        vec![
            ("plan".into(), "pro".into()),
            ("user".into(), "[REDACTED:email]".into())
        ]
    );
    assert_eq!(attributes.value(1).len(), 1);

    // Nothing to redact: the very same column buffers come back.
    let clean = NdjsonDecoder::new().decode(b"{\"msg\":\"clean\"}\n", &NdjsonContext::default(), 0);
    let out = Redactor::new(&RedactConfig::default())
        .unwrap()
        .redact_batch(&clean)
        .unwrap();
    assert!(std::sync::Arc::ptr_eq(out.column(5), clean.column(5)));
}

#[test]
fn basic_auth() {
    check(
        Detector::BasicAuth,
        &[
            "Authorization: Basic dXNlcjpwYXNz",
            "basic YWxhZGRpbjpvcGVuc2VzYW1l retry",
            "dsn postgres://app:hunter2@db.internal:5432/orders",
            "https://user:s3cret@example.com/path",
        ],
        &[
            "Basic authentication failed",
            "basic plan selected",
            "Basic dGVzdA==",
            "https://example.com:8443/path",
            "mailto:ann",
        ],
    );
}

/// Every string the traces table stores comes out redacted by default: resource, scope,
/// span, event and link attributes, the status message.
#[test]
fn traces_are_redacted_everywhere_they_store_strings() {
    let request = br#"{"resourceSpans":[{
        "resource":{"attributes":[
            {"key":"owner","value":{"stringValue":"ann@example.com"}},
            {"key":"db.password","value":{"stringValue":"hunter2"}}]},
        "scopeSpans":[{
            "scope":{"name":"lib","attributes":[{"key":"contact","value":{"stringValue":"bob@example.com"}}]},
            "spans":[{
                "traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060708","name":"GET",
                "attributes":[
                    {"key":"http.request.header.authorization","value":{"stringValue":"Bearer abcdefghijklmnop"}},
                    {"key":"http.request.header.x-upstream","value":{"stringValue":"Basic dXNlcjpwYXNz"}}],
                "status":{"code":2,"message":"login failed for carol@example.com"},
                "events":[{"name":"retry","attributes":[
                    {"key":"url","value":{"stringValue":"https://u:secret99@api.example"}},
                    {"key":"user.password","value":{"stringValue":"x"}}]}],
                "links":[{"traceId":"0102030405060708090a0b0c0d0e0f11","spanId":"0102030405060709",
                    "attributes":[{"key":"peer","value":{"stringValue":"dan@example.com"}}]}]
            },{
                "traceId":"0102030405060708090a0b0c0d0e0f10","spanId":"0102030405060709","name":"clean"
            }]}]}]}"#;
    let batch = icegate_parser::OtlpJsonTracesDecoder::new()
        .decode(request, 0)
        .unwrap();
    let redacted = Redactor::new(&RedactConfig::default())
        .unwrap()
        .redact_batch(&batch)
        .unwrap();
    assert_eq!(redacted.schema(), batch.schema());
    let text = |column: &str| {
        let array = redacted.column_by_name(column).unwrap();
        let rendered =
            arrow::util::display::ArrayFormatter::try_new(array.as_ref(), &Default::default())
                .unwrap();
        (0..array.len())
            .map(|row| rendered.value(row).to_string())
            .collect::<Vec<_>>()
    };
    let everything = [
        "resource_attributes",
        "scope_attributes",
        "attributes",
        "status_message",
        "events",
        "links",
    ]
    .map(|column| text(column).join(" | "))
    .join("\n");
    for secret in [
        "ann@example.com",
        "hunter2",
        "bob@example.com",
        "dXNlcjpwYXNz",
        "abcdefghijklmnop",
        "carol@example.com",
        "secret99",
        "dan@example.com",
        "password",
        "authorization",
    ] {
        assert!(
            !everything.contains(secret),
            "{secret} survived:\n{everything}"
        );
    }
    for kept in [
        "owner",
        "contact",
        "retry",
        "[REDACTED:email]",
        "[REDACTED:basic-auth]",
    ] {
        assert!(everything.contains(kept), "{kept} missing:\n{everything}");
    }
    // Both rows share the resource: the second row is redacted the same way.
    let resources = text("resource_attributes");
    assert_eq!(resources[0], resources[1]);
}

static ALL_DETECTORS: std::sync::LazyLock<Redactor> = std::sync::LazyLock::new(|| {
    Redactor::new(&RedactConfig {
        detectors: vec![
            Detector::Email,
            Detector::PaymentCard,
            Detector::Ipv4,
            Detector::Ipv6,
            Detector::BearerToken,
            Detector::ApiKey,
            Detector::BasicAuth,
        ],
        ..RedactConfig::default()
    })
    .unwrap()
});

proptest! {
    #[test]
    fn redaction_never_panics_and_is_idempotent(text in any::<String>()) {
        let redactor = &*ALL_DETECTORS;
        let once = redactor.redact_text(&text).into_owned();
        prop_assert_eq!(redactor.redact_text(&once).into_owned(), once);
    }
}

/// Pieces of log text that trigger (or nearly trigger) every detector, so random
/// concatenations exercise the prefilter's edges.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("ann@example.com".to_string()),
        Just("a@b".to_string()),
        Just("4111 1111 1111 1111".to_string()),
        Just("4111-1111-1111-1112".to_string()),
        Just("5500000000000004".to_string()),
        Just("10.0.0.1".to_string()),
        Just("256.1.1.1".to_string()),
        Just("fe80::1%eth0".to_string()),
        Just("12:34:56".to_string()),
        Just("Bearer abcdefghijklmnop".to_string()),
        Just("BEARER x".to_string()),
        Just("eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl".to_string()),
        Just("AKIAABCDEFGHIJKLMNOP".to_string()),
        Just("ghp_abcdefghijklmnopqrstuvwxyz0123456789".to_string()),
        Just("xoxb-1234567890-abc".to_string()),
        Just("sk_live_abcdefghijklmnop".to_string()),
        Just("api_key=\"abcdef0123456789\"".to_string()),
        Just("SECRET-KEY: abcdefghijklmnop".to_string()),
        Just("order 123456789012".to_string()),
        "[ -~]{0,12}",
        "[0-9 \\-.:@]{0,20}",
    ]
}

proptest! {
    /// The fast prefilter decides exactly as the RegexSet does.
    #[test]
    fn the_fast_path_equals_the_regex_set_path(
        parts in proptest::collection::vec(fragment(), 0..8),
        separator in "[ ,;=\\-/]",
    ) {
        let text = parts.join(&separator);
        for redactor in [&*ALL_DETECTORS, &*HASHING_WITH_CUSTOM] {
            prop_assert_eq!(
                redactor.redact_text(&text).into_owned(),
                redactor.redact_text_with_set(&text).into_owned()
            );
        }
    }
}

static HASHING_WITH_CUSTOM: std::sync::LazyLock<Redactor> = std::sync::LazyLock::new(|| {
    Redactor::new(&RedactConfig {
        mode: RedactMode::Hash,
        hash_key: "a key of at least sixteen bytes".into(),
        custom: vec![CustomPattern {
            name: "order".into(),
            pattern: r"order \d+".into(),
        }],
        ..RedactConfig::default()
    })
    .unwrap()
});

proptest! {
    /// Whole-column scanning picks every row that per-row redaction would change.
    #[test]
    fn column_scanning_equals_per_row_redaction(
        rows in proptest::collection::vec(
            proptest::option::of(proptest::collection::vec(fragment(), 0..4)), 0..12),
        offset in 0usize..3,
    ) {
        use std::sync::Arc;
        use arrow::array::StringArray;
        use arrow::datatypes::{DataType, Field, Schema};
        let texts: Vec<Option<String>> = rows.iter().map(|r| r.as_ref().map(|p| p.join(" "))).collect();
        let column = StringArray::from(texts.clone());
        // A sliced column: its value buffer starts at a non-zero offset.
        let column = column.slice(offset.min(texts.len()), texts.len() - offset.min(texts.len()));
        let schema = Arc::new(Schema::new(vec![Field::new("body", DataType::Utf8, true)]));
        let batch = arrow::array::RecordBatch::try_new(schema, vec![Arc::new(column.clone())]).unwrap();
        let redactor = &*ALL_DETECTORS;
        let out = redactor.redact_batch(&batch).unwrap();
        let out = out.column(0).as_string::<i32>();
        for row in 0..column.len() {
            let expected = column.is_valid(row)
                .then(|| redactor.redact_text_with_set(column.value(row)).into_owned());
            let actual = out.is_valid(row).then(|| out.value(row).to_string());
            prop_assert_eq!(actual, expected);
        }
    }
}

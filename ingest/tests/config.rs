//! Configuration precedence (flags over ICEGATE_* environment over the TOML file over
//! defaults), `--print-config`, and unknown keys being errors.

use std::process::Command;

fn print_config(args: &[&str], env: &[(&str, &str)]) -> (bool, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_icegate"));
    command.arg("--print-config").args(args);
    for var in [
        "ICEGATE_CONFIG",
        "ICEGATE_DATA_DIR",
        "ICEGATE_GRPC_ADDR",
        "ICEGATE_HTTP_ADDR",
        "ICEGATE_FLUSH_INTERVAL",
        "ICEGATE_FLUSH_SIZE",
    ] {
        command.env_remove(var);
    }
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn flags_beat_environment_beat_file_beat_defaults() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("icegate.toml");
    std::fs::write(
        &file,
        "data-dir = \"/from/file\"\nhttp-addr = \"127.0.0.1:9001\"\ngrpc-addr = \"127.0.0.1:9002\"\n[batcher]\nflush-interval-ms = 1111\n[wal]\nsync = \"interval\"\n",
    )
    .unwrap();
    let file = file.to_str().unwrap();

    let (ok, defaults, _) = print_config(&[], &[]);
    assert!(ok);
    assert!(
        defaults.contains("data-dir = \"./icegate-data\""),
        "{defaults}"
    );
    assert!(defaults.contains("http-addr = \"127.0.0.1:4318\""));
    assert!(defaults.contains("flush-interval-ms = 30000"));

    let (ok, from_file, _) = print_config(&["--config", file], &[]);
    assert!(ok);
    assert!(
        from_file.contains("data-dir = \"/from/file\""),
        "{from_file}"
    );
    assert!(from_file.contains("flush-interval-ms = 1111"));
    assert!(from_file.contains("sync = \"interval\""));

    let env = [
        ("ICEGATE_DATA_DIR", "/from/env"),
        ("ICEGATE_FLUSH_INTERVAL", "2s"),
    ];
    let (ok, from_env, _) = print_config(&["--config", file], &env);
    assert!(ok);
    assert!(from_env.contains("data-dir = \"/from/env\""), "{from_env}");
    assert!(from_env.contains("flush-interval-ms = 2000"));
    assert!(
        from_env.contains("http-addr = \"127.0.0.1:9001\""),
        "file values the env does not set stay"
    );

    let (ok, from_flags, _) = print_config(
        &[
            "--config",
            file,
            "--data-dir",
            "/from/flag",
            "--flush-interval",
            "250ms",
        ],
        &env,
    );
    assert!(ok);
    assert!(
        from_flags.contains("data-dir = \"/from/flag\""),
        "{from_flags}"
    );
    assert!(from_flags.contains("flush-interval-ms = 250"));
}

#[test]
fn unknown_keys_and_bad_values_are_errors() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "[wal]\nsegment-bytes = 5\n").unwrap();
    let (ok, _, stderr) = print_config(&["--config", file.to_str().unwrap()], &[]);
    assert!(!ok);
    assert!(stderr.contains("unknown field `segment-bytes`"), "{stderr}");
    let (ok, _, stderr) = print_config(&["--flush-interval", "soon"], &[]);
    assert!(!ok);
    assert!(stderr.contains("invalid duration"), "{stderr}");
}

#[test]
fn print_config_shows_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = [
        (
            "[lake.catalog]\ntype = \"postgres\"\nurl = \"postgres://ann:pg-s3cret@db:5432/lake\"\n",
            "pg-s3cret",
        ),
        (
            "[lake.catalog]\ntype = \"rest\"\nuri = \"http://h:8181\"\nwarehouse = \"w\"\ncredential = \"id:rest-s3cret\"\n",
            "rest-s3cret",
        ),
        (
            "[lake.storage]\ntype = \"s3\"\nbucket = \"b\"\naccess-key-id = \"AKIA\"\nsecret-access-key = \"s3-s3cret\"\n",
            "s3-s3cret",
        ),
        (
            "[redact]\nmode = \"hash\"\nhash-key = \"hash-key-s3cret-0123456789\"\n",
            "hash-key-s3cret",
        ),
    ];
    for (i, (text, secret)) in secrets.iter().enumerate() {
        let file = dir.path().join(format!("secret-{i}.toml"));
        std::fs::write(&file, text).unwrap();
        let (ok, stdout, stderr) = print_config(&["--config", file.to_str().unwrap()], &[]);
        assert!(ok, "{stderr}");
        assert!(!stdout.contains(secret), "{secret} printed:\n{stdout}");
        assert!(stdout.contains("***"), "{stdout}");
    }
    // What is not secret is still shown.
    let file = dir.path().join("secret-0.toml");
    let (_, stdout, _) = print_config(&["--config", file.to_str().unwrap()], &[]);
    assert!(
        stdout.contains("postgres://ann:***@db:5432/lake"),
        "{stdout}"
    );
}

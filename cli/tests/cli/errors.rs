//! How `apify-host` fails: bad usage, missing token, broken config, invalid input (which must
//! never reach the server), an unreachable API. Each failure is one `error: ...` line on
//! stderr with exit code 2 (usage/input/config) or 1 (API/transport).

use std::process::{Command, Output};

use crate::support::{self, closed_port, stderr, Env};

const TOKEN: &str = "cli-errors-token-77aa";

/// [`support::run_with`] this file's token, with text on stdin.
fn run(c: Command, args: &[&str], stdin: Option<&str>) -> Output {
    support::run_with(c, TOKEN, args, stdin.map(str::as_bytes))
}

/// Asserts the exit code and a single `error:` line; answers that line.
#[track_caller]
fn fails(out: &Output, code: i32) -> String {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(code), "stderr: {err}");
    assert!(err.starts_with("error: "), "stderr: {err}");
    assert_eq!(
        err.trim_end().lines().count(),
        1,
        "one line expected: {err}"
    );
    assert!(
        out.stdout.is_empty(),
        "stdout: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    err
}

#[test]
fn unknown_command_and_flag_are_usage_errors() {
    let env = Env::new(TOKEN);
    for args in [
        &["frobnicate"][..],
        &["datasets", "list-all"],
        &["users", "me", "--colour"],
        &["--output", "xml", "users", "me"],
        &["api", "FETCH", "/v2/users/me"],
        &["api", "GET", "users/me", "--param", "novalue"],
        &[],
    ] {
        let out = run(env.cmd(), args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(
            err.contains("error:") || err.contains("Usage:"),
            "{args:?}: {err}"
        );
    }
    let out = run(env.cmd(), &["frobnicate"], None);
    assert!(stderr(&out).contains("unrecognized subcommand 'frobnicate'"));
    assert_eq!(env.requests(), 0);
    // --help and --version are not errors.
    assert_eq!(
        run(env.cmd_without_token(), &["--help"], None)
            .status
            .code(),
        Some(0)
    );
    assert_eq!(
        run(
            env.cmd_without_token(),
            &["datasets", "get-items", "--help"],
            None
        )
        .status
        .code(),
        Some(0)
    );
    assert_eq!(
        run(env.cmd_without_token(), &["--version"], None)
            .status
            .code(),
        Some(0)
    );
}

#[test]
fn missing_token_says_where_to_set_it() {
    let env = Env::new(TOKEN);
    for args in [
        &["users", "me"][..],
        &["datasets", "ls"],
        &["datasets", "push-items", "d", "{}"],
        &["kvs", "set-value", "s", "k", "1"],
        &["rq", "add", "q", r#"{"url": "https://a.example"}"#],
    ] {
        let err = fails(&run(env.cmd_without_token(), args, None), 2);
        assert!(err.contains("no API token"), "{err}");
        assert!(
            err.contains("APIFY_TOKEN") && err.contains("--token"),
            "{err}"
        );
        assert!(
            err.contains("token_file") && err.contains("config"),
            "{err}"
        );
    }
    assert_eq!(env.requests(), 0, "nothing was sent without a token");

    // Reads by id may go without a token: the server's 401 then comes with the same hint.
    let err = fails(
        &run(
            env.cmd_without_token(),
            &["datasets", "info", "some-id"],
            None,
        ),
        1,
    );
    assert!(err.contains("401") && err.contains("APIFY_TOKEN"), "{err}");
}

#[test]
fn malformed_config_names_key_and_line() {
    let env = Env::new(TOKEN);
    let cfg = env.file(
        "typo.toml",
        "api_url = \"http://127.0.0.1:1\"\n[http]\nmax_retris = 1\n",
    );
    let err = fails(
        &run(
            env.cmd(),
            &["--config", cfg.to_str().unwrap(), "users", "me"],
            None,
        ),
        2,
    );
    assert!(err.contains("typo.toml"), "{err}");
    assert!(err.contains("line 3"), "{err}");
    assert!(err.contains("max_retris"), "{err}");

    let cfg = env.file("syntax.toml", "[transport]\nplugin = /opt/x.so\n");
    let err = fails(
        &run(
            env.cmd(),
            &["--config", cfg.to_str().unwrap(), "users", "me"],
            None,
        ),
        2,
    );
    assert!(err.contains("line 2"), "{err}");

    // A broken line holding the token is not echoed.
    let cfg = env.file("secret.toml", "token = supersecret-token\n");
    let err = fails(
        &run(
            env.cmd_without_token(),
            &["--config", cfg.to_str().unwrap(), "users", "me"],
            None,
        ),
        2,
    );
    assert!(
        err.contains("line 1") && !err.contains("supersecret"),
        "{err}"
    );

    let mut c = env.cmd();
    c.env("APIFY_HOST_CONFIG", env.home.path().join("missing.toml"));
    let err = fails(&run(c, &["users", "me"], None), 2);
    assert!(err.contains("missing.toml"), "{err}");

    let cfg = env.file("tf.toml", "token_file = \"no-such-token-file\"\n");
    let err = fails(
        &run(
            env.cmd_without_token(),
            &["--config", cfg.to_str().unwrap(), "users", "me"],
            None,
        ),
        2,
    );
    assert!(err.contains("no-such-token-file"), "{err}");
    assert_eq!(env.requests(), 0);
}

#[test]
fn invalid_json_input_never_reaches_the_server() {
    let env = Env::new(TOKEN);
    // The storages exist, so a request that got through would succeed.
    let ok = run(env.cmd(), &["datasets", "create", "d"], None);
    assert!(ok.status.success());
    run(env.cmd(), &["kvs", "create", "s"], None);
    run(env.cmd(), &["rq", "create", "q"], None);
    env.api.clear_request_log();

    let bad_file = env.file("bad.json", "[\n  {\"a\": 1},\n  {\"b\": tru}\n]\n");
    let at_bad = format!("@{}", bad_file.display());
    let cases: Vec<(Vec<&str>, Option<&str>, &str)> = vec![
        (
            vec!["datasets", "push-items", "local-user~d", r#"[{"a": 1},]"#],
            None,
            "the command-line argument",
        ),
        (
            vec!["datasets", "push-items", "local-user~d", &at_bad],
            None,
            "bad.json",
        ),
        (
            vec!["datasets", "push-items", "local-user~d"],
            Some("{\"a\":"),
            "standard input",
        ),
        (
            vec!["datasets", "push-items", "local-user~d", "42"],
            None,
            "JSON number",
        ),
        (
            vec!["datasets", "push-items", "local-user~d", "[1, 2]"],
            None,
            "element 0",
        ),
        (
            vec!["datasets", "push-items", "local-user~d", "   "],
            None,
            "empty",
        ),
        (
            vec!["kvs", "set-value", "local-user~s", "k", "{nope}"],
            None,
            "the command-line argument",
        ),
        (
            vec!["kvs", "set-value", "local-user~s", "k", "-"],
            Some("not json"),
            "standard input",
        ),
        (vec!["rq", "add", "local-user~q", &at_bad], None, "bad.json"),
        (
            vec![
                "rq",
                "add",
                "local-user~q",
                r#"[{"url": "https://a"}, {"uniqueKey": "x"}]"#,
            ],
            None,
            "request 1 has no \"url\"",
        ),
        (
            vec!["api", "POST", "datasets/local-user~d/items", "--body", "[}"],
            None,
            "the command-line argument",
        ),
        (
            vec![
                "datasets",
                "push-items",
                "local-user~d",
                "@/no/such/file.json",
            ],
            None,
            "/no/such/file.json",
        ),
    ];
    for (args, stdin, needle) in cases {
        let err = fails(&run(env.cmd(), &args, stdin), 2);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
    let err = fails(
        &run(
            env.cmd(),
            &["datasets", "push-items", "local-user~d", &at_bad],
            None,
        ),
        2,
    );
    assert!(
        err.contains("line 3 column"),
        "the position is named: {err}"
    );
    assert_eq!(
        env.requests(),
        0,
        "no request reached the server: {:?}",
        env.api.request_log()
    );

    // Non-JSON content types are sent as they are.
    let out = run(
        env.cmd(),
        &[
            "kvs",
            "set-value",
            "local-user~s",
            "k",
            "{nope}",
            "--content-type",
            "text/plain",
        ],
        None,
    );
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn unreachable_api_is_one_line_and_exit_1() {
    let env = Env::new(TOKEN);
    let port = closed_port();
    let cfg = env.file(
        "down.toml",
        format!(
            "api_url = \"http://127.0.0.1:{port}\"\n[http]\nmax_retries = 1\nmin_delay_between_retries_ms = 10\n"
        ),
    );
    let mut c = env.cmd();
    c.env_remove("APIFY_API_BASE_URL");
    let started = std::time::Instant::now();
    let err = fails(
        &run(c, &["--config", cfg.to_str().unwrap(), "users", "me"], None),
        1,
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    assert!(err.contains("connect"), "{err}");
    assert!(
        err.contains(&format!("127.0.0.1:{port}")),
        "names where: {err}"
    );

    let mut c = env.cmd();
    c.env("APIFY_API_BASE_URL", format!("http://127.0.0.1:{port}"));
    let cfg = env.file("fast.toml", "[http]\nmax_retries = 0\n");
    let err = fails(
        &run(
            c,
            &[
                "--config",
                cfg.to_str().unwrap(),
                "datasets",
                "get-items",
                "x",
            ],
            None,
        ),
        1,
    );
    assert!(err.contains("connect"), "{err}");
}

#[test]
fn bad_values_are_usage_errors() {
    let env = Env::new(TOKEN);
    let err = fails(
        &run(
            env.cmd(),
            &["api", "GET", "http://example.com/v2/users/me"],
            None,
        ),
        2,
    );
    assert!(err.contains("is a URL"), "{err}");
    let err = fails(
        &run(env.cmd(), &["--api-url", "ftp://x", "users", "me"], None),
        2,
    );
    assert!(err.contains("http://"), "{err}");
    let err = fails(
        &run(
            env.cmd(),
            &["kvs", "set-value", "s", "k", "x", "--content-type", "a\nb"],
            None,
        ),
        2,
    );
    assert!(err.contains("content-type"), "{err}");
    let err = fails(
        &run(
            env.cmd(),
            &["--transport-plugin", "/no/such/plugin.so", "users", "me"],
            None,
        ),
        2,
    );
    assert!(err.contains("/no/such/plugin.so"), "{err}");
    assert_eq!(env.requests(), 0);
}

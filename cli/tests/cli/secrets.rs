//! No credential in any output of the CLI, and `.`/`..` refused before anything is sent.
//!
//! A failing run with a token, a proxy password and a signed URL, at `-vvv`, through the
//! reqwest plugin and through the built-in transport; `transport inspect`/`info` with a proxy
//! password in the options; config errors next to a token value; warnings about token files
//! others can read; dot segments as keys and ids.

use std::{os::unix::fs::PermissionsExt, path::PathBuf, process::Output};

use crate::support::{self, closed_port, reqwest_plugin, stderr, Env};

const TOKEN: &str = "cli-secrets-tok-5151";
const PROXY_PASSWORD: &str = "secretpw";
const SIGNATURE: &str = "SIG-3e2f9c0d";

/// Everything the run printed, stdout then stderr.
fn all_output(out: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[track_caller]
fn assert_no_credential(out: &Output) {
    let all = all_output(out);
    for secret in [TOKEN, PROXY_PASSWORD, SIGNATURE] {
        assert!(!all.contains(secret), "{secret} leaked:\n{all}");
    }
}

/// A config (mode 600) whose transport is the reqwest plugin behind a proxy with a password,
/// on a closed port, with quick retries.
fn proxied_config(env: &Env) -> PathBuf {
    let cfg = env.file(
        "proxied.toml",
        format!(
            "[http]\nmax_retries = 1\nmin_delay_between_retries_ms = 10\n\n\
             [transport]\nplugin = {:?}\n\n\
             [transport.options]\nproxy = \"http://user:{PROXY_PASSWORD}@127.0.0.1:{}\"\n",
            reqwest_plugin().display().to_string(),
            closed_port()
        ),
    );
    std::fs::set_permissions(&cfg, std::fs::Permissions::from_mode(0o600)).unwrap();
    cfg
}

#[test]
fn a_failing_run_through_a_proxy_with_a_password_shows_no_credential() {
    let env = Env::new(TOKEN);
    let cfg = proxied_config(&env);
    let path = format!("/v2/key-value-stores/x/records/y?signature={SIGNATURE}");
    let mut c = env.cmd();
    c.env("APIFY_HOST_CONFIG", &cfg);
    let out = env.run_with(c, &["-vvv", "api", "GET", &path], None);
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    let err = stderr(&out);
    // The run did fail through the proxy, and said so at length.
    assert!(err.contains("plugin:reqwest"), "{err}");
    assert!(
        err.contains("API request failed"),
        "-vvv logs the attempts: {err}"
    );
    assert_no_credential(&out);
    assert_eq!(env.requests(), 0, "nothing got past the closed proxy");
}

#[test]
fn a_failing_run_with_the_builtin_transport_shows_no_credential() {
    let env = Env::new(TOKEN);
    let cfg = env.file(
        "builtin.toml",
        "[http]\nmax_retries = 1\nmin_delay_between_retries_ms = 10\n",
    );
    let path = format!("/v2/key-value-stores/x/records/y?signature={SIGNATURE}");
    let mut c = env.cmd_without_token();
    // A password in the API URL, a closed port, and the token as a flag this time.
    c.env("APIFY_HOST_CONFIG", &cfg).env(
        "APIFY_API_BASE_URL",
        format!("http://user:{PROXY_PASSWORD}@127.0.0.1:{}", closed_port()),
    );
    let out = env.run_with(c, &["-vvv", "--token", TOKEN, "api", "GET", &path], None);
    assert_eq!(out.status.code(), Some(1), "{}", all_output(&out));
    assert_no_credential(&out);
}

#[test]
fn an_api_error_echoing_the_credentials_shows_none() {
    let env = Env::new(TOKEN);
    // The local API refuses a wrong token; the message still names no credential we sent.
    let mut c = env.cmd_without_token();
    c.env("APIFY_TOKEN", "T");
    let out = env.run_with(c, &["-vv", "api", "PUT", "/v2/key-value-stores/s"], None);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    // A one-letter token is masked on word boundaries only: `PUT` stays `PUT`.
    assert!(err.contains("PUT /v2/key-value-stores/s"), "{err}");
    assert!(!err.contains("PU***"), "{err}");
}

#[test]
fn transport_inspect_and_info_hide_the_proxy_password() {
    let env = Env::new(TOKEN);
    let cfg = proxied_config(&env);
    let plugin = reqwest_plugin().display().to_string();
    for args in [
        vec!["transport", "info"],
        vec!["transport", "inspect", &plugin],
    ] {
        let mut c = env.cmd();
        c.env("APIFY_HOST_CONFIG", &cfg);
        let out = env.run_with(c, &args, None);
        assert!(out.status.success(), "{args:?}: {}", all_output(&out));
        assert_no_credential(&out);
    }
    // A constructor that refuses the proxy URL quotes it: still no password.
    let bad = env.file(
        "bad-proxy.toml",
        format!(
            "[transport]\nplugin = {plugin:?}\n\n[transport.options]\n\
             proxy = \"http://user:{PROXY_PASSWORD}@[not-a-host\"\n"
        ),
    );
    std::fs::set_permissions(&bad, std::fs::Permissions::from_mode(0o600)).unwrap();
    for args in [
        vec!["-vvv", "transport", "inspect", &plugin],
        vec!["-vvv", "transport", "info"],
        vec!["-vvv", "users", "me"],
    ] {
        let mut c = env.cmd();
        c.env("APIFY_HOST_CONFIG", &bad);
        let out = env.run_with(c, &args, None);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", all_output(&out));
        assert!(
            all_output(&out).contains("proxy"),
            "{args:?}: {}",
            all_output(&out)
        );
        assert_no_credential(&out);
    }
}

#[test]
fn config_errors_show_the_key_never_the_value() {
    let env = Env::new(TOKEN);
    for (text, secret) in [
        ("tokne = \"s3cret-value-1\"\n", "s3cret-value-1"),
        ("api_url = \"http://x\"\ntoken = 12345678\n", "12345678"),
        (
            "[transport.options]\nproxy = \"http://u:pw-77@h\"\n[transport]\nbogus = 1\n",
            "pw-77",
        ),
        ("passwd = 's3cret-value-2'\n", "s3cret-value-2"),
    ] {
        let cfg = env.file("typo.toml", text);
        let mut c = env.cmd();
        c.env("APIFY_HOST_CONFIG", &cfg);
        let out = env.run_with(c, &["-vvv", "users", "me"], None);
        assert_eq!(out.status.code(), Some(2), "{text}: {}", all_output(&out));
        let all = all_output(&out);
        assert!(!all.contains(secret), "{text}: {all}");
        assert!(
            all.contains("line "),
            "the error still names the line: {all}"
        );
    }
}

#[test]
fn a_token_others_can_read_is_warned_about() {
    let env = Env::new(TOKEN);
    let token_file = env.file("token", TOKEN);
    let cfg = env.file(
        "by-file.toml",
        format!("token_file = {:?}\n", token_file.display().to_string()),
    );
    let run = || {
        let mut c = env.cmd_without_token();
        c.env("APIFY_HOST_CONFIG", &cfg);
        env.run_with(c, &["users", "me"], None)
    };
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o644)).unwrap();
    let out = run();
    assert!(out.status.success(), "{}", all_output(&out));
    let err = stderr(&out);
    assert!(err.contains("readable by group or others"), "{err}");
    assert!(
        err.contains(&format!("chmod 600 {}", token_file.display())),
        "{err}"
    );
    std::fs::set_permissions(&token_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    let out = run();
    assert!(out.status.success());
    assert!(!stderr(&out).contains("readable"), "{}", stderr(&out));

    // A config file holding the token itself.
    let inline = env.file("inline.toml", format!("token = \"{TOKEN}\"\n"));
    std::fs::set_permissions(&inline, std::fs::Permissions::from_mode(0o640)).unwrap();
    let mut c = env.cmd_without_token();
    c.env("APIFY_HOST_CONFIG", &inline);
    let out = env.run_with(c, &["users", "me"], None);
    assert!(out.status.success(), "{}", all_output(&out));
    assert!(
        stderr(&out).contains(&format!("chmod 600 {}", inline.display())),
        "{}",
        stderr(&out)
    );
}

#[test]
fn dot_keys_and_ids_are_refused_before_sending() {
    let env = Env::new(TOKEN);
    let created = support::ok_json(&env.run(&["-o", "json", "key-value-stores", "create", "s"]));
    let id = created["id"].as_str().unwrap().to_string();
    let before = env.requests();
    let records = format!("/v2/key-value-stores/{id}/records");
    let (dot_dot, encoded) = (format!("{records}/.."), format!("{records}/%2e%2e"));
    for args in [
        vec!["key-value-stores", "set-value", &id, "..", "{}"],
        vec!["key-value-stores", "set-value", &id, ".", "{}"],
        vec!["key-value-stores", "set-value", &id, "%2e%2E", "{}"],
        vec!["key-value-stores", "delete-value", &id, ".."],
        vec!["key-value-stores", "get-value", &id, ".%2e"],
        vec!["key-value-stores", "info", ".."],
        vec!["datasets", "info", "."],
        vec!["api", "DELETE", &dot_dot],
        vec!["api", "DELETE", &encoded],
    ] {
        let out = env.run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", all_output(&out));
        assert!(
            stderr(&out).contains("invalid input"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert_eq!(env.requests(), before, "{args:?} sent a request");
    }
    // Keys that only look alike are ordinary keys.
    for key in ["a..b", ".hidden", "..."] {
        let out = env.run(&["key-value-stores", "set-value", &id, key, "{}"]);
        assert!(out.status.success(), "{key}: {}", all_output(&out));
    }
    let log = env.log();
    let paths: Vec<&str> = log[before..].iter().map(|r| r.path.as_str()).collect();
    assert!(paths.iter().all(|p| p.starts_with("/v2/key-value-stores/")));
    assert!(
        paths.contains(&format!("{records}/a..b").as_str()),
        "{paths:?}"
    );
}

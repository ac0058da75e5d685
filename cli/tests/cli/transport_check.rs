//! `apify-host transport check`: the conformance suite from the shipped binary, against a real
//! plugin `.so` loaded through the real loader. A plugin that keeps the contract passes every
//! case (exit 0); one that breaks a rule fails the case named after it (exit 1); a file that
//! cannot be loaded, or a wrong flag, is a usage error (exit 2).

use std::{path::PathBuf, process::Output};

use crate::support::{bare_cmd, ok, reqwest_plugin, stderr};

fn check(args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut c = bare_cmd(home.path());
    c.args(["transport", "check"]).args(args);
    c.output().expect("the binary runs")
}

/// The fixture plugin that breaks a rule when asked (`{"break": "..."}`).
fn faulty_plugin() -> PathBuf {
    reqwest_plugin().with_file_name("libfixture_faulty_plugin.so")
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_plugin_that_keeps_the_contract_passes_every_case() {
    let so = reqwest_plugin();
    let out = check(&[so.to_str().unwrap()]);
    let text = ok(&out);
    let cases = apify_conformance::cases();
    for case in cases {
        assert!(
            text.lines()
                .any(|l| l.starts_with("pass") && l.split_whitespace().nth(1) == Some(case.name)),
            "no passing line for {}:\n{text}",
            case.name
        );
    }
    assert!(
        text.contains(&format!("{} passed, 0 failed, 0 skipped", cases.len())),
        "{text}"
    );
}

#[test]
fn each_broken_rule_fails_the_case_named_after_it() {
    let so = faulty_plugin();
    for (broken, case, says) in [
        ("redirects", "no-redirects", "was followed"),
        ("headers", "no-added-headers", "user-agent: faulty/0.0.0"),
    ] {
        let options = format!(r#"{{"break": "{broken}"}}"#);
        let out = check(&[so.to_str().unwrap(), "--options", &options]);
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
        let failed: Vec<&str> = text.lines().filter(|l| l.starts_with("FAIL")).collect();
        assert_eq!(failed.len(), 1, "only {case} fails: {text}");
        assert!(
            failed[0].contains(case) && failed[0].contains(says),
            "{text}"
        );
        assert!(text.contains("rule: "), "the rule is quoted: {text}");
        assert!(stderr(&out).contains("breaks 1 rule"), "{}", stderr(&out));
        // Claims it does not make are skipped, and say so.
        assert!(
            text.lines()
                .any(|l| l.starts_with("skip") && l.contains("does not claim `tls`")),
            "{text}"
        );
    }
    // Without a broken rule the same fixture passes: the failures above are the rules'.
    let out = check(&[so.to_str().unwrap(), "--options", "{}"]);
    ok(&out);
}

#[test]
fn json_output_and_selected_cases() {
    let so = faulty_plugin();
    let out = check(&[
        so.to_str().unwrap(),
        "--options",
        r#"{"break": "headers"}"#,
        "--case",
        "no-added-headers",
        "--case",
        "no-redirects",
        "--format",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(report["plugin"]["name"], "faulty");
    assert_eq!(report["passed"], 1);
    assert_eq!(report["failed"], 1);
    let cases = report["cases"].as_array().unwrap();
    assert_eq!(cases.len(), 2);
    assert_eq!(cases[0]["case"], "no-added-headers");
    assert_eq!(cases[0]["result"], "fail");
    assert!(cases[0]["why"].as_str().unwrap().contains("user-agent"));
    assert_eq!(cases[1]["result"], "pass");
}

/// A plugin that refuses its options runs no case, and `--format json` (or `-o json`) still
/// prints a document that says so; so does a file that is no plugin. Exit 2, as in text.
#[test]
fn json_output_says_why_no_case_ran() {
    let so = reqwest_plugin();
    let so = so.to_str().unwrap();
    for format in [["--format", "json"], ["-o", "json"]] {
        let out = check(&[
            so,
            "--options",
            r#"{"no_such_option": 1}"#,
            format[0],
            format[1],
        ]);
        assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
        let report: serde_json::Value =
            serde_json::from_slice(&out.stdout).expect("one JSON document");
        assert_eq!(report["error"]["stage"], "constructor", "{report}");
        let message = report["error"]["message"].as_str().unwrap();
        assert!(
            message.contains("no_such_option") && message.contains("--options"),
            "{report}"
        );
        assert_eq!(report["plugin"]["name"], "reqwest", "{report}");
        assert_eq!(report["plugin"]["runs"], serde_json::Value::Null);
        assert_eq!(report["cases"], serde_json::json!([]));
        assert_eq!(
            (report["passed"].as_u64(), report["failed"].as_u64()),
            (Some(0), Some(0))
        );
        assert!(stderr(&out).contains("no_such_option"), "{}", stderr(&out));
    }

    let not_a_plugin = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(not_a_plugin.path(), b"not an ELF file").unwrap();
    let out = check(&[not_a_plugin.path().to_str().unwrap(), "--format", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(report["error"]["stage"], "load", "{report}");
    assert_eq!(report["plugin"], serde_json::Value::Null, "{report}");

    // The cases ran: `error` is null. `-o jsonl` puts the same document on one line.
    let out = check(&[so, "--case", "host-header", "-o", "jsonl"]);
    let text = ok(&out);
    assert_eq!(text.lines().count(), 1, "{text}");
    let report: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(report["error"], serde_json::Value::Null, "{report}");
    assert_eq!(report["passed"], 1, "{report}");
}

fn inspect(args: &[&str]) -> Output {
    let home = tempfile::tempdir().unwrap();
    let mut c = bare_cmd(home.path());
    c.args(["transport", "inspect"]).args(args);
    c.output().expect("the binary runs")
}

/// `transport inspect` takes `--options` as `check` does, and `-o json` prints what its text
/// says as one document; without `-o` it prints text, even on a pipe.
#[test]
fn inspect_takes_options_and_prints_json_on_request() {
    use sha2::Digest as _;
    let so = reqwest_plugin();
    let out = inspect(&[so.to_str().unwrap(), "-o", "json"]);
    let report: serde_json::Value = serde_json::from_str(&ok(&out)).expect("one JSON document");
    assert_eq!(report["ok"], true, "{report}");
    let plugin = &report["plugin"];
    assert_eq!(plugin["name"], "reqwest", "{report}");
    assert_eq!(
        plugin["api"],
        format!(
            "{}.{}",
            apify_plugin_api::API_MAJOR,
            apify_plugin_api::API_MINOR
        )
    );
    assert!(plugin["version"].is_string() && plugin["description"].is_string());
    assert!(
        plugin["capabilities"]
            .as_array()
            .unwrap()
            .contains(&"tls".into()),
        "{report}"
    );
    assert_eq!(plugin["runs"], "driven", "{report}");
    assert!(plugin["threads_started"].is_u64(), "{report}");
    assert!(
        plugin["capabilities"]
            .as_array()
            .unwrap()
            .contains(&"driven".into()),
        "{report}"
    );
    let sha = hex::encode(sha2::Sha256::digest(std::fs::read(&so).unwrap()));
    assert_eq!(plugin["sha256"], sha, "{report}");
    assert!(plugin["diagnostics"].is_object(), "{report}");
    let checks = report["checks"].as_array().unwrap();
    let names: Vec<&str> = checks
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert_eq!(names.first(), Some(&"path"), "{report}");
    assert_eq!(names.last(), Some(&"constructor"), "{report}");
    assert!(checks
        .iter()
        .all(|c| c["result"] == "ok" && c["detail"].is_string()));

    let out = inspect(&[hyper_plugin().to_str().unwrap(), "-o", "json"]);
    let report: serde_json::Value = serde_json::from_str(&ok(&out)).unwrap();
    assert_eq!(report["plugin"]["runs"], "hosted", "{report}");

    // Options the plugin refuses: the constructor's check fails, naming the flag to fix.
    let out = inspect(&[
        so.to_str().unwrap(),
        "--options",
        r#"{"no_such_option": 1}"#,
        "-o",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false, "{report}");
    let last = report["checks"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(last["check"], "constructor", "{report}");
    assert_eq!(last["result"], "fail", "{report}");
    assert!(
        last["reason"].as_str().unwrap().contains("no_such_option"),
        "{report}"
    );
    assert_eq!(last["fix"], "Fix the JSON given to --options", "{report}");
    assert_eq!(report["plugin"]["runs"], serde_json::Value::Null);
    // Options it takes make a client.
    let out = inspect(&[so.to_str().unwrap(), "--options", r#"{"http2": true}"#]);
    assert!(ok(&out).contains("ok    constructor"));
    let out = inspect(&[so.to_str().unwrap(), "--options", "[1]"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("must be a JSON object"),
        "{}",
        stderr(&out)
    );

    // No `-o`, or `-o table`: the text report.
    for args in [
        vec![so.to_str().unwrap()],
        vec![so.to_str().unwrap(), "-o", "table"],
    ] {
        let text = ok(&inspect(&args));
        assert!(text.starts_with("plugin: "), "{text}");
        assert!(text.contains("\nsha256:       "), "{text}");
    }

    // A file that is no plugin: no metadata.
    let not_a_plugin = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(not_a_plugin.path(), b"not an ELF file").unwrap();
    let out = inspect(&[not_a_plugin.path().to_str().unwrap(), "-o", "json"]);
    assert_eq!(out.status.code(), Some(2));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["plugin"], serde_json::Value::Null, "{report}");
    assert_eq!(report["ok"], false, "{report}");
}

/// A dev build under umask 002 is group-writable: the refusal names the `chmod go-w` that
/// fixes it, for the file and its folders at once.
#[test]
fn a_group_writable_plugin_is_refused_with_the_chmod_that_fixes_it() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let release = std::fs::canonicalize(dir.path()).unwrap().join("release");
    std::fs::create_dir(&release).unwrap();
    let so = release.join("libmy_transport.so");
    std::fs::copy(reqwest_plugin(), &so).unwrap();
    for (path, mode) in [(&so, 0o775), (&release, 0o775)] {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    let out = inspect(&[so.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = stdout(&out);
    let fix = format!("`chmod go-w {} {}`", so.display(), release.display());
    assert!(
        text.lines()
            .any(|l| l.contains("FAIL  permissions") && l.contains(&fix)),
        "{text}"
    );
    assert!(text.contains("umask 022"), "{text}");
}

#[test]
fn usage_errors_name_what_is_wrong() {
    let so = reqwest_plugin();
    let so = so.to_str().unwrap();
    let out = check(&[so, "--case", "no-such-case"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("no case \"no-such-case\""),
        "{}",
        stderr(&out)
    );
    assert!(stderr(&out).contains("--list"), "{}", stderr(&out));

    let out = check(&[so, "--options", "[1, 2]"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("must be a JSON object"),
        "{}",
        stderr(&out)
    );

    let out = check(&[so, "--options", r#"{"no_such_option": 1}"#]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("no_such_option"), "{}", stderr(&out));

    let not_a_plugin = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(not_a_plugin.path(), b"not an ELF file").unwrap();
    let out = check(&[not_a_plugin.path().to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(
        stdout(&out).is_empty(),
        "nothing is checked: {}",
        stdout(&out)
    );

    let out = check(&["--list"]);
    let text = ok(&out);
    assert_eq!(
        text.lines().count(),
        apify_conformance::cases().len(),
        "{text}"
    );
    assert!(text.contains("no-redirects"), "{text}");
}

/// The hosted fixture plugin that makes a hosted author's mistakes on demand.
fn hosted_faulty_plugin() -> PathBuf {
    reqwest_plugin().with_file_name("libfixture_hosted_faulty_plugin.so")
}

/// The hyper plugin we ship (hosted).
fn hyper_plugin() -> PathBuf {
    reqwest_plugin().with_file_name("libapify_transport_hyper.so")
}

/// The lines of a text report that start with `label` (`pass`, `FAIL`, `skip`).
fn lines<'a>(text: &'a str, label: &str) -> Vec<&'a str> {
    text.lines().filter(|l| l.starts_with(label)).collect()
}

#[test]
fn check_says_how_the_plugin_runs_and_the_threads_it_started() {
    let out = check(&[reqwest_plugin().to_str().unwrap(), "--case", "host-header"]);
    let text = ok(&out);
    assert!(
        text.contains("\nruns: driven: on its own runtime"),
        "{text}"
    );
    assert!(text.contains("\nthreads: 0 started"), "{text}");

    let out = check(&[
        hyper_plugin().to_str().unwrap(),
        "--case",
        "host-header",
        "--format",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("one JSON document");
    assert_eq!(report["plugin"]["runs"], "hosted", "{report}");
    assert_eq!(report["plugin"]["threads_started"], 0, "{report}");
}

#[test]
fn the_hosted_plugin_we_ship_passes_every_case() {
    let out = check(&[hyper_plugin().to_str().unwrap()]);
    let text = stdout(&out);
    assert!(text.contains("\nruns: hosted"), "{text}");
    for case in apify_conformance::cases() {
        let passed = lines(&text, "pass")
            .iter()
            .any(|l| l.split_whitespace().nth(1) == Some(case.name));
        assert!(
            passed,
            "{} did not pass:\n{text}\n{}",
            case.name,
            stderr(&out)
        );
    }
}

/// Each mistake on the wire fails its own case and no other: `same-wire-as-builtin` compares
/// paths and queries, not the request line's form, which is `origin-form`'s.
#[test]
fn each_hosted_mistake_on_the_wire_fails_its_own_case_only() {
    let so = hosted_faulty_plugin();
    let cases = [
        "--case",
        "host-header",
        "--case",
        "origin-form",
        "--case",
        "same-wire-as-builtin",
    ];
    // Without a mistake, the fixture keeps all three rules.
    let mut args = vec![so.to_str().unwrap(), "--options", "{}"];
    args.extend(cases);
    let text = ok(&check(&args));
    assert!(text.contains("3 passed, 0 failed"), "{text}");
    for (broken, case, says, rule) in [
        ("no-host", "host-header", "0 Host headers", "rule: RFC 9112"),
        (
            "absolute-form",
            "origin-form",
            "the absolute form",
            "rule: RFC 9112",
        ),
        (
            "decode-path",
            "same-wire-as-builtin",
            "the server saw `PUT /v2/key-value-stores/me~store/records/a/b None` where the \
             built-in transport sent `PUT /v2/key-value-stores/me~store/records/a%2Fb None`",
            "rule: through the client",
        ),
    ] {
        let options = format!(r#"{{"break": "{broken}"}}"#);
        let mut args = vec![so.to_str().unwrap(), "--options", &options];
        args.extend(cases);
        let out = check(&args);
        let text = stdout(&out);
        assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
        let failed = lines(&text, "FAIL");
        assert_eq!(failed.len(), 1, "only {case} fails: {text}");
        assert!(
            failed[0].contains(case) && failed[0].contains(says),
            "{text}"
        );
        assert!(text.contains(rule), "{text}");
    }
}

/// The fixture opens a connection per call: `keep-alive-reuse` sees it (20 connections for 20
/// calls), so the rule's tolerance for hyper's pool race does not let a transport without a
/// pool through.
#[test]
fn a_transport_without_a_pool_fails_keep_alive_reuse() {
    let so = hosted_faulty_plugin();
    let out = check(&[
        so.to_str().unwrap(),
        "--options",
        "{}",
        "--case",
        "keep-alive-reuse",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    let failed = lines(&text, "FAIL");
    assert_eq!(failed.len(), 1, "{text}");
    assert!(
        failed[0].contains("keep-alive-reuse") && failed[0].contains("opened 20 connections"),
        "{text}"
    );
    assert!(text.contains("rule: RFC 9112 §9.3"), "{text}");
}

#[test]
fn a_hosted_call_that_blocks_the_thread_is_stopped_by_the_watchdog() {
    let out = check(&[
        hosted_faulty_plugin().to_str().unwrap(),
        "--options",
        r#"{"break": "block"}"#,
        "--case",
        "host-header",
        "--case",
        "methods-and-bodies",
        "--case-timeout",
        "1",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    let failed = lines(&text, "FAIL");
    assert_eq!(failed.len(), 1, "the check stops at the first: {text}");
    assert!(
        failed[0].contains("host-header") && failed[0].contains("stopped by the watchdog"),
        "{text}"
    );
    assert!(
        text.contains("hint: a hosted plugin runs on the host's thread"),
        "{text}"
    );
    assert!(text.contains("0 passed, 1 failed, 0 skipped"), "{text}");
    assert!(
        stderr(&out).contains("blocked the CLI's thread"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn tokio_s_timer_in_a_hosted_call_gets_one_hint_and_its_panic_is_shown_once() {
    let out = check(&[
        hosted_faulty_plugin().to_str().unwrap(),
        "--options",
        r#"{"break": "tokio-timer"}"#,
        "--case",
        "host-header",
        "--case",
        "methods-and-bodies",
        "--case",
        "origin-form",
    ]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}\n{}", stderr(&out));
    let failed = lines(&text, "FAIL");
    assert_eq!(failed.len(), 3, "{text}");
    assert!(failed[0].contains("there is no reactor running"), "{text}");
    assert_eq!(text.matches("no reactor running").count(), 1, "{text}");
    // Where the plugin panicked is in the report; the plugin's own panic hook printed nothing
    // (three panics, none on stderr).
    assert!(
        failed[0].contains("(at tests/fixtures/hosted-faulty-plugin/src/lib.rs:"),
        "{text}"
    );
    assert!(!stderr(&out).contains("panicked"), "{}", stderr(&out));
    assert_eq!(text.matches("hint: ").count(), 1, "{text}");
    assert!(text.contains("Host::sleep"), "{text}");
    for later in &failed[1..] {
        assert!(
            later.contains("the plugin panicked again, as in host-header"),
            "{text}"
        );
    }
}

#[test]
fn hosted_false_in_the_config_runs_hosted_and_driven_plugins_on_their_own_threads() {
    let home = tempfile::tempdir().unwrap();
    let config = home.path().join("config.toml");
    std::fs::write(&config, "[transport]\nhosted = false\n").unwrap();
    let so = hyper_plugin();
    let run = |args: &[&str]| {
        let mut c = bare_cmd(home.path());
        c.env("APIFY_HOST_CONFIG", &config).args(args);
        c.output().expect("the binary runs")
    };
    let text = ok(&run(&[
        "transport",
        "check",
        so.to_str().unwrap(),
        "--case",
        "host-header",
    ]));
    assert!(
        text.contains("runs: on its own runtime and threads (it could run on the host's"),
        "{text}"
    );
    let text = ok(&run(&["transport", "inspect", so.to_str().unwrap()]));
    assert!(
        text.contains("runs:         on its own runtime and threads"),
        "{text}"
    );
    assert!(text.contains("threads:      "), "{text}");
    // The driven reqwest plugin too: its runtime then starts its two threads.
    let reqwest = reqwest_plugin();
    let text = ok(&run(&["transport", "inspect", reqwest.to_str().unwrap()]));
    assert!(
        text.contains("runs:         on its own runtime and threads"),
        "{text}"
    );
    assert!(!text.contains("threads:      0 started"), "{text}");
    // Without the setting, the same plugins run hosted and driven.
    std::fs::write(&config, "[transport]\n").unwrap();
    let text = ok(&run(&["transport", "inspect", so.to_str().unwrap()]));
    assert!(text.contains("runs:         hosted"), "{text}");
    let text = ok(&run(&["transport", "inspect", reqwest.to_str().unwrap()]));
    assert!(text.contains("runs:         driven"), "{text}");
    assert!(text.contains("threads:      0 started"), "{text}");
}

/// `--isolation process`: every case through a confined worker, which the report names with
/// its pid and its confinement; `inspect` under `APIFY_TRANSPORT_ISOLATION=process` shows the
/// worker's own checks and the confinement line.
#[test]
fn check_and_inspect_run_a_plugin_in_a_confined_worker() {
    let so = reqwest_plugin();
    let out = check(&[
        so.to_str().unwrap(),
        "--isolation",
        "process",
        "--case",
        "methods-and-bodies",
        "--case",
        "https-success",
        "--case",
        "concurrency",
    ]);
    let text = ok(&out);
    assert!(text.contains("isolation: process (worker pid "), "{text}");
    assert!(text.contains("apify-transport-worker)"), "{text}");
    let confinement = text
        .lines()
        .find(|l| l.starts_with("confinement: "))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(confinement.contains("no_new_privs"), "{text}");
    assert!(text.contains("3 passed, 0 failed, 0 skipped"), "{text}");

    let home = tempfile::tempdir().unwrap();
    let mut c = bare_cmd(home.path());
    c.env("APIFY_TRANSPORT_ISOLATION", "process").args([
        "transport",
        "inspect",
        so.to_str().unwrap(),
    ]);
    let text = ok(&c.output().unwrap());
    assert!(
        text.contains("in the worker: loaded from the sealed copy"),
        "{text}"
    );
    assert!(
        text.contains("isolation:    process (worker pid "),
        "{text}"
    );
    assert!(text.contains("confinement:  no_new_privs"), "{text}");

    // In process, the line says there is none, and what `process` would give.
    let mut c = bare_cmd(home.path());
    c.args(["transport", "inspect", so.to_str().unwrap()]);
    let text = ok(&c.output().unwrap());
    assert!(text.contains("isolation:    in-process"), "{text}");
    assert!(
        text.contains("confinement:  none: it runs in this process with its rights"),
        "{text}"
    );
}

/// A bad `APIFY_TRANSPORT_ISOLATION` names the variable and the words it takes.
#[test]
fn an_unknown_isolation_is_a_clear_error() {
    let home = tempfile::tempdir().unwrap();
    let mut c = bare_cmd(home.path());
    c.env("APIFY_TRANSPORT_ISOLATION", "sandbox")
        .args(["transport", "info"]);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let err = stderr(&out);
    assert!(err.contains("APIFY_TRANSPORT_ISOLATION"), "{err}");
    assert!(err.contains("use \"process\""), "{err}");
}

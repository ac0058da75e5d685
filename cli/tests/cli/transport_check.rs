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

//! What a plugin says besides its answers reaches `apify-host`'s stderr through the host's log
//! (plugin interface 1.4): filtered by `-v`/`RUST_LOG`, redacted, and naming the plugin. The
//! plugins are real `.so` files loaded through the real loader by the real binary.

use std::{os::unix::fs::PermissionsExt, path::Path, process::Output};

use crate::support::{bare_cmd, ok, reqwest_plugin, stderr};

/// Runs `apify-host` with a config file holding `config`, and `args`.
fn run_with_config(home: &Path, config: &str, envs: &[(&str, &str)], args: &[&str]) -> Output {
    let path = home.join("config.toml");
    std::fs::write(&path, config).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
    let mut c = bare_cmd(home);
    c.env("APIFY_HOST_CONFIG", &path).args(args);
    for (k, v) in envs {
        c.env(k, v);
    }
    c.output().expect("the binary runs")
}

/// The fixture plugin that misbehaves on demand.
fn faulty_plugin() -> String {
    reqwest_plugin()
        .with_file_name("libfixture_faulty_plugin.so")
        .to_str()
        .unwrap()
        .to_string()
}

#[test]
fn a_deprecated_option_is_one_warning_of_the_host_s_log_which_its_filter_governs() {
    let home = tempfile::tempdir().unwrap();
    let config = "[transport.options]\nhttp2_prior_knowledge = true\n";
    let so = reqwest_plugin();
    let inspect = ["transport", "inspect", so.to_str().unwrap()];
    let out = run_with_config(home.path(), config, &[], &inspect);
    ok(&out);
    let err = stderr(&out);
    let warnings: Vec<&str> = err.lines().filter(|l| l.contains("deprecated")).collect();
    // Shown without -v: a deprecation is a warning, the level the CLI shows by default.
    assert_eq!(warnings.len(), 1, "{err}");
    assert!(
        warnings[0].contains(
            " WARN apify_host::plugin: option `http2_prior_knowledge` is deprecated: write \
             `http2 = true`"
        ),
        "{err}"
    );
    assert!(warnings[0].contains(r#"plugin="reqwest""#), "{err}");

    // The host's filter decides: an eprintln of the plugin's would ignore it.
    let quiet = run_with_config(home.path(), config, &[("RUST_LOG", "error")], &inspect);
    ok(&quiet);
    assert!(!stderr(&quiet).contains("deprecated"), "{}", stderr(&quiet));
}

#[test]
fn a_panic_on_a_plugin_s_own_thread_is_one_redacted_line_of_the_host_s_log() {
    let home = tempfile::tempdir().unwrap();
    // The CLI knows `api_token` for a secret (its name says so) and masks it everywhere.
    let config = "[transport.options]\n\
                  api_token = \"fixture-secret-4242\"\n\
                  panic_on_thread = \"background refresh failed for fixture-secret-4242\"\n";
    let out = run_with_config(
        home.path(),
        config,
        &[],
        &["transport", "inspect", &faulty_plugin()],
    );
    let text = ok(&out);
    let err = stderr(&out);
    let panics: Vec<&str> = err.lines().filter(|l| l.contains("panicked")).collect();
    assert_eq!(panics.len(), 1, "{err}");
    assert!(
        panics[0].contains(
            " ERROR apify_host::plugin: a thread of the plugin panicked: background refresh \
             failed for "
        ),
        "{err}"
    );
    assert!(
        panics[0].contains("(at tests/fixtures/faulty-plugin/src/lib.rs:"),
        "{err}"
    );
    assert!(panics[0].contains(r#"plugin="faulty""#), "{err}");
    assert!(!err.contains("fixture-secret-4242"), "{err}");
    assert!(!text.contains("fixture-secret-4242"), "{text}");
    // Not the plugin's default hook, which writes `thread '…' panicked at …` unredacted.
    assert!(!err.contains("thread '"), "{err}");
}

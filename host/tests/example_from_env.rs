//! The `from_env` example is a program built on the library: switching its transport to the
//! reqwest plugin takes nothing but `APIFY_TRANSPORT_PLUGIN` or a config file. This runs the
//! example binary that `cargo test` builds, against the local API on 127.0.0.1, three ways.

use std::{
    path::{Path, PathBuf},
    process::Command,
};

use apify_local_api::{LocalApi, LocalApiConfig};
use serde_json::Value;

const TOKEN: &str = "example-token";

/// `target/<profile>/examples/from_env`, next to this test's `deps/` folder. `cargo test`
/// builds the examples; when only this test target was asked for, the example is built here.
fn example_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().unwrap().parent().unwrap();
    let bin = profile_dir.join("examples").join("from_env");
    if !bin.is_file() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let mut build = Command::new(cargo);
        build.args(["build", "-p", "apify-host", "--example", "from_env"]);
        if profile_dir.ends_with("release") {
            build.arg("--release");
        }
        assert!(
            build.status().unwrap().success(),
            "building the example failed"
        );
    }
    assert!(bin.is_file(), "{} is missing", bin.display());
    bin
}

/// The reqwest plugin's `.so`, built into `deps/` as a dev-dependency of this crate.
fn reqwest_plugin() -> PathBuf {
    let deps = std::env::current_exe()
        .unwrap()
        .parent()
        .unwrap()
        .to_path_buf();
    let so = deps.join("libapify_transport_reqwest.so");
    assert!(so.is_file(), "{} is missing", so.display());
    so
}

/// Runs the example with a clean environment (no user config), the local API and the token,
/// plus `extra` variables; answers its JSON line.
fn run_example(api: &LocalApi, home: &Path, extra: &[(&str, &Path)]) -> Value {
    let mut cmd = Command::new(example_binary());
    for var in [
        "APIFY_TOKEN",
        "APIFY_API_BASE_URL",
        "APIFY_HOST_CONFIG",
        "APIFY_TRANSPORT_PLUGIN",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("HOME", home)
        .env("XDG_CONFIG_HOME", home.join(".config"))
        .env("APIFY_TOKEN", TOKEN)
        .env("APIFY_API_BASE_URL", api.base_url());
    for (k, v) in extra {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "example failed: {stderr}");
    assert!(!stderr.contains(TOKEN) && !String::from_utf8_lossy(&out.stdout).contains(TOKEN));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {stderr}"))
}

#[test]
fn the_example_swaps_its_transport_by_environment_or_config_only() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let api = rt
        .block_on(LocalApi::start(LocalApiConfig::with_token(TOKEN)))
        .unwrap();
    let home = tempfile::tempdir().unwrap();

    let builtin = run_example(&api, home.path(), &[]);
    assert_eq!(builtin["transport"], "builtin", "{builtin}");
    assert_eq!(builtin["items"], 3);

    let plugin = reqwest_plugin();
    let by_env = run_example(&api, home.path(), &[("APIFY_TRANSPORT_PLUGIN", &plugin)]);
    assert_eq!(by_env["transport"], "plugin:reqwest", "{by_env}");
    assert_eq!(
        by_env["items"], 6,
        "the same dataset, read through the plugin"
    );

    let config = home.path().join("config.toml");
    std::fs::write(
        &config,
        format!("[transport]\nplugin = {:?}\n", plugin.display().to_string()),
    )
    .unwrap();
    let by_config = run_example(&api, home.path(), &[("APIFY_HOST_CONFIG", &config)]);
    assert_eq!(by_config["transport"], "plugin:reqwest", "{by_config}");
    assert_eq!(by_config["items"], 9);

    // Every call reached the local API: 4 per run (user, dataset, push, one page of items).
    assert_eq!(api.request_log().len(), 12);
}

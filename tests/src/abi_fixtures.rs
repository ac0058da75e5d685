//! Builds the ABI fixture plugins of `tests/abi-fixtures/` on first use.
//!
//! They cannot be members of this workspace (each holds its own `apify-plugin-api` package), so
//! a test runs `cargo build` on them once per process, into `<target>/abi-fixtures`. Cargo's own
//! lock serialises concurrent test binaries; a second build is a no-op.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::Mutex,
};

/// The variants, as named in `tests/abi-fixtures/README.md`.
pub const VARIANTS: [&str; 8] = [
    "api-1.0",
    "api-1.1",
    "api-1.2",
    "api-1.3",
    "api-1.4",
    "api-1.6",
    "changed-layout",
    "api-2.0",
];

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Builds `variant` if needed and returns the path of its `.so`.
///
/// # Panics
/// If the build fails; the message carries cargo's output.
pub fn abi_fixture(variant: &str) -> PathBuf {
    static BUILD: Mutex<()> = Mutex::new(());
    let _guard = BUILD.lock().unwrap_or_else(|e| e.into_inner());
    let target = crate::deps_dir()
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .join("abi-fixtures");
    let manifest = workspace_root()
        .join("tests/abi-fixtures")
        .join(variant)
        .join("Cargo.toml");
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target)
        // The lock files are committed: the fixtures build with the same dependency versions
        // as the host, and without touching the network when they are cached.
        .arg("--locked")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("RUSTFLAGS")
        .output()
        .expect("run cargo");
    assert!(
        out.status.success(),
        "building the ABI fixture {variant} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let lib = format!("libfixture_abi_{}.so", variant.replace(['.', '-'], "_"));
    let path = target.join("debug").join(lib);
    assert!(path.is_file(), "{} missing after the build", path.display());
    path
}

//! The library turns on no feature of a shared crate that would change its users' types or
//! behaviour: Cargo unifies features, so whatever `apify-host` turns on in serde_json, every
//! crate of a user's program gets. Read from `cargo tree`, as a user's build resolves them.

use std::process::Command;

/// serde_json features that change what every user of serde_json in the program gets:
/// `preserve_order` makes every `Map` an IndexMap (slower, bigger, other iteration order),
/// `arbitrary_precision` changes `Number`, `float_roundtrip` and `unbounded_depth` change
/// parsing.
const FORBIDDEN: &[&str] = &[
    "serde_json feature \"preserve_order\"",
    "serde_json feature \"arbitrary_precision\"",
    "serde_json feature \"float_roundtrip\"",
    "serde_json feature \"unbounded_depth\"",
];

#[test]
fn the_library_forces_no_type_changing_feature_on_its_users() {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args([
            "tree",
            "--offline",
            "-e",
            "features,normal",
            "-p",
            "apify-host",
            "--prefix",
            "none",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let tree = String::from_utf8_lossy(&out.stdout);
    assert!(
        tree.contains("serde_json feature \"raw_value\""),
        "the tree does not show serde_json's features as expected:\n{tree}"
    );
    for feature in FORBIDDEN {
        assert!(
            !tree.contains(feature),
            "apify-host turns on {feature}, which every user of serde_json in a program that \
             links the library would get; keep the need inside the library instead"
        );
    }
}

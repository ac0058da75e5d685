//! The worker refuses to run without a host, and says what it is for. (This test also makes
//! `cargo test --workspace` build the binary that the isolation tests start.)

#[test]
fn run_by_hand_it_explains_itself_and_exits_4() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_apify-transport-worker"))
        .output()
        .expect("the worker runs");
    assert_eq!(out.status.code(), Some(4), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("isolation = \"process\""), "{stderr}");
}

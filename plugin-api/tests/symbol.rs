//! The export macro hard-codes abi_stable's root-module loader symbol (abi_stable's own
//! attribute macro cannot be used from a crate that does not depend on abi_stable directly).
//! This test fails if an abi_stable upgrade renames the symbol.

#[test]
fn export_macro_uses_abi_stables_loader_symbol() {
    let src = include_str!("../src/export.rs");
    let name = abi_stable::library::ROOT_MODULE_LOADER_NAME;
    assert!(
        src.contains(&format!("pub static {name}:")),
        "export_plugin! must define the static `{name}`"
    );
}

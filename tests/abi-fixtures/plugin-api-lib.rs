//! The plugin interface crate as a fixture variant sees it: the real ffi/types/export modules,
//! and a `module.rs` patched by `patch_module.rs` for this variant.
#![allow(non_local_definitions, dead_code)]

#[path = "../../plugin-api/src/export.rs"]
pub mod export;
#[path = "../../plugin-api/src/ffi.rs"]
pub mod ffi;
#[path = "../../plugin-api/src/types.rs"]
pub mod types;

/// The root module, patched for this variant.
pub mod module {
    include!(concat!(env!("OUT_DIR"), "/module.rs"));
}

pub use export::Transport;
pub use ffi::ErrorKind;
pub use module::{Capabilities, PluginModRef, API_MAJOR, API_MINOR};
pub use types::{Body, Error, Metadata, Request, Response};

#[doc(hidden)]
pub mod __private {
    pub use abi_stable;
}

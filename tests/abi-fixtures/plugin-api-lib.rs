//! The plugin interface crate as a fixture variant sees it: the real `plugin-api/src` modules
//! (including the public `abi` module the export macro names), and a `module.rs` patched by
//! `patch_module.rs` for this variant. The root re-exports mirror `plugin-api/src/lib.rs`.
#![allow(non_local_definitions, dead_code)]

#[path = "../../plugin-api/src/abi.rs"]
pub mod abi;
#[path = "../../plugin-api/src/channel.rs"]
mod channel;
#[path = "../../plugin-api/src/convert.rs"]
mod convert;
#[path = "../../plugin-api/src/driven.rs"]
mod driven;
#[path = "../../plugin-api/src/export.rs"]
mod export;
#[path = "../../plugin-api/src/ffi.rs"]
mod ffi;
#[path = "../../plugin-api/src/history.rs"]
mod history;
#[path = "../../plugin-api/src/hosted.rs"]
mod hosted;
#[path = "../../plugin-api/src/log.rs"]
pub mod log;
#[path = "../../plugin-api/src/panics.rs"]
mod panics;
#[path = "../../plugin-api/src/services.rs"]
mod services;
#[path = "../../plugin-api/src/types.rs"]
mod types;

/// The root module, patched for this variant.
mod module {
    include!(concat!(env!("OUT_DIR"), "/module.rs"));
}

pub use export::Transport;
pub use hosted::{Host, HostSleep, HostTcp, HostedTransport};
pub use ffi::ErrorKind;
pub use module::{Capabilities, API_MAJOR, API_MINOR};
pub use types::{chain_has, error_chain, Body, Error, Metadata, Request, RequestBody, Response};

#[doc(hidden)]
pub mod __private {
    pub use crate::module::root_module;
    pub use abi_stable;
}

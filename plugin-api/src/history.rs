//! Snapshots of the root module as earlier minors defined it. Public as `crate::abi::history`
//! (see `src/abi.rs`), whose docs say why the host needs them.
//!
//! When a minor adds a field, copy the current `PluginMod` here as the snapshot of the
//! previous minor (same type name: abi_stable compares names) and make the host's loader
//! (`check_abi` in host/src/transport/plugin/loader.rs) try the snapshots newest first.

/// The root module of interface 1.0: `metadata` and `new_client`.
pub mod v1_0 {
    use abi_stable::{
        declare_root_module_statics,
        library::RootModule,
        sabi_types::VersionStrings,
        std_types::{RResult, RStr},
        StableAbi,
    };

    use crate::{ffi::FfiError, ffi::HttpClientBox, module::PluginMetadata};

    /// `PluginMod` as of 1.0.
    #[repr(C)]
    #[derive(StableAbi)]
    #[sabi(kind(Prefix(prefix_ref = PluginModRef)))]
    #[sabi(missing_field(option))]
    pub struct PluginMod {
        /// See [`crate::abi::module::PluginMod::metadata`].
        pub metadata: extern "C" fn() -> PluginMetadata,
        /// See [`crate::abi::module::PluginMod::new_client`].
        #[sabi(last_prefix_field)]
        pub new_client: extern "C" fn(options_json: RStr<'_>) -> RResult<HttpClientBox, FfiError>,
    }

    impl RootModule for PluginModRef {
        declare_root_module_statics! {PluginModRef}
        const BASE_NAME: &'static str = "apify_transport";
        const NAME: &'static str = "apify_transport";
        const VERSION_STRINGS: VersionStrings = VersionStrings::new("1.0.0");
    }
}

/// The root module of interface 1.1: `metadata`, `new_client` and `diagnostics`.
pub mod v1_1 {
    use abi_stable::{
        declare_root_module_statics,
        library::RootModule,
        sabi_types::VersionStrings,
        std_types::{RResult, RStr, RString},
        StableAbi,
    };

    use crate::{ffi::FfiError, ffi::HttpClientBox, module::PluginMetadata};

    /// `PluginMod` as of 1.1.
    #[repr(C)]
    #[derive(StableAbi)]
    #[sabi(kind(Prefix(prefix_ref = PluginModRef)))]
    #[sabi(missing_field(option))]
    pub struct PluginMod {
        /// See [`crate::abi::module::PluginMod::metadata`].
        pub metadata: extern "C" fn() -> PluginMetadata,
        /// See [`crate::abi::module::PluginMod::new_client`].
        #[sabi(last_prefix_field)]
        pub new_client: extern "C" fn(options_json: RStr<'_>) -> RResult<HttpClientBox, FfiError>,
        /// See [`crate::abi::module::PluginMod::diagnostics`].
        pub diagnostics: extern "C" fn() -> RString,
    }

    impl RootModule for PluginModRef {
        declare_root_module_statics! {PluginModRef}
        const BASE_NAME: &'static str = "apify_transport";
        const NAME: &'static str = "apify_transport";
        const VERSION_STRINGS: VersionStrings = VersionStrings::new("1.0.0");
    }
}

/// The root module of interface 1.2: `metadata`, `new_client`, `diagnostics` and
/// `new_streaming_client`.
pub mod v1_2 {
    use abi_stable::{
        declare_root_module_statics,
        library::RootModule,
        sabi_types::VersionStrings,
        std_types::{RResult, RStr, RString},
        StableAbi,
    };

    use crate::{
        ffi::{FfiError, HttpClientBox, StreamingHttpClientBox},
        module::PluginMetadata,
    };

    /// `PluginMod` as of 1.2.
    #[repr(C)]
    #[derive(StableAbi)]
    #[sabi(kind(Prefix(prefix_ref = PluginModRef)))]
    #[sabi(missing_field(option))]
    pub struct PluginMod {
        /// See [`crate::abi::module::PluginMod::metadata`].
        pub metadata: extern "C" fn() -> PluginMetadata,
        /// See [`crate::abi::module::PluginMod::new_client`].
        #[sabi(last_prefix_field)]
        pub new_client: extern "C" fn(options_json: RStr<'_>) -> RResult<HttpClientBox, FfiError>,
        /// See [`crate::abi::module::PluginMod::diagnostics`].
        pub diagnostics: extern "C" fn() -> RString,
        /// See [`crate::abi::module::PluginMod::new_streaming_client`].
        pub new_streaming_client:
            extern "C" fn(options_json: RStr<'_>) -> RResult<StreamingHttpClientBox, FfiError>,
    }

    impl RootModule for PluginModRef {
        declare_root_module_statics! {PluginModRef}
        const BASE_NAME: &'static str = "apify_transport";
        const NAME: &'static str = "apify_transport";
        const VERSION_STRINGS: VersionStrings = VersionStrings::new("1.0.0");
    }
}

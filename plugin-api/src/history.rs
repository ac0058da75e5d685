//! Snapshots of the root module as earlier minors defined it. Public as `crate::abi::history`
//! (see `src/abi.rs`), whose docs say why the host needs them.
//!
//! When a minor adds a field, copy the current `PluginMod` here as the snapshot of the
//! previous minor (same type name: abi_stable compares names) and make the host's loader
//! (`check_abi` in host/src/transport/plugin/loader.rs) try the snapshots newest first.
//!
//! The snapshot of 1.3 is also the type `crate::abi::module::PluginMod` has named since 1.3:
//! it was the root module then, and a public struct keeps its fields (see `crate::module`).
//! From 1.4 on, the root module is `crate::abi::root::PluginMod`, and its snapshots here are
//! copies of it (`v1_4`: the root module before 1.5 appended `new_driven_client`).

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

/// The root module of interface 1.3: `metadata`, `new_client`, `diagnostics`,
/// `new_streaming_client` and `new_hosted_client`. Also public as `crate::abi::module`'s
/// `PluginMod`, which was the root module until 1.4 appended `set_host_log` to a type of its
/// own (`crate::abi::root`).
pub mod v1_3 {
    use abi_stable::{
        declare_root_module_statics,
        library::RootModule,
        sabi_types::VersionStrings,
        std_types::{RResult, RStr, RString},
        StableAbi,
    };

    use crate::{
        ffi::{FfiError, HostRuntimeBox, HttpClientBox, StreamingHttpClientBox},
        module::PluginMetadata,
    };

    /// The root module as of 1.3, the layout of a 1.3 plugin's root module. Plugins built
    /// against 1.4 and later export [`crate::abi::root::PluginMod`], whose first fields are
    /// these.
    #[repr(C)]
    #[derive(StableAbi)]
    #[sabi(kind(Prefix(prefix_ref = PluginModRef)))]
    #[sabi(missing_field(option))]
    pub struct PluginMod {
        /// Who the plugin is and which interface version it was built against.
        pub metadata: extern "C" fn() -> PluginMetadata,

        /// Creates a client from the plugin's options, a JSON object (the config's
        /// `[transport.options]` table).
        #[sabi(last_prefix_field)]
        pub new_client: extern "C" fn(options_json: RStr<'_>) -> RResult<HttpClientBox, FfiError>,

        /// Added in 1.1: free-form diagnostics as a JSON object (library versions, TLS
        /// backend), shown by `apify-host transport inspect`. `None` for plugins built against
        /// 1.0.
        pub diagnostics: extern "C" fn() -> RString,

        /// Added in 1.2: like `new_client`, but the client streams request bodies
        /// ([`crate::abi::ffi::StreamingHttpClient`]). `None` for plugins built against 1.0
        /// and 1.1; the host then buffers a streamed body and uses `new_client`.
        pub new_streaming_client:
            extern "C" fn(options_json: RStr<'_>) -> RResult<StreamingHttpClientBox, FfiError>,

        /// Added in 1.3: like `new_streaming_client`, but the client runs on the host's
        /// threads, through the services `runtime` lends it (sockets, tasks, timers). Offered
        /// only by plugins whose metadata has [`crate::Capabilities::HOSTED`]; the others
        /// answer an error here.
        pub new_hosted_client: extern "C" fn(
            options_json: RStr<'_>,
            runtime: HostRuntimeBox,
        ) -> RResult<StreamingHttpClientBox, FfiError>,
    }

    impl RootModule for PluginModRef {
        declare_root_module_statics! {PluginModRef}
        const BASE_NAME: &'static str = "apify_transport";
        const NAME: &'static str = "apify_transport";
        // As `crate::abi::root::PluginModRef`'s: the major only.
        const VERSION_STRINGS: VersionStrings = VersionStrings::new("1.0.0");
    }
}

/// The root module of interface 1.4: `metadata`, `new_client`, `diagnostics`,
/// `new_streaming_client`, `new_hosted_client` and `set_host_log`.
pub mod v1_4 {
    use abi_stable::{
        declare_root_module_statics,
        library::RootModule,
        sabi_types::VersionStrings,
        std_types::{RResult, RStr, RString},
        StableAbi,
    };

    use crate::{
        ffi::{FfiError, HostLogBox, HostRuntimeBox, HttpClientBox, StreamingHttpClientBox},
        module::PluginMetadata,
    };

    /// `PluginMod` as of 1.4, the layout of a 1.4 plugin's root module
    /// ([`crate::abi::root::PluginMod`] without the fields later minors appended).
    #[repr(C)]
    #[derive(StableAbi)]
    #[sabi(kind(Prefix(prefix_ref = PluginModRef)))]
    #[sabi(missing_field(option))]
    pub struct PluginMod {
        /// See [`crate::abi::root::PluginMod::metadata`].
        pub metadata: extern "C" fn() -> PluginMetadata,
        /// See [`crate::abi::root::PluginMod::new_client`].
        #[sabi(last_prefix_field)]
        pub new_client: extern "C" fn(options_json: RStr<'_>) -> RResult<HttpClientBox, FfiError>,
        /// See [`crate::abi::root::PluginMod::diagnostics`].
        pub diagnostics: extern "C" fn() -> RString,
        /// See [`crate::abi::root::PluginMod::new_streaming_client`].
        pub new_streaming_client:
            extern "C" fn(options_json: RStr<'_>) -> RResult<StreamingHttpClientBox, FfiError>,
        /// See [`crate::abi::root::PluginMod::new_hosted_client`].
        pub new_hosted_client: extern "C" fn(
            options_json: RStr<'_>,
            runtime: HostRuntimeBox,
        ) -> RResult<StreamingHttpClientBox, FfiError>,
        /// See [`crate::abi::root::PluginMod::set_host_log`].
        pub set_host_log: extern "C" fn(log: HostLogBox),
    }

    impl RootModule for PluginModRef {
        declare_root_module_statics! {PluginModRef}
        const BASE_NAME: &'static str = "apify_transport";
        const NAME: &'static str = "apify_transport";
        // As `crate::abi::root::PluginModRef`'s: the major only.
        const VERSION_STRINGS: VersionStrings = VersionStrings::new("1.0.0");
    }
}

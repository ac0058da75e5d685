//! The root module a plugin exports, and the interface version.
//!
//! Public as `crate::abi::module` (see `src/abi.rs`), whose docs state the versioning rules;
//! `API_MAJOR`, `API_MINOR` and `Capabilities` are public at the crate root.

use abi_stable::{
    declare_root_module_statics,
    library::RootModule,
    sabi_types::VersionStrings,
    std_types::{RResult, RStr, RString},
    StableAbi,
};

use crate::ffi::{FfiError, HttpClientBox, StreamingHttpClientBox};

/// Major version of the plugin interface: plugins of another major are refused.
pub const API_MAJOR: u16 = 1;
/// Minor version of the plugin interface: additive changes only.
pub const API_MINOR: u16 = 2;

/// What a transport supports, as bit flags.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Capabilities(pub u64);

impl Capabilities {
    /// Response bodies are streamed chunk by chunk.
    pub const STREAMING: Capabilities = Capabilities(1 << 0);
    /// Can talk HTTPS.
    pub const TLS: Capabilities = Capabilities(1 << 1);
    /// Can speak HTTP/2.
    pub const HTTP2: Capabilities = Capabilities(1 << 2);
    /// Honours a proxy option.
    pub const PROXY: Capabilities = Capabilities(1 << 3);
    /// Enforces the request timeout itself.
    pub const TIMEOUTS: Capabilities = Capabilities(1 << 4);

    const NAMES: [(Capabilities, &'static str); 5] = [
        (Self::STREAMING, "streaming"),
        (Self::TLS, "tls"),
        (Self::HTTP2, "http2"),
        (Self::PROXY, "proxy"),
        (Self::TIMEOUTS, "timeouts"),
    ];

    /// No capabilities.
    pub const fn empty() -> Self {
        Capabilities(0)
    }

    /// The union of both sets.
    pub const fn union(self, other: Capabilities) -> Self {
        Capabilities(self.0 | other.0)
    }

    /// Whether every flag of `other` is set.
    pub const fn contains(self, other: Capabilities) -> bool {
        self.0 & other.0 == other.0
    }

    /// Names of the flags that are set (unknown bits are ignored).
    pub fn names(self) -> Vec<&'static str> {
        Self::NAMES
            .iter()
            .filter(|(c, _)| self.contains(*c))
            .map(|(_, n)| *n)
            .collect()
    }
}

impl std::ops::BitOr for Capabilities {
    type Output = Capabilities;
    fn bitor(self, rhs: Self) -> Self {
        self.union(rhs)
    }
}

impl std::fmt::Debug for Capabilities {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.names()).finish()
    }
}

/// The plugin's metadata, returned by [`PluginMod::metadata`].
#[repr(C)]
#[derive(StableAbi, Debug, Clone)]
pub struct PluginMetadata {
    /// Short name.
    pub name: RString,
    /// The plugin's own version.
    pub version: RString,
    /// One line on what it is.
    pub description: RString,
    /// Interface major the plugin was built against.
    pub api_major: u16,
    /// Interface minor the plugin was built against.
    pub api_minor: u16,
    /// What it supports.
    pub capabilities: Capabilities,
}

/// The root module: the plugin's entry points.
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

    /// Added in 1.1: free-form diagnostics as a JSON object (library versions, TLS backend),
    /// shown by `apify-host transport inspect`. `None` for plugins built against 1.0.
    pub diagnostics: extern "C" fn() -> RString,

    /// Added in 1.2: like `new_client`, but the client streams request bodies
    /// ([`crate::abi::ffi::StreamingHttpClient`]). `None` for plugins built against 1.0 and
    /// 1.1; the host then buffers a streamed body and uses `new_client`.
    pub new_streaming_client:
        extern "C" fn(options_json: RStr<'_>) -> RResult<StreamingHttpClientBox, FfiError>,
}

impl RootModule for PluginModRef {
    declare_root_module_statics! {PluginModRef}
    const BASE_NAME: &'static str = "apify_transport";
    const NAME: &'static str = "apify_transport";
    // Pinned to the interface major only: abi_stable's check refuses another major, while
    // minors are negotiated through `missing_field(option)` (see `abi::module` in abi.rs).
    const VERSION_STRINGS: VersionStrings = VersionStrings::new("1.0.0");
}

/// Builds the root module for transport `T`; called once, by the loader symbol that
/// [`crate::export_plugin!`] emits.
#[doc(hidden)]
pub fn root_module<T: crate::Transport>() -> PluginModRef {
    use abi_stable::prefix_type::PrefixTypeTrait;
    PluginMod {
        metadata: crate::export::metadata::<T>,
        new_client: crate::export::new_client::<T>,
        diagnostics: crate::export::diagnostics::<T>,
        new_streaming_client: crate::export::new_streaming_client::<T>,
    }
    .leak_into_prefix()
}

/// The metadata every plugin reports, with this crate's interface version filled in.
pub(crate) fn metadata_for(m: crate::Metadata) -> PluginMetadata {
    PluginMetadata {
        name: m.name.into(),
        version: m.version.into(),
        description: m.description.into(),
        api_major: API_MAJOR,
        api_minor: API_MINOR,
        capabilities: m.capabilities,
    }
}

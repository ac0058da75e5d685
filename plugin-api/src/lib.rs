//! The stable-ABI interface between the Apify API client host (`apify-host`) and its HTTP
//! transport plugins, and everything a plugin author needs to write one.
//!
//! A plugin is a `cdylib` that performs exactly one HTTP exchange per call. Retries, backoff,
//! timeouts per attempt, error mapping, compression, redaction and statistics live in the
//! host's pipeline, above this interface, so every transport behaves the same. This page is
//! the contract; `apify-host transport check PATH` checks every rule of it that can be checked.
//!
//! # Getting the crate
//!
//! The crate builds on its own (it inherits nothing from our workspace). `apify-host transport
//! new NAME` writes a plugin project with a copy of it in `NAME/vendor/apify-plugin-api` and
//! this dependency line, which is all a plugin needs:
//!
//! ```toml
//! [lib]
//! crate-type = ["cdylib"]
//!
//! [dependencies]
//! apify-plugin-api = { version = "1.5", path = "vendor/apify-plugin-api" }
//! ```
//!
//! Use the re-exported [`tokio`] (1.x), [`http`] (1.x), [`bytes`] (1.x) and [`serde_json`]
//! (1.x): a library built on `http` 1.x takes and returns these very types. Never add another
//! major version of tokio. A `tokio = { version = "1", default-features = false, features =
//! ["macros"] }` line of your own is unified with this one by Cargo (one copy), which is the way
//! to get a feature the re-export lacks.
//!
//! # Three ways to write a transport
//!
//! | trait | export | for |
//! |---|---|---|
//! | [`Transport`] | `export_plugin!(T)` | an async library on tokio (reqwest); the glue gives it a runtime of its own (2 worker threads) |
//! | [`HostedTransport`] | `export_plugin!(hosted T)` | a library that takes its sockets, tasks and timers from outside (hyper): it runs on the host's threads, through [`Host`], and costs no thread hand-off per exchange |
//! | [`BlockingTransport`] | `export_plugin!(blocking T)` | a blocking library (ureq, libcurl easy): the glue owns the threads, the chunking, the head deadline and cancellation |
//!
//! Each has the same three parts: `metadata()` (who you are, without building a client),
//! `new` (a client from the JSON object of the config's `[transport.options]` table:
//! `new(options)` for [`Transport`] and [`BlockingTransport`], `new(options, host)` for
//! [`HostedTransport`], which also gets the [`Host`] services it must do all its I/O through),
//! and `call(request)` (one exchange).
//!
//! # What a transport receives
//!
//! - [`Request::method`], and [`Request::url`]: absolute, `http` or `https`, with the query
//!   string already encoded. Send it as it is.
//! - [`Request::headers`]: **exactly** the headers to send, already final. From the host they
//!   always hold `Accept`, `User-Agent` and, with a token, `Authorization` (never log it),
//!   plus `Content-Type` with a body and `Content-Encoding: gzip` when the host compressed it.
//!   `Content-Length` is there only for a **streamed** body of known length; a body in memory
//!   carries none, so frame it by its length (your library usually does). Send exactly one
//!   framing header: if your library honours a `Content-Length` you give it (ureq, hyper),
//!   keep it, and add one for a known length; only if it always writes its own from the body
//!   (minreq) remove the request's copy. `Host` is never there: your library derives it from
//!   the URL.
//! - [`Request::body`]: [`RequestBody::Full`] (bytes in memory) or, from a 1.2 host,
//!   [`RequestBody::Stream`] (a large upload, read as you send it). An **empty** body is sent as
//!   no body at all: nothing after the head and no `Transfer-Encoding: chunked` (a
//!   `Content-Length: 0` is fine). A stream with no length goes chunked. An error from the
//!   stream (the file or stdin failed) must fail the exchange.
//! - [`Request::timeout`]: the deadline for the response **head**, counted from the start of
//!   the call (connecting and sending the body included, as the host counts it); `None` waits
//!   forever. The host enforces it too, so honouring it only frees your resources sooner. The
//!   body has no total deadline: the host bounds the time between chunks itself.
//! - [`Request::stream`]: the caller reads the body as a stream; do not buffer it whole.
//!
//! # What a transport must and must not do
//!
//! These are the rules `transport check` verifies, by name:
//!
//! 1. **One exchange.** Do not retry, do not follow redirects: a `3xx` is returned as the
//!    response (rule `no-redirects`).
//! 2. **Statuses are responses.** `4xx` and `5xx` are `Ok(Response)`, never errors; the host's
//!    retry policy reads them (rule `statuses-are-responses`).
//! 3. **Add no header.** No `Accept`, `User-Agent`, `Accept-Encoding`, `Connection` or cookie of
//!    your own; framing headers your library must write (`Host`, `Content-Length`,
//!    `Transfer-Encoding`) are the only extras (rule `no-added-headers`).
//! 4. **Do not decompress.** A `Content-Encoding: gzip` response comes back as the bytes that
//!    were sent, with its `Content-Encoding` header (rule `no-decompression`). The host
//!    decides what to decode.
//! 5. **Return headers as received**, repeated ones included, and the body as a stream that
//!    ends with `None` only when the server's body really ended: a body cut short (a reset,
//!    fewer bytes than `Content-Length`, a chunked body without its last chunk) is an error
//!    item (rule `truncated-body-is-an-error`). The answer to `HEAD`, a 204 and a 304 have no
//!    body (the blocking glue reads none). Interim `1xx` responses (`100 Continue`,
//!    `103 Early Hints`) are skipped: return the final response (rule `interim-responses`).
//! 6. **Classify failures** with the right [`ErrorKind`] (rules `connect-error`,
//!    `timeout-error`, `tls-error`, `io-error`; `timeout-error` and `tls-error` only for
//!    transports that claim `timeouts` and `tls`); [`Error::classify`] does it for any error
//!    whose chain holds an `std::io::Error` or a failed name lookup.
//! 7. **Never put a credential in a message**: the host redacts again, but use
//!    [`redact_userinfo`] for proxy URLs.
//! 8. **Do not panic.** The glue catches panics at the boundary (as [`ErrorKind::PANIC`], with
//!    the panic's message and location, printed nowhere else), but plugins must be built with
//!    `panic = "unwind"` (the default) for that to work. A panic of a thread of your own is
//!    logged through the host ([`log`]). The glue's panic hook does this: if you set a hook of
//!    your own, call the one `std::panic::take_hook` gives you from it.
//! 9. **Take proxies from your options only**, never from `HTTP_PROXY`, `HTTPS_PROXY` or
//!    `NO_PROXY` unless the standard option `proxy_from_env = true` says so: ops configure a
//!    transport in one place (`[transport.options]`), and every transport we ship ignores the
//!    environment by default. (Not checked: the check cannot change a loaded plugin's
//!    environment.)
//! 10. **Refuse unknown options by name** in `new` ([`check_options`]), as an
//!     [`ErrorKind::INVALID_REQUEST`] error.
//! 11. **Read the standard options by their standard names** ([`options`]: `proxy`,
//!     `proxy_from_env`, `ca_cert_file`, `connect_timeout_ms`, `pool_max_idle_per_host`,
//!     `http2`), with [`options::parse_options`], so one `[transport.options]` table means the
//!     same to every transport. Refuse one you cannot honour by name
//!     ([`options::ParsedOptions::refuse`]); keep an older name of yours as an
//!     [`options::Alias`], with a warning.
//! 12. **Log through the host, never to standard error** ([`log`]: `log::warn!`, `log::debug!`):
//!     the host filters, redacts and bounds what you log, and names you in it.
//!
//! Cases the rules settle, so that you need not guess:
//!
//! - A library that resends a request on a **reused keep-alive connection that died before any
//!   byte of the response** arrived (hyper-util, libcurl do) does not break rule 1: the server
//!   never answered that exchange.
//! - Headers a library sends **to a proxy** (`Proxy-Authorization` from the proxy URL's
//!   credentials, a `CONNECT` request's own headers) are not added headers: the origin server
//!   never sees them.
//! - A request header value the library **cannot send** (libcurl and non-UTF-8 bytes): an
//!   [`ErrorKind::INVALID_REQUEST`] error, never a silently changed header.
//! - A **malformed response head** (no colon, obsolete line folding, a bad status line):
//!   [`ErrorKind::PROTOCOL`]. Not checked by `transport check`: libraries differ in what they
//!   tolerate.
//! - A **bad option value**: an [`ErrorKind::INVALID_REQUEST`] error from `new` that names the
//!   option and says what it takes.
//! - The library's **own connect timeout** fired: [`ErrorKind::CONNECT`] (or `TIMEOUT`; the
//!   host retries both alike).
//! - The **request body stream failed** (the host's file or stdin): fail the exchange with any
//!   kind ([`ErrorKind::IO`] fits). The host knows its body failed, and never resends a
//!   one-time body that was partly sent.
//! - An **error chain without an `std::io::Error` inside**, such as hyper's "connection closed
//!   before message completed": [`Error::classify`] answers [`ErrorKind::OTHER`], so map it
//!   yourself ([`ErrorKind::IO`] for a failure on an open connection). Libraries whose error
//!   type has no `source()` (ureq) need converting first (`e.into_io()`).
//!
//! # Error kinds and what the host does with them
//!
//! | kind | means | the host |
//! |---|---|---|
//! | [`ErrorKind::CONNECT`] | no connection: refused, DNS failure, unreachable | retries |
//! | [`ErrorKind::TIMEOUT`] | the head did not arrive within `Request::timeout` | retries, with a longer timeout |
//! | [`ErrorKind::IO`] | an established connection failed: reset, broken pipe, truncated body | retries when the request body can be sent again |
//! | [`ErrorKind::TLS`] | TLS setup or handshake failed (bad certificate, bad CA file) | does not retry |
//! | [`ErrorKind::PROTOCOL`] | the peer broke HTTP | does not retry |
//! | [`ErrorKind::INVALID_REQUEST`] | the request or an option is unusable (bad URL, unknown option) | does not retry |
//! | [`ErrorKind::PANIC`] | the plugin panicked (set by the glue) | does not retry |
//! | [`ErrorKind::OTHER`] | anything else | retries when [`Error::retryable`] says so |
//!
//! # Capabilities and what the host does with them
//!
//! [`Metadata::capabilities`] describes the transport to people (`apify-host transport
//! inspect` prints it) and tells `transport check` what to hold it to:
//!
//! | flag | `transport check` then requires | the host |
//! |---|---|---|
//! | [`Capabilities::TIMEOUTS`] | no head within `Request::timeout` is an [`ErrorKind::TIMEOUT`] error, on time (rule `timeout-error`); a [`BlockingTransport`]'s glue enforces it for you, so a blocking transport may always claim it | the same: it enforces every deadline itself anyway |
//! | [`Capabilities::TLS`] | a failed handshake is an [`ErrorKind::TLS`] error (rule `tls-error`) | the same |
//! | [`Capabilities::STREAMING`], [`Capabilities::HTTP2`], [`Capabilities::PROXY`] | nothing more (every transport must stream bodies) | the same |
//! | [`Capabilities::HOSTED`] | nothing more | lends the plugin its sockets, tasks and timers (`new_hosted_client`); set by `export_plugin!(hosted T)` only (the glue drops it from any other plugin's metadata) |
//!
//! Only `HOSTED` changes what the host does; it treats every other transport alike, and a
//! transport without `timeouts` is still bounded by the host's deadlines.
//!
//! # Cancellation
//!
//! When the host drops a call (the caller's abort handle, Ctrl-C, a deadline) or a response
//! body, the exchange is over: the glue aborts the task running your `call` (async), or sets
//! [`BlockingRequest::cancel`] and stops reading (blocking). Dropping your future or your body
//! stream must close the connection; the usual libraries do.
//!
//! # Threading
//!
//! - [`Transport`]: `new` and `call` run inside the plugin's own tokio runtime (2 workers);
//!   `tokio::spawn` and timers work. The host polls large response bodies in place, with
//!   that runtime entered.
//! - [`HostedTransport`]: no tokio runtime is running; use [`Host`] for sockets
//!   ([`HostTcp`]), tasks and timers ([`HostSleep`]). `call` and the tasks it spawns are
//!   polled on the host's threads: never block in them.
//! - [`BlockingTransport`]: `call` and the body's `read` run on a blocking thread, at most
//!   [`MAX_BLOCKING_EXCHANGES`] at once. Set your library's read timeout (one hour is always
//!   safe, see [`BlockingTransport::new`]): a read blocked in the library can only end by
//!   itself, so a call dropped while the library waits for the head keeps its connection open
//!   until then.
//!
//! Clients are shared between concurrent calls: they must be `Send + Sync`.
//!
//! # Logging and panics
//!
//! What a plugin logs with [`log`] (added in 1.4) becomes the host's own log event, at the
//! host's level (`apify-host`: target `apify_host::plugin`, a `plugin` field with your name;
//! warnings by default, `-v` info, `-vv` debug), redacted like every line the host writes. A
//! panic inside a call is the call's error, with its location, and nothing else; a panic of a
//! thread of your own is logged as an error. A host before 1.4 has no log channel: warnings
//! and errors then go to standard error, and panics outside calls to the default panic hook.
//!
//! # The binary interface
//!
//! The `#[repr(C)]` types, the `HttpClient` trait object, the root module whose layout
//! abi_stable checks when the host loads the library, the snapshots of earlier versions, the
//! conversions and the bounds of the log channel are the host's business, public only under
//! [`abi`]. Versioning: a plugin built against 1.x loads in every host of the same major;
//! minors only add.
//!
//! ```ignore
//! struct MyTransport { /* ... */ }
//! impl apify_plugin_api::Transport for MyTransport { /* metadata, new, call */ }
//! apify_plugin_api::export_plugin!(MyTransport);
//! ```
#![warn(missing_docs)]
// abi_stable 0.11's `#[sabi_trait]` (the three trait objects in ffi.rs) expands to `impl` blocks
// nested inside other items, which rustc's `non_local_definitions` lint reports. The code is the
// macro's, not ours, and it is sound; the lint only asks for a different expansion.
#![allow(non_local_definitions)]

pub mod abi;
mod blocking;
mod channel;
mod classify;
mod convert;
mod driven;
mod exchange_threads;
mod export;
mod ffi;
mod history;
mod hosted;
pub mod log;
mod module;
pub mod options;
mod panics;
mod services;
mod types;

pub use blocking::{
    BlockingBody, BlockingRequest, BlockingTransport, Cancellation, ResponseHead, BODY_CHUNK,
    CHUNKS_AHEAD, MAX_BLOCKING_EXCHANGES,
};
pub use classify::{check_options, classify_error, classify_io_kind, is_dns_error};
pub use export::Transport;
pub use ffi::ErrorKind;
pub use hosted::{Host, HostSleep, HostTcp, HostedTransport};
pub use module::{Capabilities, API_MAJOR, API_MINOR};
pub use types::{
    chain_has, error_chain, redact_userinfo, Body, Error, Metadata, Request, RequestBody, Response,
};

// The types the `Transport` trait speaks, so a plugin needs no other dependency to match them.
pub use bytes;
pub use http;
pub use serde_json;
/// The plugin runtime's tokio (features `rt-multi-thread`, `net`, `time`, `sync`, `io-util`):
/// use this copy for `spawn_blocking`, timers and channels instead of adding tokio yourself.
pub use tokio;

/// Re-exports used by [`export_plugin!`]; not part of the public API.
#[doc(hidden)]
pub mod __private {
    pub use crate::blocking::{blocking_root_module, Blocking};
    pub use crate::driven::find_epoll;
    pub use crate::module::{hosted_root_module, root_module};
    pub use abi_stable;
}

//! Adapts a plugin's FFI client to [`HttpTransport`].
//!
//! A plugin built against interface 1.2 or later gives a [`StreamingHttpClient`]: request bodies
//! stream across the boundary. A hosted plugin's client (capability `hosted`) runs on our
//! threads: we lend it sockets on our reactor, our executor and our timer. A plugin with a
//! runtime of its own (capability `driven`, 1.5) runs on our threads too: we poll its
//! exchanges in place and drive its runtime (see `driver`). An older plugin gives an
//! `HttpClient` whose requests carry one buffer, so a streamed body is read into memory first
//! (as every body was before 1.2).

use std::{future::Future, sync::Arc, task::Poll, time::Duration};

use abi_stable::std_types::{ROption, RResult, RStr};
use apify_plugin_api::abi::{
    convert::{
        body_from_ffi, body_to_ffi, bytes_to_ffi, headers_from_ffi, headers_to_ffi, timeout_to_ffi,
        tokio_runtime_services,
    },
    ffi::{CallResult, FfiRequest, FfiStreamedBody, HttpClientBox, StreamingHttpClientBox},
};
use apify_plugin_api::Capabilities;
use async_ffi::FfiFuture;
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;

use super::driver::Driver;
use super::loader::{fail, LoadedPlugin, PluginLoadError, PluginLoadFailure};
use crate::transport::{
    CallFuture, HttpTransport, TransportBody, TransportError as Error,
    TransportErrorKind as ErrorKind, TransportRequest as Request,
    TransportRequestBody as RequestBody, TransportResponse as Response,
};

/// A transport served by a loaded plugin.
pub struct PluginTransport {
    name: String,
    client: Arc<ClientHandle>,
    plugin: LoadedPlugin,
    hosted: bool,
}

/// The plugin's client, and the driver of its runtime when the client is driven.
struct ClientHandle {
    /// Present until the handle is dropped.
    ffi: Option<FfiClient>,
    driver: Option<Arc<Driver>>,
}

/// How long dropping a plugin client waits for the plugin's `close` (and the drop of its
/// client) before leaving them to finish on their own thread: a plugin that hangs there must
/// not hang the host.
const CLOSE_LIMIT: Duration = Duration::from_secs(5);

/// The plugin's client, by the interface it speaks.
enum FfiClient {
    /// Interface 1.2+: request bodies stream.
    Streaming(StreamingHttpClientBox),
    /// Interface 1.0/1.1: a request body is one buffer.
    Buffered(HttpClientBox),
}

impl FfiClient {
    fn close(&self) {
        match self {
            FfiClient::Streaming(c) => c.close(),
            FfiClient::Buffered(c) => c.close(),
        }
    }
}

/// Owns the FFI client; closes it when the last user (transport or in-flight call) is gone.
impl ClientHandle {
    /// The FFI client (present until the handle is dropped).
    fn ffi(&self) -> &FfiClient {
        self.ffi
            .as_ref()
            .expect("a client handle is only emptied by its drop")
    }
}
impl Drop for ClientHandle {
    fn drop(&mut self) {
        // The driver's tasks end; the runtime goes with the last of them and the client.
        if let Some(driver) = &self.driver {
            driver.stop();
        }
        let Some(client) = self.ffi.take() else {
            return;
        };
        let (done, finished) = std::sync::mpsc::channel();
        // On its own thread, so the wait can be bounded; a thread that cannot be started
        // drops the client with the closure, unclosed, rather than block.
        let closer = std::thread::Builder::new()
            .name("plugin-close".into())
            .spawn(move || {
                client.close();
                drop(client);
                let _ = done.send(());
            });
        if closer.is_ok() && finished.recv_timeout(CLOSE_LIMIT).is_err() {
            tracing::warn!(
                limit_ms = CLOSE_LIMIT.as_millis() as u64,
                "the transport plugin did not finish closing its client in time; leaving it"
            );
        }
    }
}

impl LoadedPlugin {
    /// Creates a client from `options` (a JSON object). Constructor errors and panics come back
    /// as errors; the host survives either. A hosted plugin (capability `hosted`) runs on the
    /// caller's runtime, through the sockets, tasks and timers lent to it; a plugin with a
    /// runtime of its own (capability `driven`) runs on the caller's threads too, which drive
    /// its runtime.
    pub fn new_client(
        &self,
        options: &serde_json::Value,
    ) -> Result<PluginTransport, PluginLoadError> {
        self.create_client(options, true)
    }

    /// Creates a client as a host before interface 1.3 would: a hosted plugin then starts a
    /// runtime of its own instead of running on the caller's, and any other plugin a runtime
    /// with threads of its own instead of one the caller drives. For comparisons and
    /// diagnosis; [`LoadedPlugin::new_client`] is the one to use.
    pub fn new_client_on_own_runtime(
        &self,
        options: &serde_json::Value,
    ) -> Result<PluginTransport, PluginLoadError> {
        self.create_client(options, false)
    }

    fn create_client(
        &self,
        options: &serde_json::Value,
        lend_runtime: bool,
    ) -> Result<PluginTransport, PluginLoadError> {
        let json = options.to_string();
        let options = RStr::from_str(&json);
        // The newest client the plugin offers: one that runs on our threads (1.3 hosted
        // plugins, 1.5 driven ones), one that streams request bodies (1.2), or the 1.0 one.
        let offers = |c| lend_runtime && self.metadata.capabilities.contains(c);
        let hosted = offers(Capabilities::HOSTED)
            .then(|| self.module.new_hosted_client())
            .flatten();
        let driven = offers(Capabilities::DRIVEN)
            .then(|| self.module.new_driven_client())
            .flatten();
        let runs_hosted = hosted.is_some();
        let streaming = |c| (FfiClient::Streaming(c), None);
        let created =
            match (hosted, driven, self.module.new_streaming_client()) {
                (Some(new), _, _) => new(options, tokio_runtime_services(None)).map(streaming),
                (None, Some(new), _) => match new(options) {
                    RResult::ROk(c) => match Driver::new(c.runtime) {
                        Ok(driver) => RResult::ROk((FfiClient::Streaming(c.client), Some(driver))),
                        Err(e) => return Err(fail(
                            &self.path,
                            PluginLoadFailure::ConstructorFailed,
                            format!("its runtime cannot be driven ({e})"),
                            "Set `hosted = false` in [transport] to run it on threads of its own, \
                             and report this to the plugin's author",
                        )),
                    },
                    RResult::RErr(e) => RResult::RErr(e),
                },
                (None, None, Some(new)) => new(options).map(streaming),
                (None, None, None) => {
                    (self.module.new_client())(options).map(|c| (FfiClient::Buffered(c), None))
                }
            };
        match created {
            RResult::ROk((ffi, driver)) => Ok(PluginTransport {
                name: format!("plugin:{}", self.metadata.name),
                client: Arc::new(ClientHandle {
                    ffi: Some(ffi),
                    driver,
                }),
                plugin: self.clone(),
                hosted: runs_hosted,
            }),
            RResult::RErr(e) if e.kind == ErrorKind::PANIC => Err(fail(
                &self.path,
                PluginLoadFailure::ConstructorPanicked,
                format!("its constructor panicked ({})", e.message),
                "Report this to the plugin's author; the host is unaffected",
            )),
            RResult::RErr(e) => Err(fail(
                &self.path,
                PluginLoadFailure::ConstructorFailed,
                format!("it refused its options ({})", e.message),
                "Fix the [transport.options] table in the config",
            )),
        }
    }
}

impl PluginTransport {
    /// The plugin this transport comes from.
    pub fn plugin(&self) -> &LoadedPlugin {
        &self.plugin
    }

    /// Whether the client runs hosted: on the caller's runtime, through the sockets, tasks and
    /// timers lent to it (a hosted plugin made with [`LoadedPlugin::new_client`]). `false` for
    /// a client on a runtime of the plugin's own: every plugin that is not hosted, and a hosted
    /// one made with [`LoadedPlugin::new_client_on_own_runtime`].
    pub fn runs_hosted(&self) -> bool {
        self.hosted
    }

    /// Whether the client is driven: a plugin with a runtime of its own (capability `driven`,
    /// interface 1.5), made with [`LoadedPlugin::new_client`], whose runtime the caller's
    /// threads drive and whose exchanges they poll in place, instead of threads of its own.
    pub fn runs_driven(&self) -> bool {
        self.client.driver.is_some()
    }

    /// Where the client runs.
    pub fn runs(&self) -> super::ClientRuns {
        match (self.hosted, self.runs_driven()) {
            (true, _) => super::ClientRuns::Hosted,
            (false, true) => super::ClientRuns::Driven,
            (false, false) => super::ClientRuns::OwnThreads,
        }
    }
}

impl HttpTransport for PluginTransport {
    fn name(&self) -> &str {
        &self.name
    }

    fn call(&self, request: Request) -> CallFuture {
        let Request {
            method,
            url,
            headers,
            body,
            timeout,
            stream,
        } = request;
        let head = move |body: Bytes| FfiRequest {
            method: method.as_str().into(),
            url: url.into(),
            headers: headers_to_ffi(&headers),
            body: bytes_to_ffi(body),
            timeout_ms: timeout_to_ffi(timeout),
            stream,
        };
        let client = self.client.clone();
        Box::pin(async move {
            // Counted from here, so the driver ticks while the call and its body run.
            let busy = client.driver.as_ref().map(Driver::start_call);
            let fut = match (client.ffi(), body) {
                (FfiClient::Streaming(c), RequestBody::Full(b)) => c.call(head(b), ROption::RNone),
                (FfiClient::Streaming(c), RequestBody::Stream { stream, length }) => {
                    // The plugin polls the body on its own threads: the host's runtime is
                    // entered around each poll, for bodies that read files through tokio.
                    let runtime = tokio::runtime::Handle::try_current().ok();
                    let body = FfiStreamedBody {
                        stream: body_to_ffi(stream, runtime),
                        length: length.into(),
                    };
                    c.call(head(Bytes::new()), ROption::RSome(body))
                }
                (FfiClient::Buffered(c), RequestBody::Full(b)) => c.call(head(b)),
                (FfiClient::Buffered(c), RequestBody::Stream { stream, length }) => {
                    c.call(head(read_whole(stream, length).await?))
                }
            };
            // Keep the client alive while its future and body run, whatever the caller drops
            // first.
            let response = poll_guarded(fut).await;
            match response {
                RResult::ROk(resp) => Ok(Response {
                    status: http::StatusCode::from_u16(resp.status).map_err(|_| {
                        Error::new(
                            ErrorKind::PROTOCOL,
                            format!("the plugin returned an invalid status {}", resp.status),
                        )
                    })?,
                    headers: headers_from_ffi(resp.headers)?,
                    body: body_from_ffi(resp.body, (client, busy)),
                }),
                RResult::RErr(e) => Err(e.into()),
            }
        })
    }
}

/// Awaits a plugin's call future. async-ffi turns a poll that panicked on the plugin's side into
/// a panic on ours; a plugin not built with our export macro may do that. Make it an error.
async fn poll_guarded(mut fut: FfiFuture<CallResult>) -> CallResult {
    std::future::poll_fn(|cx| {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            std::pin::Pin::new(&mut fut).poll(cx)
        }))
        .unwrap_or_else(|_| {
            Poll::Ready(RResult::RErr(
                Error::new(ErrorKind::PANIC, "the plugin panicked during a call").into(),
            ))
        })
    })
    .await
}

/// Reads a streamed request body into one buffer, for a plugin older than interface 1.2.
async fn read_whole(mut stream: TransportBody, length: Option<u64>) -> Result<Bytes, Error> {
    let mut buf = BytesMut::with_capacity(length.map_or(0, |n| n.min(64 << 20) as usize));
    while let Some(chunk) = stream.next().await {
        buf.extend_from_slice(&chunk?);
    }
    Ok(buf.freeze())
}

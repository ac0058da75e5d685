//! Adapts a plugin's FFI `HttpClient` to [`HttpTransport`].

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Duration,
};

use abi_stable::std_types::{ROption, RResult, RStr};
use apify_plugin_api::abi::{
    convert::{bytes_from_ffi, bytes_to_ffi, headers_from_ffi, headers_to_ffi, timeout_to_ffi},
    ffi::{BodyStreamBox, FfiRequest, HttpClientBox},
};
use async_ffi::{ContextExt, FfiPoll};
use bytes::Bytes;
use futures_core::Stream;

use super::loader::{fail, LoadedPlugin, PluginLoadError, PluginLoadFailure};
use crate::transport::{
    CallFuture, HttpTransport, TransportError as Error, TransportErrorKind as ErrorKind,
    TransportRequest as Request, TransportResponse as Response,
};

/// A transport served by a loaded plugin.
pub struct PluginTransport {
    name: String,
    client: Arc<ClientHandle>,
    plugin: LoadedPlugin,
}

/// How long dropping a plugin client waits for the plugin's `close` (and the drop of its
/// client) before leaving them to finish on their own thread: a plugin that hangs there must
/// not hang the host.
const CLOSE_LIMIT: Duration = Duration::from_secs(5);

/// Owns the FFI client; closes it when the last user (transport or in-flight call) is gone.
struct ClientHandle(Option<HttpClientBox>);

impl ClientHandle {
    /// The FFI client (present until the handle is dropped).
    fn ffi(&self) -> &HttpClientBox {
        self.0
            .as_ref()
            .expect("a client handle is only emptied by its drop")
    }
}

impl Drop for ClientHandle {
    fn drop(&mut self) {
        let Some(client) = self.0.take() else { return };
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
    /// as errors; the host survives either.
    pub fn new_client(
        &self,
        options: &serde_json::Value,
    ) -> Result<PluginTransport, PluginLoadError> {
        let json = options.to_string();
        match (self.module.new_client())(RStr::from_str(&json)) {
            RResult::ROk(client) => Ok(PluginTransport {
                name: format!("plugin:{}", self.metadata.name),
                client: Arc::new(ClientHandle(Some(client))),
                plugin: self.clone(),
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
}

impl HttpTransport for PluginTransport {
    fn name(&self) -> &str {
        &self.name
    }

    fn call(&self, request: Request) -> CallFuture {
        let ffi = FfiRequest {
            method: request.method.as_str().into(),
            url: request.url.into(),
            headers: headers_to_ffi(&request.headers),
            body: bytes_to_ffi(request.body),
            timeout_ms: timeout_to_ffi(request.timeout),
            stream: request.stream,
        };
        let mut fut = self.client.ffi().call(ffi);
        let client = self.client.clone();
        Box::pin(async move {
            // Keep the client alive while its future runs, whatever the caller drops first.
            let _client = client;
            // async-ffi turns a poll that panicked on the plugin's side into a panic on ours;
            // a plugin not built with our export macro may do that. Make it an error instead.
            let result = std::future::poll_fn(|cx| {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    std::pin::Pin::new(&mut fut).poll(cx)
                }))
                .unwrap_or_else(|_| {
                    Poll::Ready(RResult::RErr(
                        Error::new(ErrorKind::PANIC, "the plugin panicked during a call").into(),
                    ))
                })
            })
            .await;
            match result {
                RResult::ROk(resp) => Ok(Response {
                    status: http::StatusCode::from_u16(resp.status).map_err(|_| {
                        Error::new(
                            ErrorKind::PROTOCOL,
                            format!("the plugin returned an invalid status {}", resp.status),
                        )
                    })?,
                    headers: headers_from_ffi(resp.headers)?,
                    body: Box::pin(PluginBody {
                        body: Some(resp.body),
                        _client,
                    }),
                }),
                RResult::RErr(e) => Err(e.into()),
            }
        })
    }
}

/// A plugin body stream as a Rust `Stream`; chunks cross without a copy.
struct PluginBody {
    body: Option<BodyStreamBox>,
    _client: Arc<ClientHandle>,
}

// No field is ever pinned: the FFI stream is polled through `&mut`.
impl Unpin for PluginBody {}

impl Stream for PluginBody {
    type Item = Result<Bytes, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let Some(body) = self.body.as_mut() else {
            return Poll::Ready(None);
        };
        let polled = cx.with_ffi_context(|fcx| body.poll_chunk(fcx));
        match polled {
            FfiPoll::Pending => Poll::Pending,
            FfiPoll::Ready(RResult::ROk(ROption::RSome(chunk))) => {
                Poll::Ready(Some(Ok(bytes_from_ffi(chunk))))
            }
            FfiPoll::Ready(RResult::ROk(ROption::RNone)) => {
                self.body = None;
                Poll::Ready(None)
            }
            FfiPoll::Ready(RResult::RErr(e)) => {
                self.body = None;
                Poll::Ready(Some(Err(e.into())))
            }
            FfiPoll::Panicked => {
                self.body = None;
                Poll::Ready(Some(Err(Error::new(
                    ErrorKind::PANIC,
                    "the plugin panicked while reading a body",
                ))))
            }
        }
    }
}

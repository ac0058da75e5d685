//! The transport every ABI fixture variant exports: it answers every call itself (no network),
//! describing the request and the interface version it was built against, in two body chunks,
//! so a test sees the call, the head and the body stream all cross the boundary. It reads the
//! request body whole and reports how it came (`full` or `stream`), its length and its FNV-1a
//! hash, so a test sees a body cross the boundary intact in either form.

use apify_plugin_api::{
    Body, Capabilities, Error, Metadata, Request, RequestBody, Response, Transport, API_MAJOR,
    API_MINOR,
};
use bytes::Bytes;
use futures_util::StreamExt;

/// The fixture transport.
pub struct Synthetic;

impl Transport for Synthetic {
    fn metadata() -> Metadata {
        Metadata {
            name: format!("abi-fixture-{API_MAJOR}.{API_MINOR}"),
            version: "0.0.0".into(),
            description: "ABI fixture: answers without a network".into(),
            capabilities: Capabilities::STREAMING,
        }
    }

    fn new(_options: serde_json::Value) -> Result<Self, Error> {
        Ok(Synthetic)
    }

    async fn call(&self, request: Request) -> Result<Response, Error> {
        let kind = match &request.body {
            RequestBody::Full(_) => "full",
            RequestBody::Stream { .. } => "stream",
        };
        let (mut len, mut hash) = (0u64, 0xcbf2_9ce4_8422_2325u64);
        let mut body = request.body.into_stream();
        while let Some(chunk) = body.next().await {
            for &b in chunk?.iter() {
                hash = (hash ^ b as u64).wrapping_mul(0x0100_0000_01b3);
                len += 1;
            }
        }
        let text = format!(
            "{{\"api\":\"{API_MAJOR}.{API_MINOR}\",\"method\":\"{}\",\"url\":\"{}\",\"body\":\"{kind}\",\"body_len\":{len},\"body_fnv\":\"{hash:016x}\"}}",
            request.method, request.url
        );
        let (a, b) = text.split_at(text.len() / 2);
        let chunks = vec![Ok(Bytes::from(a.to_string())), Ok(Bytes::from(b.to_string()))];
        let body: Body = Box::pin(futures_util::stream::iter(chunks));
        Ok(Response {
            status: http::StatusCode::OK,
            headers: http::HeaderMap::new(),
            body,
        })
    }
}

apify_plugin_api::export_plugin!(Synthetic);

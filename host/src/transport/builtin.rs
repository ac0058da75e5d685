//! The built-in transport: hyper 1 with hyper-util's pooled client and rustls (ring).
//!
//! Why hyper directly rather than reqwest: the pipeline already does what reqwest adds on top
//! of hyper (redirect policy aside, which the Apify API does not use), so the built-in path
//! keeps one thin layer over the connection pool, and a reqwest-based transport stays available
//! as a plugin. rustls with ring avoids a C toolchain dependency (aws-lc-sys) in the host.

use apify_hyper_common::{exchange, tls_config, OutgoingBody};
use hyper_rustls::HttpsConnector;
use hyper_util::{
    client::legacy::{connect::HttpConnector, Client},
    rt::TokioExecutor,
};

use super::{CallFuture, HttpTransport, TransportError as Error, TransportRequest as Request};

/// The default transport, compiled into the host.
#[derive(Clone)]
pub struct BuiltinTransport {
    client: Client<HttpsConnector<HttpConnector>, OutgoingBody>,
}

impl BuiltinTransport {
    /// A client with a keep-alive pool and the webpki root certificates.
    pub fn new() -> Result<Self, Error> {
        let mut http = HttpConnector::new();
        http.enforce_http(false);
        http.set_nodelay(true);
        let tls = tls_config()?;
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .enable_http2()
            .wrap_connector(http);
        let client = Client::builder(TokioExecutor::new()).build(https);
        Ok(BuiltinTransport { client })
    }
}

impl HttpTransport for BuiltinTransport {
    fn name(&self) -> &str {
        "builtin"
    }

    fn call(&self, request: Request) -> CallFuture {
        let client = self.client.clone();
        Box::pin(async move { exchange(&client, request, tokio::time::sleep).await })
    }
}

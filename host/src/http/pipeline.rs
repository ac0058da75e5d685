//! The pipeline: prepare → retry loop → transport.

use std::{sync::Arc, time::Duration};

use http::{header, HeaderMap, HeaderValue};

use super::{ApiRequest, ApiResponse, ByteStream, HttpSettings, RequestBody, Statistics, TimeoutTier};
use crate::{
    error::{ApiError, Error, TransportFailure},
    token::Token,
    transport::{HttpTransport, Request},
};

/// Runs every API call of one client through the same steps, whatever the transport.
pub struct Pipeline {
    transport: Arc<dyn HttpTransport>,
    settings: HttpSettings,
    /// API base URL without a trailing slash, e.g. `https://api.apify.com`.
    base_url: String,
    token: Option<Token>,
    default_headers: HeaderMap,
    stats: Statistics,
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline")
            .field("transport", &self.transport.name())
            .field("base_url", &self.base_url)
            .field("token", &self.token)
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Pipeline {
    /// A pipeline over `transport`.
    pub fn new(
        transport: Arc<dyn HttpTransport>,
        settings: HttpSettings,
        base_url: &str,
        token: Option<Token>,
    ) -> Self {
        Pipeline {
            transport,
            settings,
            base_url: base_url.trim_end_matches('/').to_string(),
            default_headers: default_headers(token.as_ref()),
            token,
            stats: Statistics::default(),
        }
    }

    /// The transport's name.
    pub fn transport_name(&self) -> &str {
        self.transport.name()
    }

    /// The API base URL.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The settings.
    pub fn settings(&self) -> &HttpSettings {
        &self.settings
    }

    /// The counters.
    pub fn statistics(&self) -> &Statistics {
        &self.stats
    }

    /// The token, if any (never printed: its `Debug` is redacted).
    pub(crate) fn token(&self) -> Option<&Token> {
        self.token.as_ref()
    }

    /// Whether a token is configured.
    pub fn has_token(&self) -> bool {
        self.token.is_some()
    }

    /// Sends one API call and returns its 2xx response, or the error.
    pub async fn call(&self, req: ApiRequest) -> Result<ApiResponse, Error> {
        self.stats.add_call();
        let mut url = format!("{}{}", self.base_url, req.path);
        if let Some(q) = req.query_string() {
            url.push('?');
            url.push_str(&q);
        }
        let mut headers = self.default_headers.clone();
        let body = match &req.body {
            RequestBody::Empty => bytes::Bytes::new(),
            RequestBody::Json(b) => {
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
                b.clone()
            }
            RequestBody::Raw { content_type, data } => {
                if let Ok(v) = HeaderValue::from_str(content_type) {
                    headers.insert(header::CONTENT_TYPE, v);
                }
                data.clone()
            }
        };
        for (k, v) in &req.headers {
            headers.insert(k.clone(), v.clone());
        }
        let timeout = self.timeout_for(req.timeout, 1);
        let attempt = 1;
        self.stats.add_request();
        let context = TransportFailure {
            kind: apify_plugin_api::ErrorKind::OTHER,
            message: String::new(),
            attempt,
            method: req.method.clone(),
            path: req.path.clone(),
            transport: self.transport.name().to_string(),
        };
        let request = Request {
            method: req.method.clone(),
            url,
            headers,
            body,
            timeout,
            stream: req.stream,
        };
        let fut = self.transport.call(request);
        let result = match timeout {
            Some(t) => match tokio::time::timeout(t, fut).await {
                Ok(r) => r,
                Err(_) => Err(apify_plugin_api::Error::new(
                    apify_plugin_api::ErrorKind::TIMEOUT,
                    format!("no response within {t:?}"),
                )),
            },
            None => fut.await,
        };
        let response = result.map_err(|e| Error::Transport(context.clone().with_error(e)))?;
        let status = response.status;
        let body = ByteStream::from_transport(response.body, context);
        if status.is_success() {
            return Ok(ApiResponse::new(status, response.headers, body));
        }
        let bytes = body.collect_bytes().await?;
        Err(Error::Api(ApiError::from_body(
            status.as_u16(),
            &bytes,
            attempt,
            req.method,
            req.path,
        )))
    }

    /// The timeout of attempt `attempt` (1-based) for `tier`.
    pub fn timeout_for(&self, tier: TimeoutTier, attempt: u32) -> Option<Duration> {
        let base = match tier {
            TimeoutTier::Short => self.settings.timeout_short,
            TimeoutTier::Medium => self.settings.timeout_medium,
            TimeoutTier::Long => self.settings.timeout_long,
            TimeoutTier::Custom(d) => d,
            TimeoutTier::NoTimeout => return None,
        };
        let factor = 2u32.saturating_pow(attempt.saturating_sub(1));
        Some(base.saturating_mul(factor).min(self.settings.timeout_max))
    }
}

/// The headers every request carries; a request's own headers override them.
fn default_headers(token: Option<&Token>) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(header::ACCEPT, HeaderValue::from_static("application/json, */*"));
    let at_home = std::env::var_os("APIFY_IS_AT_HOME").is_some_and(|v| !v.is_empty());
    let ua = format!(
        "ApifyClient/{} ({}; Rust/{}); isAtHome/{}",
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        crate::RUSTC_VERSION,
        at_home
    );
    if let Ok(v) = HeaderValue::from_str(&ua) {
        h.insert(header::USER_AGENT, v);
    }
    if let Some(t) = token {
        if let Ok(mut v) = HeaderValue::from_str(&format!("Bearer {}", t.expose())) {
            v.set_sensitive(true);
            h.insert(header::AUTHORIZATION, v);
        }
    }
    if let Some(key) = std::env::var("APIFY_WORKFLOW_KEY").ok().filter(|k| !k.is_empty()) {
        if let Ok(v) = HeaderValue::from_str(&key) {
            h.insert("x-apify-workflow-key", v);
        }
    }
    h
}

//! [`ApifyClient`]: the entry point of the library.

use std::sync::Arc;

use crate::{
    http::{HttpSettings, Pipeline, StatisticsSnapshot},
    transport::{builtin::BuiltinTransport, HttpTransport},
    Error, Token, DEFAULT_API_URL,
};

/// The Apify API client. Cheap to clone; clones share the transport and the statistics.
#[derive(Clone, Debug)]
pub struct ApifyClient {
    pipeline: Arc<Pipeline>,
}

/// Builds an [`ApifyClient`].
#[derive(Default)]
pub struct ApifyClientBuilder {
    token: Option<Token>,
    api_url: Option<String>,
    settings: HttpSettings,
    transport: Option<Arc<dyn HttpTransport>>,
}

impl std::fmt::Debug for ApifyClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApifyClientBuilder")
            .field("token", &self.token)
            .field("api_url", &self.api_url)
            .field("settings", &self.settings)
            .field(
                "transport",
                &self.transport.as_ref().map(|t| t.name().to_string()),
            )
            .finish()
    }
}

impl ApifyClientBuilder {
    /// Sets the API token.
    pub fn token(mut self, token: impl Into<String>) -> Self {
        let t = token.into();
        self.token = (!t.trim().is_empty()).then(|| Token::new(t));
        self
    }

    /// Sets an optional API token.
    pub fn token_opt(mut self, token: Option<Token>) -> Self {
        self.token = token;
        self
    }

    /// Sets the API base URL (default `https://api.apify.com`).
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = Some(url.into());
        self
    }

    /// Sets the pipeline settings.
    pub fn settings(mut self, settings: HttpSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Uses `transport` instead of the built-in one.
    pub fn transport(mut self, transport: Arc<dyn HttpTransport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Builds the client.
    pub fn build(self) -> Result<ApifyClient, Error> {
        let api_url = self.api_url.unwrap_or_else(|| DEFAULT_API_URL.to_string());
        let parsed = url::Url::parse(&api_url).map_err(|e| {
            Error::Config(format!(
                "the API URL {api_url:?} is not a valid URL ({e}); use e.g. https://api.apify.com"
            ))
        })?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(Error::Config(format!(
                "the API URL {api_url:?} must start with http:// or https://"
            )));
        }
        if let Some(t) = &self.token {
            if http::HeaderValue::from_str(&format!("Bearer {}", t.expose())).is_err() {
                return Err(Error::Config(
                    "the API token contains characters that cannot be sent in a header (a line \
                     break or a control character?): check APIFY_TOKEN, --token or the token file"
                        .into(),
                ));
            }
        }
        let transport = match self.transport {
            Some(t) => t,
            None => Arc::new(BuiltinTransport::new()?),
        };
        let pipeline = Pipeline::new(transport, self.settings, &api_url, self.token);
        Ok(ApifyClient {
            pipeline: Arc::new(pipeline),
        })
    }
}

impl ApifyClient {
    /// A builder with the defaults: built-in transport, `https://api.apify.com`, no token.
    pub fn builder() -> ApifyClientBuilder {
        ApifyClientBuilder::default()
    }

    /// A client with `token` and the defaults.
    pub fn new(token: impl Into<String>) -> Result<Self, Error> {
        Self::builder().token(token).build()
    }

    /// The same client configuration over an in-process custom transport: the Rust analog of
    /// the Python client's `with_custom_http_client`. Retries, timeouts, error mapping and
    /// statistics still apply, because they live in the pipeline above the transport.
    pub fn with_custom_http_client(&self, transport: Arc<dyn HttpTransport>) -> Self {
        let p = &self.pipeline;
        ApifyClient {
            pipeline: Arc::new(Pipeline::new(
                transport,
                p.settings().clone(),
                p.base_url(),
                p.token().cloned(),
            )),
        }
    }

    /// The pipeline every call goes through (for raw calls like `apify-host api`).
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// The call and attempt counters.
    pub fn statistics(&self) -> StatisticsSnapshot {
        self.pipeline.statistics().snapshot()
    }
}

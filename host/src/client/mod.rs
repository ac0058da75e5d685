//! [`ApifyClient`]: the entry point of the library, and its builder.

mod raw;
#[cfg_attr(not(feature = "config"), allow(dead_code))]
pub(crate) mod reload;
mod signal;

use std::sync::Arc;

use http::Method;

pub use raw::RequestBuilder;
#[cfg(unix)]
pub use signal::reload_on_sighup;

use crate::{
    pipeline::{
        ApiRequest, ApiResponse, CanaryPolicy, CanaryTransport, HttpSettings, LineupChange,
        Pipeline, StatisticsSnapshot, TransportStatistics, TransportSwap,
    },
    resources::{
        DatasetClient, DatasetCollectionClient, KeyValueStoreClient, KeyValueStoreCollectionClient,
        LogClient, RequestQueueClient, RequestQueueCollectionClient, UserClient,
    },
    resources::{
        ScheduleClient, ScheduleCollectionClient, StoreCollectionClient, WebhookClient,
        WebhookCollectionClient, WebhookDispatchClient, WebhookDispatchCollectionClient,
    },
    token::Token,
    transport::{BuiltinTransport, HttpTransport},
    Error, DEFAULT_API_URL,
};
// The Actor family's clients, in their own `use` so the storage and other families' lists
// merge without touching each other.
use crate::resources::{
    ActorClient, ActorCollectionClient, BuildClient, BuildCollectionClient, Run, RunClient,
    RunCollectionClient, RunUpdate, TaskClient, TaskCollectionClient,
};

/// The Apify API client. Cheap to clone; clones share the transport and the statistics.
#[derive(Clone, Debug)]
pub struct ApifyClient {
    pipeline: Arc<Pipeline>,
    /// The sources to reload the transport from (`from_env`/`from_config`), if any.
    reload: Option<Arc<reload::Reload>>,
}

/// Builds an [`ApifyClient`]. Its `Debug` never shows the token.
#[derive(Default)]
pub struct ApifyClientBuilder {
    token: Option<Token>,
    api_url: Option<String>,
    api_public_url: Option<String>,
    settings: HttpSettings,
    transport: Option<Arc<dyn HttpTransport>>,
    canary: Option<CanaryTransport>,
    reload: Option<reload::Reload>,
}

impl std::fmt::Debug for ApifyClientBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApifyClientBuilder")
            .field("token", &self.token)
            .field("api_url", &self.api_url)
            .field("api_public_url", &self.api_public_url)
            .field("settings", &self.settings)
            .field(
                "transport",
                &self.transport.as_ref().map(|t| t.name().to_string()),
            )
            .field(
                "canary",
                &self.canary.as_ref().map(|(t, p)| (t.name().to_string(), p)),
            )
            .finish()
    }
}

impl ApifyClientBuilder {
    /// Sets the API token (surrounding whitespace is trimmed; an empty token means none).
    pub fn token(mut self, token: impl Into<String>) -> Self {
        self.token = Token::non_empty(token.into());
        self
    }

    /// Sets the API base URL (default `https://api.apify.com`). A trailing `/` or `/v2` is
    /// ignored: every path the client sends starts with `/v2`.
    pub fn api_url(mut self, url: impl Into<String>) -> Self {
        self.api_url = Some(url.into());
        self
    }

    /// Sets the globally reachable API URL that public storage URLs
    /// ([`DatasetClient::create_items_public_url`] and the like) are built on, for when
    /// `api_url` is an internal address. Default `https://api.apify.com`, as the Python client.
    /// A trailing `/` or `/v2` is ignored.
    pub fn api_public_url(mut self, url: impl Into<String>) -> Self {
        self.api_public_url = Some(url.into());
        self
    }

    /// Sets the retry, timeout and compression settings.
    pub fn settings(mut self, settings: HttpSettings) -> Self {
        self.settings = settings;
        self
    }

    /// Uses `transport` instead of the built-in one.
    pub fn transport(mut self, transport: Arc<dyn HttpTransport>) -> Self {
        self.transport = Some(transport);
        self
    }

    /// Sends a share of the calls to `transport`, a canary, as [`ApifyClient::set_canary`]
    /// does on a built client.
    pub fn canary(mut self, transport: Arc<dyn HttpTransport>, policy: CanaryPolicy) -> Self {
        self.canary = Some((transport, policy));
        self
    }

    /// The sources [`ApifyClient::reload_transport`] reads again (the config layer's).
    #[cfg(feature = "config")]
    pub(crate) fn reload_from(mut self, reload: reload::Reload) -> Self {
        self.reload = Some(reload);
        self
    }

    /// Sets the token from an already-resolved [`Token`] (config and env resolution).
    #[cfg(feature = "config")]
    pub(crate) fn token_value(mut self, token: Option<Token>) -> Self {
        self.token = token;
        self
    }

    /// Builds the client: checks the settings, the URL and the token, and creates the built-in transport
    /// unless one was given.
    pub fn build(self) -> Result<ApifyClient, Error> {
        // Out-of-range settings (20+ retries, an hour-long backoff base) are refused by name
        // here, not discovered as a hang later.
        self.settings.validate()?;
        let api_url = checked_api_url(
            "API URL",
            self.api_url.as_deref().unwrap_or(DEFAULT_API_URL),
        )?;
        let api_public_url = checked_api_url(
            "public API URL",
            self.api_public_url.as_deref().unwrap_or(DEFAULT_API_URL),
        )?;
        if let Some(t) = &self.token {
            if http::HeaderValue::from_str(&format!("Bearer {}", t.expose())).is_err() {
                return Err(Error::config(
                    "the API token contains characters that cannot be sent in a header (a line \
                     break or a control character?): check APIFY_TOKEN, --token or the token file",
                ));
            }
        }
        let transport = match self.transport {
            Some(t) => t,
            None => Arc::new(BuiltinTransport::new().map_err(|e| {
                Error::config(format!(
                    "cannot set up the built-in transport: {}",
                    e.message
                ))
            })?),
        };
        if let Some((_, policy)) = &self.canary {
            policy
                .check()
                .map_err(|e| Error::config(format!("invalid canary: {e}")))?;
        }
        let pipeline = Pipeline::new(transport, self.settings, &api_url, self.token)
            .with_public_url(Some(api_public_url));
        if let Some(canary) = self.canary {
            let _nothing_to_drain = pipeline.change_transports(LineupChange::canary(Some(canary)));
        }
        Ok(ApifyClient {
            pipeline: Arc::new(pipeline),
            reload: self.reload.map(Arc::new),
        })
    }
}

/// `raw` normalized, or a config error naming `what` when it is not an http(s) URL.
fn checked_api_url(what: &str, raw: &str) -> Result<String, Error> {
    let api_url = normalize_api_url(raw);
    let parsed = url::Url::parse(&api_url).map_err(|e| {
        Error::config(format!(
            "the {what} {raw:?} is not a valid URL ({e}); use e.g. https://api.apify.com"
        ))
    })?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(Error::config(format!(
            "the {what} {raw:?} must start with http:// or https://"
        )));
    }
    Ok(api_url)
}

/// The API base URL without a trailing `/` or `/v2`: users often paste the versioned URL, and
/// every path the client sends starts with `/v2`.
fn normalize_api_url(raw: &str) -> String {
    let trimmed = raw.trim().trim_end_matches('/');
    trimmed.strip_suffix("/v2").unwrap_or(trimmed).to_string()
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
            pipeline: Arc::new(
                Pipeline::new(
                    transport,
                    p.settings().clone(),
                    p.base_url(),
                    p.token().cloned(),
                )
                .with_public_url(Some(p.public_url().to_string())),
            ),
            // A transport of the caller's own: there are no sources to reload it from.
            reload: None,
        }
    }

    /// A raw call to any API endpoint through the same pipeline (retries, timeouts, errors,
    /// statistics) as the resource clients: `client.request(Method::GET, "/v2/users/me")`.
    /// `path` is below the API base URL, already percent-encoded; add segments safely with
    /// [`RequestBuilder::segment`].
    pub fn request(&self, method: Method, path: &str) -> RequestBuilder {
        RequestBuilder::new(self.clone(), method, path)
    }

    /// Sends `request` through the pipeline: its 2xx response, or the error of its last
    /// attempt (429, 5xx and transient transport errors are retried).
    pub async fn execute(&self, request: ApiRequest) -> Result<ApiResponse, Error> {
        self.pipeline.call(request).await
    }

    /// The call and attempt counters.
    pub fn statistics(&self) -> StatisticsSnapshot {
        self.pipeline.statistics().snapshot()
    }

    /// The name of the transport new calls go through (`builtin`, `plugin:reqwest`, ...).
    /// An owned name: a swap may change it at any moment.
    pub fn transport_name(&self) -> String {
        self.pipeline.transport_name().to_string()
    }

    /// Puts `transport` in service without a restart: new calls (and new attempts of calls
    /// already running) use it at once; exchanges and streamed bodies already in flight finish
    /// on the old one. Every clone of this client, and every resource client made from it,
    /// sees the swap. Await [`TransportSwap::drained`] to know when the old transport has
    /// finished and been closed; at its drain deadline (`[transport] drain_timeout_secs`,
    /// [`HttpSettings::drain_timeout`], default 60 s) what is left is ended with an error the
    /// pipeline retries on the new transport wherever the call can be replayed.
    ///
    /// ```no_run
    /// # async fn demo(client: apify_host::ApifyClient) -> apify_host::Result<()> {
    /// use std::{path::Path, sync::Arc};
    /// use apify_host::transport::plugin::{load_plugin, PluginLoadOptions};
    ///
    /// let plugin = load_plugin(Path::new("/opt/apify/libapify_transport_reqwest.so"), &PluginLoadOptions::default())
    ///     .map_err(apify_host::Error::from)?;
    /// let transport = plugin.new_client(&serde_json::json!({})).map_err(apify_host::Error::from)?;
    /// let swap = client.swap_transport(Arc::new(transport));
    /// let report = swap.drained().await;
    /// println!("{:?} closed, {} exchanges cut", report.transports, report.cut);
    /// # Ok(()) }
    /// ```
    ///
    /// On a client built from a config, the next [`ApifyClient::reload_transport`] then puts
    /// the config's transport back in service, even if the config has not changed.
    pub fn swap_transport(&self, transport: Arc<dyn HttpTransport>) -> TransportSwap {
        self.by_hand(true, false, || self.pipeline.swap_transport(transport))
    }

    /// Runs a change of the lineup by hand; on a client built from a config, the next reload
    /// puts the config's lineup back.
    fn by_hand<T>(&self, primary: bool, canary: bool, change: impl FnOnce() -> T) -> T {
        match &self.reload {
            Some(reload) => reload.by_hand(primary, canary, change),
            None => change(),
        }
    }

    /// Sends a share of the calls to `transport`, a canary, beside the transport in service
    /// (the primary); a canary already there is replaced and drains.
    ///
    /// The share is counted by call (of every 100 calls, `share · 100` go to the canary).
    /// When an attempt on the canary fails at the transport level, the call goes on at once on
    /// the primary, without using one of its retries: a canary never costs a failed call.
    /// When more than `max_failure_ratio` of the canary's last `window` exchanges failed while
    /// the primary's did not, the canary is rolled back by itself: one warning is logged, it
    /// drains, and [`ApifyClient::transport_statistics`] lists it as retired and
    /// `rolled_back`. To promote it, [`ApifyClient::promote_canary`] (or reload a config
    /// naming it as `[transport] plugin`, with no canary). Calls whose body cannot be sent
    /// twice (a one-time stream) never go to a canary, and a POST whose canary attempt failed
    /// in a way that is not retried (the request may have been acted on) fails as it would
    /// on the primary. The fall-back covers the exchange up to its response head (or its
    /// whole body, for a body read at once): a streamed body that breaks later is resumed or
    /// fails as on any transport.
    ///
    /// An out-of-range policy is an error of kind [`ErrorKind::Config`](crate::ErrorKind::Config)
    /// and changes nothing. On a client built from a config, the next
    /// [`ApifyClient::reload_transport`] puts the config's canary (or none) back.
    ///
    /// ```no_run
    /// # async fn demo(client: apify_host::ApifyClient, new: std::sync::Arc<dyn apify_host::transport::HttpTransport>) -> apify_host::Result<()> {
    /// use apify_host::pipeline::CanaryPolicy;
    /// // One call in 20 goes to the new transport (a canary it replaces drains).
    /// client.set_canary(new, CanaryPolicy::new(0.05))?.drained().await;
    /// # Ok(()) }
    /// ```
    pub fn set_canary(
        &self,
        transport: Arc<dyn HttpTransport>,
        policy: CanaryPolicy,
    ) -> Result<TransportSwap, Error> {
        policy
            .check()
            .map_err(|e| Error::config(format!("invalid canary: {e}")))?;
        Ok(self.by_hand(false, true, || {
            self.pipeline
                .change_transports(LineupChange::canary(Some((transport, policy))))
        }))
    }

    /// Takes the canary out of service, if there is one: all calls go to the primary, and the
    /// canary drains.
    pub fn remove_canary(&self) -> TransportSwap {
        self.by_hand(false, true, || {
            self.pipeline.change_transports(LineupChange::canary(None))
        })
    }

    /// Makes the canary the primary, as it is (its client, its connections and its
    /// statistics), with no canary left; the old primary drains. Without a canary, nothing
    /// changes (the swap retires nothing). On a client built from a config, the next reload
    /// puts the config's lineup back: name the canary's plugin as `[transport] plugin` there
    /// to keep it.
    pub fn promote_canary(&self) -> TransportSwap {
        self.by_hand(true, true, || {
            self.pipeline.change_transports(LineupChange::promote())
        })
    }

    /// Reads the sources the client was built from again (the config file and the
    /// environment, for [`ApifyClient::from_env`] and
    /// [`ApifyClientBuilder::from_config`](crate::ApifyClientBuilder::from_config)) and, when
    /// the transports they name have changed (the plugin's path, its bytes, by sha256, so a
    /// plugin upgraded in place counts, the pin, the options, or the `[transport.canary]`
    /// table), loads what changed and swaps to it as [`ApifyClient::swap_transport`] and
    /// [`ApifyClient::set_canary`] do, in one step. Answers `None` when nothing changed.
    ///
    /// A reload that fails (a file that does not parse, a wrong pin, a constructor error)
    /// changes nothing: the transport in service keeps serving, and the error says why. A
    /// client built otherwise (a transport of your own) has no sources: that is an error of
    /// kind [`ErrorKind::Misuse`](crate::ErrorKind::Misuse).
    ///
    /// ```no_run
    /// # async fn demo() -> apify_host::Result<()> {
    /// let client = apify_host::ApifyClient::from_env()?;
    /// // ... ops edit the config file, then:
    /// if let Some(swap) = client.reload_transport().await? {
    ///     println!("now on {}; {} drains", client.transport_name(), swap.old_transport());
    ///     swap.drained().await;
    /// }
    /// # Ok(()) }
    /// ```
    pub async fn reload_transport(&self) -> Result<Option<TransportSwap>, Error> {
        let Some(reload) = self.reload.clone() else {
            return Err(Error::misuse(
                "this client was not built from a config (ApifyClient::from_env or \
                 ApifyClientBuilder::from_config), so there is nothing to reload its transport \
                 from; swap it with ApifyClient::swap_transport instead",
            ));
        };
        let pipeline = Arc::clone(&self.pipeline);
        // Reading the file, hashing the plugin and loading it are blocking work.
        tokio::task::spawn_blocking(move || reload.run(&pipeline))
            .await
            .map_err(|e| Error::misuse(format!("the transport reload did not finish: {e}")))?
    }

    /// Whether this client was built from a config, so [`ApifyClient::reload_transport`] has
    /// sources to read.
    pub(crate) fn reloads_from_config(&self) -> bool {
        self.reload.is_some()
    }

    /// The statistics of each transport of this client: the primary, the canary if there is
    /// one, then those still draining after a swap and the canaries rolled back (the latest
    /// eight). [`ApifyClient::statistics`] counts the calls, whatever the transport.
    pub fn transport_statistics(&self) -> Vec<TransportStatistics> {
        self.pipeline.transport_statistics()
    }

    /// The API base URL, without a trailing `/` or `/v2`.
    pub fn api_url(&self) -> &str {
        self.pipeline.base_url()
    }

    /// The base of public storage URLs (`api_public_url`), without a trailing `/` or `/v2`.
    pub fn api_public_url(&self) -> &str {
        self.pipeline.public_url()
    }
}

/// The resource clients, one accessor per API resource, as the Python client's `ApifyClient`.
impl ApifyClient {
    /// The dataset collection (`/v2/datasets`): list, iterate, get or create.
    pub fn datasets(&self) -> DatasetCollectionClient {
        DatasetCollectionClient::new(&self.pipeline)
    }

    /// One dataset, by id or `username~name` (`username/name` works too).
    pub fn dataset(&self, id: &str) -> DatasetClient {
        DatasetClient::new(&self.pipeline, id)
    }

    /// The key-value store collection (`/v2/key-value-stores`).
    pub fn key_value_stores(&self) -> KeyValueStoreCollectionClient {
        KeyValueStoreCollectionClient::new(&self.pipeline)
    }

    /// One key-value store, by id or `username~name`.
    pub fn key_value_store(&self, id: &str) -> KeyValueStoreClient {
        KeyValueStoreClient::new(&self.pipeline, id)
    }

    /// The request queue collection (`/v2/request-queues`).
    pub fn request_queues(&self) -> RequestQueueCollectionClient {
        RequestQueueCollectionClient::new(&self.pipeline)
    }

    /// One request queue, by id or `username~name`. Use
    /// [`RequestQueueClient::with_client_key`] to lock requests under a client key.
    pub fn request_queue(&self, id: &str) -> RequestQueueClient {
        RequestQueueClient::new(&self.pipeline, id)
    }

    /// A user: `None` is the owner of the token (`/v2/users/me`).
    pub fn user(&self, id: Option<&str>) -> UserClient {
        UserClient::new(&self.pipeline, id)
    }

    /// The owner of the token (`/v2/users/me`): `user(None)`.
    pub fn me(&self) -> UserClient {
        self.user(None)
    }

    /// The log of an Actor run or build.
    pub fn log(&self, id: &str) -> LogClient {
        LogClient::new(&self.pipeline, id)
    }

    /// The user's Actors (`/v2/actors`): list, iterate, create.
    pub fn actors(&self) -> ActorCollectionClient {
        ActorCollectionClient::new(&self.pipeline)
    }

    /// One Actor, by id or `username~name` (`username/name` works too).
    pub fn actor(&self, id: &str) -> ActorClient {
        ActorClient::new(&self.pipeline, id)
    }

    /// Every build of the user (`/v2/actor-builds`).
    pub fn builds(&self) -> BuildCollectionClient {
        BuildCollectionClient::new(&self.pipeline)
    }

    /// One Actor build.
    pub fn build(&self, id: &str) -> BuildClient {
        BuildClient::new(&self.pipeline, id)
    }

    /// Every run of the user (`/v2/actor-runs`).
    pub fn runs(&self) -> RunCollectionClient {
        RunCollectionClient::new(&self.pipeline)
    }

    /// One Actor run.
    pub fn run(&self, id: &str) -> RunClient {
        RunClient::new(&self.pipeline, id)
    }

    /// The user's Actor tasks (`/v2/actor-tasks`).
    pub fn tasks(&self) -> TaskCollectionClient {
        TaskCollectionClient::new(&self.pipeline)
    }

    /// One Actor task, by id or `username~name`.
    pub fn task(&self, id: &str) -> TaskClient {
        TaskClient::new(&self.pipeline, id)
    }

    /// For code running inside an Actor: sets the status message of the current run (the
    /// one `ACTOR_RUN_ID` names), as the JS client's `setStatusMessage`. `is_terminal` marks
    /// it as the run's last message.
    pub async fn set_status_message(&self, message: &str, is_terminal: bool) -> Result<Run, Error> {
        let run_id = std::env::var("ACTOR_RUN_ID")
            .ok()
            .filter(|id| !id.trim().is_empty());
        let Some(run_id) = run_id else {
            return Err(Error::misuse(
                "set_status_message works only inside an Actor run: the ACTOR_RUN_ID \
                 environment variable is not set (use run(id).update(..) to set the status \
                 message of another run)",
            ));
        };
        self.run(&run_id)
            .update(&RunUpdate {
                status_message: Some(message.to_string()),
                is_status_message_terminal: Some(is_terminal),
                general_access: None,
            })
            .await
    }

    /// The schedule collection (`/v2/schedules`): list, iterate, create.
    pub fn schedules(&self) -> ScheduleCollectionClient {
        ScheduleCollectionClient::new(&self.pipeline)
    }

    /// One schedule, by id.
    pub fn schedule(&self, id: &str) -> ScheduleClient {
        ScheduleClient::new(&self.pipeline, id)
    }

    /// The webhook collection (`/v2/webhooks`): list, iterate, create.
    pub fn webhooks(&self) -> WebhookCollectionClient {
        WebhookCollectionClient::new(&self.pipeline)
    }

    /// One webhook, by id.
    pub fn webhook(&self, id: &str) -> WebhookClient {
        WebhookClient::new(&self.pipeline, id)
    }

    /// The webhook dispatches of the token's user (`/v2/webhook-dispatches`).
    pub fn webhook_dispatches(&self) -> WebhookDispatchCollectionClient {
        WebhookDispatchCollectionClient::new(&self.pipeline)
    }

    /// One webhook dispatch, by id.
    pub fn webhook_dispatch(&self, id: &str) -> WebhookDispatchClient {
        WebhookDispatchClient::new(&self.pipeline, id)
    }

    /// The Apify Store's Actor list (`/v2/store`).
    pub fn store(&self) -> StoreCollectionClient {
        StoreCollectionClient::new(&self.pipeline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_url_is_normalized() {
        for raw in [
            "http://h:1",
            "http://h:1/",
            "http://h:1/v2",
            " http://h:1/v2/ ",
        ] {
            assert_eq!(normalize_api_url(raw), "http://h:1", "{raw}");
        }
        let c = ApifyClient::builder()
            .api_url("http://h:1/v2/")
            .build()
            .unwrap();
        assert_eq!(c.api_url(), "http://h:1");
        let e = ApifyClient::builder()
            .api_url("ftp://x")
            .build()
            .unwrap_err();
        assert!(e.is_config() && e.to_string().contains("http://"), "{e}");
    }

    #[tokio::test]
    async fn set_status_message_outside_an_actor_says_what_is_missing() {
        // Only checkable where the variable is unset (never set here: tests share the env).
        if std::env::var_os("ACTOR_RUN_ID").is_none() {
            let c = ApifyClient::new("t").unwrap();
            let e = c.set_status_message("hi", false).await.unwrap_err();
            assert!(
                e.is_misuse() && !e.is_config() && e.to_string().contains("ACTOR_RUN_ID"),
                "{e}"
            );
        }
    }
}

//! A blocking facade over the async client, in the manner of `reqwest::blocking`: the same
//! clients and methods, each call waiting for its answer.
//!
//! ```no_run
//! # fn demo() -> Result<(), apify_host::Error> {
//! use apify_host::options::ListItemsOptions;
//!
//! let client = apify_host::blocking::ApifyClient::new("my-token")?;
//! let ds = client.datasets().get_or_create(Some("results"), None)?;
//! client.dataset(&ds.id).push_items(&serde_json::json!([{"url": "https://a.example"}]))?;
//! let opts = ListItemsOptions::new().clean(true);
//! for item in client.dataset(&ds.id).iterate_items::<serde_json::Value>(&opts) {
//!     println!("{}", item?);
//! }
//! # Ok(()) }
//! ```
//!
//! The calls run on a small runtime of the facade's own (one thread), so the blocking client
//! needs no runtime from the caller. Inside async code, use the async
//! [`ApifyClient`](crate::ApifyClient) instead: on a multi-thread tokio runtime a blocking call
//! still works (through `block_in_place`), but on a current-thread runtime it is refused with an
//! error that says so ([`crate::ErrorKind::Misuse`], [`crate::Error::is_misuse`]), because waiting there would stall the caller's own runtime.

mod actors;
mod iter;
pub(crate) mod macros;
mod platform;
mod runtime;
mod storages;

pub use actors::*;
pub use iter::{BodyReader, Iter, RecordReader};
pub use platform::*;
pub use storages::*;

use macros::IntoBlocking;
use runtime::Rt;

use std::sync::Arc;

use crate::{
    pipeline::{CanaryPolicy, DrainReport, StatisticsSnapshot, TransportStatistics, TransportSwap},
    transport::HttpTransport,
    Error,
};

/// The blocking Apify API client. Cheap to clone; clones share the transport, the statistics
/// and the runtime.
#[derive(Clone, Debug)]
pub struct ApifyClient {
    inner: crate::ApifyClient,
    rt: Rt,
}

impl ApifyClient {
    /// A client with `token` and the defaults (see [`crate::ApifyClient::new`]).
    pub fn new(token: impl Into<String>) -> Result<Self, Error> {
        Self::from_async(crate::ApifyClient::new(token)?)
    }

    /// The blocking form of an async client built any way ([`crate::ApifyClient::builder`],
    /// a plugin transport, ...). Both share the transport and the statistics.
    pub fn from_async(client: crate::ApifyClient) -> Result<Self, Error> {
        Ok(ApifyClient {
            inner: client,
            rt: Rt::start()?,
        })
    }

    /// The client the environment and the config file describe (see
    /// [`crate::ApifyClient::from_env`]).
    #[cfg(feature = "config")]
    pub fn from_env() -> Result<Self, Error> {
        Self::from_async(crate::ApifyClient::from_env()?)
    }

    /// The async client behind this one.
    pub fn as_async(&self) -> &crate::ApifyClient {
        &self.inner
    }

    /// The call and attempt counters.
    pub fn statistics(&self) -> StatisticsSnapshot {
        self.inner.statistics()
    }

    /// The name of the transport new calls go through.
    pub fn transport_name(&self) -> String {
        self.inner.transport_name()
    }

    /// Puts `transport` in service for new calls, as [`crate::ApifyClient::swap_transport`]
    /// does (clones of this client and of its async client see it too). Wait for the old
    /// transport's drain with [`ApifyClient::wait_drained`].
    pub fn swap_transport(&self, transport: Arc<dyn HttpTransport>) -> TransportSwap {
        self.inner.swap_transport(transport)
    }

    /// Sends a share of the calls to a canary, as [`crate::ApifyClient::set_canary`] does.
    pub fn set_canary(
        &self,
        transport: Arc<dyn HttpTransport>,
        policy: CanaryPolicy,
    ) -> Result<TransportSwap, Error> {
        self.inner.set_canary(transport, policy)
    }

    /// Takes the canary out of service, as [`crate::ApifyClient::remove_canary`] does.
    pub fn remove_canary(&self) -> TransportSwap {
        self.inner.remove_canary()
    }

    /// Makes the canary the primary, as [`crate::ApifyClient::promote_canary`] does.
    pub fn promote_canary(&self) -> TransportSwap {
        self.inner.promote_canary()
    }

    /// Blocking form of [`crate::ApifyClient::reload_transport`].
    pub fn reload_transport(&self) -> Result<Option<TransportSwap>, Error> {
        self.rt.run(|| self.inner.reload_transport())
    }

    /// Blocks until the swapped-out transport has drained and been closed (see
    /// [`TransportSwap::drained`]).
    pub fn wait_drained(&self, swap: TransportSwap) -> Result<DrainReport, Error> {
        self.rt.run_plain(|| swap.drained())
    }

    /// The statistics of each transport (see [`crate::ApifyClient::transport_statistics`]).
    pub fn transport_statistics(&self) -> Vec<TransportStatistics> {
        self.inner.transport_statistics()
    }

    fn wrap<T: IntoBlocking>(&self, async_client: T) -> T::Blocking {
        async_client.into_blocking(self.rt.clone())
    }
}

/// The resource clients, as on the async [`crate::ApifyClient`].
impl ApifyClient {
    /// The dataset collection.
    pub fn datasets(&self) -> DatasetCollectionClient {
        self.wrap(self.inner.datasets())
    }
    /// One dataset, by id or `username~name`.
    pub fn dataset(&self, id: &str) -> DatasetClient {
        self.wrap(self.inner.dataset(id))
    }
    /// The key-value store collection.
    pub fn key_value_stores(&self) -> KeyValueStoreCollectionClient {
        self.wrap(self.inner.key_value_stores())
    }
    /// One key-value store, by id or `username~name`.
    pub fn key_value_store(&self, id: &str) -> KeyValueStoreClient {
        self.wrap(self.inner.key_value_store(id))
    }
    /// The request queue collection.
    pub fn request_queues(&self) -> RequestQueueCollectionClient {
        self.wrap(self.inner.request_queues())
    }
    /// One request queue, by id or `username~name`.
    pub fn request_queue(&self, id: &str) -> RequestQueueClient {
        self.wrap(self.inner.request_queue(id))
    }
    /// A user (`None`: the token's owner, `me`).
    pub fn user(&self, id: Option<&str>) -> UserClient {
        self.wrap(self.inner.user(id))
    }
    /// The owner of the token (`/v2/users/me`): `user(None)`.
    pub fn me(&self) -> UserClient {
        self.wrap(self.inner.me())
    }
    /// The log of a run or build.
    pub fn log(&self, id: &str) -> LogClient {
        self.wrap(self.inner.log(id))
    }
    /// The Actor collection.
    pub fn actors(&self) -> ActorCollectionClient {
        self.wrap(self.inner.actors())
    }
    /// One Actor, by id or `username~name`.
    pub fn actor(&self, id: &str) -> ActorClient {
        self.wrap(self.inner.actor(id))
    }
    /// Every build of the user's Actors.
    pub fn builds(&self) -> BuildCollectionClient {
        self.wrap(self.inner.builds())
    }
    /// One build.
    pub fn build(&self, id: &str) -> BuildClient {
        self.wrap(self.inner.build(id))
    }
    /// Every run of the user's Actors.
    pub fn runs(&self) -> RunCollectionClient {
        self.wrap(self.inner.runs())
    }
    /// One run.
    pub fn run(&self, id: &str) -> RunClient {
        self.wrap(self.inner.run(id))
    }
    /// The task collection.
    pub fn tasks(&self) -> TaskCollectionClient {
        self.wrap(self.inner.tasks())
    }
    /// One task, by id or `username~name`.
    pub fn task(&self, id: &str) -> TaskClient {
        self.wrap(self.inner.task(id))
    }
    /// The schedule collection.
    pub fn schedules(&self) -> ScheduleCollectionClient {
        self.wrap(self.inner.schedules())
    }
    /// One schedule.
    pub fn schedule(&self, id: &str) -> ScheduleClient {
        self.wrap(self.inner.schedule(id))
    }
    /// The webhook collection.
    pub fn webhooks(&self) -> WebhookCollectionClient {
        self.wrap(self.inner.webhooks())
    }
    /// One webhook.
    pub fn webhook(&self, id: &str) -> WebhookClient {
        self.wrap(self.inner.webhook(id))
    }
    /// The webhook dispatches.
    pub fn webhook_dispatches(&self) -> WebhookDispatchCollectionClient {
        self.wrap(self.inner.webhook_dispatches())
    }
    /// One webhook dispatch.
    pub fn webhook_dispatch(&self, id: &str) -> WebhookDispatchClient {
        self.wrap(self.inner.webhook_dispatch(id))
    }
    /// The Apify Store's Actor list.
    pub fn store(&self) -> StoreCollectionClient {
        self.wrap(self.inner.store())
    }
    /// Sets the status message of the run this code runs in (`ACTOR_RUN_ID`), see
    /// [`crate::ApifyClient::set_status_message`].
    pub fn set_status_message(
        &self,
        message: &str,
        is_terminal: bool,
    ) -> Result<crate::models::Run, Error> {
        self.rt
            .run(|| self.inner.set_status_message(message, is_terminal))
    }
}

//! Resource clients: one file per API resource.
//!
//! Each client is a cheap handle (a clone of the [`ApifyClient`] plus the resource's encoded
//! path) with the methods of the Python `apify-client` resource clients, in `async` form:
//!
//! ```no_run
//! # async fn demo() -> Result<(), apify_host::Error> {
//! use apify_host::{prelude::*, options::ListItemsOptions};
//!
//! let client = apify_host::ApifyClient::new("my-token")?;
//! let dataset = client.datasets().get_or_create(Some("my-results"), None).await?;
//! client.dataset(&dataset.id).push_items(&serde_json::json!([{"url": "https://a.example"}])).await?;
//! let mut items = client.dataset(&dataset.id).iterate_items::<serde_json::Value>(&ListItemsOptions::new());
//! while let Some(item) = items.try_next().await? {
//!     println!("{item}");
//! }
//! # Ok(()) }
//! ```
//!
//! Conventions, as in the Python client:
//! - `get`-like calls answer `Ok(None)` for a 404 `record-not-found`, `delete` is then a no-op;
//! - `list_*` return one page, `iterate_*` return a [`futures_util::Stream`] that fetches page
//!   after page as it is consumed;
//! - `stream_*` return the body, never buffered as a whole, as a value that is itself a
//!   [`futures_util::Stream`] of `Result<Bytes, Error>` chunks with its metadata as methods
//!   ([`RecordStream`], [`StreamedBody`]; `into_stream()` gives the bare [`ByteStream`]), and
//!   `into_async_read()` makes any of them a [`tokio::io::AsyncRead`]; [`crate::prelude`]
//!   re-exports the `StreamExt`/`TryStreamExt` to consume them;
//! - models keep the fields the API sends that they do not name in `extra`.

mod actor;
mod actor_collection;
mod actor_env_var;
mod actor_env_var_collection;
mod actor_version;
mod actor_version_collection;
mod build;
mod build_collection;
mod dataset;
mod dataset_collection;
mod key_value_store;
mod key_value_store_collection;
mod log;
mod public_url;
mod request_queue;
mod request_queue_collection;
mod run;
mod run_collection;
mod schedule;
mod schedule_collection;
mod status_message_watcher;
mod store_collection;
mod streamed_log;
mod task;
mod task_collection;
mod user;
mod webhook;
mod webhook_collection;
mod webhook_dispatch;
mod webhook_dispatch_collection;

mod base;

pub(crate) use base::ResourceClient;
pub(crate) use base::{by_cursor, Paging};
pub use base::{
    ActorJobStatus, AdHocWebhook, Extra, PageOptions, RunInput, StartOptions, ToRunInput,
};
pub use base::{ItemStream, ListOptions, ListPage, StorageUpdate, StreamedBody};

base::resource_client!(
    ActorClient,
    ActorCollectionClient,
    ActorEnvVarClient,
    ActorEnvVarCollectionClient,
    ActorVersionClient,
    ActorVersionCollectionClient,
    BuildClient,
    BuildCollectionClient,
    RunClient,
    RunCollectionClient,
    TaskClient,
    TaskCollectionClient,
    DatasetClient,
    DatasetCollectionClient,
    KeyValueStoreClient,
    KeyValueStoreCollectionClient,
    LogClient,
    RequestQueueClient,
    RequestQueueCollectionClient,
    UserClient,
    ScheduleClient,
    ScheduleCollectionClient,
    StoreCollectionClient,
    WebhookClient,
    WebhookCollectionClient,
    WebhookDispatchClient,
    WebhookDispatchCollectionClient,
);

pub use actor::{Actor, ActorClient, BuildOptions, CallOptions, LogRedirect};
pub use actor_collection::{ActorCollectionClient, ActorListOptions};
pub use actor_env_var::{ActorEnvVarClient, EnvVar};
pub use actor_env_var_collection::ActorEnvVarCollectionClient;
pub use actor_version::{ActorVersion, ActorVersionClient};
pub use actor_version_collection::ActorVersionCollectionClient;
pub use build::{Build, BuildClient};
pub use build_collection::BuildCollectionClient;
pub use dataset::{
    Dataset, DatasetClient, DatasetStatistics, DownloadItemsOptions, ListItemsOptions,
    PushItemsOptions, PushSummary, MAX_PUSH_PAYLOAD_BYTES,
};
pub use dataset_collection::DatasetCollectionClient;
pub use key_value_store::{
    KeyValueStore, KeyValueStoreClient, KeyValueStoreKey, ListKeysOptions, ListOfKeys, Record,
    RecordBytes, RecordStream, RecordValue,
};
pub use key_value_store_collection::KeyValueStoreCollectionClient;
pub use log::LogClient;
pub use request_queue::{
    BatchAddOptions, BatchOperationResult, ListOfRequests, ListRequestsOptions,
    LockedRequestQueueHead, ProcessedRequest, QueueRequest, RequestLockInfo, RequestOperationInfo,
    RequestQueue, RequestQueueClient, RequestQueueHead, UnlockRequestsResult, UnprocessedRequest,
};
pub use request_queue_collection::RequestQueueCollectionClient;
pub use run::{ChargeOptions, ResurrectOptions, Run, RunClient, RunUpdate};
pub use run_collection::{ListRunsOptions, RunCollectionClient};
pub use schedule::{Schedule, ScheduleClient, ScheduleFields, ScheduleInvocation};
pub use schedule_collection::ScheduleCollectionClient;
pub use status_message_watcher::StatusMessageWatcher;
pub use store_collection::{StoreCollectionClient, StoreListActor, StoreListOptions};
pub use streamed_log::StreamedLog;
pub use task::{Task, TaskClient};
pub use task_collection::TaskCollectionClient;
pub use user::{AccountLimits, LimitsUpdate, MonthlyUsage, User, UserClient};
pub use webhook::{Webhook, WebhookClient, WebhookFields};
pub use webhook_collection::WebhookCollectionClient;
pub use webhook_dispatch::{WebhookDispatch, WebhookDispatchClient};
pub use webhook_dispatch_collection::WebhookDispatchCollectionClient;

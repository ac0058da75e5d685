//! The root names of earlier releases, kept for this release so existing programs compile,
//! with a deprecation warning that names the item's new path. Hidden from the docs; removed in
//! the next release. Traits cannot carry a deprecation through a re-export, so
//! [`HttpTransport`] and [`ToRunInput`] are re-exported plainly.
//!
//! An old program still compiles, and each old name is the same type as its new path:
//!
//! ```
//! #![allow(deprecated)]
//! fn same<T>(_: Option<T>, _: Option<T>) {}
//! same::<apify_host::models::Run>(None::<apify_host::Run>, None);
//! same::<apify_host::options::ListItemsOptions>(None::<apify_host::ListItemsOptions>, None);
//! same::<apify_host::clients::ItemStream<u8>>(None::<apify_host::ItemStream<u8>>, None);
//! same::<apify_host::transport::plugin::PluginLoadError>(None::<apify_host::PluginLoadError>, None);
//! let kind = apify_host::ApiErrorKind::NotFound; // an enum's variants through its old name
//! let _ = apify_host::redact("token=abc");
//! let _: &str = apify_host::MASK;
//! fn takes_transport<T: apify_host::HttpTransport>() {}
//! # let _ = kind;
//! ```
//!
//! but not silently: with `deny(deprecated)` the same program fails to compile.
//!
//! ```compile_fail
//! #![deny(deprecated)]
//! let _: Option<apify_host::Run> = None;
//! ```
#![allow(missing_docs)]

#[deprecated(since = "0.2.0", note = "moved to `apify_host::pipeline::AbortHandle`")]
pub type AbortHandle = crate::pipeline::AbortHandle;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::models::AccountLimits`")]
pub type AccountLimits = crate::models::AccountLimits;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::models::Actor`")]
pub type Actor = crate::models::Actor;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::clients::ActorClient`")]
pub type ActorClient = crate::clients::ActorClient;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::clients::ActorCollectionClient`"
)]
pub type ActorCollectionClient = crate::clients::ActorCollectionClient;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::clients::ActorEnvVarClient`"
)]
pub type ActorEnvVarClient = crate::clients::ActorEnvVarClient;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::clients::ActorEnvVarCollectionClient`"
)]
pub type ActorEnvVarCollectionClient = crate::clients::ActorEnvVarCollectionClient;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::models::ActorJobStatus`"
)]
pub type ActorJobStatus = crate::models::ActorJobStatus;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::options::ActorListOptions`"
)]
pub type ActorListOptions = crate::options::ActorListOptions;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::models::ActorVersion`")]
pub type ActorVersion = crate::models::ActorVersion;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::clients::ActorVersionClient`"
)]
pub type ActorVersionClient = crate::clients::ActorVersionClient;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::clients::ActorVersionCollectionClient`"
)]
pub type ActorVersionCollectionClient = crate::clients::ActorVersionCollectionClient;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::models::AdHocWebhook`")]
pub type AdHocWebhook = crate::models::AdHocWebhook;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::error::ApiError`")]
pub type ApiError = crate::error::ApiError;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::error::ApiErrorKind`")]
pub type ApiErrorKind = crate::error::ApiErrorKind;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::pipeline::ApiRequest`")]
pub type ApiRequest = crate::pipeline::ApiRequest;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::pipeline::ApiResponse`")]
pub type ApiResponse = crate::pipeline::ApiResponse;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::options::BatchAddOptions`"
)]
pub type BatchAddOptions = crate::options::BatchAddOptions;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::models::BatchOperationResult`"
)]
pub type BatchOperationResult = crate::models::BatchOperationResult;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::models::Build`")]
pub type Build = crate::models::Build;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::clients::BuildClient`")]
pub type BuildClient = crate::clients::BuildClient;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::clients::BuildCollectionClient`"
)]
pub type BuildCollectionClient = crate::clients::BuildCollectionClient;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::options::BuildOptions`")]
pub type BuildOptions = crate::options::BuildOptions;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::transport::BuiltinTransport`"
)]
pub type BuiltinTransport = crate::transport::BuiltinTransport;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::pipeline::ByteStream`")]
pub type ByteStream = crate::pipeline::ByteStream;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::transport::CallFuture`")]
pub type CallFuture = crate::transport::CallFuture;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::options::CallOptions`")]
pub type CallOptions = crate::options::CallOptions;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::options::ChargeOptions`"
)]
pub type ChargeOptions = crate::options::ChargeOptions;
#[cfg(feature = "config")]
#[deprecated(since = "0.2.0", note = "moved to `apify_host::config::Config`")]
pub type Config = crate::config::Config;
#[cfg(feature = "config")]
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::config::ConfigOverrides`"
)]
pub type ConfigOverrides = crate::config::ConfigOverrides;
#[cfg(feature = "config")]
#[deprecated(since = "0.2.0", note = "moved to `apify_host::config::ConfigSource`")]
pub type ConfigSource = crate::config::ConfigSource;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::models::Dataset`")]
pub type Dataset = crate::models::Dataset;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::clients::DatasetClient`"
)]
pub type DatasetClient = crate::clients::DatasetClient;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::clients::DatasetCollectionClient`"
)]
pub type DatasetCollectionClient = crate::clients::DatasetCollectionClient;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::models::DatasetStatistics`"
)]
pub type DatasetStatistics = crate::models::DatasetStatistics;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::options::DownloadItemsOptions`"
)]
pub type DownloadItemsOptions = crate::options::DownloadItemsOptions;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::models::EnvVar`")]
pub type EnvVar = crate::models::EnvVar;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::models::Extra`")]
pub type Extra = crate::models::Extra;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::pipeline::HttpSettings`"
)]
pub type HttpSettings = crate::pipeline::HttpSettings;
#[doc(hidden)]
pub use crate::transport::HttpTransport;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::transport::InProcess`")]
pub type InProcess<T> = crate::transport::InProcess<T>;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::clients::ItemStream`")]
pub type ItemStream<T> = crate::clients::ItemStream<T>;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::models::KeyValueStore`")]
pub type KeyValueStore = crate::models::KeyValueStore;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::clients::KeyValueStoreClient`"
)]
pub type KeyValueStoreClient = crate::clients::KeyValueStoreClient;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::clients::KeyValueStoreCollectionClient`"
)]
pub type KeyValueStoreCollectionClient = crate::clients::KeyValueStoreCollectionClient;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::models::KeyValueStoreKey`"
)]
pub type KeyValueStoreKey = crate::models::KeyValueStoreKey;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::models::LimitsUpdate`")]
pub type LimitsUpdate = crate::models::LimitsUpdate;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::options::ListItemsOptions`"
)]
pub type ListItemsOptions = crate::options::ListItemsOptions;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::options::ListKeysOptions`"
)]
pub type ListKeysOptions = crate::options::ListKeysOptions;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::models::ListOfKeys`")]
pub type ListOfKeys = crate::models::ListOfKeys;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::models::ListOfRequests`"
)]
pub type ListOfRequests = crate::models::ListOfRequests;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::options::ListOptions`")]
pub type ListOptions = crate::options::ListOptions;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::models::ListPage`")]
pub type ListPage<T> = crate::models::ListPage<T>;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::options::ListRequestsOptions`"
)]
pub type ListRequestsOptions = crate::options::ListRequestsOptions;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::options::ListRunsOptions`"
)]
pub type ListRunsOptions = crate::options::ListRunsOptions;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::transport::plugin::LoadedPlugin`"
)]
pub type LoadedPlugin = crate::transport::plugin::LoadedPlugin;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::models::LockedRequestQueueHead`"
)]
pub type LockedRequestQueueHead = crate::models::LockedRequestQueueHead;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::clients::LogClient`")]
pub type LogClient = crate::clients::LogClient;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::options::LogRedirect`")]
pub type LogRedirect = crate::options::LogRedirect;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::redact::MASK`")]
pub const MASK: &str = crate::redact::MASK;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::clients::MAX_PUSH_PAYLOAD_BYTES`"
)]
pub const MAX_PUSH_PAYLOAD_BYTES: usize = crate::clients::MAX_PUSH_PAYLOAD_BYTES;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::models::MonthlyUsage`")]
pub type MonthlyUsage = crate::models::MonthlyUsage;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::options::PageOptions`")]
pub type PageOptions = crate::options::PageOptions;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::pipeline::ParamValue`")]
pub type ParamValue = crate::pipeline::ParamValue;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::transport::plugin::PluginCheck`"
)]
pub type PluginCheck = crate::transport::plugin::PluginCheck;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::transport::plugin::PluginInfo`"
)]
pub type PluginInfo = crate::transport::plugin::PluginInfo;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::transport::plugin::PluginInspectReport`"
)]
pub type PluginInspectReport = crate::transport::plugin::PluginInspectReport;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::transport::plugin::PluginLoadError`"
)]
pub type PluginLoadError = crate::transport::plugin::PluginLoadError;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::transport::plugin::PluginLoadFailure`"
)]
pub type PluginLoadFailure = crate::transport::plugin::PluginLoadFailure;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::transport::plugin::PluginLoadOptions`"
)]
pub type PluginLoadOptions = crate::transport::plugin::PluginLoadOptions;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::transport::plugin::PluginTransport`"
)]
pub type PluginTransport = crate::transport::plugin::PluginTransport;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::models::ProcessedRequest`"
)]
pub type ProcessedRequest = crate::models::ProcessedRequest;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::options::PushItemsOptions`"
)]
pub type PushItemsOptions = crate::options::PushItemsOptions;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::models::PushSummary`")]
pub type PushSummary = crate::models::PushSummary;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::models::QueueRequest`")]
pub type QueueRequest = crate::models::QueueRequest;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::models::Record`")]
pub type Record = crate::models::Record;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::models::RecordBytes`")]
pub type RecordBytes = crate::models::RecordBytes;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::clients::RecordStream`")]
pub type RecordStream = crate::clients::RecordStream;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::models::RecordValue`")]
pub type RecordValue = crate::models::RecordValue;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::redact::Redactor`")]
pub type Redactor = crate::redact::Redactor;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::models::RequestLockInfo`"
)]
pub type RequestLockInfo = crate::models::RequestLockInfo;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::models::RequestOperationInfo`"
)]
pub type RequestOperationInfo = crate::models::RequestOperationInfo;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::models::RequestQueue`")]
pub type RequestQueue = crate::models::RequestQueue;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::clients::RequestQueueClient`"
)]
pub type RequestQueueClient = crate::clients::RequestQueueClient;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::clients::RequestQueueCollectionClient`"
)]
pub type RequestQueueCollectionClient = crate::clients::RequestQueueCollectionClient;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::models::RequestQueueHead`"
)]
pub type RequestQueueHead = crate::models::RequestQueueHead;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::options::ResurrectOptions`"
)]
pub type ResurrectOptions = crate::options::ResurrectOptions;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::models::Run`")]
pub type Run = crate::models::Run;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::clients::RunClient`")]
pub type RunClient = crate::clients::RunClient;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::clients::RunCollectionClient`"
)]
pub type RunCollectionClient = crate::clients::RunCollectionClient;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::models::RunInput`")]
pub type RunInput = crate::models::RunInput;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::models::RunUpdate`")]
pub type RunUpdate = crate::models::RunUpdate;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::models::Schedule`")]
pub type Schedule = crate::models::Schedule;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::clients::ScheduleClient`"
)]
pub type ScheduleClient = crate::clients::ScheduleClient;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::clients::ScheduleCollectionClient`"
)]
pub type ScheduleCollectionClient = crate::clients::ScheduleCollectionClient;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::models::ScheduleFields`"
)]
pub type ScheduleFields = crate::models::ScheduleFields;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::models::ScheduleInvocation`"
)]
pub type ScheduleInvocation = crate::models::ScheduleInvocation;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::options::StartOptions`")]
pub type StartOptions = crate::options::StartOptions;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::pipeline::StatisticsSnapshot`"
)]
pub type StatisticsSnapshot = crate::pipeline::StatisticsSnapshot;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::clients::StatusMessageWatcher`"
)]
pub type StatusMessageWatcher = crate::clients::StatusMessageWatcher;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::models::StorageUpdate`")]
pub type StorageUpdate = crate::models::StorageUpdate;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::clients::StoreCollectionClient`"
)]
pub type StoreCollectionClient = crate::clients::StoreCollectionClient;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::models::StoreListActor`"
)]
pub type StoreListActor = crate::models::StoreListActor;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::options::StoreListOptions`"
)]
pub type StoreListOptions = crate::options::StoreListOptions;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::clients::StreamedBody`")]
pub type StreamedBody = crate::clients::StreamedBody;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::clients::StreamedLog`")]
pub type StreamedLog = crate::clients::StreamedLog;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::models::Task`")]
pub type Task = crate::models::Task;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::clients::TaskClient`")]
pub type TaskClient = crate::clients::TaskClient;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::clients::TaskCollectionClient`"
)]
pub type TaskCollectionClient = crate::clients::TaskCollectionClient;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::pipeline::TimeoutTier`")]
pub type TimeoutTier = crate::pipeline::TimeoutTier;
#[doc(hidden)]
pub use crate::models::ToRunInput;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::transport::TransportBody`"
)]
pub type TransportBody = crate::transport::TransportBody;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::transport::TransportError`"
)]
pub type TransportError = crate::transport::TransportError;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::transport::TransportErrorKind`"
)]
pub type TransportErrorKind = crate::transport::TransportErrorKind;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::error::TransportFailure`"
)]
pub type TransportFailure = crate::error::TransportFailure;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::transport::TransportRequest`"
)]
pub type TransportRequest = crate::transport::TransportRequest;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::transport::TransportRequestBody`"
)]
pub type TransportRequestBody = crate::transport::TransportRequestBody;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::transport::TransportResponse`"
)]
pub type TransportResponse = crate::transport::TransportResponse;
#[cfg(feature = "config")]
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::config::TransportSelection`"
)]
pub type TransportSelection = crate::config::TransportSelection;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::models::UnlockRequestsResult`"
)]
pub type UnlockRequestsResult = crate::models::UnlockRequestsResult;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::models::UnprocessedRequest`"
)]
pub type UnprocessedRequest = crate::models::UnprocessedRequest;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::pipeline::UploadBody`")]
pub type UploadBody = crate::pipeline::UploadBody;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::models::User`")]
pub type User = crate::models::User;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::clients::UserClient`")]
pub type UserClient = crate::clients::UserClient;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::models::Webhook`")]
pub type Webhook = crate::models::Webhook;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::clients::WebhookClient`"
)]
pub type WebhookClient = crate::clients::WebhookClient;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::clients::WebhookCollectionClient`"
)]
pub type WebhookCollectionClient = crate::clients::WebhookCollectionClient;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::models::WebhookDispatch`"
)]
pub type WebhookDispatch = crate::models::WebhookDispatch;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::clients::WebhookDispatchClient`"
)]
pub type WebhookDispatchClient = crate::clients::WebhookDispatchClient;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::clients::WebhookDispatchCollectionClient`"
)]
pub type WebhookDispatchCollectionClient = crate::clients::WebhookDispatchCollectionClient;
#[deprecated(since = "0.2.0", note = "moved to `apify_host::models::WebhookFields`")]
pub type WebhookFields = crate::models::WebhookFields;
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::transport::plugin::inspect_plugin`"
)]
pub fn inspect_plugin(
    path: &std::path::Path,
    options: &crate::transport::plugin::PluginLoadOptions,
    plugin_options: &serde_json::Value,
) -> crate::transport::plugin::PluginInspectReport {
    crate::transport::plugin::inspect_plugin(path, options, plugin_options)
}
#[deprecated(
    since = "0.2.0",
    note = "moved to `apify_host::transport::plugin::load_plugin`"
)]
pub fn load_plugin(
    path: &std::path::Path,
    options: &crate::transport::plugin::PluginLoadOptions,
) -> Result<crate::transport::plugin::LoadedPlugin, crate::transport::plugin::PluginLoadError> {
    crate::transport::plugin::load_plugin(path, options)
}
#[deprecated(since = "0.2.0", note = "moved to `apify_host::redact::redact`")]
pub fn redact(text: &str) -> String {
    crate::redact::redact(text)
}

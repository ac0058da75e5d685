//! Blocking forms of the storage, log and user clients.

use std::time::Duration;

use bytes::Bytes;
use serde::{de::DeserializeOwned, Serialize};

use super::{macros::blocking_client, BodyReader, RecordReader};
use crate::{
    models::{
        AccountLimits, BatchOperationResult, Dataset, DatasetStatistics, KeyValueStore,
        KeyValueStoreKey, LimitsUpdate, ListOfKeys, ListOfRequests, ListPage,
        LockedRequestQueueHead, MonthlyUsage, QueueRequest, Record, RecordBytes, RecordValue,
        RequestLockInfo, RequestOperationInfo, RequestQueue, RequestQueueHead, StorageUpdate,
        UnlockRequestsResult, User,
    },
    options::{
        BatchAddOptions, DownloadItemsOptions, ListItemsOptions, ListKeysOptions, ListOptions,
        ListRequestsOptions,
    },
    pipeline::UploadBody,
    Error,
};

blocking_client! {
    /// Blocking form of [`crate::clients::DatasetCollectionClient`].
    DatasetCollectionClient {
        call fn list(&self, opts: &ListOptions) -> Result<ListPage<Dataset>, Error>;
        iter fn iterate(&self, opts: &ListOptions) -> Dataset;
        call fn get_or_create(&self, name: Option<&str>, schema: Option<&serde_json::Value>) -> Result<Dataset, Error>;
    }

    /// Blocking form of [`crate::clients::DatasetClient`].
    DatasetClient {
        call fn get(&self) -> Result<Option<Dataset>, Error>;
        call fn update(&self, fields: &StorageUpdate) -> Result<Dataset, Error>;
        call fn delete(&self) -> Result<(), Error>;
        call fn list_items[T: DeserializeOwned + Send + 'static](&self, opts: &ListItemsOptions) -> Result<ListPage<T>, Error>;
        iter fn iterate_items[T: DeserializeOwned + Send + 'static](&self, opts: &ListItemsOptions) -> T;
        wrap fn stream_items(&self, opts: &DownloadItemsOptions) -> BodyReader;
        call fn get_items_as_bytes(&self, opts: &DownloadItemsOptions) -> Result<Bytes, Error>;
        call fn push_items[T: Serialize + ?Sized](&self, items: &T) -> Result<(), Error>;
        call fn push_items_json(&self, json: impl Into<Bytes>) -> Result<(), Error>;
        call fn create_items_public_url(&self, format: Option<&str>, opts: &ListItemsOptions, expires_in: Option<Duration>) -> Result<String, Error>;
        call fn get_statistics(&self) -> Result<Option<DatasetStatistics>, Error>;
    }

    /// Blocking form of [`crate::clients::KeyValueStoreCollectionClient`].
    KeyValueStoreCollectionClient {
        call fn list(&self, opts: &ListOptions) -> Result<ListPage<KeyValueStore>, Error>;
        iter fn iterate(&self, opts: &ListOptions) -> KeyValueStore;
        call fn get_or_create(&self, name: Option<&str>, schema: Option<&serde_json::Value>) -> Result<KeyValueStore, Error>;
    }

    /// Blocking form of [`crate::clients::KeyValueStoreClient`].
    KeyValueStoreClient {
        call fn get(&self) -> Result<Option<KeyValueStore>, Error>;
        call fn update(&self, fields: &StorageUpdate) -> Result<KeyValueStore, Error>;
        call fn delete(&self) -> Result<(), Error>;
        call fn list_keys(&self, opts: &ListKeysOptions) -> Result<ListOfKeys, Error>;
        iter fn iterate_keys(&self, opts: &ListKeysOptions) -> KeyValueStoreKey;
        call fn get_record(&self, key: &str) -> Result<Option<Record>, Error>;
        call fn get_record_signed(&self, key: &str, signature: &str) -> Result<Option<Record>, Error>;
        call fn get_record_as_bytes(&self, key: &str) -> Result<Option<RecordBytes>, Error>;
        call fn get_record_as_bytes_signed(&self, key: &str, signature: &str) -> Result<Option<RecordBytes>, Error>;
        wrap fn stream_record(&self, key: &str) -> Option<RecordReader>;
        wrap fn stream_record_signed(&self, key: &str, signature: &str) -> Option<RecordReader>;
        call fn record_exists(&self, key: &str) -> Result<bool, Error>;
        call fn set_record(&self, key: &str, value: impl Into<RecordValue>, content_type: Option<&str>) -> Result<(), Error>;
        call fn set_record_bytes(&self, key: &str, body: impl Into<Bytes>, content_type: &str) -> Result<(), Error>;
        call fn set_record_from(&self, key: &str, body: UploadBody, content_type: &str) -> Result<(), Error>;
        call fn set_record_encoded(&self, key: &str, body: impl Into<Bytes>, content_type: &str, content_encoding: &str) -> Result<(), Error>;
        call fn get_record_public_url(&self, key: &str) -> Result<String, Error>;
        call fn create_keys_public_url(&self, opts: &ListKeysOptions, expires_in: Option<Duration>) -> Result<String, Error>;
        call fn delete_record(&self, key: &str) -> Result<(), Error>;
    }

    /// Blocking form of [`crate::clients::RequestQueueCollectionClient`].
    RequestQueueCollectionClient {
        call fn list(&self, opts: &ListOptions) -> Result<ListPage<RequestQueue>, Error>;
        iter fn iterate(&self, opts: &ListOptions) -> RequestQueue;
        call fn get_or_create(&self, name: Option<&str>) -> Result<RequestQueue, Error>;
    }

    /// Blocking form of [`crate::clients::RequestQueueClient`].
    RequestQueueClient {
        call fn get(&self) -> Result<Option<RequestQueue>, Error>;
        call fn update(&self, fields: &StorageUpdate) -> Result<RequestQueue, Error>;
        call fn delete(&self) -> Result<(), Error>;
        call fn list_head(&self, limit: Option<u64>) -> Result<RequestQueueHead, Error>;
        call fn list_and_lock_head(&self, lock_secs: u64, limit: Option<u64>) -> Result<LockedRequestQueueHead, Error>;
        call fn add_request[T: Serialize + ?Sized](&self, request: &T, forefront: Option<bool>) -> Result<RequestOperationInfo, Error>;
        call fn get_request(&self, request_id: &str) -> Result<Option<QueueRequest>, Error>;
        call fn update_request[T: Serialize + ?Sized](&self, request: &T, forefront: Option<bool>) -> Result<RequestOperationInfo, Error>;
        call fn delete_request(&self, request_id: &str) -> Result<(), Error>;
        call fn prolong_request_lock(&self, request_id: &str, lock_secs: u64, forefront: Option<bool>) -> Result<RequestLockInfo, Error>;
        call fn delete_request_lock(&self, request_id: &str, forefront: Option<bool>) -> Result<(), Error>;
        call fn batch_add_requests[T: Serialize + Sync](&self, requests: &[T], opts: &BatchAddOptions) -> Result<BatchOperationResult, Error>;
        call fn batch_delete_requests[T: Serialize + Sync](&self, requests: &[T]) -> Result<BatchOperationResult, Error>;
        call fn list_requests(&self, opts: &ListRequestsOptions) -> Result<ListOfRequests, Error>;
        iter fn iterate_requests(&self, opts: &ListRequestsOptions) -> QueueRequest;
        call fn unlock_requests(&self) -> Result<UnlockRequestsResult, Error>;
    }

    /// Blocking form of [`crate::clients::LogClient`].
    LogClient {
        call fn get(&self, raw: bool) -> Result<Option<String>, Error>;
        call fn get_as_bytes(&self, raw: bool) -> Result<Option<Bytes>, Error>;
        wrap fn stream(&self, raw: bool) -> Option<BodyReader>;
    }

    /// Blocking form of [`crate::clients::UserClient`].
    UserClient {
        call fn get(&self) -> Result<Option<User>, Error>;
        call fn monthly_usage(&self) -> Result<Option<MonthlyUsage>, Error>;
        call fn limits(&self) -> Result<Option<AccountLimits>, Error>;
        call fn update_limits(&self, limits: &LimitsUpdate) -> Result<(), Error>;
    }
}

impl RequestQueueClient {
    /// Blocking form of [`RequestQueueClient::with_client_key`](crate::clients::RequestQueueClient::with_client_key).
    pub fn with_client_key(&self, key: impl Into<String>) -> Self {
        RequestQueueClient {
            inner: self.inner.clone().with_client_key(key),
            rt: self.rt.clone(),
        }
    }
}

//! What the shared storage endpoints and the engine need to know about each kind of storage.

use std::path::Path;

use serde_json::Value;

use crate::db::dataset::Dataset;
use crate::db::key_value_store::KeyValueStore;
use crate::db::request_queue::RequestQueue;
use crate::db::storage::{Registry, Storage, StorageMeta};
use crate::db::Db;
use crate::error::ApiResult;
use crate::identity::Identity;

/// What the shared endpoints need to know about a kind of storage.
pub trait StorageKind: Storage + Sized {
    /// Name in messages, e.g. `Dataset`.
    const LABEL: &'static str;
    /// Path segment after `/v2/`, e.g. `datasets`.
    const COLLECTION: &'static str;
    /// The registry holding this kind.
    fn registry(db: &Db) -> &Registry<Self>;
    /// Makes a new empty storage (record files go under `data_dir`).
    fn create(meta: StorageMeta, data_dir: &Path) -> ApiResult<Self>;
    /// The object as the API returns it.
    fn to_json(&self, identity: &Identity) -> Value;
}

impl StorageKind for Dataset {
    const LABEL: &'static str = "Dataset";
    const COLLECTION: &'static str = "datasets";
    fn registry(db: &Db) -> &Registry<Self> {
        &db.datasets
    }
    fn create(meta: StorageMeta, _: &Path) -> ApiResult<Self> {
        Dataset::new(meta)
    }
    fn to_json(&self, identity: &Identity) -> Value {
        Dataset::to_json(self, identity)
    }
}

impl StorageKind for KeyValueStore {
    const LABEL: &'static str = "Key-value store";
    const COLLECTION: &'static str = "key-value-stores";
    fn registry(db: &Db) -> &Registry<Self> {
        &db.key_value_stores
    }
    fn create(meta: StorageMeta, data_dir: &Path) -> ApiResult<Self> {
        KeyValueStore::new(meta, data_dir)
    }
    fn to_json(&self, identity: &Identity) -> Value {
        KeyValueStore::to_json(self, identity)
    }
}

impl StorageKind for RequestQueue {
    const LABEL: &'static str = "Request queue";
    const COLLECTION: &'static str = "request-queues";
    fn registry(db: &Db) -> &Registry<Self> {
        &db.request_queues
    }
    fn create(meta: StorageMeta, _: &Path) -> ApiResult<Self> {
        RequestQueue::new(meta)
    }
    fn to_json(&self, identity: &Identity) -> Value {
        RequestQueue::to_json(self, identity)
    }
}

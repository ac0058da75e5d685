//! Key-value stores: record metadata in memory, record bodies in files.
//!
//! Every write goes to a new file, and the record's metadata is swapped only once the file is
//! complete, so a reader that already opened the previous version keeps reading it (on Unix an
//! unlinked file stays readable while open). A record's file is removed when its last handle
//! is dropped.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use bytes::Bytes;
use http::HeaderValue;
use serde_json::{json, Value};

use crate::db::storage::{Stats, Storage, StorageMeta};
use crate::error::{ApiError, ApiResult};
use crate::identity::Identity;

/// Record bodies up to this size are also kept in memory, so that small-record GETs (the hot
/// path of benchmarks) are answered without touching the disk. Larger ones are only on disk.
pub const INLINE_RECORD_LIMIT: usize = 64 * 1024;

/// The API's limit on key length.
const MAX_KEY_LEN: usize = 256;

/// A key-value store.
pub struct KeyValueStore {
    meta: StorageMeta,
    dir: PathBuf,
    records: RwLock<BTreeMap<String, Arc<Record>>>,
    next_file: AtomicU64,
}

/// One stored record.
#[derive(Debug)]
pub struct Record {
    /// The `Content-Type` it was stored with.
    pub content_type: HeaderValue,
    /// Body size in bytes.
    pub size: u64,
    /// The file holding the body.
    pub path: PathBuf,
    /// The body itself, when small (see [`INLINE_RECORD_LIMIT`]).
    pub inline: Option<Bytes>,
}

impl Drop for Record {
    fn drop(&mut self) {
        // The file may already be gone with its store's folder; nothing to do then.
        let _ = std::fs::remove_file(&self.path);
    }
}

impl Storage for KeyValueStore {
    fn meta(&self) -> &StorageMeta {
        &self.meta
    }
}

impl Drop for KeyValueStore {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Checks a record key against the API's rule: 1–256 characters from `a-zA-Z0-9!-_.'()`.
pub fn validate_key(key: &str) -> ApiResult<()> {
    let ok = !key.is_empty()
        && key.len() <= MAX_KEY_LEN
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!-_.'()".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(ApiError::new(
            http::StatusCode::BAD_REQUEST,
            "invalid-record-key",
            format!(
                "Record key \"{key}\" contains invalid character or is too long (allowed: a-zA-Z0-9!-_.'(), at most {MAX_KEY_LEN} characters)"
            ),
        ))
    }
}

/// One page of [`KeyValueStore::keys`].
pub struct KeysPage {
    /// `(key, size)` in key order.
    pub items: Vec<(String, u64)>,
    /// Whether more keys follow.
    pub is_truncated: bool,
}

impl KeyValueStore {
    /// A new empty store whose record files live in a new folder under `root`.
    pub fn new(meta: StorageMeta, root: &Path) -> ApiResult<Self> {
        let dir = root.join(format!("kvs-{}", meta.id));
        std::fs::create_dir_all(&dir)?;
        Ok(Self {
            meta,
            dir,
            records: RwLock::new(BTreeMap::new()),
            next_file: AtomicU64::new(0),
        })
    }

    /// A fresh path for a record file that is about to be written.
    pub fn new_file_path(&self) -> PathBuf {
        let n = self.next_file.fetch_add(1, Ordering::Relaxed);
        self.dir.join(format!("{n}.rec"))
    }

    /// The record under `key`.
    pub fn get(&self, key: &str) -> Option<Arc<Record>> {
        let record = self
            .records
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
            .cloned();
        Stats::bump(&self.meta.stats.read);
        self.meta.touch();
        record
    }

    /// Stores (or replaces) the record under `key`.
    pub fn put(&self, key: &str, record: Record) {
        let old = self
            .records
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(key.to_owned(), Arc::new(record));
        // Dropped outside the lock: dropping the last handle unlinks the old file.
        drop(old);
        Stats::bump(&self.meta.stats.write);
        self.meta.touch_modified();
    }

    /// Stores `body` under `key` from memory (a run's `INPUT`, written by the server itself).
    pub fn put_bytes(
        &self,
        key: &str,
        content_type: HeaderValue,
        body: Bytes,
    ) -> std::io::Result<()> {
        let path = self.new_file_path();
        std::fs::write(&path, &body)?;
        let inline = (body.len() <= INLINE_RECORD_LIMIT).then_some(body.clone());
        self.put(
            key,
            Record {
                content_type,
                size: body.len() as u64,
                path,
                inline,
            },
        );
        Ok(())
    }

    /// Deletes the record under `key`; whether it existed.
    pub fn delete(&self, key: &str) -> bool {
        let old = self
            .records
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(key);
        Stats::bump(&self.meta.stats.delete);
        self.meta.touch_modified();
        old.is_some()
    }

    /// Keys after `exclusive_start` (UTF-8 byte order), starting with `prefix`, at most `limit`.
    pub fn keys(
        &self,
        exclusive_start: Option<&str>,
        prefix: Option<&str>,
        limit: usize,
    ) -> KeysPage {
        let records = self
            .records
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let lower = match (exclusive_start, prefix) {
            (Some(start), Some(prefix)) if prefix > start => Bound::Included(prefix),
            (Some(start), _) => Bound::Excluded(start),
            (None, Some(prefix)) => Bound::Included(prefix),
            (None, None) => Bound::Unbounded,
        };
        let mut iter = records
            .range::<str, _>((lower, Bound::Unbounded))
            .take_while(|(k, _)| prefix.is_none_or(|p| k.starts_with(p)));
        let items: Vec<(String, u64)> = iter
            .by_ref()
            .take(limit)
            .map(|(k, r)| (k.clone(), r.size))
            .collect();
        let is_truncated = iter.next().is_some();
        drop(records);
        Stats::bump(&self.meta.stats.list);
        self.meta.touch();
        KeysPage {
            items,
            is_truncated,
        }
    }

    /// The store object as the API returns it.
    pub fn to_json(&self, identity: &Identity) -> Value {
        let bytes: u64 = self
            .records
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .values()
            .map(|r| r.size)
            .sum();
        let m = &self.meta;
        json!({
            "id": m.id,
            "name": m.name(),
            "userId": identity.user_id,
            "username": identity.username,
            "createdAt": m.created_at_str(),
            "modifiedAt": m.modified_at_str(),
            "accessedAt": m.accessed_at_str(),
            "actId": null,
            "actRunId": null,
            "consoleUrl": format!("{}/storage/key-value-stores/{}", identity.console_url, m.id),
            "keysPublicUrl": format!("{}/v2/key-value-stores/{}/keys", identity.base_url, m.id),
            "recordsPublicUrl": format!("{}/v2/key-value-stores/{}/records", identity.base_url, m.id),
            "schema": null,
            "urlSigningSecretKey": m.url_signing_secret_key,
            "generalAccess": m.general_access(),
            "stats": {
                "readCount": Stats::get(&m.stats.read),
                "writeCount": Stats::get(&m.stats.write),
                "deleteCount": Stats::get(&m.stats.delete),
                "listCount": Stats::get(&m.stats.list),
                "s3StorageBytes": bytes,
                "storageBytes": bytes,
            },
        })
    }
}

//! What datasets, key-value stores and request queues share. Each kind lives in a [`Registry`] that finds a storage by id or name.
//!
//! Handlers take the storage's `Arc` out of the registry and release the registry lock before
//! doing any work, so no lock is ever held across an `.await`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::error::{ApiError, ApiResult};
use crate::util::{format_millis, new_id, now_millis};

/// Identity and timestamps common to datasets, key-value stores and request queues.
#[derive(Debug)]
pub struct StorageMeta {
    /// The storage's id (17 alphanumeric characters, like the API's).
    pub id: String,
    name: RwLock<Option<String>>,
    /// Creation time, epoch milliseconds.
    pub created_at: i64,
    modified_at: AtomicI64,
    accessed_at: AtomicI64,
    /// Creation order, to list storages stably when two share a millisecond.
    pub seq: u64,
    general_access: RwLock<&'static str>,
    /// Operation counters shown as `stats`.
    pub stats: Stats,
    /// The key that signs this storage's public URLs (`urlSigningSecretKey`).
    pub url_signing_secret_key: String,
}

/// The `generalAccess` values the API accepts.
pub const GENERAL_ACCESS: [&str; 4] = [
    "ANYONE_WITH_ID_CAN_READ",
    "ANYONE_WITH_NAME_CAN_READ",
    "FOLLOW_USER_SETTING",
    "RESTRICTED",
];

/// Operation counters of a storage (the `stats` object).
#[derive(Debug, Default)]
pub struct Stats {
    /// Reads.
    pub read: AtomicU64,
    /// Writes.
    pub write: AtomicU64,
    /// Deletes.
    pub delete: AtomicU64,
    /// Listings.
    pub list: AtomicU64,
    /// Queue head reads.
    pub head_read: AtomicU64,
}

impl Stats {
    /// Adds one to a counter.
    pub fn bump(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Reads a counter.
    pub fn get(counter: &AtomicU64) -> u64 {
        counter.load(Ordering::Relaxed)
    }
}

impl StorageMeta {
    fn new(name: Option<String>, seq: u64) -> Self {
        let now = now_millis();
        Self {
            id: new_id(17),
            name: RwLock::new(name),
            created_at: now,
            modified_at: AtomicI64::new(now),
            accessed_at: AtomicI64::new(now),
            seq,
            general_access: RwLock::new("FOLLOW_USER_SETTING"),
            stats: Stats::default(),
            url_signing_secret_key: new_id(32),
        }
    }

    /// The storage's name (`None` for unnamed storages).
    pub fn name(&self) -> Option<String> {
        self.name
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// The storage's `generalAccess`.
    pub fn general_access(&self) -> &'static str {
        *self
            .general_access
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Sets `generalAccess`; 400 for a value outside the API's enum.
    pub fn set_general_access(&self, value: &str) -> ApiResult<()> {
        let known = GENERAL_ACCESS
            .iter()
            .find(|v| **v == value)
            .ok_or_else(|| {
                ApiError::invalid_value(format!(
                    "Invalid generalAccess \"{value}\": expected one of {}",
                    GENERAL_ACCESS.join(", ")
                ))
            })?;
        *self
            .general_access
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = known;
        self.touch_modified();
        Ok(())
    }

    /// Records a read (updates `accessedAt`).
    pub fn touch(&self) {
        self.accessed_at.store(now_millis(), Ordering::Relaxed);
    }

    /// Records a write (updates `modifiedAt` and `accessedAt`).
    pub fn touch_modified(&self) {
        let now = now_millis();
        self.modified_at.store(now, Ordering::Relaxed);
        self.accessed_at.store(now, Ordering::Relaxed);
    }

    /// `createdAt` as the API formats it.
    pub fn created_at_str(&self) -> String {
        format_millis(self.created_at)
    }

    /// `modifiedAt` as the API formats it.
    pub fn modified_at_str(&self) -> String {
        format_millis(self.modified_at.load(Ordering::Relaxed))
    }

    /// `accessedAt` as the API formats it.
    pub fn accessed_at_str(&self) -> String {
        format_millis(self.accessed_at.load(Ordering::Relaxed))
    }
}

/// Something a [`Registry`] holds.
pub trait Storage: Send + Sync + 'static {
    /// The storage's identity and timestamps.
    fn meta(&self) -> &StorageMeta;
}

/// All storages of one kind, by id and by name.
pub struct Registry<T> {
    inner: RwLock<Inner<T>>,
    next_seq: AtomicU64,
}

struct Inner<T> {
    by_id: HashMap<String, Arc<T>>,
    /// name → id
    by_name: HashMap<String, String>,
}

impl<T: Storage> Default for Registry<T> {
    fn default() -> Self {
        Self {
            inner: RwLock::new(Inner {
                by_id: HashMap::new(),
                by_name: HashMap::new(),
            }),
            next_seq: AtomicU64::new(0),
        }
    }
}

/// Checks a storage name against the API's rule: 1–63 letters, digits or hyphens.
pub fn validate_name(name: &str) -> ApiResult<()> {
    let ok = !name.is_empty()
        && name.len() <= 63
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_value(format!(
            "Invalid storage name \"{name}\": it can only contain letters, digits and hyphens (\"-\") and be at most 63 characters long"
        )))
    }
}

impl<T: Storage> Registry<T> {
    /// Finds a storage by id, `username~name`, `~name` or (as a convenience) a bare name.
    pub fn resolve(&self, id_or_name: &str, username: &str) -> Option<Arc<T>> {
        let inner = self
            .inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(found) = inner.by_id.get(id_or_name) {
            return Some(found.clone());
        }
        let name = match id_or_name.split_once('~') {
            Some((user, name)) if user.is_empty() || user == username => name,
            Some(_) => return None,
            None => id_or_name,
        };
        let id = inner.by_name.get(name)?;
        inner.by_id.get(id).cloned()
    }

    /// Returns the storage called `name`, creating it if needed (`true` when created). Without a
    /// name a new unnamed storage is always created.
    pub fn get_or_create(
        &self,
        name: Option<&str>,
        make: impl FnOnce(StorageMeta) -> ApiResult<T>,
    ) -> ApiResult<(Arc<T>, bool)> {
        if let Some(name) = name {
            validate_name(name)?;
        }
        let mut inner = self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(name) = name {
            if let Some(id) = inner.by_name.get(name) {
                return Ok((inner.by_id[id].clone(), false));
            }
        }
        let seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
        let storage = Arc::new(make(StorageMeta::new(name.map(str::to_owned), seq))?);
        let id = storage.meta().id.clone();
        if let Some(name) = name {
            inner.by_name.insert(name.to_owned(), id.clone());
        }
        inner.by_id.insert(id, storage.clone());
        Ok((storage, true))
    }

    /// Removes a storage; it stays usable by whoever still holds its `Arc`.
    pub fn remove(&self, id: &str) -> Option<Arc<T>> {
        let mut inner = self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let storage = inner.by_id.remove(id)?;
        if let Some(name) = storage.meta().name() {
            inner.by_name.remove(&name);
        }
        Some(storage)
    }

    /// Renames a storage (`None` makes it unnamed); 400 when another storage has the name.
    pub fn rename(&self, storage: &T, new_name: Option<&str>) -> ApiResult<()> {
        if let Some(name) = new_name {
            validate_name(name)?;
        }
        let meta = storage.meta();
        let mut inner = self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(name) = new_name {
            if inner.by_name.get(name).is_some_and(|id| *id != meta.id) {
                return Err(ApiError::new(
                    http::StatusCode::BAD_REQUEST,
                    "name-not-unique",
                    format!("A storage named \"{name}\" already exists"),
                ));
            }
        }
        let mut current = meta
            .name
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(old) = current.take() {
            inner.by_name.remove(&old);
        }
        if let Some(name) = new_name {
            inner.by_name.insert(name.to_owned(), meta.id.clone());
        }
        *current = new_name.map(str::to_owned);
        drop(current);
        meta.touch_modified();
        Ok(())
    }

    /// One page of the storages ordered by creation, and the total count before paging.
    pub fn list(
        &self,
        include_unnamed: bool,
        desc: bool,
        offset: usize,
        limit: usize,
    ) -> (usize, Vec<Arc<T>>) {
        let inner = self
            .inner
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut all: Vec<Arc<T>> = inner
            .by_id
            .values()
            .filter(|s| include_unnamed || s.meta().name().is_some())
            .cloned()
            .collect();
        drop(inner);
        all.sort_by_key(|s| s.meta().seq);
        if desc {
            all.reverse();
        }
        let total = all.len();
        let page = all.into_iter().skip(offset).take(limit).collect();
        (total, page)
    }

    /// Every storage, for shutdown and reset.
    pub fn clear(&self) -> Vec<Arc<T>> {
        let mut inner = self
            .inner
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        inner.by_name.clear();
        inner.by_id.drain().map(|(_, s)| s).collect()
    }
}

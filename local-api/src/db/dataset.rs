//! Datasets: append-only lists of JSON objects.
//!
//! Items are kept as their compact JSON text, back to back in one buffer with an offsets table
//! beside it, so a million small items cost little more than their bytes (no per-item
//! allocation, no parsed trees).

use std::ops::Range;
use std::sync::RwLock;

use serde_json::{json, value::RawValue, Value};

use crate::db::items;
use crate::db::storage::{Stats, Storage, StorageMeta};
use crate::error::{ApiError, ApiResult};
use crate::identity::Identity;
use crate::json::parse_json;

/// A dataset.
pub struct Dataset {
    meta: StorageMeta,
    items: RwLock<ItemBuf>,
}

#[derive(Default)]
struct ItemBuf {
    /// All items' compact JSON, concatenated.
    data: Vec<u8>,
    /// `ends[i]` is where item `i` ends in `data` (it starts where item `i - 1` ends).
    ends: Vec<usize>,
    /// Items that still have a field once hidden (`#`) fields are dropped.
    clean: usize,
}

impl ItemBuf {
    fn item(&self, index: usize) -> &[u8] {
        let start = if index == 0 { 0 } else { self.ends[index - 1] };
        &self.data[start..self.ends[index]]
    }
}

impl Storage for Dataset {
    fn meta(&self) -> &StorageMeta {
        &self.meta
    }
}

/// Items validated and compacted from a POST body, ready to append.
#[derive(Default)]
pub struct NewItems {
    data: Vec<u8>,
    ends: Vec<usize>,
    clean: usize,
}

impl NewItems {
    /// Parses a POST body: one JSON object or an array of objects (400 otherwise).
    pub fn from_body(body: &[u8]) -> ApiResult<Self> {
        let first = body.iter().find(|b| !b.is_ascii_whitespace()).copied();
        let mut items = NewItems::default();
        match first {
            Some(b'[') => {
                let list: Vec<&RawValue> = parse_json(body)?;
                for raw in list {
                    items.push_raw(raw)?;
                }
            }
            Some(b'{') => {
                let raw: &RawValue = parse_json(body)?;
                items.push_raw(raw)?;
            }
            _ => {
                // Still report invalid JSON as such before complaining about the shape.
                let _: &RawValue = parse_json(body)?;
                return Err(ApiError::invalid_value(
                    "The request body must be a JSON object or an array of JSON objects",
                ));
            }
        }
        Ok(items)
    }

    fn push_raw(&mut self, raw: &RawValue) -> ApiResult<()> {
        if !raw.get().starts_with('{') {
            return Err(ApiError::invalid_value(
                "Each dataset item must be a JSON object",
            ));
        }
        self.push_object(raw.get().as_bytes());
        Ok(())
    }

    /// Appends one JSON object (already known to be valid), compacting it so that every
    /// stored item is one line (what `jsonl` needs).
    pub fn push_object(&mut self, json: &[u8]) {
        let start = self.data.len();
        items::minify_into(json, &mut self.data);
        if items::is_clean(&self.data[start..]) {
            self.clean += 1;
        }
        self.ends.push(self.data.len());
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }
}

impl Dataset {
    /// A new empty dataset.
    pub fn new(meta: StorageMeta) -> ApiResult<Self> {
        Ok(Self {
            meta,
            items: RwLock::new(ItemBuf::default()),
        })
    }

    /// Number of items.
    pub fn item_count(&self) -> usize {
        self.items
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .ends
            .len()
    }

    /// Appends items.
    pub fn append(&self, new: NewItems) {
        if new.is_empty() {
            return;
        }
        let mut buf = self
            .items
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let base = buf.data.len();
        buf.data.extend_from_slice(&new.data);
        buf.ends.extend(new.ends.iter().map(|end| end + base));
        buf.clean += new.clean;
        drop(buf);
        Stats::bump(&self.meta.stats.write);
        self.meta.touch_modified();
    }

    /// Calls `f` with each item in `range` (ascending positions, or descending when `desc`),
    /// under one short read lock. Callers keep batches small so writers are not starved.
    pub fn for_each_in(&self, range: Range<usize>, desc: bool, mut f: impl FnMut(&[u8])) {
        let buf = self
            .items
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let end = range.end.min(buf.ends.len());
        let start = range.start.min(end);
        if desc {
            for i in (start..end).rev() {
                f(buf.item(i));
            }
        } else {
            for i in start..end {
                f(buf.item(i));
            }
        }
    }

    /// The dataset object as the API returns it.
    pub fn to_json(&self, identity: &Identity) -> Value {
        let (count, clean, bytes) = {
            let buf = self
                .items
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            (buf.ends.len(), buf.clean, buf.data.len())
        };
        let m = &self.meta;
        json!({
            "id": m.id,
            "name": m.name(),
            "title": null,
            "userId": identity.user_id,
            "username": identity.username,
            "createdAt": m.created_at_str(),
            "modifiedAt": m.modified_at_str(),
            "accessedAt": m.accessed_at_str(),
            "itemCount": count,
            "cleanItemCount": clean,
            "actId": null,
            "actRunId": null,
            "fields": [],
            "schema": null,
            "consoleUrl": format!("{}/storage/datasets/{}", identity.console_url, m.id),
            "itemsPublicUrl": format!("{}/v2/datasets/{}/items", identity.base_url, m.id),
            "urlSigningSecretKey": m.url_signing_secret_key,
            "generalAccess": m.general_access(),
            "stats": {
                "readCount": Stats::get(&m.stats.read),
                "writeCount": Stats::get(&m.stats.write),
                "storageBytes": bytes,
                "inflatedBytes": bytes,
            },
        })
    }
}

//! Request queues: requests deduplicated by `uniqueKey`, a head ordered by insertion (with
//! `forefront` requests in front, newest first), and per-client locks that expire by time.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Mutex;

use base64::Engine as _;
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};

use crate::db::storage::{Stats, Storage, StorageMeta};
use crate::error::{ApiError, ApiResult};
use crate::identity::Identity;
use crate::util::{format_millis, now_millis};

/// The API's limit on requests per batch call.
pub const MAX_BATCH: usize = 25;

/// The id of the request with `unique_key`, as the platform and both SDKs compute it: the
/// standard base64 of the SHA-256 of its UTF-8 bytes, without `+`, `/` and `=`, first 15
/// characters. The Python SDK computes ids itself and sends `PUT /requests/{id}` with them,
/// so an id of any other form makes it lose track of its requests (and never finish).
pub fn unique_key_to_request_id(unique_key: &str) -> String {
    let digest = Sha256::digest(unique_key.as_bytes());
    base64::engine::general_purpose::STANDARD
        .encode(digest)
        .chars()
        .filter(|c| !matches!(c, '+' | '/' | '='))
        .take(15)
        .collect()
}

/// A request queue.
pub struct RequestQueue {
    meta: StorageMeta,
    inner: Mutex<Queue>,
}

impl Storage for RequestQueue {
    fn meta(&self) -> &StorageMeta {
        &self.meta
    }
}

#[derive(Default)]
struct Queue {
    requests: HashMap<String, Req>,
    /// uniqueKey → id
    by_unique: HashMap<String, String>,
    /// Pending (not handled) requests in head order.
    order: BTreeMap<i64, String>,
    /// Every request in insertion order, for listing with a cursor.
    listing: BTreeMap<u64, String>,
    /// Ids that have (or had, until the next sweep) a lock.
    locked: HashSet<String>,
    next_back: i64,
    next_front: i64,
    next_seq: u64,
    handled: usize,
    clients: Clients,
}

struct Req {
    /// The request as stored, without `id`.
    body: Map<String, Value>,
    unique_key: String,
    seq: u64,
    /// Position in the head; `None` once handled.
    order: Option<i64>,
    lock: Option<Lock>,
}

struct Lock {
    expires_at: i64,
    client_key: Option<String>,
}

impl Req {
    fn active_lock(&self, now: i64) -> Option<&Lock> {
        self.lock.as_ref().filter(|l| l.expires_at > now)
    }

    fn to_json(&self, id: &str) -> Value {
        let mut out = self.body.clone();
        out.insert("id".into(), Value::String(id.to_owned()));
        Value::Object(out)
    }

    /// The short form used in queue heads.
    fn head_json(&self, id: &str) -> Map<String, Value> {
        let mut out = Map::new();
        out.insert("id".into(), id.into());
        out.insert("uniqueKey".into(), self.unique_key.clone().into());
        out.insert(
            "url".into(),
            self.body.get("url").cloned().unwrap_or(Value::Null),
        );
        out.insert(
            "method".into(),
            self.body
                .get("method")
                .cloned()
                .unwrap_or_else(|| "GET".into()),
        );
        out.insert(
            "retryCount".into(),
            self.body
                .get("retryCount")
                .cloned()
                .unwrap_or_else(|| 0.into()),
        );
        out
    }
}

/// Tracks whether more than one client used the queue (`hadMultipleClients`). A call without
/// a `clientKey` counts as a new client, as the API documents.
#[derive(Default)]
struct Clients {
    first: Option<Option<String>>,
    multiple: bool,
}

impl Clients {
    fn seen(&mut self, client_key: Option<&str>) {
        match &self.first {
            None => self.first = Some(client_key.map(str::to_owned)),
            Some(first) => {
                if client_key.is_none() || first.as_deref() != client_key {
                    self.multiple = true;
                }
            }
        }
    }
}

/// What adding or updating a request did (`RequestRegistration`).
#[derive(Debug, Clone)]
pub struct Registration {
    /// The request's id (the existing one for duplicates).
    pub request_id: String,
    /// The request's uniqueKey.
    pub unique_key: String,
    /// A request with the same uniqueKey was already in the queue.
    pub was_already_present: bool,
    /// ... and it was already handled.
    pub was_already_handled: bool,
}

impl Registration {
    /// `{requestId, wasAlreadyPresent, wasAlreadyHandled}`.
    pub fn to_json(&self) -> Value {
        json!({
            "requestId": self.request_id,
            "wasAlreadyPresent": self.was_already_present,
            "wasAlreadyHandled": self.was_already_handled,
        })
    }

    /// The batch form, which also carries `uniqueKey`.
    pub fn to_batch_json(&self) -> Value {
        json!({
            "requestId": self.request_id,
            "uniqueKey": self.unique_key,
            "wasAlreadyPresent": self.was_already_present,
            "wasAlreadyHandled": self.was_already_handled,
        })
    }
}

/// A queue head as `GET /head` and `POST /head/lock` return it.
pub struct Head {
    /// Short request objects (with `lockExpiresAt` when locked).
    pub items: Vec<Value>,
    /// `queueModifiedAt`.
    pub queue_modified_at: String,
    /// `hadMultipleClients`.
    pub had_multiple_clients: bool,
    /// `queueHasLockedRequests`.
    pub queue_has_locked_requests: bool,
}

/// A page of `GET /requests`.
pub struct RequestsPage {
    /// Full request objects.
    pub items: Vec<Value>,
    /// Cursor for the next page, when there is one.
    pub next_cursor: Option<String>,
}

/// Which requests `GET /requests?filter=` keeps.
#[derive(Debug, Default, Clone, Copy)]
pub struct ListFilter {
    /// Keep pending (not handled) requests.
    pub pending: bool,
    /// Keep requests with an active lock.
    pub locked: bool,
}

fn is_handled(body: &Map<String, Value>) -> bool {
    body.get("handledAt").is_some_and(|v| !v.is_null())
}

/// A request object refused by [`normalize`], with the body as it came.
type Refused = (Value, ApiError);

/// Checks and normalizes a request object from a body: needs a `url`; `uniqueKey` defaults to
/// the url; any `id` is dropped (ids are assigned by the queue).
/// The error keeps the original body (for `unprocessedRequests`), boxed as it is large.
fn normalize(value: Value) -> Result<(Map<String, Value>, String), Box<Refused>> {
    let Value::Object(mut body) = value else {
        return Err(Box::new((
            value,
            ApiError::invalid_value("A request must be a JSON object"),
        )));
    };
    let url = match body.get("url") {
        Some(Value::String(url)) if !url.is_empty() => url.clone(),
        _ => {
            return Err(Box::new((
                Value::Object(body),
                ApiError::invalid_value("The request must have a non-empty \"url\" string"),
            )))
        }
    };
    let unique_key = match body.get("uniqueKey") {
        Some(Value::String(k)) if !k.is_empty() => k.clone(),
        None | Some(Value::Null) => url,
        Some(_) => {
            return Err(Box::new((
                Value::Object(body),
                ApiError::invalid_value("\"uniqueKey\" must be a non-empty string"),
            )))
        }
    };
    body.insert("uniqueKey".into(), Value::String(unique_key.clone()));
    body.remove("id");
    drop_nulls(&mut body);
    Ok((body, unique_key))
}

/// Removes top-level `null` values: an absent optional field reads as absent, not `null`
/// (the JS SDK's `new Request(data)` throws on `handledAt: null`, `payload: null`, ...).
fn drop_nulls(body: &mut Map<String, Value>) {
    body.retain(|_, v| !v.is_null());
}

impl Queue {
    fn position(&mut self, forefront: bool) -> i64 {
        if forefront {
            self.next_front -= 1;
            self.next_front
        } else {
            let pos = self.next_back;
            self.next_back += 1;
            pos
        }
    }

    fn add(
        &mut self,
        body: Map<String, Value>,
        unique_key: String,
        forefront: bool,
    ) -> Registration {
        if let Some(id) = self.by_unique.get(&unique_key) {
            let handled = self.requests[id].order.is_none();
            return Registration {
                request_id: id.clone(),
                unique_key,
                was_already_present: true,
                was_already_handled: handled,
            };
        }
        let id = unique_key_to_request_id(&unique_key);
        let seq = self.next_seq;
        self.next_seq += 1;
        let order = if is_handled(&body) {
            self.handled += 1;
            None
        } else {
            let pos = self.position(forefront);
            self.order.insert(pos, id.clone());
            Some(pos)
        };
        self.listing.insert(seq, id.clone());
        self.by_unique.insert(unique_key.clone(), id.clone());
        self.requests.insert(
            id.clone(),
            Req {
                body,
                unique_key: unique_key.clone(),
                seq,
                order,
                lock: None,
            },
        );
        Registration {
            request_id: id,
            unique_key,
            was_already_present: false,
            was_already_handled: false,
        }
    }

    fn move_to_front(&mut self, id: &str) {
        let Some(old) = self.requests.get(id).and_then(|r| r.order) else {
            return;
        };
        self.order.remove(&old);
        let pos = self.position(true);
        self.order.insert(pos, id.to_owned());
        self.requests.get_mut(id).expect("request exists").order = Some(pos);
    }

    fn remove(&mut self, id: &str) -> Option<Req> {
        let req = self.requests.remove(id)?;
        self.by_unique.remove(&req.unique_key);
        self.listing.remove(&req.seq);
        self.locked.remove(id);
        match req.order {
            Some(pos) => {
                self.order.remove(&pos);
            }
            None => self.handled -= 1,
        }
        Some(req)
    }

    /// Drops expired locks from the bookkeeping; whether any active lock remains.
    fn sweep_locks(&mut self, now: i64) -> bool {
        let requests = &mut self.requests;
        self.locked.retain(|id| match requests.get_mut(id) {
            Some(req) if req.active_lock(now).is_some() => true,
            Some(req) => {
                req.lock = None;
                false
            }
            None => false,
        });
        !self.locked.is_empty()
    }

    /// The lock of `id` if `client_key` owns it; errors say why not.
    fn owned_lock(&mut self, id: &str, client_key: Option<&str>, now: i64) -> ApiResult<&mut Req> {
        let req = self
            .requests
            .get_mut(id)
            .ok_or_else(|| ApiError::not_found("Request was not found"))?;
        match req.active_lock(now) {
            None => Err(ApiError::invalid_value(format!(
                "Request \"{id}\" is not locked"
            ))),
            Some(lock) if lock.client_key.as_deref() != client_key => Err(ApiError::new(
                http::StatusCode::FORBIDDEN,
                "insufficient-permissions",
                format!("Request \"{id}\" is locked by a different client"),
            )),
            Some(_) => Ok(req),
        }
    }
}

/// `PUT /requests/{id}` of a request the queue does not have: added (pending, or handled when
/// it has `handledAt`) when `id` is the id of the body's `uniqueKey`, as the platform does (the
/// Python SDK's single-client queue relies on it); otherwise 404.
fn upsert(
    q: &mut Queue,
    id: &str,
    body: Map<String, Value>,
    forefront: bool,
) -> ApiResult<Registration> {
    let not_found = || {
        ApiError::not_found(format!(
            "Request \"{id}\" was not found: to add a request with PUT, send its \"url\" and a \
             \"uniqueKey\" whose request id is \"{id}\""
        ))
    };
    if !body.contains_key("uniqueKey") {
        return Err(not_found());
    }
    let (body, unique_key) = normalize(Value::Object(body)).map_err(|b| b.1)?;
    if unique_key_to_request_id(&unique_key) != id {
        return Err(not_found());
    }
    Ok(q.add(body, unique_key, forefront))
}

impl RequestQueue {
    /// A new empty queue.
    pub fn new(meta: StorageMeta) -> ApiResult<Self> {
        Ok(Self {
            meta,
            inner: Mutex::new(Queue::default()),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Queue> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Adds one request (`POST /requests`).
    pub fn add(
        &self,
        body: Value,
        forefront: bool,
        client_key: Option<&str>,
    ) -> ApiResult<Registration> {
        let (body, unique_key) = normalize(body).map_err(|b| b.1)?;
        let mut q = self.lock();
        q.clients.seen(client_key);
        let reg = q.add(body, unique_key, forefront);
        drop(q);
        Stats::bump(&self.meta.stats.write);
        self.meta.touch_modified();
        Ok(reg)
    }

    /// Adds up to [`MAX_BATCH`] requests. A request without a valid `url` comes back in
    /// `unprocessedRequests`, named by its `uniqueKey`; one that cannot be named so (not an
    /// object, or neither a `url` nor a `uniqueKey` string) refuses the whole batch with a 400
    /// naming it: clients match unprocessed requests by `uniqueKey` (the Python SDK's model
    /// requires it), so an unnamed one would break their whole answer.
    pub fn add_batch(
        &self,
        bodies: Vec<Value>,
        forefront: bool,
        client_key: Option<&str>,
    ) -> ApiResult<(Vec<Registration>, Vec<Value>)> {
        let mut checked = Vec::with_capacity(bodies.len());
        for (index, body) in bodies.into_iter().enumerate() {
            match normalize(body) {
                Ok(ok) => checked.push(Ok(ok)),
                Err(refused) if refused.0.get("uniqueKey").is_some_and(Value::is_string) => {
                    checked.push(Err(unprocessed_json(&refused.0)))
                }
                Err(refused) => {
                    return Err(ApiError::invalid_value(format!(
                        "Request {index} of the batch (counting from 0) is invalid: {}; no \
                         request of the batch was added",
                        refused.1.message
                    )))
                }
            }
        }
        let mut processed = Vec::with_capacity(checked.len());
        let mut unprocessed = Vec::new();
        let mut q = self.lock();
        q.clients.seen(client_key);
        for item in checked {
            match item {
                Ok((body, unique_key)) => processed.push(q.add(body, unique_key, forefront)),
                Err(refused) => unprocessed.push(refused),
            }
        }
        drop(q);
        Stats::bump(&self.meta.stats.write);
        self.meta.touch_modified();
        Ok((processed, unprocessed))
    }

    /// One request, in full.
    pub fn get(&self, id: &str) -> Option<Value> {
        let q = self.lock();
        let found = q.requests.get(id).map(|r| r.to_json(id));
        drop(q);
        Stats::bump(&self.meta.stats.read);
        self.meta.touch();
        found
    }

    /// Replaces a request (`PUT /requests/{id}`); setting `handledAt` marks it handled and
    /// takes it out of the head (and unlocks it).
    pub fn update(
        &self,
        id: &str,
        body: Value,
        forefront: bool,
        client_key: Option<&str>,
    ) -> ApiResult<Registration> {
        let Value::Object(mut body) = body else {
            return Err(ApiError::invalid_value("A request must be a JSON object"));
        };
        if let Some(body_id) = body.get("id") {
            if body_id.as_str() != Some(id) {
                return Err(ApiError::new(
                    http::StatusCode::BAD_REQUEST,
                    "id-does-not-match",
                    "The request's \"id\" does not match the id in the URL",
                ));
            }
        }
        body.remove("id");
        drop_nulls(&mut body);
        let mut q = self.lock();
        q.clients.seen(client_key);
        let q = &mut *q;
        if !q.requests.contains_key(id) {
            let reg = upsert(q, id, body, forefront)?;
            Stats::bump(&self.meta.stats.write);
            self.meta.touch_modified();
            return Ok(reg);
        }
        let req = q.requests.get_mut(id).expect("request exists");
        // The uniqueKey is the request's identity: it cannot be changed by an update.
        body.insert("uniqueKey".into(), Value::String(req.unique_key.clone()));
        if !body.contains_key("url") {
            if let Some(url) = req.body.get("url") {
                body.insert("url".into(), url.clone());
            }
        }
        let was_handled = req.order.is_none();
        let now_handled = is_handled(&body);
        req.body = body;
        let unique_key = req.unique_key.clone();
        match (was_handled, now_handled) {
            (false, true) => {
                let pos = req.order.take().expect("pending request has a position");
                req.lock = None;
                q.order.remove(&pos);
                q.locked.remove(id);
                q.handled += 1;
            }
            (true, false) => {
                let pos = q.position(forefront);
                q.order.insert(pos, id.to_owned());
                q.requests.get_mut(id).expect("request exists").order = Some(pos);
                q.handled -= 1;
            }
            (false, false) if forefront => q.move_to_front(id),
            _ => {}
        }
        Stats::bump(&self.meta.stats.write);
        self.meta.touch_modified();
        Ok(Registration {
            request_id: id.to_owned(),
            unique_key,
            was_already_present: true,
            was_already_handled: was_handled,
        })
    }

    /// Deletes a request; whether it existed.
    pub fn delete(&self, id: &str, client_key: Option<&str>) -> bool {
        let mut q = self.lock();
        q.clients.seen(client_key);
        let existed = q.remove(id).is_some();
        drop(q);
        Stats::bump(&self.meta.stats.delete);
        self.meta.touch_modified();
        existed
    }

    /// Deletes requests given as `{id}` or `{uniqueKey}` objects; returns (processed,
    /// unprocessed). Requests that do not exist count as processed: deleting is idempotent.
    pub fn delete_batch(
        &self,
        items: Vec<Value>,
        client_key: Option<&str>,
    ) -> (Vec<Value>, Vec<Value>) {
        let mut processed = Vec::new();
        let mut unprocessed = Vec::new();
        let mut q = self.lock();
        q.clients.seen(client_key);
        for item in items {
            let id = item.get("id").and_then(Value::as_str).map(str::to_owned);
            let unique_key = item
                .get("uniqueKey")
                .and_then(Value::as_str)
                .map(str::to_owned);
            let id = id.or_else(|| {
                unique_key
                    .as_ref()
                    .and_then(|k| q.by_unique.get(k).cloned())
            });
            match (id, unique_key) {
                (None, None) => unprocessed.push(unprocessed_json(&item)),
                (Some(id), unique_key) => {
                    let removed = q.remove(&id);
                    let unique_key = removed.map(|r| r.unique_key).or(unique_key);
                    let mut out = json!({ "id": id });
                    if let Some(k) = unique_key {
                        out["uniqueKey"] = Value::String(k);
                    }
                    processed.push(out);
                }
                (None, Some(unique_key)) => processed.push(json!({ "uniqueKey": unique_key })),
            }
        }
        drop(q);
        Stats::bump(&self.meta.stats.delete);
        self.meta.touch_modified();
        (processed, unprocessed)
    }

    /// The first `limit` pending requests that are not locked (`GET /head`).
    pub fn head(&self, limit: usize, client_key: Option<&str>) -> Head {
        let now = now_millis();
        let mut q = self.lock();
        q.clients.seen(client_key);
        let has_locks = q.sweep_locks(now);
        let items = q
            .order
            .values()
            .filter_map(|id| {
                let req = &q.requests[id];
                req.active_lock(now)
                    .is_none()
                    .then(|| Value::Object(req.head_json(id)))
            })
            .take(limit)
            .collect();
        let had_multiple_clients = q.clients.multiple;
        drop(q);
        Stats::bump(&self.meta.stats.head_read);
        self.meta.touch();
        Head {
            items,
            queue_modified_at: self.meta.modified_at_str(),
            had_multiple_clients,
            queue_has_locked_requests: has_locks,
        }
    }

    /// Takes the first `limit` unlocked pending requests and locks them for `lock_secs`
    /// (`POST /head/lock`).
    pub fn lock_head(&self, limit: usize, lock_secs: u64, client_key: Option<&str>) -> Head {
        let now = now_millis();
        let expires_at = now.saturating_add((lock_secs as i64).saturating_mul(1000));
        let expires_str = format_millis(expires_at);
        let mut q = self.lock();
        q.clients.seen(client_key);
        q.sweep_locks(now);
        let ids: Vec<String> = q
            .order
            .values()
            .filter(|id| q.requests[*id].active_lock(now).is_none())
            .take(limit)
            .cloned()
            .collect();
        let mut items = Vec::with_capacity(ids.len());
        for id in ids {
            let req = q.requests.get_mut(&id).expect("request exists");
            req.lock = Some(Lock {
                expires_at,
                client_key: client_key.map(str::to_owned),
            });
            let mut item = req.head_json(&id);
            item.insert("lockExpiresAt".into(), expires_str.clone().into());
            items.push(Value::Object(item));
            q.locked.insert(id);
        }
        let has_locks = !q.locked.is_empty();
        let had_multiple_clients = q.clients.multiple;
        drop(q);
        Stats::bump(&self.meta.stats.head_read);
        self.meta.touch_modified();
        Head {
            items,
            queue_modified_at: self.meta.modified_at_str(),
            had_multiple_clients,
            queue_has_locked_requests: has_locks,
        }
    }

    /// Extends the lock of a request this client holds, or locks a pending request whose lock
    /// expired (or that was never locked); returns the new expiry (epoch ms).
    pub fn prolong_lock(
        &self,
        id: &str,
        lock_secs: u64,
        forefront: bool,
        client_key: Option<&str>,
    ) -> ApiResult<i64> {
        let now = now_millis();
        let mut q = self.lock();
        q.clients.seen(client_key);
        let expires_at = now.saturating_add((lock_secs as i64).saturating_mul(1000));
        let req = q
            .requests
            .get_mut(id)
            .ok_or_else(|| ApiError::not_found("Request was not found"))?;
        if req.active_lock(now).is_none() && req.order.is_some() {
            // The lock ran out while the client held the request in its local head (slow
            // handlers): nobody else holds it, so the caller gets it again, rather than an
            // error that makes the JS SDK warn and refetch.
            req.lock = Some(Lock {
                expires_at,
                client_key: client_key.map(str::to_owned),
            });
            q.locked.insert(id.to_owned());
        } else {
            let req = q.owned_lock(id, client_key, now)?;
            req.lock.as_mut().expect("owned lock exists").expires_at = expires_at;
        }
        if forefront {
            q.move_to_front(id);
        }
        drop(q);
        self.meta.touch_modified();
        Ok(expires_at)
    }

    /// Removes the lock of a request this client holds.
    pub fn delete_lock(
        &self,
        id: &str,
        forefront: bool,
        client_key: Option<&str>,
    ) -> ApiResult<()> {
        let now = now_millis();
        let mut q = self.lock();
        q.clients.seen(client_key);
        q.owned_lock(id, client_key, now)?.lock = None;
        q.locked.remove(id);
        if forefront {
            q.move_to_front(id);
        }
        drop(q);
        self.meta.touch_modified();
        Ok(())
    }

    /// Unlocks every request this client holds; how many.
    pub fn unlock_all(&self, client_key: Option<&str>) -> usize {
        let now = now_millis();
        let mut guard = self.lock();
        guard.clients.seen(client_key);
        guard.sweep_locks(now);
        let q = &mut *guard;
        let mut count = 0;
        q.locked.retain(|id| {
            let req = q.requests.get_mut(id).expect("locked request exists");
            if req
                .lock
                .as_ref()
                .is_some_and(|l| l.client_key.as_deref() == client_key)
            {
                req.lock = None;
                count += 1;
                false
            } else {
                true
            }
        });
        drop(guard);
        self.meta.touch_modified();
        count
    }

    /// Requests in insertion order after `after_seq`, filtered, at most `limit`.
    pub fn list(
        &self,
        after: ListStart<'_>,
        limit: usize,
        filter: ListFilter,
        client_key: Option<&str>,
    ) -> RequestsPage {
        let now = now_millis();
        let mut q = self.lock();
        q.clients.seen(client_key);
        let start = match after {
            ListStart::Beginning => None,
            ListStart::Cursor(seq) => Some(seq),
            ListStart::AfterId(id) => q.requests.get(id).map(|r| r.seq),
        };
        let range = match start {
            Some(seq) => q.listing.range(seq.saturating_add(1)..),
            None => q.listing.range(..),
        };
        let keep = |req: &Req| {
            (!filter.pending && !filter.locked)
                || (filter.pending && req.order.is_some())
                || (filter.locked && req.active_lock(now).is_some())
        };
        let mut iter = range.filter_map(|(_, id)| {
            let req = &q.requests[id];
            keep(req).then_some((req.seq, id, req))
        });
        let mut items = Vec::new();
        let mut last = None;
        for (seq, id, req) in iter.by_ref().take(limit) {
            items.push(req.to_json(id));
            last = Some(seq);
        }
        let more = iter.next().is_some();
        drop(q);
        Stats::bump(&self.meta.stats.read);
        self.meta.touch();
        RequestsPage {
            items,
            next_cursor: if more {
                last.map(|s| s.to_string())
            } else {
                None
            },
        }
    }

    /// The queue object as the API returns it.
    pub fn to_json(&self, identity: &Identity) -> Value {
        let (total, handled, multiple) = {
            let q = self.lock();
            (q.requests.len(), q.handled, q.clients.multiple)
        };
        let m = &self.meta;
        json!({
            "id": m.id,
            "name": m.name(),
            "userId": identity.user_id,
            "username": identity.username,
            "createdAt": m.created_at_str(),
            "modifiedAt": m.modified_at_str(),
            "accessedAt": m.accessed_at_str(),
            "totalRequestCount": total,
            "handledRequestCount": handled,
            "pendingRequestCount": total - handled,
            "actId": null,
            "actRunId": null,
            "hadMultipleClients": multiple,
            "consoleUrl": format!("{}/storage/request-queues/{}", identity.console_url, m.id),
            "generalAccess": m.general_access(),
            "stats": {
                "readCount": Stats::get(&m.stats.read),
                "writeCount": Stats::get(&m.stats.write),
                "deleteCount": Stats::get(&m.stats.delete),
                "headItemReadCount": Stats::get(&m.stats.head_read),
                "storageBytes": 0,
            },
        })
    }
}

/// Where `GET /requests` starts.
pub enum ListStart<'a> {
    /// From the first request.
    Beginning,
    /// After the request with this listing sequence number (a `cursor`).
    Cursor(u64),
    /// After the request with this id (the deprecated `exclusiveStartId`).
    AfterId(&'a str),
}

/// The `RequestDraft` form of a request that was not processed.
fn unprocessed_json(original: &Value) -> Value {
    let mut out = Map::new();
    for key in ["id", "uniqueKey", "url", "method"] {
        if let Some(v) = original.get(key) {
            out.insert(key.into(), v.clone());
        }
    }
    Value::Object(out)
}

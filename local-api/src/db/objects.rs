//! Stored JSON objects with an `id` (and optionally a `name`): Actor tasks, webhooks, webhook
//! dispatches and schedules. They are kept as the API's objects themselves, so what was
//! stored is what is answered.

use std::sync::RwLock;

use serde_json::Value;

/// One kind of stored object, in creation order.
#[derive(Default)]
pub struct Objects {
    items: RwLock<Vec<Value>>,
}

impl Objects {
    /// Stores a new object.
    pub fn insert(&self, object: Value) {
        self.items
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(object);
    }

    /// The object with this id, `username~name` or bare name.
    pub fn get(&self, id_or_name: &str, username: &str) -> Option<Value> {
        let items = self
            .items
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(found) = items.iter().find(|o| o["id"] == id_or_name) {
            return Some(found.clone());
        }
        let name = match id_or_name.split_once('~') {
            Some((user, name)) if user.is_empty() || user == username => name,
            Some(_) => return None,
            None => id_or_name,
        };
        items.iter().find(|o| o["name"] == name).cloned()
    }

    /// Changes the object with this id; the changed object.
    pub fn update(&self, id: &str, change: impl FnOnce(&mut Value)) -> Option<Value> {
        let mut items = self
            .items
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let found = items.iter_mut().find(|o| o["id"] == id)?;
        change(found);
        Some(found.clone())
    }

    /// Removes the object with this id; whether it was there.
    pub fn remove(&self, id: &str) -> bool {
        let mut items = self
            .items
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let before = items.len();
        items.retain(|o| o["id"] != id);
        items.len() != before
    }

    /// The objects matching `filter`, oldest first.
    pub fn list(&self, filter: impl Fn(&Value) -> bool) -> Vec<Value> {
        let items = self
            .items
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        items.iter().filter(|o| filter(o)).cloned().collect()
    }
}

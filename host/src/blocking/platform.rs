//! Blocking forms of the schedule, webhook, webhook dispatch and Store clients.

use super::macros::blocking_client;
use crate::{
    models::{
        ListPage, Schedule, ScheduleFields, ScheduleInvocation, StoreListActor, Webhook,
        WebhookDispatch, WebhookFields,
    },
    options::{PageOptions, StoreListOptions},
    Error,
};

blocking_client! {
    /// Blocking form of [`crate::clients::ScheduleCollectionClient`].
    ScheduleCollectionClient {
        call fn list(&self, opts: &PageOptions) -> Result<ListPage<Schedule>, Error>;
        iter fn iterate(&self, opts: &PageOptions) -> Schedule;
        call fn create(&self, fields: &ScheduleFields) -> Result<Schedule, Error>;
    }

    /// Blocking form of [`crate::clients::ScheduleClient`].
    ScheduleClient {
        call fn get(&self) -> Result<Option<Schedule>, Error>;
        call fn update(&self, fields: &ScheduleFields) -> Result<Schedule, Error>;
        call fn delete(&self) -> Result<(), Error>;
        call fn get_log(&self) -> Result<Option<Vec<ScheduleInvocation>>, Error>;
    }

    /// Blocking form of [`crate::clients::WebhookCollectionClient`].
    WebhookCollectionClient {
        call fn list(&self, opts: &PageOptions) -> Result<ListPage<Webhook>, Error>;
        iter fn iterate(&self, opts: &PageOptions) -> Webhook;
        call fn create(&self, fields: &WebhookFields) -> Result<Webhook, Error>;
    }

    /// Blocking form of [`crate::clients::WebhookClient`].
    WebhookClient {
        call fn get(&self) -> Result<Option<Webhook>, Error>;
        call fn update(&self, fields: &WebhookFields) -> Result<Webhook, Error>;
        call fn delete(&self) -> Result<(), Error>;
        call fn test(&self) -> Result<Option<WebhookDispatch>, Error>;
        child fn dispatches(&self) -> WebhookDispatchCollectionClient;
    }

    /// Blocking form of [`crate::clients::WebhookDispatchCollectionClient`].
    WebhookDispatchCollectionClient {
        call fn list(&self, opts: &PageOptions) -> Result<ListPage<WebhookDispatch>, Error>;
        iter fn iterate(&self, opts: &PageOptions) -> WebhookDispatch;
    }

    /// Blocking form of [`crate::clients::WebhookDispatchClient`].
    WebhookDispatchClient {
        call fn get(&self) -> Result<Option<WebhookDispatch>, Error>;
    }

    /// Blocking form of [`crate::clients::StoreCollectionClient`].
    StoreCollectionClient {
        call fn list(&self, opts: &StoreListOptions) -> Result<ListPage<StoreListActor>, Error>;
        iter fn iterate(&self, opts: &StoreListOptions) -> StoreListActor;
    }
}

//! Integration tests: a real server on 127.0.0.1, real HTTP requests.

mod actors;
mod auth_errors;
mod binary;
mod common;
mod control;
mod datasets;
mod key_value_stores;
mod logs;
mod request_queues;
mod runs;
mod schedules;
mod sdk_fidelity;
mod signed_urls;
mod spec_routes;
mod tasks;
mod webhooks;

//! Integration tests: a real server on 127.0.0.1, real HTTP requests.

mod auth_errors;
mod binary;
mod common;
mod control;
mod datasets;
mod key_value_stores;
mod logs;
mod request_queues;
mod spec_routes;
mod actors;
mod runs;
mod schedules;
mod tasks;
mod webhooks;
mod signed_urls;

//! Integration tests: a real server on 127.0.0.1, real HTTP requests.

mod actors;
mod auth_errors;
mod binary;
mod bodies;
mod common;
mod control;
mod datasets;
mod gate;
mod key_value_stores;
mod logs;
mod request_queues;
mod run_limits;
mod runs;
mod schedules;
mod sdk_fidelity;
mod signed_urls;
mod spec_routes;
mod tasks;
mod webhook_limits;
mod webhooks;

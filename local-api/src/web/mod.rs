//! Resource-agnostic axum glue shared by the handlers: bodies, extractors, answers, the start
//! of a run from a request, the storage forwarder and the request gate. Nothing here imports
//! [`crate::api`].

pub mod body;
pub mod extract;
pub mod forward;
pub mod gate;
pub mod log_stream;
pub mod response;
pub mod start;

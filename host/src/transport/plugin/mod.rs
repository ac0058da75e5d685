//! Plugin transports (loader + adapter).

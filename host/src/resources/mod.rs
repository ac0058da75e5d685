//! Resource clients: one file per API resource.

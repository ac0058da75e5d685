//! libcurl's error codes as the host's [`ErrorKind`]s.

use std::io;

use apify_plugin_api::{redact_userinfo, Error, ErrorKind};

/// `CURLE_WEIRD_SERVER_REPLY`, a reply libcurl cannot parse as HTTP; `curl-sys` still names it
/// after FTP, where it began.
const WEIRD_SERVER_REPLY: curl_sys::CURLcode = curl_sys::CURLE_FTP_WEIRD_SERVER_REPLY;

/// The kind of a failed transfer, by libcurl's error code. `after_head`: the response head had
/// arrived, so a timeout is the body's (the host bounds that by its own idle limit).
pub(crate) fn kind_of(e: &curl::Error, after_head: bool) -> ErrorKind {
    if e.is_couldnt_connect() || e.is_couldnt_resolve_host() || e.is_couldnt_resolve_proxy() {
        // Nothing was sent: refused, unreachable, or no such name.
        ErrorKind::CONNECT
    } else if e.is_operation_timedout() {
        // The connect timeout, or the low-speed limit (no byte for that long).
        ErrorKind::TIMEOUT
    } else if e.is_ssl_connect_error()
        || e.is_peer_failed_verification() // also CURLE_SSL_CACERT, the same code since 7.62
        || e.is_ssl_cacert_badfile()
        || e.is_ssl_certproblem()
        || e.is_ssl_cipher()
        || e.is_ssl_issuer_error()
    {
        ErrorKind::TLS
    } else if e.is_recv_error()
        || e.is_send_error()
        || e.is_partial_file()
        || e.is_got_nothing()
        // A stale keep-alive connection died under a request whose body cannot be replayed.
        || e.is_send_fail_rewind()
    {
        // An established connection failed: reset, closed early, or a body cut short.
        ErrorKind::IO
    } else if e.code() == WEIRD_SERVER_REPLY
        || e.is_http2_error()
        || e.is_http2_stream_error()
        || e.is_unsupported_protocol()
    // e.g. an HTTP/0.9 reply, which libcurl refuses
    {
        ErrorKind::PROTOCOL
    } else if e.is_url_malformed() || e.is_bad_function_argument() || e.is_unknown_option() {
        ErrorKind::INVALID_REQUEST
    } else if after_head {
        ErrorKind::IO
    } else {
        ErrorKind::OTHER
    }
}

/// A failed transfer as the host's error. libcurl's message (its error buffer included) names
/// hosts and, for a proxy, possibly its URL: credentials are removed.
pub(crate) fn from_curl(e: &curl::Error, after_head: bool) -> Error {
    let kind = kind_of(e, after_head);
    let mut error = Error::new(kind, redact_userinfo(&format!("libcurl: {e}")));
    if kind == ErrorKind::OTHER {
        // Out of memory, an internal error: nothing a retry would fix.
        error = error.retryable(false);
    }
    error
}

/// The error of an exchange the host gave up on (it never sees it: it dropped the call).
pub(crate) fn cancelled() -> Error {
    Error::new(ErrorKind::OTHER, "the exchange was cancelled").retryable(false)
}

/// The peer broke HTTP.
pub(crate) fn protocol(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::PROTOCOL, message)
}

/// The `io::ErrorKind` a body read fails with, chosen so that the glue's
/// `classify_io_kind` gives back `kind` (the glue turns OTHER into IO for a body).
pub(crate) fn io_error_kind(kind: ErrorKind) -> io::ErrorKind {
    match kind {
        ErrorKind::TIMEOUT => io::ErrorKind::TimedOut,
        ErrorKind::PROTOCOL => io::ErrorKind::InvalidData,
        ErrorKind::CONNECT => io::ErrorKind::ConnectionRefused,
        // IO, and anything else after the head: the established connection failed.
        _ => io::ErrorKind::ConnectionReset,
    }
}

//! Turning a library's error into an [`ErrorKind`] without depending on that library: what
//! `std::io` says, what a failed name lookup says, and what hides inside both.
//!
//! The host retries by kind (see [`ErrorKind`]), so a transport that reports a refused
//! connection as [`ErrorKind::OTHER`] loses the retry a built-in transport would get.

use std::error::Error as StdError;
use std::io;

use crate::ffi::ErrorKind;
use crate::types::{error_chain, redact_userinfo, Error};

/// The [`ErrorKind`] of an error from any HTTP library, judged from its whole source chain:
///
/// | found in the chain | kind |
/// |---|---|
/// | a failed name lookup (see [`is_dns_error`]) | [`ErrorKind::CONNECT`] |
/// | the `http` crate refusing a URL, header name or value | [`ErrorKind::INVALID_REQUEST`] |
/// | `io::ErrorKind::ConnectionRefused`, `HostUnreachable`, `NetworkUnreachable`, `AddrNotAvailable` | [`ErrorKind::CONNECT`] |
/// | `io::ErrorKind::TimedOut`, `WouldBlock` (a socket read timeout) | [`ErrorKind::TIMEOUT`] |
/// | `ConnectionReset`, `ConnectionAborted`, `BrokenPipe`, `UnexpectedEof`, `NotConnected` | [`ErrorKind::IO`] |
/// | `io::ErrorKind::InvalidData` | [`ErrorKind::PROTOCOL`] |
/// | `io::ErrorKind::InvalidInput` | [`ErrorKind::INVALID_REQUEST`] |
/// | anything else | [`ErrorKind::OTHER`] |
///
/// The first `io::Error` in the chain decides. TLS failures cannot be told apart without the
/// TLS library's types: check those first (`chain_has::<rustls::Error>(e)`) and use
/// [`ErrorKind::TLS`].
pub fn classify_error(e: &(dyn StdError + 'static)) -> ErrorKind {
    if is_dns_error(e) {
        return ErrorKind::CONNECT;
    }
    if is_invalid_http(e) {
        return ErrorKind::INVALID_REQUEST;
    }
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            return classify_io_kind(io.kind());
        }
        cur = err.source();
    }
    ErrorKind::OTHER
}

/// Whether `e` (or an error in its chain) is the `http` crate's verdict on a bad request part:
/// an unparsable URL, header name or header value, or a request builder's error.
fn is_invalid_http(e: &(dyn StdError + 'static)) -> bool {
    crate::chain_has::<http::uri::InvalidUri>(e)
        || crate::chain_has::<http::uri::InvalidUriParts>(e)
        || crate::chain_has::<http::header::InvalidHeaderName>(e)
        || crate::chain_has::<http::header::InvalidHeaderValue>(e)
        || crate::chain_has::<http::Error>(e)
}

/// The [`ErrorKind`] of an `std::io::ErrorKind` (the table of [`classify_error`]).
pub fn classify_io_kind(kind: io::ErrorKind) -> ErrorKind {
    use io::ErrorKind as K;
    match kind {
        K::ConnectionRefused | K::HostUnreachable | K::NetworkUnreachable | K::AddrNotAvailable => {
            ErrorKind::CONNECT
        }
        K::TimedOut | K::WouldBlock => ErrorKind::TIMEOUT,
        K::ConnectionReset
        | K::ConnectionAborted
        | K::BrokenPipe
        | K::UnexpectedEof
        | K::NotConnected => ErrorKind::IO,
        K::InvalidData => ErrorKind::PROTOCOL,
        K::InvalidInput => ErrorKind::INVALID_REQUEST,
        _ => ErrorKind::OTHER,
    }
}

/// Whether `e` (or an error in its chain) is a failed host name lookup.
///
/// No library gives this a type that survives its error chain (`std` reports `getaddrinfo`
/// failures as an uncategorized `io::Error`), so the messages are matched, once, here: glibc's
/// and musl's `gai_strerror` texts, std's wrapper, hyper-util's, hickory's and libcurl's.
pub fn is_dns_error(e: &(dyn StdError + 'static)) -> bool {
    const SIGNS: [&str; 10] = [
        "failed to lookup address information",
        "name or service not known",
        "temporary failure in name resolution",
        "no address associated with hostname",
        "nodename nor servname provided",
        "name does not resolve",
        "could not resolve host",
        "dns error",
        "no record found for",
        "name resolution failed",
    ];
    let mut cur: Option<&(dyn StdError + 'static)> = Some(e);
    while let Some(err) = cur {
        let text = err.to_string().to_ascii_lowercase();
        if SIGNS.iter().any(|s| text.contains(s)) {
            return true;
        }
        cur = err.source();
    }
    false
}

/// Checks a transport's options (the JSON object `new` gets): an
/// [`ErrorKind::INVALID_REQUEST`] error when they are not an object, or for the first key not
/// in `known`, naming it and the options there are. Call it first in `new`.
///
/// ```
/// # use apify_plugin_api::{check_options, ErrorKind};
/// let e = check_options(&serde_json::json!({"proxy": "http://p", "poxy": 1}), &["proxy"]);
/// let e = e.unwrap_err();
/// assert_eq!(e.kind, ErrorKind::INVALID_REQUEST);
/// assert_eq!(e.message, "unknown option `poxy` (this transport takes: proxy)");
/// assert!(check_options(&serde_json::json!({}), &[]).is_ok());
/// ```
pub fn check_options(options: &serde_json::Value, known: &[&str]) -> Result<(), Error> {
    let takes = match known {
        [] => "this transport takes no options".to_string(),
        _ => format!("this transport takes: {}", known.join(", ")),
    };
    let Some(object) = options.as_object() else {
        return Err(Error::new(
            ErrorKind::INVALID_REQUEST,
            format!("the options must be a JSON object ({takes})"),
        ));
    };
    match object.keys().find(|k| !known.contains(&k.as_str())) {
        Some(key) => Err(Error::new(
            ErrorKind::INVALID_REQUEST,
            format!("unknown option `{key}` ({takes})"),
        )),
        None => Ok(()),
    }
}

impl Error {
    /// An error from any library's error: its kind by [`classify_error`], its message the whole
    /// chain ([`error_chain`]) with URL credentials removed ([`redact_userinfo`]).
    ///
    /// ```
    /// # use apify_plugin_api::{Error, ErrorKind};
    /// let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
    /// let e = Error::classify(&refused);
    /// assert_eq!(e.kind, ErrorKind::CONNECT);
    /// assert!(e.retryable);
    /// ```
    pub fn classify(e: &(dyn StdError + 'static)) -> Error {
        Error::new(classify_error(e), redact_userinfo(&error_chain(e)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Wrapper(io::Error);
    impl std::fmt::Display for Wrapper {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("request failed")
        }
    }
    impl StdError for Wrapper {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn io_kinds_inside_a_chain_decide_the_kind() {
        let cases = [
            (io::ErrorKind::ConnectionRefused, ErrorKind::CONNECT),
            (io::ErrorKind::TimedOut, ErrorKind::TIMEOUT),
            (io::ErrorKind::ConnectionReset, ErrorKind::IO),
            (io::ErrorKind::UnexpectedEof, ErrorKind::IO),
            (io::ErrorKind::InvalidData, ErrorKind::PROTOCOL),
            (io::ErrorKind::PermissionDenied, ErrorKind::OTHER),
        ];
        for (io_kind, want) in cases {
            let e = Wrapper(io::Error::from(io_kind));
            assert_eq!(classify_error(&e), want, "{io_kind:?}");
        }
    }

    #[test]
    fn a_url_the_http_crate_refuses_is_an_invalid_request() {
        let e = "http://bad host/".parse::<http::Uri>().unwrap_err();
        assert_eq!(Error::classify(&e).kind, ErrorKind::INVALID_REQUEST);
    }

    #[test]
    fn a_real_failed_lookup_is_a_connect_error() {
        use std::net::ToSocketAddrs;
        // `.invalid` never resolves (RFC 2606); no query leaves a machine without DNS either.
        let e = ("no-such-host.invalid", 80).to_socket_addrs().unwrap_err();
        assert!(is_dns_error(&e), "{e}");
        let classified = Error::classify(&Wrapper(e));
        assert_eq!(classified.kind, ErrorKind::CONNECT, "{classified}");
    }

    #[test]
    fn messages_keep_the_chain_and_lose_credentials() {
        let e = Wrapper(io::Error::other(
            "proxy http://user:secret@proxy:8080 refused",
        ));
        let classified = Error::classify(&e);
        assert_eq!(classified.kind, ErrorKind::OTHER);
        assert!(!classified.message.contains("secret"), "{classified}");
        assert!(classified
            .message
            .starts_with("request failed: proxy http://***@proxy"));
    }
}

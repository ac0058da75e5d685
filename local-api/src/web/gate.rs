//! The per-request gate in front of every route: the browser checks (Host, Origin,
//! Sec-Fetch-Site), request log, token check.
//!
//! The browser checks keep web pages from driving the API: a page the user visits can make
//! the browser send requests to 127.0.0.1, either through a DNS name that it rebinds to
//! 127.0.0.1 (its requests then carry the page's own `Host`), or directly cross-origin (they
//! carry an `Origin` and `Sec-Fetch-Site`). Programs send a Host of the address they connect
//! to and no Origin, so they are not affected. The checks apply to every path, the health
//! probe included.
//!
//! When the server has a token, the control API needs it too: it serves the request log and
//! can reset or fill every storage, so it is as sensitive as `/v2`. Only the liveness probe
//! `/_control/health`, which says nothing but `ok`, stays open.

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header;

use crate::db::storage::Storage;
use crate::error::ApiError;
use crate::request_log::LoggedRequest;
use crate::signing::{verify_record_signature, verify_storage_signature, SignatureError};
use crate::state::AppState;
use crate::util::secrets_equal;

/// Prefix of the control API, which is not logged, so tests can drive it without disturbing
/// what they assert about a client's requests.
pub const CONTROL_PREFIX: &str = "/_control";

/// The one control route open without the token: a liveness probe that serves nothing else.
pub const HEALTH_PATH: &str = "/_control/health";

/// Runs around every request.
pub async fn gate(State(state): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let from_browser = check_browser(&state, req.headers());
    if req.uri().path().starts_with(CONTROL_PREFIX) {
        return match from_browser.and_then(|()| check_token(&state, &req)) {
            Ok(()) => next.run(req).await,
            Err(e) => e.into_response(),
        };
    }
    let entry = state
        .request_log
        .enabled()
        .then(|| LoggedRequest::new(req.method(), req.uri(), req.headers()));
    let response = match from_browser {
        Err(e) => e.into_response(),
        Ok(()) => match signed_read(&state, &req) {
            // A valid signature is the read's permission: no token needed.
            Some(Ok(())) => next.run(req).await,
            Some(Err(e)) => e.into_response(),
            None => match check_token(&state, &req) {
                Ok(()) => next.run(req).await,
                Err(e) => e.into_response(),
            },
        },
    };
    if let Some(mut entry) = entry {
        entry.status = Some(response.status().as_u16());
        state.request_log.push(entry);
    }
    response
}

/// At most this many characters of a refused header are quoted back in the error message.
const QUOTED_HEADER_CHARS: usize = 100;

/// A header's value for an error message: lossy UTF-8, cut to [`QUOTED_HEADER_CHARS`].
fn quoted(value: &http::HeaderValue) -> String {
    String::from_utf8_lossy(value.as_bytes())
        .chars()
        .take(QUOTED_HEADER_CHARS)
        .collect()
}

/// Whether the `Host` header `given` is `allowed`: equal (ASCII case-insensitive), or, for an
/// allowed entry without a port (`--allowed-host NAME`), that name with any port.
fn host_matches(allowed: &str, given: &str) -> bool {
    if allowed.eq_ignore_ascii_case(given) {
        return true;
    }
    let has_port = allowed
        .rsplit_once(':')
        .is_some_and(|(_, port)| !port.is_empty() && port.bytes().all(|b| b.is_ascii_digit()))
        && !allowed.ends_with(']');
    !has_port
        && given.rsplit_once(':').is_some_and(|(name, port)| {
            name.eq_ignore_ascii_case(allowed) && port.bytes().all(|b| b.is_ascii_digit())
        })
}

/// Refuses what only a browser driven by a foreign web page sends: a `Host` that is not this
/// server's own address (DNS rebinding; checked on loopback listens only), an `Origin` that
/// is not this server's own (`null` included), and `Sec-Fetch-Site: cross-site | same-site`
/// (ports do not count for sites, so a page on localhost:3000 is `same-site`).
fn check_browser(state: &AppState, headers: &http::HeaderMap) -> Result<(), ApiError> {
    if let (Some(own), Some(host)) = (&state.own_hosts, headers.get(header::HOST)) {
        let given = host.to_str().unwrap_or("").trim();
        if !own.iter().any(|h| host_matches(h, given)) {
            let port = state.identity.base_url.rsplit(':').next().unwrap_or("PORT");
            return Err(ApiError::new(
                http::StatusCode::FORBIDDEN,
                "invalid-host-header",
                format!(
                    "The Host header \"{}\" is not this server's own address: the local API on a loopback address only answers requests for 127.0.0.1:{port} or localhost:{port} (this protects against DNS rebinding)",
                    quoted(host)
                ),
            ));
        }
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let given = origin.to_str().unwrap_or("").trim();
        if !state
            .own_origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(given))
        {
            return Err(ApiError::new(
                http::StatusCode::FORBIDDEN,
                "cross-origin-request",
                format!(
                    "The request comes from the web origin \"{}\", not from this server's own ({}): the local API refuses requests that web pages make, so that a page cannot drive it; call it from a program, which sends no Origin header",
                    quoted(origin),
                    state.identity.base_url
                ),
            ));
        }
    }
    if let Some(site) = headers.get("sec-fetch-site") {
        let site = site.to_str().unwrap_or("").trim();
        if site.eq_ignore_ascii_case("cross-site") || site.eq_ignore_ascii_case("same-site") {
            return Err(ApiError::new(
                http::StatusCode::FORBIDDEN,
                "cross-origin-request",
                format!(
                    "The browser marked this request \"Sec-Fetch-Site: {site}\": it was made by a web page of another site or port, and the local API refuses requests that web pages make; call it from a program"
                ),
            ));
        }
    }
    Ok(())
}

/// For a read that carries a `signature` (dataset items, key listing, record) of an existing
/// storage: whether the signature is valid. `None` for any other request.
fn signed_read(state: &AppState, req: &Request) -> Option<Result<(), ApiError>> {
    if req.method() != http::Method::GET && req.method() != http::Method::HEAD {
        return None;
    }
    let signature = form_urlencoded::parse(req.uri().query()?.as_bytes())
        .find(|(k, _)| k == "signature")
        .map(|(_, v)| v.into_owned())?;
    let segments: Vec<&str> = req.uri().path().split('/').collect();
    let username = &state.identity.username;
    let result = match segments.as_slice() {
        ["", "v2", "datasets", id, "items"] => {
            let dataset = state.db.datasets.resolve(&percent_decode(id), username)?;
            let meta = dataset.meta();
            verify_storage_signature(&meta.url_signing_secret_key, &meta.id, &signature)
        }
        ["", "v2", "key-value-stores", id, "keys"] => {
            let store = state
                .db
                .key_value_stores
                .resolve(&percent_decode(id), username)?;
            let meta = store.meta();
            verify_storage_signature(&meta.url_signing_secret_key, &meta.id, &signature)
        }
        ["", "v2", "key-value-stores", id, "records", key] => {
            let store = state
                .db
                .key_value_stores
                .resolve(&percent_decode(id), username)?;
            let secret = &store.meta().url_signing_secret_key;
            verify_record_signature(secret, &percent_decode(key), &signature)
        }
        _ => return None,
    };
    Some(result.map_err(|e| {
        let message = match e {
            SignatureError::Wrong => "The signature in the URL is not valid for this storage: sign the URL with the storage's urlSigningSecretKey, or send a token",
            SignatureError::Expired => "The signature in the URL has expired: sign the URL again, or send a token",
        };
        ApiError::new(http::StatusCode::FORBIDDEN, "insufficient-permissions", message)
    }))
}

/// Decodes `%XX` escapes of a path segment (invalid escapes stay as they are).
fn percent_decode(segment: &str) -> String {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' && i + 2 < bytes.len() {
            if let Ok(b) = u8::from_str_radix(&segment[i + 1..i + 3], 16) {
                out.push(b);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Whether a request to `path` must carry the token, when the server has one: `/v2` and the
/// control API but its health probe.
fn needs_token(path: &str) -> bool {
    path.starts_with("/v2") || (path.starts_with(CONTROL_PREFIX) && path != HEALTH_PATH)
}

/// Checks the token on `/v2` and `/_control` when the server has one: `Authorization: Bearer`
/// first, then the `token` query parameter, as the API accepts both.
fn check_token(state: &AppState, req: &Request) -> Result<(), ApiError> {
    let Some(expected) = state.token.as_deref() else {
        return Ok(());
    };
    if !needs_token(req.uri().path()) {
        return Ok(());
    }
    let from_header = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            v.strip_prefix("Bearer ")
                .or_else(|| v.strip_prefix("bearer "))
                .map(str::trim)
        });
    let given = match from_header {
        Some(token) => Some(std::borrow::Cow::Borrowed(token)),
        None => req.uri().query().and_then(|q| {
            form_urlencoded::parse(q.as_bytes())
                .find(|(k, _)| k == "token")
                .map(|(_, v)| v)
        }),
    };
    match given {
        None => Err(ApiError::token_not_provided()),
        Some(t) if t.is_empty() => Err(ApiError::token_not_provided()),
        Some(t) if secrets_equal(t.as_bytes(), expected.as_bytes()) => Ok(()),
        Some(_) => Err(ApiError::token_not_valid()),
    }
}

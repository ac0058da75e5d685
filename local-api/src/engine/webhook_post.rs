//! Where a webhook may post (loopback only, and never this server), and the POST of a
//! dispatch: a minimal HTTP/1.1 request over a plain TCP connection, which is all a loopback
//! listener needs.

use std::net::{IpAddr, SocketAddr};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::{ApiError, ApiResult};

/// Most of a response read (head and body): the rest is never read, and the connection is
/// closed. A listener that answers without end cannot fill the server's memory.
pub const MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Headers a `headersTemplate` may not set: they frame the request or belong to one hop, and
/// a webhook that set them could smuggle a second request or break the first.
const FORBIDDEN_HEADERS: [&str; 9] = [
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
    "keep-alive",
    "te",
    "trailer",
    "upgrade",
    "expect",
];

/// Why a webhook may not set header `name` (forbidden or not a header name), if it may not.
pub fn header_problem(name: &str) -> Option<String> {
    let lower = name.to_ascii_lowercase();
    if FORBIDDEN_HEADERS.contains(&lower.as_str()) || lower.starts_with("proxy-") {
        return Some(format!(
            "The header \"{name}\" cannot be set by \"headersTemplate\": Content-Length, Transfer-Encoding, Host, Connection, Keep-Alive, Proxy-*, TE, Trailer, Upgrade and Expect are set by the server; remove it from the template"
        ));
    }
    if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        return Some(format!(
            "\"{name}\" in \"headersTemplate\" is not a valid HTTP header name: use letters, digits and hyphens"
        ));
    }
    None
}

/// `(host, port, path)` of a webhook URL, or 400 `invalid-input` unless it is an `http://` URL
/// on a loopback address that is not this server's own address `own` (a webhook calling the
/// API that fires it could start runs without end).
pub fn check_url(url: &str, own: SocketAddr) -> ApiResult<(String, u16, String)> {
    let refuse = || {
        ApiError::invalid_input(format!(
            "Webhook URL \"{url}\" is not allowed: the local API only calls loopback URLs (http://127.0.0.0/8, http://[::1], http://localhost), so that nothing leaves this machine"
        ))
    };
    let uri: http::Uri = url.parse().map_err(|_| refuse())?;
    if uri.scheme_str() != Some("http") {
        return Err(refuse());
    }
    let host = uri.host().ok_or_else(refuse)?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare.eq_ignore_ascii_case("localhost")
        || bare.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback());
    if !loopback {
        return Err(refuse());
    }
    let port = uri.port_u16().unwrap_or(80);
    // Every loopback address reaches a server listening on a loopback or unspecified
    // address with this port (127.0.0.2 too, on 0.0.0.0): all count as the server itself.
    if port == own.port() && (own.ip().is_loopback() || own.ip().is_unspecified()) {
        return Err(ApiError::invalid_input(format!(
            "Webhook URL \"{url}\" is not allowed: it is this local API's own address (port {port}), and a webhook that calls the API firing it could start runs without end; point it at another listener"
        )));
    }
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    Ok((host.to_owned(), port, path))
}

/// The length a complete response read so far has, if its head is complete and says
/// (`Content-Length`); `None` while it cannot be known before the connection ends.
fn complete_length(response: &[u8]) -> Option<usize> {
    let head_end = response.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    let head = String::from_utf8_lossy(&response[..head_end]);
    let length = head.lines().find_map(|line| {
        let (name, value) = line.split_once(':')?;
        name.trim()
            .eq_ignore_ascii_case("content-length")
            .then(|| value.trim().parse::<usize>().ok())
            .flatten()
    })?;
    Some(head_end.saturating_add(length))
}

/// POSTs `payload` to a loopback URL that is not `own`; the response status and its body as
/// read (at most [`MAX_RESPONSE_BYTES`] of the response; the connection is closed then).
pub async fn post(
    url: &str,
    own: SocketAddr,
    headers: &[(String, String)],
    payload: String,
) -> Result<(u16, String), String> {
    let (host, port, path) = check_url(url, own).map_err(|e| e.message.to_string())?;
    let addr_host = host.trim_start_matches('[').trim_end_matches(']');
    let addr_host = if addr_host.eq_ignore_ascii_case("localhost") {
        "127.0.0.1"
    } else {
        addr_host
    };
    let mut stream = tokio::net::TcpStream::connect((addr_host, port))
        .await
        .map_err(|e| format!("cannot connect to {host}:{port}: {e}"))?;
    let mut request = format!(
        "POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\nUser-Agent: ApifyLocalApi\r\n",
        payload.len()
    );
    for (name, value) in headers {
        // Checked at creation; a header that would break the request's framing is left out
        // here too (a webhook stored before the check, or a template rendered into one).
        if header_problem(name).is_none() && !value.contains(['\r', '\n']) {
            request.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    request.push_str("\r\n");
    request.push_str(&payload);
    stream
        .write_all(request.as_bytes())
        .await
        .map_err(|e| e.to_string())?;
    let mut response = Vec::new();
    let mut chunk = vec![0u8; 8192];
    while response.len() < MAX_RESPONSE_BYTES {
        let room = (MAX_RESPONSE_BYTES - response.len()).min(chunk.len());
        let n = stream
            .read(&mut chunk[..room])
            .await
            .map_err(|e| e.to_string())?;
        if n == 0 {
            break;
        }
        response.extend_from_slice(&chunk[..n]);
        if complete_length(&response).is_some_and(|len| response.len() >= len) {
            break;
        }
    }
    // Closed here, whatever is left unread.
    drop(stream);
    let text = String::from_utf8_lossy(&response);
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| "the response is not HTTP".to_owned())?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    Ok((code, body.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_server_itself_is_refused_at_dispatch_too() {
        let own: SocketAddr = "127.0.0.1:41234".parse().unwrap();
        for url in [
            "http://127.0.0.1:41234/v2/acts/a/runs",
            "http://localhost:41234/",
            "http://127.0.0.2:41234/",
            "http://[::1]:41234/",
        ] {
            let e = post(url, own, &[], String::new()).await.unwrap_err();
            assert!(e.contains("own address"), "{url}: {e}");
        }
        let any: SocketAddr = "0.0.0.0:41234".parse().unwrap();
        assert!(check_url("http://127.0.0.9:41234/", any).is_err());
        assert!(check_url("http://127.0.0.1:41235/", own).is_ok());
    }

    #[test]
    fn framing_headers_are_named() {
        for name in [
            "Content-Length",
            "host",
            "Proxy-Authorization",
            "TE",
            "Expect",
        ] {
            assert!(header_problem(name).unwrap().contains(name), "{name}");
        }
        assert!(header_problem("bad name").is_some());
        assert!(header_problem("X-Event").is_none());
    }
}

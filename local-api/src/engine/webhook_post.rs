//! Where a webhook may post (loopback only), and the POST of a dispatch: a minimal HTTP/1.1 request over a plain TCP connection,
//! which is all a loopback listener needs.

use std::net::IpAddr;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::error::{ApiError, ApiResult};

/// Most of a response body kept in a dispatch's call record.
const MAX_RECORDED_BODY: usize = 1000;

/// `(host, port, path)` of a webhook URL, or 400 `invalid-input` unless it is an `http://` URL
/// on a loopback address.
pub fn check_url(url: &str) -> ApiResult<(String, u16, String)> {
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
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "/".to_owned());
    Ok((host.to_owned(), uri.port_u16().unwrap_or(80), path))
}

/// POSTs `payload` to a loopback URL; the response status and (the start of) its body.
pub async fn post(
    url: &str,
    headers: &[(String, String)],
    payload: String,
) -> Result<(u16, String), String> {
    let (host, port, path) = check_url(url).map_err(|e| e.message.to_string())?;
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
        // A header that would break the request's framing is left out.
        if !name.contains(['\r', '\n', ':']) && !value.contains(['\r', '\n']) {
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
    stream
        .read_to_end(&mut response)
        .await
        .map_err(|e| e.to_string())?;
    let text = String::from_utf8_lossy(&response);
    let code = text
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse::<u16>().ok())
        .ok_or_else(|| "the response is not HTTP".to_owned())?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    Ok((code, body.chars().take(MAX_RECORDED_BODY).collect()))
}

//! The plugin's options: the JSON object of the host's `[transport.options]` table.

use std::path::PathBuf;
use std::time::Duration;

use apify_plugin_api::{redact_userinfo, serde_json::Value, Error, ErrorKind};

/// Parsed options; see the crate docs for what each one does.
#[derive(Debug, Default, Clone)]
pub(crate) struct Options {
    /// Proxy URL for every request. `None` disables proxies, the environment's included.
    pub proxy: Option<String>,
    /// A PEM CA bundle to trust instead of libcurl's default one.
    pub ca_file: Option<PathBuf>,
    /// Offer HTTP/2 (ALPN `h2`) on TLS connections.
    pub http2: bool,
    /// How long connecting (TCP, proxy, TLS handshake) may take.
    pub connect_timeout: Option<Duration>,
}

/// The proxy schemes libcurl understands; anything else is a typo better refused at once.
const PROXY_SCHEMES: [&str; 6] = ["http", "https", "socks4", "socks4a", "socks5", "socks5h"];

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::INVALID_REQUEST, message)
}

impl Options {
    /// Reads the options, refusing unknown keys and values of the wrong type by name.
    pub(crate) fn parse(value: Value) -> Result<Options, Error> {
        let Value::Object(map) = value else {
            return Err(invalid(format!(
                "the curl plugin's options must be a JSON object, not {value}"
            )));
        };
        let mut options = Options::default();
        for (key, value) in map {
            match key.as_str() {
                "proxy" => options.proxy = Some(proxy(&value)?),
                "ca_file" => options.ca_file = Some(ca_file(&value)?),
                "http2" => {
                    options.http2 = value.as_bool().ok_or_else(|| {
                        invalid(format!("option `http2` must be a boolean, not {value}"))
                    })?
                }
                "connect_timeout_secs" => options.connect_timeout = Some(seconds(&key, &value)?),
                _ => {
                    return Err(invalid(format!(
                        "unknown option `{key}` for the curl plugin (known: proxy, ca_file, \
                         http2, connect_timeout_secs)"
                    )))
                }
            }
        }
        Ok(options)
    }
}

fn proxy(value: &Value) -> Result<String, Error> {
    let url = value
        .as_str()
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| {
            // The value may hold a password: quote it only through the redaction.
            invalid(redact_userinfo(&format!(
                "option `proxy` must be a proxy URL string, not {value}"
            )))
        })?;
    // libcurl reads `host:port` as an HTTP proxy; a scheme must be one it knows, or the mistake
    // would only show as a connect error on the first request.
    if let Some((scheme, _)) = url.split_once("://") {
        if !PROXY_SCHEMES.contains(&scheme.to_ascii_lowercase().as_str()) {
            return Err(invalid(redact_userinfo(&format!(
                "option `proxy` = {url:?}: scheme {scheme:?} is not one of {}",
                PROXY_SCHEMES.join(", ")
            ))));
        }
    }
    Ok(url.to_string())
}

fn ca_file(value: &Value) -> Result<PathBuf, Error> {
    let path = value.as_str().ok_or_else(|| {
        invalid(format!(
            "option `ca_file` must be a path string, not {value}"
        ))
    })?;
    // Checked here, once: libcurl would only report a missing bundle as a TLS error of every
    // request.
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => Ok(PathBuf::from(path)),
        Ok(_) => Err(invalid(format!("option `ca_file`: {path} is not a file"))),
        Err(e) => Err(invalid(format!(
            "option `ca_file`: cannot read {path}: {e}"
        ))),
    }
}

fn seconds(key: &str, value: &Value) -> Result<Duration, Error> {
    value
        .as_f64()
        .and_then(|s| Duration::try_from_secs_f64(s).ok())
        .filter(|d| !d.is_zero())
        .ok_or_else(|| {
            invalid(format!(
                "option `{key}` must be a positive number of seconds, not {value}"
            ))
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use apify_plugin_api::serde_json::json;

    #[test]
    fn known_options_are_read() {
        let o = Options::parse(json!({
            "proxy": "http://proxy.internal:3128",
            "http2": true,
            "connect_timeout_secs": 2.5,
        }))
        .unwrap();
        assert_eq!(o.proxy.as_deref(), Some("http://proxy.internal:3128"));
        assert!(o.http2);
        assert_eq!(o.connect_timeout, Some(Duration::from_millis(2500)));
        assert!(Options::parse(json!({})).unwrap().proxy.is_none());
    }

    #[test]
    fn bad_options_are_refused_by_name() {
        let cases = [
            (json!({"proxi": "http://p"}), "`proxi`"),
            (json!({"http2": "yes"}), "`http2`"),
            (
                json!({"connect_timeout_secs": -1}),
                "`connect_timeout_secs`",
            ),
            (json!({"connect_timeout_secs": 0}), "`connect_timeout_secs`"),
            (json!({"ca_file": "/no/such/bundle.pem"}), "`ca_file`"),
            (json!({"proxy": "htp://user:secretpw@p:1"}), "`proxy`"),
        ];
        for (options, name) in cases {
            let e = Options::parse(options.clone()).expect_err(&options.to_string());
            assert_eq!(e.kind, ErrorKind::INVALID_REQUEST, "{e}");
            assert!(e.message.contains(name), "{e}");
            assert!(!e.message.contains("secretpw"), "{e}");
        }
        assert!(Options::parse(json!([1])).is_err());
    }
}

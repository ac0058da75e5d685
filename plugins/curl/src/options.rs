//! The plugin's options: the JSON object of the host's `[transport.options]` table.

use std::path::PathBuf;
use std::time::Duration;

use apify_plugin_api::options::{parse_options, Alias};
use apify_plugin_api::{redact_userinfo, serde_json::Value, Error, ErrorKind};

/// Parsed options; see the crate docs for what each one does.
#[derive(Debug, Default, Clone)]
pub(crate) struct Options {
    /// Proxy URL for every request. `None` disables proxies, unless `proxy_from_env`.
    pub proxy: Option<String>,
    /// Let libcurl read `http_proxy`, `HTTPS_PROXY`, `ALL_PROXY` and `NO_PROXY` when `proxy` is
    /// not set.
    pub proxy_from_env: bool,
    /// An extra PEM CA bundle to trust instead of libcurl's default one.
    pub ca_file: Option<PathBuf>,
    /// Offer HTTP/2 (ALPN `h2`) on TLS connections.
    pub http2: bool,
    /// How long connecting (TCP, proxy, TLS handshake) may take.
    pub connect_timeout: Option<Duration>,
    /// How many idle multi handles (each with its connection cache) are kept.
    pub pool_max_idle: Option<usize>,
    /// Deprecated names used, one line each.
    pub warnings: Vec<String>,
}

/// The proxy schemes libcurl understands; anything else is a typo better refused at once.
const PROXY_SCHEMES: [&str; 6] = ["http", "https", "socks4", "socks4a", "socks5", "socks5h"];

/// The curl plugin's older names of standard options, still read, with a warning.
const ALIASES: [Alias; 2] = [
    Alias::renamed("ca_file", "ca_cert_file"),
    Alias::seconds_to_ms("connect_timeout_secs", "connect_timeout_ms"),
];

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::INVALID_REQUEST, message)
}

impl Options {
    /// Reads the options (the standard ones, and the deprecated `ca_file` and
    /// `connect_timeout_secs`), refusing unknown keys and values of the wrong type by name.
    pub(crate) fn parse(value: Value) -> Result<Options, Error> {
        if !value.is_object() {
            return Err(invalid(format!(
                "the curl plugin's options must be a JSON object, not {}",
                redact_userinfo(&value.to_string())
            )));
        }
        let parsed = parse_options(value, &ALIASES)?;
        parsed.check_own_options("curl", &[])?;
        let s = parsed.standard;
        Ok(Options {
            proxy: s.proxy.as_deref().map(proxy).transpose()?,
            proxy_from_env: s.proxy_from_env,
            ca_file: s.ca_cert_file.clone(),
            http2: s.http2.unwrap_or(false),
            connect_timeout: s.connect_timeout(),
            pool_max_idle: s.pool_max_idle_per_host,
            warnings: parsed.warnings,
        })
    }
}

fn proxy(url: &str) -> Result<String, Error> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use apify_plugin_api::serde_json::json;

    #[test]
    fn known_options_are_read() {
        let o = Options::parse(json!({
            "proxy": "http://proxy.internal:3128",
            "http2": true,
            "connect_timeout_ms": 2500,
            "pool_max_idle_per_host": 4,
            "proxy_from_env": true,
        }))
        .unwrap();
        assert_eq!(o.proxy.as_deref(), Some("http://proxy.internal:3128"));
        assert!(o.http2 && o.proxy_from_env);
        assert_eq!(o.connect_timeout, Some(Duration::from_millis(2500)));
        assert_eq!(o.pool_max_idle, Some(4));
        assert!(o.warnings.is_empty());
        assert!(Options::parse(json!({})).unwrap().proxy.is_none());
    }

    #[test]
    fn old_names_are_read_with_a_warning() {
        let o = Options::parse(json!({"connect_timeout_secs": 2.5, "ca_file": "Cargo.toml"}))
            .unwrap();
        assert_eq!(o.connect_timeout, Some(Duration::from_millis(2500)));
        assert_eq!(o.ca_file, Some(PathBuf::from("Cargo.toml")));
        assert_eq!(o.warnings.len(), 2, "{:?}", o.warnings);
        assert!(o.warnings.iter().any(|w| w.contains("`ca_cert_file`")));
        assert!(o.warnings.iter().any(|w| w.contains("`connect_timeout_ms`")));
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
            (json!({"connect_timeout_ms": 0}), "`connect_timeout_ms`"),
            (json!({"ca_file": "/no/such/bundle.pem"}), "`ca_cert_file`"),
            (json!({"ca_cert_file": "/no/such/bundle.pem"}), "`ca_cert_file`"),
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

//! The standard transport options: one vocabulary that every transport reads from the config's
//! `[transport.options]` table, the built-in transport included (added in 1.3; additive).
//!
//! | option | type | means |
//! |---|---|---|
//! | `proxy` | string | proxy URL for every request: `http://[user:password@]host:port` (the origin's `http://` URLs are sent to it in absolute form, `https://` ones through a `CONNECT` tunnel), and `https://` (TLS to the proxy) or `socks5://`/`socks5h://` proxies where the library has them (the built-in transport takes both). Credentials in it become `Proxy-Authorization: Basic` and never appear in a message |
//! | `proxy_from_env` | bool, default `false` | take the proxy from the environment when `proxy` is not set (below) |
//! | `ca_cert_file` | path | an extra PEM CA certificate (or bundle) to trust, on top of the transport's roots; it must exist. The built-in transport trusts it for an `https://` proxy's certificate too |
//! | `connect_timeout_ms` | integer > 0 | how long connecting may take, in milliseconds |
//! | `pool_max_idle_per_host` | integer | idle keep-alive connections kept per host (`0`: none) |
//! | `http2` | bool | `true`: offer HTTP/2 on `https://` connections (ALPN), `false`: HTTP/1.1 only; unset: the transport's default |
//!
//! **The environment** (`proxy_from_env = true`), read as curl documents these variables:
//! - `http_proxy` (also `HTTP_PROXY`, except in a CGI program, where a client could set it):
//!   the proxy for `http://` URLs;
//! - `HTTPS_PROXY` (or `https_proxy`): the proxy for `https://` URLs;
//! - `ALL_PROXY` (or `all_proxy`): the proxy for both when the one above is not set;
//! - `NO_PROXY` (or `no_proxy`): comma-separated host names that go direct; a name matches
//!   itself and its subdomains (a leading dot is allowed), `*` matches every host, and IP
//!   addresses (with a `/bits` mask where the library supports it) match addresses.
//!
//! Their values are proxy URLs as `proxy` takes them (an `https://` proxy where the transport
//! has them, the built-in one included).
//!
//! Without `proxy_from_env` no transport reads these variables: ops configure a transport in
//! one place. An explicit `proxy` wins over the environment.
//!
//! A transport reads them with [`parse_options`], which also renames its own **deprecated
//! names** ([`Alias`]) and leaves every other key for the transport's own options:
//!
//! ```
//! use apify_plugin_api::options::{parse_options, Alias};
//! use apify_plugin_api::serde_json::json;
//!
//! let options = json!({"ca_file": "Cargo.toml", "connect_timeout_ms": 2500, "verbose": true});
//! let parsed = parse_options(options, &[Alias::renamed("ca_file", "ca_cert_file")]).unwrap();
//! assert_eq!(parsed.standard.connect_timeout_ms, Some(2500));
//! assert!(parsed.standard.ca_cert_file.is_some());
//! assert_eq!(parsed.warnings, ["option `ca_file` is deprecated: write `ca_cert_file` instead"]);
//! // What is left is the transport's own; refuse what it does not know, by name.
//! let e = parsed.check_own_options("example", &[]).unwrap_err();
//! assert!(e.message.contains("unknown option `verbose`"), "{e}");
//! ```
//!
//! Report the warnings once, from `new`, through the host's log ([`crate::log::warn!`], or
//! [`warn`], which also masks credentials in URLs); a host before 1.4, which has no log
//! channel, gets them on standard error.

use std::fmt;
use std::path::PathBuf;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::ffi::ErrorKind;
use crate::types::{redact_userinfo, Error};

/// The names of the standard options, in the order the docs list them.
pub const STANDARD_OPTIONS: [&str; 6] = [
    "proxy",
    "proxy_from_env",
    "ca_cert_file",
    "connect_timeout_ms",
    "pool_max_idle_per_host",
    "http2",
];

/// The standard options (see the [module docs](self)); `None` or `false`: not set.
///
/// Its `Debug` shows the proxy without its credentials.
#[derive(Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
#[non_exhaustive]
pub struct StandardOptions {
    /// Proxy URL for every request.
    pub proxy: Option<String>,
    /// Take the proxy from `HTTPS_PROXY`, `HTTP_PROXY`, `ALL_PROXY` and `NO_PROXY` when
    /// `proxy` is not set.
    pub proxy_from_env: bool,
    /// An extra PEM CA certificate file to trust.
    pub ca_cert_file: Option<PathBuf>,
    /// Connect timeout, in milliseconds.
    pub connect_timeout_ms: Option<u64>,
    /// Idle keep-alive connections kept per host.
    pub pool_max_idle_per_host: Option<usize>,
    /// Offer HTTP/2 (`true`) or speak HTTP/1.1 only (`false`).
    pub http2: Option<bool>,
}

impl fmt::Debug for StandardOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StandardOptions")
            .field("proxy", &self.proxy.as_deref().map(redact_proxy))
            .field("proxy_from_env", &self.proxy_from_env)
            .field("ca_cert_file", &self.ca_cert_file)
            .field("connect_timeout_ms", &self.connect_timeout_ms)
            .field("pool_max_idle_per_host", &self.pool_max_idle_per_host)
            .field("http2", &self.http2)
            .finish()
    }
}

impl StandardOptions {
    /// The connect timeout as a duration.
    pub fn connect_timeout(&self) -> Option<std::time::Duration> {
        self.connect_timeout_ms
            .map(std::time::Duration::from_millis)
    }

    /// The names of the options that are set, for a transport to refuse those it cannot honour
    /// (see [`ParsedOptions::refuse`]).
    pub fn set_names(&self) -> Vec<&'static str> {
        let set = [
            self.proxy.is_some(),
            self.proxy_from_env,
            self.ca_cert_file.is_some(),
            self.connect_timeout_ms.is_some(),
            self.pool_max_idle_per_host.is_some(),
            self.http2.is_some(),
        ];
        STANDARD_OPTIONS
            .iter()
            .zip(set)
            .filter_map(|(name, set)| set.then_some(*name))
            .collect()
    }

    /// The bytes of `ca_cert_file`, if set; an [`ErrorKind::INVALID_REQUEST`] error naming the
    /// option and the file when it cannot be read.
    pub fn read_ca_cert_file(&self) -> Result<Option<Vec<u8>>, Error> {
        let Some(path) = &self.ca_cert_file else {
            return Ok(None);
        };
        std::fs::read(path).map(Some).map_err(|e| {
            invalid(format!(
                "option `ca_cert_file`: cannot read {}: {e}",
                path.display()
            ))
        })
    }
}

/// A proxy URL as it may be shown: its credentials masked (`http://***@proxy:3128`), and a
/// value that is not a URL with a scheme shown as `***` if it has an `@` at all.
pub fn redact_proxy(url: &str) -> String {
    if url.contains("://") {
        redact_userinfo(url)
    } else if url.contains('@') {
        "***".to_string()
    } else {
        url.to_string()
    }
}

/// Checks a proxy URL: it parses as a URL whose scheme is one of `schemes` (lower case). The
/// error never quotes the value (a mistyped one may hold a password in a form no redactor
/// recognises).
///
/// ```
/// # use apify_plugin_api::options::check_proxy_url;
/// assert!(check_proxy_url("http://user:pw@proxy:3128", &["http"]).is_ok());
/// let e = check_proxy_url("socks5://user:secret@proxy:1080", &["http"]).unwrap_err();
/// assert!(e.message.contains("socks5") && !e.message.contains("secret"), "{e}");
/// ```
pub fn check_proxy_url(url: &str, schemes: &[&str]) -> Result<(), Error> {
    let expected = format!(
        "write it as {}://proxy.internal:3128 or {}://user:password@proxy.internal:3128 \
         (schemes this transport takes: {})",
        schemes.first().unwrap_or(&"http"),
        schemes.first().unwrap_or(&"http"),
        schemes.join(", ")
    );
    let Some((scheme, _)) = url.split_once("://") else {
        return Err(invalid(format!(
            "option `proxy` is not a proxy URL with a scheme; {expected}"
        )));
    };
    let scheme = scheme.to_ascii_lowercase();
    if !schemes.contains(&scheme.as_str()) {
        return Err(invalid(format!(
            "option `proxy`: this transport cannot use a {scheme:?} proxy; {expected}"
        )));
    }
    match url.parse::<http::Uri>() {
        Ok(uri) if uri.host().is_some_and(|h| !h.is_empty()) => Ok(()),
        _ => Err(invalid(format!(
            "option `proxy` is not a valid proxy URL; {expected}"
        ))),
    }
}

/// A deprecated option name a transport still accepts: read as `new`, with a warning.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Alias {
    /// The old name.
    pub old: &'static str,
    /// The standard name it stands for.
    pub new: &'static str,
    /// How the old value becomes the new one.
    pub value: AliasValue,
}

/// How an [`Alias`]'s value converts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum AliasValue {
    /// The same value.
    Same,
    /// A number of seconds (may be fractional) that becomes whole milliseconds.
    SecondsToMs,
}

impl Alias {
    /// `old` means `new`, with the same value.
    pub const fn renamed(old: &'static str, new: &'static str) -> Alias {
        Alias {
            old,
            new,
            value: AliasValue::Same,
        }
    }

    /// `old` is in seconds and means `new` in milliseconds (`connect_timeout_secs`).
    pub const fn seconds_to_ms(old: &'static str, new: &'static str) -> Alias {
        Alias {
            old,
            new,
            value: AliasValue::SecondsToMs,
        }
    }
}

/// What [`parse_options`] found.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ParsedOptions {
    /// The standard options.
    pub standard: StandardOptions,
    /// Every other key: the transport's own options, to check with
    /// [`ParsedOptions::check_own_options`].
    pub own: Map<String, Value>,
    /// One line per deprecated name used; log them with [`crate::log::warn!`] or [`warn`].
    pub warnings: Vec<String>,
}

impl ParsedOptions {
    /// Refuses, by name, a key of [`ParsedOptions::own`] not in `known`, listing every option
    /// the transport takes (the standard ones, then `known`).
    pub fn check_own_options(&self, transport: &str, known: &[&str]) -> Result<(), Error> {
        match self.own.keys().find(|k| !known.contains(&k.as_str())) {
            Some(key) => Err(invalid(format!(
                "unknown option `{key}` for the {transport} transport (it takes: {})",
                STANDARD_OPTIONS
                    .iter()
                    .chain(known)
                    .copied()
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
            None => Ok(()),
        }
    }

    /// Refuses a standard option this transport cannot honour, if it is set, with `why` (say
    /// what to use instead).
    pub fn refuse(&self, name: &str, why: &str) -> Result<(), Error> {
        if self.standard.set_names().contains(&name) {
            return Err(invalid(format!("option `{name}`: {why}")));
        }
        Ok(())
    }
}

/// Reads the standard options out of a transport's options (the JSON object `new` gets),
/// renaming `aliases` first; every other key is left in [`ParsedOptions::own`].
///
/// An [`ErrorKind::INVALID_REQUEST`] error, naming the option and what it takes, for options
/// that are not an object, a value of the wrong type, a `ca_cert_file` that is not a file, an
/// old name given with its new one.
pub fn parse_options(options: Value, aliases: &[Alias]) -> Result<ParsedOptions, Error> {
    let Value::Object(mut map) = options else {
        return Err(invalid(
            "the transport options must be a JSON object (a [transport.options] table)".into(),
        ));
    };
    let mut warnings = Vec::new();
    for alias in aliases {
        let Some(value) = map.remove(alias.old) else {
            continue;
        };
        if map.contains_key(alias.new) {
            return Err(invalid(format!(
                "options `{}` and `{}` are the same setting; keep only `{}` (`{}` is deprecated)",
                alias.old, alias.new, alias.new, alias.old
            )));
        }
        let value = match alias.value {
            AliasValue::Same => value,
            AliasValue::SecondsToMs => {
                let ms = value
                    .as_f64()
                    .filter(|s| s.is_finite() && *s > 0.0)
                    .map(|s| (s * 1000.0).ceil() as u64)
                    .ok_or_else(|| {
                        invalid(format!(
                            "option `{}` must be a positive number of seconds, not {value}",
                            alias.old
                        ))
                    })?;
                Value::from(ms)
            }
        };
        warnings.push(match alias.value {
            AliasValue::Same => format!(
                "option `{}` is deprecated: write `{}` instead",
                alias.old, alias.new
            ),
            AliasValue::SecondsToMs => format!(
                "option `{}` is deprecated: write `{}` instead (in milliseconds: {value})",
                alias.old, alias.new
            ),
        });
        map.insert(alias.new.to_string(), value);
    }
    let mut standard = StandardOptions::default();
    if let Some(v) = map.remove("proxy") {
        standard.proxy = Some(
            v.as_str()
                .filter(|s| !s.trim().is_empty())
                .ok_or_else(|| invalid("option `proxy` must be a proxy URL string".to_string()))?
                .to_string(),
        );
    }
    if let Some(v) = map.remove("proxy_from_env") {
        standard.proxy_from_env = boolean("proxy_from_env", &v)?;
    }
    if let Some(v) = map.remove("ca_cert_file") {
        let path = v.as_str().ok_or_else(|| {
            invalid(format!(
                "option `ca_cert_file` must be the path of a PEM file, not {v}"
            ))
        })?;
        match std::fs::metadata(path) {
            Ok(m) if m.is_file() => {}
            Ok(_) => {
                return Err(invalid(format!(
                    "option `ca_cert_file`: {path} is not a file"
                )))
            }
            Err(e) => {
                return Err(invalid(format!(
                    "option `ca_cert_file`: cannot read {path}: {e}"
                )))
            }
        }
        standard.ca_cert_file = Some(PathBuf::from(path));
    }
    if let Some(v) = map.remove("connect_timeout_ms") {
        standard.connect_timeout_ms = Some(v.as_u64().filter(|ms| *ms > 0).ok_or_else(|| {
            invalid(format!(
                "option `connect_timeout_ms` must be a positive whole number of milliseconds, \
                 not {v}"
            ))
        })?);
    }
    if let Some(v) = map.remove("pool_max_idle_per_host") {
        let n = v.as_u64().and_then(|n| usize::try_from(n).ok());
        standard.pool_max_idle_per_host = Some(n.ok_or_else(|| {
            invalid(format!(
                "option `pool_max_idle_per_host` must be a whole number (0 or more), not {v}"
            ))
        })?);
    }
    if let Some(v) = map.remove("http2") {
        standard.http2 = Some(boolean("http2", &v)?);
    }
    Ok(ParsedOptions {
        standard,
        own: map,
        warnings,
    })
}

fn boolean(name: &str, v: &Value) -> Result<bool, Error> {
    v.as_bool()
        .ok_or_else(|| invalid(format!("option `{name}` must be true or false, not {v}")))
}

/// Logs a warning about a transport's options through the host's log ([`crate::log`]), with
/// the credentials of any URL in it masked. Without a host channel (a host before 1.4) it is
/// printed on standard error, as `warning: the TRANSPORT transport: WARNING`.
pub fn warn(transport: &str, warning: &str) {
    crate::log::emit(
        crate::log::Level::Warn,
        &redact_userinfo(warning),
        Some(transport),
    );
}

fn invalid(message: String) -> Error {
    Error::new(ErrorKind::INVALID_REQUEST, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn standard_names_are_read_and_the_rest_is_left() {
        let p = parse_options(
            json!({
                "proxy": "http://u:secretpw@p:3128",
                "proxy_from_env": true,
                "connect_timeout_ms": 1500,
                "pool_max_idle_per_host": 0,
                "http2": false,
                "tls_roots": "system",
            }),
            &[],
        )
        .unwrap();
        assert_eq!(p.standard.connect_timeout_ms, Some(1500));
        assert_eq!(p.standard.pool_max_idle_per_host, Some(0));
        assert_eq!(p.standard.http2, Some(false));
        assert!(p.standard.proxy_from_env);
        assert_eq!(p.own.keys().collect::<Vec<_>>(), ["tls_roots"]);
        assert!(p.warnings.is_empty());
        let debug = format!("{:?}", p.standard);
        assert!(!debug.contains("secretpw"), "{debug}");
        assert!(debug.contains("http://***@p:3128"), "{debug}");
        assert!(p.check_own_options("t", &["tls_roots"]).is_ok());
        assert!(p.refuse("http2", "no").is_err());
        assert!(p.refuse("ca_cert_file", "no").is_ok());
    }

    #[test]
    fn aliases_convert_and_warn() {
        let aliases = [
            Alias::seconds_to_ms("connect_timeout_secs", "connect_timeout_ms"),
            Alias::renamed("http2_prior_knowledge", "http2"),
        ];
        let p = parse_options(json!({"connect_timeout_secs": 2.5}), &aliases).unwrap();
        assert_eq!(p.standard.connect_timeout_ms, Some(2500));
        assert_eq!(p.warnings.len(), 1);
        assert!(
            p.warnings[0].contains("`connect_timeout_ms`"),
            "{:?}",
            p.warnings
        );
        let e = parse_options(
            json!({"connect_timeout_secs": 1, "connect_timeout_ms": 5}),
            &aliases,
        )
        .unwrap_err();
        assert!(e.message.contains("same setting"), "{e}");
        assert!(parse_options(json!({"connect_timeout_secs": 0}), &aliases).is_err());
    }

    #[test]
    fn bad_values_are_refused_by_name() {
        for (options, name) in [
            (json!({"proxy": 3}), "`proxy`"),
            (json!({"proxy": " "}), "`proxy`"),
            (json!({"http2": "yes"}), "`http2`"),
            (json!({"connect_timeout_ms": 0}), "`connect_timeout_ms`"),
            (json!({"connect_timeout_ms": 1.5}), "`connect_timeout_ms`"),
            (
                json!({"pool_max_idle_per_host": -1}),
                "`pool_max_idle_per_host`",
            ),
            (json!({"ca_cert_file": "/no/such/ca.pem"}), "`ca_cert_file`"),
            (json!({"proxy_from_env": 1}), "`proxy_from_env`"),
        ] {
            let e = parse_options(options.clone(), &[]).expect_err(&options.to_string());
            assert_eq!(e.kind, ErrorKind::INVALID_REQUEST);
            assert!(e.message.contains(name), "{e}");
        }
        assert!(parse_options(json!([]), &[]).is_err());
    }

    #[test]
    fn proxy_urls_are_checked_without_being_echoed() {
        assert!(check_proxy_url("http://proxy:3128", &["http", "socks5"]).is_ok());
        for bad in [
            "proxy:3128",
            "ftp://u:pw99@p:1",
            "http://",
            "http://u:pw99@[bad",
        ] {
            let e = check_proxy_url(bad, &["http"]).expect_err(bad);
            assert!(!e.message.contains("pw99"), "{e}");
        }
        assert_eq!(redact_proxy("u:pw@p:1"), "***");
        assert_eq!(redact_proxy("http://u:pw@p:1"), "http://***@p:1");
    }
}

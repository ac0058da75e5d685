//! `apify-host api METHOD PATH`: a raw call through the client's pipeline, like `apify api`.

use std::path::PathBuf;

use clap::Args;
use http::Method;
use percent_encoding::{utf8_percent_encode, AsciiSet, CONTROLS};

use crate::{context::Context, error::CliError, input::InputSource, output::write_body};
use apify_host::{clients::StreamedBody, pipeline::TimeoutTier};

/// Characters escaped in a user-given path: those that would end or break the path part of a
/// URL. `%` stays, so already-encoded paths pass unchanged.
const PATH: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// The long help of `apify-host api`.
pub const LONG_ABOUT: &str = "Call any Apify API endpoint through the client's pipeline: the same \
    token, retries, timeouts and transport as every other command. The response body is \
    written to stdout (or --out FILE) as it arrives; an error status exits with 1 and prints \
    the API's error message.\n\n\
    PATH is relative to the API base URL; /v2 is added when missing, and a query string in PATH \
    is kept. The body (--body) is JSON, checked before anything is sent, unless --content-type \
    says otherwise.\n\n\
    Examples:\n  apify-host api GET /v2/users/me\n  apify-host api GET datasets --param limit=5 --param desc=true\n  \
    apify-host api POST /v2/datasets/my-ds/items --body '[{\"a\": 1}]'\n  \
    apify-host api PUT key-value-stores/my-store/records/notes --body @notes.txt --content-type text/plain\n  \
    apify-host api GET /v2/acts -H 'X-Request-Id: 42'";

/// Options of `apify-host api`.
#[derive(Debug, Args)]
pub struct ApiArgs {
    /// HTTP method: GET, POST, PUT, PATCH, DELETE or HEAD.
    #[arg(value_parser = parse_method)]
    pub method: Method,
    /// API path, e.g. /v2/users/me or `datasets?limit=5`.
    pub path: String,
    /// Request body: JSON text, @FILE, or - for stdin.
    #[arg(long, short = 'b', value_name = "BODY")]
    pub body: Option<InputSource>,
    /// Content type of the body (default application/json, and then the body must be JSON).
    #[arg(long, value_name = "TYPE", requires = "body")]
    pub content_type: Option<String>,
    /// Extra request header NAME:VALUE (repeat for more); it wins over a default header of the
    /// same name.
    #[arg(long = "header", short = 'H', value_name = "NAME:VALUE", value_parser = parse_header)]
    pub headers: Vec<(String, String)>,
    /// Query parameter NAME=VALUE (repeat for more).
    #[arg(long = "param", short = 'p', value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
    /// Write the response body to FILE instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

fn parse_method(s: &str) -> Result<Method, String> {
    let upper = s.to_ascii_uppercase();
    match upper.as_str() {
        "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" => {
            Method::from_bytes(upper.as_bytes()).map_err(|e| e.to_string())
        }
        _ => Err(format!(
            "{s:?} is not one of GET, POST, PUT, PATCH, DELETE, HEAD"
        )),
    }
}

fn parse_param(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("{s:?} is not NAME=VALUE")),
    }
}

fn parse_header(s: &str) -> Result<(String, String), String> {
    let (name, value) = s
        .split_once(':')
        .ok_or_else(|| "expected NAME:VALUE, e.g. -H 'X-Request-Id: 42'".to_string())?;
    let name = name.trim();
    // Checked here, so a bad header is a usage error before anything is sent; the value is
    // never echoed (it may be a credential).
    http::HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("{name:?} is not a valid header name"))?;
    let value = value.trim();
    http::HeaderValue::from_str(value).map_err(|_| {
        format!("the value of header {name} contains characters a header cannot carry")
    })?;
    Ok((name.to_string(), value.to_string()))
}

/// The request path (encoded, starting with `/v2`) and the query pairs of `raw`.
fn split_path(raw: &str) -> Result<(String, Vec<(String, String)>), CliError> {
    let raw = raw.trim();
    if raw.contains("://") {
        return Err(CliError::usage(format!(
            "{raw:?} is a URL; give a path such as /v2/users/me (the base URL comes from \
             --api-url, APIFY_API_BASE_URL or `api_url` in the config)"
        )));
    }
    let (path, query) = raw.split_once('?').unwrap_or((raw, ""));
    let path = path.split('#').next().unwrap_or("").trim_start_matches('/');
    let path = if path == "v2" || path.starts_with("v2/") {
        path.to_string()
    } else {
        format!("v2/{path}")
    };
    let encoded = format!("/{}", utf8_percent_encode(&path, PATH));
    let pairs = url::form_urlencoded::parse(query.as_bytes())
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    Ok((encoded, pairs))
}

/// Runs `apify-host api`.
pub async fn run(ctx: &Context, args: ApiArgs) -> Result<(), CliError> {
    let (path, query) = split_path(&args.path)?;
    let client = ctx.client()?;
    let mut req = client
        .request(args.method.clone(), &path)
        .timeout(TimeoutTier::Long);
    for (k, v) in query.iter().chain(args.params.iter()) {
        req = req.query(k, v.as_str());
    }
    for (name, value) in &args.headers {
        req = req.header(name, value);
    }
    if let Some(body) = &args.body {
        // Read and check the body before anything else: bad input never causes a request.
        let input = body.read()?;
        req = match args.content_type.as_deref() {
            None => req.json_bytes(input.into_json()?.bytes),
            Some(ct)
                if ct
                    .split(';')
                    .next()
                    .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json")) =>
            {
                let bytes = input.into_json()?.bytes;
                req.body(ct, bytes)
            }
            Some(ct) => {
                if http::HeaderValue::from_str(ct).is_err() {
                    return Err(CliError::usage(format!(
                        "--content-type {ct:?} is not a valid header value"
                    )));
                }
                req.body(ct, input.bytes)
            }
        };
    }
    // Streamed, but the pipeline reads a body announced under `read_whole_below` (1 MiB by
    // default) whole inside its retry loop, so a small answer cut mid-body is retried and
    // printed once; a larger GET that breaks is resumed with Range where the server allows.
    let is_get = args.method == Method::GET;
    let req = req.stream().build()?;
    let resp = client.execute(req.clone()).await?;
    tracing::info!(status = resp.status.as_u16(), "api: response");
    // Only a GET is sent again to rewrite a file from the start: it changes nothing.
    let reopen = || async {
        if !is_get {
            return Ok(None);
        }
        Ok(Some(StreamedBody::from_response(
            client.execute(req.clone()).await?,
        )))
    };
    write_body(
        StreamedBody::from_response(resp),
        args.out.as_deref(),
        reopen,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_get_v2_and_keep_queries() {
        let (p, q) = split_path("users/me").unwrap();
        assert_eq!(p, "/v2/users/me");
        assert!(q.is_empty());
        let (p, q) = split_path("/v2/datasets?limit=5&desc=1").unwrap();
        assert_eq!(p, "/v2/datasets");
        assert_eq!(
            q,
            vec![("limit".into(), "5".into()), ("desc".into(), "1".into())]
        );
        let (p, _) = split_path("/v2/key-value-stores/s/records/a b").unwrap();
        assert_eq!(p, "/v2/key-value-stores/s/records/a%20b");
        assert!(split_path("https://api.apify.com/v2/users/me").is_err());
    }

    #[test]
    fn headers_parse_and_refuse_bad_ones() {
        assert_eq!(
            parse_header("X-Request-Id: 42").unwrap(),
            ("X-Request-Id".to_string(), "42".to_string())
        );
        assert!(parse_header("no-colon").is_err());
        assert!(parse_header("bad name: x").is_err());
        let err = parse_header("X-Secret: a\u{7f}b").unwrap_err();
        assert!(!err.contains("a\u{7f}b"), "the value is not echoed: {err}");
    }

    #[test]
    fn methods() {
        assert_eq!(parse_method("get").unwrap(), Method::GET);
        assert!(parse_method("FETCH").is_err());
    }
}

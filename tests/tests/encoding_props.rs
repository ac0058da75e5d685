//! Property tests of what goes on the wire, through the whole pipeline and the built-in
//! transport against a loopback echo server: any query parameter name and value arrives as
//! sent (decoded), any path segment arrives as one segment that decodes to itself, and any
//! header value is either refused before sending or arrives byte for byte.

use std::sync::OnceLock;

use apify_host::{
    pipeline::{ApiRequest, HttpSettings},
    transport::BuiltinTransport,
    ApifyClient,
};
use http::Method;
use proptest::prelude::*;
use testkit::TestServer;

struct Rig {
    rt: tokio::runtime::Runtime,
    server: TestServer,
    client: ApifyClient,
}

fn rig() -> &'static Rig {
    static RIG: OnceLock<Rig> = OnceLock::new();
    RIG.get_or_init(|| {
        let (rt, server) = apify_tests::server_on_own_runtime();
        let client = ApifyClient::builder()
            .transport(std::sync::Arc::new(BuiltinTransport::new().unwrap()))
            .settings(HttpSettings::default().max_retries(0))
            .api_url(server.url(""))
            .build()
            .unwrap();
        Rig { rt, server, client }
    })
}

fn echo(req: ApiRequest) -> Result<serde_json::Value, apify_host::Error> {
    let r = rig();
    r.rt.block_on(async { r.client.execute(req).await?.json().await })
}

fn decode(s: &str) -> String {
    percent_encoding::percent_decode_str(s)
        .decode_utf8()
        .expect("UTF-8")
        .into_owned()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn query_params_arrive_as_sent(
        params in proptest::collection::vec(("\\PC{1,12}", "\\PC{0,24}"), 1..4),
    ) {
        let req = params
            .iter()
            .fold(ApiRequest::new(Method::GET, "/echo"), |r, (k, v)| r.query(k, v.clone()));
        let got = echo(req).unwrap();
        let query = got["query"].as_str().unwrap_or_default().to_string();
        let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.into_owned(), v.into_owned()))
            .collect();
        prop_assert_eq!(pairs, params);
    }

    #[test]
    fn a_segment_is_one_segment_that_decodes_to_itself(segment in "\\PC{1,20}") {
        let req = ApiRequest::new(Method::GET, "/seg").segment(&segment);
        match echo(req) {
            // `.`, `..` and their encodings are refused before anything is sent.
            Err(e) if e.is_invalid_input() => {
                prop_assert!(decode(&decode(&segment)).trim_matches('.').is_empty()
                    || segment.contains('%'));
            }
            // Anything else reaches the server (as a 404 of the test server).
            _ => {
                // The other properties run in parallel on the same server: take this one's.
                let log = rig().server.requests();
                let last = log.iter().rev().find(|r| r.path.starts_with("/seg/")).unwrap();
                let rest = last.path.strip_prefix("/seg/").unwrap();
                prop_assert!(!rest.contains('/') && !rest.contains('?') && !rest.contains('#'));
                prop_assert_eq!(decode(rest), segment);
            }
        }
    }

    #[test]
    fn header_values_are_refused_or_arrive_byte_for_byte(value in "[\\x00-\\x7f]{0,30}") {
        let req = ApiRequest::new(Method::GET, "/echo").try_header("x-prop", &value);
        let valid = http::HeaderValue::from_str(&value).is_ok();
        prop_assert_eq!(req.is_ok(), valid);
        if let Ok(req) = req {
            let got = echo(req).unwrap();
            let sent = got["headers"]
                .as_array()
                .unwrap()
                .iter()
                .find(|h| h[0] == "x-prop")
                .map(|h| h[1].as_str().unwrap().to_string());
            // HTTP/1.1 trims optional whitespace around a field value.
            prop_assert_eq!(sent.as_deref(), Some(value.trim_matches([' ', '\t'])));
        }
    }
}

//! A plugin that fails with every transport error kind: the pipeline retries each exactly as
//! its kind says (transient kinds up to `max_retries`, permanent kinds never, `OTHER` and
//! unknown kinds as the plugin's `retryable` hint says), and the error keeps the plugin's kind
//! and message.

use std::{sync::Arc, time::Duration};

use apify_host::{
    pipeline::{ApiRequest, HttpSettings},
    transport::plugin::{load_plugin, PluginLoadOptions},
    transport::{HttpTransport, TransportErrorKind as ErrorKind},
};
use apify_tests::{pipeline_support::client_at, plugin_path};
use http::Method;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_error_kind_is_retried_exactly_as_its_kind_says() {
    let faulty = load_plugin(
        &plugin_path("fixture_faulty_plugin"),
        &PluginLoadOptions::default(),
    )
    .unwrap();
    let transport: Arc<dyn HttpTransport> =
        Arc::new(faulty.new_client(&serde_json::json!({})).unwrap());
    let settings = HttpSettings::default()
        .max_retries(3)
        .min_delay_between_retries(Duration::from_millis(1));
    // (kind, retryable hint, attempts expected)
    let mut cases = vec![];
    for kind in ErrorKind::ALL {
        for hint in [false, true] {
            let attempts = match kind.is_transient() {
                Some(true) => 4,
                Some(false) => 1,
                None => {
                    if hint {
                        4
                    } else {
                        1
                    }
                }
            };
            cases.push((kind, hint, attempts));
        }
    }
    // A kind from a newer interface that this host does not know: the hint decides.
    cases.push((ErrorKind(200), true, 4));
    cases.push((ErrorKind(200), false, 1));

    for (kind, hint, expected) in cases {
        let pipeline = client_at(
            transport.clone(),
            settings.clone(),
            "http://127.0.0.1:9",
            None,
        );
        let path = format!("/__fault/kind/{}", kind.0);
        let req = ApiRequest::new(Method::GET, path).query("retryable", if hint { 1 } else { 0 });
        let err = pipeline
            .execute(req)
            .await
            .expect_err("the plugin always fails");
        let Some(f) = err.transport_failure() else {
            panic!("{kind} → expected a transport error, got {err}")
        };
        assert_eq!(f.kind, kind, "{err}");
        assert!(
            f.message.contains("fixture error of kind"),
            "keeps the plugin's message: {err}"
        );
        assert_eq!(f.attempt, expected, "{kind} (retryable hint {hint}): {err}");
        assert_eq!(
            pipeline.statistics().requests,
            expected as u64,
            "{kind} (retryable hint {hint}) attempts"
        );
        assert!(
            err.to_string().contains("plugin:faulty"),
            "names the transport: {err}"
        );
    }
}

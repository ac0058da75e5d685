//! A worker told to look for work before it sleeps (`APIFY_TRANSPORT_WORKER_SPIN_US`) serves
//! calls, bodies and a crash as one that sleeps at once. A binary of its own: the variable is
//! set for the whole process, and the workers inherit it from there.

use std::{sync::Arc, time::Duration};

use apify_host::transport::{
    plugin::PluginLoadOptions, HttpTransport, IsolatedTransport, Isolation,
    TransportRequest as Request,
};
use apify_tests::plugin_path;
use futures_util::StreamExt;
use serde_json::json;
use testkit::TestServer;

fn get(url: String) -> Request {
    apify_tests::get_request(url, Some(Duration::from_secs(30)))
}

async fn body_len(t: &dyn HttpTransport, req: Request) -> Result<usize, String> {
    let resp = t.call(req).await.map_err(|e| e.to_string())?;
    let mut n = 0;
    let mut body = resp.body;
    while let Some(chunk) = body.next().await {
        n += chunk.map_err(|e| e.to_string())?.len();
    }
    Ok(n)
}

#[test]
fn a_spinning_worker_serves_calls_bodies_and_a_crash() {
    // SAFETY: the only test of this binary sets it before any worker or runtime starts.
    unsafe { std::env::set_var("APIFY_TRANSPORT_WORKER_SPIN_US", "200") };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let server = TestServer::start().await;
        for lib in ["apify_transport_hyper", "fixture_faulty_plugin"] {
            let t = Arc::new(
                IsolatedTransport::start(
                    &plugin_path(lib),
                    &PluginLoadOptions::default().isolation(Isolation::Process),
                    &json!({}),
                    true,
                )
                .unwrap_or_else(|e| panic!("{e}")),
            );
            let pid = t.worker_pid().unwrap();
            let environ = std::fs::read(format!("/proc/{pid}/environ")).unwrap();
            assert!(
                environ
                    .split(|b| *b == 0)
                    .any(|v| v == b"APIFY_TRANSPORT_WORKER_SPIN_US=200"),
                "{lib}: the worker has the variable"
            );
            for _ in 0..200 {
                assert_eq!(
                    body_len(&*t, get(server.url("/small")))
                        .await
                        .map(|n| n > 0),
                    Ok(true)
                );
            }
            assert_eq!(
                body_len(&*t, get(server.url("/bytes/5000000"))).await,
                Ok(5_000_000),
                "{lib}"
            );
            if lib == "fixture_faulty_plugin" {
                let crash = body_len(&*t, get(server.url("/__fault/segv"))).await;
                assert!(crash.unwrap_err().contains("SIGSEGV"), "{lib}");
                assert_eq!(
                    body_len(&*t, get(server.url("/small")))
                        .await
                        .map(|n| n > 0),
                    Ok(true)
                );
                assert_ne!(t.worker_pid(), Some(pid), "a fresh worker");
            }
        }
    });
}

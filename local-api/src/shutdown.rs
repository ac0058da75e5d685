//! The shutdown signal: a `watch` channel that [`LocalApi`](crate::LocalApi) sets, and the
//! accept loop and every connection wait on.

use tokio::sync::watch;

/// Resolves once shutdown is requested (or the handle is gone). The guard `wait_for` returns is
/// dropped here, so callers' futures stay `Send`.
pub async fn stopped(shutdown: &mut watch::Receiver<bool>) {
    let _ = shutdown.wait_for(|stop| *stop).await;
}

//! Reloading a client's transport when ops send SIGHUP, as nginx reloads its configuration.

use crate::{pipeline::TransportRole, ApifyClient};

/// Reloads `client`'s transport ([`ApifyClient::reload_transport`]) each time the process
/// gets SIGHUP, in a task on the current tokio runtime, for as long as the program runs. Every
/// clone of the client (and every resource client made from it) sees the new transport.
///
/// What ops see in the logs (`tracing`): at info level `transport reloaded on SIGHUP` with the
/// primary and canary now in service and what drains, then `transport drained after SIGHUP`
/// with how many exchanges the drain deadline cut; or `SIGHUP: the config names the
/// transports in service`; or, at error level, `transport reload on SIGHUP failed; the
/// transports in service keep serving` with the reason (a config that does not parse, a wrong
/// pin, a plugin that does not load). A failed reload changes nothing.
///
/// Returns the task's handle: dropping it leaves the task running, [`abort`] stops it (the
/// process then ignores SIGHUP: tokio never gives a signal back its default action, which
/// would end the process). An
/// error when the signal handler cannot be installed, or when the client was not built from
/// a config ([`ApifyClient::from_env`],
/// [`ApifyClientBuilder::from_config`](crate::ApifyClientBuilder::from_config)): there would be
/// nothing to reload from.
///
/// [`abort`]: tokio::task::JoinHandle::abort
///
/// ```no_run
/// # async fn demo() -> apify_host::Result<()> {
/// let client = apify_host::ApifyClient::from_env()?;
/// apify_host::reload_on_sighup(&client)?;
/// // ... the program runs; `kill -HUP <pid>` after editing the config swaps its transport.
/// # Ok(()) }
/// ```
///
/// # Panics
/// Outside a tokio runtime.
#[cfg(unix)]
pub fn reload_on_sighup(client: &ApifyClient) -> Result<tokio::task::JoinHandle<()>, crate::Error> {
    use tokio::signal::unix::{signal, SignalKind};
    if !client.reloads_from_config() {
        return Err(crate::Error::misuse(
            "reload_on_sighup: this client was not built from a config (ApifyClient::from_env \
             or ApifyClientBuilder::from_config), so a SIGHUP would have nothing to reload its \
             transport from",
        ));
    }
    let mut hangups = signal(SignalKind::hangup()).map_err(|e| {
        crate::Error::config(format!("cannot install the SIGHUP handler: {e}")).with_source(e)
    })?;
    let client = client.clone();
    Ok(tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            reload_now(&client, "SIGHUP").await;
        }
    }))
}

/// Reloads `client`'s transport because of `why`, and logs what happened; the drain goes on
/// in the background.
async fn reload_now(client: &ApifyClient, why: &'static str) {
    match client.reload_transport().await {
        Ok(Some(swap)) => {
            let stats = client.transport_statistics();
            let canary = stats
                .iter()
                .find(|s| s.role == TransportRole::Canary)
                .map(|s| s.name.clone());
            tracing::info!(
                signal = why,
                primary = %client.transport_name(),
                canary = canary.as_deref().unwrap_or("none"),
                draining = ?swap.old_transports(),
                "transport reloaded on {why}"
            );
            if swap.old_transports().is_empty() {
                return;
            }
            tokio::spawn(async move {
                let report = swap.drained().await;
                tracing::info!(
                    signal = why,
                    drained = ?report.transports,
                    cut = report.cut,
                    "transport drained after {why}"
                );
            });
        }
        Ok(None) => tracing::info!(
            signal = why,
            primary = %client.transport_name(),
            "{why}: the config names the transports in service; nothing to reload"
        ),
        Err(e) => tracing::error!(
            signal = why,
            error = %e,
            primary = %client.transport_name(),
            "transport reload on {why} failed; the transports in service keep serving"
        ),
    }
}

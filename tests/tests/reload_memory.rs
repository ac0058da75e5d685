//! 400 reloads between two plugins do not grow memory: the loader reuses a library it has
//! already loaded (by the sha256 of its bytes), and each retired client is closed after its
//! drain. Its own test binary, so no other test's allocations move the resident size.

use std::time::Instant;

use apify_local_api::{LocalApi, LocalApiConfig};
use apify_tests::plugin_path;

const TOKEN: &str = "reload-memory-token";

/// This process's resident set size, in bytes (`/proc/self/statm`, pages × page size).
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    // SAFETY: sysconf has no preconditions.
    pages * unsafe { libc::sysconf(libc::_SC_PAGESIZE) } as u64
}

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// The distinct plugin libraries mapped into this process (the loader maps sealed copies,
/// named `memfd:apify-plugin...`, or the files themselves).
fn mapped_plugins() -> usize {
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let mut names: Vec<&str> = maps
        .lines()
        .filter_map(|l| l.split_whitespace().nth(5))
        .filter(|n| n.contains("apify_transport") || n.contains("memfd:"))
        .collect();
    names.sort_unstable();
    names.dedup();
    names.len()
}

fn write_config(path: &std::path::Path, url: &str, plugin: &std::path::Path) {
    let text = format!(
        "api_url = \"{url}\"\ntoken = \"{TOKEN}\"\n[transport]\nplugin = \"{}\"\n",
        plugin.display()
    );
    apify_tests::install_config(path, &text);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn four_hundred_reloads_between_two_plugins_grow_rss_by_at_most_32_mib() {
    let api = LocalApi::start(LocalApiConfig::with_token(TOKEN))
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    let plugins = [
        plugin_path("apify_transport_reqwest"),
        plugin_path("apify_transport_hyper"),
    ];
    write_config(&config, &api.base_url(), &plugins[0]);
    let client = apify_host::ApifyClientBuilder::from_config(&config)
        .unwrap()
        .build()
        .unwrap();
    let ds = client
        .datasets()
        .get_or_create(Some("reloads"), None)
        .await
        .unwrap();

    // Each reload swaps to the other plugin, serves a call on it, and waits for the old one's
    // drain (so its client is closed).
    let reload = |n: usize| {
        let (client, config, url, id) = (&client, &config, api.base_url(), ds.id.clone());
        let plugin = plugins[n % 2].clone();
        async move {
            write_config(config, &url, &plugin);
            let swap = client
                .reload_transport()
                .await
                .unwrap()
                .expect("the other plugin");
            client.dataset(&id).get().await.unwrap().unwrap();
            assert_eq!(swap.drained().await.cut, 0);
        }
    };
    // Warm-up: both libraries loaded, the allocator's arenas and the pools at their size.
    for n in 1..=20 {
        reload(n).await;
    }
    let (rss_before, fds_before) = (rss(), open_fds());
    let started = Instant::now();
    for n in 21..=420 {
        reload(n).await;
    }
    let (rss_after, fds_after) = (rss(), open_fds());
    let grown = rss_after.saturating_sub(rss_before);
    eprintln!(
        "400 reloads in {:?}: RSS {:.1} → {:.1} MiB (+{:.1} MiB), open fds {fds_before} → \
         {fds_after}, plugin libraries mapped: {}",
        started.elapsed(),
        rss_before as f64 / 1048576.0,
        rss_after as f64 / 1048576.0,
        grown as f64 / 1048576.0,
        mapped_plugins(),
    );
    assert!(grown <= 32 << 20, "RSS grew by {grown} bytes");
    assert!(
        fds_after <= fds_before + 4,
        "no descriptor leaks per reload: {fds_before} → {fds_after}"
    );
    assert_eq!(
        mapped_plugins(),
        2,
        "each library loaded once, reused by its sha256"
    );
    let stats = client.transport_statistics();
    assert_eq!(
        stats.len(),
        1,
        "only the transport in service is left: {stats:?}"
    );
}

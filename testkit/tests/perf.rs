//! Throughput floors the benchmarks rely on. Ignored by default because they only mean
//! something in an optimized build on an otherwise idle machine:
//! `cargo test -p testkit --release --test perf -- --ignored --nocapture`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use testkit::{pattern_matches, TestServer};

/// Reads one response head from `s` (std client), returning (head length, body bytes
/// already read past the head, content-length).
fn read_head(s: &mut TcpStream, buf: &mut [u8]) -> (usize, usize, u64) {
    let mut filled = 0;
    loop {
        let n = s.read(&mut buf[filled..]).unwrap();
        assert!(n > 0, "EOF in head");
        filled += n;
        let mut headers = [httparse::EMPTY_HEADER; 16];
        let mut resp = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(h) = resp.parse(&buf[..filled]).unwrap() {
            assert_eq!(resp.code, Some(200));
            let len = resp
                .headers
                .iter()
                .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                .map(|h| std::str::from_utf8(h.value).unwrap().parse().unwrap())
                .unwrap();
            return (h, filled - h, len);
        }
    }
}

#[test]
#[ignore = "benchmark floor; run with --release"]
fn streams_one_gib_faster_than_2_gb_per_s() {
    const N: u64 = 1 << 30;
    let server = TestServer::start_blocking();
    let mut s = TcpStream::connect(server.addr()).unwrap();
    let mut buf = vec![0u8; 4 << 20];
    let mut best = 0f64;
    // Run 0 checks every byte (memcmp speed, no hashing) and warms up the buffers; the
    // timed runs 1 and 2 measure the server alone. Best of those two, because loopback
    // throughput on a shared 2-core VM swings a lot from run to run.
    for run in 0..3 {
        let t = Instant::now();
        s.write_all(format!("GET /bytes/{N} HTTP/1.1\r\nhost: x\r\n\r\n").as_bytes())
            .unwrap();
        let (h, pre, len) = read_head(&mut s, &mut buf);
        assert_eq!(len, N);
        assert!(pattern_matches(0, &buf[h..h + pre]));
        let mut got = pre as u64;
        while got < N {
            let want = buf.len().min((N - got) as usize);
            let n = s.read(&mut buf[..want]).unwrap();
            assert!(n > 0, "EOF at {got}");
            if run == 0 {
                assert!(pattern_matches(got, &buf[..n]), "mismatch at {got}");
            }
            got += n as u64;
        }
        let rate = N as f64 / t.elapsed().as_secs_f64() / 1e9;
        eprintln!("1 GiB (run {run}, checked: {}): {rate:.2} GB/s", run == 0);
        if run > 0 {
            best = best.max(rate);
        }
    }
    assert!(best > 2.0, "{best:.2} GB/s");
}

#[test]
#[ignore = "benchmark floor; run with --release"]
fn answers_more_than_20k_small_requests_per_s() {
    let server = TestServer::start_blocking();
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.set_nodelay(true).unwrap();
    let mut buf = vec![0u8; 64 * 1024];
    let req = b"GET /small HTTP/1.1\r\nhost: x\r\n\r\n";
    let run = Duration::from_secs(2);
    let t = Instant::now();
    let mut count = 0u64;
    // Sequential request/response on one keep-alive connection: the latency-bound
    // worst case (a benchmark with concurrency can only do better).
    while t.elapsed() < run {
        for _ in 0..100 {
            s.write_all(req).unwrap();
            let (_, pre, len) = read_head(&mut s, &mut buf);
            let mut got = pre as u64;
            while got < len {
                got += s.read(&mut buf).unwrap() as u64;
            }
            assert_eq!(got, len);
        }
        count += 100;
        // Keep the request log from growing for the whole run.
        server.clear_requests();
    }
    let rate = count as f64 / t.elapsed().as_secs_f64();
    eprintln!("/small: {rate:.0} req/s on one connection");
    assert_eq!(server.connections_accepted(), 1);
    assert!(rate > 20_000.0, "{rate:.0} req/s");
}

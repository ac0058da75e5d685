//! The log of connections closed by the peer (`closed_by_peer`, `wait_closed_by_peer`).

mod common;

use std::time::{Duration, Instant};

use common::RawClient;
use testkit::{Action, TestServer};

const WAIT: Duration = Duration::from_secs(5);
/// How long to give the server to (wrongly) record a close before asserting it did not.
const SETTLE: Duration = Duration::from_millis(300);

#[tokio::test]
async fn idle_keep_alive_connections_closed_by_the_client_are_listed_in_order() {
    let server = TestServer::start().await;
    let mut a = RawClient::connect(server.addr()).await;
    let mut b = RawClient::connect(server.addr()).await;
    assert_eq!(a.get("/small").await.unwrap().status, 200);
    assert_eq!(b.get("/small").await.unwrap().status, 200);
    let (id_a, id_b) = (
        server.requests()[0].connection,
        server.requests()[1].connection,
    );
    assert!(
        !server
            .wait_closed_by_peer(id_a, Duration::from_millis(50))
            .await
    );

    drop(b);
    assert!(server.wait_closed_by_peer(id_b, WAIT).await);
    drop(a);
    assert!(server.wait_closed_by_peer(id_a, WAIT).await);
    assert_eq!(server.closed_by_peer(), vec![id_b, id_a]);
}

#[tokio::test]
async fn dropping_a_call_on_a_hanging_request_is_seen() {
    let server = TestServer::start().await;
    server.script("/h", vec![Action::Hang]);
    let mut c = RawClient::connect(server.addr()).await;
    let r = tokio::time::timeout(Duration::from_millis(200), c.get("/h")).await;
    assert!(r.is_err(), "no answer");
    assert!(server.closed_by_peer().is_empty());
    drop(c);
    assert!(server.wait_closed_by_peer(0, WAIT).await);
}

#[tokio::test]
async fn leaving_during_a_delay_is_seen_before_the_delay_ends() {
    let server = TestServer::start().await;
    server.script(
        "/d",
        vec![
            Action::status(200).delayed(Duration::from_secs(30)),
            Action::SlowBody {
                total_len: 1000,
                chunk: 1,
                interval: Duration::from_secs(30),
            },
        ],
    );
    for id in 0..2 {
        let mut c = RawClient::connect(server.addr()).await;
        c.send(b"GET /d HTTP/1.1\r\nhost: x\r\n\r\n").await;
        tokio::time::sleep(Duration::from_millis(100)).await;
        let t = Instant::now();
        drop(c);
        assert!(
            server.wait_closed_by_peer(id, WAIT).await,
            "connection {id}"
        );
        assert!(t.elapsed() < WAIT);
    }
}

#[tokio::test]
async fn a_client_reset_mid_upload_is_seen() {
    let server = TestServer::start().await;
    let c = tokio::net::TcpStream::connect(server.addr()).await.unwrap();
    let mut c = RawClient::from_stream(c);
    c.send(b"POST /echo HTTP/1.1\r\nhost: x\r\ncontent-length: 1000000\r\n\r\npartial")
        .await;
    tokio::time::sleep(Duration::from_millis(50)).await;
    // SO_LINGER 0: the close sends an RST.
    socket2::SockRef::from(&c.stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(c);
    assert!(server.wait_closed_by_peer(0, WAIT).await);
    assert!(
        server.requests().is_empty(),
        "an unread request is not logged"
    );
}

#[tokio::test]
async fn closes_made_by_the_server_are_not_listed() {
    let server = TestServer::start().await;
    server.script("/reset", vec![Action::ResetBeforeResponse]);
    server.script("/close", vec![Action::CloseBeforeResponse]);
    server.script("/rdb", vec![Action::ResetDuringRequestBody { after: 1 }]);

    let mut c = RawClient::connect(server.addr()).await;
    assert!(c.get("/reset").await.is_err());
    drop(c);
    let mut c = RawClient::connect(server.addr()).await;
    assert!(c.get("/close").await.is_err()); // clean EOF; the client then closes too
    drop(c);
    let mut c = RawClient::connect(server.addr()).await;
    assert!(c.request("POST", "/rdb", &[], b"abc").await.is_err());
    drop(c);
    // The client asked for the close: the server performs it.
    let mut c = RawClient::connect(server.addr()).await;
    let r = c
        .request("GET", "/small", &[("connection", "close")], &[])
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    drop(c);
    // Broken framing: the server answers 400 and closes.
    let mut c = RawClient::connect(server.addr()).await;
    c.send(b"NOT HTTP\r\n\r\n").await;
    assert_eq!(c.read_response(false).await.unwrap().status, 400);
    drop(c);

    tokio::time::sleep(SETTLE).await;
    assert_eq!(server.connections_accepted(), 5);
    assert_eq!(server.closed_by_peer(), Vec::<usize>::new());
}

#[test]
fn waiting_works_with_a_blocking_server() {
    let server = TestServer::start_blocking();
    let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    std::io::Write::write_all(&mut s, b"GET /small HTTP/1.1\r\nhost: x\r\n\r\n").unwrap();
    let mut byte = [0u8; 1];
    std::io::Read::read_exact(&mut s, &mut byte).unwrap(); // answered: request read
    drop(s);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    assert!(rt.block_on(server.wait_closed_by_peer(0, WAIT)));
    assert!(!rt.block_on(server.wait_closed_by_peer(1, Duration::from_millis(20))));
}

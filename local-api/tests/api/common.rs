//! Test helpers: start a server, build URLs, read the API's JSON.

use apify_local_api::{LocalApi, LocalApiConfig};
use serde_json::Value;

/// A running server and a client for it.
pub struct Ctx {
    pub api: LocalApi,
    pub http: reqwest::Client,
}

impl Ctx {
    /// A server without a token.
    pub async fn start() -> Ctx {
        Self::start_with(LocalApiConfig::default()).await
    }

    /// A server with this configuration.
    pub async fn start_with(config: LocalApiConfig) -> Ctx {
        let api = LocalApi::start(config).await.expect("server starts");
        Ctx {
            api,
            http: http_client(),
        }
    }

    /// `base_url + path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.api.base_url(), path)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http
            .get(self.url(path))
            .send()
            .await
            .expect("GET sent")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("POST sent")
    }

    pub async fn put_json(&self, path: &str, body: &Value) -> reqwest::Response {
        self.http
            .put(self.url(path))
            .json(body)
            .send()
            .await
            .expect("PUT sent")
    }

    pub async fn delete(&self, path: &str) -> reqwest::Response {
        self.http
            .delete(self.url(path))
            .send()
            .await
            .expect("DELETE sent")
    }

    /// `POST /v2/{collection}?name=` and returns the new storage's id.
    pub async fn create(&self, collection: &str, name: &str) -> String {
        let r = self
            .http
            .post(self.url(&format!("/v2/{collection}?name={name}")))
            .send()
            .await
            .expect("POST sent");
        assert_eq!(r.status(), 201, "creating {collection} {name}");
        data(r).await["id"].as_str().expect("id").to_owned()
    }
}

/// The `data` of a successful answer.
pub async fn data(r: reqwest::Response) -> Value {
    let status = r.status();
    let body: Value = r.json().await.expect("JSON body");
    assert!(status.is_success(), "status {status}: {body}");
    body["data"].clone()
}

/// Checks an error answer's status and `error.type`, and that it has a message.
pub async fn expect_error(r: reqwest::Response, status: u16, kind: &str) -> Value {
    assert_eq!(r.status().as_u16(), status);
    assert_eq!(
        r.headers()["content-type"],
        "application/json; charset=utf-8"
    );
    let body: Value = r.json().await.expect("JSON error body");
    assert_eq!(body["error"]["type"], kind, "{body}");
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "{body}"
    );
    assert_eq!(body.as_object().unwrap().len(), 1, "only `error`: {body}");
    body
}

/// A response header as a string.
pub fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers()
        .get(name)
        .unwrap_or_else(|| panic!("header {name} missing"))
        .to_str()
        .unwrap()
}

/// A plain-HTTP client. The workspace build unifies reqwest's features, and the transport
/// plugin enables `rustls-no-provider`, so a crypto provider must be installed before any
/// reqwest client is built, even one that never speaks TLS.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

/// A plain-HTTP client that sends `Authorization: Bearer {token}` on every request.
pub fn http_client_with_token(token: &str) -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse().expect("a header value"),
    );
    reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("client builds")
}

/// The example Actors shipped with the repository (`examples/actors`).
pub fn examples_dir() -> std::path::PathBuf {
    std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../examples/actors")
}

/// A configuration with the example Actors and these one-offs (`NAME=COMMAND`).
pub fn actors_config(one_offs: &[&str]) -> LocalApiConfig {
    let mut config = LocalApiConfig::default();
    config
        .load_actors_dir(&examples_dir())
        .expect("the example Actors load");
    for one_off in one_offs {
        config.add_actor(one_off).expect("one-off parses");
    }
    config
}

impl Ctx {
    /// `POST /v2/acts/{actor}/runs?{query}` with a JSON input (none when `Null`); the run.
    pub async fn start_run(&self, actor: &str, query: &str, input: &Value) -> Value {
        let mut req = self
            .http
            .post(self.url(&format!("/v2/acts/{actor}/runs?{query}")));
        if !input.is_null() {
            req = req.json(input);
        }
        let r = req.send().await.expect("POST sent");
        assert_eq!(r.status(), 201, "starting {actor}");
        data(r).await
    }

    /// The run, once finished (waits up to 60 s per call, as the API allows).
    pub async fn finished_run(&self, id: &str) -> Value {
        for _ in 0..3 {
            let run = data(
                self.get(&format!("/v2/actor-runs/{id}?waitForFinish=60"))
                    .await,
            )
            .await;
            if ["SUCCEEDED", "FAILED", "TIMED-OUT", "ABORTED"]
                .contains(&run["status"].as_str().unwrap())
            {
                return run;
            }
        }
        panic!("run {id} did not finish in 3 minutes");
    }

    /// The run's log text now.
    pub async fn run_log(&self, id: &str) -> String {
        self.get(&format!("/v2/actor-runs/{id}/log"))
            .await
            .text()
            .await
            .unwrap()
    }

    /// Waits until the run's log contains `needle` (at most 20 s); the log.
    pub async fn log_containing(&self, id: &str, needle: &str) -> String {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
        loop {
            let log = self.run_log(id).await;
            if log.contains(needle) {
                return log;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "log of {id} never had {needle:?}: {log}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }
}

/// Whether any live (not zombie) process belongs to process group `pgid`.
pub fn group_alive(pgid: i32) -> bool {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return false;
    };
    entries.filter_map(Result::ok).any(|e| {
        let Ok(stat) = std::fs::read_to_string(e.path().join("stat")) else {
            return false;
        };
        let Some((_, after)) = stat.rsplit_once(')') else {
            return false;
        };
        let fields: Vec<&str> = after.split_whitespace().collect();
        fields.len() > 2 && fields[2] == pgid.to_string() && fields[0] != "Z"
    })
}

/// Waits (at most 10 s) until process group `pgid` is gone; whether it went.
pub async fn group_gone(pgid: i32) -> bool {
    for _ in 0..500 {
        if !group_alive(pgid) {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    false
}

/// The `pid=N` line a one-off printed first (the process group it leads), after its timestamp.
pub fn pid_in(log: &str) -> i32 {
    let at = log.find("Z pid=").expect("pid in log") + 6;
    log[at..]
        .split(|c: char| !c.is_ascii_digit())
        .next()
        .unwrap()
        .parse()
        .unwrap()
}

/// The `apify-local-api` binary, started with some arguments, once it printed its line.
pub struct Binary {
    pub child: std::process::Child,
    /// `http://127.0.0.1:PORT`: the first word after `listening on `.
    pub url: String,
    /// The file named by `(token in FILE)`, when the line has it.
    pub token_file: Option<std::path::PathBuf>,
}

impl Binary {
    /// Starts the binary with `args` and `env` (stderr dropped) and reads its stdout line.
    pub fn start(args: &[&str], env: &[(&str, &str)]) -> Binary {
        use std::io::{BufRead, BufReader};
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_apify-local-api"))
            .args(args)
            // The caller's environment must not decide the token; `env` may set it.
            .env_remove("APIFY_LOCAL_API_TOKEN")
            .envs(env.iter().copied())
            .env("RUST_LOG", "warn")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("binary starts");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let (url, token_file) = parse_listening_line(&line);
        Binary {
            child,
            url,
            token_file,
        }
    }

    /// The token read from the file the line named.
    pub fn token(&self) -> String {
        let path = self
            .token_file
            .as_ref()
            .expect("the line names a token file");
        std::fs::read_to_string(path).expect("token file readable")
    }

    /// Sends SIGTERM and waits; whether the exit was clean.
    pub fn terminate(mut self) -> bool {
        let status = std::process::Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
        self.child.wait().unwrap().success()
    }
}

/// `listening on URL` or `listening on URL (token in FILE)`: the URL and the file.
pub fn parse_listening_line(line: &str) -> (String, Option<std::path::PathBuf>) {
    let rest = line
        .trim_end()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let (url, tail) = rest.split_once(' ').unwrap_or((rest, ""));
    let file = tail
        .strip_prefix("(token in ")
        .and_then(|t| t.strip_suffix(')'))
        .map(std::path::PathBuf::from);
    assert!(
        tail.is_empty() || file.is_some(),
        "unexpected tail {tail:?}"
    );
    (url.to_owned(), file)
}

/// Sends `request` (the whole HTTP/1.1 request, as a browser or an attacker would write it)
/// over a fresh connection and reads the answer to the end (send `Connection: close`): its
/// status and its body.
pub async fn raw_http(addr: std::net::SocketAddr, request: &str) -> (u16, String) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(addr)
        .await
        .expect("connects");
    stream.write_all(request.as_bytes()).await.expect("sent");
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.expect("answer read");
    parse_answer(&answer)
}

/// The status and body of a raw HTTP answer.
pub fn parse_answer(answer: &[u8]) -> (u16, String) {
    let text = String::from_utf8_lossy(answer);
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {text:?}"));
    let body = text
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default();
    (status, body)
}

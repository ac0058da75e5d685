//! Every `apify-host` command, run as the real binary against the local Apify API
//! (`apify-local-api`) started in-process on 127.0.0.1.

use std::process::Stdio;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::support::{bare_cmd, closed_port_url, ok, ok_json, stderr, Env};

const TOKEN: &str = "cli-test-token-5f0c";

#[test]
fn users_me_in_each_output_format() {
    let env = Env::new(TOKEN);
    let me = ok_json(&env.run(&["users", "me"]));
    assert_eq!(me["username"], "local-user");
    assert!(me["plan"].is_object(), "unknown fields are kept: {me}");

    let line = ok(&env.run(&["users", "me", "-o", "jsonl"]));
    assert_eq!(line.lines().count(), 1);
    let table = ok(&env.run(&["users", "me", "--output", "table"]));
    assert!(table.lines().next().unwrap().starts_with("id "), "{table}");
    let row = table.lines().find(|l| l.starts_with("username ")).unwrap();
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        ["username", "local-user"]
    );

    // A timestamp prints as the API sent it (milliseconds and `Z`) in every format.
    assert_eq!(me["createdAt"], "2024-01-01T00:00:00.000Z");
    let raw = ok_json(&env.run(&["api", "GET", "/v2/users/me"]));
    assert_eq!(me["createdAt"], raw["data"]["createdAt"]);
    assert!(
        line.contains(r#""createdAt":"2024-01-01T00:00:00.000Z""#),
        "{line}"
    );
    let row = table.lines().find(|l| l.starts_with("createdAt ")).unwrap();
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        ["createdAt", "2024-01-01T00:00:00.000Z"]
    );

    // The token went as a Bearer header, never in the URL.
    let req = env.log().into_iter().last().unwrap();
    assert_eq!(req.path, "/v2/users/me");
    assert!(req.query.is_none());
}

#[test]
fn datasets_commands() {
    let env = Env::new(TOKEN);
    let created = ok_json(&env.run(&["datasets", "create", "cli-ds"]));
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["name"], "cli-ds");

    // Items inline, from a file and from stdin (the default source).
    let n = stderr(&env.run(&["datasets", "push-items", &id, r#"{"n": 0}"#]));
    assert!(n.contains("pushed 1 item(s)"), "{n}");
    let items: Vec<Value> = (1..1500).map(|i| json!({ "n": i, "s": "x" })).collect();
    let file = env.file(
        "items.json",
        serde_json::to_string(&items).unwrap().as_bytes(),
    );
    ok(&env.run(&[
        "datasets",
        "push-items",
        &id,
        &format!("@{}", file.display()),
    ]));
    ok(&env.run_stdin(&["datasets", "push-items", &id], br#"[{"n": 1500}]"#));

    let info = ok_json(&env.run(&["datasets", "info", "cli-ds"]));
    assert_eq!(info["itemCount"], 1501);
    let info = ok_json(&env.run(&["ds", "info", "local-user/cli-ds"]));
    assert_eq!(info["id"], id.as_str());
    // The API's timestamps, printed as it sent them.
    let raw = ok_json(&env.run(&["api", "GET", &format!("/v2/datasets/{id}")]));
    assert!(raw["data"]["createdAt"].as_str().unwrap().ends_with('Z'));
    assert_eq!(info["createdAt"], raw["data"]["createdAt"]);
    assert_eq!(info["modifiedAt"], raw["data"]["modifiedAt"]);

    // get-items to stdout (JSON), with a window.
    let all = ok_json(&env.run(&["datasets", "get-items", &id]));
    assert_eq!(all.as_array().unwrap().len(), 1501);
    let some = ok(&env.run(&[
        "datasets",
        "get-items",
        &id,
        "--format",
        "jsonl",
        "--offset",
        "10",
        "--limit",
        "3",
        "--fields",
        "n",
    ]));
    assert_eq!(some, "{\"n\":10}\n{\"n\":11}\n{\"n\":12}\n");

    // get-items to a file, CSV.
    let out = env.home.path().join("items.csv");
    let msg = stderr(&env.run(&[
        "datasets",
        "get-items",
        &id,
        "--format",
        "csv",
        "--fields",
        "n",
        "--limit",
        "2",
        "--bom=false",
        "--out",
        out.to_str().unwrap(),
    ]));
    assert!(msg.contains("wrote"), "{msg}");
    assert_eq!(
        std::fs::read_to_string(&out).unwrap().replace("\r\n", "\n"),
        "n\n0\n1\n"
    );
    let leftovers: Vec<_> = std::fs::read_dir(env.home.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().contains(".part-"))
        .collect();
    assert!(leftovers.is_empty(), "temporary files left: {leftovers:?}");

    // ls in three formats.
    let page = ok_json(&env.run(&["datasets", "ls"]));
    assert!(page["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["id"] == id.as_str()));
    assert!(page["total"].as_u64().unwrap() >= 1);
    let lines = ok(&env.run(&["datasets", "ls", "-o", "jsonl", "--limit", "1"]));
    assert_eq!(lines.lines().count(), 1);
    let table = ok(&env.run(&["datasets", "ls", "-o", "table", "--desc", "--unnamed"]));
    assert!(table.starts_with("ID"), "{table}");
    assert!(table.contains("cli-ds"), "{table}");

    let rm = env.run(&["datasets", "rm", &id]);
    ok(&rm);
    assert!(stderr(&rm).contains("deleted dataset"));
    let gone = env.run(&["datasets", "info", &id]);
    assert_eq!(gone.status.code(), Some(1));
    assert!(stderr(&gone).contains("was not found"), "{}", stderr(&gone));
    let gone = env.run(&["datasets", "rm", &id]);
    assert_eq!(gone.status.code(), Some(1));
}

#[test]
fn key_value_store_commands() {
    let env = Env::new(TOKEN);
    let created = ok_json(&env.run(&["key-value-stores", "create", "cli-kvs"]));
    let id = created["id"].as_str().unwrap().to_string();
    ok_json(&env.run(&["kvs", "info", &id]));

    // JSON (default type), text, and binary from a file.
    ok(&env.run(&["kvs", "set-value", &id, "INPUT", r#"{"max": 3}"#]));
    ok(&env.run(&[
        "kvs",
        "set-value",
        &id,
        "notes",
        "hello there",
        "--content-type",
        "text/plain",
    ]));
    let mut big = Vec::with_capacity(3 << 20);
    for i in 0..(3u32 << 18) {
        big.extend_from_slice(&i.wrapping_mul(2_654_435_761).to_le_bytes());
    }
    let file = env.file("big.bin", &big);
    ok(&env.run(&[
        "kvs",
        "set-value",
        &id,
        "big.bin",
        &format!("@{}", file.display()),
        "--content-type",
        "application/octet-stream",
    ]));
    ok(&env.run_stdin(&["kvs", "set-value", &id, "piped"], b"[1, 2, 3]"));

    let v = ok_json(&env.run(&["kvs", "get-value", &id, "INPUT"]));
    assert_eq!(v, json!({ "max": 3 }));
    assert_eq!(
        ok(&env.run(&["kvs", "get-value", &id, "notes"])),
        "hello there"
    );
    let out = env.home.path().join("copy.bin");
    ok(&env.run(&[
        "kvs",
        "get-value",
        &id,
        "big.bin",
        "--out",
        out.to_str().unwrap(),
    ]));
    let copy = std::fs::read(&out).unwrap();
    assert_eq!(
        hex::encode(Sha256::digest(&copy)),
        hex::encode(Sha256::digest(&big))
    );
    let raw = env.run(&["kvs", "get-value", &id, "big.bin"]);
    assert_eq!(raw.stdout.len(), big.len());

    // A reader that stops early (`| head -c 10`) is not an error.
    let mut child = env
        .cmd()
        .args(["kvs", "get-value", &id, "big.bin"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = [0u8; 10];
    std::io::Read::read_exact(child.stdout.as_mut().unwrap(), &mut first).unwrap();
    drop(child.stdout.take());
    let closed = child.wait_with_output().unwrap();
    assert_eq!(closed.status.code(), Some(0), "{}", stderr(&closed));
    assert!(closed.stderr.is_empty(), "{}", stderr(&closed));

    let keys = ok_json(&env.run(&["kvs", "keys", &id]));
    let names: Vec<&str> = keys
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["key"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["INPUT", "big.bin", "notes", "piped"]);
    let some = ok(&env.run(&[
        "kvs",
        "keys",
        &id,
        "--limit",
        "2",
        "--exclusive-start-key",
        "INPUT",
        "-o",
        "jsonl",
    ]));
    assert_eq!(some.lines().count(), 2);
    let table = ok(&env.run(&["kvs", "keys", &id, "--prefix", "no", "-o", "table"]));
    assert_eq!(table, "KEY    SIZE\nnotes  11\n");

    let del = env.run(&["kvs", "delete-value", &id, "notes"]);
    ok(&del);
    let missing = env.run(&["kvs", "get-value", &id, "notes"]);
    assert_eq!(missing.status.code(), Some(1));
    assert!(
        stderr(&missing).contains("\"notes\" was not found"),
        "{}",
        stderr(&missing)
    );

    let page = ok_json(&env.run(&["key-value-stores", "ls"]));
    assert!(page["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|s| s["name"] == "cli-kvs"));
    ok(&env.run(&["kvs", "rm", &id]));
    assert_eq!(env.run(&["kvs", "info", &id]).status.code(), Some(1));
    assert_eq!(env.run(&["kvs", "keys", &id]).status.code(), Some(1));
}

#[test]
fn request_queue_commands() {
    let env = Env::new(TOKEN);
    let created = ok_json(&env.run(&["request-queues", "create", "cli-rq"]));
    let id = created["id"].as_str().unwrap().to_string();

    let one = ok_json(&env.run(&["rq", "add", &id, r#"{"url": "https://example.com/a"}"#]));
    let req_id = one["requestId"].as_str().unwrap().to_string();
    assert_eq!(one["wasAlreadyPresent"], false);

    // 60 requests from stdin: batches of at most 25.
    let many: Vec<Value> = (0..60)
        .map(|i| json!({ "url": format!("https://example.com/{i}") }))
        .collect();
    env.api.clear_request_log();
    let result = ok_json(&env.run_stdin(
        &["rq", "add", &id, "-", "--forefront"],
        serde_json::to_string(&many).unwrap().as_bytes(),
    ));
    assert_eq!(result["processedRequests"].as_array().unwrap().len(), 60);
    let batches: Vec<_> = env
        .log()
        .into_iter()
        .filter(|r| r.method == "POST" && r.path.ends_with("/requests/batch"))
        .collect();
    assert_eq!(batches.len(), 3);
    assert!(batches[0]
        .query
        .as_deref()
        .unwrap_or("")
        .contains("forefront=true"));

    let got = ok_json(&env.run(&["rq", "get", &id, &req_id]));
    assert_eq!(got["url"], "https://example.com/a");
    let missing = env.run(&["rq", "get", &id, "nope"]);
    assert_eq!(missing.status.code(), Some(1));

    let head = ok_json(&env.run(&["rq", "head", &id, "--limit", "5"]));
    assert_eq!(head["items"].as_array().unwrap().len(), 5);
    let table = ok(&env.run(&["rq", "head", &id, "--limit", "2", "-o", "table"]));
    assert!(table.starts_with("ID"), "{table}");
    assert_eq!(table.lines().count(), 3);

    let info = ok_json(&env.run(&["rq", "info", &id]));
    assert_eq!(info["totalRequestCount"], 61);
    let page = ok_json(&env.run(&["request-queues", "ls"]));
    assert!(page["items"]
        .as_array()
        .unwrap()
        .iter()
        .any(|q| q["id"] == id.as_str()));
    ok(&env.run(&["rq", "rm", &id]));
    assert_eq!(env.run(&["rq", "info", &id]).status.code(), Some(1));
}

#[test]
fn api_raw_calls() {
    let env = Env::new(TOKEN);
    let me = ok_json(&env.run(&["api", "GET", "/v2/users/me"]));
    assert_eq!(me["data"]["username"], "local-user");
    // /v2 is added, query strings and --param are kept.
    ok_json(&env.run(&["api", "post", "datasets?name=raw-ds"]));
    let list = ok_json(&env.run(&[
        "api",
        "GET",
        "datasets",
        "-p",
        "limit=1",
        "--param",
        "desc=true",
    ]));
    assert_eq!(list["data"]["limit"], 1);
    let last = env.log().into_iter().last().unwrap();
    assert_eq!(last.query.as_deref(), Some("limit=1&desc=true"));

    ok(&env.run(&[
        "api",
        "POST",
        "/v2/datasets/local-user~raw-ds/items",
        "--body",
        r#"[{"a": 1}]"#,
    ]));
    ok_json(&env.run(&["api", "POST", "key-value-stores", "-p", "name=raw-kvs"]));
    let file = env.file("body.txt", b"plain text");
    ok(&env.run(&[
        "api",
        "PUT",
        "key-value-stores/local-user~raw-kvs/records/t",
        "--body",
        &format!("@{}", file.display()),
        "--content-type",
        "text/plain",
    ]));
    assert_eq!(
        ok(&env.run(&[
            "api",
            "GET",
            "/v2/key-value-stores/local-user~raw-kvs/records/t"
        ])),
        "plain text"
    );
    let items = ok_json(&env.run(&["api", "GET", "/v2/datasets/local-user~raw-ds/items"]));
    assert_eq!(items, json!([{ "a": 1 }]));

    let failed = env.run(&["api", "GET", "/v2/datasets/nope"]);
    assert_eq!(failed.status.code(), Some(1));
    let err = stderr(&failed);
    assert!(
        err.starts_with("error: GET /v2/datasets/nope failed with status 404"),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1);
}

#[test]
fn transport_info_and_inspect() {
    let env = Env::new(TOKEN);
    let info = ok_json(&env.run(&["transport", "info"]));
    assert!(
        info["transport"].as_str().unwrap().contains("built-in"),
        "{info}"
    );
    assert!(
        info["source"].as_str().unwrap().contains("default"),
        "{info}"
    );

    let fake = env.file("libfake.so", b"this is not a shared library");
    let out = env.run(&["transport", "inspect", fake.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("FAIL"), "{text}");
    assert!(
        stderr(&out).starts_with("error: the plugin"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn precedence_flag_over_env_over_config() {
    let env = Env::new(TOKEN);
    let closed = closed_port_url();
    let token_file = env.file("token.txt", format!("{TOKEN}\n").as_bytes());
    let config = env.file(
        "config.toml",
        format!(
            "api_url = \"{}\"\ntoken_file = \"{}\"\n[http]\nmax_retries = 0\n",
            env.api.base_url(),
            token_file.file_name().unwrap().to_string_lossy()
        )
        .as_bytes(),
    );
    let cfg = config.to_str().unwrap();

    // Config alone: its URL and its (relative) token file.
    let out = env.run_with(
        bare_cmd(env.home.path()),
        &["--config", cfg, "users", "me"],
        None,
    );
    assert_eq!(ok_json(&out)["username"], "local-user");
    // APIFY_HOST_CONFIG finds the same file.
    let mut c = bare_cmd(env.home.path());
    c.env("APIFY_HOST_CONFIG", cfg);
    assert_eq!(
        ok_json(&env.run_with(c, &["users", "me"], None))["username"],
        "local-user"
    );

    // Env beats config: a wrong URL in the environment is used (and fails).
    let mut c = bare_cmd(env.home.path());
    c.env("APIFY_API_BASE_URL", &closed);
    let out = env.run_with(c, &["--config", cfg, "users", "me"], None);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));

    // The flag beats env: the right URL on the command line wins over the wrong one in env.
    let mut c = bare_cmd(env.home.path());
    c.env("APIFY_API_BASE_URL", &closed);
    let out = env.run_with(
        c,
        &[
            "--config",
            cfg,
            "--api-url",
            &format!("{}/v2/", env.api.base_url()),
            "users",
            "me",
        ],
        None,
    );
    ok(&out);

    // Env token beats the config token file: a wrong env token gets a 401.
    let mut c = bare_cmd(env.home.path());
    c.env("APIFY_TOKEN", "wrong-token");
    let out = env.run_with(c, &["--config", cfg, "users", "me"], None);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("401"), "{err}");
    assert!(err.contains("APIFY_TOKEN"), "{err}");
    assert!(!err.contains("wrong-token"), "{err}");
}

#[test]
fn verbose_logs_never_show_the_token() {
    let env = Env::new(TOKEN);
    let out = env.run(&["-vvv", "users", "me"]);
    ok(&out);
    assert!(!stderr(&out).is_empty(), "-vvv logs something");
    let out = env.run(&["-vvv", "datasets", "info", "missing"]);
    assert_eq!(out.status.code(), Some(1));
    // env.run_with() checked both streams for the token.
}

#[test]
fn rename_datasets_and_key_value_stores() {
    let env = Env::new(TOKEN);
    let ds = ok_json(&env.run(&["datasets", "create", "old-ds"]));
    let renamed = ok_json(&env.run(&["datasets", "rename", "old-ds", "new-ds"]));
    assert_eq!(renamed["id"], ds["id"]);
    assert_eq!(renamed["name"], "new-ds");
    // The old name is gone; the new one finds the same dataset.
    assert_eq!(
        env.run(&["datasets", "info", "old-ds"]).status.code(),
        Some(1)
    );
    assert_eq!(
        ok_json(&env.run(&["datasets", "info", "new-ds"]))["id"],
        ds["id"]
    );

    let kv = ok_json(&env.run(&["key-value-stores", "create", "old-kv"]));
    let renamed = ok_json(&env.run(&["kvs", "rename", kv["id"].as_str().unwrap(), "new-kv"]));
    assert_eq!(renamed["name"], "new-kv");

    // A store that does not exist: one line, exit 1, nothing renamed.
    let out = env.run(&["datasets", "rename", "no-such-ds", "x"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("no-such-ds"), "{}", stderr(&out));
}

#[test]
fn api_sends_extra_headers_and_refuses_bad_ones() {
    let env = Env::new(TOKEN);
    // A header of the request log's (which keeps only the client-decided ones): it wins over
    // the client's default `Accept`.
    ok(&env.run(&[
        "api",
        "GET",
        "/v2/users/me",
        "-H",
        "Accept: application/json",
    ]));
    let req = env.log().into_iter().last().unwrap();
    assert_eq!(
        req.headers.get("accept").map(String::as_str),
        Some("application/json")
    );

    let before = env.requests();
    let out = env.run(&["api", "GET", "/v2/users/me", "-H", "no colon here"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("NAME:VALUE"), "{}", stderr(&out));
    assert_eq!(env.requests(), before, "nothing was sent");
}

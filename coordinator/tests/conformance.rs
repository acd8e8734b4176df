//! Protocol conformance of `envload serve`: every row of PROTOCOL.md's
//! tables, over real sockets against the real binary.

use crate::support;

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use support::Server;
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn get(url: &str) -> (u16, Value) {
    envload_agent::tls::init();
    let r = reqwest::get(url).await.unwrap();
    (
        r.status().as_u16(),
        serde_json::from_str(&r.text().await.unwrap()).unwrap(),
    )
}

async fn post(url: &str, body: Option<Value>) -> (u16, Value) {
    envload_agent::tls::init();
    let c = reqwest::Client::new();
    let mut req = c.post(url);
    if let Some(b) = body {
        req = req
            .header("content-type", "application/json")
            .body(b.to_string());
    }
    let r = req.send().await.unwrap();
    (
        r.status().as_u16(),
        serde_json::from_str(&r.text().await.unwrap()).unwrap(),
    )
}

async fn ws_connect(s: &Server) -> Ws {
    let (ws, resp) = tokio_tungstenite::connect_async(s.ws_url()).await.unwrap();
    assert_eq!(resp.status().as_u16(), 101);
    ws
}

async fn send(ws: &mut Ws, v: Value) {
    ws.send(Message::text(v.to_string())).await.unwrap();
}

async fn recv(ws: &mut Ws) -> Value {
    loop {
        match tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .unwrap()
        {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).unwrap(),
            Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
            other => panic!("expected a text frame, got {other:?}"),
        }
    }
}

/// The server closes with code 1000 and sends nothing else first.
async fn expect_close_1000(ws: &mut Ws) {
    match tokio::time::timeout(Duration::from_secs(10), ws.next())
        .await
        .unwrap()
    {
        Some(Ok(Message::Close(Some(f)))) => assert_eq!(u16::from(f.code), 1000),
        other => panic!("expected close 1000, got {other:?}"),
    }
}

fn check_observation(obs: &Value, step_count: u64, waited: f64, port: &str) {
    assert_eq!(obs["step_count"], json!(step_count), "{obs}");
    assert_eq!(obs["waited_seconds"].as_f64(), Some(waited), "{obs}");
    assert!(obs["pid"].as_u64().unwrap() > 0);
    let hash = obs["session_hash"].as_str().unwrap();
    assert!(
        hash.len() == 12 && hash.chars().all(|c| c.is_ascii_hexdigit()),
        "{hash}"
    );
    assert!(
        obs["host_url"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{port}")),
        "{obs}"
    );
}

fn port(s: &Server) -> String {
    s.url.rsplit(':').next().unwrap().to_string()
}

#[tokio::test]
async fn http_endpoints_answer_like_openenv() {
    let s = Server::start(&[]);
    let p = port(&s);
    assert_eq!(
        get(&format!("{}/health", s.url)).await,
        (200, json!({"status": "healthy"}))
    );

    let (code, reset) = post(&format!("{}/reset", s.url), None).await;
    assert_eq!(code, 200);
    assert_eq!(reset["done"], json!(false));
    assert!(reset.get("reward").is_some());
    check_observation(&reset["observation"], 0, 0.0, &p);

    // Keys reset() does not take are dropped, not refused.
    let (code, _) = post(
        &format!("{}/reset", s.url),
        Some(json!({"seed": 1, "episode_id": "x", "bogus": 2})),
    )
    .await;
    assert_eq!(code, 200);

    // Stateless: every step is a fresh instance (step_count 1, new hash).
    let step_url = format!("{}/step", s.url);
    let (c1, a) = post(&step_url, Some(json!({"action": {"wait_seconds": 0.05}}))).await;
    let (_, b) = post(&step_url, Some(json!({"action": {"wait_seconds": 0.0}}))).await;
    assert_eq!(c1, 200);
    check_observation(&a["observation"], 1, 0.05, &p);
    assert_ne!(
        a["observation"]["session_hash"],
        b["observation"]["session_hash"]
    );

    assert_eq!(
        get(&format!("{}/state", s.url)).await,
        (200, json!({"episode_id": null, "step_count": 0}))
    );
    let (_, schema) = get(&format!("{}/schema", s.url)).await;
    for k in ["action", "observation", "state"] {
        assert!(schema.get(k).is_some(), "schema lacks {k}");
    }
    assert!(schema["action"]["properties"].get("wait_seconds").is_some());
    let (_, meta) = get(&format!("{}/metadata", s.url)).await;
    for k in [
        "name",
        "description",
        "readme_content",
        "version",
        "author",
        "documentation_url",
    ] {
        assert!(meta.get(k).is_some(), "metadata lacks {k}");
    }
}

#[tokio::test]
async fn a_bad_action_is_422_with_pydantic_details() {
    let s = Server::start(&[]);
    let url = format!("{}/step", s.url);
    for (body, kind) in [
        (json!({"action": {"wait_seconds": "abc"}}), "float_parsing"),
        (
            json!({"action": {"wait_seconds": 1, "nope": 1}}),
            "extra_forbidden",
        ),
        (json!({}), "missing"),
        (json!({"wait_seconds": 1}), "extra_forbidden"),
    ] {
        let (code, v) = post(&url, Some(body.clone())).await;
        assert_eq!(code, 422, "{body}");
        let kinds: Vec<&str> = v["detail"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d["type"].as_str().unwrap())
            .collect();
        assert!(kinds.contains(&kind), "{body} -> {v}");
    }
    let (code, _) = post(
        &url,
        Some(json!({"action": {"wait_seconds": 0}, "timeout_s": 5.0, "request_id": "r"})),
    )
    .await;
    assert_eq!(
        code, 200,
        "timeout_s and request_id are part of the step request"
    );
}

#[tokio::test]
async fn ws_session_reset_step_state_close() {
    let s = Server::start(&[]);
    let p = port(&s);
    let mut ws = ws_connect(&s).await;
    send(&mut ws, json!({"type": "reset", "data": {}})).await;
    let r = recv(&mut ws).await;
    assert_eq!(r["type"], "observation");
    check_observation(&r["data"]["observation"], 0, 0.0, &p);
    assert_eq!(r["data"]["done"], json!(false));

    send(
        &mut ws,
        json!({"type": "step", "data": {"wait_seconds": 0.05}}),
    )
    .await;
    let st = recv(&mut ws).await;
    check_observation(&st["data"]["observation"], 1, 0.05, &p);
    assert_eq!(
        st["data"]["observation"]["session_hash"],
        r["data"]["observation"]["session_hash"]
    );

    send(&mut ws, json!({"type": "state"})).await;
    let state = recv(&mut ws).await;
    assert_eq!(state["type"], "state");
    assert_eq!(state["data"]["step_count"], json!(1));
    assert!(state["data"]["episode_id"].is_string());

    // reset without data is fine too
    send(&mut ws, json!({"type": "reset"})).await;
    assert_eq!(
        recv(&mut ws).await["data"]["observation"]["step_count"],
        json!(0)
    );

    send(&mut ws, json!({"type": "close"})).await;
    expect_close_1000(&mut ws).await;
}

#[tokio::test]
async fn ws_errors_that_keep_the_session_open() {
    let s = Server::start(&[]);
    let mut ws = ws_connect(&s).await;
    let cases: Vec<(Message, &str)> = vec![
        (Message::text("this is not json"), "INVALID_JSON"),
        (Message::text(r#"{"type":"dance"}"#), "UNKNOWN_TYPE"),
        (
            Message::text(r#"{"type":"step","data":{"wait_seconds":1,"bogus":2}}"#),
            "VALIDATION_ERROR",
        ),
        (
            Message::text(r#"{"type":"step","data":{"wait_seconds":-1}}"#),
            "EXECUTION_ERROR",
        ),
    ];
    for (frame, code) in cases {
        ws.send(frame).await.unwrap();
        let e = recv(&mut ws).await;
        assert_eq!(
            (e["type"].as_str(), e["data"]["code"].as_str()),
            (Some("error"), Some(code)),
            "{e}"
        );
        assert!(e["data"]["message"].is_string());
        if code == "VALIDATION_ERROR" {
            assert!(e["data"]["errors"].is_array(), "{e}");
        }
        // still open: a reset works
        send(&mut ws, json!({"type": "reset"})).await;
        assert_eq!(
            recv(&mut ws).await["type"],
            "observation",
            "session closed after {code}"
        );
    }
}

#[tokio::test]
async fn ws_binary_frame_is_a_session_error_and_closes() {
    let s = Server::start(&[]);
    let mut ws = ws_connect(&s).await;
    ws.send(Message::binary(vec![1u8, 2, 3])).await.unwrap();
    let e = recv(&mut ws).await;
    assert_eq!(e["data"]["code"], "SESSION_ERROR");
    expect_close_1000(&mut ws).await;
}

#[tokio::test]
async fn capacity_refusal_is_101_then_error_frame_then_close_1000() {
    let s = Server::start(&["--max-concurrent-envs", "1"]);
    let mut held = ws_connect(&s).await;
    send(&mut held, json!({"type": "reset"})).await;
    recv(&mut held).await;

    let mut refused = ws_connect(&s).await; // the handshake still succeeds
    let e = recv(&mut refused).await; // unsolicited first frame
    assert_eq!(e["type"], "error");
    assert_eq!(e["data"]["code"], "CAPACITY_REACHED");
    assert_eq!(
        (
            e["data"]["active_sessions"].as_u64(),
            e["data"]["max_sessions"].as_u64()
        ),
        (Some(1), Some(1))
    );
    assert!(e["data"]["message"]
        .as_str()
        .unwrap()
        .contains("1/1 sessions active"));
    expect_close_1000(&mut refused).await;

    // HTTP does not count against the limit.
    let (code, _) = post(
        &format!("{}/step", s.url),
        Some(json!({"action": {"wait_seconds": 0}})),
    )
    .await;
    assert_eq!(code, 200);

    // A closed session frees its slot.
    send(&mut held, json!({"type": "close"})).await;
    expect_close_1000(&mut held).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    let mut next = ws_connect(&s).await;
    send(&mut next, json!({"type": "reset"})).await;
    assert_eq!(recv(&mut next).await["type"], "observation");
}

#[tokio::test]
async fn factory_failure_is_a_factory_error_and_closes() {
    let s = Server::start(&["--inject-factory-error"]);
    let mut ws = ws_connect(&s).await;
    let e = recv(&mut ws).await;
    assert_eq!(e["data"]["code"], "FACTORY_ERROR");
    expect_close_1000(&mut ws).await;
}

#[tokio::test]
async fn unknown_paths_and_methods() {
    envload_agent::tls::init();
    let s = Server::start(&[]);
    let r = reqwest::get(format!("{}/nope", s.url)).await.unwrap();
    assert_eq!(r.status().as_u16(), 404);
    let r = reqwest::Client::new()
        .delete(format!("{}/reset", s.url))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 405);
    let r = reqwest::get(format!("{}/ws", s.url)).await.unwrap();
    assert_eq!(
        r.status().as_u16(),
        400,
        "a plain GET /ws is not an upgrade"
    );
}

/// A sleeping session holds no thread: many sessions waiting at once on one
/// worker all finish in about one wait, not in waves.
#[tokio::test]
async fn steps_wait_concurrently_on_one_worker() {
    let s = Server::start(&[]);
    let start = Instant::now();
    let tasks: Vec<_> = (0..300)
        .map(|_| {
            let url = s.ws_url();
            tokio::spawn(async move {
                let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
                ws.send(Message::text(
                    r#"{"type":"step","data":{"wait_seconds":2.0}}"#,
                ))
                .await
                .unwrap();
                ws.next().await.unwrap().unwrap()
            })
        })
        .collect();
    for t in tasks {
        assert!(t.await.unwrap().is_text());
    }
    // 300 sessions in waves of a 32-thread pool would need ≥ 20 s.
    assert!(
        start.elapsed() < Duration::from_secs(8),
        "took {:?}",
        start.elapsed()
    );
}

#[test]
fn workers_are_separate_processes_on_one_port() {
    let s = Server::start(&["--workers", "2"]);
    assert_eq!(s.pids.len(), 2, "listening line names both workers");
    assert!(
        s.pids.iter().all(|p| *p != s.child.id()),
        "workers are children, not the supervisor"
    );
    let dir = support::out_dir("workers");
    let out = support::run(&[
        "run",
        "-u",
        &s.url,
        "-n",
        "200",
        "-w",
        "0.1",
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{:?}", support::text(&out));
    let rows = support::csv_rows(&dir);
    assert_eq!(support::col(&rows[0], &rows[1], "unique_pids"), "2");
    let pids: std::collections::HashSet<u64> = support::raw_lines(&dir)
        .iter()
        .map(|l| l["pid"].as_u64().unwrap())
        .collect();
    assert_eq!(pids, s.pids.iter().map(|p| u64::from(*p)).collect());
}

/// The container entry point: `envload serve --host 0.0.0.0` with its
/// settings only in `PORT`, `WORKERS`, `MAX_CONCURRENT_ENVS`.
#[test]
fn serve_takes_port_workers_and_session_limit_from_the_environment() {
    use std::io::{BufRead, BufReader};
    let port = support::free_port();
    let mut child = std::process::Command::new(support::envload())
        .args(["serve", "--host", "127.0.0.1"])
        .env("PORT", port.to_string())
        .env("WORKERS", "2")
        .env("MAX_CONCURRENT_ENVS", "7")
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let line = BufReader::new(child.stdout.take().unwrap())
        .lines()
        .next()
        .unwrap()
        .unwrap();
    let healthy = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    assert!(line.contains(&format!("http://127.0.0.1:{port}")), "{line}");
    assert!(
        line.contains("workers: 2") && line.contains("max_concurrent_envs per worker: 7"),
        "{line}"
    );
    assert!(healthy);
}

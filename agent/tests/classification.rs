//! Every failure class, provoked by a misbehaving server on a real socket.

mod support;

use std::time::Duration;

use envload_agent::{run_share, Assignment, CloseMode, ErrorType, Failure, Mode, Target};
use support::Bad;

async fn one_session(url: &str, mode: Mode, timeout: Duration) -> Failure {
    let a = Assignment {
        mode,
        targets: vec![Target::parse(url).unwrap()],
        wait_seconds: 0.0,
        batch_size: 1,
        first_request_id: 0,
        count: 1,
        timeout,
        close_timeout: envload_agent::plan::DEFAULT_CLOSE_TIMEOUT,
        max_message: envload_agent::plan::DEFAULT_MAX_MESSAGE,
        close: CloseMode::ClientFirst,
        hardware: "cpu-basic".into(),
        tls: Default::default(),
        workload: Default::default(),
        arrival: Default::default(),
        loopback_sources: 32,
        headers: Vec::new(),
        ping_interval: std::time::Duration::ZERO,
        ping_timeout: envload_agent::plan::DEFAULT_PING_TIMEOUT,
        abort: None,
        no_pong: 0.0,
        stages: None,
        interval: envload_agent::plan::DEFAULT_INTERVAL,
    };
    let share = run_share(&a).await;
    assert_eq!(share.stats.failed, 1);
    let rec = &share.records[0];
    assert_eq!(
        (
            rec.timings.connect_us,
            rec.timings.reset_us,
            rec.timings.step_us
        ),
        (0, 0, 0),
        "failed sessions keep only total"
    );
    assert!(rec.timings.total_us > 0);
    rec.failure.clone().unwrap()
}

async fn check(bad: Bad, mode: Mode, kind: ErrorType, needle: &str) {
    let url = support::start(bad).await;
    let f = one_session(&url, mode, Duration::from_millis(800)).await;
    assert_eq!(f.kind, kind, "{bad:?}: {}", f.message);
    assert!(
        f.message.contains(needle),
        "{bad:?}: {:?} lacks {needle:?}",
        f.message
    );
}

#[tokio::test]
async fn garbage_frame_is_malformed_response() {
    check(
        Bad::GarbageFrame,
        Mode::Ws,
        ErrorType::MalformedResponse,
        "not JSON",
    )
    .await;
}

#[tokio::test]
async fn early_drop_is_unexpected_close() {
    check(
        Bad::EarlyDrop,
        Mode::Ws,
        ErrorType::UnexpectedClose,
        "during reset",
    )
    .await;
}

#[tokio::test]
async fn close_frame_mid_session_names_the_code() {
    check(
        Bad::CloseFrame,
        Mode::Ws,
        ErrorType::UnexpectedClose,
        "close code 1011: boom",
    )
    .await;
}

#[tokio::test]
async fn capacity_refusal_is_read_from_the_first_frame() {
    check(
        Bad::Capacity,
        Mode::Ws,
        ErrorType::CapacityReached,
        "2/2 sessions active",
    )
    .await;
}

#[tokio::test]
async fn error_frame_is_server_error_with_its_code() {
    check(
        Bad::ErrorFrame,
        Mode::Ws,
        ErrorType::ServerError,
        "EXECUTION_ERROR during reset: env exploded",
    )
    .await;
}

#[tokio::test]
async fn silence_after_handshake_is_read_timeout() {
    check(
        Bad::SilentAfterHandshake,
        Mode::Ws,
        ErrorType::ReadTimeout,
        "no reply to reset",
    )
    .await;
}

#[tokio::test]
async fn binary_and_unknown_replies_are_malformed() {
    check(
        Bad::BinaryReply,
        Mode::Ws,
        ErrorType::MalformedResponse,
        "binary frame",
    )
    .await;
    check(
        Bad::WrongType,
        Mode::Ws,
        ErrorType::MalformedResponse,
        "\"surprise\"",
    )
    .await;
}

#[tokio::test]
async fn slow_handshake_is_handshake_timeout() {
    check(
        Bad::SlowHandshake,
        Mode::Ws,
        ErrorType::HandshakeTimeout,
        "--timeout",
    )
    .await;
}

#[tokio::test]
async fn refused_upgrade_is_http_status() {
    check(Bad::Status503, Mode::Ws, ErrorType::HttpStatus, "503").await;
}

#[tokio::test]
async fn http_status_garbage_close_and_silence() {
    check(
        Bad::Status503,
        Mode::Http,
        ErrorType::HttpStatus,
        "HTTP 503 from POST",
    )
    .await;
    check(
        Bad::HttpGarbage,
        Mode::Http,
        ErrorType::MalformedResponse,
        "not JSON",
    )
    .await;
    check(
        Bad::HttpEarlyClose,
        Mode::Http,
        ErrorType::UnexpectedClose,
        "before replying to reset",
    )
    .await;
    check(
        Bad::SlowHandshake,
        Mode::Http,
        ErrorType::ReadTimeout,
        "--timeout",
    )
    .await;
}

#[tokio::test]
async fn nothing_listening_is_connection_refused() {
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    for mode in [Mode::Ws, Mode::Http] {
        let f = one_session(&url, mode, Duration::from_secs(2)).await;
        assert_eq!(
            f.kind,
            ErrorType::ConnectionRefused,
            "{mode:?}: {}",
            f.message
        );
        assert!(f.message.contains(&port.to_string()), "{}", f.message);
    }
}

#[tokio::test]
async fn unknown_host_is_dns_error() {
    for mode in [Mode::Ws, Mode::Http] {
        let f = one_session(
            "http://no-such-host.invalid:8000",
            mode,
            Duration::from_secs(5),
        )
        .await;
        assert_eq!(f.kind, ErrorType::DnsError, "{mode:?}: {}", f.message);
        assert!(f.message.contains("no-such-host.invalid"), "{}", f.message);
    }
}

//! One HTTP session: `POST /reset` then `POST /step {"action":{…}}`, on the
//! session's own keep-alive connection (`http_conn`). Bodies are read under
//! the same cap as WebSocket messages, so an endless or huge reply costs at
//! most `--max-message-size` per session.

use std::time::Instant;

use serde_json::Value;

use crate::failure::{excerpt, ErrorType, Failure};
use crate::http_conn::{HttpConn, Request};
use crate::observation::Observed;
use crate::plan::Limits;
use crate::record::{micros, Timings};

/// Runs one HTTP session; returns what was timed and the outcome. The
/// reset's time includes opening the connection, as the reference's does.
pub async fn run_session(
    conn: &mut HttpConn<'_>,
    wait_seconds: f64,
    limits: Limits,
) -> (Timings, Result<Observed, Failure>) {
    let t0 = Instant::now();
    let mut timings = Timings::default();
    let outcome = async {
        // Checked and dropped at once: only the step's fields are kept.
        let (reset, _) =
            send_counted(conn, "POST", "/reset", String::new(), "reset", limits).await?;
        Observed::from_reply(&reset, "reset", conn.base())?;
        drop(reset);
        timings.reset_us = micros(t0.elapsed());

        let body = format!(r#"{{"action":{{"wait_seconds":{wait_seconds}}}}}"#);
        let t = Instant::now();
        let (reply, _) = send_counted(conn, "POST", "/step", body, "step", limits).await?;
        let observed = Observed::from_reply(&reply, "step", conn.base())?;
        timings.step_us = micros(t.elapsed());
        Ok(observed)
    }
    .await;
    (timings.settle(t0, outcome.is_err()), outcome)
}

/// POSTs `body` (JSON, or nothing) to `path`: the parsed JSON reply and
/// its length.
pub(crate) async fn post_counted(
    conn: &mut HttpConn<'_>,
    path: &str,
    body: String,
    stage: &str,
    limits: Limits,
) -> Result<(Value, u64), Failure> {
    send_counted(conn, "POST", path, body, stage, limits).await
}

/// `GET path` (`/state`), with the reply body's length.
pub(crate) async fn get_counted(
    conn: &mut HttpConn<'_>,
    path: &str,
    stage: &str,
    limits: Limits,
) -> Result<(Value, u64), Failure> {
    send_counted(conn, "GET", path, String::new(), stage, limits).await
}

/// One request and its parsed JSON reply, with the reply body's length.
pub(crate) async fn send_counted(
    conn: &mut HttpConn<'_>,
    method: &str,
    path: &str,
    body: String,
    stage: &str,
    limits: Limits,
) -> Result<(Value, u64), Failure> {
    let req = Request {
        method,
        path,
        stage,
    };
    let reply = conn.send(req, body.as_bytes(), limits).await?;
    drop(body);
    let (status, bytes) = (reply.status, reply.body);
    if status == 401 || status == 403 {
        return Err(crate::failure::unauthorized(&format!(
            "HTTP {status} from {method} {} during {stage}",
            conn.url(path)
        )));
    }
    if !(200..300).contains(&status) {
        return Err(Failure::new(
            ErrorType::HttpStatus,
            format!(
                "HTTP {status} from {method} {} during {stage}: {}",
                conn.url(path),
                excerpt(&String::from_utf8_lossy(&bytes))
            ),
        ));
    }
    let value = serde_json::from_slice(&bytes).map_err(|e| {
        Failure::new(
            ErrorType::MalformedResponse,
            format!(
                "reply to {method} {} is not JSON ({e}): {}",
                conn.url(path),
                excerpt(&String::from_utf8_lossy(&bytes))
            ),
        )
    })?;
    Ok((value, bytes.len() as u64))
}

//! The HTTP side of the protocol. HTTP is stateless: every `/reset` and
//! `/step` builds a fresh environment instance and drops it.

use std::convert::Infallible;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use serde_json::{json, Value};

use crate::config::ServerConfig;
use crate::docs;
use crate::env::{envelope, BenchEnv};
use crate::reply::json_response;
use crate::upgrade::{self, Endpoint};
use crate::wire::{error_item, parse_action};

/// Largest request body accepted.
const MAX_BODY: usize = 1 << 20;

/// Routes one request.
pub async fn handle(
    req: Request<Incoming>,
    config: Arc<ServerConfig>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_string();
    // Readiness probes and envload's own counters stay open.
    let open = path == "/health" || path == "/envload/counters";
    if !open && !authorized(&req, &config) {
        config.counters.unauthorized();
        let mut resp = json_response(StatusCode::UNAUTHORIZED, &json!({"detail": "Unauthorized"}));
        resp.headers_mut().insert(
            hyper::header::WWW_AUTHENTICATE,
            hyper::header::HeaderValue::from_static("Bearer"),
        );
        return Ok(resp);
    }
    let resp = match (req.method().clone(), path.as_str()) {
        (Method::GET, "/health") => json_response(StatusCode::OK, &json!({"status": "healthy"})),
        (Method::GET, "/state") => {
            config.counters.state();
            json_response(
                StatusCode::OK,
                &json!({"episode_id": null, "step_count": 0}),
            )
        }
        (Method::GET, "/schema") => json_response(StatusCode::OK, &docs::schema()),
        (Method::GET, "/metadata") => json_response(StatusCode::OK, &docs::metadata()),
        (Method::GET, "/envload/counters") => {
            json_response(StatusCode::OK, &config.counters.snapshot())
        }
        (Method::GET, "/ws") => upgrade::upgrade(req, config, Endpoint::Env),
        (Method::GET, "/mcp") => upgrade::upgrade(req, config, Endpoint::Mcp),
        (Method::POST, "/mcp") => mcp(req, &config).await,
        (Method::POST, "/reset") => reset(req, &config).await,
        (Method::POST, "/step") => step(req, &config).await,
        (
            _,
            "/health" | "/state" | "/schema" | "/metadata" | "/ws" | "/mcp" | "/reset" | "/step",
        ) => json_response(
            StatusCode::METHOD_NOT_ALLOWED,
            &json!({"detail": "Method Not Allowed"}),
        ),
        _ => json_response(StatusCode::NOT_FOUND, &json!({"detail": "Not Found"})),
    };
    Ok(resp)
}

/// Whether `req` carries the bearer token the server wants (any request
/// does when it wants none).
fn authorized(req: &Request<Incoming>, config: &ServerConfig) -> bool {
    let Some(token) = &config.auth_token else {
        return true;
    };
    req.headers()
        .get(hyper::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t.trim() == &**token)
}

async fn reset(req: Request<Incoming>, config: &ServerConfig) -> Response<Full<Bytes>> {
    let body = match read_json(req, true).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let episode_id = body
        .get("episode_id")
        .and_then(Value::as_str)
        .map(str::to_string);
    let mut env = BenchEnv::new(&config.identity);
    let counted = config.counters.reset();
    tokio::time::sleep(config.reset_delay).await;
    drop(counted);
    json_response(StatusCode::OK, &envelope(env.reset(episode_id)))
}

async fn step(req: Request<Incoming>, config: &ServerConfig) -> Response<Full<Bytes>> {
    let body = match read_json(req, false).await {
        Ok(v) => v,
        Err(resp) => return resp,
    };
    let mut errors = Vec::new();
    for key in body
        .as_object()
        .map(|o| o.keys().cloned().collect::<Vec<_>>())
        .unwrap_or_default()
    {
        if !["action", "timeout_s", "request_id"].contains(&key.as_str()) {
            errors.push(error_item(
                "extra_forbidden",
                &["body", &key],
                "Extra inputs are not permitted",
                &body[&key],
            ));
        }
    }
    let wait = match body.get("action") {
        None => {
            errors.push(error_item(
                "missing",
                &["body", "action"],
                "Field required",
                &body,
            ));
            None
        }
        Some(action) => match parse_action(action, &["body", "action"]) {
            Ok(w) => Some(w),
            Err(e) => {
                errors.extend(e);
                None
            }
        },
    };
    let wait = match wait {
        Some(w) if errors.is_empty() => w,
        _ => return json_response(StatusCode::UNPROCESSABLE_ENTITY, &json!({"detail": errors})),
    };
    let mut env = BenchEnv::new(&config.identity);
    env.reset(None);
    config.counters.step();
    match env.step(wait).await {
        Ok(obs) => json_response(StatusCode::OK, &envelope(obs)),
        Err(e) => json_response(StatusCode::INTERNAL_SERVER_ERROR, &json!({"detail": e})),
    }
}

/// `POST /mcp`: a JSON-RPC call (`mcp_http`), always answered 200 as
/// openenv does, errors in the JSON-RPC body.
async fn mcp(req: Request<Incoming>, config: &ServerConfig) -> Response<Full<Bytes>> {
    let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) => {
            return json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &json!({"detail": format!("request body unreadable: {e}")}),
            )
        }
    };
    json_response(
        StatusCode::OK,
        &crate::mcp_http::answer(&body, config).await,
    )
}

/// Reads a JSON object body; an empty body is `{}` when `empty_ok`.
async fn read_json(req: Request<Incoming>, empty_ok: bool) -> Result<Value, Response<Full<Bytes>>> {
    let bytes = match Limited::new(req.into_body(), MAX_BODY).collect().await {
        Ok(c) => c.to_bytes(),
        Err(e) => {
            return Err(json_response(
                StatusCode::PAYLOAD_TOO_LARGE,
                &json!({"detail": format!("request body unreadable: {e}")}),
            ))
        }
    };
    if bytes.iter().all(u8::is_ascii_whitespace) {
        if empty_ok {
            return Ok(json!({}));
        }
        let item = error_item("missing", &["body"], "Field required", &Value::Null);
        return Err(json_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            &json!({"detail": [item]}),
        ));
    }
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(v) if v.is_object() => Ok(v),
        Ok(v) => {
            let item = error_item(
                "model_attributes_type",
                &["body"],
                "Input should be a valid dictionary",
                &v,
            );
            Err(json_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                &json!({"detail": [item]}),
            ))
        }
        Err(e) => {
            let item = json!({"type": "json_invalid", "loc": ["body", e.column()], "msg": "JSON decode error",
                              "input": {}, "ctx": {"error": e.to_string()}});
            Err(json_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                &json!({"detail": [item]}),
            ))
        }
    }
}

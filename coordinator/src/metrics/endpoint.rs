//! The endpoint of `--metrics-listen`: `GET /metrics` answers the registry
//! in Prometheus' text format (`crate::endpoint` serves it).

use crate::endpoint::Endpoint;

/// The endpoint `config` asks for, started (an address that cannot be
/// listened on is bad input).
pub fn for_run(
    config: &crate::config::RunConfig,
) -> Result<Option<Endpoint>, crate::error::UsageError> {
    let Some(addr) = config.metrics_listen else {
        return Ok(None);
    };
    super::install();
    let e = Endpoint::start(addr, "--metrics-listen", routes).map_err(crate::error::UsageError)?;
    eprintln!("envload: Prometheus metrics at http://{}/metrics", e.addr);
    Ok(Some(e))
}

fn routes(path: &str) -> Option<(&'static str, String)> {
    let metrics = super::global()?;
    match path {
        "/metrics" => Some(("text/plain; version=0.0.4; charset=utf-8", metrics.render())),
        "/" => Some((
            "text/plain; charset=utf-8",
            "envload: Prometheus metrics at /metrics\n".to_string(),
        )),
        _ => None,
    }
}

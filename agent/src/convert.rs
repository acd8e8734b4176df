//! Agent types ⇄ `envload.v1` messages. Histograms cross as HdrHistogram
//! V2+DEFLATE bytes with exact min, max and sum beside them, so the
//! coordinator's merge loses nothing.

mod rollout;

use std::time::Duration;

use chrono::{DateTime, Utc};
use envload_proto as proto;
use proto::v1;

use crate::failure::{ErrorType, Failure};
use crate::headers::HeaderTemplate;
use crate::intervals::Interval;
use crate::observation::Observed;
use crate::plan::{
    Abort, AbortStage, Arrival, Assignment, CloseMode, Mode, DEFAULT_CLOSE_TIMEOUT,
    DEFAULT_MAX_MESSAGE, DEFAULT_PING_TIMEOUT,
};
use crate::record::{SessionRecord, Timings};
use crate::stages::Stages;
use crate::stats::{Latency, PhaseStats};
use crate::target::Target;
use crate::tls::TlsOptions;

/// A message that does not hold what the protocol promises.
#[derive(Debug, thiserror::Error)]
#[error("malformed {what} from peer: {reason}")]
pub struct ConvertError {
    /// Which message or field.
    pub what: &'static str,
    /// What was wrong with it.
    pub reason: String,
}

fn bad(what: &'static str, reason: impl ToString) -> ConvertError {
    ConvertError {
        what,
        reason: reason.to_string(),
    }
}

/// Encodes one latency distribution.
pub fn latency_to_proto(l: &Latency) -> v1::Latency {
    v1::Latency {
        hdr: proto::histogram::encode(&l.hist).expect("an in-memory histogram always encodes"),
        min_us: l.min_us,
        max_us: l.max_us,
        sum_us: u64::try_from(l.sum_us).unwrap_or(u64::MAX),
        clamped: l.clamped,
    }
}

/// Adds an encoded latency distribution to `l` (an absent one adds nothing).
pub fn merge_latency(l: &mut Latency, p: Option<&v1::Latency>) -> Result<(), ConvertError> {
    let Some(p) = p.filter(|p| !p.hdr.is_empty()) else {
        return Ok(());
    };
    let added =
        proto::histogram::merge_encoded(&mut l.hist, &p.hdr).map_err(|e| bad("histogram", e))?;
    if added > 0 {
        l.min_us = l.min_us.min(p.min_us);
        l.max_us = l.max_us.max(p.max_us);
        l.sum_us += u128::from(p.sum_us);
        l.clamped += p.clamped;
    }
    Ok(())
}

/// Encodes phase statistics.
pub fn stats_to_proto(s: &PhaseStats) -> v1::Stats {
    let mut p = v1::Stats {
        sessions: s.sessions,
        successful: s.successful,
        failed: s.failed,
        connect: Some(latency_to_proto(&s.connect)),
        reset: Some(latency_to_proto(&s.reset)),
        step: Some(latency_to_proto(&s.step)),
        state: (s.state.count() > 0).then(|| latency_to_proto(&s.state)),
        mcp: (s.mcp.count() > 0).then(|| latency_to_proto(&s.mcp)),
        total: Some(latency_to_proto(&s.total)),
        start_lag: (s.start_lag.count() > 0).then(|| latency_to_proto(&s.start_lag)),
        errors: s
            .errors
            .iter()
            .map(|(k, v)| (k.as_str().to_string(), *v))
            .collect(),
        ..Default::default()
    };
    rollout::fill_stats(&mut p, s);
    p
}

/// Adds encoded phase statistics to `s`, straight from the wire bytes.
pub fn merge_stats(s: &mut PhaseStats, p: &v1::Stats) -> Result<(), ConvertError> {
    let mut errors = Vec::with_capacity(p.errors.len());
    for (k, v) in &p.errors {
        errors.push((
            k.parse::<ErrorType>().map_err(|e| bad("stats.errors", e))?,
            *v,
        ));
    }
    merge_latency(&mut s.connect, p.connect.as_ref())?;
    merge_latency(&mut s.reset, p.reset.as_ref())?;
    merge_latency(&mut s.step, p.step.as_ref())?;
    merge_latency(&mut s.state, p.state.as_ref())?;
    merge_latency(&mut s.mcp, p.mcp.as_ref())?;
    merge_latency(&mut s.total, p.total.as_ref())?;
    merge_latency(&mut s.start_lag, p.start_lag.as_ref())?;
    s.sessions += p.sessions;
    s.successful += p.successful;
    s.failed += p.failed;
    for (k, v) in errors {
        *s.errors.entry(k).or_default() += v;
    }
    rollout::merge_stats(s, p)
}

/// Decodes phase statistics.
pub fn stats_from_proto(p: &v1::Stats) -> Result<PhaseStats, ConvertError> {
    let mut s = PhaseStats::default();
    merge_stats(&mut s, p)?;
    Ok(s)
}

/// Encodes a session record (phase-wide fields stay with the assignment).
pub fn record_to_proto(r: &SessionRecord) -> v1::SessionRecord {
    v1::SessionRecord {
        request_id: r.request_id,
        timestamp_unix_us: r.timestamp.timestamp_micros(),
        connect_us: r.timings.connect_us,
        reset_us: r.timings.reset_us,
        step_us: r.timings.step_us,
        total_us: r.timings.total_us,
        waited_seconds: r.observed.waited_seconds,
        pid: r.observed.pid,
        session_hash: r.observed.session_hash.clone(),
        host_url: r.observed.host_url.clone(),
        error_type: r
            .failure
            .as_ref()
            .map(|f| f.kind.as_str().to_string())
            .unwrap_or_default(),
        error_message: r
            .failure
            .as_ref()
            .map(|f| f.message.clone())
            .unwrap_or_default(),
        target_index: r.target_index as u32,
        ended_after_us: u64::try_from(r.ended_after.as_micros()).unwrap_or(u64::MAX),
        rollout: r.rollout.as_deref().map(rollout::record_to_proto),
        start_lag_us: r
            .start_lag
            .map(|l| u64::try_from(l.as_micros()).unwrap_or(u64::MAX)),
    }
}

/// Decodes a session record of the share `a`.
pub fn record_from_proto(
    p: &v1::SessionRecord,
    a: &Assignment,
) -> Result<SessionRecord, ConvertError> {
    let failure = if p.error_type.is_empty() {
        None
    } else {
        let kind = p
            .error_type
            .parse::<ErrorType>()
            .map_err(|e| bad("record.error_type", e))?;
        Some(Failure::new(kind, p.error_message.clone()))
    };
    Ok(SessionRecord {
        request_id: p.request_id,
        mode: a.mode,
        timestamp: DateTime::<Utc>::from_timestamp_micros(p.timestamp_unix_us).unwrap_or_default(),
        wait_requested: a.wait_seconds,
        batch_size: a.batch_size,
        hardware: a.hardware.clone(),
        target_index: p.target_index as usize,
        timings: Timings {
            connect_us: p.connect_us,
            reset_us: p.reset_us,
            step_us: p.step_us,
            total_us: p.total_us,
        },
        observed: Observed {
            waited_seconds: p.waited_seconds,
            pid: p.pid,
            session_hash: p.session_hash.clone(),
            host_url: p.host_url.clone(),
        },
        failure,
        ended_after: Duration::from_micros(p.ended_after_us),
        rollout: p
            .rollout
            .as_ref()
            .map(rollout::record_from_proto)
            .transpose()?
            .map(Box::new),
        start_lag: p.start_lag_us.map(Duration::from_micros),
    })
}

/// Encodes an assignment for phase `phase`.
pub fn assignment_to_proto(phase: u64, a: &Assignment, send_records: bool) -> v1::Assignment {
    v1::Assignment {
        phase,
        mode: a.mode.as_str().to_string(),
        targets: a.targets.iter().map(|t| t.url.clone()).collect(),
        wait_seconds: a.wait_seconds,
        batch_size: a.batch_size,
        first_request_id: a.first_request_id,
        count: a.count,
        timeout_seconds: a.timeout.as_secs_f64(),
        close: match a.close {
            CloseMode::ClientFirst => "client-first",
            CloseMode::ServerFirst => "server-first",
        }
        .to_string(),
        hardware: a.hardware.clone(),
        send_records,
        ca_cert_pem: a.tls.ca_pem.clone().unwrap_or_default(),
        insecure: a.tls.insecure,
        close_timeout_seconds: a.close_timeout.as_secs_f64(),
        max_message_bytes: a.max_message as u64,
        workload: rollout::workload_to_proto(&a.workload),
        loopback_sources: u32::from(a.loopback_sources),
        arrival: a.arrival.scheduled().then_some(v1::Arrival {
            spread_seconds: a.arrival.spread.as_secs_f64(),
            open: a.arrival.open,
            max_in_flight: a.arrival.max_in_flight,
            poisson: a.arrival.poisson.is_some(),
            seed: a.arrival.poisson.unwrap_or_default(),
        }),
        abort_fraction: a.abort.map_or(0.0, |x| x.fraction),
        abort_stage: a.abort.map(|x| x.stage.as_str()).unwrap_or_default().into(),
        abort_fin: a.abort.is_some_and(|x| x.fin),
        no_pong_fraction: a.no_pong,
        stages: a
            .stages
            .iter()
            .flat_map(|p| &p.0)
            .map(|s| v1::Stage {
                seconds: s.duration.as_secs_f64(),
                target: s.target,
            })
            .collect(),
        interval_seconds: a.interval.as_secs_f64(),
        ping_interval_seconds: a.ping_interval.as_secs_f64(),
        ping_timeout_seconds: a.ping_timeout.as_secs_f64(),
        headers: a
            .headers
            .iter()
            .map(|h| v1::Header {
                name: h.name.clone(),
                value: h.value.clone(),
            })
            .collect(),
    }
}

/// A duration field of the wire: positive and representable, or the
/// default when unset (0, from an older coordinator).
fn seconds(what: &'static str, s: f64, default: Duration) -> Result<Duration, ConvertError> {
    if s == 0.0 {
        return Ok(default);
    }
    Duration::try_from_secs_f64(s)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| bad(what, s))
}

/// A time-series interval on the wire.
pub fn interval_to_proto(i: &Interval) -> v1::Interval {
    v1::Interval {
        index: i.index,
        started: i.started,
        stats: Some(stats_to_proto(&i.stats)),
    }
}

/// A time-series interval from the wire.
pub fn interval_from_proto(p: &v1::Interval) -> Result<Interval, ConvertError> {
    Ok(Interval {
        index: p.index,
        started: p.started,
        stats: match &p.stats {
            Some(s) => stats_from_proto(s)?,
            None => PhaseStats::default(),
        },
    })
}

/// The assignment's stage plan, checked (none: not a stage phase).
fn stages_from_proto(p: &[v1::Stage]) -> Result<Option<Stages>, ConvertError> {
    if p.is_empty() {
        return Ok(None);
    }
    let text: Vec<String> = p
        .iter()
        .map(|s| format!("{}s:{}", s.seconds, s.target))
        .collect();
    Stages::parse(&text.join(","))
        .map(Some)
        .map_err(|e| bad("assignment.stages", e))
}

/// The assignment's client faults, checked.
fn abort_from_proto(p: &v1::Assignment) -> Result<Option<Abort>, ConvertError> {
    if p.abort_fraction == 0.0 {
        return Ok(None);
    }
    if !(p.abort_fraction > 0.0 && p.abort_fraction <= 1.0) {
        return Err(bad("assignment.abort_fraction", p.abort_fraction));
    }
    let stage = match p.abort_stage.as_str() {
        "reset" => AbortStage::Reset,
        "step" => AbortStage::Step,
        "think" => AbortStage::Think,
        other => {
            return Err(bad(
                "assignment.abort_stage",
                format!("unknown stage '{other}'"),
            ))
        }
    };
    Ok(Some(Abort {
        fraction: p.abort_fraction,
        stage,
        fin: p.abort_fin,
    }))
}

/// Decodes an assignment.
pub fn assignment_from_proto(p: &v1::Assignment) -> Result<Assignment, ConvertError> {
    let mode = Mode::parse(&p.mode)
        .ok_or_else(|| bad("assignment.mode", format!("unknown mode '{}'", p.mode)))?;
    let close = match p.close.as_str() {
        "client-first" => CloseMode::ClientFirst,
        "server-first" => CloseMode::ServerFirst,
        other => {
            return Err(bad(
                "assignment.close",
                format!("unknown close mode '{other}'"),
            ))
        }
    };
    let targets = p
        .targets
        .iter()
        .map(|t| Target::parse(t))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("assignment.targets", e))?;
    if targets.is_empty() {
        return Err(bad("assignment.targets", "no target"));
    }
    if !(p.timeout_seconds.is_finite() && p.timeout_seconds > 0.0) {
        return Err(bad("assignment.timeout_seconds", p.timeout_seconds));
    }
    let timeout = seconds(
        "assignment.timeout_seconds",
        p.timeout_seconds,
        Duration::ZERO,
    )?;
    let close_timeout = seconds(
        "assignment.close_timeout_seconds",
        p.close_timeout_seconds,
        DEFAULT_CLOSE_TIMEOUT,
    )?;
    let max_message = match p.max_message_bytes {
        0 => DEFAULT_MAX_MESSAGE,
        n => usize::try_from(n).map_err(|_| bad("assignment.max_message_bytes", n))?,
    };
    Ok(Assignment {
        mode,
        targets,
        wait_seconds: p.wait_seconds,
        batch_size: p.batch_size,
        first_request_id: p.first_request_id,
        count: p.count,
        timeout,
        close_timeout,
        max_message,
        close,
        hardware: p.hardware.clone(),
        tls: TlsOptions {
            ca_pem: (!p.ca_cert_pem.is_empty()).then(|| p.ca_cert_pem.clone()),
            insecure: p.insecure,
        },
        workload: rollout::workload_from_proto(p.workload.as_ref())?,
        abort: abort_from_proto(p)?,
        stages: stages_from_proto(&p.stages)?,
        interval: seconds(
            "assignment.interval_seconds",
            p.interval_seconds,
            crate::plan::DEFAULT_INTERVAL,
        )?,
        no_pong: if (0.0..=1.0).contains(&p.no_pong_fraction) {
            p.no_pong_fraction
        } else {
            return Err(bad("assignment.no_pong_fraction", p.no_pong_fraction));
        },
        ping_interval: Duration::try_from_secs_f64(p.ping_interval_seconds)
            .map_err(|_| bad("assignment.ping_interval_seconds", p.ping_interval_seconds))?,
        ping_timeout: seconds(
            "assignment.ping_timeout_seconds",
            p.ping_timeout_seconds,
            DEFAULT_PING_TIMEOUT,
        )?,
        headers: p
            .headers
            .iter()
            .map(|h| HeaderTemplate::parse(&format!("{}: {}", h.name, h.value)))
            .collect::<Result<_, _>>()
            .map_err(|e| bad("assignment.headers", e))?,
        loopback_sources: match p.loopback_sources {
            0 => crate::source::LOOPBACK_SOURCES,
            n @ 1..=32 => n as u8,
            n => return Err(bad("assignment.loopback_sources", n)),
        },
        arrival: match &p.arrival {
            None => Arrival::default(),
            Some(a) => Arrival {
                spread: Duration::try_from_secs_f64(a.spread_seconds)
                    .map_err(|_| bad("assignment.arrival.spread_seconds", a.spread_seconds))?,
                open: a.open,
                max_in_flight: a.max_in_flight,
                poisson: a.poisson.then_some(a.seed),
            },
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stats_round_trip_exactly() {
        let mut s = PhaseStats::default();
        for us in [10u64, 2_000, 30_000, 1_000_000] {
            s.total.record(us);
            s.reset.record(us / 2);
        }
        s.sessions = 5;
        s.successful = 4;
        s.failed = 1;
        s.errors.insert(ErrorType::CapacityReached, 1);
        let back = stats_from_proto(&stats_to_proto(&s)).unwrap();
        assert_eq!((back.sessions, back.successful, back.failed), (5, 4, 1));
        assert_eq!(back.total.hist, s.total.hist);
        assert_eq!(
            (back.total.min_us, back.total.max_us, back.total.sum_us),
            (10, 1_000_000, s.total.sum_us)
        );
        assert_eq!(back.errors, s.errors);
        assert_eq!(back.connect.count(), 0);
    }

    #[test]
    fn assignment_round_trips_and_bad_ones_are_named() {
        let a = Assignment {
            mode: Mode::Http,
            targets: vec![Target::parse("http://127.0.0.1:9").unwrap()],
            wait_seconds: 0.5,
            batch_size: 100,
            first_request_id: 40,
            count: 30,
            timeout: Duration::from_secs(7),
            close_timeout: Duration::from_secs(3),
            max_message: 4096,
            close: CloseMode::ServerFirst,
            hardware: "cpu".into(),
            tls: TlsOptions {
                ca_pem: Some(b"PEM".to_vec()),
                insecure: true,
            },
            workload: Default::default(),
            arrival: Arrival {
                spread: Duration::from_millis(2500),
                open: true,
                max_in_flight: 7,
                poisson: Some(9),
            },
            loopback_sources: 1,
            headers: vec![HeaderTemplate::parse("Authorization: Bearer ${TOKEN}").unwrap()],
            ping_interval: Duration::from_millis(1500),
            ping_timeout: Duration::from_secs(4),
            abort: Some(Abort {
                fraction: 0.25,
                stage: AbortStage::Think,
                fin: true,
            }),
            no_pong: 0.5,
            stages: Some(crate::stages::Stages::parse("10s:64,40s:64,500ms:0").unwrap()),
            interval: Duration::from_millis(250),
        };
        let p = assignment_to_proto(3, &a, true);
        assert_eq!(
            p.headers[0].value, "Bearer ${TOKEN}",
            "the template crosses, not the secret"
        );
        let back = assignment_from_proto(&p).unwrap();
        assert_eq!(
            (back.first_request_id, back.count, back.close, back.mode),
            (40, 30, CloseMode::ServerFirst, Mode::Http)
        );
        assert_eq!(back.arrival, a.arrival);
        assert_eq!(back.loopback_sources, 1);
        assert_eq!(back.headers, a.headers);
        assert_eq!(back.abort, a.abort);
        assert_eq!(back.no_pong, a.no_pong);
        assert_eq!((&back.stages, back.interval), (&a.stages, a.interval));
        assert_eq!(
            (back.ping_interval, back.ping_timeout),
            (a.ping_interval, a.ping_timeout)
        );
        assert_eq!(back.limits(), a.limits());
        let old = assignment_from_proto(&v1::Assignment {
            close_timeout_seconds: 0.0,
            max_message_bytes: 0,
            ..p.clone()
        })
        .unwrap();
        assert_eq!(
            (old.close_timeout, old.max_message),
            (DEFAULT_CLOSE_TIMEOUT, DEFAULT_MAX_MESSAGE)
        );
        let huge = assignment_from_proto(&v1::Assignment {
            timeout_seconds: 1e20,
            ..p.clone()
        })
        .unwrap_err();
        assert!(huge.to_string().contains("timeout_seconds"), "{huge}");
        let e = assignment_from_proto(&v1::Assignment {
            mode: "tcp".into(),
            ..p
        })
        .unwrap_err();
        assert!(e.to_string().contains("tcp"));
    }
}

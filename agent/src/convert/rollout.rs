//! Rollout workloads ⇄ `envload.v1`: the workload an assignment carries,
//! the rollout part of phase statistics (per-step-index histograms merged
//! exactly, like the others) and of session records. Every field is new in
//! its message, so a benchmark run's bytes are what they were.

use std::collections::BTreeMap;

use envload_proto::v1;

use super::{bad, latency_to_proto, merge_latency, ConvertError};
use crate::failure::ErrorType;
use crate::record::{Rollout, StepTime};
use crate::replay::{Message, Replay, Transport};
use crate::stats::{Latency, PhaseStats};
use crate::workload::{check_action, Actions, Span, Think, Workload};

/// The workload of an assignment; `None` for the benchmark session.
pub fn workload_to_proto(w: &Workload) -> Option<v1::Workload> {
    if w.is_benchmark() {
        return None;
    }
    let (template, lines) = match &w.actions {
        Actions::Benchmark => (String::new(), Vec::new()),
        Actions::Template(t) => (t.clone(), Vec::new()),
        Actions::Lines(l) => (String::new(), l.clone()),
    };
    let mut think_span = Span::fixed(0.0);
    let (mut think_a, mut think_b, mut think_samples) = (0.0, 0.0, Vec::new());
    let think_dist = match &w.think {
        Think::Uniform(s) => {
            think_span = *s;
            ""
        }
        Think::Exp(mean) => {
            think_a = *mean;
            "exp"
        }
        Think::LogNormal { median, sigma } => {
            (think_a, think_b) = (*median, *sigma);
            "lognormal"
        }
        Think::Samples(v) => {
            think_samples = v.to_vec();
            "samples"
        }
    };
    Some(v1::Workload {
        steps_min: w.steps.min,
        steps_max: w.steps.max,
        think_min_seconds: think_span.min,
        think_max_seconds: think_span.max,
        think_dist: think_dist.into(),
        think_a,
        think_b,
        think_samples,
        episodes: w.episodes,
        reset_json: w.reset.clone().unwrap_or_default(),
        action_template: template,
        action_lines: lines,
        max_resets_in_flight: w.max_resets_in_flight,
        seed: w.seed,
        group: w.group,
        state_every: w.state_every,
        replay: w.replay.as_deref().map(replay_to_proto),
    })
}

fn replay_to_proto(r: &Replay) -> v1::Replay {
    v1::Replay {
        transport: r.transport.as_str().into(),
        random: r.random,
        sessions: r
            .sessions
            .iter()
            .map(|s| v1::ReplaySession {
                messages: s
                    .iter()
                    .map(|m| v1::ReplayMessage {
                        gap_seconds: m.gap,
                        text: m.text.clone(),
                        kind: m.kind.clone(),
                        path: m.path.clone(),
                        reply: m.reply,
                    })
                    .collect(),
            })
            .collect(),
    }
}

fn replay_from_proto(p: &v1::Replay) -> Result<Replay, ConvertError> {
    let transport = Transport::parse(&p.transport)
        .ok_or_else(|| bad("assignment.workload.replay.transport", &p.transport))?;
    let mut sessions = Vec::new();
    for s in &p.sessions {
        let mut msgs = Vec::new();
        for m in &s.messages {
            if !(m.gap_seconds.is_finite() && m.gap_seconds >= 0.0) {
                return Err(bad("assignment.workload.replay.gap_seconds", m.gap_seconds));
            }
            msgs.push(Message {
                gap: m.gap_seconds,
                text: m.text.clone(),
                kind: m.kind.clone(),
                path: m.path.clone(),
                reply: m.reply,
            });
        }
        sessions.push(msgs);
    }
    if sessions.is_empty() || sessions.iter().any(Vec::is_empty) {
        return Err(bad(
            "assignment.workload.replay",
            "a session without messages",
        ));
    }
    Ok(Replay {
        transport,
        sessions,
        random: p.random,
    })
}

/// The think distribution of a workload, checked.
fn think_from_proto(p: &v1::Workload) -> Result<Think, ConvertError> {
    let ok = |t: f64| t.is_finite() && t >= 0.0;
    let bad_think = || {
        bad(
            "assignment.workload.think",
            format!("{} {} {}", p.think_dist, p.think_a, p.think_b),
        )
    };
    Ok(match p.think_dist.as_str() {
        "" => Think::Uniform(Span {
            min: p.think_min_seconds,
            max: p.think_max_seconds,
        }),
        "exp" if ok(p.think_a) && p.think_a > 0.0 => Think::Exp(p.think_a),
        "lognormal" if ok(p.think_a) && p.think_a > 0.0 && ok(p.think_b) => Think::LogNormal {
            median: p.think_a,
            sigma: p.think_b,
        },
        "samples" if !p.think_samples.is_empty() && p.think_samples.iter().all(|t| ok(*t)) => {
            Think::Samples(p.think_samples.clone().into())
        }
        _ => return Err(bad_think()),
    })
}

/// Decodes (and checks) an assignment's workload.
pub fn workload_from_proto(p: Option<&v1::Workload>) -> Result<Workload, ConvertError> {
    let Some(p) = p else {
        return Ok(Workload::default());
    };
    if p.steps_min == 0 || p.steps_min > p.steps_max || p.episodes == 0 {
        return Err(bad(
            "assignment.workload",
            format!(
                "steps {}..{}, episodes {}",
                p.steps_min, p.steps_max, p.episodes
            ),
        ));
    }
    let think_ok = |t: f64| t.is_finite() && t >= 0.0;
    if !(think_ok(p.think_min_seconds)
        && think_ok(p.think_max_seconds)
        && p.think_min_seconds <= p.think_max_seconds)
    {
        return Err(bad(
            "assignment.workload.think",
            format!("{}..{}", p.think_min_seconds, p.think_max_seconds),
        ));
    }
    let actions = match (p.action_template.is_empty(), p.action_lines.is_empty()) {
        (true, true) => Actions::Benchmark,
        (false, true) => Actions::Template(p.action_template.clone()),
        (true, false) => Actions::Lines(p.action_lines.clone()),
        (false, false) => {
            return Err(bad(
                "assignment.workload",
                "both an action template and action lines",
            ))
        }
    };
    for t in actions.texts() {
        check_action(t).map_err(|e| bad("assignment.workload.action", e))?;
    }
    Ok(Workload {
        steps: Span {
            min: p.steps_min,
            max: p.steps_max,
        },
        think: think_from_proto(p)?,
        episodes: p.episodes,
        reset: (!p.reset_json.is_empty()).then(|| p.reset_json.clone()),
        actions,
        max_resets_in_flight: p.max_resets_in_flight,
        seed: p.seed,
        group: p.group.max(1),
        state_every: p.state_every,
        replay: p
            .replay
            .as_ref()
            .map(replay_from_proto)
            .transpose()?
            .map(std::sync::Arc::new),
    })
}

/// Writes the rollout part of `s` into `p`.
pub fn fill_stats(p: &mut v1::Stats, s: &PhaseStats) {
    let Some(r) = &s.rollout else { return };
    p.step_by_index = r.by_step.iter().map(latency_to_proto).collect();
    p.state_by_index = r.state_by_step.iter().map(latency_to_proto).collect();
    p.mcp_by_index = r.mcp_by_step.iter().map(latency_to_proto).collect();
    p.unclosed = r.unclosed;
    p.episode = Some(latency_to_proto(&r.episode));
    p.episodes = r.episodes;
    p.episodes_ok = r.episodes_ok;
    p.steps = r.steps;
    p.bytes_sent = r.bytes_sent;
    p.bytes_received = r.bytes_received;
    p.reconnects = r.reconnects;
    p.episode_errors = r
        .episode_errors
        .iter()
        .map(|(k, v)| (k.as_str().to_string(), *v))
        .collect();
}

/// Adds the rollout part of `p` to `s` (nothing when `p` has none).
pub fn merge_stats(s: &mut PhaseStats, p: &v1::Stats) -> Result<(), ConvertError> {
    if p.episodes == 0 && p.step_by_index.is_empty() && p.mcp_by_index.is_empty() && p.unclosed == 0
    {
        return Ok(());
    }
    let mut errors = BTreeMap::new();
    for (k, v) in &p.episode_errors {
        let kind = k
            .parse::<ErrorType>()
            .map_err(|e| bad("stats.episode_errors", e))?;
        errors.insert(kind, *v);
    }
    let r = s.rollout.get_or_insert_with(Default::default);
    for (mine, theirs) in [
        (&mut r.by_step, &p.step_by_index),
        (&mut r.state_by_step, &p.state_by_index),
        (&mut r.mcp_by_step, &p.mcp_by_index),
    ] {
        if mine.len() < theirs.len() {
            mine.resize_with(theirs.len(), Latency::default);
        }
        for (m, t) in mine.iter_mut().zip(theirs) {
            merge_latency(m, Some(t))?;
        }
    }
    r.unclosed += p.unclosed;
    merge_latency(&mut r.episode, p.episode.as_ref())?;
    r.episodes += p.episodes;
    r.episodes_ok += p.episodes_ok;
    r.steps += p.steps;
    r.bytes_sent += p.bytes_sent;
    r.bytes_received += p.bytes_received;
    r.reconnects += p.reconnects;
    for (k, v) in errors {
        *r.episode_errors.entry(k).or_default() += v;
    }
    Ok(())
}

/// Encodes a session's rollout.
pub fn record_to_proto(r: &Rollout) -> v1::Rollout {
    v1::Rollout {
        episodes: r.episodes,
        episodes_ok: r.episodes_ok,
        episode_errors: r
            .episode_errors
            .iter()
            .map(|e| e.as_str().to_string())
            .collect(),
        step_index: r.steps.iter().map(|s| s.index).collect(),
        step_us: r.steps.iter().map(|s| s.us).collect(),
        state_index: r.states.iter().map(|s| s.index).collect(),
        state_us: r.states.iter().map(|s| s.us).collect(),
        mcp_index: r.mcp.iter().map(|s| s.index).collect(),
        mcp_us: r.mcp.iter().map(|s| s.us).collect(),
        unclosed: r.unclosed,
        reset_us: r.resets_us.clone(),
        episode_us: r.episodes_us.clone(),
        think_us: r.think_us,
        bytes_sent: r.bytes_sent,
        bytes_received: r.bytes_received,
        reconnects: r.reconnects,
    }
}

/// Decodes a session's rollout.
pub fn record_from_proto(p: &v1::Rollout) -> Result<Rollout, ConvertError> {
    for (what, a, b) in [
        ("step", p.step_index.len(), p.step_us.len()),
        ("state", p.state_index.len(), p.state_us.len()),
        ("mcp", p.mcp_index.len(), p.mcp_us.len()),
    ] {
        if a != b {
            return Err(bad(
                "record.rollout",
                format!("{what}_index and {what}_us differ in length"),
            ));
        }
    }
    let times = |index: &[u32], us: &[u64]| -> Vec<StepTime> {
        index
            .iter()
            .zip(us)
            .map(|(&index, &us)| StepTime { index, us })
            .collect()
    };
    let episode_errors = p
        .episode_errors
        .iter()
        .map(|e| e.parse::<ErrorType>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| bad("record.rollout.episode_errors", e))?;
    Ok(Rollout {
        episodes: p.episodes,
        episodes_ok: p.episodes_ok,
        episode_errors,
        steps: times(&p.step_index, &p.step_us),
        states: times(&p.state_index, &p.state_us),
        mcp: times(&p.mcp_index, &p.mcp_us),
        unclosed: p.unclosed,
        resets_us: p.reset_us.clone(),
        episodes_us: p.episode_us.clone(),
        think_us: p.think_us,
        bytes_sent: p.bytes_sent,
        bytes_received: p.bytes_received,
        reconnects: p.reconnects,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::RolloutStats;

    #[test]
    fn workloads_cross_the_wire_unchanged() {
        let w = Workload {
            steps: Span { min: 3, max: 20 },
            think: Think::Uniform(Span {
                min: 1.0,
                max: 20.0,
            }),
            episodes: 8,
            reset: Some(r#"{"seed":7}"#.into()),
            actions: Actions::Lines(vec![r#"{"message":"hi {step}"}"#.into()]),
            max_resets_in_flight: 256,
            seed: 11,
            group: 8,
            state_every: 2,
            replay: Some(std::sync::Arc::new(Replay {
                transport: Transport::McpWs,
                sessions: vec![vec![Message {
                    gap: 0.5,
                    text: r#"{"method":"tools/list"}"#.into(),
                    kind: "jsonrpc".into(),
                    path: "/mcp".into(),
                    reply: true,
                }]],
                random: true,
            })),
        };
        let p = workload_to_proto(&w).unwrap();
        assert_eq!(workload_from_proto(Some(&p)).unwrap(), w);
        for think in [
            Think::Exp(2.5),
            Think::LogNormal {
                median: 1.5,
                sigma: 0.8,
            },
            Think::Samples(vec![0.25, 4.0].into()),
        ] {
            let w = Workload { think, ..w.clone() };
            let p = workload_to_proto(&w).unwrap();
            assert_eq!(workload_from_proto(Some(&p)).unwrap(), w);
        }
        assert_eq!(workload_to_proto(&Workload::default()), None);
        assert_eq!(workload_from_proto(None).unwrap(), Workload::default());
        let bad_steps = v1::Workload { steps_min: 0, ..p };
        assert!(workload_from_proto(Some(&bad_steps)).is_err());
    }

    #[test]
    fn rollout_records_and_stats_round_trip() {
        let r = Rollout {
            episodes: 2,
            episodes_ok: 1,
            episode_errors: vec![ErrorType::UnexpectedClose],
            steps: vec![StepTime { index: 0, us: 10 }, StepTime { index: 1, us: 30 }],
            resets_us: vec![5],
            episodes_us: vec![50],
            think_us: 1000,
            bytes_sent: 100,
            bytes_received: 900,
            reconnects: 1,
            states: vec![StepTime { index: 1, us: 7 }],
            mcp: vec![StepTime { index: 0, us: 40 }],
            unclosed: true,
        };
        assert_eq!(record_from_proto(&record_to_proto(&r)).unwrap(), r);
        let mut stats = PhaseStats {
            rollout: Some(Box::default()),
            ..PhaseStats::default()
        };
        let mut rs = RolloutStats::default();
        rs.by_step.resize_with(2, Latency::default);
        rs.by_step[1].record(30);
        rs.mcp_by_step.resize_with(3, Latency::default);
        rs.mcp_by_step[2].record(40);
        rs.state_by_step.resize_with(1, Latency::default);
        rs.state_by_step[0].record(8);
        rs.unclosed = 3;
        rs.episodes = 2;
        stats.rollout = Some(Box::new(rs));
        let mut p = v1::Stats::default();
        fill_stats(&mut p, &stats);
        let mut back = PhaseStats::default();
        merge_stats(&mut back, &p).unwrap();
        let back = back.rollout.unwrap();
        assert_eq!((back.episodes, back.by_step.len()), (2, 2));
        assert_eq!(back.by_step[1].count(), 1);
        assert_eq!(
            (
                back.mcp_by_step.len(),
                back.mcp_by_step[2].count(),
                back.state_by_step[0].max_us,
                back.unclosed
            ),
            (3, 1, 8, 3)
        );
    }
}

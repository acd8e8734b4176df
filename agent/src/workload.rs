//! What a session does once connected: how many episodes, how many steps
//! each, how long the agent "thinks" before each step, and what it sends as
//! reset data and actions. The default is the benchmark's session: one
//! episode of one step `{"wait_seconds": w}`, no thinking.
//!
//! A multi-step WebSocket session keeps its connection for all its episodes
//! (reset, then `think` + step K times, per episode: the pattern of RL
//! trainers that hold one socket per rollout slot). Over HTTP, OpenEnv's
//! `/reset` and `/step` are stateless (each builds a fresh environment), so
//! an HTTP episode is one `POST /reset` and K independent `POST /step`s,
//! timed the same way: the load is the same, the environment state is not
//! carried.

use std::fmt;

use rand::distr::uniform::SampleUniform;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::Value;
use tokio_tungstenite::tungstenite::Utf8Bytes;

/// An inclusive range, drawn uniformly per episode (steps) or per step
/// (think); `a..b` on the command line, or one value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Span<T> {
    pub min: T,
    pub max: T,
}

impl<T: Copy> Span<T> {
    /// Always `v`.
    pub const fn fixed(v: T) -> Self {
        Span { min: v, max: v }
    }
}

impl<T: SampleUniform + PartialOrd + Copy> Span<T> {
    /// One draw, uniform over the span.
    fn draw(&self, rng: &mut StdRng) -> T {
        if self.min >= self.max {
            self.min
        } else {
            rng.random_range(self.min..=self.max)
        }
    }
}

impl<T: fmt::Display + PartialEq> fmt::Display for Span<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.min == self.max {
            write!(f, "{}", self.min)
        } else {
            write!(f, "{}..{}", self.min, self.max)
        }
    }
}

/// Longest think a distribution may draw (a day, as `--think` allows).
pub const MAX_THINK: f64 = 86_400.0;

/// How long the agent thinks before each step, drawn per step: uniform
/// over a span (`S`, `A..B`), exponential (`exp:MEAN`), lognormal
/// (`lognormal:MEDIAN,SIGMA`: heavy-tailed, as GRPO generation times are),
/// or drawn from recorded values (`file:PATH`, one a line).
#[derive(Debug, Clone, PartialEq)]
pub enum Think {
    /// Uniform over the span.
    Uniform(Span<f64>),
    /// Exponential with this mean, seconds.
    Exp(f64),
    /// Lognormal: this median (seconds) and σ of the underlying normal.
    LogNormal { median: f64, sigma: f64 },
    /// One of these values, uniformly.
    Samples(std::sync::Arc<[f64]>),
}

impl Default for Think {
    fn default() -> Self {
        Think::Uniform(Span::fixed(0.0))
    }
}

impl Think {
    /// Every draw multiplied by `f` (`--time-scale`).
    pub fn scaled(&self, f: f64) -> Think {
        match self {
            Think::Uniform(s) => Think::Uniform(Span {
                min: s.min * f,
                max: s.max * f,
            }),
            Think::Exp(mean) => Think::Exp(mean * f),
            Think::LogNormal { median, sigma } => Think::LogNormal {
                median: median * f,
                sigma: *sigma,
            },
            Think::Samples(v) => Think::Samples(v.iter().map(|x| x * f).collect()),
        }
    }

    /// One draw, seconds, in `[0, MAX_THINK]`.
    fn draw(&self, rng: &mut StdRng) -> f64 {
        // u in (0, 1]: ln(u) is finite.
        let mut open_unit = || 1.0 - rng.random::<f64>();
        let t = match self {
            Think::Uniform(s) => return s.draw(rng),
            Think::Exp(mean) => -mean * open_unit().ln(),
            Think::LogNormal { median, sigma } => {
                // Box–Muller: one standard normal from two uniforms.
                let (u1, u2) = (open_unit(), open_unit());
                let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
                median * (sigma * z).exp()
            }
            Think::Samples(v) => v[rng.random_range(0..v.len())],
        };
        if t.is_finite() {
            t.clamp(0.0, MAX_THINK)
        } else {
            MAX_THINK
        }
    }
}

impl fmt::Display for Think {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Think::Uniform(s) => write!(f, "{s}"),
            Think::Exp(mean) => write!(f, "exp:{mean}"),
            Think::LogNormal { median, sigma } => write!(f, "lognormal:{median},{sigma}"),
            Think::Samples(v) => write!(f, "file:({} values)", v.len()),
        }
    }
}

/// Where step actions come from.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Actions {
    /// `{"wait_seconds": <phase wait>}`.
    #[default]
    Benchmark,
    /// One JSON template for every step (`--action`).
    Template(String),
    /// One per step, in order, cycling (`--actions FILE.jsonl`).
    Lines(Vec<String>),
}

impl Actions {
    /// The templates, in the order steps use them (cycling); none for the
    /// benchmark action.
    pub fn texts(&self) -> &[String] {
        match self {
            Actions::Benchmark => &[],
            Actions::Template(t) => std::slice::from_ref(t),
            Actions::Lines(lines) => lines,
        }
    }
}

/// A session's work.
#[derive(Debug, Clone, PartialEq)]
pub struct Workload {
    /// Steps per episode.
    pub steps: Span<u32>,
    /// Seconds of thinking before each step.
    pub think: Think,
    /// Episodes per session, back to back on one connection.
    pub episodes: u32,
    /// The reset's `data` object, as JSON text (`--reset`); `None`: `{}`.
    pub reset: Option<String>,
    /// The actions.
    pub actions: Actions,
    /// At most this many resets outstanding across the phase (0: no bound);
    /// an agent holds its share of it.
    pub max_resets_in_flight: u64,
    /// Seed of the step counts and think times (a session's draws depend on
    /// the seed and its request id only, so a run is reproducible whatever
    /// the agents).
    pub seed: u64,
    /// Sessions per GRPO group (`--group`; 1: none): a group starts
    /// together, shares its step counts and steps in lockstep.
    pub group: u64,
    /// A `state` request after every this many steps of an episode
    /// (`--state-every`; 0: none), as a trainer that reads the episode's
    /// state does.
    pub state_every: u32,
    /// Recorded sessions to replay instead (`--replay`).
    pub replay: Option<std::sync::Arc<crate::replay::Replay>>,
}

impl Default for Workload {
    fn default() -> Self {
        Workload {
            steps: Span::fixed(1),
            think: Think::default(),
            episodes: 1,
            reset: None,
            actions: Actions::Benchmark,
            max_resets_in_flight: 0,
            seed: 0,
            group: 1,
            state_every: 0,
            replay: None,
        }
    }
}

impl Workload {
    /// Whether this is the benchmark's one-step session.
    pub fn is_benchmark(&self) -> bool {
        *self == Workload::default()
    }

    /// The draws of session `request_id` (in a group, its step counts are
    /// the group's).
    pub fn dice(&self, request_id: u64) -> Dice {
        Dice {
            rng: StdRng::seed_from_u64(self.seed ^ request_id.wrapping_mul(0x9E37_79B9_7F4A_7C15)),
            group_rng: (self.group > 1).then(|| self.group_rng(request_id / self.group)),
            steps: self.steps,
            think: self.think.clone(),
        }
    }

    /// Group `group`'s step counts, drawn episode by episode.
    fn group_rng(&self, group: u64) -> StdRng {
        StdRng::seed_from_u64(
            self.seed ^ 0x6A09_E667_F3BC_C909 ^ group.wrapping_mul(0xBB67_AE85_84CA_A73B),
        )
    }

    /// Group `group`'s step count in `episode`.
    pub fn group_steps(&self, group: u64, episode: u32) -> u32 {
        let mut rng = self.group_rng(group);
        let mut k = self.steps.draw(&mut rng);
        for _ in 0..episode {
            k = self.steps.draw(&mut rng);
        }
        k
    }

    /// The think times sessions `ids` draw, in their order (each session's
    /// episodes, each episode's steps), at most `cap` of them: what a run
    /// whose sessions all finish thinks, as the seed decides it.
    pub fn planned_thinks(&self, ids: std::ops::Range<u64>, cap: usize) -> Vec<f64> {
        let mut out = Vec::new();
        for id in ids {
            let mut dice = self.dice(id);
            for _ in 0..self.episodes {
                for _ in 0..dice.steps() {
                    if out.len() >= cap {
                        return out;
                    }
                    out.push(dice.think());
                }
            }
        }
        out
    }

    /// The reset message.
    pub fn reset_message(&self) -> Utf8Bytes {
        match &self.reset {
            None => Utf8Bytes::from_static(r#"{"type":"reset","data":{}}"#),
            Some(data) => format!(r#"{{"type":"reset","data":{data}}}"#).into(),
        }
    }

    /// The HTTP `/reset` body.
    pub fn reset_body(&self) -> String {
        self.reset.clone().unwrap_or_default()
    }

    /// The action of step `step` (0-based within its episode) of session
    /// `session`, as JSON text, or `None` for the benchmark action.
    pub fn action(&self, wait: f64, step: u32, session: u64) -> Option<String> {
        let texts = self.actions.texts();
        let template = texts.get(step as usize % texts.len().max(1))?;
        Some(render(template, wait, step, session))
    }

    /// What each of the action texts (in [`Actions::texts`] order) asks;
    /// the answer is the same for every rendering, so it is worked out once
    /// per share, not per step.
    pub fn kinds(&self) -> Vec<StepKind> {
        self.actions
            .texts()
            .iter()
            .map(|t| StepKind::of(&render(t, 1.0, 0, 0)))
            .collect()
    }

    /// Whether any action is of kind `k`.
    pub fn asks(&self, k: StepKind) -> bool {
        self.kinds().contains(&k)
    }

    /// Whether a `state` request follows step `s` (0-based) of an episode.
    pub fn state_after(&self, s: u32) -> bool {
        self.state_every > 0 && (s + 1) % self.state_every == 0
    }
}

/// What one workload step asks the server, each timed as its own stage:
/// an environment step (`step_*`), the environment's `state` (`state_*`),
/// or an MCP call (`mcp_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StepKind {
    Step,
    State,
    Mcp,
}

impl StepKind {
    /// The stage it is timed as (and named in failures).
    pub fn stage(self) -> &'static str {
        match self {
            StepKind::Step => "step",
            StepKind::State => "state",
            StepKind::Mcp => "mcp",
        }
    }

    /// The kind of an action text: `{"type":"state"}`, `{"type":"mcp",…}`,
    /// or anything else (an environment action).
    pub fn of(action: &str) -> StepKind {
        let kind = serde_json::from_str::<Value>(action)
            .ok()
            .and_then(|v| v.get("type").and_then(Value::as_str).map(str::to_string));
        match kind.as_deref() {
            Some("state") => StepKind::State,
            Some("mcp") => StepKind::Mcp,
            _ => StepKind::Step,
        }
    }
}

/// The `state` request of a WebSocket session.
pub const STATE_FRAME: &str = r#"{"type":"state"}"#;

/// `{wait}`, `{step}` (1-based) and `{session}` (the request id) put in.
pub fn render(template: &str, wait: f64, step: u32, session: u64) -> String {
    template
        .replace("{wait}", &wait.to_string())
        .replace("{step}", &(step + 1).to_string())
        .replace("{session}", &session.to_string())
}

/// The WebSocket frame that carries `action` of kind `kind` (see
/// [`Workload::kinds`]): an MCP call or a state request as it is, an
/// environment action as a step's data.
pub fn step_frame(action: String, kind: StepKind) -> Utf8Bytes {
    match kind {
        StepKind::Step => format!(r#"{{"type":"step","data":{action}}}"#).into(),
        StepKind::Mcp | StepKind::State => action.into(),
    }
}

/// Checks a template or line: a JSON object once the placeholders are
/// filled in. The message names what is wrong; callers add where.
pub fn check_action(text: &str) -> Result<(), String> {
    let sample = render(text, 1.0, 0, 0);
    match serde_json::from_str::<Value>(&sample) {
        Ok(Value::Object(m)) => {
            if m.get("type").and_then(Value::as_str) == Some("mcp") && !m.contains_key("data") {
                return Err("an MCP message needs a \"data\" object (the JSON-RPC call)".into());
            }
            Ok(())
        }
        Ok(_) => Err("it is not a JSON object".into()),
        Err(e) => Err(format!("it is not JSON ({e})")),
    }
}

/// A session's random draws.
pub struct Dice {
    rng: StdRng,
    /// A group's: its step counts come from here.
    group_rng: Option<StdRng>,
    steps: Span<u32>,
    think: Think,
}

impl Dice {
    /// Steps of the next episode.
    pub fn steps(&mut self) -> u32 {
        match self.group_rng.as_mut() {
            Some(g) => self.steps.draw(g),
            None => self.steps.draw(&mut self.rng),
        }
    }

    /// Seconds to think before the next step.
    pub fn think(&mut self) -> f64 {
        self.think.draw(&mut self.rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_the_benchmark_session() {
        let w = Workload::default();
        assert!(w.is_benchmark());
        assert_eq!(w.action(1.0, 0, 7), None);
        assert_eq!(w.reset_message().as_str(), r#"{"type":"reset","data":{}}"#);
    }

    #[test]
    fn draws_are_reproducible_per_session_and_within_their_spans() {
        let w = Workload {
            steps: Span { min: 3, max: 20 },
            think: Think::Uniform(Span {
                min: 1.0,
                max: 20.0,
            }),
            seed: 42,
            ..Workload::default()
        };
        let draw = |id| {
            let mut d = w.dice(id);
            (0..50).map(|_| (d.steps(), d.think())).collect::<Vec<_>>()
        };
        assert_eq!(draw(5), draw(5));
        assert_ne!(draw(5), draw(6));
        for (s, t) in draw(9) {
            assert!((3..=20).contains(&s) && (1.0..=20.0).contains(&t));
        }
    }

    #[test]
    fn actions_fill_placeholders_and_mcp_goes_as_is() {
        let w = Workload {
            actions: Actions::Lines(vec![
                r#"{"message":"turn {step} of session {session}"}"#.into(),
                r#"{"type":"mcp","data":{"jsonrpc":"2.0","id":{step},"method":"tools/call","params":{"name":"add","arguments":{"a":1,"b":2}}}}"#.into(),
            ]),
            ..Workload::default()
        };
        assert_eq!(w.kinds(), [StepKind::Step, StepKind::Mcp]);
        let a = w.action(0.5, 0, 12).unwrap();
        assert_eq!(a, r#"{"message":"turn 1 of session 12"}"#);
        assert_eq!(
            step_frame(a, StepKind::Step).as_str(),
            r#"{"type":"step","data":{"message":"turn 1 of session 12"}}"#
        );
        let mcp = w.action(0.5, 1, 12).unwrap();
        assert!(
            StepKind::of(&mcp) == StepKind::Mcp
                && step_frame(mcp.clone(), StepKind::Mcp).as_str() == mcp
        );
        assert_eq!(StepKind::of(STATE_FRAME), StepKind::State);
        assert_eq!(
            w.action(0.5, 2, 12).unwrap(),
            r#"{"message":"turn 3 of session 12"}"#
        );
        let t = Workload {
            actions: Actions::Template(r#"{"wait_seconds":{wait}}"#.into()),
            ..Workload::default()
        };
        assert_eq!(t.action(0.25, 0, 0).unwrap(), r#"{"wait_seconds":0.25}"#);
    }

    #[test]
    fn bad_actions_say_why() {
        assert!(check_action(r#"{"wait_seconds":{wait}}"#).is_ok());
        assert!(check_action("[1]")
            .unwrap_err()
            .contains("not a JSON object"));
        assert!(check_action("{").unwrap_err().contains("not JSON"));
        assert!(check_action(r#"{"type":"mcp"}"#)
            .unwrap_err()
            .contains("data"));
    }

    #[test]
    fn heavy_tailed_thinks_have_the_asked_centre_and_a_tail() {
        let draws = |think: Think| {
            let w = Workload {
                think,
                seed: 7,
                ..Workload::default()
            };
            let mut d = w.dice(1);
            let mut v: Vec<f64> = (0..20_000).map(|_| d.think()).collect();
            v.sort_by(f64::total_cmp);
            v
        };
        let v = draws(Think::Exp(2.0));
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        assert!((mean - 2.0).abs() < 0.1, "exp mean {mean}");
        let v = draws(Think::LogNormal {
            median: 1.5,
            sigma: 0.8,
        });
        let (p50, p99) = (v[v.len() / 2], v[v.len() * 99 / 100]);
        assert!((p50 - 1.5).abs() < 0.08, "lognormal median {p50}");
        // exp(2.326 σ) × median: the tail a uniform think never has.
        assert!(
            (p99 / 1.5 - (2.326f64 * 0.8).exp()).abs() < 0.6,
            "p99 {p99}"
        );
        let v = draws(Think::Samples(vec![0.5, 3.0].into()));
        assert!(v.iter().all(|t| *t == 0.5 || *t == 3.0));
        assert_eq!(Think::Exp(2.0).scaled(0.5), Think::Exp(1.0));
    }
}

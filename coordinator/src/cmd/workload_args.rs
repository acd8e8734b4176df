//! The rollout workload flags of `run`, `ceiling` and `coordinator`
//! (`--steps`, `--think`, `--episodes`, `--reset`, `--action(s)`,
//! `--max-resets-in-flight`, `--seed`, `--time-scale`, `--scenario`),
//! resolved against a scenario file: a flag given wins over the file.

use std::path::PathBuf;

use clap::Args;
use envload_agent::jsonrpc;
use envload_agent::replay::Replay;
use envload_agent::workload::{check_action, render, Actions, Span, StepKind, Think, Workload};
use envload_agent::Mode;

use crate::error::UsageError;
use crate::scenario::{self, Scenario};
use crate::values::{parse_batch, parse_episodes, parse_steps, parse_think, parse_time_scale};

/// Rollout workload flags (all optional: without them a session is the
/// benchmark's one step).
#[derive(Debug, Clone, Default, Args)]
pub struct WorkloadArgs {
    /// A rollout scenario (TOML: requests, wait, steps, think, episodes,
    /// reset, action(s), max_resets_in_flight, …); flags given beside it
    /// override its values. See experiments/scenarios/.
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Steps per episode: K, or A..B drawn per episode.
    #[arg(long, value_parser = parse_steps)]
    pub steps: Option<Span<u32>>,
    /// Seconds of "thinking" before each step: S, or A..B drawn per step.
    /// The session stays connected and answers pings meanwhile.
    #[arg(long, value_parser = parse_think)]
    pub think: Option<Think>,
    /// Episodes per session, back to back on one connection (WebSocket).
    #[arg(long, value_parser = parse_episodes)]
    pub episodes: Option<u32>,
    /// Seed of the step counts and think times (a run is reproducible).
    #[arg(long)]
    pub seed: Option<u64>,
    /// GRPO groups: sessions come in groups of G (a trainer's
    /// num_generations) that start together, share their step counts and
    /// step in lockstep — every member waits for the group's slowest think.
    #[arg(long, allow_hyphen_values = true, value_parser = parse_batch)]
    pub group: Option<u64>,
    /// The reset's data, a JSON object (e.g. '{"seed": 1}').
    #[arg(long)]
    pub reset: Option<String>,
    /// Every step's action, a JSON object template; {wait}, {step} and
    /// {session} are filled in. An object with "type": "mcp" is sent as an
    /// MCP message instead of a step, {"type": "state"} asks the state. In
    /// the mcp-ws and mcp-http modes every action is a JSON-RPC request
    /// (default: tools/call of the tool `wait` with seconds {wait}).
    #[arg(long, conflicts_with = "actions")]
    pub action: Option<String>,
    /// Actions from a JSONL file, one per step in order, cycling.
    #[arg(long)]
    pub actions: Option<PathBuf>,
    /// At most this many resets outstanding across the phase (reset waves).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_resets_in_flight: Option<u64>,
    /// Ask the environment's state ({"type":"state"} on WebSocket, GET
    /// /state over HTTP) after every K-th step of an episode, timed as its
    /// own stage (state_* columns). An action {"type": "state"} in --action
    /// or an actions file asks it in place of a step.
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub state_every: Option<u32>,
    /// Multiplies think times (0.1: ten times faster).
    #[arg(long, value_parser = parse_time_scale)]
    pub time_scale: Option<f64>,
    /// Replay recorded sessions (a trace of `envload record`): each session
    /// sends one recorded session's client messages in order, waits for
    /// each reply and the recorded think time (--time-scale scales it).
    /// The mode is the trace's.
    #[arg(long)]
    pub replay: Option<PathBuf>,
    /// Which recorded session each replaying session takes: in turn, or at
    /// random (from --seed).
    #[arg(long, value_enum, default_value = "round-robin", requires = "replay")]
    pub replay_pick: ReplayPick,
}

/// `--replay-pick` values.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum ReplayPick {
    /// Session k replays recorded session k mod the count.
    #[default]
    RoundRobin,
    /// A recorded session drawn from the seed and the session's id.
    Random,
}

/// Refuses a workload some mode of the plan cannot send.
fn check_for_modes(w: &Workload, modes: &[Mode]) -> Result<(), UsageError> {
    if modes.contains(&Mode::Http) && w.asks(StepKind::Mcp) {
        return Err(UsageError(
            "MCP actions ({\"type\": \"mcp\"}) travel over the WebSocket session: use --mode ws, or --mode mcp-http for MCP over HTTP".into(),
        ));
    }
    if let Some(m) = modes.iter().find(|m| m.is_mcp()) {
        if w.state_every > 0 {
            return Err(UsageError(format!(
                "--state-every asks the environment's state, which --mode {} sessions (MCP, JSON-RPC only) cannot: use --mode ws or http",
                m.as_str()
            )));
        }
        for a in w.actions.texts() {
            jsonrpc::check_request(&render(a, 1.0, 0, 0)).map_err(|why| {
                UsageError(format!("action '{a}' for --mode {}: {why}", m.as_str()))
            })?;
        }
    }
    Ok(())
}

impl WorkloadArgs {
    /// The recorded sessions of `--replay` (or the scenario's `replay`).
    fn replay(
        &self,
        sc: &Scenario,
        scale: f64,
    ) -> Result<Option<std::sync::Arc<Replay>>, UsageError> {
        let Some(path) = self.replay.clone().or(sc.replay.clone()) else {
            return Ok(None);
        };
        let trace =
            envload_agent::trace::read(&path).map_err(|e| UsageError(format!("--replay {e}")))?;
        let mut r = Replay::from_trace(&trace, scale)
            .map_err(|e| UsageError(format!("--replay '{}': {e}", path.display())))?;
        r.random = self.replay_pick == ReplayPick::Random;
        Ok(Some(std::sync::Arc::new(r)))
    }

    /// The scenario file's settings, if one was given.
    pub fn scenario(&self) -> Result<Scenario, UsageError> {
        match &self.scenario {
            None => Ok(Scenario::default()),
            Some(p) => scenario::load(p).map_err(UsageError),
        }
    }

    /// The workload: flags over the scenario over the benchmark's defaults,
    /// checked for every mode the plan runs.
    pub fn workload(&self, sc: &Scenario, modes: &[Mode]) -> Result<Workload, UsageError> {
        let d = Workload::default();
        let scale = self.time_scale.or(sc.time_scale).unwrap_or(1.0);
        let think = self
            .think
            .clone()
            .or(sc.think.clone())
            .unwrap_or(d.think.clone());
        let reset = match &self.reset {
            Some(r) => {
                check_action(r).map_err(|why| UsageError(format!("--reset '{r}': {why}")))?;
                Some(r.clone())
            }
            None => sc.reset.clone(),
        };
        let actions = match (&self.action, &self.actions) {
            (Some(a), _) => {
                check_action(a).map_err(|why| UsageError(format!("--action '{a}': {why}")))?;
                Actions::Template(a.clone())
            }
            (None, Some(file)) => Actions::Lines(
                scenario::actions_file(file).map_err(|e| UsageError(format!("--actions: {e}")))?,
            ),
            (None, None) => sc.actions.clone().unwrap_or_default(),
        };
        let w = Workload {
            steps: self.steps.or(sc.steps).unwrap_or(d.steps),
            think: think.scaled(scale),
            episodes: self.episodes.or(sc.episodes).unwrap_or(d.episodes),
            reset,
            actions,
            max_resets_in_flight: self
                .max_resets_in_flight
                .or(sc.max_resets_in_flight)
                .unwrap_or(0),
            seed: self.seed.or(sc.seed).unwrap_or(0),
            group: self.group.or(sc.group).unwrap_or(1),
            state_every: self.state_every.or(sc.state_every).unwrap_or(0),
            replay: self.replay(sc, scale)?,
        };
        check_for_modes(&w, modes)?;
        Ok(w)
    }
}

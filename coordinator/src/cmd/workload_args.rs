//! The rollout workload flags of `run`, `ceiling` and `coordinator`
//! (`--steps`, `--think`, `--episodes`, `--reset`, `--action(s)`,
//! `--max-resets-in-flight`, `--seed`, `--time-scale`, `--scenario`),
//! resolved against a scenario file: a flag given wins over the file.

use std::path::PathBuf;

use clap::Args;
use envload_agent::workload::{check_action, Actions, Span, Think, Workload};
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
    /// MCP message instead of a step.
    #[arg(long, conflicts_with = "actions")]
    pub action: Option<String>,
    /// Actions from a JSONL file, one per step in order, cycling.
    #[arg(long)]
    pub actions: Option<PathBuf>,
    /// At most this many resets outstanding across the phase (reset waves).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    pub max_resets_in_flight: Option<u64>,
    /// Multiplies think times (0.1: ten times faster).
    #[arg(long, value_parser = parse_time_scale)]
    pub time_scale: Option<f64>,
}

impl WorkloadArgs {
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
        };
        if modes.contains(&Mode::Http) && w.mcp_actions().contains(&true) {
            return Err(UsageError(
                "MCP actions ({\"type\": \"mcp\"}) travel over the WebSocket session: use --mode ws".into(),
            ));
        }
        Ok(w)
    }
}

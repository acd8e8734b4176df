//! A plan expands into phases (one per mode × N × wait × repetition) in the
//! reference client's order, with its pauses between them.

use std::time::Duration;

use envload_agent::Mode;

use envload_results::Phase;

/// How the phases were asked for (decides the console's closing table).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PlanKind {
    /// `-n`, `-w`, `--mode`: one phase.
    Single,
    /// `--requests-grid` and/or `--wait-grid`.
    Grid,
    /// `--compare`: HTTP then WebSocket.
    Compare,
}

/// What the user asked for, before expansion.
#[derive(Debug, Clone)]
pub struct PlanSpec {
    /// `--mode`, or the first of `--modes`.
    pub mode: Mode,
    /// `--modes`: the grid once per mode, in this order (empty: `--mode`).
    pub modes: Vec<Mode>,
    /// `-n`.
    pub n: u64,
    /// `-w`.
    pub wait: f64,
    /// `--requests-grid`.
    pub requests_grid: Option<Vec<u64>>,
    /// `--wait-grid`.
    pub wait_grid: Option<Vec<f64>>,
    /// `--reps`.
    pub reps: u32,
    /// `--compare`.
    pub compare: bool,
    /// `--cooldown`: the pause between phases (`None`: [`GRID_PAUSE`],
    /// [`COMPARE_PAUSE`]).
    pub cooldown: Option<Duration>,
}

/// Most phases one plan may expand to.
pub const MAX_PHASES: u64 = 100_000;

/// Pause between grid phases.
pub const GRID_PAUSE: Duration = Duration::from_millis(500);
/// Pause between the two `--compare` phases.
pub const COMPARE_PAUSE: Duration = Duration::from_secs(1);

impl PlanSpec {
    /// Which kind of plan this is (`--compare` wins over grids, as in the
    /// reference).
    pub fn kind(&self) -> PlanKind {
        if self.compare {
            PlanKind::Compare
        } else if self.requests_grid.is_some() || self.wait_grid.is_some() || self.modes.len() > 1 {
            PlanKind::Grid
        } else {
            PlanKind::Single
        }
    }

    /// The phases, in order.
    pub fn phases(&self) -> Vec<Phase> {
        let mut out = Vec::new();
        let mut push = |mode, n, wait, rep, pause| {
            let index = out.len();
            out.push(Phase {
                index,
                mode,
                n,
                wait,
                rep,
                pause_before: if index == 0 { Duration::ZERO } else { pause },
            });
        };
        match self.kind() {
            PlanKind::Single => push(self.mode, self.n, self.wait, 1, Duration::ZERO),
            PlanKind::Compare => {
                push(Mode::Http, self.n, self.wait, 1, Duration::ZERO);
                push(
                    Mode::Ws,
                    self.n,
                    self.wait,
                    1,
                    self.cooldown.unwrap_or(COMPARE_PAUSE),
                );
            }
            PlanKind::Grid => {
                let ns = self.requests_grid.clone().unwrap_or_else(|| vec![self.n]);
                let ws = self.wait_grid.clone().unwrap_or_else(|| vec![self.wait]);
                let modes = if self.modes.is_empty() {
                    vec![self.mode]
                } else {
                    self.modes.clone()
                };
                for &mode in &modes {
                    for &n in &ns {
                        for &w in &ws {
                            for rep in 1..=self.reps {
                                push(mode, n, w, rep, self.cooldown.unwrap_or(GRID_PAUSE));
                            }
                        }
                    }
                }
            }
        }
        out
    }

    /// Refuses plans too long to run (overflow-safe: the count is never
    /// expanded first).
    pub fn validate(&self) -> Result<(), String> {
        let ns = self.requests_grid.as_ref().map_or(1, Vec::len) as u64;
        let ws = self.wait_grid.as_ref().map_or(1, Vec::len) as u64;
        let count = match self.kind() {
            PlanKind::Single => Some(1),
            PlanKind::Compare => Some(2),
            PlanKind::Grid => (self.modes.len().max(1) as u64)
                .checked_mul(ns)
                .and_then(|c| c.checked_mul(ws))
                .and_then(|c| c.checked_mul(u64::from(self.reps))),
        };
        match count {
            Some(c) if c <= MAX_PHASES => Ok(()),
            _ => Err(format!(
                "the plan has more than {} phases (modes × --requests-grid × --wait-grid × --reps): split it",
                MAX_PHASES
            )),
        }
    }

    /// Largest N of any phase.
    pub fn max_n(&self) -> u64 {
        self.phases().iter().map(|p| p.n).max().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> PlanSpec {
        PlanSpec {
            mode: Mode::Ws,
            modes: Vec::new(),
            n: 10,
            wait: 1.0,
            requests_grid: None,
            wait_grid: None,
            reps: 1,
            compare: false,
            cooldown: None,
        }
    }

    #[test]
    fn grid_order_is_n_then_wait_then_rep() {
        let p = PlanSpec {
            requests_grid: Some(vec![1, 2]),
            wait_grid: Some(vec![0.1, 1.0]),
            reps: 2,
            ..spec()
        };
        let got: Vec<_> = p
            .phases()
            .iter()
            .map(|ph| (ph.n, ph.wait, ph.rep))
            .collect();
        assert_eq!(
            got,
            vec![
                (1, 0.1, 1),
                (1, 0.1, 2),
                (1, 1.0, 1),
                (1, 1.0, 2),
                (2, 0.1, 1),
                (2, 0.1, 2),
                (2, 1.0, 1),
                (2, 1.0, 2),
            ]
        );
        assert_eq!(p.phases()[0].pause_before, Duration::ZERO);
        assert_eq!(p.phases()[1].pause_before, GRID_PAUSE);
        let cooled = PlanSpec {
            cooldown: Some(Duration::from_secs(3)),
            ..p
        };
        let pauses: Vec<_> = cooled.phases().iter().map(|ph| ph.pause_before).collect();
        assert_eq!(pauses[0], Duration::ZERO, "none before the first phase");
        assert!(pauses[1..].iter().all(|d| *d == Duration::from_secs(3)));
    }

    #[test]
    fn missing_grid_falls_back_to_flag() {
        let p = PlanSpec {
            wait_grid: Some(vec![0.5]),
            n: 7,
            ..spec()
        };
        assert_eq!(p.phases().len(), 1);
        assert_eq!((p.phases()[0].n, p.kind()), (7, PlanKind::Grid));
    }

    #[test]
    fn compare_is_http_then_ws_with_a_pause() {
        let p = PlanSpec {
            compare: true,
            reps: 3,
            ..spec()
        };
        let ph = p.phases();
        assert_eq!(
            (ph[0].mode, ph[1].mode, ph.len()),
            (Mode::Http, Mode::Ws, 2)
        );
        assert_eq!(ph[1].pause_before, COMPARE_PAUSE);
    }

    #[test]
    fn modes_sweep_the_whole_grid_once_per_mode() {
        let p = PlanSpec {
            modes: vec![Mode::Ws, Mode::Http],
            requests_grid: Some(vec![1, 2]),
            ..spec()
        };
        let got: Vec<_> = p.phases().iter().map(|ph| (ph.mode, ph.n)).collect();
        assert_eq!(
            got,
            vec![
                (Mode::Ws, 1),
                (Mode::Ws, 2),
                (Mode::Http, 1),
                (Mode::Http, 2)
            ]
        );
        let two_modes_alone = PlanSpec {
            modes: vec![Mode::Http, Mode::Ws],
            ..spec()
        };
        assert_eq!(two_modes_alone.kind(), PlanKind::Grid);
        assert_eq!(two_modes_alone.phases().len(), 2);
    }

    #[test]
    fn single_ignores_reps_like_the_reference() {
        assert_eq!(PlanSpec { reps: 3, ..spec() }.phases().len(), 1);
    }
}

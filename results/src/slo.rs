//! The service level a batch must meet, written once for `envload ceiling`
//! (which searches for the largest batch meeting it) and `envload report`
//! (Table 4, the within-SLO figure, the log): success ≥ a threshold and
//! total p99 ≤ a bound, by default the reference matrix's 2 × (wait + 0.5 s).
//! [`SloSpec`] is the same rule as users write it (`--slo
//! 'success>=0.95,p99<=3s'`), with any summary percentile as a bound.

use crate::summary::SummaryRow;

/// Success and latency a batch must reach.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Slo {
    /// Minimum success fraction.
    pub success: f64,
    /// Maximum total p99, seconds.
    pub p99: f64,
}

/// Success fractions are means over repetitions: equal within this counts.
const TOLERANCE: f64 = 1e-12;

impl Slo {
    /// The reference matrix's SLO at `wait`: `success` and total p99 ≤
    /// [`default_p99`].
    pub fn at_wait(success: f64, wait: f64) -> Slo {
        Slo {
            success,
            p99: default_p99(wait),
        }
    }

    /// Whether a batch with this success fraction and total p99 meets it.
    pub fn met(&self, success: f64, p99: f64) -> bool {
        self.success_met(success) && p99 <= self.p99
    }

    /// Whether the success fraction alone reaches the threshold.
    pub fn success_met(&self, success: f64) -> bool {
        reaches(success, self.success)
    }
}

/// Whether a success fraction reaches `min` (means over repetitions equal
/// within [`TOLERANCE`] count).
fn reaches(success: f64, min: f64) -> bool {
    success >= min - TOLERANCE
}

/// The reference matrix's latency bound: total p99 ≤ 2 × (wait + 0.5 s).
pub fn default_p99(wait: f64) -> f64 {
    2.0 * (wait + 0.5)
}

/// One bound of an [`SloSpec`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Clause {
    /// `success>=F`: the success fraction reaches F.
    Success(f64),
    /// `[stage_]pNN<=T`: a latency percentile of summary.csv stays ≤ T s.
    Latency {
        /// `connect`, `reset`, `step` or `total`.
        stage: &'static str,
        /// 50, 90, 95 or 99 (connect/reset/step have 50, 95, 99).
        pct: u32,
        /// Bound, seconds.
        max: f64,
    },
}

/// A service level as written on the command line: comma-separated
/// clauses, every one of which a phase must meet.
#[derive(Debug, Clone, PartialEq)]
pub struct SloSpec {
    /// As written.
    pub text: String,
    pub clauses: Vec<Clause>,
}

impl std::str::FromStr for SloSpec {
    type Err = String;

    /// `success>=0.95` (or `95%`), `p99<=3s` (total; `ms` too),
    /// `connect_p95<=500ms`, … joined by commas.
    fn from_str(text: &str) -> Result<Self, String> {
        let clauses = text
            .split(',')
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(parse_clause)
            .collect::<Result<Vec<_>, _>>()?;
        if clauses.is_empty() {
            return Err("no clause (write e.g. 'success>=0.95,p99<=3s')".into());
        }
        Ok(SloSpec {
            text: text.to_string(),
            clauses,
        })
    }
}

fn parse_clause(c: &str) -> Result<Clause, String> {
    let bad = |why: &str| format!("'{c}': {why}");
    if let Some(v) = c.strip_prefix("success") {
        let v = v
            .trim()
            .strip_prefix(">=")
            .ok_or_else(|| bad("success takes '>=' (success>=0.95)"))?
            .trim();
        let f = match v.strip_suffix('%') {
            Some(pct) => pct.trim().parse::<f64>().map(|p| p / 100.0),
            None => v.parse::<f64>(),
        }
        .ok()
        .filter(|f| (0.0..=1.0).contains(f))
        .ok_or_else(|| bad("the success bound is a fraction 0..1 or a percentage"))?;
        return Ok(Clause::Success(f));
    }
    let (name, v) = c
        .split_once("<=")
        .ok_or_else(|| bad("write success>=F or [STAGE_]pNN<=SECONDS"))?;
    let (stage, pct) = match name.trim().split_once('_') {
        Some((stage, p)) => (stage, p),
        None => ("total", name.trim()),
    };
    let stage = ["connect", "reset", "step", "state", "mcp", "total"]
        .into_iter()
        .find(|s| *s == stage)
        .ok_or_else(|| bad("the stage is connect, reset, step, state, mcp or total"))?;
    let pct: u32 = pct
        .strip_prefix('p')
        .and_then(|p| p.parse().ok())
        .ok_or_else(|| bad("the percentile is p50, p90, p95 or p99"))?;
    let known: &[u32] = if stage == "total" {
        &[50, 90, 95, 99]
    } else {
        &[50, 95, 99]
    };
    if !known.contains(&pct) {
        return Err(bad(&format!(
            "summary.csv has {stage} p{}",
            known
                .iter()
                .map(u32::to_string)
                .collect::<Vec<_>>()
                .join(", p")
        )));
    }
    let v = v.trim();
    let max = match v.strip_suffix("ms") {
        Some(ms) => ms.trim().parse::<f64>().map(|m| m / 1000.0),
        None => v.strip_suffix('s').unwrap_or(v).trim().parse::<f64>(),
    }
    .ok()
    .filter(|m| m.is_finite() && *m >= 0.0)
    .ok_or_else(|| bad("the bound is seconds ≥ 0 (3, 3s or 500ms)"))?;
    Ok(Clause::Latency { stage, pct, max })
}

impl Clause {
    /// The figure this clause bounds, in a phase's row (`None`: a state or
    /// MCP stage the phase did not send).
    fn value(&self, row: &SummaryRow) -> Option<f64> {
        match *self {
            Clause::Success(_) => Some(1.0 - row.error_rate),
            Clause::Latency { stage, pct, .. } => {
                let i3 = match pct {
                    50 => 0,
                    95 => 1,
                    _ => 2,
                };
                match stage {
                    "connect" => Some(row.connect[i3]),
                    "reset" => Some(row.reset[i3]),
                    "step" => Some(row.step[i3]),
                    "state" => row.state.map(|v| v[i3]),
                    "mcp" => row.mcp.map(|v| v[i3]),
                    _ => Some(
                        row.total[[50, 90, 95, 99].iter().position(|p| *p == pct).unwrap_or(3)],
                    ),
                }
            }
        }
    }

    /// How a phase missed this clause ("success 0.912 < 0.95"), if it did;
    /// a bound on a stage the phase never sent is missed, said so.
    fn missed(&self, row: &SummaryRow) -> Option<String> {
        let Some(v) = self.value(row) else {
            let Clause::Latency { stage, pct, .. } = *self else {
                unreachable!("success is always measured")
            };
            return Some(format!(
                "{stage} p{pct} not measured: the phase sent no {stage} request"
            ));
        };
        match *self {
            Clause::Success(min) => (!reaches(v, min)).then(|| format!("success {v:.4} < {min}")),
            Clause::Latency { stage, pct, max } => {
                (v > max).then(|| format!("{stage} p{pct} {v:.3} s > {max} s"))
            }
        }
    }
}

impl SloSpec {
    /// Every clause `row` misses, as "figure value < bound" texts.
    pub fn misses(&self, row: &SummaryRow) -> Vec<String> {
        self.clauses.iter().filter_map(|c| c.missed(row)).collect()
    }

    /// The search SLO of `envload ceiling`: success and total p99 only
    /// (defaults 0.95 and 2 × (wait + 0.5 s)).
    pub fn as_ceiling(&self, wait: f64) -> Result<Slo, String> {
        let mut slo = Slo::at_wait(0.95, wait);
        for c in &self.clauses {
            match *c {
                Clause::Success(s) => slo.success = s,
                Clause::Latency {
                    stage: "total",
                    pct: 99,
                    max,
                } => slo.p99 = max,
                _ => {
                    return Err(
                        "ceiling searches on success and total p99: --slo 'success>=F,p99<=T'"
                            .into(),
                    )
                }
            }
        }
        Ok(slo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_reads_as_users_write_it() {
        let s: SloSpec = "success>=95%, p99<=3s,connect_p95<=500ms,step_p50<=2"
            .parse()
            .unwrap();
        assert_eq!(
            s.clauses,
            vec![
                Clause::Success(0.95),
                Clause::Latency {
                    stage: "total",
                    pct: 99,
                    max: 3.0
                },
                Clause::Latency {
                    stage: "connect",
                    pct: 95,
                    max: 0.5
                },
                Clause::Latency {
                    stage: "step",
                    pct: 50,
                    max: 2.0
                },
            ]
        );
        for bad in [
            "",
            "success<=0.9",
            "success>=2",
            "p98<=1",
            "connect_p90<=1",
            "x_p99<=1",
            "p99<=-1",
            "p99>=1",
        ] {
            assert!(bad.parse::<SloSpec>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_row_misses_what_it_misses() {
        let s: SloSpec = "success>=0.95,p99<=3s,step_p99<=1.5".parse().unwrap();
        let mut row = crate::summary::tests::row();
        row.error_rate = 0.05;
        row.total = [1.0, 2.0, 2.5, 3.0];
        row.step = [1.0, 1.2, 1.5];
        assert!(s.misses(&row).is_empty(), "bounds are inclusive");
        row.error_rate = 0.1;
        row.total[3] = 3.25;
        assert_eq!(
            s.misses(&row),
            vec!["success 0.9000 < 0.95", "total p99 3.250 s > 3 s"]
        );
        assert_eq!(
            s.as_ceiling(1.0).unwrap_err(),
            "ceiling searches on success and total p99: --slo 'success>=F,p99<=T'"
        );
        // The protocol's own stages: bounded when sent, missed when not.
        let m: SloSpec = "mcp_p99<=0.5,state_p50<=10ms".parse().unwrap();
        assert_eq!(
            m.misses(&row),
            vec![
                "mcp p99 not measured: the phase sent no mcp request",
                "state p50 not measured: the phase sent no state request"
            ]
        );
        row.mcp = Some([0.1, 0.2, 0.6]);
        row.state = Some([0.005, 0.02, 0.03]);
        assert_eq!(m.misses(&row), vec!["mcp p99 0.600 s > 0.5 s"]);
        let c: SloSpec = "p99<=5".parse().unwrap();
        assert_eq!(
            c.as_ceiling(1.0).unwrap(),
            Slo {
                success: 0.95,
                p99: 5.0
            }
        );
    }

    #[test]
    fn both_halves_must_hold() {
        let slo = Slo::at_wait(0.95, 1.0);
        assert_eq!(slo.p99, 3.0);
        assert!(slo.met(0.95, 3.0));
        assert!(!slo.met(0.949, 1.0));
        assert!(!slo.met(1.0, 3.01));
        // A mean of 19/20 repetitions that rounds below 0.95 still meets it.
        assert!(slo.met(0.95 - 1e-15, 2.0));
    }
}

//! The service level a batch must meet, written once for `envload ceiling`
//! (which searches for the largest batch meeting it) and `envload report`
//! (Table 4, the within-SLO figure, the log): success ≥ a threshold and
//! total p99 ≤ a bound, by default the reference matrix's 2 × (wait + 0.5 s).
//! [`SloSpec`] is the same rule as users write it (`--slo
//! 'success>=0.95,p99<=3s'`), with any summary percentile as a bound —
//! in seconds or scaled with the phase's wait (`p99<=2*(wait+0.5)`, the
//! reference matrix's `success_criteria`). [`Criteria`] is the part of it
//! `report` and `ceiling` judge batches by: success and total p99.

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
    /// [`DEFAULT_P99`].
    pub fn at_wait(success: f64, wait: f64) -> Slo {
        Criteria::with_success(success).at_wait(wait)
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

/// The reference matrix's latency bound, total p99 ≤ 2 × (wait + 0.5 s):
/// its `max_latency_multiplier` and `overhead_seconds`.
pub const DEFAULT_P99: Bound = Bound::Scaled {
    multiplier: 2.0,
    overhead: 0.5,
};

/// A latency bound: fixed, or scaled with the phase's wait.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Bound {
    /// At most this many seconds.
    Seconds(f64),
    /// At most `multiplier × (wait + overhead)` seconds (the reference
    /// matrix's `max_latency_multiplier`, `overhead_seconds`).
    Scaled { multiplier: f64, overhead: f64 },
}

impl Bound {
    /// The bound in seconds for a phase of this wait.
    pub fn at(&self, wait: f64) -> f64 {
        match *self {
            Bound::Seconds(s) => s,
            Bound::Scaled {
                multiplier,
                overhead,
            } => multiplier * (wait + overhead),
        }
    }
}

impl Bound {
    /// Without spaces, for a table heading: `3s`, `2×(wait+0.5s)`.
    pub fn compact(&self) -> String {
        self.to_string().replace(' ', "")
    }
}

impl std::fmt::Display for Bound {
    /// `3 s`, or `2 × (wait + 0.5 s)`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Bound::Seconds(s) => write!(f, "{s} s"),
            Bound::Scaled {
                multiplier,
                overhead,
            } => write!(f, "{multiplier} × (wait + {overhead} s)"),
        }
    }
}

/// What a batch is judged by in `report` and `ceiling`: success ≥
/// `success` and total p99 ≤ `p99` (by default the reference matrix's
/// 0.95 and 2 × (wait + 0.5 s)).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Criteria {
    /// Minimum success fraction.
    pub success: f64,
    /// Bound on the total p99.
    pub p99: Bound,
}

impl Default for Criteria {
    fn default() -> Self {
        Criteria::with_success(0.95)
    }
}

impl Criteria {
    /// `success` and the reference matrix's latency bound.
    pub fn with_success(success: f64) -> Criteria {
        Criteria {
            success,
            p99: DEFAULT_P99,
        }
    }

    /// The SLO a phase of this wait must meet.
    pub fn at_wait(&self, wait: f64) -> Slo {
        Slo {
            success: self.success,
            p99: self.p99.at(wait),
        }
    }

    /// The reference matrix's `success_criteria`, checked; errors start
    /// with the key they are about.
    pub fn reference(
        min_success_rate: f64,
        max_latency_multiplier: f64,
        overhead_seconds: f64,
    ) -> Result<Criteria, String> {
        if !(0.0..=1.0).contains(&min_success_rate) {
            return Err(format!(
                "min_success_rate: {min_success_rate} is not a fraction in [0, 1]"
            ));
        }
        if !(max_latency_multiplier.is_finite() && max_latency_multiplier > 0.0) {
            return Err(format!(
                "max_latency_multiplier: {max_latency_multiplier} is not a number > 0"
            ));
        }
        if !(overhead_seconds.is_finite() && overhead_seconds >= 0.0) {
            return Err(format!(
                "overhead_seconds: {overhead_seconds} is not seconds ≥ 0"
            ));
        }
        Ok(Criteria {
            success: min_success_rate,
            p99: Bound::Scaled {
                multiplier: max_latency_multiplier,
                overhead: overhead_seconds,
            },
        })
    }

    /// The same rule as `--slo` text (`success>=0.95,p99<=2*(wait+0.5)`).
    pub fn spec(&self) -> SloSpec {
        let p99 = match self.p99 {
            Bound::Seconds(s) => format!("{s}"),
            Bound::Scaled {
                multiplier,
                overhead,
            } => format!("{multiplier}*(wait+{overhead})"),
        };
        SloSpec {
            text: format!("success>={},p99<={p99}", self.success),
            clauses: vec![
                Clause::Success(self.success),
                Clause::Latency {
                    stage: "total",
                    pct: 99,
                    max: self.p99,
                },
            ],
        }
    }
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
        /// Bound: seconds, or scaled with the phase's wait.
        max: Bound,
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
    let max = parse_bound(v.trim())
        .ok_or_else(|| bad("the bound is seconds ≥ 0 (3, 3s or 500ms) or M*(wait+S)"))?;
    Ok(Clause::Latency { stage, pct, max })
}

/// `3`, `3s`, `500ms`, or `2*(wait+0.5)` (also `2x(wait+0.5s)`).
fn parse_bound(v: &str) -> Option<Bound> {
    let seconds = |v: &str| {
        match v.strip_suffix("ms") {
            Some(ms) => ms.trim().parse::<f64>().map(|m| m / 1000.0),
            None => v.strip_suffix('s').unwrap_or(v).trim().parse::<f64>(),
        }
        .ok()
        .filter(|m| m.is_finite() && *m >= 0.0)
    };
    let compact: String = v.chars().filter(|c| !c.is_whitespace()).collect();
    let Some((m, rest)) = compact.split_once(['*', 'x', '×']) else {
        return seconds(v).map(Bound::Seconds);
    };
    let overhead = rest.strip_prefix("(wait")?.strip_suffix(')')?;
    let overhead = match overhead.strip_prefix('+') {
        Some(o) => seconds(o)?,
        None if overhead.is_empty() => 0.0,
        None => return None,
    };
    let multiplier = m
        .parse::<f64>()
        .ok()
        .filter(|m| m.is_finite() && *m > 0.0)?;
    Some(Bound::Scaled {
        multiplier,
        overhead,
    })
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
                let bound = max.at(row.wait_seconds);
                (v > bound).then(|| format!("{stage} p{pct} {v:.3} s > {bound} s"))
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
        Ok(self.criteria()?.at_wait(wait))
    }

    /// The success and total p99 clauses as [`Criteria`] (defaults 0.95 and
    /// 2 × (wait + 0.5 s)); a bound on anything else is an error.
    pub fn criteria(&self) -> Result<Criteria, String> {
        let mut c = Criteria::default();
        for clause in &self.clauses {
            match *clause {
                Clause::Success(s) => c.success = s,
                Clause::Latency {
                    stage: "total",
                    pct: 99,
                    max,
                } => c.p99 = max,
                _ => {
                    return Err(
                        "ceiling and report judge success and total p99: --slo 'success>=F,p99<=T'"
                            .into(),
                    )
                }
            }
        }
        Ok(c)
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
                    max: Bound::Seconds(3.0)
                },
                Clause::Latency {
                    stage: "connect",
                    pct: 95,
                    max: Bound::Seconds(0.5)
                },
                Clause::Latency {
                    stage: "step",
                    pct: 50,
                    max: Bound::Seconds(2.0)
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
            "p99<=2*(wait-0.5)",
            "p99<=0*(wait+0.5)",
            "p99<=2*(rate+1)",
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
            "ceiling and report judge success and total p99: --slo 'success>=F,p99<=T'"
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

    #[test]
    fn a_bound_scaled_with_the_wait_is_the_reference_matrix_rule() {
        let s: SloSpec = "success>=0.9, p99 <= 3 * (wait + 0.25s)".parse().unwrap();
        let c = s.criteria().unwrap();
        assert_eq!(
            c,
            Criteria {
                success: 0.9,
                p99: Bound::Scaled {
                    multiplier: 3.0,
                    overhead: 0.25
                }
            }
        );
        assert_eq!(c.at_wait(1.0).p99, 3.75);
        assert_eq!(c.p99.to_string(), "3 × (wait + 0.25 s)");
        assert_eq!(DEFAULT_P99.compact(), "2×(wait+0.5s)");
        // Printed as a spec, it reads back the same.
        assert_eq!(c.spec().criteria().unwrap(), c);
        assert_eq!(
            Criteria::default().spec().text,
            "success>=0.95,p99<=2*(wait+0.5)"
        );
        // A row is judged at its own wait.
        let mut row = crate::summary::tests::row();
        row.error_rate = 0.0;
        row.wait_seconds = 1.0;
        row.total[3] = 3.8;
        assert_eq!(s.misses(&row), vec!["total p99 3.800 s > 3.75 s"]);
        row.wait_seconds = 2.0;
        assert!(s.misses(&row).is_empty());
        let e = Criteria::reference(1.5, 2.0, 0.5).unwrap_err();
        assert!(e.starts_with("min_success_rate: 1.5"), "{e}");
        assert!(Criteria::reference(0.95, 0.0, 0.5).is_err());
        assert!(Criteria::reference(0.95, 2.0, -1.0).is_err());
    }
}

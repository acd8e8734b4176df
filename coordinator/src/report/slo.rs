//! The service level a batch must meet, written once for `envload ceiling`
//! (which searches for the largest batch meeting it) and `envload report`
//! (Table 4, the within-SLO figure, the log): success ≥ a threshold and
//! total p99 ≤ a bound, by default the reference matrix's 2 × (wait + 0.5 s).

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
        success >= self.success - TOLERANCE
    }
}

/// The reference matrix's latency bound: total p99 ≤ 2 × (wait + 0.5 s).
pub fn default_p99(wait: f64) -> f64 {
    2.0 * (wait + 0.5)
}

#[cfg(test)]
mod tests {
    use super::*;

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

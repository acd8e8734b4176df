//! The files of a results folder, by name: the two the reference writes
//! and those envload adds beside them.

/// The reference's summary, one row per phase.
pub const SUMMARY_CSV: &str = "summary.csv";
/// See [`SUMMARY_CSV`].
pub const RUN_JSON: &str = "run.json";
/// See [`SUMMARY_CSV`].
pub const RAW_JSONL: &str = "raw.jsonl";
/// See [`SUMMARY_CSV`].
pub const HISTOGRAMS_JSONL: &str = "histograms.jsonl";
/// See [`SUMMARY_CSV`] (rollout phases only).
pub const STEPS_CSV: &str = "steps.csv";
/// See [`SUMMARY_CSV`] (rollout phases only).
pub const EPISODES_CSV: &str = "episodes.csv";
/// See [`SUMMARY_CSV`]: one row per interval of every phase.
pub const TIMESERIES_CSV: &str = "timeseries.csv";
/// See [`SUMMARY_CSV`]: the total latency of every interval, an
/// HdrHistogram interval log.
pub const LATENCY_HLOG: &str = "latency.hlog";

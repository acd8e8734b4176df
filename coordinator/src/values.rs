//! Values a user types — flags and experiment-matrix fields — parsed and
//! bounded before anything runs: every duration, batch size, count, name and
//! size. Each error quotes the value and says the allowed range; clap (or
//! the matrix loader) adds the flag or field.

use envload_agent::plan::{Abort, AbortStage};
use envload_agent::workload::{Span, Think};

/// Longest duration any flag accepts (a week): more is a typo, and would
/// overflow the timers.
pub const MAX_SECONDS: f64 = 7.0 * 24.0 * 3600.0;
/// Longest step wait (a day).
pub const MAX_WAIT: f64 = 24.0 * 3600.0;
/// Largest batch of one phase, across all agents (16 Mi sessions).
pub const MAX_BATCH: u64 = 1 << 24;
/// Most agents a coordinator waits for.
pub const MAX_AGENTS: u32 = 4096;
/// Repetitions per grid point.
pub const MAX_REPS: u32 = 10_000;
/// `--max-message-size` range, bytes.
pub const MESSAGE_SIZE_RANGE: (usize, usize) = (1024, 1 << 30);

/// Parses a duration in seconds: finite, > 0 and at most [`MAX_SECONDS`].
pub fn parse_seconds(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(t) if t.is_finite() && t > 0.0 && t <= MAX_SECONDS => Ok(t),
        _ => Err(format!(
            "'{s}' is not a number of seconds in (0, {MAX_SECONDS}] (up to a week)"
        )),
    }
}

/// Parses `--rate`: sessions per second, finite, in (0, 1000000].
pub fn parse_rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(r) if r.is_finite() && r > 0.0 && r <= 1e6 => Ok(r),
        _ => Err(format!(
            "'{s}' is not a rate in sessions per second in (0, 1000000]"
        )),
    }
}

/// Parses a wait in seconds: finite, ≥ 0 and at most [`MAX_WAIT`].
pub fn parse_wait(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(w) if w.is_finite() && (0.0..=MAX_WAIT).contains(&w) => Ok(w),
        Ok(_) => Err(format!(
            "'{s}' is not a wait in seconds: it must be a finite number in [0, {MAX_WAIT}]"
        )),
        Err(_) => Err(format!("'{s}' is not a number of seconds")),
    }
}

/// An integer in `lo..=hi`, or an error quoting `s` that names `what` it
/// should be and the range.
fn integer_in<T>(s: &str, lo: T, hi: T, what: &str) -> Result<T, String>
where
    T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
{
    s.trim()
        .parse::<T>()
        .ok()
        .filter(|n| (lo..=hi).contains(n))
        .ok_or_else(|| format!("'{s}' is not {what}: it must be an integer from {lo} to {hi}"))
}

/// Parses a batch size: an integer in 1..=[`MAX_BATCH`].
pub fn parse_batch(s: &str) -> Result<u64, String> {
    integer_in(s, 1, MAX_BATCH, "a batch size")
}

/// Parses an agent count for `--agents`: 0..=[`MAX_AGENTS`].
pub fn parse_agents(s: &str) -> Result<u32, String> {
    integer_in(s, 0, MAX_AGENTS, "an agent count")
}

/// Parses a positive count for `--min-agents`, `--cpus`, `--cores`.
pub fn parse_count(s: &str) -> Result<u32, String> {
    integer_in(s, 1, 1_000_000, "a count")
}

/// Parses `--reps`: 1..=[`MAX_REPS`].
pub fn parse_reps(s: &str) -> Result<u32, String> {
    integer_in(s, 1, MAX_REPS, "a repetition count")
}

/// Most steps per episode, and episodes per session.
pub const MAX_STEPS: u32 = 100_000;

/// Parses `--steps`: `K` or `A..B`, each 1..=[`MAX_STEPS`], A ≤ B.
pub fn parse_steps(s: &str) -> Result<Span<u32>, String> {
    span(s, |v| integer_in(v, 1, MAX_STEPS, "a step count"))
}

/// Parses `--think`: `S` or `A..B` seconds (uniform, each a wait: 0..=a
/// day, A ≤ B), `exp:MEAN`, `lognormal:MEDIAN,SIGMA` (σ in (0, 5]), or
/// `file:PATH` (one value a line, drawn uniformly).
pub fn parse_think(s: &str) -> Result<Think, String> {
    let positive = |v: &str| {
        parse_wait(v).and_then(|t| {
            (t > 0.0)
                .then_some(t)
                .ok_or_else(|| format!("'{v}' is not a positive number of seconds"))
        })
    };
    if let Some(mean) = s.strip_prefix("exp:") {
        return positive(mean).map(Think::Exp);
    }
    if let Some(rest) = s.strip_prefix("lognormal:") {
        let (median, sigma) = rest.split_once(',').ok_or_else(|| {
            format!("'{s}' is not lognormal:MEDIAN,SIGMA (e.g. lognormal:1.5,0.8)")
        })?;
        let sigma = sigma
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|x| *x > 0.0 && *x <= 5.0)
            .ok_or_else(|| format!("'{sigma}' is not a sigma in (0, 5]"))?;
        return Ok(Think::LogNormal {
            median: positive(median)?,
            sigma,
        });
    }
    if let Some(path) = s.strip_prefix("file:") {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read think-time file '{path}': {e}"))?;
        let values = text
            .lines()
            .enumerate()
            .filter(|(_, l)| !l.trim().is_empty())
            .map(|(i, l)| parse_wait(l.trim()).map_err(|e| format!("'{path}' line {}: {e}", i + 1)))
            .collect::<Result<Vec<f64>, String>>()?;
        if values.is_empty() {
            return Err(format!("think-time file '{path}' holds no value"));
        }
        return Ok(Think::Samples(values.into()));
    }
    span(s, parse_wait).map(Think::Uniform)
}

/// Parses `--episodes`: 1..=[`MAX_STEPS`].
pub fn parse_episodes(s: &str) -> Result<u32, String> {
    integer_in(s, 1, MAX_STEPS, "an episode count")
}

/// Parses `--time-scale`: a factor in (0, 1000].
pub fn parse_time_scale(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(f) if f.is_finite() && f > 0.0 && f <= 1000.0 => Ok(f),
        _ => Err(format!(
            "'{s}' is not a time scale: it must be a number in (0, 1000]"
        )),
    }
}

/// `V` or `A..B`, each side parsed by `one`.
fn span<T: PartialOrd + Copy + std::fmt::Display>(
    s: &str,
    one: impl Fn(&str) -> Result<T, String>,
) -> Result<Span<T>, String> {
    match s.split_once("..") {
        None => one(s).map(Span::fixed),
        Some((a, b)) => {
            let (min, max) = (one(a)?, one(b)?);
            if min > max {
                return Err(format!("'{s}' is an empty range: {min} is above {max}"));
            }
            Ok(Span { min, max })
        }
    }
}

/// Parses a fraction in [0, 1].
pub fn parse_fraction(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(f) if (0.0..=1.0).contains(&f) => Ok(f),
        _ => Err(format!("'{s}' is not a fraction between 0 and 1")),
    }
}

/// Parses a resolution in [0, 1).
pub fn parse_resolution(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(f) if (0.0..1.0).contains(&f) => Ok(f),
        _ => Err(format!("'{s}' is not a resolution in [0, 1)")),
    }
}

/// Parses a size in bytes, with an optional `KiB`/`MiB`/`GiB` (or `k`/`m`/
/// `g`) suffix, within [`MESSAGE_SIZE_RANGE`].
pub fn parse_message_size(s: &str) -> Result<usize, String> {
    let t = s.trim();
    let lower = t.to_ascii_lowercase();
    let (digits, unit) = [
        ("gib", 1usize << 30),
        ("mib", 1 << 20),
        ("kib", 1 << 10),
        ("g", 1 << 30),
        ("m", 1 << 20),
        ("k", 1 << 10),
    ]
    .iter()
    .find_map(|(suffix, unit)| lower.strip_suffix(suffix).map(|d| (d.trim(), *unit)))
    .unwrap_or((lower.as_str(), 1));
    let (lo, hi) = MESSAGE_SIZE_RANGE;
    digits
        .parse::<usize>()
        .ok()
        .and_then(|n| n.checked_mul(unit))
        .filter(|n| (lo..=hi).contains(n))
        .ok_or_else(|| {
            format!("'{s}' is not a size from 1KiB to 1GiB (bytes, or with KiB/MiB/GiB)")
        })
}

/// Parses a name that becomes a path component (`--infrastructure`, matrix
/// ids): letters, digits, `.`, `_`, `-`, not starting with `.`, at most 100.
pub fn parse_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 100
        && !s.starts_with('.')
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "'{s}' is not a safe name: use letters, digits, '.', '_' and '-' (not starting with '.'), as it names a results folder"
        ))
    }
}

/// A comma-separated grid from the command line (one flag value, so the
/// error for a bad entry can quote the whole value).
#[derive(Debug, Clone, PartialEq)]
pub struct Grid<T>(pub Vec<T>);

/// Parses `1,2,4`: batch sizes, no empty entries.
pub fn parse_requests_grid(s: &str) -> Result<Grid<u64>, String> {
    parse_list(s, parse_batch).map(Grid)
}

/// Parses `0.1,1.0`: waits, no empty entries.
pub fn parse_wait_grid(s: &str) -> Result<Grid<f64>, String> {
    parse_list(s, parse_wait).map(Grid)
}

fn parse_list<T>(s: &str, item: impl Fn(&str) -> Result<T, String>) -> Result<Vec<T>, String> {
    s.split(',')
        .enumerate()
        .map(|(i, raw)| {
            let t = raw.trim();
            if t.is_empty() {
                Err(format!("entry {} of '{s}' is empty", i + 1))
            } else {
                item(t)
            }
        })
        .collect()
}

/// Parses `--abort FRACTION[@reset|@step|@think]`.
pub fn parse_abort(s: &str) -> Result<Abort, String> {
    let (fraction, stage) = s.split_once('@').unwrap_or((s, "step"));
    let fraction = fraction
        .trim()
        .parse::<f64>()
        .ok()
        .filter(|f| *f > 0.0 && *f <= 1.0)
        .ok_or_else(|| format!("'{fraction}' is not a fraction in (0, 1]"))?;
    let stage = match stage {
        "reset" => AbortStage::Reset,
        "step" => AbortStage::Step,
        "think" => AbortStage::Think,
        other => return Err(format!("'{other}' is not a stage: reset, step or think")),
    };
    Ok(Abort {
        fraction,
        stage,
        fin: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn malformed_grids_are_named() {
        assert!(parse_requests_grid("1,,2")
            .unwrap_err()
            .contains("entry 2 of '1,,2' is empty"));
        assert!(parse_requests_grid("a").unwrap_err().contains("'a'"));
        assert!(parse_requests_grid("-3").unwrap_err().contains("'-3'"));
        assert!(parse_requests_grid("0").is_err());
        assert!(parse_wait_grid("0.1,NaN").unwrap_err().contains("'NaN'"));
        assert!(parse_wait("-1").is_err());
        assert_eq!(parse_wait_grid(" 0.1, 1 ").unwrap().0, vec![0.1, 1.0]);
    }

    #[test]
    fn absurd_values_are_refused_with_the_range() {
        for bad in ["1e20", "inf", "NaN", "-1", "0", "604801"] {
            let e = parse_seconds(bad).unwrap_err();
            assert!(e.contains(bad) && e.contains("604800"), "{e}");
        }
        assert_eq!(parse_seconds("604800"), Ok(MAX_SECONDS));
        assert!(parse_batch("18446744073709551615")
            .unwrap_err()
            .contains("16777216"));
        assert!(parse_agents("1000000").unwrap_err().contains("4096"));
        assert!(parse_wait("1e9").unwrap_err().contains("86400"));
        assert!(parse_reps("4000000000").is_err());
    }

    #[test]
    fn sizes_take_units() {
        assert_eq!(parse_message_size("1MiB"), Ok(1 << 20));
        assert_eq!(parse_message_size("16m"), Ok(16 << 20));
        assert_eq!(parse_message_size("4096"), Ok(4096));
        assert!(parse_message_size("2GiB").is_err());
        assert!(parse_message_size("10").is_err());
        assert!(parse_message_size("lots").unwrap_err().contains("'lots'"));
    }

    #[test]
    fn names_that_would_escape_the_results_folder_are_refused() {
        for bad in ["../../x", "a/b", "", ".hidden", "x\ny", "a b"] {
            assert!(parse_name(bad).is_err(), "{bad:?}");
        }
        for good in ["local", "slurm-multi", "hf_spaces.v2", "local-uvicorn"] {
            assert_eq!(parse_name(good).as_deref(), Ok(good));
        }
    }
}

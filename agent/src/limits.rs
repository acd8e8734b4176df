//! Open-file limit: every session holds one socket in the process that runs
//! it (the embedded server is a process of its own), so the largest share
//! decides how many descriptors a process needs. Raised before anything
//! starts.

use std::io;

/// Descriptors kept for everything that is not a session socket.
pub const RESERVE: u64 = 256;

/// Why the limit could not be met.
#[derive(Debug, thiserror::Error)]
#[error(
    "N={n} needs about {needed} open files but RLIMIT_NOFILE is {soft} (hard limit {hard}) and \
     cannot be raised: {reason}. Raise it (ulimit -n {needed}) or lower -n/--requests-grid"
)]
pub struct LimitError {
    pub n: u64,
    pub needed: u64,
    pub soft: u64,
    pub hard: u64,
    pub reason: String,
}

/// Descriptors a process running `n` sessions at once needs.
fn needed(n: u64) -> u64 {
    n.saturating_add(RESERVE)
}

/// Raises RLIMIT_NOFILE to what `n` sessions need: the soft limit up to the hard
/// one, and as root the hard one too (up to `fs.nr_open`). Returns the soft
/// limit now in force.
pub fn ensure_nofile(n: u64) -> Result<u64, LimitError> {
    let needed = needed(n);
    let (soft, hard) = get()?;
    if soft >= needed {
        return Ok(soft);
    }
    let target_hard = hard.max(needed);
    if set(needed, target_hard).is_ok() {
        return Ok(needed);
    }
    let reason = if needed > hard {
        "the hard limit is lower and raising it needs root (or a higher fs.nr_open)".to_string()
    } else {
        io::Error::last_os_error().to_string()
    };
    Err(LimitError {
        n,
        needed,
        soft,
        hard,
        reason,
    })
}

/// Raises the soft limit as far as it goes (the hard limit; as root up to
/// 1 Mi descriptors); returns the soft limit now in force.
pub fn raise_to_max() -> u64 {
    let Ok((soft, hard)) = get() else { return 0 };
    let root_max = std::fs::read_to_string("/proc/sys/fs/nr_open")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(1 << 20)
        .min(1 << 20);
    for (s, h) in [(root_max.max(hard), root_max.max(hard)), (hard, hard)] {
        if s > soft && set(s, h).is_ok() {
            return s;
        }
    }
    soft
}

fn get() -> Result<(u64, u64), LimitError> {
    let mut rl = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: rl is a valid out-pointer.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut rl) } != 0 {
        return Err(LimitError {
            n: 0,
            needed: 0,
            soft: 0,
            hard: 0,
            reason: io::Error::last_os_error().to_string(),
        });
    }
    Ok((rl.rlim_cur, rl.rlim_max))
}

fn set(soft: u64, hard: u64) -> io::Result<()> {
    let rl = libc::rlimit {
        rlim_cur: soft,
        rlim_max: hard,
    };
    // SAFETY: rl is a valid in-pointer.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &rl) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_already_met_is_kept() {
        let (soft, _) = get().unwrap();
        assert_eq!(ensure_nofile(1).unwrap(), soft);
    }

    #[test]
    fn an_impossible_limit_names_n_and_the_limit() {
        let e = ensure_nofile(1 << 40).unwrap_err().to_string();
        assert!(
            e.contains("N=1099511627776") && e.contains("RLIMIT_NOFILE"),
            "{e}"
        );
    }
}

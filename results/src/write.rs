//! Result files, one writer per format, each flushed after every phase so a
//! crash loses at most the phase in flight.

pub mod histograms;
pub mod raw_jsonl;
pub mod rollouts_csv;
pub mod run_json;
pub mod summary_csv;
pub mod summary_json;

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use crate::model::PhaseResult;

/// A results format that appends one phase at a time.
pub trait PhaseWriter {
    /// Appends `result` and flushes it to disk.
    fn write_phase(&mut self, result: &PhaseResult) -> io::Result<()>;
}

/// Creates `dir` and proves it writable, so a bad output folder (`flag`
/// names it) fails before anything is measured or written.
pub fn prepare_dir(dir: &Path, flag: &str) -> Result<PathBuf, String> {
    if dir.exists() && !dir.is_dir() {
        return Err(format!(
            "{flag} '{}' is a file, not a folder",
            dir.display()
        ));
    }
    fs::create_dir_all(dir)
        .map_err(|e| format!("{flag} '{}' cannot be created: {e}", dir.display()))?;
    let probe = dir.join(format!(".envload-write-test-{}", std::process::id()));
    fs::write(&probe, b"")
        .and_then(|_| fs::remove_file(&probe))
        .map_err(|e| format!("{flag} '{}' is not writable: {e}", dir.display()))?;
    Ok(dir.to_path_buf())
}

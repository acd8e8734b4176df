//! Result files, one writer per format, each flushed after every phase so a
//! crash loses at most the phase in flight.

pub mod histograms;
pub mod raw_jsonl;
pub mod rollouts_csv;
pub mod run_json;
pub mod summary_csv;
pub mod summary_json;
pub mod timeseries;

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

/// Failures by class as the CSV files write them: `Type:count;…`.
pub fn error_counts(errors: &std::collections::BTreeMap<envload_agent::ErrorType, u64>) -> String {
    errors
        .iter()
        .map(|(k, v)| format!("{}:{v}", k.as_str()))
        .collect::<Vec<_>>()
        .join(";")
}

/// How many fields rows of the CSV file at `path` carry: `None` when the
/// file is new or empty (its header is still to write); else as many of
/// `columns` as its header names — a file written before envload added
/// columns keeps its shape, so every row of it reads.
pub fn header_width(path: &Path, columns: &[&str]) -> io::Result<Option<usize>> {
    use std::io::BufRead;
    let file = match fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    let mut first = String::new();
    io::BufReader::new(file).read_line(&mut first)?;
    let header: Vec<&str> = first.trim_end().split(',').collect();
    if first.trim().is_empty() {
        return Ok(None);
    }
    let shared = header
        .iter()
        .zip(columns)
        .take_while(|(a, b)| a == b)
        .count();
    Ok(Some(if shared == header.len() {
        shared
    } else {
        columns.len()
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_older_header_keeps_its_width_and_a_new_file_gets_all() {
        let dir = std::env::temp_dir().join(format!("envload-hw-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let p = dir.join("x.csv");
        assert_eq!(header_width(&p, &["a", "b", "c"]).unwrap(), None);
        fs::write(&p, "a,b\r\n1,2\r\n").unwrap();
        assert_eq!(header_width(&p, &["a", "b", "c"]).unwrap(), Some(2));
        fs::write(&p, "a,b,c\n").unwrap();
        assert_eq!(header_width(&p, &["a", "b", "c"]).unwrap(), Some(3));
        fs::write(&p, "").unwrap();
        assert_eq!(header_width(&p, &["a", "b", "c"]).unwrap(), None);
        fs::remove_dir_all(&dir).unwrap();
    }
}

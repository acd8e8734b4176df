//! The report's leak-probe table: for every phase a run probed
//! (`--leak-probe`), how many plain sessions the server held right after
//! it and how many slots its sessions still held (`leaked_slots`).

use std::fmt::Write;
use std::path::PathBuf;

use envload_results::folder::RunRows;

/// The markdown table to add to `tables.md` (empty when no run probed).
pub fn render(runs: &[(&PathBuf, RunRows)]) -> String {
    let mut md = String::new();
    for (dir, run) in runs {
        for p in &run.run.phases {
            let Some(probe) = &p.leak_probe else {
                continue;
            };
            if md.is_empty() {
                md.push_str("\n## Leak probes\n\n| run | phase | mode | batch | probe sessions | held | leaked_slots |\n|---|---|---|---|---|---|---|\n");
            }
            let _ = writeln!(
                md,
                "| {} | {} | {} | {} | {} | {} | {} |",
                dir.display(),
                p.index + 1,
                p.mode,
                p.batch_size,
                probe.sessions,
                probe.succeeded,
                probe.leaked_slots
            );
        }
    }
    md
}

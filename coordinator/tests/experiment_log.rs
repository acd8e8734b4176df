//! `report --log` on a copy of the experiment log the project was born
//! from: the log is edited the way its keepers do — one Overview row
//! changed (or added), one entry inserted under the runs marker in the
//! log's own format, everything else byte for byte — and reporting the same
//! folder again changes nothing.

use crate::support;

use std::path::{Path, PathBuf};

use support::{out_dir, run, text};

const MARKER: &str = "<!-- EXPERIMENT RUNS START -->";

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/log")
}

/// `experiments/logs/EXPERIMENT_LOG.md` (the seed's copy) and a results
/// folder per fixture run under `experiments/results/<infra>/<date>`.
fn layout(root: &Path, runs: &[&str]) -> (PathBuf, Vec<PathBuf>) {
    let logs = root.join("experiments/logs");
    std::fs::create_dir_all(&logs).unwrap();
    let log = logs.join("EXPERIMENT_LOG.md");
    std::fs::copy(fixtures().join("EXPERIMENT_LOG.md"), &log).unwrap();
    let dirs = runs
        .iter()
        .map(|name| {
            let (infra, date) = name.split_at(name.len() - 11);
            let dir = root
                .join("experiments/results")
                .join(infra)
                .join(&date[1..]);
            std::fs::create_dir_all(&dir).unwrap();
            for f in ["summary.csv", "run.json"] {
                std::fs::copy(fixtures().join(name).join(f), dir.join(f)).unwrap();
            }
            std::fs::write(dir.join("raw.jsonl"), "").unwrap();
            dir
        })
        .collect();
    (log, dirs)
}

fn report(root: &Path, log: &Path, dirs: &[PathBuf]) {
    let out = root.join("experiments/reports/out");
    let mut args = vec!["report".to_string()];
    args.extend(dirs.iter().map(|d| d.display().to_string()));
    args.extend([
        "--out".into(),
        out.display().to_string(),
        "--log".into(),
        log.display().to_string(),
    ]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let res = run(&args);
    assert!(res.status.success(), "{:?}", text(&res));
}

/// The lines inserted after the marker, and the lines before it that
/// changed, comparing `new` with `old` (everything after the inserted block
/// must be `old`'s tail unchanged).
fn diff(old: &str, new: &str) -> (Vec<(String, String)>, Vec<String>) {
    let (o, n): (Vec<&str>, Vec<&str>) = (old.lines().collect(), new.lines().collect());
    let m = o.iter().position(|l| *l == MARKER).unwrap();
    let mn = n.iter().position(|l| *l == MARKER).unwrap();
    assert!(
        mn >= m && mn <= m + 1,
        "only one Overview row may be added above the marker"
    );
    let tail = o.len() - m - 1;
    assert_eq!(
        n[n.len() - tail..],
        o[m + 1..],
        "the entries below stay byte for byte"
    );
    let inserted = n[mn + 1..n.len() - tail]
        .iter()
        .map(|s| s.to_string())
        .collect();
    let mut changed = Vec::new();
    let (mut i, mut j) = (0, 0);
    while i < m || j < mn {
        if i < m && j < mn && o[i] == n[j] {
            i += 1;
            j += 1;
        } else if mn > m && j < mn && (i >= m || o[i] != n[j]) && o.get(i) == n.get(j + 1) {
            changed.push((String::new(), n[j].to_string()));
            j += 1;
        } else {
            changed.push((o[i].to_string(), n[j].to_string()));
            i += 1;
            j += 1;
        }
    }
    (changed, inserted)
}

/// Headings outside code blocks, with any " (…)" suffix dropped.
fn headings(lines: &[String]) -> Vec<String> {
    let mut fenced = false;
    let mut out = Vec::new();
    for l in lines {
        if l.starts_with("```") {
            fenced = !fenced;
        } else if !fenced && l.starts_with('#') {
            out.push(l.split(" (").next().unwrap().trim().to_string());
        }
    }
    out
}

fn cells(line: &str) -> Vec<String> {
    line.trim()
        .trim_matches('|')
        .split('|')
        .map(|c| c.trim().to_string())
        .collect()
}

/// The seed log and one fixture run laid out under a fresh folder, the run
/// reported: (folder, log, run folders, log after, changed Overview lines,
/// inserted entry).
struct Logged {
    root: support::OutDir,
    log: PathBuf,
    dirs: Vec<PathBuf>,
    after: String,
    changed: Vec<(String, String)>,
    entry: Vec<String>,
}

fn logged(name: &str, run_name: &str) -> Logged {
    let root = out_dir(name);
    let (log, dirs) = layout(&root, &[run_name]);
    let seed = std::fs::read_to_string(&log).unwrap();
    report(&root, &log, &dirs);
    let after = std::fs::read_to_string(&log).unwrap();
    let (changed, entry) = diff(&seed, &after);
    Logged {
        root,
        log,
        dirs,
        after,
        changed,
        entry,
    }
}

#[test]
fn a_run_is_logged_as_the_keepers_do_and_only_once() {
    let Logged {
        root,
        log,
        dirs,
        after,
        changed,
        entry,
    } = logged("experiment-log", "slurm-single-2026-11-30");
    let seed = std::fs::read_to_string(fixtures().join("EXPERIMENT_LOG.md")).unwrap();

    assert_eq!(changed.len(), 1, "{changed:?}");
    assert!(
        changed[0].0.starts_with("| slurm-single   | -"),
        "{changed:?}"
    );
    assert_eq!(
        cells(&changed[0].1),
        ["slurm-single", "✅ Complete", "2026-11-30", "512", "32"],
        "{changed:?}"
    );

    // The entry, in the log's own format.
    assert_eq!(entry[0], "");
    assert_eq!(entry[1], "## Run: 2026-11-30-slurm-single");
    assert_eq!(entry.last().unwrap(), "---");
    let seed_lines: Vec<String> = seed.lines().map(str::to_string).collect();
    let run_at = seed_lines
        .iter()
        .position(|l| l == "## Run: 2026-01-09-local-uvicorn")
        .unwrap();
    let seed_entry = &seed_lines[run_at..run_at + 60];
    let mut want: Vec<String> = headings(seed_entry);
    want.truncate(want.iter().position(|h| h == "### Observations").unwrap() + 1);
    let got = headings(&entry);
    let mut got_unique = got.clone();
    got_unique.dedup();
    assert_eq!(got_unique[0], "## Run: 2026-11-30-slurm-single");
    assert_eq!(got_unique[1..], want[1..], "{got:?}");
    let bold = |ls: &[String]| -> Vec<String> {
        ls.iter()
            .filter_map(|l| {
                l.strip_prefix("**")?
                    .split(":**")
                    .next()
                    .map(str::to_string)
            })
            .collect()
    };
    assert_eq!(bold(&entry), bold(seed_entry));
    assert_eq!(bold(&entry), ["Infrastructure", "Start", "End", "Status"]);
    assert!(
        entry.contains(&"**Start:** 2026-11-30T10:00:00Z".into()),
        "{entry:#?}"
    );
    assert!(entry.contains(&"**Status:** Complete".into()));
    let bullets = |ls: &[String], from: &str| -> Vec<String> {
        let at = ls.iter().position(|l| l == from).unwrap();
        ls[at + 1..]
            .iter()
            .take_while(|l| l.starts_with("- "))
            .map(|l| l[2..].split(':').next().unwrap().to_string())
            .collect()
    };
    assert_eq!(
        bullets(&entry, "### Configuration"),
        ["Workers", "Max Concurrent Envs", "URL", "Hardware", "Notes"]
    );
    assert!(
        entry.contains(&"- Workers: 2".into())
            && entry.contains(&"- Max Concurrent Envs: 1000".into())
    );
    // Table headers: the log's columns first, envload's after.
    for (heading, columns) in [("### Results Summary", 6), ("### Scaling Behavior", 4)] {
        let header =
            |ls: &[String]| cells(&ls[ls.iter().position(|l| l.starts_with(heading)).unwrap() + 1]);
        assert_eq!(
            header(&entry)[..columns],
            header(seed_entry)[..],
            "{heading}"
        );
    }
    // The Notes vocabulary, from the numbers.
    for row in [
        "| 32 | 100% | 1.05s | Perfect scaling |",
        "| 512 | 98.0% | 1.62s | Max reliable batch |",
        "| 1024 | 60.0% | 3.40s | Significant failures |",
    ] {
        assert!(entry.contains(&row.to_string()), "{row} in {entry:#?}");
    }
    // The command: server start-up, then envload's.
    let code = entry.iter().position(|l| l == "```bash").unwrap();
    assert_eq!(entry[code + 1], "# Server startup");
    assert_eq!(
        entry[code + 2],
        "WORKERS=2 MAX_CONCURRENT_ENVS=1000 ./deploy/local/run_uvicorn.sh"
    );
    assert_eq!(entry[code + 4], "# Experiment execution");
    assert!(
        entry[code + 5].starts_with("envload run \\"),
        "{}",
        entry[code + 5]
    );
    // Links are relative and resolve from the log's folder; figures exist.
    let log_dir = log.parent().unwrap();
    let links: Vec<&str> = entry
        .iter()
        .filter_map(|l| l.split("](").nth(1)?.strip_suffix(')'))
        .collect();
    assert_eq!(links.len(), 4, "{entry:#?}");
    assert!(
        links.contains(&"../results/slurm-single/2026-11-30/summary.csv"),
        "{links:?}"
    );
    assert!(
        links.contains(&"reports/figures/slurm-single-2026-11-30/"),
        "{links:?}"
    );
    for l in &links {
        assert!(!l.starts_with('/'), "{l}");
        assert!(log_dir.join(l).exists(), "{l} does not resolve");
    }
    let figures =
        std::fs::read_dir(log_dir.join("reports/figures/slurm-single-2026-11-30")).unwrap();
    assert!(figures.count() >= 2, "the run's figures are written");
    assert!(entry.iter().any(|l| l.starts_with("- WebSocket mode with wait=1.0s holds 512 concurrent sessions")), "{entry:#?}");
    assert!(entry
        .contains(&"- Failures over the run: CapacityReached ×410, UnexpectedClose ×64".into()));

    // Again: nothing changes.
    report(&root, &log, &dirs);
    assert_eq!(std::fs::read_to_string(&log).unwrap(), after, "idempotent");
}

#[test]
fn a_new_infrastructure_gets_a_row_and_mixed_hardware_gets_sections() {
    let Logged { changed, entry, .. } =
        logged("experiment-log-tiers", "hf-spaces-upgrade-2026-11-30");
    assert_eq!(changed.len(), 1, "{changed:?}");
    assert_eq!(changed[0].0, "", "a row added");
    assert_eq!(
        cells(&changed[0].1),
        [
            "hf-spaces-upgrade",
            "⚠️ Interrupted",
            "2026-11-30",
            "128 (cpu-basic)",
            "-"
        ]
    );
    for h in [
        "### Results Summary (cpu-basic)",
        "### Scaling Behavior (cpu-basic)",
        "### Results Summary (cpu-upgrade)",
        "### Scaling Behavior (cpu-upgrade)",
    ] {
        assert!(entry.contains(&h.to_string()), "{h}: {entry:#?}");
    }
    assert!(entry.contains(&"**Status:** Interrupted".into()));
    assert!(
        entry.contains(&"- Workers: unknown".into())
            && entry.contains(&"- Max Concurrent Envs: default".into())
    );
    assert!(entry.contains(&"# (started separately)".into()));
    assert!(
        entry.contains(&"| 512 | 39.1% | 4.42s | Above capacity |".into()),
        "{entry:#?}"
    );
}

#[test]
fn without_a_log_one_is_made_from_the_skeleton() {
    let root = out_dir("experiment-log-new");
    let (log, dirs) = layout(&root, &["slurm-single-2026-11-30"]);
    std::fs::remove_file(&log).unwrap();
    report(&root, &log, &dirs);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.starts_with("# OpenEnv Scaling Experiment Log\n"),
        "{text}"
    );
    assert!(text.contains("### Template: Run Entry Format"));
    let marker = text.find(MARKER).unwrap();
    assert!(text[marker..].starts_with(&format!("{MARKER}\n\n## Run: 2026-11-30-slurm-single\n")));
    assert!(
        text.contains(
            "| slurm-single   | ✅ Complete | 2026-11-30 | 512            | 32               |"
        ),
        "{text}"
    );
}

#[test]
fn runs_reported_together_land_newest_first() {
    let root = out_dir("experiment-log-order");
    let (log, mut dirs) = layout(
        &root,
        &["hf-spaces-upgrade-2026-11-30", "slurm-single-2026-11-30"],
    );
    dirs.swap(0, 1);
    report(&root, &log, &dirs);
    let text = std::fs::read_to_string(&log).unwrap();
    let runs: Vec<&str> = text[text.find(MARKER).unwrap()..]
        .lines()
        .filter(|l| l.starts_with("## Run: "))
        .collect();
    assert_eq!(
        runs[..3],
        [
            "## Run: 2026-11-30-hf-spaces-upgrade",
            "## Run: 2026-11-30-slurm-single",
            "## Run: 2026-01-09-local-uvicorn"
        ],
        "started 12:00, then 10:00, then the seed's entries"
    );
}

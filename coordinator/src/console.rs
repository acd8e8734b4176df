//! Console output a user of the reference client recognises: a header and a
//! one-line result per phase, a summary with `-v`, a side-by-side table for
//! `--compare` and a final table for grids.

use std::collections::BTreeMap;

use envload_agent::stats::RolloutStats;
use envload_agent::ErrorType;

use envload_results::summary::SummaryRow;
use envload_results::Phase;

const RULE: &str = "======================================================================";

/// The line before a phase runs.
pub fn phase_header(phase: &Phase, position: usize, total: usize) {
    let prefix = if total > 1 {
        format!("[{position}/{total}] ")
    } else {
        String::new()
    };
    println!(
        "\n{prefix}[{}] N={}, wait={:?}s, rep={}",
        phase.mode.as_str().to_uppercase(),
        phase.n,
        phase.wait,
        phase.rep
    );
}

/// The one-line result of a phase, plus what failed.
pub fn phase_line(s: &SummaryRow, errors: &BTreeMap<ErrorType, u64>, first_error: Option<&str>) {
    println!(
        "  -> {}/{} success ({:.0}%), wall={:.2}s, eff_conc={:.1}x, rps={:.1}, hosts={}",
        s.successful,
        s.num_requests,
        s.success_pct(),
        s.total_wall_time,
        s.effective_concurrency,
        s.requests_per_second,
        s.unique_hosts
    );
    let extra: Vec<String> = [("state", s.state), ("mcp", s.mcp)]
        .into_iter()
        .filter_map(|(name, v)| v.map(|v| format!("{name} p50/p99 {:.3}/{:.3} s", v[0], v[2])))
        .collect();
    if !extra.is_empty() {
        println!("     {}", extra.join(", "));
    }
    if !errors.is_empty() {
        let parts: Vec<String> = errors
            .iter()
            .map(|(k, v)| format!("{} x{v}", k.as_str()))
            .collect();
        println!("     failures: {}", parts.join(", "));
        if let Some(msg) = first_error {
            println!("     first: {msg}");
        }
    }
}

/// A rollout phase's episodes, steps by index and bytes.
/// The start lag of a phase with scheduled arrivals (`--ramp-up`, `--rate`).
pub fn arrival_line(a: &envload_agent::Arrival, lag: &envload_agent::Latency) {
    let how = if a.open {
        let bound = match a.max_in_flight {
            0 => String::new(),
            m => format!(", at most {m} in flight"),
        };
        format!("open model{bound}; total latency counts from the scheduled start")
    } else {
        "ramp".to_string()
    };
    println!(
        "     arrivals: starts spread over {:.2} s ({how}); start lag p50/p99/max {:.3}/{:.3}/{:.3} s",
        a.spread.as_secs_f64(),
        lag.quantile_s(0.5),
        lag.quantile_s(0.99),
        lag.max_s()
    );
}

pub fn rollout_lines(ro: &RolloutStats, wall: f64) {
    let per_s = |v: f64| if wall > 0.0 { v / wall } else { 0.0 };
    println!(
        "     episodes: {}/{} ok ({:.1}/s), episode p50/p99 {:.3}/{:.3} s, {} steps, {} reconnects",
        ro.episodes_ok,
        ro.episodes,
        per_s(ro.episodes_ok as f64),
        ro.episode.quantile_s(0.5),
        ro.episode.quantile_s(0.99),
        ro.steps,
        ro.reconnects
    );
    let by_index: Vec<String> = ro
        .by_step
        .iter()
        .enumerate()
        .map(|(i, l)| format!("{}: {:.3}", i + 1, l.quantile_s(0.99)))
        .collect();
    if !by_index.is_empty() {
        println!("     step p99 by index (s): {}", by_index.join(", "));
    }
    for (name, by) in [("state", &ro.state_by_step), ("mcp", &ro.mcp_by_step)] {
        let by_index: Vec<String> = by
            .iter()
            .enumerate()
            .filter(|(_, l)| l.count() > 0)
            .map(|(i, l)| format!("{}: {:.3}", i + 1, l.quantile_s(0.99)))
            .collect();
        if !by_index.is_empty() {
            println!("     {name} p99 by index (s): {}", by_index.join(", "));
        }
    }
    if ro.unclosed > 0 {
        println!(
            "     unclosed: {} HTTP MCP session(s) created and never closed (the server holds their slots until its idle timeout, if it has one)",
            ro.unclosed
        );
    }
    let kib = |b: u64| b as f64 / 1024.0;
    println!(
        "     bytes: {:.1} KiB sent, {:.1} KiB received ({:.1} KiB/s)",
        kib(ro.bytes_sent),
        kib(ro.bytes_received),
        per_s(kib(ro.bytes_sent + ro.bytes_received))
    );
}

/// The `-v` summary of a phase.
pub fn phase_summary(s: &SummaryRow) {
    println!("\n{RULE}");
    println!(
        "  {} Mode | N={} | wait={:?}s | rep={}",
        s.mode.to_uppercase(),
        s.num_requests,
        s.wait_seconds,
        s.repetition
    );
    println!("{RULE}\n");
    println!("  URL: {}", s.url);
    println!(
        "  Success: {}/{} ({:.1}%)\n",
        s.successful,
        s.num_requests,
        s.success_pct()
    );
    println!("  Latency (seconds):");
    println!("    {:12} {:>10} {:>10} {:>10}", "", "P50", "P95", "P99");
    let total3 = [s.total[0], s.total[2], s.total[3]];
    let mut stages = vec![("Connect", s.connect), ("Reset", s.reset), ("Step", s.step)];
    stages.extend(s.state.map(|v| ("State", v)));
    stages.extend(s.mcp.map(|v| ("MCP", v)));
    stages.push(("Total", total3));
    for (name, v) in stages {
        println!("    {name:12} {:>10.4} {:>10.4} {:>10.4}", v[0], v[1], v[2]);
    }
    println!();
    println!("  Total wall time:       {:.3}s", s.total_wall_time);
    println!("  Requests/sec:          {:.1}", s.requests_per_second);
    println!("  Effective concurrency: {:.1}x\n", s.effective_concurrency);
    println!("  Distribution:");
    println!("    Unique PIDs:     {}", s.unique_pids);
    println!("    Unique sessions: {}", s.unique_sessions);
    println!("    Unique hosts:    {}\n", s.unique_hosts);
}

/// The `--compare` table.
pub fn comparison(h: &SummaryRow, w: &SummaryRow) {
    println!("\n{RULE}\n  HTTP vs WebSocket Comparison\n{RULE}\n");
    println!("  {:<30} {:>15} {:>15}", "Metric", "HTTP", "WebSocket");
    println!("  {} {} {}", "-".repeat(30), "-".repeat(15), "-".repeat(15));
    println!(
        "  {:<30} {:>14.1}% {:>14.1}%",
        "Success Rate",
        h.success_pct(),
        w.success_pct()
    );
    println!(
        "  {:<30} {:>15.3} {:>15.3}",
        "Total Wall Time (s)", h.total_wall_time, w.total_wall_time
    );
    println!(
        "  {:<30} {:>15.1} {:>15.1}",
        "Requests/sec", h.requests_per_second, w.requests_per_second
    );
    println!(
        "  {:<30} {:>15.1} {:>15.1}\n",
        "Effective Concurrency", h.effective_concurrency, w.effective_concurrency
    );
    println!(
        "  {:<30} {:>15} {:>15.4}",
        "Connect P50 (s)", "N/A", w.connect[0]
    );
    for (name, a, b) in [
        ("Reset P50 (s)", h.reset[0], w.reset[0]),
        ("Step P50 (s)", h.step[0], w.step[0]),
        ("Total P50 (s)", h.total[0], w.total[0]),
        ("Total P95 (s)", h.total[2], w.total[2]),
        ("Total P99 (s)", h.total[3], w.total[3]),
    ] {
        println!("  {name:<30} {a:>15.4} {b:>15.4}");
    }
    println!();
    for (name, a, b) in [
        ("Unique PIDs", h.unique_pids, w.unique_pids),
        ("Unique Sessions", h.unique_sessions, w.unique_sessions),
        ("Unique Hosts", h.unique_hosts, w.unique_hosts),
    ] {
        println!("  {name:<30} {a:>15} {b:>15}");
    }
    println!();
}

/// The closing table of a grid sweep (the reference's columns; a Mode
/// column leads when `--modes` swept more than one).
pub fn grid_table(rows: &[SummaryRow]) {
    let mixed = rows.windows(2).any(|w| w[0].mode != w[1].mode);
    let lead = |mode: &str| {
        if mixed {
            format!("{mode:>5} ")
        } else {
            String::new()
        }
    };
    println!("\n{RULE}\n  Grid Sweep Complete\n{RULE}");
    println!(
        "\n  {}{:>6} {:>8} {:>4} {:>8} {:>10} {:>8} {:>10} {:>10}",
        lead("Mode"),
        "N",
        "Wait",
        "Rep",
        "Success",
        "Wall(s)",
        "RPS",
        "Eff.Conc",
        "P99(s)"
    );
    println!(
        "  {}{} {} {} {} {} {} {} {}",
        lead("-----"),
        "-".repeat(6),
        "-".repeat(8),
        "-".repeat(4),
        "-".repeat(8),
        "-".repeat(10),
        "-".repeat(8),
        "-".repeat(10),
        "-".repeat(10)
    );
    for s in rows {
        println!(
            "  {}{:>6} {:>8.2} {:>4} {:>8} {:>10.2} {:>8.1} {:>10.1} {:>10.4}",
            lead(&s.mode),
            s.num_requests,
            s.wait_seconds,
            s.repetition,
            s.successful,
            s.total_wall_time,
            s.requests_per_second,
            s.effective_concurrency,
            s.total[3]
        );
    }
}

/// One line per agent: what it ran in the phase, and whether it was lost.
pub fn agent_lines(agents: &[envload_results::model::AgentPhase]) {
    for a in agents {
        let lost = a
            .lost
            .as_deref()
            .map(|r| format!(" LOST: {r}"))
            .unwrap_or_default();
        let skew = a
            .start_skew_ms
            .map(|s| format!(", started {s:.1} ms after Start"))
            .unwrap_or_default();
        println!(
            "     agent {} ({}): {} sessions, {} ok, {} failed{skew}{lost}",
            a.name, a.host, a.assigned, a.successful, a.failed
        );
    }
    if let Some(max) = envload_results::model::max_start_skew_ms(agents) {
        println!("     max start skew: {max:.1} ms");
    }
}

/// One line per target when sessions were spread over several.
pub fn target_lines(targets: &[envload_results::model::TargetCount]) {
    for t in targets {
        println!(
            "     target {}: {} sessions, {} ok",
            t.url, t.sessions, t.successful
        );
    }
}

/// What `--leak-probe` found after a phase.
pub fn leak_probe_line(p: &envload_results::run_doc::LeakProbe) {
    let errors: Vec<String> = p.errors.iter().map(|(k, n)| format!("{k}:{n}")).collect();
    println!(
        "  leak probe: {}/{} probe sessions held, leaked_slots {}{}",
        p.succeeded,
        p.sessions,
        p.leaked_slots,
        if errors.is_empty() {
            String::new()
        } else {
            format!(" ({})", errors.join(", "))
        }
    );
}

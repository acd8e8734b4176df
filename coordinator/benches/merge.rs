//! Merge cost on the coordinator: 256 agents × 4 histograms (connect, reset,
//! step, total), each as the V2+DEFLATE bytes an agent sends, decoded and
//! merged into one phase result the way the coordinator does it (straight
//! from the wire bytes). Target: < 50 ms.

use std::time::Instant;

use envload_agent::convert::{merge_stats, stats_from_proto, stats_to_proto};
use envload_agent::PhaseStats;

const AGENTS: usize = 256;
const SESSIONS_PER_AGENT: u64 = 64;

fn agent_stats(seed: u64) -> PhaseStats {
    let mut s = PhaseStats::default();
    let mut x = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    for _ in 0..SESSIONS_PER_AGENT {
        x = x
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        let jitter = (x >> 33) % 400_000;
        s.sessions += 1;
        s.successful += 1;
        s.connect.record(500 + jitter / 10);
        s.reset.record(200 + jitter / 20);
        s.step.record(1_000_000 + jitter);
        s.total.record(1_001_000 + jitter * 2);
    }
    s
}

fn main() {
    let wire: Vec<_> = (0..AGENTS as u64)
        .map(|i| stats_to_proto(&agent_stats(i)))
        .collect();
    let bytes: usize = wire
        .iter()
        .map(|w| {
            [&w.connect, &w.reset, &w.step, &w.total]
                .iter()
                .map(|l| l.as_ref().unwrap().hdr.len())
                .sum::<usize>()
        })
        .sum();
    let mut best_full = f64::MAX;
    let mut best_merge = f64::MAX;
    for _ in 0..10 {
        // The coordinator's path: each agent's message is decoded and merged
        // as it arrives, then dropped.
        let t = Instant::now();
        let mut merged = PhaseStats::default();
        for w in &wire {
            merge_stats(&mut merged, w).unwrap();
        }
        best_full = best_full.min(t.elapsed().as_secs_f64() * 1e3);
        assert_eq!(merged.sessions, AGENTS as u64 * SESSIONS_PER_AGENT);
        std::hint::black_box(merged.total.quantile_s(0.99));

        // Merge alone, inputs already decoded.
        let decoded: Vec<PhaseStats> = wire.iter().map(|w| stats_from_proto(w).unwrap()).collect();
        let t = Instant::now();
        let mut merged = PhaseStats::default();
        for d in &decoded {
            merged += d;
        }
        best_merge = best_merge.min(t.elapsed().as_secs_f64() * 1e3);
        std::hint::black_box(merged.total.quantile_s(0.99));
    }
    println!(
        "merge bench: {AGENTS} agents x 4 histograms ({} KiB on the wire)",
        bytes / 1024
    );
    println!("  merge from wire bytes (the coordinator path): {best_full:.2} ms (best of 10; target < 50 ms)");
    println!("  for comparison, Histogram::add of already-decoded histograms: {best_merge:.2} ms");
}

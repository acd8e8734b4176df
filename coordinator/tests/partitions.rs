//! Partitions, not kills: an agent whose link to the coordinator is cut
//! mid-phase (iptables DROP inside its network namespace: no RST, the
//! packets vanish) is marked lost within the heartbeat deadline, its
//! unfinished sessions count `AgentLost`, the run ends on time, and the
//! agent, cut off, stops its load within the deadline too; a link that
//! flaps (30% loss both ways for 5 s) loses nothing and counts nothing
//! twice. Each agent's sessions go to a server on its own loopback (the
//! same port in both namespaces), so only the agents' link is cut.

use crate::support;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use support::netns::{self, Netns};
use support::procs::Proc;
use support::{last_summary, out_dir, raw_lines};

const T: Duration = Duration::from_secs(60);
const TOKEN: &str = "partition-test-token";

/// Two agents (`kept` here, `far` in `ns`), a benchmark server beside each
/// on 127.0.0.1:PORT, and a coordinator on the link's address with `plan`.
struct Setup {
    coordinator: Proc,
    kept: Proc,
    far: Proc,
    _servers: (Proc, Proc),
}

fn setup(ns: &Netns, tag: &str, plan: &[&str], dir: &std::path::Path) -> Setup {
    let port = support::free_port().to_string();
    let serve = ["serve", "--host", "127.0.0.1", "--port", &port];
    let mut near_server = Proc::spawn(&serve, &[]);
    let mut far_server = Proc::spawn_in(Some(&ns.name), &serve, &[]);
    near_server.wait_line("listening on", T);
    far_server.wait_line("listening on", T);
    let listen = format!("{}:{}", ns.host_ip, support::free_port());
    let url = format!("http://127.0.0.1:{port}");
    let mut args = vec![
        "coordinator",
        "--listen",
        &listen,
        "--token",
        TOKEN,
        "--agents",
        "2",
        "-u",
        &url,
        "-o",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(plan);
    let mut coordinator = Proc::spawn(&args, &[]);
    coordinator.wait_line("listening on", T);
    let coord_url = format!("http://{listen}");
    let agent = |ns: Option<&str>, name: &str| {
        Proc::spawn_in(
            ns,
            &[
                "agent",
                "--coordinator",
                &coord_url,
                "--token",
                TOKEN,
                "--cpus",
                "1",
                "--name",
                name,
            ],
            &[],
        )
    };
    let kept = agent(None, &format!("{tag}-kept"));
    let far = agent(Some(&ns.name), &format!("{tag}-far"));
    Setup {
        coordinator,
        kept,
        far,
        _servers: (near_server, far_server),
    }
}

#[test]
#[ignore = "needs root for network namespaces and iptables; bash .ci/run runs it"]
fn an_agent_cut_off_mid_phase_is_lost_on_time_and_stops_its_load() {
    assert!(netns::available(), "root, ip and iptables");
    let ns = Netns::new("pc");
    let dir = out_dir("partition-cut");
    let plan = [
        "-n",
        "200",
        "-w",
        "4",
        "-t",
        "20",
        "--heartbeat-deadline",
        "2",
    ];
    let mut s = setup(&ns, "cut", &plan, &dir);
    s.far.wait_line("phase 1: started", T); // its 4 s steps are under way
    std::thread::sleep(Duration::from_millis(500));
    let t_cut = Instant::now();
    ns.cut();
    // The coordinator hears nothing more from it: lost within the deadline.
    let line = s.coordinator.wait_line(") lost:", T);
    let lost_after = t_cut.elapsed();
    assert!(line.contains("cut-far"), "{line}");
    assert!(
        lost_after < Duration::from_millis(2000 + 1500),
        "marked lost {lost_after:?} after the cut (deadline 2 s)"
    );
    // The agent hears nothing more from the coordinator: it stops its load.
    let status = s
        .far
        .wait_exit(Duration::from_secs(10))
        .expect("the cut-off agent exits");
    let stopped_after = t_cut.elapsed();
    assert!(!status.success());
    assert!(
        stopped_after < Duration::from_millis(2000 + 1500),
        "the cut-off agent stopped {stopped_after:?} after the cut (deadline 2 s)"
    );
    let (status, out) = s.coordinator.finish(T);
    assert!(status.success(), "{out}");
    assert!(
        t_cut.elapsed() < Duration::from_secs(10),
        "the run ends on time: {:?} after the cut",
        t_cut.elapsed()
    );
    assert!(s.kept.finish(T).0.success());
    let (_, far_out) = s.far.finish(T);
    assert!(far_out.contains("stopped all sessions"), "{far_out}");
    eprintln!(
        "cut: marked lost after {lost_after:?}, the agent stopped after {stopped_after:?} (deadline 2 s)"
    );
    let raw = raw_lines(&dir);
    assert_eq!(raw.len(), 200, "every session once");
    let lost = raw
        .iter()
        .filter(|l| l["error_type"] == "AgentLost")
        .count();
    assert_eq!(lost, 100, "the cut agent's unfinished sessions");
    assert_eq!(last_summary(&dir, "successful"), "100");
}

#[test]
#[ignore = "needs root for network namespaces and iptables; bash .ci/run runs it"]
fn a_flapping_link_loses_nothing_and_counts_nothing_twice() {
    assert!(netns::available(), "root, ip and iptables");
    let ns = Netns::new("pf");
    let dir = out_dir("partition-flap");
    let plan = ["-n", "200", "-w", "7", "-t", "30"];
    let mut s = setup(&ns, "flap", &plan, &dir);
    s.far.wait_line("phase 1: started", T);
    ns.lossy(0.3);
    std::thread::sleep(Duration::from_secs(5));
    ns.heal();
    let (status, out) = s.coordinator.finish(T);
    assert!(status.success(), "{out}");
    assert!(!out.contains(" lost"), "{out}");
    assert!(s.kept.finish(T).0.success());
    assert!(s.far.finish(T).0.success());
    let raw = raw_lines(&dir);
    let ids: BTreeSet<u64> = raw
        .iter()
        .map(|l| l["request_id"].as_u64().unwrap())
        .collect();
    assert_eq!((raw.len(), ids.len()), (200, 200), "each session once");
    assert_eq!(last_summary(&dir, "successful"), "200");
}

//! A network namespace joined to this one by a veth pair, as a remote
//! agent's host: its link can be cut (iptables DROP inside it: no RST, the
//! packets vanish, as behind a failed switch) or made lossy (iptables'
//! `statistic` match), then healed. Needs root; removed when dropped.

use std::process::Command;

/// One namespace and its link.
pub struct Netns {
    /// The namespace's name (`ip netns exec NAME …`).
    pub name: String,
    /// This side's address on the link.
    pub host_ip: String,
    veth: String,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip runs");
    assert!(out.status.success(), "ip {args:?}: {out:?}");
}

fn iptables(ns: &str, args: &[&str]) {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "iptables"])
        .args(args)
        .output()
        .expect("iptables runs");
    assert!(out.status.success(), "iptables {args:?} in {ns}: {out:?}");
}

/// Whether this process may make namespaces (root with iproute2 and
/// iptables).
pub fn available() -> bool {
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    root && Command::new("iptables").arg("-V").output().is_ok()
        && Command::new("ip").arg("-V").output().is_ok()
}

impl Netns {
    /// A fresh namespace `tag` (a few letters) linked to this one, with
    /// loopback up inside.
    pub fn new(tag: &str) -> Netns {
        let id = std::process::id() % 100_000;
        let name = format!("envload-{tag}{id}");
        let veth = format!("ev{tag}{id}");
        // A /30 of its own: this process's /24, the k-th namespace it made.
        static MADE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let k = MADE.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 60;
        let subnet = 20 + (id % 200);
        let (host_ip, ns_ip) = (
            format!("10.202.{subnet}.{}", 4 * k + 1),
            format!("10.202.{subnet}.{}", 4 * k + 2),
        );
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let _ = Command::new("ip").args(["link", "del", &veth]).output();
        ip(&["netns", "add", &name]);
        ip(&[
            "link", "add", &veth, "type", "veth", "peer", "name", "eth0", "netns", &name,
        ]);
        ip(&["addr", "add", &format!("{host_ip}/30"), "dev", &veth]);
        ip(&["link", "set", &veth, "up"]);
        ip(&[
            "-n",
            &name,
            "addr",
            "add",
            &format!("{ns_ip}/30"),
            "dev",
            "eth0",
        ]);
        ip(&["-n", &name, "link", "set", "eth0", "up"]);
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        Netns {
            name,
            host_ip,
            veth,
        }
    }

    /// Every packet on the link is dropped, both ways, silently.
    pub fn cut(&self) {
        iptables(&self.name, &["-A", "INPUT", "-i", "eth0", "-j", "DROP"]);
        iptables(&self.name, &["-A", "OUTPUT", "-o", "eth0", "-j", "DROP"]);
    }

    /// Each packet on the link is dropped with probability `p`, both ways.
    pub fn lossy(&self, p: f64) {
        let p = p.to_string();
        for (chain, dir) in [("INPUT", "-i"), ("OUTPUT", "-o")] {
            iptables(
                &self.name,
                &[
                    "-A",
                    chain,
                    dir,
                    "eth0",
                    "-m",
                    "statistic",
                    "--mode",
                    "random",
                    "--probability",
                    &p,
                    "-j",
                    "DROP",
                ],
            );
        }
    }

    /// Every TCP connection the namespace opens over its link goes to
    /// `port` on its loopback instead (the lab's delaying relay), but the
    /// relay's own (marked) ones.
    pub fn redirect_tcp_to(&self, port: u16) {
        let port = port.to_string();
        iptables(
            &self.name,
            &[
                "-t",
                "nat",
                "-A",
                "OUTPUT",
                "-o",
                "eth0",
                "-p",
                "tcp",
                "-m",
                "mark",
                "!",
                "--mark",
                "0x6c64",
                "-j",
                "REDIRECT",
                "--to-ports",
                &port,
            ],
        );
    }

    /// The link as it was.
    pub fn heal(&self) {
        iptables(&self.name, &["-F"]);
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Processes still inside keep it alive until they go; the name goes.
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
        let _ = Command::new("ip")
            .args(["link", "del", &self.veth])
            .output();
    }
}

//! The Slurm test lab's delay for kernels without netem (`envload
//! lab-delay`, started by `slurm/testcluster/up.sh` when `NETEM` asks for a
//! delay): inside a network namespace whose outgoing TCP connections
//! iptables redirects to it, it adds the delay it is asked for, each way.

use crate::support;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::Command;
use std::time::Duration;

use support::netns::{self, Netns};
use support::procs::Proc;

/// Median round trip (ms) of one byte, `n` times, from inside `ns` to
/// `addr` (an echo server here), measured by Python's socket in the
/// namespace.
fn rtt_ms(ns: &Netns, addr: &str, n: u32) -> f64 {
    let (host, port) = addr.split_once(':').unwrap();
    let script = format!(
        "import socket,time,statistics\n\
         s=socket.create_connection(('{host}',{port}))\n\
         s.setsockopt(socket.IPPROTO_TCP,socket.TCP_NODELAY,1)\n\
         r=[]\n\
         for i in range({n}):\n    t=time.perf_counter(); s.sendall(b'x'); s.recv(1); r.append((time.perf_counter()-t)*1000)\n\
         print(statistics.median(r))\n"
    );
    let out = Command::new("ip")
        .args(["netns", "exec", &ns.name, "python3", "-c", &script])
        .output()
        .expect("python3 runs");
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

#[test]
#[ignore = "needs root for network namespaces and iptables; bash .ci/run runs it"]
fn the_labs_relay_adds_the_delay_it_is_asked_for_each_way() {
    assert!(netns::available(), "root, ip and iptables");
    let ns = Netns::new("ld");
    let echo = TcpListener::bind(format!("{}:0", ns.host_ip)).unwrap();
    let addr = echo.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for c in echo.incoming().map_while(Result::ok) {
            std::thread::spawn(move || {
                let mut c: TcpStream = c;
                let _ = c.set_nodelay(true);
                let mut b = [0u8; 64];
                while let Ok(n) = c.read(&mut b) {
                    if n == 0 || c.write_all(&b[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    let direct = rtt_ms(&ns, &addr, 20);
    let port = 7999u16;
    let mut relay = Proc::spawn_in(
        Some(&ns.name),
        &[
            "lab-delay",
            "--listen",
            &format!("127.0.0.1:{port}"),
            "--delay-ms",
            "10",
        ],
        &[],
    );
    relay.wait_line("relaying on", Duration::from_secs(20));
    ns.redirect_tcp_to(port);
    let delayed = rtt_ms(&ns, &addr, 20);
    eprintln!(
        "round trip: {direct:.2} ms direct, {delayed:.2} ms through the relay (10 ms each way)"
    );
    // At least twice the delay; the timer's millisecond rounding and a
    // busy box add some (22.8 ms here alone): an upper bound only catches
    // a relay that delays far more than asked.
    assert!(
        (20.0..60.0).contains(&(delayed - direct)),
        "added {:.2} ms",
        delayed - direct
    );
}

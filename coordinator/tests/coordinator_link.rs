//! The agents' link to a coordinator: over TLS (`--tls-cert`/`--tls-key`
//! on the coordinator, `https://` and `--ca-cert` on the agents), with a
//! plain agent and an agent that does not trust the certificate each told
//! why; and no open door by default — a coordinator listening beyond
//! loopback without `--token` makes one, prints it once, keeps it in a file
//! only its user reads, and refuses (and logs, with its address) an agent
//! without it.

use crate::support;

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use support::pki::make_pki;
use support::procs::{agent, coordinator, Proc};
use support::{out_dir, refused, Server};

const T: Duration = Duration::from_secs(60);

#[test]
fn agents_join_a_tls_coordinator_with_its_ca_and_others_are_told_why() {
    let pki = make_pki("link");
    let s = Server::start(&[]);
    let dir = out_dir("link-tls");
    let (cert, key, ca) = (
        pki.cert.to_str().unwrap(),
        pki.key.to_str().unwrap(),
        pki.ca.to_str().unwrap(),
    );
    let (mut c, url) = coordinator(
        &[
            "--tls-cert",
            cert,
            "--tls-key",
            key,
            "--agents",
            "1",
            "-u",
            &s.url,
            "-n",
            "20",
            "-w",
            "0",
            "-o",
            dir.to_str().unwrap(),
        ],
        &[],
    );
    let tls_url = url.replace("http://", "https://");
    // In plain text: told the coordinator speaks TLS, at once.
    let mut plain = agent(&url, "plain", &["--connect-for", "30"], &[]);
    let (status, out) = plain.finish(Duration::from_secs(15));
    assert!(!status.success(), "{out}");
    assert!(
        out.contains("speaks TLS") && out.contains("https://"),
        "{out}"
    );
    // Without the CA: told to pass --ca-cert, without retrying for long.
    let mut untrusting = agent(&tls_url, "untrusting", &["--connect-for", "30"], &[]);
    let (status, out) = untrusting.finish(Duration::from_secs(15));
    assert!(!status.success(), "{out}");
    assert!(
        out.contains("--ca-cert") && out.contains("UnknownIssuer"),
        "{out}"
    );
    // With it: the run.
    let mut good = agent(&tls_url, "trusting", &["--ca-cert", ca], &[]);
    let (status, out) = c.finish(T);
    assert!(status.success(), "{out}");
    assert!(out.contains("over TLS"), "{out}");
    assert!(good.finish(T).0.success());
    assert_eq!(support::last_summary(&dir, "successful"), "20");
}

/// `envload <command> <head…> <flags…>`, which must be refused (exit 2);
/// its stderr.
fn refused_with(head: &[&str], flags: &[&str]) -> String {
    refused(&[head, flags].concat())
}

#[test]
fn link_flags_that_cannot_work_are_refused_before_anything_runs() {
    let coordinator = [
        "coordinator",
        "--listen",
        "127.0.0.1:0",
        "--agents",
        "1",
        "-u",
        "http://127.0.0.1:9",
    ];
    let (plain, tls) = (
        ["agent", "--coordinator", "http://127.0.0.1:9"],
        ["agent", "--coordinator", "https://127.0.0.1:9"],
    );
    let err = refused_with(
        &coordinator,
        &[
            "--tls-cert",
            "/nonexistent/cert.pem",
            "--tls-key",
            "/nonexistent/key.pem",
        ],
    );
    assert!(err.contains("--tls-cert /nonexistent/cert.pem"), "{err}");
    let err = refused_with(&coordinator, &["--tls-cert", "/etc/hostname"]);
    assert!(err.contains("--tls-key"), "{err}");
    let err = refused_with(&plain, &["--ca-cert", "/etc/hostname"]);
    assert!(err.contains("https://"), "{err}");
    let err = refused_with(&tls, &["--ca-cert", "/etc/hostname"]);
    assert!(err.contains("--ca-cert /etc/hostname"), "{err}");
    let err = refused_with(&plain, &["--token-file", "/nonexistent/token"]);
    assert!(err.contains("--token-file /nonexistent/token"), "{err}");
}

#[test]
fn beyond_loopback_a_coordinator_makes_a_token_and_refuses_agents_without_it() {
    let s = Server::start(&[]);
    let dir = out_dir("link-token");
    let token_file = dir.join("secret").join("coordinator.token");
    let port = support::free_port();
    let listen = format!("0.0.0.0:{port}");
    let mut c = Proc::spawn(
        &[
            "coordinator",
            "--listen",
            &listen,
            "--agents",
            "1",
            "--agent-wait",
            "60",
            "-u",
            &s.url,
            "-n",
            "10",
            "-w",
            "0",
            "--token-file",
            token_file.to_str().unwrap(),
            "-o",
            dir.to_str().unwrap(),
        ],
        &[],
    );
    // (stdout and stderr interleave: the listening line may come first;
    // agents retry until the coordinator listens.)
    let shown = c.wait_line("  --token ", T);
    let token = std::fs::read_to_string(&token_file)
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(token.len(), 32, "{token:?}");
    assert!(shown.contains(&token), "{shown}");
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "the token file is its user's only");
    let url = format!("http://127.0.0.1:{port}");
    let mut stranger = agent(&url, "stranger", &[], &[]);
    let (status, out) = stranger.finish(T);
    assert!(!status.success() && out.contains("--token"), "{out}");
    let logged = c.wait_line("refused agent 'stranger'", T);
    assert!(logged.contains("from 127.0.0.1:"), "{logged}");
    // The file itself, as agents on a shared file system read it: the
    // token stays off their command lines.
    let file = token_file.to_str().unwrap();
    let mut member = agent(&url, "member", &["--token-file", file], &[]);
    let (status, out) = c.finish(T);
    assert!(status.success(), "{out}");
    assert!(member.finish(T).0.success());
    assert_eq!(support::last_summary(&dir, "successful"), "10");
}

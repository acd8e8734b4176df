//! `https://` and `wss://` targets against a local TLS endpoint (`envload
//! serve --tls-cert/--tls-key`) with a CA and certificate this test makes:
//! trusted through `--ca-cert`, refused without it (TlsError), accepted with
//! `--insecure`, and carried to remote agents.

use crate::support;

use support::pki::{make_pki, Pki};
use support::{col, csv_rows, out_dir, raw_lines, run, text, Server};

fn tls_server(pki: &Pki, extra: &[&str]) -> Server {
    let mut args = vec![
        "--tls-cert",
        pki.cert.to_str().unwrap(),
        "--tls-key",
        pki.key.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let s = Server::start(&args);
    assert!(s.url.starts_with("https://"), "{}", s.url);
    s
}

fn load(url: &str, extra: &[&str], name: &str) -> (support::OutDir, String) {
    let dir = out_dir(name);
    let mut args = vec![
        "run",
        "-u",
        url,
        "-n",
        "12",
        "-w",
        "0.05",
        "-o",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = run(&args);
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{args:?}: {stdout}\n{stderr}");
    (dir, stdout)
}

fn successes(dir: &std::path::Path) -> String {
    let rows = csv_rows(dir);
    col(&rows[0], &rows[1], "successful").to_string()
}

#[test]
fn https_and_wss_with_the_test_ca() {
    let pki = make_pki("trusted");
    let s = tls_server(&pki, &["--workers", "2"]);
    let ca = pki.ca.to_str().unwrap();
    for mode in ["ws", "http"] {
        let (dir, _) = load(
            &s.url,
            &["--ca-cert", ca, "-m", mode],
            &format!("tls-{mode}"),
        );
        assert_eq!(successes(&dir), "12", "{mode} over TLS");
    }
    // wss:// by host name: the certificate names localhost.
    let port = s.url.rsplit(':').next().unwrap();
    let (dir, _) = load(
        &format!("wss://localhost:{port}/ws"),
        &["--ca-cert", ca],
        "tls-wss-name",
    );
    assert_eq!(successes(&dir), "12");
    // Remote agents get the CA in their assignment.
    let (dir, _) = load(&s.url, &["--ca-cert", ca, "--agents", "2"], "tls-agents");
    assert_eq!(successes(&dir), "12");
}

#[test]
fn an_untrusted_certificate_is_a_tls_error_unless_insecure() {
    let pki = make_pki("untrusted");
    let s = tls_server(&pki, &[]);
    for mode in ["ws", "http"] {
        let (dir, stdout) = load(&s.url, &["-m", mode], &format!("tls-untrusted-{mode}"));
        assert_eq!(successes(&dir), "0");
        assert!(stdout.contains("TlsError x12"), "{mode}: {stdout}");
        let raw = raw_lines(&dir);
        let msg = raw[0]["error_message"].as_str().unwrap();
        assert!(
            msg.contains("certificate") || msg.contains("UnknownIssuer"),
            "{mode}: {msg}"
        );
        let (dir, _) = load(
            &s.url,
            &["-m", mode, "--insecure"],
            &format!("tls-insecure-{mode}"),
        );
        assert_eq!(successes(&dir), "12", "{mode} --insecure");
    }
}

#[test]
fn bad_ca_or_key_files_are_named() {
    let bogus = out_dir("tls-bogus");
    std::fs::create_dir_all(&bogus).unwrap();
    let f = bogus.join("not-a-cert.pem");
    std::fs::write(&f, "hello").unwrap();
    let out = run(&["run", "-n", "1", "--ca-cert", f.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out).1.contains("not-a-cert.pem"), "{:?}", text(&out));
    let out = run(&[
        "serve",
        "--port",
        "0",
        "--tls-cert",
        f.to_str().unwrap(),
        "--tls-key",
        f.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2), "{:?}", text(&out));
    assert!(text(&out).1.contains("not-a-cert.pem"), "{:?}", text(&out));
}

/// A self-signed certificate made the way tutorials make one (`openssl req
/// -x509`, which marks it CA:TRUE), passed with `--ca-cert`: trusted for
/// that server, as Python's and curl's TLS trust it; refused for a host
/// name it does not list, with words that say so.
#[test]
fn a_self_signed_openssl_certificate_given_with_ca_cert_is_trusted() {
    let dir = out_dir("tls-openssl");
    std::fs::create_dir_all(&dir).unwrap();
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .args([
            "-days",
            "365",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ])
        .output()
        .expect("openssl is installed (Debian's openssl package)");
    assert!(made.status.success(), "{made:?}");
    let pem = std::fs::read_to_string(&cert).unwrap();
    let pki = Pki {
        ca: cert.clone(),
        cert: cert.clone(),
        key,
        _dir: dir,
    };
    let s = tls_server(&pki, &[]);
    let ca = cert.to_str().unwrap();
    let port = s.url.rsplit(':').next().unwrap();
    let by_name = format!("https://localhost:{port}");
    for mode in ["ws", "http"] {
        let (d, stdout) = load(
            &by_name,
            &["--ca-cert", ca, "-m", mode],
            &format!("tls-openssl-{mode}"),
        );
        assert_eq!(successes(&d), "12", "{mode}: {stdout}");
    }
    assert!(pem.contains("BEGIN CERTIFICATE"));
    // The name is still checked: the certificate lists localhost only.
    let (d, _) = load(
        &s.url,
        &["--ca-cert", ca, "-m", "http"],
        "tls-openssl-wrong-name",
    );
    assert_eq!(successes(&d), "0");
    let raw = raw_lines(&d);
    let msg = raw[0]["error_message"].as_str().unwrap();
    assert_eq!(raw[0]["error_type"], "TlsError");
    assert!(msg.contains("not issued for this host name"), "{msg}");
}

/// Verification failures say in plain words what is wrong and which flag
/// fixes it, the same in both modes.
#[test]
fn tls_failures_name_the_flag_that_fixes_them() {
    let pki = make_pki("plain-words");
    let s = tls_server(&pki, &[]);
    for mode in ["ws", "http"] {
        let (d, _) = load(&s.url, &["-m", mode], &format!("tls-words-{mode}"));
        let raw = raw_lines(&d);
        let msg = raw[0]["error_message"].as_str().unwrap();
        assert!(
            msg.contains("not signed by a CA envload trusts") && msg.contains("--ca-cert"),
            "{mode}: {msg}"
        );
    }
}

/// `https://` to a server that speaks plain HTTP is a TlsError in both
/// modes (it was a ConnectionError in HTTP mode).
#[test]
fn tls_to_a_plain_server_is_a_tls_error_in_both_modes() {
    let s = Server::start(&[]);
    let https = s.url.replacen("http://", "https://", 1);
    for mode in ["ws", "http"] {
        let (d, _) = load(&https, &["-m", mode], &format!("tls-to-plain-{mode}"));
        let raw = raw_lines(&d);
        assert_eq!(raw[0]["error_type"], "TlsError", "{mode}: {}", raw[0]);
        let msg = raw[0]["error_message"].as_str().unwrap();
        assert!(msg.contains("does not speak TLS"), "{mode}: {msg}");
    }
}

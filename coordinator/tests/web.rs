//! `--web`: the live page, loaded while a stage plan runs in a real
//! headless Chromium (Debian's `chromium`), its values read from the DOM
//! its script filled in from `/live.json` — with the sessions in process,
//! and with two agents (the coordinator serves the page).

use std::process::Command;
use std::time::Duration;

use crate::support;

use support::procs::Proc;
use support::{free_port, out_dir, Server};

/// The page's DOM once its script has run.
fn dom(url: &str) -> String {
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--virtual-time-budget=3000",
            "--dump-dom",
            url,
        ])
        .output()
        .expect("chromium runs (bash .ci/run installs it)");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// The text of the element with `id`.
fn text_of(dom: &str, id: &str) -> String {
    let open = format!("id=\"{id}\"");
    let at = dom
        .find(&open)
        .unwrap_or_else(|| panic!("no #{id} in {dom}"));
    let rest = &dom[at..];
    let start = rest.find('>').unwrap() + 1;
    let end = rest[start..].find('<').unwrap() + start;
    rest[start..end].to_string()
}

/// The `points` of the polyline with `id`.
fn points(dom: &str, id: &str) -> usize {
    let at = dom.find(&format!("id=\"{id}\"")).unwrap();
    let rest = &dom[at..];
    let p = rest.find("points=\"").unwrap() + 8;
    let end = rest[p..].find('"').unwrap() + p;
    rest[p..end].split_whitespace().count()
}

fn live_page_while_running(tag: &str, extra: &[&str]) {
    let s = Server::start(&[]);
    let port = free_port();
    let listen = format!("127.0.0.1:{port}");
    let dir = out_dir(tag);
    let mut args = vec![
        "run",
        "-u",
        &s.url,
        "--stages",
        "1s:6,6s:6",
        "-w",
        "0.2",
        "--interval",
        "0.5",
        "--web",
        &listen,
        "-o",
        dir.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let mut run = Proc::spawn(&args, &[]);
    run.wait_line("live page at", Duration::from_secs(30));
    std::thread::sleep(Duration::from_millis(3000));
    let page = dom(&format!("http://{listen}/"));
    assert_eq!(text_of(&page, "status"), "running", "{tag}");
    let active: u64 = text_of(&page, "active").parse().unwrap();
    assert!(
        (4..=6).contains(&active),
        "{tag}: 6 users held, {active} shown"
    );
    let done: u64 = text_of(&page, "done").parse().unwrap();
    assert!(done > 6, "{tag}: users run sessions back to back: {done}");
    assert_eq!(text_of(&page, "success"), "100.0%", "{tag}");
    assert_eq!(text_of(&page, "failures"), "none", "{tag}");
    assert!(text_of(&page, "phase").starts_with("ws N=6"), "{tag}");
    assert!(
        points(&page, "p99-line") >= 3,
        "{tag}: the chart has the intervals so far"
    );
    assert!(points(&page, "active-line") >= 3, "{tag}");
    let (status, out) = run.finish(Duration::from_secs(60));
    assert!(status.success(), "{tag}: {out}");
}

#[test]
#[ignore = "needs Debian's chromium (bash .ci/run installs it)"]
fn the_live_page_shows_the_run_as_it_goes_in_a_real_browser() {
    live_page_while_running("web-inproc", &[]);
    live_page_while_running("web-agents", &["--agents", "2"]);
}

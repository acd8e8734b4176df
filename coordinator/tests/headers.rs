//! `--header` against a server that wants a bearer token (`envload serve
//! --auth-token-file`), as private Spaces and auth proxies do: without it
//! every session is `Unauthorized`; with it, taken from the environment of
//! the process that sends it, every session passes; and the secret is
//! written nowhere — no file of the results folder, the console, the
//! summary JSON or the experiment log holds it.

use std::path::Path;
use std::process::{Command, Output};
use std::time::Duration;

use crate::support::procs::{agent, coordinator};
use crate::support::{envload, out_dir, out_file, raw_lines, run_json, text, Server};

const TOKEN: &str = "tok-3f9c1d7e-never-written";

/// A server that wants `Bearer TOKEN`.
fn guarded() -> (Server, crate::support::OutDir) {
    let file = out_file("auth-token", "txt");
    std::fs::write(&*file, format!("{TOKEN}\n")).unwrap();
    let server = Server::start(&["--auth-token-file", file.to_str().unwrap()]);
    (server, file)
}

fn run_with(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(envload())
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("envload runs")
}

/// Every file under `dir` (recursively) that holds `needle`.
fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    let mut hits = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if std::fs::read(&p)
                .map(|b| String::from_utf8_lossy(&b).contains(needle))
                .unwrap_or(false)
            {
                hits.push(p.display().to_string());
            }
        }
    }
    hits
}

#[test]
fn without_the_token_every_session_is_unauthorized_naming_the_flag() {
    let (s, _file) = guarded();
    let dir = out_dir("headers-none");
    let d = dir.to_str().unwrap();
    let out = run_with(
        &[
            "run", "-u", &s.url, "--modes", "ws,http", "-n", "3", "-w", "0.01", "-o", d,
        ],
        &[],
    );
    let (stdout, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    let lines = raw_lines(&dir);
    assert_eq!(lines.len(), 6);
    for l in &lines {
        assert_eq!(l["error_type"], "Unauthorized", "{l}");
        let msg = l["error_message"].as_str().unwrap();
        assert!(msg.contains("401") && msg.contains("--header"), "{msg}");
    }
    let unauthorized = crate::support::counters(&s.url)["unauthorized"]
        .as_u64()
        .unwrap();
    assert!(unauthorized >= 6, "the server refused them: {unauthorized}");
}

#[test]
fn the_token_comes_from_the_environment_and_is_written_nowhere() {
    let (s, _file) = guarded();
    let dir = out_dir("headers-env");
    let summary = out_file("headers-env-summary", "json");
    let log = out_file("headers-env-log", "md");
    let report = out_dir("headers-env-report");
    let d = dir.to_str().unwrap();
    let out = run_with(
        &[
            "run",
            "-u",
            &s.url,
            "--modes",
            "ws,http",
            "-n",
            "4",
            "-w",
            "0.01",
            "--header",
            "Authorization: Bearer ${ENVLOAD_TEST_TOKEN}",
            "--summary-json",
            summary.to_str().unwrap(),
            "-o",
            d,
        ],
        &[("ENVLOAD_TEST_TOKEN", TOKEN)],
    );
    let (stdout, stderr) = text(&out);
    assert!(out.status.success(), "{stdout}{stderr}");
    let lines = raw_lines(&dir);
    assert_eq!(lines.len(), 8);
    assert!(
        lines.iter().all(|l| l["success"] == true),
        "{:?}",
        lines.iter().find(|l| l["success"] != true)
    );
    let doc = run_json(&dir);
    assert_eq!(
        doc["plan"]["headers"],
        serde_json::json!(["Authorization: <redacted>"])
    );
    assert!(doc["command"]
        .as_array()
        .unwrap()
        .iter()
        .any(|a| a == "Authorization: <redacted>"));
    let r = run_with(
        &[
            "report",
            d,
            "--out",
            report.to_str().unwrap(),
            "--log",
            log.to_str().unwrap(),
        ],
        &[],
    );
    assert!(r.status.success(), "{:?}", text(&r));
    for (what, hits) in [
        ("results", files_holding(&dir, TOKEN)),
        ("report", files_holding(&report, TOKEN)),
    ] {
        assert!(hits.is_empty(), "the token is in the {what}: {hits:?}");
    }
    for (what, body) in [
        ("stdout", stdout),
        ("stderr", stderr),
        ("summary JSON", std::fs::read_to_string(&*summary).unwrap()),
        ("experiment log", std::fs::read_to_string(&*log).unwrap()),
    ] {
        assert!(!body.contains(TOKEN), "the token is in the {what}");
    }
}

#[test]
fn a_token_typed_on_the_command_line_is_redacted_however_the_flag_is_spelt() {
    let (s, _file) = guarded();
    let dir = out_dir("headers-literal");
    let d = dir.to_str().unwrap();
    let header = format!("Authorization: Bearer {TOKEN}");
    let eq = format!("--head={header}");
    let short = format!("-H{header}");
    for spelt in [
        vec!["--header", header.as_str()],
        vec![eq.as_str()],
        vec![short.as_str()],
    ] {
        let _ = std::fs::remove_dir_all(&*dir);
        let mut args = vec!["run", "-u", &s.url, "-n", "2", "-w", "0.01", "-o", d];
        args.extend(spelt.iter().copied());
        let out = run_with(&args, &[]);
        let (stdout, stderr) = text(&out);
        assert!(out.status.success(), "{spelt:?}: {stdout}{stderr}");
        assert!(
            raw_lines(&dir).iter().all(|l| l["success"] == true),
            "{spelt:?}"
        );
        let hits = files_holding(&dir, TOKEN);
        assert!(hits.is_empty(), "{spelt:?}: the token is in {hits:?}");
        assert!(!stdout.contains(TOKEN) && !stderr.contains(TOKEN));
    }
}

#[test]
fn a_variable_this_host_lacks_is_bad_input_before_anything_runs() {
    let dir = out_dir("headers-unset");
    let out = run_with(
        &[
            "run",
            "-u",
            "http://127.0.0.1:9",
            "-H",
            "Authorization: Bearer ${ENVLOAD_TEST_UNSET_VAR}",
            "-o",
            dir.to_str().unwrap(),
        ],
        &[],
    );
    let (_, stderr) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("--header") && stderr.contains("${ENVLOAD_TEST_UNSET_VAR}"),
        "{stderr}"
    );
    assert!(!dir.exists(), "nothing is written");
    let out = run_with(&["run", "-H", "no colon here"], &[]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn a_remote_agent_takes_the_token_from_its_own_environment() {
    let (s, _file) = guarded();
    let dir = out_dir("headers-remote");
    let d = dir.to_str().unwrap();
    // The coordinator's environment has no token; the agent's has.
    let (mut c, url) = coordinator(
        &[
            "--agents",
            "1",
            "-u",
            &s.url,
            "-n",
            "4",
            "-w",
            "0.01",
            "-H",
            "Authorization: Bearer ${ENVLOAD_AGENT_TOKEN}",
            "-o",
            d,
        ],
        &[],
    );
    let mut a = agent(&url, "a1", &[], &[("ENVLOAD_AGENT_TOKEN", TOKEN)]);
    let (status, out) = c.finish(Duration::from_secs(60));
    assert!(status.success(), "{out}");
    let (st, aout) = a.finish(Duration::from_secs(10));
    assert!(st.success(), "{aout}");
    assert!(
        raw_lines(&dir).iter().all(|l| l["success"] == true),
        "{out}"
    );
    assert!(files_holding(&dir, TOKEN).is_empty());
    assert!(!out.contains(TOKEN) && !aout.contains(TOKEN));
}

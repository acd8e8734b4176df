//! deploy/k8s/, validated without a cluster (none can run here): every
//! manifest against the Kubernetes API schema (kubernetes-validate from
//! PyPI, its schemas bundled, strict: unknown fields refused), and every
//! envload command line in them through envload's own argument checks
//! (`ENVLOAD_CHECK_ARGS`), so a flag renamed in the code breaks this test,
//! not a user's cluster.

use crate::support;
use crate::uvicorn::repo;

use std::path::PathBuf;
use std::process::Command;

/// The Kubernetes version the manifests are checked against.
const KUBERNETES: &str = "1.33.0";

fn manifests() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo().join("deploy/k8s"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    files
}

/// kubernetes-validate in a venv of its own, installed on first use.
fn validator() -> PathBuf {
    let venv = repo().join("target/envload-venvs/kubernetes-validate");
    let bin = venv.join("bin/kubernetes-validate");
    if !bin.exists() {
        let ok = Command::new("python3")
            .args(["-m", "venv", "--clear"])
            .arg(&venv)
            .status()
            .is_ok_and(|s| s.success())
            && Command::new(venv.join("bin/pip"))
                .args([
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "kubernetes-validate==1.37.0",
                ])
                .status()
                .is_ok_and(|s| s.success());
        assert!(
            ok,
            "needs python3 with venv and pip, and PyPI, to install kubernetes-validate"
        );
    }
    bin
}

#[test]
fn the_manifests_validate_against_the_kubernetes_schema() {
    let out = Command::new(validator())
        .args(["--strict", "-k", KUBERNETES])
        .args(manifests())
        .output()
        .unwrap();
    let report =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{report}");
    for kind in [
        "deployment/openenv-server",
        "job/envload-coordinator",
        "job/envload-agents",
        "service/envload-coordinator",
        "secret/envload-token",
    ] {
        assert!(
            report.contains(&format!("passed for resource {kind}")),
            "{kind}: {report}"
        );
    }
}

/// The envload command lines of the manifests: a `- >-` folded block that
/// starts with `envload` (up to `&&`), or an `args:` list of an `envload:`
/// image; `$(VAR)` filled in as Kubernetes would.
fn command_lines() -> Vec<Vec<String>> {
    let mut lines = Vec::new();
    for file in manifests() {
        let text = std::fs::read_to_string(&file).unwrap();
        let rows: Vec<&str> = text.lines().collect();
        for (i, row) in rows.iter().enumerate() {
            let t = row.trim();
            if t == "- >-" {
                let block: Vec<&str> = rows[i + 1..]
                    .iter()
                    .take_while(|r| r.starts_with("              "))
                    .map(|r| r.trim())
                    .collect();
                let joined = block.join(" ");
                if let Some(cmd) = joined
                    .split("&&")
                    .next()
                    .and_then(|c| c.strip_prefix("envload "))
                {
                    lines.push(cmd.split_whitespace().map(String::from).collect());
                }
            }
            if t == "args:"
                && rows[..i]
                    .iter()
                    .rev()
                    .any(|r| r.contains("image: envload:"))
            {
                let indent = row.len() - row.trim_start().len();
                let args: Vec<String> = rows[i + 1..]
                    .iter()
                    .take_while(|r| {
                        r.trim_start().starts_with("- ") && r.len() - r.trim_start().len() > indent
                    })
                    .map(|r| {
                        r.trim()
                            .trim_start_matches("- ")
                            .trim_matches('"')
                            .to_string()
                    })
                    .collect();
                if args.first().is_some_and(|a| a != ">-") {
                    lines.push(args);
                }
            }
        }
    }
    for l in &mut lines {
        for a in l.iter_mut() {
            *a = a.replace("$(POD_NAME)", "envload-agents-0-abcde");
        }
    }
    lines
}

#[test]
fn every_envload_command_line_in_the_manifests_parses() {
    let lines = command_lines();
    let subcommands: Vec<&str> = lines.iter().map(|l| l[0].as_str()).collect();
    assert!(
        subcommands.contains(&"coordinator") && subcommands.contains(&"agent"),
        "{lines:?}"
    );
    for args in &lines {
        let out = Command::new(support::envload())
            .args(args)
            .env("ENVLOAD_CHECK_ARGS", "1")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // And the check is a check: a misspelt flag fails it.
    let out = Command::new(support::envload())
        .args(["agent", "--coordinator", "http://c:7700", "--cpuz", "2"])
        .env("ENVLOAD_CHECK_ARGS", "1")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

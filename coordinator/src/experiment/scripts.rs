//! A reference matrix's `deploy_script` as one of envload's deployments. A
//! script that is here runs as written (`sbatch S` submits S, which must run
//! the grid itself, as `slurm/experiment_*.sbatch` do); the reference's own
//! scripts, when they are not here, map to envload's deployment of the same
//! infrastructure, in envload's checkout ([`home`]). Every answer carries
//! the sentence the dry run shows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::matrix::Deploy;

/// What a `deploy_script` becomes.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub kind: Deploy,
    /// `command`: what runs.
    pub start: Option<String>,
    /// `url`: how it was deployed by hand.
    pub how: Option<String>,
    /// `sbatch`: the script submitted.
    pub script: Option<String>,
    /// `sbatch`: nodes (the infrastructure's `NODES`).
    pub nodes: Option<u32>,
    /// What the dry run says of it.
    pub remark: String,
}

impl Resolved {
    /// Whether the deployment is measured at `url_template` (a Slurm job
    /// serves and measures itself).
    pub fn uses_url(&self) -> bool {
        self.kind != Deploy::Sbatch
    }
}

/// The reference's scripts (as written in its matrix, `./` dropped) and
/// what envload does in their place.
const REFERENCE: [(&str, Mapped); 5] = [
    (
        "deploy/local/run_uvicorn.sh",
        Mapped::Command("deploy/local/run_uvicorn.sh"),
    ),
    (
        "deploy/local/run_docker.sh",
        Mapped::Command("deploy/docker/run_docker.sh"),
    ),
    (
        "deploy/hf_spaces/deploy.sh",
        Mapped::Url("deploy/hf_spaces/deploy.sh OWNER/SPACE, then measure its URL"),
    ),
    (
        "sbatch deploy/slurm/serve_single.sh",
        Mapped::Sbatch("slurm/experiment_single.sbatch"),
    ),
    (
        "deploy/slurm/alloc.sh && deploy/slurm/serve_multi.sh",
        Mapped::Sbatch("slurm/experiment_multi.sbatch"),
    ),
];

#[derive(Debug, Clone, Copy)]
enum Mapped {
    Command(&'static str),
    Url(&'static str),
    Sbatch(&'static str),
}

/// `./a.sh  &&  ./b.sh` as `a.sh && b.sh`.
fn normal(script: &str) -> String {
    script
        .split_whitespace()
        .map(|w| w.strip_prefix("./").unwrap_or(w))
        .collect::<Vec<_>>()
        .join(" ")
}

/// envload's checkout, where its deployments are: `$ENVLOAD_HOME`, else
/// the folder above the binary's `target/<profile>/` that holds them, else
/// `cwd`.
pub fn home(cwd: &Path) -> PathBuf {
    let ours =
        |d: &Path| d.join("deploy/local/run_uvicorn.sh").is_file() && d.join("slurm").is_dir();
    std::env::var_os("ENVLOAD_HOME")
        .map(PathBuf::from)
        .or_else(|| {
            let exe = std::env::current_exe().ok()?;
            exe.ancestors()
                .skip(1)
                .take(4)
                .find(|d| ours(d))
                .map(Path::to_path_buf)
        })
        .unwrap_or_else(|| cwd.to_path_buf())
}

/// What `deploy_script` (with the infrastructure's `env_vars`) becomes,
/// for a run from `cwd` with envload's deployments in `home`.
pub fn resolve(
    script: Option<&str>,
    env: &BTreeMap<String, String>,
    cwd: &Path,
    home: &Path,
) -> Result<Resolved, String> {
    // envload's own script: as a path from `cwd` when it is the checkout.
    let ours = |rel: &str| {
        if home == cwd {
            rel.to_string()
        } else {
            home.join(rel).display().to_string()
        }
    };
    let nodes = || -> Result<Option<u32>, String> {
        env.get("NODES")
            .map(|n| {
                n.parse::<u32>()
                    .ok()
                    .filter(|n| (1..=4096).contains(n))
                    .ok_or_else(|| format!("env_vars NODES '{n}' is not a node count"))
            })
            .transpose()
    };
    let base = Resolved {
        kind: Deploy::Url,
        start: None,
        how: None,
        script: None,
        nodes: None,
        remark: String::new(),
    };
    let Some(script) = script.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(Resolved {
            remark: "no deploy_script: measured at url_template as it is".into(),
            ..base
        });
    };
    let norm = normal(script);
    let words: Vec<&str> = norm.split(' ').collect();
    let submitted = (words[0] == "sbatch")
        .then(|| words.get(1).copied())
        .flatten();
    let here = |p: &str| cwd.join(p).is_file();
    let known = REFERENCE.iter().find(|(s, _)| *s == norm).map(|(_, m)| *m);
    let sbatch = |s: &str, remark: String| -> Result<Resolved, String> {
        Ok(Resolved {
            kind: Deploy::Sbatch,
            script: Some(s.to_string()),
            nodes: nodes()?,
            remark,
            ..base.clone()
        })
    };
    match known {
        // Serving scripts of the reference that are here run as written.
        Some(Mapped::Command(_)) if here(words[0]) => {}
        Some(Mapped::Command(rel)) => {
            let ours = ours(rel);
            return Ok(Resolved {
                kind: Deploy::Command,
                start: Some(ours.clone()),
                remark: format!(
                    "deploy_script '{script}' is not here: envload's own {ours} serves this infrastructure"
                ),
                ..base
            })
        }
        Some(Mapped::Url(how)) => {
            return Ok(Resolved {
                how: Some(how.to_string()),
                remark: format!(
                    "deploy_script '{script}' deploys a Space and exits: deploy it by hand ({how}); envload measures url_template"
                ),
                ..base
            })
        }
        Some(Mapped::Sbatch(rel)) => {
            let ours = ours(rel);
            return sbatch(
                &ours,
                format!(
                    "deploy_script '{script}' only serves: envload's {ours} serves and measures this infrastructure in one job{}",
                    env.get("NODES").map(|n| format!(" on {n} nodes (NODES)")).unwrap_or_default()
                ),
            )
        }
        None => {}
    }
    // Anything else runs as written when its script is here.
    let (submit, file) = match words[0] {
        "sbatch" => (true, submitted),
        first => (false, Some(first)),
    };
    let Some(file) = file.filter(|f| here(f)) else {
        return Err(format!(
            "'{script}': {} is not here, and is none of the reference's scripts envload knows ({})",
            file.unwrap_or("the script"),
            known_list()
        ));
    };
    if submit {
        return sbatch(
            file,
            format!(
                "deploy_script '{script}': submitted with the plan in REQUESTS_GRID, WAIT_GRID, MODE, … (it must run the grid itself, as slurm/experiment_*.sbatch do)"
            ),
        );
    }
    Ok(Resolved {
        kind: Deploy::Command,
        start: Some(script.to_string()),
        remark: format!("deploy_script '{script}' runs as written"),
        ..base
    })
}

fn known_list() -> String {
    REFERENCE
        .iter()
        .map(|(s, _)| *s)
        .collect::<Vec<_>>()
        .join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_reference_scripts_map_to_envloads_deployments() {
        let elsewhere = std::env::temp_dir();
        let home = Path::new("/opt/envload");
        let resolve = |s, e: &BTreeMap<String, String>| resolve(s, e, &elsewhere, home);
        {
            let r = resolve(Some("./deploy/local/run_docker.sh"), &env(&[])).unwrap();
            assert_eq!(
                (r.kind, r.start.as_deref()),
                (
                    Deploy::Command,
                    Some("/opt/envload/deploy/docker/run_docker.sh")
                )
            );
            assert!(r.remark.contains("is not here"), "{}", r.remark);
            let r = resolve(Some("sbatch deploy/slurm/serve_single.sh"), &env(&[])).unwrap();
            assert_eq!(
                (r.kind, r.script.as_deref(), r.uses_url()),
                (
                    Deploy::Sbatch,
                    Some("/opt/envload/slurm/experiment_single.sbatch"),
                    false
                )
            );
            let r = resolve(
                Some("./deploy/slurm/alloc.sh && ./deploy/slurm/serve_multi.sh"),
                &env(&[("NODES", "4")]),
            )
            .unwrap();
            assert_eq!(
                (r.script.as_deref(), r.nodes),
                (Some("/opt/envload/slurm/experiment_multi.sbatch"), Some(4))
            );
            let r = resolve(Some("./deploy/hf_spaces/deploy.sh"), &env(&[])).unwrap();
            assert_eq!((r.kind, r.uses_url()), (Deploy::Url, true));
            let e = resolve(Some("./deploy/k8s/apply.sh"), &env(&[])).unwrap_err();
            assert!(e.contains("deploy/k8s/apply.sh is not here"), "{e}");
            let e = resolve(Some("sbatch mine.sh"), &env(&[])).unwrap_err();
            assert!(e.contains("mine.sh is not here"), "{e}");
            let e = resolve(
                Some("sbatch deploy/slurm/serve_single.sh"),
                &env(&[("NODES", "many")]),
            )
            .unwrap_err();
            assert!(e.contains("NODES 'many'"), "{e}");
        }
    }

    #[test]
    fn a_script_that_is_here_runs_as_written() {
        let dir = std::env::temp_dir().join(format!("envload-scripts-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("deploy/local")).unwrap();
        std::fs::write(dir.join("deploy/local/run_uvicorn.sh"), "#!/bin/sh\n").unwrap();
        std::fs::write(dir.join("mine.sbatch"), "#!/bin/sh\n").unwrap();
        let r = (
            resolve(Some("./deploy/local/run_uvicorn.sh"), &env(&[]), &dir, &dir).unwrap(),
            resolve(Some("sbatch mine.sbatch"), &env(&[]), &dir, &dir).unwrap(),
            resolve(Some("deploy/local/run_docker.sh"), &env(&[]), &dir, &dir).unwrap(),
        );
        let _ = std::fs::remove_dir_all(&dir);
        assert_eq!(
            (r.0.kind, r.0.start.as_deref()),
            (Deploy::Command, Some("./deploy/local/run_uvicorn.sh"))
        );
        assert!(r.0.remark.contains("runs as written"), "{}", r.0.remark);
        assert_eq!(
            (r.1.kind, r.1.script.as_deref()),
            (Deploy::Sbatch, Some("mine.sbatch"))
        );
        assert_eq!(
            r.2.start.as_deref(),
            Some("deploy/docker/run_docker.sh"),
            "from envload's checkout, its scripts by their paths in it"
        );
    }
}

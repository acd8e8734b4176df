//! Reading an experiment matrix file into a [`Matrix`]: envload's TOML, or
//! the reference tool's `experiment_matrix.yaml` ([`super::reference`];
//! chosen by extension, else by content), then every infrastructure
//! checked — not just the one asked for — so a broken entry is found before
//! anything runs. Errors name the file and the infrastructure.

use std::path::Path;

use super::matrix::Matrix;
use super::reference;

impl Matrix {
    /// Reads and checks `path`: every infrastructure, not just one, so a
    /// broken entry is found before anything runs.
    pub fn load(path: &Path) -> Result<Matrix, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("--matrix {}: {e}", path.display()))?;
        let mut matrix: Matrix = if reference::is_yaml(path, &text) {
            reference::parse(&text, path, |w| eprintln!("envload: warning: {w}"))?
        } else {
            let mut m: Matrix =
                toml::from_str(&text).map_err(|e| format!("--matrix {}: {e}", path.display()))?;
            for infra in &mut m.infrastructures {
                infra.url_key = format!("infrastructure '{}': url", infra.id);
            }
            m
        };
        if let Some(c) = &matrix.success_criteria {
            c.criteria()
                .map_err(|e| format!("--matrix {}: success_criteria.{e}", path.display()))?;
        }
        let base = path.parent().unwrap_or(Path::new("."));
        for infra in &mut matrix.infrastructures {
            if let Some(s) = infra.scenario.as_mut() {
                if s.is_relative() {
                    *s = base.join(&*s);
                }
                crate::scenario::load(s).map_err(|e| {
                    format!(
                        "--matrix {}: infrastructure '{}': {e}",
                        path.display(),
                        infra.id
                    )
                })?;
            }
        }
        let mut seen = std::collections::BTreeSet::new();
        for infra in &matrix.infrastructures {
            if !seen.insert(infra.id.as_str()) {
                return Err(format!(
                    "--matrix {}: infrastructure '{}' is listed twice",
                    path.display(),
                    infra.id
                ));
            }
            infra
                .check()
                .and_then(|()| matrix.plan(infra).map(|_| ()))
                .map_err(|e| {
                    format!(
                        "--matrix {}: infrastructure '{}': {e}",
                        path.display(),
                        infra.id
                    )
                })?;
        }
        Ok(matrix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Matrix, String> {
        static N: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("envload-matrix-{}-{n}.toml", std::process::id()));
        std::fs::write(&path, text).unwrap();
        let m = Matrix::load(&path);
        let _ = std::fs::remove_file(&path);
        m
    }

    #[test]
    fn an_infrastructure_grid_overrides_the_shared_one() {
        let m = parse(
            "[grid]\nrequests = [8, 16]\nwaits = [0.5]\n\
             [[infrastructure]]\nid = \"a\"\ndeploy = \"embedded\"\n\
             [[infrastructure]]\nid = \"b\"\ndeploy = \"url\"\nurl = \"http://h:1\"\n\
             [infrastructure.grid]\nrequests = [4]\nmodes = [\"http\"]\n",
        )
        .unwrap();
        let a = m.plan(&m.infrastructures[0]).unwrap();
        let b = m.plan(&m.infrastructures[1]).unwrap();
        assert_eq!(
            (a.requests, a.waits.clone(), a.modes),
            (vec![8, 16], vec![0.5], vec!["ws".to_string()])
        );
        assert_eq!(
            (b.requests, b.waits, b.modes),
            (vec![4], vec![0.5], vec!["http".to_string()])
        );
    }

    #[test]
    fn broken_entries_are_named() {
        let cases = [
            ("[[infrastructure]]\nid = \"x\"\ndeploy = \"command\"\nurl = \"http://h:1\"\n[infrastructure.grid]\nrequests=[1]", "'x': deploy = \"command\" needs `start`"),
            ("[grid]\nrequests=[1]\n[[infrastructure]]\nid = \"x\"\ndeploy = \"url\"", "needs `url`"),
            ("[grid]\nrequests=[1]\n[[infrastructure]]\nid = \"../../x\"\ndeploy = \"embedded\"", "id: '../../x' is not a safe name"),
            ("[grid]\nrequests=[1]\n[[infrastructure]]\nid = \"x\"\ndeploy = \"embedded\"\nready_timeout = 1e20", "ready_timeout: '100000000000000000000' is not a number of seconds"),
            ("[grid]\nrequests=[1]\n[[infrastructure]]\nid = \"x\"\ndeploy = \"url\"\nurl = \"ftp://h:1\"", "'x': url:"),
            ("[[infrastructure]]\nid = \"x\"\ndeploy = \"embedded\"", "no `requests`"),
            ("[grid]\nrequests=[1]\nmodes=[\"grpc\"]\n[[infrastructure]]\nid = \"x\"\ndeploy = \"embedded\"", "\"grpc\""),
            ("[grid]\nrequests=[1]\n[[infrastructure]]\nid = \"x\"\ndeploy = \"docker\"", "docker"),
            ("[grid]\nrequests=[1]\n[[infrastructure]]\nid = \"x\"\ndeploy = \"embedded\"\ncpus = 4", "cpus"),
            ("[grid]\nrequests=[1]\n[[infrastructure]]\nid = \"x\"\ndeploy = \"embedded\"\n[[infrastructure]]\nid = \"x\"\ndeploy = \"embedded\"", "listed twice"),
        ];
        for (text, want) in cases {
            let err = parse(text).unwrap_err();
            assert!(
                err.contains(want) && err.contains("--matrix"),
                "{want}: {err}"
            );
        }
    }
}

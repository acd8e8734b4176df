//! The reference tool's experiment matrix (`experiment_matrix.yaml`) read
//! as written: the project's own fixture in that schema plans exactly what
//! its TOML twin plans, for every infrastructure; its success criteria
//! judge `report` and `ceiling`; broken files are named by file, key and
//! line. Real runs of its local-uvicorn and Slurm entries are in
//! `uvicorn.rs` and `slurm.rs`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::support;
use support::{out_dir, text};

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/reference")
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// `envload args…` run from `cwd`.
fn envload_in(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(support::envload())
        .current_dir(cwd)
        .args(args)
        .envs(env.iter().copied())
        .output()
        .unwrap()
}

/// `envload experiment --matrix M --infrastructure ID --dry-run` from the
/// checkout.
fn dry_run_output(matrix: &Path, id: &str, env: &[(&str, &str)]) -> Output {
    let m = matrix.to_str().unwrap();
    let args = [
        "experiment",
        "--matrix",
        m,
        "--infrastructure",
        id,
        "--dry-run",
    ];
    envload_in(&repo(), &args, env)
}

fn dry_run(matrix: &Path, id: &str, env: &[(&str, &str)]) -> (String, String) {
    let out = dry_run_output(matrix, id, env);
    let t = text(&out);
    assert!(out.status.success(), "{id}: {t:?}");
    t
}

/// The plan lines of a dry run: the header, what starts, what runs or is
/// submitted, where results go.
fn plan_lines(stdout: &str) -> Vec<&str> {
    stdout
        .lines()
        .filter(|l| {
            l.starts_with("envload experiment:")
                || ["start:", "run:", "submit:", "results:", "deployed by:"]
                    .iter()
                    .any(|k| l.trim_start().starts_with(k))
        })
        .collect()
}

#[test]
fn the_reference_yaml_plans_what_its_toml_twin_plans() {
    let yaml = fixtures().join("experiment_matrix.yaml");
    let toml = fixtures().join("experiment_matrix.toml");
    let env = [("ENVLOAD_TEST_HF_USER", "ada")];
    for id in [
        "local-uvicorn",
        "local-docker",
        "hf-spaces",
        "slurm-single",
        "slurm-multi",
    ] {
        let (y, yerr) = dry_run(&yaml, id, &env);
        let (t, _) = dry_run(&toml, id, &env);
        assert_eq!(plan_lines(&y), plan_lines(&t), "{id}:\n{y}\n---\n{t}");
        assert!(plan_lines(&y).len() >= 3, "{y}");
        assert!(
            yerr.is_empty(),
            "no warning for a file as the reference writes it: {yerr}"
        );
        // The sections envload does not act on, listed once.
        for section in [
            "experiment: envload-reference-schema 1.0",
            "metrics (",
            "analyses (",
        ] {
            assert_eq!(y.matches(section).count(), 1, "{section}: {y}");
        }
        assert!(
            y.contains("--cooldown 0.2"),
            "execution.cooldown_seconds: {y}"
        );
        assert!(
            y.contains("--slo 'success>=0.9,p99<=3*(wait+0.25)'")
                || y.contains("--slo success>=0.9,p99<=3*(wait+0.25)"),
            "success_criteria: {y}"
        );
    }
    // How each deploy_script became envload's deployment is said.
    let (y, _) = dry_run(&yaml, "local-uvicorn", &env);
    assert!(
        y.contains("'./deploy/local/run_uvicorn.sh' runs as written"),
        "{y}"
    );
    assert!(
        y.contains(
            "batch sizes over 2 × max_expected_batch = 32 left out, as the reference does: 64"
        ),
        "{y}"
    );
    let (y, _) = dry_run(&yaml, "local-docker", &env);
    assert!(
        y.contains("is not here: envload's own deploy/docker/run_docker.sh serves"),
        "{y}"
    );
    let (y, _) = dry_run(&yaml, "slurm-multi", &env);
    assert!(
        y.contains("only serves: envload's slurm/experiment_multi.sbatch serves and measures")
            && y.contains("on 3 nodes (NODES)")
            && y.contains("url_template '${OPENENV_URL}' is not used"),
        "{y}"
    );
    let (y, _) = dry_run(&yaml, "hf-spaces", &env);
    assert!(y.contains("notes: Free tier may time out"), "{y}");
}

/// The fixture as a YAML document, `edit`ed and written to `dir`: for
/// real runs, its ports, venv, grid and output folders made the test's own.
pub fn fixture_in(dir: &Path, edit: impl FnOnce(&mut serde_norway::Value)) -> PathBuf {
    let text = std::fs::read_to_string(fixtures().join("experiment_matrix.yaml")).unwrap();
    let mut doc: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    edit(&mut doc);
    std::fs::create_dir_all(dir).unwrap();
    let path = dir.join("experiment_matrix.yaml");
    std::fs::write(&path, serde_norway::to_string(&doc).unwrap()).unwrap();
    path
}

/// The infrastructure `id` of a fixture document.
pub fn infrastructure<'a>(
    doc: &'a mut serde_norway::Value,
    id: &str,
) -> &'a mut serde_norway::Value {
    doc["variables"]["infrastructures"]
        .as_sequence_mut()
        .unwrap()
        .iter_mut()
        .find(|i| i["id"].as_str() == Some(id))
        .unwrap()
}

/// A copy of the fixture with `edit` applied to its text.
fn edited(name: &str, edit: impl Fn(String) -> String) -> (PathBuf, support::OutDir) {
    let dir = out_dir(name);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("experiment_matrix.yaml");
    let text = std::fs::read_to_string(fixtures().join("experiment_matrix.yaml")).unwrap();
    std::fs::write(&path, edit(text)).unwrap();
    (path, dir)
}

fn refused_in_repo(matrix: &Path, id: &str) -> String {
    let out = dry_run_output(matrix, id, &[]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    err
}

#[test]
fn bad_yaml_is_named_by_file_key_and_line() {
    let cases: [(&str, &str, &str, &str); 8] = [
        (
            "    - 16\n",
            "    - sixteen\n",
            "local-uvicorn",
            "variables.batch_sizes[1]: invalid type: string \"sixteen\", expected u64 at line 76",
        ),
        (
            "    - id: local-docker\n",
            "    - ident: local-docker\n",
            "local-uvicorn",
            "variables.infrastructures[1]: missing field `id` at line 31",
        ),
        (
            "",
            "",
            "local-kubernetes",
            "--infrastructure 'local-kubernetes' is not in FILE: variables.infrastructures (line 18) has local-uvicorn, local-docker, hf-spaces, slurm-single, slurm-multi",
        ),
        (
            "  timeout_seconds: 60\n",
            "  timeout_seconds: [60]\n",
            "local-uvicorn",
            "execution.timeout_seconds: invalid type: sequence, expected f64 at line 81",
        ),
        (
            "  min_success_rate: 0.9\n",
            "  min_success_rate: 1.5\n",
            "local-uvicorn",
            "success_criteria.min_success_rate (line 13): 1.5 is not a fraction in [0, 1]",
        ),
        (
            "    - http\n",
            "    - grpc\n",
            "local-uvicorn",
            "variables.modes[1] (line 68): 'grpc' is not a mode: ws or http",
        ),
        (
            "deploy_script: \"./deploy/local/run_docker.sh\"",
            "deploy_script: \"./deploy/k8s/apply.sh\"",
            "local-uvicorn",
            "variables.infrastructures[1].deploy_script (line 33): './deploy/k8s/apply.sh': deploy/k8s/apply.sh is not here, and is none of the reference's scripts envload knows",
        ),
        (
            "",
            "",
            "hf-spaces",
            "variables.infrastructures[2].url_template (line 43): ${ENVLOAD_TEST_HF_USER} is not set in the environment",
        ),
    ];
    for (k, (from, to, id, want)) in cases.into_iter().enumerate() {
        let (m, _dir) = edited(&format!("reference-bad-{k}"), |t| {
            assert!(t.contains(from), "{from}");
            t.replacen(from, to, 1)
        });
        let err = refused_in_repo(&m, id);
        let want = want.replace("FILE", &m.display().to_string());
        assert!(
            err.contains(&format!("--matrix {}: {want}", m.display())) || err.contains(&want),
            "want {want}\n got {err}"
        );
        assert!(
            err.contains(&m.display().to_string()),
            "names the file: {err}"
        );
    }
}

#[test]
fn an_unknown_key_is_a_warning_naming_it() {
    let (m, _dir) = edited("reference-unknown-key", |t| {
        t.replacen(
            "      max_expected_batch: 16\n",
            "      max_expected_batch: 16\n      gpus: 8\n",
            1,
        )
        .replacen(
            "  cooldown_seconds: 0.2\n",
            "  cooldown_seconds: 0.2\n  retries: 3\n",
            1,
        )
        .replacen(
            "  raw_file: \"raw.jsonl\"\n",
            "  raw_file: \"raw_results.jsonl\"\n",
            1,
        )
    });
    let (stdout, err) = dry_run(&m, "local-uvicorn", &[]);
    assert!(stdout.contains("run:"), "{stdout}");
    for want in [
        "unknown key variables.infrastructures[0].gpus (line 29) ignored",
        "unknown key execution.retries (line 84) ignored",
        "output.raw_file (line 88): envload writes raw.jsonl, not 'raw_results.jsonl'",
    ] {
        assert_eq!(err.matches(want).count(), 1, "{want}: {err}");
    }
}

/// An infrastructure whose max_expected_batch leaves it no batch size is
/// refused when chosen, naming the key, and only then (the reference
/// looks at the chosen one alone).
#[test]
fn an_entry_left_nothing_to_run_is_refused_only_when_chosen() {
    let (m, _dir) = edited("reference-nothing-to-run", |t| {
        t.replacen("    - 4\n", "    - 12\n", 1)
    });
    let err = refused_in_repo(&m, "hf-spaces");
    assert!(
        err.contains("variables.infrastructures[2].max_expected_batch (line 45): every batch size (12, 16, 64) is over 2 × 4 for 'hf-spaces': there is nothing to run"),
        "{err}"
    );
    assert!(
        err.contains(&m.display().to_string()),
        "names the file: {err}"
    );
    let (y, _) = dry_run(&m, "local-uvicorn", &[]);
    assert!(y.contains("--requests-grid 12,16"), "{y}");
    // Sizes of its own on the command line, within the cap, run.
    let args = [
        "experiment",
        "--matrix",
        m.to_str().unwrap(),
        "-i",
        "hf-spaces",
    ];
    let out = envload_in(
        &repo(),
        &[&args[..], &["-b", "4,8", "--dry-run"]].concat(),
        &[("ENVLOAD_TEST_HF_USER", "ada")],
    );
    let (y, err) = text(&out);
    assert!(
        out.status.success() && y.contains("--requests-grid 4,8"),
        "{y}\n{err}"
    );
}

/// `ceiling --matrix` searches with the matrix's success criteria; the
/// flags that would say otherwise are refused beside it.
#[test]
fn the_success_criteria_judge_the_ceiling() {
    let m = fixtures().join("experiment_matrix.yaml");
    let m = m.to_str().unwrap();
    let dir = out_dir("reference-ceiling");
    std::fs::create_dir_all(&dir).unwrap();
    let out = envload_in(
        &repo(),
        &[
            "ceiling",
            "--matrix",
            m,
            "-n",
            "4",
            "--max-n",
            "8",
            "-w",
            "0.05",
            "--summary-json",
            dir.join("summary.json").to_str().unwrap(),
            "-o",
            dir.to_str().unwrap(),
        ],
        &[],
    );
    let (stdout, err) = text(&out);
    assert!(out.status.success(), "{stdout}\n{err}");
    let summary = support::json_file(&dir.join("summary.json"));
    assert_eq!(
        summary["slo"], "success>=0.9,p99<=3*(wait+0.25)",
        "{summary}"
    );
    assert_eq!(stdout.lines().last(), Some("ceiling=8"), "{stdout}");
    for clash in [
        ["--max-p99", "3"],
        ["--slo", "p99<=1"],
        ["--success-threshold", "0.5"],
    ] {
        let out = envload_in(
            &repo(),
            &["ceiling", "--matrix", m, "-n", "4", clash[0], clash[1]],
            &[],
        );
        assert_eq!(out.status.code(), Some(2), "{clash:?}: {:?}", text(&out));
    }
}

/// `--cooldown` (the reference's `cooldown_seconds`) is the pause between
/// phases: two phases of a millisecond cannot end sooner than it.
#[test]
fn the_cooldown_is_the_pause_between_phases() {
    let dir = out_dir("reference-cooldown");
    let started = std::time::Instant::now();
    let (stdout, _) = support::run_ok(&[
        "run",
        "--requests-grid",
        "1,2",
        "-w",
        "0",
        "--cooldown",
        "2.5",
        "-o",
        dir.to_str().unwrap(),
    ]);
    let took = started.elapsed().as_secs_f64();
    assert!(
        took >= 2.5,
        "two phases 2.5 s apart took {took:.2} s: {stdout}"
    );
    let rj = support::run_json(&dir);
    assert_eq!(rj["plan"]["cooldown"].as_f64(), Some(2.5));
}

/// The reference runner's own command line, `python
/// experiments/scripts/run_experiment.py` replaced by `envload
/// experiment`: `--config`, `-i`, `-u`, `-b`, `-w`, `-r`, `-m`, `-t`, `-o`,
/// `--no-log`, each replacing what the matrix says for this run.
#[test]
fn the_reference_runners_command_line_works() {
    let m = fixtures().join("experiment_matrix.yaml");
    let m = m.to_str().unwrap();
    let dir = out_dir("reference-cli");
    let d = dir.to_str().unwrap();
    let s = support::Server::start(&[]);
    let reference_style = |id: &str, extra: &[&str]| {
        let mut args = vec![
            "experiment",
            "--config",
            m,
            "-i",
            id,
            "-b",
            "2,4,64",
            "-w",
            "0.05",
        ];
        args.extend(["-r", "1", "-m", "http", "-t", "30", "-o", d, "--no-log"]);
        args.extend(extra);
        envload_in(&repo(), &args, &[])
    };
    // hf-spaces (measured at its URL) pointed at a local server, as the
    // reference's users point --url at theirs.
    let out = reference_style("hf-spaces", &["-u", &s.url, "--dry-run"]);
    let (stdout, err) = text(&out);
    assert!(out.status.success(), "{stdout}\n{err}");
    for want in [
        &format!("--url {}", s.url),
        "--modes http --requests-grid 2,4 --wait-grid 0.05 --reps 1 --timeout 30",
        &format!("--output-dir {d}"),
        "--batch-sizes over 2 × max_expected_batch = 8 left out, as the reference does: 64",
    ] {
        assert!(stdout.contains(want), "{want}: {stdout}");
    }
    // No ENVLOAD_TEST_HF_USER needed: --url replaces the template.
    let out = reference_style("hf-spaces", &["-u", &s.url]);
    let (stdout, err) = text(&out);
    assert!(out.status.success(), "{stdout}\n{err}");
    let rows = support::csv_rows(&dir);
    let got: Vec<(&str, &str, &str)> = rows[1..]
        .iter()
        .map(|r| {
            let c = |n| support::col(&rows[0], r, n);
            (c("mode"), c("batch_size"), c("successful"))
        })
        .collect();
    assert_eq!(got, [("http", "2", "2"), ("http", "4", "4")], "{stdout}");
    assert_eq!(support::run_json(&dir)["infrastructure"], "hf-spaces");
    // A Slurm job serves and measures itself.
    let out = reference_style("slurm-single", &["-u", &s.url, "--dry-run"]);
    let (_, err) = text(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--url: the sbatch job of 'slurm-single'"),
        "{err}"
    );
}

/// Without `--matrix`, a checkout that keeps only the reference's
/// `experiments/config/experiment_matrix.yaml` is read from there.
#[test]
fn without_a_matrix_flag_the_references_file_is_found_where_it_keeps_it() {
    let dir = out_dir("reference-default");
    let config = dir.join("experiments/config");
    std::fs::create_dir_all(&config).unwrap();
    std::fs::copy(
        fixtures().join("experiment_matrix.yaml"),
        config.join("experiment_matrix.yaml"),
    )
    .unwrap();
    let out = envload_in(&dir, &["experiment", "-i", "slurm-multi", "--dry-run"], &[]);
    let (stdout, err) = text(&out);
    assert!(out.status.success(), "{stdout}\n{err}");
    assert!(
        stdout.contains("experiment: envload-reference-schema"),
        "{stdout}"
    );
}

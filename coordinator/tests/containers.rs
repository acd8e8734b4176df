//! local-docker and envload's own image on a real container engine: the
//! Python OpenEnv benchmark server image built and run by
//! deploy/docker/run_docker.sh and measured by envload (WebSocket and HTTP,
//! both uvicorn workers seen, capacity refused at MAX_CONCURRENT_ENVS), the
//! shipped matrix's local-docker entry through `envload experiment`, and an
//! envload agent in a container joining a coordinator on the host. Each
//! test removes the containers and images it made (the base images stay).
//! They need an engine (deploy/docker/engine.sh up) and the base images
//! (deploy/docker/base_images.sh); `bash .ci/run` provides both.

use crate::support;
use crate::uvicorn::repo;

use std::collections::BTreeMap;
use std::process::Command;
use std::time::Duration;

use envload_coordinator::Deployed;
use support::procs::{agent_cmd, coordinator};
use support::{col, csv_rows, out_dir, raw_lines, run, text, Server};

static ENGINE: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The engine lock; fails saying what is missing when no engine answers.
fn engine() -> std::sync::MutexGuard<'static, ()> {
    let ok = Command::new("docker")
        .arg("info")
        .output()
        .is_ok_and(|o| o.status.success());
    assert!(
        ok,
        "needs a container engine: `eval \"$(deploy/docker/engine.sh up)\"` (DOCKER_HOST), then deploy/docker/base_images.sh; bash .ci/run does both"
    );
    ENGINE.lock().unwrap_or_else(|e| e.into_inner())
}

fn docker(args: &[&str]) -> String {
    let out = Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs");
    assert!(
        out.status.success(),
        "docker {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// Containers whose name starts with `prefix`, running or not.
fn containers(prefix: &str) -> String {
    docker(&[
        "ps",
        "--all",
        "--filter",
        &format!("name={prefix}"),
        "--format",
        "{{.Names}}",
    ])
}

/// run_docker.sh as `envload experiment` starts a command deployment.
fn start_server(image: &str, port: u16, env: &[(&str, &str)]) -> Deployed {
    let mut vars: BTreeMap<String, String> = [
        ("PORT", port.to_string()),
        ("HOST", "127.0.0.1".into()),
        ("IMAGE", image.into()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    for (k, v) in env {
        vars.insert(k.to_string(), v.to_string());
    }
    let script = repo().join("deploy/docker/run_docker.sh");
    // Removed when this returns (the server writes on to the unlinked file).
    let log = support::out_file(&format!("docker-{port}"), "log");
    let mut d = Deployed::start(&format!("exec '{}'", script.display()), &vars, &log)
        .unwrap_or_else(|e| panic!("{e}"));
    d.wait_ready(
        &format!("http://127.0.0.1:{port}"),
        Duration::from_secs(600),
        &log,
        &envload_coordinator::Shutdown::never(),
    )
    .unwrap_or_else(|e| panic!("run_docker.sh: {e}"));
    std::thread::sleep(Duration::from_secs(2)); // every uvicorn worker up
    d
}

fn run_ok(args: &[&str]) -> support::OutDir {
    let dir = out_dir(&format!(
        "docker-{}",
        args.join("-").replace(['/', ':'], "_")
    ));
    let mut all = args.to_vec();
    all.extend(["-o", dir.to_str().unwrap()]);
    let out = run(&all);
    assert!(out.status.success(), "{all:?}: {:?}", text(&out));
    dir
}

#[test]
#[ignore = "needs a container engine and the base images (deploy/docker/engine.sh, base_images.sh); bash .ci/run provides them"]
fn local_docker_serves_both_modes_refuses_past_capacity_and_stops_clean() {
    let _engine = engine();
    let image = "envload-test-openenv-server";
    let port = support::free_port();
    let url = format!("http://127.0.0.1:{port}");
    {
        let _server = start_server(
            image,
            port,
            &[("WORKERS", "2"), ("MAX_CONCURRENT_ENVS", "1000")],
        );
        for mode in ["ws", "http"] {
            let dir = run_ok(&["run", "-u", &url, "-m", mode, "-n", "64", "-w", "0.3"]);
            let rows = csv_rows(&dir);
            assert_eq!(col(&rows[0], &rows[1], "successful"), "64", "{mode}");
            assert_eq!(
                col(&rows[0], &rows[1], "unique_pids"),
                "2",
                "{mode}: both workers"
            );
        }
    }
    // Stopping the script stopped and removed the container.
    assert_eq!(containers(&format!("envload-openenv-{port}")), "");
    // Capacity: one worker, four sessions.
    let port = support::free_port();
    let url = format!("http://127.0.0.1:{port}");
    {
        let _server = start_server(
            image,
            port,
            &[
                ("WORKERS", "1"),
                ("MAX_CONCURRENT_ENVS", "4"),
                ("NO_BUILD", "1"),
            ],
        );
        let dir = run_ok(&["run", "-u", &url, "-n", "8", "-w", "1.0"]);
        let refused = raw_lines(&dir)
            .iter()
            .filter(|l| l["error_type"] == "CapacityReached")
            .count();
        assert_eq!(refused, 4, "four sessions over MAX_CONCURRENT_ENVS=4");
    }
    assert_eq!(containers(&format!("envload-openenv-{port}")), "");
    docker(&["rmi", image]);
}

#[test]
#[ignore = "needs a container engine and the base images (deploy/docker/engine.sh, base_images.sh); bash .ci/run provides them"]
fn the_shipped_matrix_local_docker_entry_runs_as_written() {
    let _engine = engine();
    // The shipped entry unchanged; only the grid is made small.
    let shipped = std::fs::read_to_string(repo().join("experiments/config/matrix.toml")).unwrap();
    let entry_start = shipped
        .find("[[infrastructure]]\nid = \"local-docker\"")
        .unwrap();
    let entry_end = shipped[entry_start + 1..]
        .find("[[infrastructure]]")
        .map_or(shipped.len(), |i| entry_start + 1 + i);
    let entry = &shipped[entry_start..entry_end];
    let entry: String = entry
        .lines()
        .take_while(|l| !l.starts_with("[infrastructure.grid]"))
        .map(|l| format!("{l}\n"))
        .collect();
    let dir = out_dir("docker-matrix");
    std::fs::create_dir_all(&dir).unwrap();
    let matrix = dir.join("matrix.toml");
    std::fs::write(
        &matrix,
        format!("[grid]\nmodes = [\"ws\"]\nrequests = [32]\nwaits = [0.1]\n\n{entry}"),
    )
    .unwrap();
    let results = dir.join("results");
    let out = Command::new(support::envload())
        .current_dir(repo())
        .args([
            "experiment",
            "--matrix",
            matrix.to_str().unwrap(),
            "--infrastructure",
            "local-docker",
            "--results",
            results.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{:?}", text(&out));
    let day = chrono::Utc::now().format("%Y-%m-%d").to_string();
    let rows = csv_rows(&results.join("local-docker").join(day));
    assert_eq!(col(&rows[0], &rows[1], "successful"), "32");
    assert_eq!(
        containers("envload-openenv-8012"),
        "",
        "the experiment stopped it"
    );
    docker(&["rmi", "envload-openenv-server"]);
}

#[test]
#[ignore = "needs a container engine and the base images (deploy/docker/engine.sh, base_images.sh); bash .ci/run provides them"]
fn an_agent_in_envloads_image_joins_a_coordinator_on_the_host() {
    let _engine = engine();
    // envload's image from this build's binary (the host-binary stage).
    let ctx = out_dir("docker-image-ctx");
    std::fs::create_dir_all(&ctx).unwrap();
    let status = Command::new("strip")
        .args([
            "-o",
            ctx.join("envload").to_str().unwrap(),
            &support::envload(),
        ])
        .status()
        .unwrap();
    assert!(status.success());
    let image = "envload-test-image";
    let dockerfile = repo().join("deploy/docker/Dockerfile");
    docker(&[
        "build",
        "--quiet",
        "-f",
        dockerfile.to_str().unwrap(),
        "--target",
        "host-binary",
        "-t",
        image,
        ctx.to_str().unwrap(),
    ]);
    assert_eq!(
        docker(&["run", "--rm", "--entrypoint", "id", image, "-u"]),
        "10001",
        "non-root"
    );

    let s = Server::start(&["--workers", "1"]);
    let dir = out_dir("docker-agent");
    let (mut c, url) = coordinator(
        &[
            "--agents",
            "1",
            "-u",
            &s.url,
            "-n",
            "20",
            "-w",
            "0.1",
            "-o",
            dir.to_str().unwrap(),
        ],
        &[],
    );
    let name = "envload-test-agent";
    let mut agent = Command::new("docker");
    agent
        .args([
            "run",
            "--rm",
            "--init",
            "--network",
            "host",
            "--name",
            name,
            image,
        ])
        .args(agent_cmd(&url, "in-a-container"));
    let agent_out = agent.output().unwrap();
    let (status, out) = c.finish(Duration::from_secs(60));
    assert!(
        status.success(),
        "{out}\nagent: {}",
        String::from_utf8_lossy(&agent_out.stderr)
    );
    assert!(
        agent_out.status.success(),
        "the agent exits 0 after Shutdown"
    );
    let rows = csv_rows(&dir);
    assert_eq!(col(&rows[0], &rows[1], "successful"), "20");
    let rj = support::run_json(&dir);
    assert_eq!(rj["agents"][0]["name"], "in-a-container");
    assert_eq!(containers(name), "");
    docker(&["rmi", image]);
}

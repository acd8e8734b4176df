//! The protocol steps beyond reset/step against the real Python OpenEnv
//! servers, openenv-core 0.3.0 and openenv 0.10.0 from PyPI under uvicorn:
//! `state` over WebSocket and HTTP (deploy/local's benchmark environment),
//! MCP over `/mcp` and `POST /mcp` sessions (its MCP tool environment), a
//! -32000 capacity refusal counted as `CapacityReached`, and HTTP MCP
//! sessions left unclosed keeping their slots (neither version sets an idle
//! timeout by default). What these measure is the README's
//! protocol-support table.

use crate::support;
use crate::uvicorn::{venv, Uvicorn};

use support::{error_types, last_summary, run_to};

fn every_protocol_step(package: &str, tag: &str) {
    let py = venv(package);
    // state over WebSocket and HTTP, on the benchmark environment.
    let bench = Uvicorn::start_app(&py, "benchmark_env:app", 1, 100);
    for mode in ["ws", "http"] {
        let dir = run_to(
            &format!("pyproto-{tag}-state-{mode}"),
            &bench.url,
            &[
                "-m",
                mode,
                "-n",
                "4",
                "-w",
                "0.05",
                "--steps",
                "2",
                "--state-every",
                "1",
            ],
        );
        assert_eq!(last_summary(&dir, "successful"), "4", "{package} {mode}");
        assert!(
            !last_summary(&dir, "state_p50").is_empty(),
            "{package} {mode}"
        );
    }
    drop(bench);

    // MCP sessions on the tool environment, three slots.
    let tools = Uvicorn::start_app(&py, "mcp_env:app", 1, 3);
    for mode in ["mcp-ws", "mcp-http"] {
        let dir = run_to(
            &format!("pyproto-{tag}-{mode}"),
            &tools.url,
            &[
                "-m",
                mode,
                "-n",
                "3",
                "-w",
                "0.05",
                "--steps",
                "3",
                "--episodes",
                "2",
            ],
        );
        assert_eq!(last_summary(&dir, "successful"), "3", "{package} {mode}");
        let p50: f64 = last_summary(&dir, "mcp_p50").parse().unwrap();
        assert!(p50 >= 0.05, "{package} {mode}: the tool waited, p50 {p50}");
        // At capacity: two of five refused with -32000.
        let dir = run_to(
            &format!("pyproto-{tag}-{mode}-full"),
            &tools.url,
            &["-m", mode, "-n", "5", "-w", "0.5", "--steps", "1"],
        );
        assert_eq!(
            error_types(&dir),
            ["CapacityReached", "CapacityReached"],
            "{package} {mode}"
        );
    }
    // HTTP MCP sessions never closed keep their slots: the probe right
    // after finds exactly as many gone.
    let dir = run_to(
        &format!("pyproto-{tag}-unclosed"),
        &tools.url,
        &[
            "-m",
            "mcp-http",
            "-n",
            "3",
            "-w",
            "0.05",
            "--abort",
            "0.5",
            "--seed",
            "1",
            "--leak-probe",
            "3",
        ],
    );
    crate::protocol::unclosed_and_leaked(&dir);
}

#[test]
fn every_protocol_step_on_openenv_core_0_3_0() {
    every_protocol_step("openenv-core==0.3.0", "030");
}

#[test]
fn every_protocol_step_on_openenv_0_10_0() {
    every_protocol_step("openenv==0.10.0", "0100");
}

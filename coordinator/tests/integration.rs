//! envload's integration tests, one binary of modules (ripgrep's
//! `tests/tests.rs`): real `envload` processes, real servers on loopback,
//! real sockets, sharing the helpers in `support`. Tests that need the Slurm
//! test cluster or HAProxy are `#[ignore]` with the reason; `bash .ci/run`
//! provides both and runs them with `--ignored`.

mod support;

mod architecture;
mod arrival;
mod bad_input;
mod ceiling;
mod conformance;
mod containers;
mod coordinator_link;
mod distributed;
mod distributions;
mod experiment;
mod experiment_log;
mod faults;
mod haproxy;
mod headers;
mod hostile;
mod http_sessions;
mod k8s;
mod keepalive;
mod lab_delay;
mod output_contract;
mod partitions;
mod prometheus;
mod protocol;
mod protocol_python;
mod record_replay;
mod reference_matrix;
mod report;
mod report_figures;
mod rollout;
mod rollout_python;
mod run_e2e;
mod signals;
mod slurm;
mod thresholds;
mod timeseries;
mod tls;
mod uvicorn;
mod web;

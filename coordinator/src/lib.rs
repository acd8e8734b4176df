//! envload's coordinator and the `envload` binary. `cmd` is the command
//! line (one module per subcommand); below it the engine: a validated
//! [`config::RunConfig`] is launched (`launch`: one start-up path for every
//! command) and expands into phases (`plan`), each run through a
//! [`driver::PhaseDriver`] — the in-process agent, local agent processes or
//! remote agents (`run_driver`, `fleet`) — and recorded (`recorder`)
//! through the result format's writers (`envload-results`); `envload
//! report` is the `envload-report` crate. See docs/ARCHITECTURE.md.

mod ceiling;
mod cmd;
mod config;
mod console;
mod cpu;
mod driver;
mod embedded;
mod endpoint;
mod error;
mod experiment;
mod fleet;
mod lab_delay;
mod launch;
mod metrics;
mod phases;
mod plan;
mod progress;
mod proxy;
mod recorder;
mod run_driver;
mod scenario;
mod shutdown;
mod timeseries;
mod values;
mod web;

pub use cmd::main_with;
pub use envload_results::write::raw_jsonl::KEYS as RAW_JSONL_KEYS;
pub use envload_results::COLUMNS as SUMMARY_COLUMNS;
pub use error::UsageError;
/// What the tests and benches use of the inside: the `command` deployment
/// `envload experiment` starts servers with, the result files' key and
/// column orders they pin, and a shutdown that never comes.
pub use experiment::deployed::Deployed;
pub use shutdown::Shutdown;

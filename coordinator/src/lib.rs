//! envload's coordinator and the `envload` binary. `cmd` is the command
//! line (one module per subcommand); below it the engine: a validated
//! [`config::RunConfig`] expands into phases (`plan`), each run through a
//! [`driver::PhaseDriver`] — the in-process agent or a fleet of remote ones
//! (`fleet`) — summarised (`summary`) and written by one writer per format
//! (`output`, driven by `recorder`), with `report` turning result folders
//! into tables, figures and the experiment log. See docs/ARCHITECTURE.md.

mod ceiling;
mod cmd;
mod config;
mod console;
mod cpu;
mod driver;
mod embedded;
mod error;
mod experiment;
mod fleet;
mod local_driver;
mod metrics;
mod output;
mod phases;
mod plan;
mod progress;
mod recorder;
mod report;
mod result;
mod scenario;
mod shutdown;
mod single_host;
mod summary;
mod values;

pub use cmd::main_with;
pub use error::UsageError;
/// What the tests and benches use of the inside: the `command` deployment
/// `envload experiment` starts servers with, the result files' key and
/// column orders they pin, and a shutdown that never comes.
pub use experiment::deployed::Deployed;
pub use output::raw_jsonl::KEYS as RAW_JSONL_KEYS;
pub use shutdown::Shutdown;
pub use summary::COLUMNS as SUMMARY_COLUMNS;

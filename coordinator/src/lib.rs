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
mod driver;
mod embedded;
mod error;
pub mod experiment;
mod fleet;
mod local_driver;
pub mod output;
mod phases;
mod plan;
mod progress;
mod recorder;
mod report;
mod result;
pub mod shutdown;
mod single_host;
pub mod summary;
mod values;

pub use cmd::main_with;
pub use error::UsageError;

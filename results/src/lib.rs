//! envload's result format, the one contract between the engine that
//! writes results and the report that reads them (as `console-api` is
//! tokio-console's): the result model ([`model`]: session → phase → run),
//! which phase a result is of ([`phase`]), `summary.csv`'s row and columns
//! ([`summary`], read back by [`folder`], files named by [`files`]), `run.json` as one type written
//! and read ([`run_doc`]), the writers ([`write`]), number formats
//! ([`numfmt`]) and the service-level rule ([`slo`]) the engine's `--slo`,
//! `ceiling` and the report judge by.

pub mod files;
pub mod folder;
pub mod model;
pub mod numfmt;
pub mod phase;
pub mod run_doc;
pub mod series;
pub mod slo;
pub mod summary;
pub mod write;

pub use model::{PhaseOutcome, PhaseResult};
pub use phase::Phase;
pub use run_doc::RunDoc;
pub use summary::{SummaryRow, COLUMNS};

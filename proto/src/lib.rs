//! envload's wire contract.
//!
//! Today it holds the one conversion every side shares: latency histograms to
//! and from HdrHistogram V2+DEFLATE bytes, the interoperable encoding that
//! other HdrHistogram implementations read. The gRPC contract (`envload.v1`)
//! joins it when agents run as remote processes.

pub mod histogram;

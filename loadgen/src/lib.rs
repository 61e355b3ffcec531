//! `icegate-loadgen`: drives OTLP load at IceGate (or any collector) for capacity planning.
//!
//! - [`spec::LoadSpec`]: what to send — signal, dataset, protocol (OTLP/gRPC, OTLP/HTTP
//!   protobuf or JSON, NDJSON), records per request, concurrency and connections, target rate
//!   or as fast as possible, duration or record count, gzip.
//! - [`payload`]: requests are generated before the run from `icegate-datasets` and only
//!   copied and stamped with a request id while sending, so the sender is cheap.
//! - [`run::run`]: the workers, open-loop pacing, retries of pushed-back requests, HDR
//!   latency histograms measured from each request's intended send time.
//! - [`report::Report`]: the JSON report; [`verify`] reads the table back and checks it holds
//!   exactly the acknowledged records; [`capacity`] turns measured figures into cores,
//!   storage and monthly cost.

pub mod capacity;
pub mod payload;
pub mod report;
pub mod run;
pub mod sender;
pub mod spec;
pub mod verify;

pub use report::Report;
pub use run::{RequestLog, RunOutcome, run};
pub use spec::{LoadSpec, Protocol, Signal};

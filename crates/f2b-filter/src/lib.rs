//! fail2ban filter engine: Python-`re` translation, fail2ban's regex tags, failregex/ignoreregex
//! evaluation with prefregex, multi-line buffering and the mlfid connection cache.
//!
//! Deliberately free of I/O and of the clock: lines come in as `&str`, "now" comes in as a value,
//! DNS lookups go through a caller-supplied [`ipdns::Resolver`].
pub mod date;
pub mod pyre;
pub mod faildata;
pub mod failregex;
pub mod filter;
pub mod ipdns;
pub mod literals;
pub mod mlfid;
pub mod tags;

pub use faildata::{FailData, Value};
pub use filter::{Failure, Filter, FilterError, FilterOptions, LineOutcome};
pub use ipdns::{IpAddr, Resolver};
pub use tags::UseDns;

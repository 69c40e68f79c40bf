//! fail2ban filter engine: Python-`re` translation, fail2ban's regex tags, failregex/ignoreregex
//! evaluation with prefregex, multi-line buffering and the mlfid connection cache.
//!
//! Deliberately free of I/O and of the clock: lines come in as `&str`, "now" comes in as a value,
//! DNS lookups go through a caller-supplied [`ipdns::Resolver`].
pub mod date;
pub mod pyre;

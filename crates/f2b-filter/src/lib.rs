//! fail2ban filter engine: Python-`re` translation ([`pyre`]), fail2ban's regex tags ([`tags`]),
//! failregex/ignoreregex evaluation with prefregex content, multi-line buffering, the mlfid
//! connection cache and failure-id normalisation ([`filter`], [`ipdns`]), with the date detector
//! in [`date`].
//!
//! Deliberately free of I/O and of the clock: lines come in as `&str`, "now" comes in as a value,
//! DNS lookups go through a caller-supplied [`ipdns::Resolver`]. It does not count failures or
//! ban anything (that is the server's failmanager), and it does not read files or the journal.
//!
//! Speed: lines that lack a literal every regex needs are skipped before the date detector runs
//! ([`literals`]); lines whose prefregex content no failregex can match are decided without
//! capturing groups; in single-line mode a line no failregex matches allocates nothing.
pub mod date;
pub mod faildata;
pub mod failregex;
pub mod filter;
pub mod ipdns;
pub mod literals;
pub mod mlfid;
pub mod pyre;
pub mod tags;

pub use faildata::{FailData, Value};
pub use filter::{Failure, Filter, FilterError, FilterOptions, LineOutcome};
pub use ipdns::{IpAddr, Resolver};
pub use tags::UseDns;

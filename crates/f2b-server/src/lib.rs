//! The f2b daemon: per-jail pipelines (backend -> filter -> failure counter -> ban manager ->
//! actions), the control-socket command set, fail2ban-format logging, and process plumbing.
//!
//! It does not parse configuration text (it receives resolved specs from `f2b-config`) and does
//! not evaluate regexes itself (that is `f2b-filter`).
pub mod daemon;
pub mod ignore;
pub mod jail;
pub mod logging;
pub mod server;
pub mod stages;
pub mod transmitter;
pub mod banmanager;
pub mod failmanager;
pub mod ticket;
pub mod database;
pub mod observer;
pub mod actions;
pub mod ipaddr;

//! The f2b daemon: per-jail pipelines (backend -> filter -> failure counter -> ban manager ->
//! actions), the control-socket command set, fail2ban-format logging, and process plumbing.
//!
//! - [`daemon`]: fail2ban-server's command line, pidfile, background mode, signals, main loop.
//! - [`server`]: the set of jails, started from the configuration, reloaded, stopped.
//! - [`jail`]: one jail at work: a reader thread (source, filter, failure counter; no lock per
//!   line) and an action worker (ban manager, actions, unban timer).
//! - [`stages`]: the real stages of a jail (f2b-backend sources, f2b-filter, shell actions,
//!   database, `bantime.increment`).
//! - [`transmitter`]: fail2ban's command set and reply shapes over the protocol handler.
//! - [`logging`]: fail2ban's log layout on file, stdout/stderr, syslog or the journal.
//! - [`ignore`]: `ignoreip`, `ignoreself`, `ignorecommand`, `ignorecache`; [`dns`]: host-name
//!   lookups for `usedns`.
//! - core: [`failmanager`], [`banmanager`], [`ticket`], [`observer`], [`actions`], [`database`].
//!
//! It does not parse configuration text (it receives resolved specs from `f2b-config`) and does
//! not evaluate regexes itself (that is `f2b-filter`).
pub mod actions;
pub mod banmanager;
pub mod daemon;
pub mod database;
pub mod dns;
pub mod failmanager;
pub mod ignore;
pub mod ipaddr;
pub mod jail;
pub mod logging;
pub mod observer;
pub mod server;
pub mod stages;
pub mod ticket;
pub mod transmitter;

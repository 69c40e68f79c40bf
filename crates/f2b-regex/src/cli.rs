//! fail2ban-regex's command line.

use clap::{ArgAction, Parser};

#[derive(Parser, Debug, Clone)]
#[command(
    name = "f2b-regex",
    disable_version_flag = true,
    about = "Test fail2ban filters (failregex/ignoreregex) against log files or lines",
    override_usage = "f2b-regex [OPTIONS] <LOG> <REGEX> [IGNOREREGEX]"
)]
pub struct Cli {
    /// set alternate config directory
    #[arg(short = 'c', long = "config", default_value = "/etc/fail2ban")]
    pub config: String,
    /// set custom pattern used to match date/times
    #[arg(short = 'd', long = "datepattern", allow_hyphen_values = true)]
    pub datepattern: Option<String>,
    /// set time-zone used by convert time format
    #[arg(long = "timezone", visible_alias = "TZ")]
    pub timezone: Option<String>,
    /// File encoding. Default: system locale
    #[arg(short = 'e', long = "encoding")]
    pub encoding: Option<String>,
    /// Raw hosts, don't resolve dns
    #[arg(short = 'r', long = "raw")]
    pub raw: bool,
    /// DNS specified replacement of tags <HOST> in regexp ('yes', 'no', 'warn', 'raw')
    #[arg(long = "usedns")]
    pub usedns: Option<String>,
    /// maxlines for multi-line regex
    #[arg(short = 'L', long = "maxlines", default_value_t = 0)]
    pub maxlines: usize,
    /// journalctl style matches overriding filter file. "systemd-journal" only
    #[arg(short = 'm', long = "journalmatch")]
    pub journalmatch: Option<String>,
    /// Log level for the Fail2Ban logger to use
    #[arg(short = 'l', long = "log-level", default_value = "critical")]
    pub log_level: String,
    /// get version in machine-readable short format
    #[arg(short = 'V')]
    pub short_version: bool,
    /// show program's version number and exit
    #[arg(long = "version")]
    pub version: bool,
    /// Increase verbosity
    #[arg(short = 'v', long = "verbose", action = ArgAction::Count)]
    pub verbose: u8,
    /// Set numerical level of verbosity (0..4)
    #[arg(long = "verbosity")]
    pub verbosity: Option<u8>,
    /// Verbose date patterns/regex in output
    #[arg(long = "verbose-date", visible_alias = "VD")]
    pub verbose_date: bool,
    /// Produce debuggex.com urls for debugging there
    #[arg(short = 'D', long = "debuggex")]
    pub debuggex: bool,
    /// Disable check for all regex's
    #[arg(long = "no-check-all")]
    pub no_check_all: bool,
    /// Set token to print failure information only (row, id, ip, msg, host, ip4, ip6, dns, matches, ...)
    #[arg(short = 'o', long = "out", allow_hyphen_values = true)]
    pub out: Option<String>,
    /// Do not print any missed lines
    #[arg(long = "print-no-missed")]
    pub print_no_missed: bool,
    /// Do not print any ignored lines
    #[arg(long = "print-no-ignored")]
    pub print_no_ignored: bool,
    /// Print all matched lines
    #[arg(long = "print-all-matched")]
    pub print_all_matched: bool,
    /// Print all missed lines, no matter how many
    #[arg(long = "print-all-missed")]
    pub print_all_missed: bool,
    /// Print all ignored lines, no matter how many
    #[arg(long = "print-all-ignored")]
    pub print_all_ignored: bool,
    /// Enrich log-messages with compressed tracebacks
    #[arg(short = 't', long = "log-traceback")]
    pub log_traceback: bool,
    /// Either to make the tracebacks full, not compressed (as by default)
    #[arg(long = "full-traceback")]
    pub full_traceback: bool,
    /// LOG, REGEX and optional IGNOREREGEX
    #[arg(allow_hyphen_values = true)]
    pub args: Vec<String>,
}

impl Cli {
    pub fn verbosity(&self) -> u8 {
        self.verbosity.unwrap_or(self.verbose)
    }
}

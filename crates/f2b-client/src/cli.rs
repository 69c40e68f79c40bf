//! fail2ban-client's command line: getopt-style options, then the command words.
//!
//! Like Python's `getopt`, option parsing stops at the first word that is not an option, so
//! everything after the command (even words starting with `-`) belongs to the command.

use std::path::PathBuf;

use clap::{ArgAction, Parser};

#[derive(Debug, Parser)]
#[command(
    name = "f2b-client",
    disable_help_flag = true,
    disable_version_flag = true,
    args_override_self = true,
    infer_long_args = true
)]
pub struct Cli {
    #[arg(short = 'c', long = "conf")]
    pub conf: Option<PathBuf>,
    #[arg(short = 's', long = "socket")]
    pub socket: Option<PathBuf>,
    #[arg(short = 'p', long = "pidfile")]
    pub pidfile: Option<PathBuf>,
    #[arg(long)]
    pub pname: Option<String>,
    #[arg(long)]
    pub loglevel: Option<String>,
    #[arg(long)]
    pub logtarget: Option<String>,
    #[arg(long)]
    pub syslogsocket: Option<String>,
    #[arg(short = 'd', action = ArgAction::SetTrue)]
    pub dump: bool,
    #[arg(long = "dp", alias = "dump-pretty", action = ArgAction::SetTrue)]
    pub dump_pretty: bool,
    #[arg(short = 't', long = "test", action = ArgAction::SetTrue)]
    pub test: bool,
    #[arg(short = 'i', action = ArgAction::SetTrue)]
    pub interactive: bool,
    #[arg(short = 'v', action = ArgAction::Count)]
    pub verbose: u8,
    #[arg(short = 'q', action = ArgAction::Count)]
    pub quiet: u8,
    #[arg(short = 'x', action = ArgAction::SetTrue)]
    pub force: bool,
    /// `-b` (background, the default) and `-f` (foreground): the last one given wins.
    #[arg(short = 'b', action = ArgAction::SetTrue, overrides_with = "foreground")]
    pub background: bool,
    #[arg(short = 'f', action = ArgAction::SetTrue, overrides_with = "background")]
    pub foreground: bool,
    #[arg(long = "async", action = ArgAction::SetTrue)]
    pub async_: bool,
    #[arg(long)]
    pub timeout: Option<String>,
    #[arg(long)]
    pub str2sec: Option<String>,
    #[arg(short = 'h', long = "help", action = ArgAction::SetTrue)]
    pub help: bool,
    #[arg(short = 'V', action = ArgAction::SetTrue)]
    pub short_version: bool,
    #[arg(long = "version", action = ArgAction::SetTrue)]
    pub long_version: bool,
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

impl Cli {
    /// fail2ban's verbosity: 1, plus one per `-v`, minus one per `-q`.
    pub fn verbosity(&self) -> i32 {
        1 + self.verbose as i32 - self.quiet as i32
    }
}

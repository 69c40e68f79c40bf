//! f2b-client: fail2ban-client's command line, messages and exit codes, over the control
//! socket of f2b-server (or of fail2ban-server: the protocol is the same).
//!
//! It holds no daemon logic: it parses the command line, reads the configuration only where
//! fail2ban-client does (`-d`, `-t`, `start`, `reload`, and for the socket path), talks to
//! the server and prints replies through the beautifier of `f2b-protocol`.

mod cli;
mod client;
mod log;
mod pprint;
mod signals;
mod stream;
mod visualwait;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Parser;
use f2b_protocol::value::py_float_repr;

use cli::Cli;
use client::Client;
use log::Logger;

/// The fail2ban release whose client this one reproduces (`-V`, `--version`).
const FAIL2BAN_VERSION: &str = "1.0.2";
const DEFAULT_CONF: &str = "/etc/fail2ban";
const DEFAULT_SOCKET: &str = "/var/run/fail2ban/fail2ban.sock";
const DEFAULT_PIDFILE: &str = "/var/run/fail2ban/fail2ban.pid";
/// How long `start`/`restart` wait for the server by default (`--timeout`).
const DEFAULT_WAIT: Duration = Duration::from_secs(30);
/// fail2ban-client's usage text after its first line.
const USAGE: &str = include_str!("usage.txt");

/// Exit status of every failure, as fail2ban-client.
const FAILURE: i32 = 255;

fn main() {
    signals::install_handlers();
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let code = run(&args);
    let _ = std::io::stdout().flush();
    std::process::exit(code);
}

/// Prints one line on stdout; a closed pipe is not an error (fail2ban ignores EPIPE too).
fn output(text: &str) {
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(text.as_bytes());
    let _ = out.write_all(b"\n");
}

fn usage(caller: &str) {
    output(&format!("Usage: {caller} [OPTIONS] <COMMAND>"));
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(USAGE.as_bytes());
}

fn run(args: &[String]) -> i32 {
    let caller = args
        .first()
        .map(|a| {
            Path::new(a)
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        })
        .unwrap_or_else(|| "f2b-client".into());
    let cli = match Cli::try_parse_from(args) {
        // Options end at the first plain word; a word starting with '-' before it is an
        // option we do not know.
        Ok(c)
            if !c
                .command
                .first()
                .is_some_and(|w| w.starts_with('-') && w.len() > 1) =>
        {
            c
        }
        // A bad option: fail2ban prints its usage on stdout and fails.
        _ => {
            usage(&caller);
            // Logging is not set up yet at this point in fail2ban-client: the bare message.
            eprintln!("Init of command line failed");
            return FAILURE;
        }
    };
    if cli.help {
        usage(&caller);
        return 0;
    }
    if cli.short_version {
        output(FAIL2BAN_VERSION);
        return 0;
    }
    if cli.long_version {
        output(&format!("Fail2Ban v{FAIL2BAN_VERSION}"));
        return 0;
    }
    if let Some(s) = &cli.str2sec {
        return match f2b_config::parse_time(s) {
            Ok(secs) if secs.fract() == 0.0 && secs.abs() < 1e18 => {
                output(&format!("{}", secs as i64));
                0
            }
            Ok(secs) => {
                output(&py_float_repr(secs));
                0
            }
            Err(e) => {
                output(&format!("ERROR: {e}"));
                FAILURE
            }
        };
    }
    let log = Logger {
        verbose: cli.verbosity(),
    };
    let conf = cli
        .conf
        .clone()
        .unwrap_or_else(|| PathBuf::from(DEFAULT_CONF));
    if !conf.is_dir() {
        output(&format!(
            "ERROR: Base configuration directory {} does not exist ",
            conf.display()
        ));
        log.error("Init of command line failed");
        return FAILURE;
    }
    let timeout = match cli.timeout.as_deref().map(f2b_config::parse_time) {
        None => DEFAULT_WAIT,
        Some(Ok(secs)) if secs.is_finite() && secs >= 0.0 => Duration::from_secs_f64(secs),
        Some(_) => {
            output("ERROR: invalid --timeout value");
            return FAILURE;
        }
    };
    let mut client = Client {
        conf,
        socket: cli.socket.clone().unwrap_or_default(),
        pidfile: cli.pidfile.clone().unwrap_or_default(),
        force: cli.force,
        foreground: cli.foreground,
        timeout,
        log,
        config: None,
        server_options: [
            ("loglevel", &cli.loglevel),
            ("logtarget", &cli.logtarget),
            ("syslogsocket", &cli.syslogsocket),
        ]
        .into_iter()
        .filter_map(|(name, v)| v.clone().map(|v| (name, v)))
        .collect(),
        errors_reported: false,
        interactive: false,
    };
    // The pid file only matters to `start`, which resolves it then.
    if cli.socket.is_none() {
        if let Err(e) = client.early_options(true, false) {
            output(&format!("ERROR: {e}"));
            log.error("Init of command line failed");
            return FAILURE;
        }
    }
    log.info(&format!("Using socket file {}", client.socket.display()));

    if cli.dump || cli.dump_pretty {
        let ok = client.dump(cli.dump_pretty && !cli.dump);
        if !cli.test {
            return if ok { 0 } else { FAILURE };
        }
    }
    if cli.test {
        if !client.test_config(cli.dump || cli.dump_pretty) {
            log.error("ERROR: test configuration failed");
            return FAILURE;
        }
        if cli.command.is_empty() {
            output("OK: configuration test is successful");
            return 0;
        }
    }
    if cli.interactive {
        client.interactive = true;
        return client.interactive(&caller, cli.command.clone());
    }
    if cli.command.is_empty() {
        usage(&caller);
        return FAILURE;
    }
    if client.process_command(cli.command.clone()) {
        0
    } else {
        FAILURE
    }
}

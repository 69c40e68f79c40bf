//! f2b-client: fail2ban-client's command line, messages and exit codes, over the control
//! socket of f2b-server (or of fail2ban-server: the protocol is the same).
//!
//! It holds no daemon logic: it parses the command line, reads the configuration only where
//! fail2ban-client does (`-d`, `-t`, `start`, `reload`, and for the socket path), talks to
//! the server and prints replies through the beautifier of `f2b-protocol`.

mod cli;
mod log;
mod pprint;
mod shlex;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Parser;
use f2b_config::{ConfigError, LoadedConfig};
use f2b_protocol::beautifier::{beautify_error, try_beautify};
use f2b_protocol::client::{ClientError, Connection};
use f2b_protocol::value::py_float_repr;
use f2b_protocol::Value;

use cli::Cli;
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

/// SIGINT/SIGTERM end the client as fail2ban-client's handler does: a newline (the wait
/// indicator may be mid-line), a warning, exit status 255. Only async-signal-safe calls.
/// The foreground server (`start -f`) our signals are handed to, 0 when none.
static FOREGROUND_SERVER: std::sync::atomic::AtomicI32 = std::sync::atomic::AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    let child = FOREGROUND_SERVER.load(std::sync::atomic::Ordering::SeqCst);
    if child > 0 {
        // The server decides how to stop; we follow when it exits.
        // SAFETY: kill(2) is async-signal-safe.
        unsafe { libc::kill(child, sig) };
        return;
    }
    const HEAD: &[u8] = b"WARNING Caught signal ";
    const TAIL: &[u8] = b". Exiting\n";
    let mut buf = [0u8; 64];
    buf[..HEAD.len()].copy_from_slice(HEAD);
    let mut n = HEAD.len();
    if sig >= 10 {
        buf[n] = b'0' + ((sig / 10) % 10) as u8;
        n += 1;
    }
    buf[n] = b'0' + (sig % 10) as u8;
    n += 1;
    buf[n..n + TAIL.len()].copy_from_slice(TAIL);
    n += TAIL.len();
    // SAFETY: write(2) and _exit(2) are async-signal-safe; the buffers live on this stack.
    unsafe {
        libc::write(1, b"\n".as_ptr().cast(), 1);
        libc::write(2, buf.as_ptr().cast(), n);
        libc::_exit(FAILURE);
    }
}

fn install_signal_handlers() {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let action = SigAction::new(SigHandler::Handler(on_signal), SaFlags::empty(), SigSet::empty());
    for sig in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only makes async-signal-safe calls.
        let _ = unsafe { sigaction(sig, &action) };
    }
}

fn main() {
    install_signal_handlers();
    let args: Vec<String> = std::env::args_os().map(|a| a.to_string_lossy().into_owned()).collect();
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
        .map(|a| Path::new(a).file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default())
        .unwrap_or_else(|| "f2b-client".into());
    let cli = match Cli::try_parse_from(args) {
        // Options end at the first plain word; a word starting with '-' before it is an
        // option we do not know.
        Ok(c) if !c.command.first().is_some_and(|w| w.starts_with('-') && w.len() > 1) => c,
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
    let log = Logger { verbose: cli.verbosity() };
    let conf = cli.conf.clone().unwrap_or_else(|| PathBuf::from(DEFAULT_CONF));
    if !conf.is_dir() {
        output(&format!("ERROR: Base configuration directory {} does not exist ", conf.display()));
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
        server_options: [("loglevel", &cli.loglevel), ("logtarget", &cli.logtarget), ("syslogsocket", &cli.syslogsocket)]
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

/// The `-d` stream as values, in `f2b_config::dump_lines`' order (checked against it in the
/// tests): server settings, each jail's commands, then a `start` per jail that loaded.
fn dump_commands(cfg: &LoadedConfig) -> Vec<Value> {
    let mut out: Vec<Value> = cfg.server.iter().map(command_value).collect();
    for jail in &cfg.jails {
        out.extend(jail.commands.iter().map(command_value));
    }
    for jail in &cfg.jails {
        if jail.config_error().is_none() {
            out.push(Value::List(vec![Value::str("start"), Value::str(jail.name.as_str())]));
        }
    }
    out
}

/// The stream for reloading one jail: the server settings, then that jail (if enabled).
fn jail_stream(cfg: &LoadedConfig, name: &str) -> Vec<Value> {
    let mut out: Vec<Value> = cfg.server.iter().map(command_value).collect();
    if let Some(jail) = cfg.jails.iter().find(|j| j.name == name) {
        out.extend(jail.commands.iter().map(command_value));
        if jail.config_error().is_none() {
            out.push(Value::List(vec![Value::str("start"), Value::str(name)]));
        }
    }
    out
}

fn command_value(cmd: &f2b_config::Command) -> Value {
    Value::List(cmd.0.iter().map(config_value).collect())
}

fn config_value(v: &f2b_config::Value) -> Value {
    match v {
        f2b_config::Value::Str(s) => Value::Str(s.clone()),
        f2b_config::Value::Int(i) => Value::Int(*i),
        f2b_config::Value::Bool(b) => Value::Bool(*b),
        f2b_config::Value::None => Value::None,
        f2b_config::Value::List(items) => Value::List(items.iter().map(config_value).collect()),
        f2b_config::Value::Dict(pairs) => {
            Value::Dict(pairs.iter().map(|(k, v)| (Value::Str(k.clone()), config_value(v))).collect())
        }
    }
}

struct Client {
    conf: PathBuf,
    socket: PathBuf,
    pidfile: PathBuf,
    force: bool,
    foreground: bool,
    timeout: Duration,
    log: Logger,
    config: Option<(bool, Result<LoadedConfig, ConfigError>)>,
    /// `--loglevel`, `--logtarget`, `--syslogsocket` given to us, handed on to the server.
    server_options: Vec<(&'static str, String)>,
    /// Jail errors of the configuration are logged once, however often it is consulted.
    errors_reported: bool,
    /// `-i`: commands come from the prompt, and long operations announce their steps.
    interactive: bool,
}

fn words(cmd: &[String]) -> Vec<Value> {
    Value::words(cmd)
}

/// How Python prints an OSError: `[Errno 111] Connection refused`; a socket timeout is
/// "timed out".
fn py_os_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut => "timed out".into(),
        _ => match e.raw_os_error() {
            Some(code) => format!("[Errno {code}] {}", nix::errno::Errno::from_raw(code).desc()),
            None => e.to_string(),
        },
    }
}

impl Client {
    /// The configuration, read once per mode. `allow_no_files` (only `-d` uses it, as
    /// fail2ban-client) accepts jails whose log files do not exist; otherwise such a jail
    /// fails the whole read, as it would fail the server's start.
    fn load_config(&mut self, allow_no_files: bool) -> &Result<LoadedConfig, ConfigError> {
        if self.config.as_ref().is_some_and(|(mode, _)| *mode != allow_no_files) {
            self.config = None;
        }
        let conf = &self.conf;
        let opts = f2b_config::LoadOptions { allow_no_files, ..Default::default() };
        &self.config.get_or_insert_with(|| (allow_no_files, f2b_config::load_with(conf, opts))).1
    }

    /// The socket and pid file from fail2ban.conf when the command line does not give them.
    /// `Err` (the message fail2ban-client prints) when fail2ban.conf itself cannot be read;
    /// a broken jail file leaves the defaults in place, since fail2ban-client reads only
    /// fail2ban.conf at this point.
    fn early_options(&mut self, socket: bool, pidfile: bool) -> Result<(), String> {
        let log = self.log;
        let (s, p) = match self.load_config(true) {
            Ok(cfg) => (cfg.socket.clone(), cfg.pidfile.clone()),
            Err(e) => {
                let in_fail2ban_conf = match e {
                    ConfigError::Syntax { file, .. } | ConfigError::File { file, .. } => file
                        .file_name()
                        .is_some_and(|n| n.to_string_lossy().starts_with("fail2ban.")),
                    _ => false,
                };
                if in_fail2ban_conf {
                    return Err(e.to_string());
                }
                log.info(&format!("Using default socket and pid file: {e}"));
                (PathBuf::new(), PathBuf::new())
            }
        };
        if socket {
            self.socket = if s.as_os_str().is_empty() { PathBuf::from(DEFAULT_SOCKET) } else { s };
        }
        if pidfile {
            self.pidfile = if p.as_os_str().is_empty() { PathBuf::from(DEFAULT_PIDFILE) } else { p };
        }
        Ok(())
    }

    /// Reads the configuration as fail2ban-client does before sending it: fatal errors fail;
    /// broken jails are reported and skipped, and fail the read only when no jail loaded
    /// (or, `strict` for `-t`, when any is broken). `dump` (`-d`) accepts jails without log
    /// files. The configuration comes back even when the read failed, for `-d` to print.
    fn read_config(&mut self, strict: bool, dump: bool) -> (Option<LoadedConfig>, bool) {
        let log = self.log;
        let already = self.errors_reported;
        self.errors_reported = true;
        match self.load_config(dump) {
            Ok(cfg) => {
                if !already {
                    for e in &cfg.errors {
                        log.error(&e.to_string());
                    }
                }
                let broken = cfg.jails.iter().filter(|j| j.config_error().is_some()).count();
                let good = cfg.jails.len() - broken;
                let ok = if strict { broken == 0 } else { good > 0 || broken == 0 };
                (Some(cfg.clone()), ok)
            }
            Err(e) => {
                log.error(&format!("Failed during configuration: {e}"));
                (None, false)
            }
        }
    }

    fn dump(&mut self, pretty: bool) -> bool {
        let (cfg, ok) = self.read_config(false, true);
        match cfg {
            Some(cfg) if pretty => {
                for cmd in dump_commands(&cfg) {
                    output(&pprint::pformat(&cmd));
                }
            }
            Some(cfg) => {
                for line in f2b_config::dump_lines(&cfg) {
                    output(&line);
                }
            }
            None => output("ERROR: The configuration stream failed because of the invalid syntax."),
        }
        ok
    }

    /// `-t`; with `-d` too, fail2ban tests the configuration it read for the dump.
    fn test_config(&mut self, with_dump: bool) -> bool {
        self.read_config(true, with_dump).1
    }

    /// `-i`: a prompt reading commands until `exit`, `quit` or end of input.
    fn interactive(&mut self, caller: &str, first: Vec<String>) -> i32 {
        if !first.is_empty() && !self.process_command(first) {
            return FAILURE;
        }
        output(&format!("Fail2Ban v{FAIL2BAN_VERSION} reads log file that contains password failure report"));
        output("and bans the corresponding IP addresses using firewall rules.");
        output("");
        let stdin = std::io::stdin();
        loop {
            {
                let mut out = std::io::stdout().lock();
                let _ = out.write_all(b"fail2ban> ");
                let _ = out.flush();
            }
            let mut line = String::new();
            match stdin.read_line(&mut line) {
                Ok(0) | Err(_) => {
                    // End of input ends the session as a failure, as in fail2ban-client.
                    output("");
                    self.log.error("EOF when reading a line");
                    return FAILURE;
                }
                Ok(_) => {}
            }
            let line = line.strip_suffix('\n').unwrap_or(&line);
            match line {
                "exit" | "quit" => return 0,
                "help" => usage(caller),
                "" => {}
                _ => match shlex::split(line) {
                    Ok(words) if words.is_empty() => {}
                    Ok(words) => {
                        self.process_command(words);
                    }
                    Err(e) => self.log.error(&e.to_string()),
                },
            }
        }
    }

    fn process_command(&mut self, cmd: Vec<String>) -> bool {
        let first = cmd.first().map(String::as_str).unwrap_or("");
        match first {
            "start" if cmd.len() == 1 => self.start_server(),
            "restart" if cmd.len() > 1 => {
                let mut c = vec!["reload".to_owned(), "--restart".to_owned()];
                c.extend_from_slice(&cmd[1..]);
                self.process_command(c)
            }
            "restart" => {
                let old = self.server_pid();
                if self.interactive {
                    output("  ## stop ... ");
                }
                self.process_command(vec!["stop".into()]);
                if self.wait_on_server(false, None).is_err() || !self.wait_for_exit(old) {
                    self.log.error("Could not stop server");
                    return false;
                }
                if self.interactive {
                    // The configuration is read afresh by start.
                    output("  ## load configuration ... ");
                    self.config = None;
                    self.errors_reported = false;
                    output("  ## start ... ");
                }
                self.start_server()
            }
            "reload" => self.reload(cmd),
            "ping" if cmd.len() > 1 => match cmd[1].trim().parse::<f64>() {
                Ok(t) if t.is_finite() && t >= 0.0 => {
                    self.process_cmd(&[words(&cmd)], true, Some(Duration::from_secs_f64(t)))
                }
                _ => {
                    self.log.error(&format!("could not convert string to float: {}", f2b_protocol::value::py_repr_str(&cmd[1])));
                    false
                }
            },
            _ => self.process_cmd(&[words(&cmd)], true, None),
        }
    }

    fn reload(&mut self, mut cmd: Vec<String>) -> bool {
        let mut opts = Vec::new();
        while cmd.len() >= 2 {
            if matches!(cmd[1].as_str(), "--restart" | "--unban" | "--if-exists") {
                opts.push(Value::Str(cmd.remove(1)));
            } else {
                if cmd.len() > 2 {
                    let rest = Value::List(words(&cmd[1..]));
                    self.log.error(&format!("Unexpected argument(s) for reload: {}", rest.py_repr()));
                    return false;
                }
                break;
            }
        }
        if !self.ping(None) {
            self.log.error("Could not find server");
            return false;
        }
        let jail = if cmd.len() == 1 || cmd[1] == "--all" { "--all".to_owned() } else { cmd[1].clone() };
        self.config = None;
        self.errors_reported = false;
        if jail != "--all" && !self.jail_defined(&jail) {
            self.log.error(&format!("Failed during configuration: No section: {}", Value::Str(jail).py_repr()));
            return false;
        }
        let (cfg, ok) = self.read_config(false, false);
        let Some(cfg) = cfg.filter(|_| ok) else { return false };
        if self.interactive {
            output("  ## reload ... ");
        }
        // The stream fail2ban-client sends along: f2b-server rereads the configuration
        // itself, but fail2ban-server rebuilds the jails from it.
        let stream = if jail == "--all" {
            dump_commands(&cfg)
        } else {
            jail_stream(&cfg, &jail)
        };
        let req = vec![Value::str("reload"), Value::Str(jail), Value::List(opts), Value::List(stream)];
        self.process_cmd(&[req], true, None)
    }

    /// Whether the configuration has a section for `jail`, enabled or not.
    fn jail_defined(&self, jail: &str) -> bool {
        let opts = f2b_config::LoadOptions { allow_no_files: true, force_enable: true };
        match f2b_config::load_with(&self.conf, opts) {
            Ok(all) => all.jails.iter().any(|j| j.name == jail),
            // The regular read reports the error.
            Err(_) => true,
        }
    }

    fn ping(&mut self, timeout: Option<Duration>) -> bool {
        let mut cmd = vec![Value::str("ping")];
        if let Some(t) = timeout {
            cmd.push(Value::Float(t.as_secs_f64()));
        }
        self.process_cmd(&[cmd], false, timeout)
    }

    /// Sends commands over one connection; prints replies when `show` (and always for
    /// `echo`/`server-status`, as fail2ban-client). False on any failure.
    fn process_cmd(&mut self, cmds: &[Vec<Value>], show: bool, timeout: Option<Duration>) -> bool {
        let mut conn: Option<Connection> = None;
        let mut ok = true;
        for c in cmds {
            let head = c.first().and_then(Value::as_str).unwrap_or("");
            let always = matches!(head, "echo" | "server-status");
            let sock_err = |this: &Client, e: &ClientError| {
                // Quiet pings (server probes) only report at -vv.
                if show || (this.log.verbose > 1 && head != "ping") {
                    this.log_socket_error(e, head == "ping");
                }
            };
            if conn.is_none() {
                match Connection::connect(&self.socket, timeout) {
                    Ok(c) => conn = Some(c),
                    Err(e) => {
                        sock_err(self, &e);
                        return false;
                    }
                }
            }
            let Some(connection) = conn.as_mut() else { return false };
            match connection.send(c) {
                Ok(reply) if reply.is_ok() => {
                    if show || always {
                        let words: Vec<String> = c.iter().map(Value::py_str).collect();
                        match try_beautify(&words, &reply.value) {
                            Ok(text) => output(&text),
                            Err(fallback) => {
                                self.log.warning("Beautifier error. Please report the error");
                                self.log.error(&format!(
                                    "Beautify {} with {} failed",
                                    reply.value.py_repr(),
                                    Value::List(c.clone()).py_repr()
                                ));
                                output(&fallback);
                            }
                        }
                    }
                }
                Ok(reply) => {
                    let args = match &reply.value {
                        Value::Exception { message, .. } => Value::Tuple(vec![Value::Str(message.clone())]).py_repr(),
                        other => other.py_repr(),
                    };
                    self.log.error(&format!("NOK: {args}"));
                    if show {
                        output(&beautify_error(&reply.value));
                    }
                    ok = false;
                }
                Err(e) if e.is_socket_error() => {
                    sock_err(self, &e);
                    return false;
                }
                Err(e) => {
                    if show || self.log.verbose > 1 {
                        self.log.error(&e.to_string());
                    }
                    return false;
                }
            }
        }
        if let Some(c) = conn {
            c.close();
        }
        let _ = std::io::stdout().flush();
        ok
    }

    /// fail2ban-client's diagnosis of a socket failure.
    fn log_socket_error(&self, e: &ClientError, error_only: bool) {
        let prev = match e {
            ClientError::Connect(io) | ClientError::Io(io) => py_os_error(io),
            other => other.to_string(),
        };
        let path = &self.socket;
        if path.symlink_metadata().is_ok() {
            if nix::unistd::access(path, nix::unistd::AccessFlags::W_OK).is_ok() {
                if error_only {
                    self.log.error(&prev);
                } else {
                    self.log.error(&format!("[{prev}] Unable to contact server. Is it running?"));
                }
            } else {
                self.log.error(&format!("Permission denied to socket: {}, (you must be root)", path.display()));
            }
        } else {
            self.log.error(&format!("Failed to access socket path: {}. Is fail2ban running?", path.display()));
        }
    }

    /// Waits until the server answers (`alive`) or is gone (`!alive`), at most `--timeout`.
    /// A server process that fails while we wait ends the wait at once.
    fn wait_on_server(&mut self, alive: bool, mut child: Option<&mut Child>) -> Result<(), ()> {
        let start = Instant::now();
        let mut sleep = Duration::from_secs_f64(0.0125 / 2.0);
        loop {
            let up = self.socket.exists() && self.ping(Some(sleep));
            if up == alive {
                return Ok(());
            }
            if let Some(c) = child.as_deref_mut() {
                if let Ok(Some(status)) = c.try_wait() {
                    // A daemonizing launcher exits 0 and leaves the server behind; a
                    // foreground server that exits is gone.
                    if !status.success() || self.foreground {
                        return Err(());
                    }
                }
            }
            let waited = start.elapsed();
            if waited >= self.timeout {
                return Err(());
            }
            let cap = if waited > Duration::from_millis(200) { 0.5 } else { 0.1 };
            sleep = Duration::from_secs_f64((sleep.as_secs_f64() * 2.0).min(cap));
            std::thread::sleep(sleep);
        }
    }

    /// The pid the running server wrote to its pid file.
    fn server_pid(&mut self) -> Option<i32> {
        if self.pidfile.as_os_str().is_empty() && self.early_options(false, true).is_err() {
            return None;
        }
        std::fs::read_to_string(&self.pidfile).ok()?.trim().parse().ok().filter(|&p: &i32| p > 0)
    }

    /// Waits (at most `--timeout`) until process `pid` is gone: a server that stopped
    /// answering may still be cleaning up its socket and pid file, which the next one reuses.
    fn wait_for_exit(&self, pid: Option<i32>) -> bool {
        let Some(pid) = pid else { return true };
        let start = Instant::now();
        let pid = nix::unistd::Pid::from_raw(pid);
        while nix::sys::signal::kill(pid, None).is_ok() {
            if start.elapsed() >= self.timeout {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        true
    }

    /// `f2b-server` beside this executable, else the one on PATH.
    fn server_exe() -> PathBuf {
        if let Ok(me) = std::env::current_exe() {
            if let Some(dir) = me.parent() {
                let cand = dir.join("f2b-server");
                if cand.is_file() {
                    return cand;
                }
            }
        }
        PathBuf::from("f2b-server")
    }

    fn start_server(&mut self) -> bool {
        if self.ping(Some(Duration::from_millis(100))) {
            self.log.error("Server already running");
            return false;
        }
        if !self.read_config(false, false).1 {
            return false;
        }
        if !self.force && self.socket.symlink_metadata().is_ok() {
            self.log.error("Fail2ban seems to be in unexpected state (not running but the socket exists)");
            return false;
        }
        if self.pidfile.as_os_str().is_empty() {
            if let Err(e) = self.early_options(false, true) {
                self.log.error(&format!("Failed during configuration: {e}"));
                return false;
            }
        }
        let mut cmd = Command::new(Self::server_exe());
        // The server leaves our working directory when it daemonizes.
        let conf = std::path::absolute(&self.conf).unwrap_or_else(|_| self.conf.clone());
        cmd.arg("-c").arg(conf).arg("-s").arg(&self.socket).arg("-p").arg(&self.pidfile);
        if self.force {
            cmd.arg("-x");
        }
        for (name, value) in &self.server_options {
            cmd.arg(format!("--{name}")).arg(value);
        }
        cmd.arg(if self.foreground { "-f" } else { "-b" }).arg("start").stdin(Stdio::null());
        if !self.foreground {
            // f2b-server goes to the background itself (new session, stdio on /dev/null) once
            // its socket is bound; errors before that reach our stderr, as with fail2ban.
            cmd.stdout(Stdio::null());
        }
        let mut child = match cmd.spawn() {
            Ok(c) => {
                if self.foreground {
                    FOREGROUND_SERVER.store(c.id() as i32, std::sync::atomic::Ordering::SeqCst);
                }
                c
            }
            Err(e) => {
                output("");
                let mode = if self.foreground { "foreground" } else { "background" };
                self.log.error(&format!("Exception while starting server {mode}"));
                self.log.error(&e.to_string());
                return false;
            }
        };
        if self.wait_on_server(true, Some(&mut child)).is_err() {
            if self.foreground {
                let _ = child.kill();
                let _ = child.wait();
                FOREGROUND_SERVER.store(0, std::sync::atomic::Ordering::SeqCst);
            }
            self.log.error(&format!(
                "Could not start server. Maybe an old socket file is still present. Try to remove {}. \
                 If you used fail2ban-client to start the server, adding the -x option will do it",
                self.socket.display()
            ));
            return false;
        }
        let ready = self.process_cmd(&[vec![Value::str("server-status")]], false, None);
        if !self.foreground {
            // Reap the launcher if it already exited (a daemonizing server forks away).
            let _ = child.try_wait();
            return ready;
        }
        // Foreground: stay with the server until it stops, as fail2ban-client -f does.
        let status = child.wait();
        FOREGROUND_SERVER.store(0, std::sync::atomic::Ordering::SeqCst);
        ready && status.is_ok_and(|s| s.success())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `--dp` walks the stream itself: it must be the very stream `-d` prints.
    #[test]
    fn dump_commands_follow_dump_lines() {
        let dir = Path::new(DEFAULT_CONF);
        let Ok(cfg) = f2b_config::load(dir) else {
            eprintln!("SKIP dump_commands_follow_dump_lines: no readable {DEFAULT_CONF}");
            return;
        };
        let ours: Vec<String> = dump_commands(&cfg).iter().map(Value::py_repr).collect();
        assert_eq!(ours, f2b_config::dump_lines(&cfg));
    }
}

//! One run of the client: reading the configuration where fail2ban-client does, talking
//! to the server, starting and stopping it, and printing what fail2ban-client prints.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use f2b_config::{ConfigError, LoadedConfig};
use f2b_protocol::beautifier::{beautify_error, try_beautify};
use f2b_protocol::client::{ClientError, Connection};
use f2b_protocol::Value;

use crate::log::Logger;
use crate::stream::{dump_commands, jail_stream};
use crate::visualwait::VisualWait;
use crate::{
    output, pprint, signals, usage, DEFAULT_PIDFILE, DEFAULT_SOCKET, FAIL2BAN_VERSION, FAILURE,
};
use f2b_config::shlex;

pub struct Client {
    pub conf: PathBuf,
    pub socket: PathBuf,
    pub pidfile: PathBuf,
    pub force: bool,
    pub foreground: bool,
    pub timeout: Duration,
    pub log: Logger,
    pub config: Option<(bool, Result<LoadedConfig, ConfigError>)>,
    /// `--loglevel`, `--logtarget`, `--syslogsocket` given to us, handed on to the server.
    pub server_options: Vec<(&'static str, String)>,
    /// Jail errors of the configuration are logged once, however often it is consulted.
    pub errors_reported: bool,
    /// `-i`: commands come from the prompt, and long operations announce their steps.
    pub interactive: bool,
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
            Some(code) => format!(
                "[Errno {code}] {}",
                nix::errno::Errno::from_raw(code).desc()
            ),
            None => e.to_string(),
        },
    }
}

impl Client {
    /// The configuration, read once per mode. `allow_no_files` (only `-d` uses it, as
    /// fail2ban-client) accepts jails whose log files do not exist; otherwise such a jail
    /// fails the whole read, as it would fail the server's start.
    fn load_config(&mut self, allow_no_files: bool) -> &Result<LoadedConfig, ConfigError> {
        if self
            .config
            .as_ref()
            .is_some_and(|(mode, _)| *mode != allow_no_files)
        {
            self.config = None;
        }
        let conf = &self.conf;
        let opts = f2b_config::LoadOptions {
            allow_no_files,
            ..Default::default()
        };
        &self
            .config
            .get_or_insert_with(|| (allow_no_files, f2b_config::load_with(conf, opts)))
            .1
    }

    /// The socket and pid file from the fail2ban.conf family when the command line does not
    /// give them. `Err` (the message fail2ban-client prints) when one of those files cannot be
    /// read. Jail files are not read: fail2ban-client does not read them at this point, so a
    /// broken jail file changes neither the outcome nor the socket.
    pub fn early_options(&mut self, socket: bool, pidfile: bool) -> Result<(), String> {
        let early = f2b_config::load_fail2ban(&self.conf).map_err(|e| e.to_string())?;
        let (s, p) = (early.socket, early.pidfile);
        if socket {
            self.socket = if s.as_os_str().is_empty() {
                PathBuf::from(DEFAULT_SOCKET)
            } else {
                s
            };
        }
        if pidfile {
            self.pidfile = if p.as_os_str().is_empty() {
                PathBuf::from(DEFAULT_PIDFILE)
            } else {
                p
            };
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
                let broken = cfg
                    .jails
                    .iter()
                    .filter(|j| j.config_error().is_some())
                    .count();
                let good = cfg.jails.len() - broken;
                let ok = if strict {
                    broken == 0
                } else {
                    good > 0 || broken == 0
                };
                (Some(cfg.clone()), ok)
            }
            Err(e) => {
                log.error(&format!("Failed during configuration: {e}"));
                (None, false)
            }
        }
    }

    pub fn dump(&mut self, pretty: bool) -> bool {
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
    pub fn test_config(&mut self, with_dump: bool) -> bool {
        self.read_config(true, with_dump).1
    }

    /// `-i`: a prompt reading commands until `exit`, `quit` or end of input.
    pub fn interactive(&mut self, caller: &str, first: Vec<String>) -> i32 {
        if !first.is_empty() && !self.process_command(first) {
            return FAILURE;
        }
        output(&format!(
            "Fail2Ban v{FAIL2BAN_VERSION} reads log file that contains password failure report"
        ));
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

    pub fn process_command(&mut self, cmd: Vec<String>) -> bool {
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
                    self.log.error(&format!(
                        "could not convert string to float: {}",
                        f2b_protocol::value::py_repr_str(&cmd[1])
                    ));
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
                    self.log.error(&format!(
                        "Unexpected argument(s) for reload: {}",
                        rest.py_repr()
                    ));
                    return false;
                }
                break;
            }
        }
        if !self.ping(None) {
            self.log.error("Could not find server");
            return false;
        }
        let jail = if cmd.len() == 1 || cmd[1] == "--all" {
            "--all".to_owned()
        } else {
            cmd[1].clone()
        };
        self.config = None;
        self.errors_reported = false;
        if jail != "--all" && !self.jail_defined(&jail) {
            self.log.error(&format!(
                "Failed during configuration: No section: {}",
                Value::Str(jail).py_repr()
            ));
            return false;
        }
        let (cfg, ok) = self.read_config(false, false);
        let Some(cfg) = cfg.filter(|_| ok) else {
            return false;
        };
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
        let req = vec![
            Value::str("reload"),
            Value::Str(jail),
            Value::List(opts),
            Value::List(stream),
        ];
        self.process_cmd(&[req], true, None)
    }

    /// Whether the configuration has a section for `jail`, enabled or not.
    fn jail_defined(&self, jail: &str) -> bool {
        let opts = f2b_config::LoadOptions {
            allow_no_files: true,
            force_enable: true,
        };
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
            let Some(connection) = conn.as_mut() else {
                return false;
            };
            match connection.send(c) {
                Ok(reply) if reply.is_ok() => {
                    if show || always {
                        let words: Vec<String> = c.iter().map(Value::py_str).collect();
                        match try_beautify(&words, &reply.value) {
                            Ok(text) => output(&text),
                            Err(fallback) => {
                                self.log
                                    .warning("Beautifier error. Please report the error");
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
                        Value::Exception { message, .. } => {
                            Value::Tuple(vec![Value::Str(message.clone())]).py_repr()
                        }
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
                    self.log.error(&format!(
                        "[{prev}] Unable to contact server. Is it running?"
                    ));
                }
            } else {
                self.log.error(&format!(
                    "Permission denied to socket: {}, (you must be root)",
                    path.display()
                ));
            }
        } else {
            self.log.error(&format!(
                "Failed to access socket path: {}. Is fail2ban running?",
                path.display()
            ));
        }
    }

    /// Waits until the server answers (`alive`) or is gone (`!alive`), at most `--timeout`.
    /// A server process that fails while we wait ends the wait at once.
    fn wait_on_server(&mut self, alive: bool, mut child: Option<&mut Child>) -> Result<(), ()> {
        let start = Instant::now();
        let mut sleep = Duration::from_secs_f64(0.0125 / 2.0);
        let mut visual = VisualWait::new(self.log.verbose);
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
            if waited > Duration::from_secs(1) {
                visual.heartbeat();
            }
            if waited >= self.timeout {
                return Err(());
            }
            let cap = if waited > Duration::from_millis(200) {
                0.5
            } else {
                0.1
            };
            sleep = Duration::from_secs_f64((sleep.as_secs_f64() * 2.0).min(cap));
            std::thread::sleep(sleep);
        }
    }

    /// The pid the running server wrote to its pid file.
    fn server_pid(&mut self) -> Option<i32> {
        if self.pidfile.as_os_str().is_empty() && self.early_options(false, true).is_err() {
            return None;
        }
        std::fs::read_to_string(&self.pidfile)
            .ok()?
            .trim()
            .parse()
            .ok()
            .filter(|&p: &i32| p > 0)
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
            self.log.error(
                "Fail2ban seems to be in unexpected state (not running but the socket exists)",
            );
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
        cmd.arg("-c")
            .arg(conf)
            .arg("-s")
            .arg(&self.socket)
            .arg("-p")
            .arg(&self.pidfile);
        if self.force {
            cmd.arg("-x");
        }
        for (name, value) in &self.server_options {
            cmd.arg(format!("--{name}")).arg(value);
        }
        cmd.arg(if self.foreground { "-f" } else { "-b" })
            .arg("start")
            .stdin(Stdio::null());
        if !self.foreground {
            // f2b-server goes to the background itself (new session, stdio on /dev/null) once
            // its socket is bound; errors before that reach our stderr, as with fail2ban.
            cmd.stdout(Stdio::null());
        }
        let mut child = match cmd.spawn() {
            Ok(c) => {
                if self.foreground {
                    signals::forward_to(c.id() as i32);
                }
                c
            }
            Err(e) => {
                output("");
                let mode = if self.foreground {
                    "foreground"
                } else {
                    "background"
                };
                self.log
                    .error(&format!("Exception while starting server {mode}"));
                self.log.error(&e.to_string());
                return false;
            }
        };
        if self.wait_on_server(true, Some(&mut child)).is_err() {
            if self.foreground {
                let _ = child.kill();
                let _ = child.wait();
                signals::forward_to(0);
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
        signals::forward_to(0);
        ready && status.is_ok_and(|s| s.success())
    }
}

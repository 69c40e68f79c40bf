//! Process plumbing of `f2b-server`: fail2ban-server's command line, the pidfile, going to the
//! background, and turning POSIX signals into events for the main loop.
//!
//! Signals are caught by a handler that only writes the signal number into a pipe (the one thing
//! a handler may safely do); a thread reads the pipe and forwards [`Event`]s. Nothing is masked,
//! so action scripts started by the daemon inherit default signal dispositions.
use std::fs;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc::Sender;

/// What the main loop is asked to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// SIGTERM, SIGINT or the `stop` command: stop every jail and exit.
    Stop,
    /// SIGHUP: reread the configuration and reload the jails.
    Reload,
    /// SIGUSR1: reopen the log file.
    ReopenLogs,
}

/// fail2ban-server's options (the subset with meaning for a daemon that reads its own config).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub conf: PathBuf,
    pub socket: Option<PathBuf>,
    pub pidfile: Option<PathBuf>,
    pub loglevel: Option<String>,
    pub logtarget: Option<String>,
    pub syslogsocket: Option<String>,
    pub background: bool,
    pub force: bool,
    pub test: bool,
    pub verbose: i32,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            conf: PathBuf::from("/etc/fail2ban"),
            socket: None,
            pidfile: None,
            loglevel: None,
            logtarget: None,
            syslogsocket: None,
            background: true,
            force: false,
            test: false,
            verbose: 0,
        }
    }
}

/// What the command line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Command {
    Run(Options),
    Help,
    Version { short: bool },
    Str2Sec(String),
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CliError {
    #[error("option {0} requires an argument")]
    MissingValue(String),
    #[error("option {0} not recognized")]
    Unknown(String),
    #[error("unexpected argument {0:?} (only \"start\" is accepted)")]
    Extra(String),
}

pub const USAGE: &str = "Usage: f2b-server [OPTIONS] [start]

f2b reads log files that contain password failure reports and bans the corresponding
IP addresses using firewall rules (a drop-in replacement for fail2ban-server).

Options:
    -c, --conf <DIR>        configuration directory
    -s, --socket <FILE>     socket path
    -p, --pidfile <FILE>    pidfile path
    --pname <NAME>          accepted for compatibility, ignored
    --loglevel <LEVEL>      logging level
    --logtarget <TARGET>    logging target: a file name, STDOUT, STDERR, SYSLOG or SYSTEMD-JOURNAL
    --syslogsocket auto|<FILE>
    -t, --test              test configuration and exit
    -v                      increase verbosity
    -q                      decrease verbosity
    -x                      force execution of the server (remove socket file)
    -b                      start server in background (default)
    -f                      start server in foreground
    --async, --timeout <T>  accepted for compatibility, ignored
    --str2sec <STRING>      convert time abbreviation format to seconds
    -h, --help              display this help message
    -V, --version           print the version
";

/// Parse fail2ban-server's command line (getopt style: `-xf`, `-cDIR`, `--conf=DIR`).
pub fn parse_args<I: IntoIterator<Item = String>>(args: I) -> Result<Command, CliError> {
    let mut o = Options::default();
    let mut it = args.into_iter().peekable();
    let value = |name: &str, inline: Option<String>, it: &mut std::iter::Peekable<I::IntoIter>| {
        inline
            .or_else(|| it.next())
            .ok_or_else(|| CliError::MissingValue(name.to_string()))
    };
    while let Some(arg) = it.next() {
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (long.to_string(), None),
            };
            let flag = format!("--{name}");
            match name.as_str() {
                "conf" => o.conf = PathBuf::from(value(&flag, inline, &mut it)?),
                "socket" => o.socket = Some(PathBuf::from(value(&flag, inline, &mut it)?)),
                "pidfile" => o.pidfile = Some(PathBuf::from(value(&flag, inline, &mut it)?)),
                "pname" | "timeout" => {
                    value(&flag, inline, &mut it)?;
                }
                "loglevel" => o.loglevel = Some(value(&flag, inline, &mut it)?),
                "logtarget" => o.logtarget = Some(value(&flag, inline, &mut it)?),
                "syslogsocket" => o.syslogsocket = Some(value(&flag, inline, &mut it)?),
                "str2sec" => return Ok(Command::Str2Sec(value(&flag, inline, &mut it)?)),
                "test" => o.test = true,
                "async" => {}
                "help" => return Ok(Command::Help),
                "version" => return Ok(Command::Version { short: false }),
                _ => return Err(CliError::Unknown(flag)),
            }
        } else if arg.len() > 1 && arg.starts_with('-') {
            let chars: Vec<char> = arg[1..].chars().collect();
            let mut i = 0;
            while i < chars.len() {
                let c = chars[i];
                let rest: String = chars[i + 1..].iter().collect();
                let inline = (!rest.is_empty()).then_some(rest);
                let flag = format!("-{c}");
                match c {
                    'c' | 's' | 'p' => {
                        let v = PathBuf::from(value(&flag, inline, &mut it)?);
                        match c {
                            'c' => o.conf = v,
                            's' => o.socket = Some(v),
                            _ => o.pidfile = Some(v),
                        }
                        break;
                    }
                    'x' => o.force = true,
                    'f' => o.background = false,
                    'b' => o.background = true,
                    't' => o.test = true,
                    'v' => o.verbose += 1,
                    'q' => o.verbose -= 1,
                    'd' | 'i' => {}
                    'h' => return Ok(Command::Help),
                    'V' => return Ok(Command::Version { short: true }),
                    _ => return Err(CliError::Unknown(flag)),
                }
                i += 1;
            }
        } else if arg == "start" {
            // fail2ban-server accepts the client's verb after its options (`fail2ban-server -xf start`).
        } else {
            return Err(CliError::Extra(arg));
        }
    }
    Ok(Command::Run(o))
}

/// The pidfile: written at start, removed when dropped if it still names this process (a
/// server started by `restart` before we finished exiting owns it then).
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    pid: u32,
}

impl PidFile {
    pub fn create(path: &Path) -> std::io::Result<PidFile> {
        if let Some(dir) = path.parent() {
            if !dir.as_os_str().is_empty() {
                fs::create_dir_all(dir)?;
            }
        }
        let pid = std::process::id();
        let mut f = fs::File::create(path)?;
        writeln!(f, "{pid}")?;
        Ok(PidFile {
            path: path.to_path_buf(),
            pid,
        })
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let ours = fs::read_to_string(&self.path)
            .is_ok_and(|t| t.trim().parse::<u32>().ok() == Some(self.pid));
        if ours {
            let _ = fs::remove_file(&self.path);
        }
    }
}

/// The shared date templates compile parts of themselves on first use; the first log line
/// of a jail would pay for it (~0.1 s). One idle thread pays instead, right after start.
fn warm_up_date_templates() {
    let _ = std::thread::Builder::new()
        .name("f2b-warmup".into())
        .stack_size(crate::jail::WORKER_STACK)
        .spawn(|| {
            let Ok(mut dd) = f2b_filter::date::DateDetector::new(None, None) else {
                return;
            };
            let now = crate::jail::now();
            for line in [
                "f2b warm-up",
                "Nov 22 04:38:22 host f2b: warm-up",
                "2026-11-22 04:38:22 f2b warm-up",
                "[22/Nov/2026:04:38:22 +0000] f2b",
            ] {
                let _ = dd.find(line, now);
            }
        });
}

/// glibc gives each new thread its own malloc arena while there are fewer than 8 per core; with
/// two threads per jail that is a dozen arenas, each keeping its own free memory resident. The
/// daemon's threads mostly sleep: one arena per core is enough. Must run before any thread
/// starts; an admin's MALLOC_ARENA_MAX still wins.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        let arenas = libc::c_int::try_from(cores).unwrap_or(libc::c_int::MAX);
        // SAFETY: mallopt only sets a malloc tunable; called while single-threaded.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, arenas);
        }
    }
}

/// Compiling every jail's filter leaves megabytes of freed temporaries inside malloc's arenas
/// (one per compiling thread), which glibc keeps resident; hand their free pages back once.
fn release_start_up_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks malloc's own free lists; any thread may call it.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// The (device, inode) of a file, to tell later whether it is still the one we created.
fn file_identity(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    fs::symlink_metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// Detach from the terminal: double fork, new session, stdio to /dev/null. Must run before any
/// thread is started. Returns only in the daemon process.
pub fn daemonize() -> std::io::Result<()> {
    use nix::unistd::{fork, setsid, ForkResult};
    // SAFETY: called while the process is still single-threaded.
    match unsafe { fork() }.map_err(std::io::Error::from)? {
        ForkResult::Parent { .. } => std::process::exit(0),
        ForkResult::Child => {}
    }
    setsid().map_err(std::io::Error::from)?;
    // SAFETY: still single-threaded in the child.
    match unsafe { fork() }.map_err(std::io::Error::from)? {
        ForkResult::Parent { .. } => std::process::exit(0),
        ForkResult::Child => {}
    }
    std::env::set_current_dir("/")?;
    let null = fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")?;
    for fd in 0..3 {
        // SAFETY: fds 0..2 are replaced atomically by dup2; nothing else holds them as owned fds.
        unsafe { nix::unistd::dup2_raw(&null, fd) }.map_err(std::io::Error::from)?;
    }
    Ok(())
}

static SIGNAL_PIPE: AtomicI32 = AtomicI32::new(-1);

extern "C" fn on_signal(sig: libc::c_int) {
    let fd = SIGNAL_PIPE.load(Ordering::Relaxed);
    if fd >= 0 {
        let b = sig as u8;
        // SAFETY: write(2) is async-signal-safe; the buffer lives on this stack frame.
        unsafe {
            libc::write(fd, (&b as *const u8).cast(), 1);
        }
    }
}

/// Install handlers for TERM, INT, HUP and USR1 and forward them as events on `tx`.
pub fn install_signals(tx: Sender<Event>) -> std::io::Result<()> {
    use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};
    let (rd, wr) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(std::io::Error::from)?;
    // The write end is kept for the life of the process: the handler may fire at any time.
    SIGNAL_PIPE.store(wr.as_raw_fd(), Ordering::Relaxed);
    std::mem::forget(wr);
    let act = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in [
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
        Signal::SIGUSR1,
    ] {
        // SAFETY: the handler only calls write(2).
        unsafe { sigaction(sig, &act) }.map_err(std::io::Error::from)?;
    }
    // SAFETY: ignoring SIGPIPE so a closed client socket yields EPIPE instead of killing us.
    unsafe {
        sigaction(
            Signal::SIGPIPE,
            &SigAction::new(SigHandler::SigIgn, SaFlags::empty(), SigSet::empty()),
        )
    }
    .map_err(std::io::Error::from)?;
    let raw = rd.as_raw_fd();
    std::mem::forget(rd);
    std::thread::Builder::new()
        .name("f2b-signals".into())
        .spawn(move || {
            // SAFETY: `raw` is the read end we own and forgot above; nothing else closes it.
            let mut f = fs::File::from(unsafe { OwnedFd::from_raw_fd(raw) });
            let mut b = [0u8; 1];
            while let Ok(1) = f.read(&mut b) {
                let ev = match i32::from(b[0]) {
                    libc::SIGHUP => Event::Reload,
                    libc::SIGUSR1 => Event::ReopenLogs,
                    _ => Event::Stop,
                };
                if tx.send(ev).is_err() {
                    break;
                }
            }
        })?;
    Ok(())
}

/// Default socket and pidfile of fail2ban-server, used when neither the command line nor
/// fail2ban.conf names one.
const DEFAULT_SOCKET: &str = "/var/run/fail2ban/fail2ban.sock";
const DEFAULT_PIDFILE: &str = "/var/run/fail2ban/fail2ban.pid";

/// How to build a jail's actions.
pub type ActionsFactory = Box<
    dyn Fn(&f2b_config::JailSpec) -> Result<Box<dyn crate::jail::ActionSet>, String> + Send + Sync,
>;

/// What `run` needs besides the options: given `allowipv6` and the database, the actions factory.
pub type MakeActions = fn(bool, Option<crate::stages::SharedDb>) -> ActionsFactory;

/// Run the daemon until it is told to stop; returns the process exit code.
pub fn run(opts: Options, actions: MakeActions) -> i32 {
    use crate::logging::{self, Level};
    const LOG: &str = "fail2ban.server";
    limit_malloc_arenas();
    let cfg = match crate::server::load_config(&opts.conf) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("ERROR  Failed during configuration: {e}");
            return 255;
        }
    };
    let spec = cfg.server.clone();
    let level = opts
        .loglevel
        .clone()
        .or_else(|| spec.as_ref().map(|s| s.loglevel.clone()))
        .unwrap_or_else(|| "INFO".into());
    if let Err(e) = logging::set_level(&level) {
        eprintln!("ERROR  {e}");
        return 255;
    }
    if let Some(sock) = opts
        .syslogsocket
        .clone()
        .or_else(|| spec.as_ref().map(|s| s.syslogsocket.clone()))
    {
        let _ = logging::set_syslog_socket(&sock);
    }
    let target = opts
        .logtarget
        .clone()
        .or_else(|| spec.as_ref().map(|s| s.logtarget.clone()))
        .unwrap_or_else(|| "STDERR".into());
    let nonempty = |p: &Path| !p.as_os_str().is_empty();
    let socket = opts
        .socket
        .clone()
        .or_else(|| {
            spec.as_ref()
                .map(|s| s.socket.clone())
                .filter(|p| nonempty(p))
        })
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET));
    let pidfile = opts
        .pidfile
        .clone()
        .or_else(|| {
            spec.as_ref()
                .map(|s| s.pidfile.clone())
                .filter(|p| nonempty(p))
        })
        .unwrap_or_else(|| PathBuf::from(DEFAULT_PIDFILE));
    if opts.test {
        for e in &cfg.errors {
            eprintln!("ERROR  {e}");
        }
        if cfg.errors.is_empty() {
            println!("OK: configuration test is successful");
            return 0;
        }
        return 255;
    }
    if let Some(dir) = socket.parent() {
        let _ = fs::create_dir_all(dir);
    }
    // Bind before going to the background, so "already running" reaches the caller's terminal.
    let listener = match f2b_protocol::server::Listener::bind(
        &socket,
        f2b_protocol::server::Options {
            force: opts.force,
            ..Default::default()
        },
    ) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("ERROR  {e}");
            if matches!(e, f2b_protocol::server::ServerError::AlreadyRunning(_)) {
                eprintln!("ERROR  Socket {} exists: is f2b-server (or fail2ban-server) running? Use -x to remove a stale socket.", socket.display());
            }
            return 255;
        }
    };
    let socket_identity = file_identity(&socket);
    if opts.background {
        if let Err(e) = daemonize() {
            eprintln!("ERROR  Unable to go to the background: {e}");
            return 255;
        }
        logging::refresh_pid();
    }
    let target_existed = Path::new(&target).exists();
    let target_created = |t: &str| !target_existed && Path::new(t).exists();
    if let Err(e) = logging::set_target(&target) {
        eprintln!("ERROR  {e}");
        let _ = logging::set_target("STDERR");
    }
    // The jails are read once the log target exists: a jail watching our own log (recidive)
    // must find the file on a first start.
    let cfg = if target_created(&target) {
        match crate::server::load_config(&opts.conf) {
            Ok(c) => c,
            Err(_) => cfg,
        }
    } else {
        cfg
    };
    // fail2ban refuses to start when a jail's logpath matches no file (checked once our own
    // log exists, so recidive on a first start finds it).
    if let Err(msg) = crate::server::check_log_files(&opts.conf, &cfg) {
        crate::log!(
            "fail2ban",
            Level::ERROR,
            "Failed during configuration: {msg}"
        );
        if !opts.background {
            eprintln!("ERROR  Failed during configuration: {msg}");
        }
        return 255;
    }
    crate::log!(
        LOG,
        Level::INFO,
        "--------------------------------------------------"
    );
    crate::log!(
        LOG,
        Level::INFO,
        "Starting Fail2ban v{} (f2b)",
        crate::transmitter::VERSION
    );
    if opts.background {
        crate::log!(LOG, Level::INFO, "Daemon started");
    }
    let _pid = match PidFile::create(&pidfile) {
        Ok(p) => Some(p),
        Err(e) => {
            crate::log!(LOG, Level::ERROR, "Unable to create PID file: {e}");
            None
        }
    };
    let (tx, rx) = std::sync::mpsc::channel();
    if let Err(e) = install_signals(tx.clone()) {
        crate::log!(LOG, Level::ERROR, "Unable to install signal handlers: {e}");
    }
    let mut db_settings = crate::server::DbSettings {
        file: None,
        purgeage: 86400.0,
        maxmatches: None,
    };
    let mut db = None;
    if let Some(s) = &spec {
        db_settings.purgeage = s.dbpurgeage;
        db_settings.maxmatches = s.dbmaxmatches;
        if let Some(file) = &s.dbfile {
            if let Some(dir) = file.parent() {
                let _ = fs::create_dir_all(dir);
            }
            match crate::database::Database::open(&file.to_string_lossy()) {
                Ok(mut d) => {
                    crate::log!(
                        "fail2ban.database",
                        Level::INFO,
                        "Connected to fail2ban persistent database '{}'",
                        file.display()
                    );
                    d.set_purge_age(s.dbpurgeage);
                    if let Some(m) = s.dbmaxmatches {
                        d.set_max_matches(m as usize);
                    }
                    if let Err(e) = d.purge(crate::jail::now()) {
                        crate::log!("fail2ban.database", Level::ERROR, "{e}");
                    }
                    db_settings.file = Some(file.clone());
                    db = Some(std::sync::Arc::new(std::sync::Mutex::new(d)));
                }
                Err(e) => crate::log!(
                    "fail2ban.database",
                    Level::ERROR,
                    "Unable to open database '{}': {e}",
                    file.display()
                ),
            }
        }
    }
    let allow_ipv6 = spec.as_ref().and_then(|s| s.allowipv6).unwrap_or(true);
    let builder = crate::stages::Builder::new(db.clone(), actions(allow_ipv6, db.clone()));
    let server = std::sync::Arc::new(crate::server::Server::new(
        opts.conf.clone(),
        Box::new(builder),
        tx,
        db_settings,
        db,
    ));
    server.start_all(cfg);
    release_start_up_memory();
    let stop_socket = listener.shutdown_handle();
    let transmitter = std::sync::Arc::new(crate::transmitter::Transmitter::new(
        std::sync::Arc::clone(&server),
    ));
    let serving = std::thread::Builder::new()
        .name("f2b-socket".into())
        .spawn(move || listener.serve(transmitter));
    // After the socket thread: the first `ping` does not wait behind this work.
    warm_up_date_templates();
    // fail2ban purges the database of old bans once an hour.
    let mut next_purge = std::time::Instant::now() + std::time::Duration::from_secs(3600);
    loop {
        let wait = next_purge.saturating_duration_since(std::time::Instant::now());
        let ev = match rx.recv_timeout(wait) {
            Ok(ev) => ev,
            Err(std::sync::mpsc::RecvTimeoutError::Timeout) => {
                next_purge = std::time::Instant::now() + std::time::Duration::from_secs(3600);
                server.purge_db();
                continue;
            }
            Err(std::sync::mpsc::RecvTimeoutError::Disconnected) => break,
        };
        match ev {
            Event::Stop => break,
            Event::Reload => {
                let _ = server.reload(None);
            }
            Event::ReopenLogs => {
                logging::flush();
            }
        }
    }
    crate::log!(LOG, Level::INFO, "Shutdown in progress...");
    stop_socket.shutdown();
    server.stop_all();
    if let Ok(h) = serving {
        let _ = h.join();
    }
    // A server started by `restart` may already have bound a new socket at this path.
    if socket_identity.is_some() && file_identity(&socket) == socket_identity {
        let _ = fs::remove_file(&socket);
    }
    crate::log!(LOG, Level::INFO, "Exiting Fail2ban");
    0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&str]) -> Options {
        match parse_args(args.iter().map(|s| s.to_string())).unwrap() {
            Command::Run(o) => o,
            c => panic!("{c:?}"),
        }
    }

    #[test]
    fn fail2ban_style_flags() {
        let o = run(&[
            "-xf",
            "-c",
            "/tmp/c",
            "-s/tmp/s",
            "--pidfile=/tmp/p",
            "--loglevel",
            "DEBUG",
            "start",
        ]);
        assert!(o.force && !o.background);
        assert_eq!(o.conf, PathBuf::from("/tmp/c"));
        assert_eq!(o.socket, Some(PathBuf::from("/tmp/s")));
        assert_eq!(o.pidfile, Some(PathBuf::from("/tmp/p")));
        assert_eq!(o.loglevel.as_deref(), Some("DEBUG"));
        assert!(run(&[]).background);
    }

    #[test]
    fn bad_args() {
        assert_eq!(
            parse_args(["-z".to_string()]),
            Err(CliError::Unknown("-z".into()))
        );
        assert_eq!(
            parse_args(["-c".to_string()]),
            Err(CliError::MissingValue("-c".into()))
        );
        assert_eq!(
            parse_args(["go".to_string()]),
            Err(CliError::Extra("go".into()))
        );
        assert_eq!(
            parse_args(["-V".to_string()]),
            Ok(Command::Version { short: true })
        );
    }

    #[test]
    fn pidfile_lifecycle() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("run/f2b.pid");
        {
            let _pf = PidFile::create(&p).unwrap();
            let text = fs::read_to_string(&p).unwrap();
            assert_eq!(text.trim().parse::<u32>().unwrap(), std::process::id());
        }
        assert!(!p.exists());
    }

    #[test]
    fn pidfile_of_a_newer_server_is_kept() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("f2b.pid");
        {
            let _pf = PidFile::create(&p).unwrap();
            // A new server (restart) overwrote the file before we exited.
            fs::write(&p, "999999999\n").unwrap();
        }
        assert_eq!(fs::read_to_string(&p).unwrap(), "999999999\n");
    }
}

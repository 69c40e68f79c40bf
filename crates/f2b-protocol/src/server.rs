//! The server end of the control socket: a Unix socket listener that decodes commands,
//! hands them to a [`Handler`] and sends the replies back, as fail2ban-server does.
//!
//! Access control: the socket file is created with mode 0600 and every connection's peer
//! credentials are checked (only root or the user the server runs as may talk to it), so a
//! permissive directory or umask cannot open the daemon to other users.
//!
//! One thread per connection, bounded; a connection may carry many requests (fail2ban-client
//! sends the whole start-up stream over one), and ends on `<F2B_CLOSE_COMMAND>`, end of
//! stream, or a long idle period.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::io::AsRawFd;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::frame::{FrameReader, Incoming};
use crate::pickle::Mode;
use crate::value::Value;

/// What the daemon implements: run one command and return its result.
pub trait Handler: Send + Sync {
    fn handle(&self, cmd: &[Value]) -> Result<Value, CommandError>;
}

/// A failed command, as the exception fail2ban-client expects to receive and print.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum CommandError {
    /// `fail2ban.exceptions.UnknownJailException`: the client prints
    /// "Sorry but the jail 'NAME' does not exist".
    #[error("unknown jail {0:?}")]
    UnknownJail(String),
    /// `fail2ban.exceptions.DuplicateJailException`: "The jail 'NAME' already exists".
    #[error("duplicate jail {0:?}")]
    DuplicateJail(String),
    /// `builtins.Exception`, e.g. "Invalid command".
    #[error("{0}")]
    Failed(String),
    /// `builtins.ValueError`, e.g. a malformed number or time.
    #[error("{0}")]
    Value(String),
    /// `builtins.KeyError` (printed quoted by the client).
    #[error("{0}")]
    Key(String),
    /// `builtins.IndexError`: the client prints "Sorry but the command is invalid".
    #[error("{0}")]
    Index(String),
    /// `builtins.TypeError`.
    #[error("{0}")]
    Type(String),
    /// Any other exception class, given by its dotted path.
    #[error("{message}")]
    Other { class: String, message: String },
}

impl CommandError {
    /// The dotted Python class this error is sent as.
    pub fn class(&self) -> &str {
        match self {
            CommandError::UnknownJail(_) => "fail2ban.exceptions.UnknownJailException",
            CommandError::DuplicateJail(_) => "fail2ban.exceptions.DuplicateJailException",
            CommandError::Failed(_) => "builtins.Exception",
            CommandError::Value(_) => "builtins.ValueError",
            CommandError::Key(_) => "builtins.KeyError",
            CommandError::Index(_) => "builtins.IndexError",
            CommandError::Type(_) => "builtins.TypeError",
            CommandError::Other { class, .. } => class,
        }
    }

    /// The exception object sent in the reply.
    pub fn to_value(&self) -> Value {
        let message = match self {
            CommandError::UnknownJail(m)
            | CommandError::DuplicateJail(m)
            | CommandError::Failed(m)
            | CommandError::Value(m)
            | CommandError::Key(m)
            | CommandError::Index(m)
            | CommandError::Type(m) => m.clone(),
            CommandError::Other { message, .. } => message.clone(),
        };
        Value::Exception {
            class: self.class().to_owned(),
            message,
        }
    }
}

/// Why the listener could not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    /// The socket file exists and `force` was not given (fail2ban's `-x`).
    #[error("Server already running")]
    AlreadyRunning(PathBuf),
    #[error("Unable to bind socket {path}: {source}")]
    Bind {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("socket {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// Tunables of the listener.
#[derive(Debug, Clone)]
pub struct Options {
    /// Remove an existing socket file instead of refusing to start.
    pub force: bool,
    /// Connections served at once; more are closed at once.
    pub max_connections: usize,
    /// A connection silent this long is closed.
    pub idle_timeout: Duration,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            force: false,
            max_connections: 32,
            idle_timeout: Duration::from_secs(120),
        }
    }
}

/// How long an accepted peer waits for a free connection slot before it is refused.
const SLOT_WAIT: Duration = Duration::from_secs(5);

struct Shared {
    listener: UnixListener,
    stop: AtomicBool,
    active: AtomicUsize,
}

/// A bound control socket, ready to [`serve`](Listener::serve).
pub struct Listener {
    shared: Arc<Shared>,
    path: PathBuf,
    identity: (u64, u64),
    options: Options,
    removed: bool,
}

/// Stops a running [`Listener::serve`] from any thread (a `stop` command's handler).
#[derive(Clone)]
pub struct ShutdownHandle(Arc<Shared>);

impl ShutdownHandle {
    /// Asks the listener to stop: it accepts no more connections, lets the ones in flight
    /// send their replies, removes the socket file and returns from `serve`.
    pub fn shutdown(&self) {
        self.0.stop.store(true, Ordering::SeqCst);
        // Wakes the blocked accept(): on Linux it fails with EINVAL once the listening
        // socket is shut down.
        let _ = nix::sys::socket::shutdown(
            self.0.listener.as_raw_fd(),
            nix::sys::socket::Shutdown::Both,
        );
    }

    pub fn is_shutdown(&self) -> bool {
        self.0.stop.load(Ordering::SeqCst)
    }
}

impl Listener {
    /// Creates the socket at `path` (mode 0600; the last directory level is created if
    /// missing, as fail2ban does). An existing file is an error unless `options.force`.
    pub fn bind(path: &Path, options: Options) -> Result<Listener, ServerError> {
        let io_err = |source| ServerError::Io {
            path: path.to_owned(),
            source,
        };
        if path.symlink_metadata().is_ok() {
            if !options.force {
                return Err(ServerError::AlreadyRunning(path.to_owned()));
            }
            std::fs::remove_file(path).map_err(io_err)?;
        }
        if let Some(dir) = path.parent() {
            if dir.is_absolute() && !dir.exists() {
                match std::fs::create_dir(dir) {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
                    Err(e) => return Err(io_err(e)),
                }
            }
        }
        // Bind inside a private directory (0700, ours), restrict the socket there, then move
        // it into place: the socket is never reachable with the umask's permissions, and
        // nobody can swap the file under us between bind and chmod, even in a shared
        // directory like /tmp.
        // A fresh name (never reused, never cleaned up blindly: what sits at an unexpected
        // name in a shared directory is not ours to delete), kept short for sun_path.
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .subsec_nanos();
        let private = path.with_file_name(format!(".f2b{}-{nanos:x}", std::process::id()));
        {
            use std::os::unix::fs::DirBuilderExt;
            std::fs::DirBuilder::new()
                .mode(0o700)
                .create(&private)
                .map_err(io_err)?;
        }
        let tmp = private.join("s");
        let bound = UnixListener::bind(&tmp).and_then(|listener| {
            std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o600))?;
            std::fs::rename(&tmp, path)?;
            Ok(listener)
        });
        let _ = std::fs::remove_file(&tmp);
        let _ = std::fs::remove_dir(&private);
        let listener = bound.map_err(|source| ServerError::Bind {
            path: path.to_owned(),
            source,
        })?;
        let meta = path.symlink_metadata().map_err(io_err)?;
        Ok(Listener {
            shared: Arc::new(Shared {
                listener,
                stop: AtomicBool::new(false),
                active: AtomicUsize::new(0),
            }),
            path: path.to_owned(),
            identity: (meta.dev(), meta.ino()),
            options,
            removed: false,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn shutdown_handle(&self) -> ShutdownHandle {
        ShutdownHandle(self.shared.clone())
    }

    /// Whether a connection may be served now. At the limit, waits a while for one of the
    /// served connections to end before refusing: a burst of short-lived peers (or a loaded
    /// machine slow to reap them) must not turn a client's `ping` into a reset connection,
    /// and while we wait the kernel's backlog holds further peers.
    fn wait_for_slot(&self) -> bool {
        let deadline = std::time::Instant::now() + SLOT_WAIT;
        while self.shared.active.load(Ordering::SeqCst) >= self.options.max_connections {
            if self.shared.stop.load(Ordering::SeqCst) || std::time::Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        true
    }

    /// Serves connections until [`ShutdownHandle::shutdown`] is called, then waits (briefly)
    /// for replies in flight and removes the socket file.
    pub fn serve(mut self, handler: Arc<dyn Handler>) {
        let owner = nix::unistd::geteuid().as_raw();
        loop {
            if self.shared.stop.load(Ordering::SeqCst) {
                break;
            }
            let stream = match self.shared.listener.accept() {
                Ok((s, _)) => s,
                Err(e) => {
                    if self.shared.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    tracing::warn!("accept on control socket failed: {e}");
                    // Out of descriptors and the like: do not spin.
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            };
            if !peer_allowed(&stream, owner) {
                continue;
            }
            if !self.wait_for_slot() {
                tracing::warn!("too many control connections, refusing one");
                continue;
            }
            self.shared.active.fetch_add(1, Ordering::SeqCst);
            let shared = self.shared.clone();
            let handler = handler.clone();
            let idle = self.options.idle_timeout;
            let spawned = std::thread::Builder::new()
                .name("f2b-control".into())
                .spawn(move || {
                    serve_connection(stream, &*handler, &shared.stop, idle);
                    shared.active.fetch_sub(1, Ordering::SeqCst);
                });
            if spawned.is_err() {
                self.shared.active.fetch_sub(1, Ordering::SeqCst);
            }
        }
        // Let connections in flight (the one carrying `stop`, typically) send their reply.
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.shared.active.load(Ordering::SeqCst) > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(5));
        }
        self.remove_socket();
    }

    fn remove_socket(&mut self) {
        if self.removed {
            return;
        }
        self.removed = true;
        // Only remove the file if it is still ours (a forced second instance may own it now).
        if let Ok(meta) = self.path.symlink_metadata() {
            if (meta.dev(), meta.ino()) == self.identity {
                let _ = std::fs::remove_file(&self.path);
            }
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.remove_socket();
    }
}

/// Only root and the user the server runs as may use the socket.
fn peer_allowed(stream: &UnixStream, owner: u32) -> bool {
    match nix::sys::socket::getsockopt(stream, nix::sys::socket::sockopt::PeerCredentials) {
        Ok(cred) => {
            let uid = cred.uid();
            let ok = uid == 0 || uid == owner;
            if !ok {
                tracing::warn!(
                    "refused control connection from uid {uid} (pid {})",
                    cred.pid()
                );
            }
            ok
        }
        Err(e) => {
            tracing::warn!("cannot read control peer credentials: {e}");
            false
        }
    }
}

const POLL: Duration = Duration::from_millis(250);

fn serve_connection(
    mut stream: UnixStream,
    handler: &dyn Handler,
    stop: &AtomicBool,
    idle_timeout: Duration,
) {
    let _ = stream.set_read_timeout(Some(POLL));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(30)));
    let mut reader = FrameReader::new(Mode::Data);
    let mut idle = Duration::ZERO;
    let mut chunk = [0u8; 16 * 1024];
    loop {
        if let Some(msg) = reader.take() {
            let reply = match msg {
                Incoming::Close => break,
                Incoming::Message(Ok(cmd)) => reply_to(&cmd, handler),
                // fail2ban answers an undecodable message with a bare string, not a tuple.
                Incoming::Message(Err(e)) => {
                    tracing::error!("PROTO-error: load message failed: {e}");
                    crate::encode_value(&Value::Str(format!("ERROR: {e}")))
                }
            };
            if stream.write_all(&reply).is_err() {
                break;
            }
            idle = Duration::ZERO;
            continue;
        }
        if stop.load(Ordering::SeqCst) && !reader.has_partial() {
            break;
        }
        match std::io::Read::read(&mut stream, &mut chunk) {
            Ok(0) => break,
            Ok(n) => {
                if let Err(e) = reader.push(&chunk[..n]) {
                    tracing::error!("control connection: {e}");
                    let _ =
                        stream.write_all(&crate::encode_value(&Value::Str(format!("ERROR: {e}"))));
                    break;
                }
                idle = Duration::ZERO;
            }
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                idle += POLL;
                if idle >= idle_timeout {
                    break;
                }
            }
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(_) => break,
        }
    }
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

/// Runs one decoded message through the handler and encodes the `(code, value)` reply.
fn reply_to(msg: &Value, handler: &dyn Handler) -> Vec<u8> {
    let cmd = match msg {
        Value::List(c) | Value::Tuple(c) => c.as_slice(),
        other => {
            let e = CommandError::Type(format!(
                "'{}' object is not subscriptable",
                other.type_name()
            ));
            return crate::encode_reply(1, &e.to_value());
        }
    };
    if cmd.is_empty() {
        // What fail2ban's transmitter raises on an empty command.
        return crate::encode_reply(
            1,
            &CommandError::Index("list index out of range".into()).to_value(),
        );
    }
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| handler.handle(cmd)));
    match result {
        Ok(Ok(v)) => crate::encode_reply(0, &v),
        Ok(Err(e)) => crate::encode_reply(1, &e.to_value()),
        Err(_) => {
            let shown = crate::value::Value::List(cmd.to_vec()).py_repr();
            tracing::error!("control command handler panicked on {shown}");
            crate::encode_reply(1, &CommandError::Failed("internal error".into()).to_value())
        }
    }
}

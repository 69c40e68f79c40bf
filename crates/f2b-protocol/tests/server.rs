//! The control-socket listener: file handling, framing on a live socket, refusals.

use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use f2b_protocol::client::Connection;
use f2b_protocol::pickle::{loads, Mode};
use f2b_protocol::server::{CommandError, Handler, Listener, Options, ServerError};
use f2b_protocol::{encode_request, Value, CLOSE, END};

#[derive(Default)]
struct Echo {
    calls: AtomicUsize,
}

impl Handler for Echo {
    fn handle(&self, cmd: &[Value]) -> Result<Value, CommandError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        match cmd[0].as_str() {
            Some("boom") => panic!("handler bug"),
            Some("fail") => Err(CommandError::Value("bad value".into())),
            _ => Ok(Value::List(cmd.to_vec())),
        }
    }
}

fn serve(
    path: &Path,
) -> (
    Arc<Echo>,
    f2b_protocol::server::ShutdownHandle,
    std::thread::JoinHandle<()>,
) {
    let listener = Listener::bind(path, Options::default()).unwrap();
    let stop = listener.shutdown_handle();
    let echo = Arc::new(Echo::default());
    let h: Arc<dyn Handler> = echo.clone();
    let t = std::thread::spawn(move || listener.serve(h));
    (echo, stop, t)
}

/// Reads one reply (up to and including the terminator) from a raw stream.
fn read_reply(stream: &mut UnixStream) -> Vec<u8> {
    let mut buf = Vec::new();
    let mut byte = [0u8; 4096];
    while !buf.ends_with(END) {
        let n = stream.read(&mut byte).unwrap();
        assert!(n > 0, "connection closed early");
        buf.extend_from_slice(&byte[..n]);
    }
    buf.truncate(buf.len() - END.len());
    buf
}

#[test]
fn socket_file_lifecycle() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("run").join("f2b.sock");
    let (_echo, stop, t) = serve(&path);
    let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    // A second server refuses while the file exists, unless forced.
    assert!(matches!(
        Listener::bind(&path, Options::default()),
        Err(ServerError::AlreadyRunning(_))
    ));
    stop.shutdown();
    t.join().unwrap();
    assert!(!path.exists(), "socket removed on shutdown");

    // A stale file (crashed server) needs force, as fail2ban's -x.
    std::fs::write(&path, b"").unwrap();
    assert!(matches!(
        Listener::bind(&path, Options::default()),
        Err(ServerError::AlreadyRunning(_))
    ));
    let forced = Listener::bind(
        &path,
        Options {
            force: true,
            ..Options::default()
        },
    )
    .unwrap();
    assert!(std::fs::symlink_metadata(&path)
        .unwrap()
        .file_type()
        .is_socket_like());
    drop(forced);
    assert!(!path.exists());
}

trait SocketLike {
    fn is_socket_like(&self) -> bool;
}
impl SocketLike for std::fs::FileType {
    fn is_socket_like(&self) -> bool {
        use std::os::unix::fs::FileTypeExt;
        self.is_socket()
    }
}

#[test]
fn many_requests_on_one_connection_and_odd_frames() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("f2b.sock");
    let (echo, stop, t) = serve(&path);

    let mut conn = Connection::connect(&path, Some(Duration::from_secs(5))).unwrap();
    for i in 0..5 {
        let r = conn.send(&[Value::str("echo"), Value::Int(i)]).unwrap();
        assert_eq!(r.code, 0);
        assert_eq!(
            r.value,
            Value::List(vec![Value::str("echo"), Value::Int(i)])
        );
    }
    // The terminator inside an argument does not cut the message.
    let tricky = format!("a{}b", String::from_utf8_lossy(END));
    let r = conn
        .send(&[Value::str("set"), Value::Str(tricky.clone())])
        .unwrap();
    assert_eq!(
        r.value,
        Value::List(vec![Value::str("set"), Value::Str(tricky)])
    );
    // Errors come back as exceptions with code 1; a panicking handler does not kill the server.
    let r = conn.send(&[Value::str("fail")]).unwrap();
    assert_eq!(
        (r.code, r.value),
        (
            1,
            Value::Exception {
                class: "builtins.ValueError".into(),
                message: "bad value".into()
            }
        )
    );
    let r = conn.send(&[Value::str("boom")]).unwrap();
    assert_eq!(r.code, 1);
    let r = conn.send(&[]).unwrap();
    assert_eq!(
        (r.code, r.value),
        (
            1,
            Value::Exception {
                class: "builtins.IndexError".into(),
                message: "list index out of range".into()
            }
        )
    );
    conn.close();

    // Raw bytes: garbage and a pickle naming os.system are answered with an error string
    // (as fail2ban does), the handler never sees them, and the connection goes on.
    let calls = echo.calls.load(Ordering::SeqCst);
    let mut raw = UnixStream::connect(&path).unwrap();
    raw.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    raw.write_all(b"\x80\x05garbage").unwrap();
    raw.write_all(END).unwrap();
    let reply = loads(&read_reply(&mut raw), Mode::Reply).unwrap();
    assert!(
        matches!(&reply, Value::Str(s) if s.starts_with("ERROR: ")),
        "{reply:?}"
    );
    raw.write_all(b"cos\nsystem\n(Vtouch /tmp/pwned\ntR.")
        .unwrap();
    raw.write_all(END).unwrap();
    let reply = loads(&read_reply(&mut raw), Mode::Reply).unwrap();
    assert!(
        matches!(&reply, Value::Str(s) if s.contains("refused")),
        "{reply:?}"
    );
    assert_eq!(echo.calls.load(Ordering::SeqCst), calls);
    // Split writes, then a polite close.
    let req = encode_request(&[Value::str("ping")]);
    let (a, b) = req.split_at(7);
    raw.write_all(a).unwrap();
    std::thread::sleep(Duration::from_millis(50));
    raw.write_all(b).unwrap();
    let reply = f2b_protocol::decode_reply(&read_reply(&mut raw)).unwrap();
    assert_eq!(reply, (0, Value::List(vec![Value::str("ping")])));
    raw.write_all(CLOSE).unwrap();
    raw.write_all(END).unwrap();
    let mut rest = Vec::new();
    raw.read_to_end(&mut rest).unwrap();
    assert!(rest.is_empty());

    // An endless message is cut off at the size limit.
    let mut big = UnixStream::connect(&path).unwrap();
    big.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let chunk = vec![b'x'; 1 << 20];
    let mut sent = 0usize;
    while sent <= f2b_protocol::MAX_FRAME_LEN + (1 << 20) {
        if big.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    let mut tail = Vec::new();
    let _ = big.read_to_end(&mut tail);
    assert!(sent <= f2b_protocol::MAX_FRAME_LEN + (2 << 20));

    stop.shutdown();
    t.join().unwrap();
}

#[test]
fn other_users_are_refused() {
    if !nix::unistd::geteuid().is_root() {
        eprintln!("SKIP other_users_are_refused: needs root to act as another user");
        return;
    }
    let python = ["/usr/bin/python3", "python3"]
        .into_iter()
        .find(|p| std::process::Command::new(p).arg("-V").output().is_ok());
    let Some(python) = python else {
        eprintln!("SKIP other_users_are_refused: python3 not found");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = dir.path().join("f2b.sock");
    let (echo, stop, t) = serve(&path);
    // Open the file itself so only the credential check stands in the way.
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o666)).unwrap();
    // Prints "connected" once the socket is open, then the size of any reply (0 when the
    // server hangs up: reset, broken pipe or end of stream).
    let script = format!(
        "import socket,pickle\ns=socket.socket(socket.AF_UNIX)\ns.connect({:?})\nprint('connected')\n\
         try:\n  s.sendall(pickle.dumps(['ping'],5)+b'<F2B_END_COMMAND>')\n  n=len(s.recv(100))\n\
         except (ConnectionResetError, BrokenPipeError):\n  n=0\nprint(n)",
        path.to_str().unwrap()
    );
    use std::os::unix::process::CommandExt;
    let out = std::process::Command::new(python)
        .arg("-c")
        .arg(&script)
        .uid(65534)
        .gid(65534)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.trim(),
        "connected\n0",
        "nobody must get no reply; stderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(echo.calls.load(Ordering::SeqCst), 0);
    // Root still gets through.
    let mut conn = Connection::connect(&path, Some(Duration::from_secs(5))).unwrap();
    assert_eq!(conn.send(&[Value::str("ping")]).unwrap().code, 0);
    stop.shutdown();
    t.join().unwrap();
}

//! The control socket of a running f2b-server under abuse: another user is kept out (by the
//! socket's mode, and by the peer-credential check when the mode is loosened), malformed,
//! truncated, deeply nested and oversized frames are refused without harming the server, and
//! pickles that name callables (`os.system` through GLOBAL/STACK_GLOBAL/INST + REDUCE/OBJ/NEWOBJ)
//! are refused before anything runs.
mod server_common;

use server_common::*;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const END: &[u8] = b"<F2B_END_COMMAND>";

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Sends `bytes` and reads what comes back until the terminator, a close, or 10 s.
fn exchange(sock: &Path, bytes: &[u8]) -> Vec<u8> {
    let mut s = UnixStream::connect(sock).expect("connect");
    s.set_read_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    s.set_write_timeout(Some(Duration::from_secs(10)))
        .expect("timeout");
    // the server may close early on an oversized frame: a broken pipe is an answer too
    let _ = s.write_all(bytes);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.ends_with(END) {
                    break;
                }
            }
        }
    }
    out
}

fn alive(tree: &Tree) {
    assert_eq!(
        ours(&tree.sock(), &["ping"]).1.trim(),
        "Server replied: pong",
        "server gone\n{}",
        tree.read("server.log")
    );
}

fn as_nobody(tree: &Tree, args: &[&str]) -> (i32, String) {
    let out = Command::new("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups"])
        .arg(f2b::bin("f2b-client"))
        .arg("-s")
        .arg(tree.sock())
        .args(args)
        .output()
        .expect("setpriv");
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn another_user_cannot_talk_to_the_socket() {
    if !is_root() || !f2b::have("setpriv") {
        f2b::skip(
            "another_user_cannot_talk_to_the_socket",
            "needs root and setpriv",
        );
        return;
    }
    let tree = Tree::new("[t]\nenabled = true\nlogpath = {dir}/t.log\naction = record[name=t]\n");
    tree.write("t.log", "");
    // the tree is a 0700 temp dir: open it (and the binaries' path) so that only the socket's own
    // protection is left
    std::fs::set_permissions(tree.dir(), std::fs::Permissions::from_mode(0o755))
        .expect("chmod dir");
    let _d = Daemon::start_ours(&tree);
    let mode = std::fs::metadata(tree.sock())
        .expect("socket")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode & 0o077, 0, "socket mode {mode:o} lets others in");
    let (code, out) = as_nobody(&tree, &["ping"]);
    assert_ne!(
        code, 0,
        "nobody got an answer through the socket's mode: {out}"
    );
    assert!(!out.contains("pong"), "{out}");

    // with the mode loosened by mistake, the server itself refuses a peer that is neither root
    // nor the socket's owner
    std::fs::set_permissions(tree.sock(), std::fs::Permissions::from_mode(0o666))
        .expect("chmod socket");
    let (code, out) = as_nobody(&tree, &["ping"]);
    assert!(
        !out.contains("pong"),
        "nobody got an answer from the server: {out}"
    );
    assert_ne!(code, 0, "{out}");
    let (_, out) = as_nobody(&tree, &["set", "t", "banip", "192.0.2.5"]);
    assert!(
        !tree.rec().iter().any(|l| l.contains("192.0.2.5")),
        "nobody banned an address: {out}"
    );
    alive(&tree);
}

/// A GLOBAL (protocol 0) `os.system` call: `os.system('touch CANARY')`.
fn pickle_global_reduce(canary: &str) -> Vec<u8> {
    format!("cos\nsystem\n(S'touch {canary}'\ntR.").into_bytes()
}

/// The same through protocol 4 STACK_GLOBAL, and `posix.system` through INST.
fn pickle_stack_global(canary: &str) -> Vec<u8> {
    let cmd = format!("touch {canary}");
    let mut p = vec![0x80, 4];
    for s in ["os", "system"] {
        p.push(0x8c); // SHORT_BINUNICODE
        p.push(s.len() as u8);
        p.extend_from_slice(s.as_bytes());
    }
    p.push(0x93); // STACK_GLOBAL
    p.push(0x8c);
    p.push(cmd.len() as u8);
    p.extend_from_slice(cmd.as_bytes());
    p.push(0x85); // TUPLE1
    p.push(b'R'); // REDUCE
    p.push(b'.');
    p
}

fn pickle_inst(canary: &str) -> Vec<u8> {
    format!("(S'touch {canary}'\niposix\nsystem\n.").into_bytes()
}

/// `['ping', subprocess.Popen(...)]` built with NEWOBJ inside an otherwise valid command list.
fn pickle_newobj_in_list(canary: &str) -> Vec<u8> {
    format!("(lp0\nS'ping'\np1\nacsubprocess\nPopen\n((S'touch'\nS'{canary}'\nltR.").into_bytes()
}

#[test]
fn malformed_oversized_and_code_carrying_frames_are_refused() {
    let tree = Tree::new("[t]\nenabled = true\nlogpath = {dir}/t.log\naction = record[name=t]\n");
    tree.write("t.log", "");
    let _d = Daemon::start_ours(&tree);
    let sock = tree.sock();
    let canary = tree.path("canary").display().to_string();

    let mut cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", b"hello world".to_vec()),
        ("empty", Vec::new()),
        ("truncated", b"\x80\x02]q\x00(X\x04\x00\x00\x00pi".to_vec()),
        ("bad opcode", b"\x80\x02\xff\xfe.".to_vec()),
        ("huge length", b"\x80\x02X\xff\xff\xff\x7f".to_vec()),
        ("not a list", b"\x80\x02K\x05.".to_vec()),
        ("global reduce", pickle_global_reduce(&canary)),
        ("stack global", pickle_stack_global(&canary)),
        ("inst", pickle_inst(&canary)),
        ("newobj in list", pickle_newobj_in_list(&canary)),
        ("deep lists", {
            let mut p = vec![0x80, 2];
            p.extend(std::iter::repeat_n(b']', 200_000));
            p.extend(std::iter::repeat_n(b'a', 199_999));
            p.push(b'.');
            p
        }),
        ("deep marks", {
            let mut p = vec![0x80, 2];
            p.extend(std::iter::repeat_n(b'(', 200_000));
            p.push(b'.');
            p
        }),
        ("memo abuse", b"\x80\x02h\x05h\xff.".to_vec()),
    ];
    for (name, body) in cases.iter_mut() {
        body.extend_from_slice(END);
        let reply = exchange(&sock, body);
        // an error reply or a closed connection are both refusals; "pong" never is
        let text = String::from_utf8_lossy(&reply);
        assert!(!text.contains("pong"), "{name}: {text}");
        alive(&tree);
    }
    // a frame far past any command's size, without a terminator: the server drops the peer
    // instead of buffering it all
    let big = vec![b'A'; 64 * 1024 * 1024];
    let reply = exchange(&sock, &big);
    assert!(reply.len() < 4096, "reply of {} bytes", reply.len());
    alive(&tree);
    // many connections that send half a frame and go away
    for _ in 0..200 {
        let mut s = UnixStream::connect(&sock).expect("connect");
        let _ = s.write_all(b"\x80\x02]q\x00(X");
    }
    alive(&tree);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!Path::new(&canary).exists(), "a pickle ran a command");
    let log = tree.read("server.log");
    assert!(!log.contains("panicked"), "{log}");
}

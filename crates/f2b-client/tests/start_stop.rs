//! `start`, `restart`, `reload`, `stop` with the real f2b-server (found beside f2b-client, as
//! the client itself looks for it), and `-t`/`-d` side by side with fail2ban-client.

use std::path::{Path, PathBuf};
use std::process::Command;

const OURS: &str = env!("CARGO_BIN_EXE_f2b-client");

/// A minimal configuration tree: one polling jail without actions, everything in `dir`.
/// `extra`: "" for a clean tree, "broken" for a jail with a missing filter, "nofile" for a
/// jail whose log file does not exist, "onlybroken" for the broken jail as the only one.
fn write_config(dir: &Path, extra: &str) -> PathBuf {
    let conf = dir.join("conf");
    std::fs::create_dir_all(conf.join("filter.d")).unwrap();
    let d = dir.display();
    std::fs::write(
        conf.join("fail2ban.conf"),
        format!(
            "[Definition]\nloglevel = INFO\nlogtarget = {d}/f2b.log\nsocket = {d}/f2b.sock\n\
             pidfile = {d}/f2b.pid\ndbfile = :memory:\n"
        ),
    )
    .unwrap();
    std::fs::write(
        conf.join("filter.d/test.conf"),
        "[Definition]\nfailregex = ^fail from <HOST>$\n",
    )
    .unwrap();
    std::fs::write(dir.join("test.log"), "").unwrap();
    let mut jails = format!(
        "[t]\nenabled = {}\nfilter = test\nlogpath = {d}/test.log\nbackend = polling\naction =\n",
        extra != "onlybroken"
    );
    match extra {
        "broken" | "onlybroken" => jails.push_str(&format!(
            "\n[broken]\nenabled = true\nfilter = nosuchfilter\nlogpath = {d}/test.log\n"
        )),
        "nofile" => jails.push_str(&format!(
            "\n[nofile]\nenabled = true\nfilter = test\nlogpath = {d}/missing.log\n"
        )),
        _ => {}
    }
    std::fs::write(conf.join("jail.conf"), jails).unwrap();
    conf
}

fn client(exe: &str, conf: &Path, args: &[&str]) -> (String, i32) {
    let out = Command::new(exe)
        .arg("-c")
        .arg(conf)
        .args(args)
        .output()
        .unwrap();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        out.status.code().unwrap_or(-1),
    )
}

fn reference() -> Option<&'static str> {
    Command::new("fail2ban-client")
        .arg("-V")
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| "fail2ban-client")
}

#[test]
fn test_and_dump_match_fail2ban_client() {
    let dir = tempfile::tempdir().unwrap();
    for extra in ["", "broken", "nofile", "onlybroken"] {
        let conf = write_config(dir.path(), extra);
        let t = client(OURS, &conf, &["-t"]);
        let d = client(OURS, &conf, &["-d"]);
        let td = client(OURS, &conf, &["-t", "-d"]);
        if extra.is_empty() {
            assert_eq!(t, ("OK: configuration test is successful\n".into(), 0));
        } else {
            assert_eq!(t, (String::new(), 255), "-t with a {extra} jail");
        }
        // A broken jail is skipped by -d, which still succeeds unless no jail loaded; a
        // missing log file is fine for -d (and for -t -d, which tests what -d read).
        assert!(!d.0.contains("['add', 'broken'"), "{}", d.0);
        if extra == "onlybroken" {
            assert_eq!((d.1, td.1), (255, 255));
        } else {
            assert_eq!(d.1, 0);
            assert!(d.0.contains("['add', 't', 'polling']\n"), "{}", d.0);
            assert_eq!(td.1, if extra == "broken" { 255 } else { 0 });
        }
        match reference() {
            Some(r) => {
                assert_eq!(t, client(r, &conf, &["-t"]), "-t ({extra})");
                assert_eq!(d, client(r, &conf, &["-d"]), "-d ({extra})");
                assert_eq!(td, client(r, &conf, &["-t", "-d"]), "-t -d ({extra})");
            }
            None => eprintln!("SKIP comparison: fail2ban-client is not installed"),
        }
    }
}

#[test]
fn pretty_dump_matches_fail2ban_client() {
    let Some(r) = reference() else {
        eprintln!("SKIP pretty_dump_matches_fail2ban_client: fail2ban-client is not installed");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let conf = write_config(dir.path(), "");
    // Long enough to open the command up, with one regex longer than a line (cut at spaces)
    // and one without spaces to cut.
    let words: Vec<String> = (0..150).map(|i| format!("word{i}")).collect();
    let filter = format!(
        "[Definition]\nfailregex = ^a {} <HOST>$\n            ^{}<HOST>$\n            ^short <HOST>$\n",
        words.join(" "),
        "x".repeat(1200)
    );
    std::fs::write(conf.join("filter.d/test.conf"), filter).unwrap();
    let ours = client(OURS, &conf, &["--dp"]);
    assert!(ours.0.contains("\n  [ '^a word0 word1 "), "{}", ours.0);
    assert_eq!(ours, client(r, &conf, &["--dp"]));
}

#[test]
fn start_restart_reload_stop() {
    let server = Path::new(OURS).with_file_name("f2b-server");
    if !server.is_file() {
        eprintln!(
            "SKIP start_restart_reload_stop: {} is not built",
            server.display()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let conf = write_config(dir.path(), "");
    let sock = dir.path().join("f2b.sock");
    let run = |args: &[&str]| client(OURS, &conf, args);
    let stop_anyway = StopOnDrop(conf.clone());

    assert_eq!(run(&["start"]), ("Server ready\n".into(), 0));
    assert!(sock.exists());
    // A second start finds it running.
    assert_eq!(run(&["start"]), (String::new(), 255));
    let (out, code) = run(&["status"]);
    assert_eq!(
        (out.as_str(), code),
        ("Status\n|- Number of jail:\t1\n`- Jail list:\tt\n", 0)
    );
    assert_eq!(run(&["set", "t", "banip", "192.0.2.7"]), ("1\n".into(), 0));
    assert_eq!(run(&["reload"]), ("OK\n".into(), 0));
    assert_eq!(run(&["reload", "--restart", "t"]), ("OK\n".into(), 0));
    assert_eq!(run(&["reload", "--bogus", "t"]).1, 255);
    assert_eq!(
        run(&["restart"]),
        ("Shutdown successful\nServer ready\n".into(), 0)
    );
    assert_eq!(run(&["ping"]), ("Server replied: pong\n".into(), 0));
    assert_eq!(run(&["stop"]), ("Shutdown successful\n".into(), 0));
    let gone = (0..100).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(50));
        !sock.exists()
    });
    assert!(gone, "socket still there after stop");
    assert_eq!(run(&["ping"]), (String::new(), 255));
    drop(stop_anyway);
}

/// Stops a server left running by a failed assertion.
struct StopOnDrop(PathBuf);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let _ = Command::new(OURS)
                .arg("-c")
                .arg(&self.0)
                .arg("stop")
                .output();
        }
    }
}

#[test]
fn foreground_start_stays_until_stop() {
    use std::io::BufRead;
    let server = Path::new(OURS).with_file_name("f2b-server");
    if !server.is_file() {
        eprintln!(
            "SKIP foreground_start_stays_until_stop: {} is not built",
            server.display()
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let conf = write_config(dir.path(), "");
    let stop_anyway = StopOnDrop(conf.clone());
    let mut child = Command::new(OURS)
        .arg("-c")
        .arg(&conf)
        .args(["-f", "start"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = std::io::BufReader::new(child.stdout.take().unwrap()).lines();
    assert_eq!(lines.next().unwrap().unwrap(), "Server ready");
    assert_eq!(
        client(OURS, &conf, &["ping"]),
        ("Server replied: pong\n".into(), 0)
    );
    // The foreground client is still there, with its server.
    assert!(child.try_wait().unwrap().is_none());
    assert_eq!(
        client(OURS, &conf, &["stop"]),
        ("Shutdown successful\n".into(), 0)
    );
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    drop(stop_anyway);
}

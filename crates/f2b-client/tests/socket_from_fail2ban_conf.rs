//! Without `-s`, the socket comes from the fail2ban.conf family only, as in fail2ban-client:
//! a broken jail file changes nothing, a broken fail2ban file stops the client naming it.
//! Compared with Debian's fail2ban-client on the same trees when it is installed.

use std::path::Path;
use std::process::Command;

const OURS: &str = env!("CARGO_BIN_EXE_f2b-client");

/// `fail2ban.conf` naming a socket and pid file in `dir`, plus whatever `files` adds.
fn tree(dir: &Path, files: &[(&str, String)]) -> std::path::PathBuf {
    let conf = dir.join("conf");
    std::fs::create_dir_all(conf.join("fail2ban.d")).unwrap();
    std::fs::create_dir_all(conf.join("jail.d")).unwrap();
    std::fs::write(conf.join("fail2ban.d/README"), "kept\n").unwrap();
    let d = dir.display();
    std::fs::write(
        conf.join("fail2ban.conf"),
        format!(
            "[Definition]\nloglevel = INFO\nlogtarget = {d}/f2b.log\nsyslogsocket = auto\n\
             socket = {d}/conf.sock\npidfile = {d}/conf.pid\n"
        ),
    )
    .unwrap();
    std::fs::write(conf.join("jail.conf"), "[DEFAULT]\nbantime = 10m\n").unwrap();
    for (name, text) in files {
        std::fs::write(conf.join(name), text).unwrap();
    }
    conf
}

/// stdout, the stderr lines without their time stamp and process prefix, exit status.
fn run(exe: &str, args: &[&str]) -> (String, Vec<String>, i32) {
    let out = Command::new(exe).args(args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(|l| match l.find("]: ") {
            Some(i) => l[i + 3..].to_string(),
            None => l.to_string(),
        })
        .collect();
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr,
        out.status.code().unwrap_or(-1),
    )
}

fn reference() -> Option<&'static str> {
    let found = Command::new("fail2ban-client")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        eprintln!("SKIP fail2ban-client comparison: fail2ban-client is not installed");
    }
    found.then_some("fail2ban-client")
}

fn check_same_as_reference(conf: &Path, args: &[&str]) {
    let Some(reference) = reference() else { return };
    let mut full = vec!["-c", conf.to_str().unwrap()];
    full.extend_from_slice(args);
    assert_eq!(
        run(OURS, &full),
        run(reference, &full),
        "f2b-client {full:?} differs from fail2ban-client"
    );
}

#[test]
fn broken_jail_file_leaves_the_socket_of_fail2ban_conf() {
    let dir = tempfile::tempdir().unwrap();
    let conf = tree(
        dir.path(),
        &[("jail.local", "[sshd\nenabled = true\n".into())],
    );
    let (out, err, code) = run(OURS, &["-c", conf.to_str().unwrap(), "ping"]);
    assert_eq!(code, 255, "stdout {out:?} stderr {err:?}");
    let want = format!(
        "ERROR   Failed to access socket path: {}/conf.sock. Is fail2ban running?",
        dir.path().display()
    );
    assert_eq!(err, vec![want]);
    assert_eq!(out, "");
    check_same_as_reference(&conf, &["ping"]);
    // The client's private view of the tree is links: removing it left the tree whole.
    for kept in [
        "fail2ban.conf",
        "jail.conf",
        "jail.local",
        "fail2ban.d",
        "jail.d",
    ] {
        assert!(conf.join(kept).exists(), "{kept} is gone");
    }
    assert!(
        conf.join("fail2ban.d/README").is_file(),
        "fail2ban.d was emptied"
    );
}

#[test]
fn local_file_and_fail2ban_d_override_the_socket_with_broken_jail_d() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().display();
    let conf = tree(
        dir.path(),
        &[
            (
                "fail2ban.d/10-socket.conf",
                format!("[Definition]\nsocket = {d}/from-d.sock\n"),
            ),
            (
                "fail2ban.local",
                format!("[Definition]\nsocket = %(sockdir)s/local.sock\nsockdir = {d}\n"),
            ),
            ("jail.d/broken.conf", "no section header\n".into()),
        ],
    );
    let (_, err, code) = run(OURS, &["-c", conf.to_str().unwrap(), "status"]);
    assert_eq!(code, 255);
    assert_eq!(
        err,
        vec![format!(
            "ERROR   Failed to access socket path: {d}/local.sock. Is fail2ban running?"
        )]
    );
    check_same_as_reference(&conf, &["status"]);
    // Without the .local, fail2ban.d/ decides.
    std::fs::remove_file(conf.join("fail2ban.local")).unwrap();
    let (_, err, _) = run(OURS, &["-c", conf.to_str().unwrap(), "status"]);
    assert_eq!(
        err,
        vec![format!(
            "ERROR   Failed to access socket path: {d}/from-d.sock. Is fail2ban running?"
        )]
    );
}

#[test]
fn broken_fail2ban_local_stops_the_client_naming_the_real_file() {
    let dir = tempfile::tempdir().unwrap();
    let conf = tree(
        dir.path(),
        &[("fail2ban.local", "socket = /nowhere\n".into())],
    );
    let (out, _, code) = run(OURS, &["-c", conf.to_str().unwrap(), "ping"]);
    assert_eq!(code, 255);
    let real = conf.join("fail2ban.local");
    assert!(
        out.starts_with("ERROR: ") && out.contains(&real.display().to_string()),
        "{out:?}"
    );
    // The wording of a syntax error is f2b-config's own; the outcome is fail2ban-client's.
    if let Some(reference) = reference() {
        let args = ["-c", conf.to_str().unwrap(), "ping"];
        let (ref_out, ref_err, ref_code) = run(reference, &args);
        let (_, err, code) = run(OURS, &args);
        assert_eq!((err, code), (ref_err, ref_code));
        assert!(ref_out.starts_with("ERROR: ") && ref_out.contains(&real.display().to_string()));
    }
}

#[test]
fn relative_configuration_directory() {
    let dir = tempfile::tempdir().unwrap();
    tree(dir.path(), &[("jail.local", "[sshd\n".into())]);
    let out = Command::new(OURS)
        .current_dir(dir.path())
        .args(["-c", "conf", "ping"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let want = format!(
        "Failed to access socket path: {}/conf.sock.",
        dir.path().display()
    );
    assert!(err.contains(&want), "{err:?}");
}

#[test]
fn without_a_temporary_directory_the_whole_tree_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let conf = tree(dir.path(), &[]);
    let out = Command::new(OURS)
        .env("TMPDIR", dir.path().join("missing"))
        .args(["-c", conf.to_str().unwrap(), "ping"])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let want = format!(
        "Failed to access socket path: {}/conf.sock.",
        dir.path().display()
    );
    assert!(err.contains(&want), "{err:?}");
    assert_eq!(out.status.code(), Some(255));
}

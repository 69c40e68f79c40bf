//! `load_fail2ban` reads the fail2ban.conf family with its overrides and nothing else.
use std::fs;

#[test]
fn the_fail2ban_family_alone_with_its_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::create_dir_all(d.join("fail2ban.d")).unwrap();
    fs::write(
        d.join("fail2ban.conf"),
        "[Definition]\nloglevel = INFO\nlogtarget = /var/log/f2b.log\nsocket = /run/a.sock\npidfile = /run/a.pid\n",
    )
    .unwrap();
    fs::write(
        d.join("fail2ban.d/10.conf"),
        "[Definition]\nsocket = /run/b.sock\n",
    )
    .unwrap();
    fs::write(
        d.join("fail2ban.local"),
        "[Definition]\npidfile = /run/c.pid\n",
    )
    .unwrap();
    fs::write(
        d.join("fail2ban.d/20.local"),
        "[Definition]\nsocket = /run/d.sock\n",
    )
    .unwrap();
    // A jail file fail2ban-client would trip over when it reads the whole tree.
    fs::write(d.join("jail.local"), "[broken\n").unwrap();

    let f = f2b_config::load_fail2ban(d).expect("fail2ban files alone read fine");
    assert_eq!(f.socket, std::path::Path::new("/run/d.sock"));
    assert_eq!(f.pidfile, std::path::Path::new("/run/c.pid"));
    assert!(f2b_config::load(d).is_err(), "the whole tree does not read");
    // the same general settings the whole-tree read sends
    fs::remove_file(d.join("jail.local")).unwrap();
    let whole = f2b_config::load(d).expect("whole tree");
    assert_eq!(f.server, whole.server);
    assert_eq!((f.socket, f.pidfile), (whole.socket, whole.pidfile));
}

#[test]
fn errors_name_the_fail2ban_file_and_a_missing_dir() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    fs::write(
        d.join("fail2ban.conf"),
        "[Definition]\nsocket = /run/a.sock\n",
    )
    .unwrap();
    fs::write(d.join("fail2ban.local"), "[Definition\n").unwrap();
    let e = f2b_config::load_fail2ban(d).unwrap_err().to_string();
    assert!(e.contains("fail2ban.local"), "{e}");
    let e = f2b_config::load_fail2ban(&d.join("nope"))
        .unwrap_err()
        .to_string();
    assert!(e.contains("does not exist"), "{e}");
}

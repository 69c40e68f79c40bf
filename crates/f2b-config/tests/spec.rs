//! Typed specs built from real streams: the stock tree and the users' seeds.

use std::path::{Path, PathBuf};

use f2b_config::{load, JailSpec, ServerSpec, UseDns};

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap().flatten() {
        let t = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &t);
        } else {
            std::fs::copy(e.path(), &t).unwrap();
        }
    }
}

fn stock(seed: Option<&Path>, local: Option<&str>) -> Option<tempfile::TempDir> {
    if !Path::new("/etc/fail2ban/jail.conf").is_file() {
        eprintln!("SKIP: no stock /etc/fail2ban tree");
        return None;
    }
    let t = tempfile::tempdir().unwrap();
    copy_tree(Path::new("/etc/fail2ban"), t.path());
    for e in std::fs::read_dir(t.path().join("jail.d"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let _ = std::fs::remove_file(e.path());
    }
    if let Some(s) = seed {
        copy_tree(s, t.path());
    }
    if let Some(l) = local {
        std::fs::write(t.path().join("jail.local"), l).unwrap();
    }
    Some(t)
}

fn seed(name: &str) -> Option<PathBuf> {
    let d = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/seeds")
        .join(name);
    if d.is_dir() {
        Some(d)
    } else {
        eprintln!("SKIP: ../shared/seeds/{name} is absent");
        None
    }
}

#[test]
fn stock_sshd_and_recidive() {
    let local = "[sshd]\nenabled = true\nbackend = systemd\n[recidive]\nenabled = true\nbantime.increment = true\nbantime.maxtime = 5w\n";
    let Some(t) = stock(None, Some(local)) else {
        return;
    };
    let cfg = load(t.path()).unwrap();
    assert!(cfg.errors.is_empty(), "{:?}", cfg.errors);
    let server = ServerSpec::from_config(&cfg).unwrap();
    assert_eq!(
        server.socket,
        PathBuf::from("/var/run/fail2ban/fail2ban.sock")
    );
    assert_eq!(server.dbpurgeage, 86_400.0);
    assert_eq!(server.dbmaxmatches, Some(10));
    assert_eq!(server.allowipv6, None);
    let specs: Vec<JailSpec> = cfg
        .jails
        .iter()
        .map(|j| JailSpec::from_stream(j).unwrap())
        .collect();
    let sshd = &specs[0];
    assert_eq!(
        (sshd.name.as_str(), sshd.backend.kind.as_str()),
        ("sshd", "systemd")
    );
    assert_eq!(
        (sshd.maxretry, sshd.maxmatches, sshd.findtime, sshd.bantime),
        (5, 5, 600.0, 600.0)
    );
    assert_eq!(
        sshd.journalmatch,
        vec!["_SYSTEMD_UNIT=sshd.service", "+", "_COMM=sshd"]
    );
    assert!(
        sshd.logpaths.is_empty(),
        "systemd backend takes no log files"
    );
    assert!(
        sshd.failregex.len() > 10
            && sshd
                .prefregex
                .as_deref()
                .is_some_and(|p| p.contains("<F-CONTENT>"))
    );
    assert_eq!(sshd.usedns, UseDns::Warn);
    assert_eq!(sshd.maxlines, Some(1));
    assert!(sshd.ignoreself && sshd.ignorecommand.is_none());
    let act = &sshd.actions[0];
    assert_eq!(act.name, "iptables-multiport");
    assert_eq!(
        act.commands.get("actionban").map(String::as_str),
        Some("<iptables> -I f2b-sshd 1 -s <ip> -j <blocktype>")
    );
    assert_eq!(act.properties.get("port").map(String::as_str), Some("ssh"));
    assert_eq!(
        act.properties
            .get("blocktype?family=inet6")
            .map(String::as_str),
        Some("REJECT --reject-with icmp6-port-unreachable")
    );
    let rec = &specs[1];
    assert_eq!(rec.bantime, 604_800.0);
    assert_eq!(rec.findtime, 86_400.0);
    assert_eq!(
        rec.logpaths,
        vec![(PathBuf::from("/var/log/fail2ban.log"), false)]
    );
    let inc = rec.bantime_increment.as_ref().expect("increment on");
    assert_eq!(inc.maxtime, Some(5.0 * 604_800.0));
}

#[test]
fn every_stock_jail_converts() {
    let Some(t) = stock(None, None) else { return };
    let conf = std::fs::read_to_string(t.path().join("jail.conf")).unwrap();
    let mut local = String::new();
    for l in conf.lines() {
        if let Some(n) = l.strip_prefix('[').and_then(|r| r.split(']').next()) {
            if n != "INCLUDES" && n != "DEFAULT" && !n.is_empty() {
                local.push_str(&format!("[{n}]\nenabled = true\n"));
            }
        }
    }
    std::fs::write(t.path().join("jail.local"), local).unwrap();
    let cfg = load(t.path()).unwrap();
    assert!(cfg.jails.len() > 80, "{} jails", cfg.jails.len());
    for j in &cfg.jails {
        if j.config_error().is_some() {
            continue;
        }
        let s = JailSpec::from_stream(j).unwrap_or_else(|e| panic!("{}: {e}", j.name));
        assert!(s.findtime > 0.0 && s.bantime != 0.0, "{}", s.name);
        // Every stock jail bans through at least one action with a ban command.
        assert!(
            s.actions
                .iter()
                .any(|a| a.commands.contains_key("actionban") || a.python.is_some()),
            "{}",
            s.name
        );
    }
}

#[test]
fn tor_netscan_seed() {
    let Some(sd) = seed("tor-netscan") else {
        return;
    };
    let Some(t) = stock(Some(&sd), None) else {
        return;
    };
    let cfg = load(t.path()).unwrap();
    let j = JailSpec::from_stream(&cfg.jails[0]).unwrap();
    assert_eq!(j.name, "tor-netscan");
    assert_eq!(j.backend.kind, "systemd");
    assert_eq!(j.journalmatch, vec!["_TRANSPORT=kernel"]);
    assert_eq!((j.maxretry, j.findtime, j.bantime), (20, 3.0, 900.0));
    assert!(
        j.failregex[0].contains("DPT=<F-ID>(?:20|21|22|23|389|636|989|990|992)</F-ID>"),
        "{}",
        j.failregex[0]
    );
    let a = &j.actions[0];
    assert!(a.commands["actionban"].starts_with("ufw reject out to any port <F-ID>"));
}

#[test]
fn portscan_seed_reads_messages() {
    let Some(sd) = seed("portscan") else { return };
    let Some(t) = stock(Some(&sd), None) else {
        return;
    };
    let cfg = load(t.path()).unwrap();
    let j = JailSpec::from_stream(&cfg.jails[0]).unwrap();
    assert_eq!(j.maxretry, 3);
    assert_eq!(j.actions[0].name, "iptables");
    assert_eq!(
        j.actions[0].properties.get("name").map(String::as_str),
        Some("portscan")
    );
    if Path::new("/var/log/messages").exists() {
        assert_eq!(
            j.logpaths,
            vec![(PathBuf::from("/var/log/messages"), false)]
        );
    }
}

#[test]
fn server_spec_settings() {
    let t = tempfile::tempdir().unwrap();
    std::fs::write(
        t.path().join("fail2ban.conf"),
        "[Definition]\nloglevel = DEBUG\nlogtarget = SYSOUT\nsocket = /run/x.sock\npidfile = /run/x.pid\ndbfile = None\ndbpurgeage = 2d 12h\nallowipv6 = no\n",
    )
    .unwrap();
    let cfg = load(t.path()).unwrap();
    let s = ServerSpec::from_config(&cfg).unwrap();
    assert_eq!(s.loglevel, "DEBUG");
    assert_eq!(s.logtarget, "SYSOUT");
    assert_eq!(s.socket, PathBuf::from("/run/x.sock"));
    assert_eq!(s.pidfile, PathBuf::from("/run/x.pid"));
    assert_eq!(s.dbfile, None);
    assert_eq!(s.dbpurgeage, 2.5 * 86_400.0);
    assert_eq!(s.allowipv6, Some(false));
    assert!(cfg.jails.is_empty());
}

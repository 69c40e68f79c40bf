//! Shell actions run for real: hostile log values never execute and arrive literally;
//! on-demand starts per family; fail2ban's check / repair / retry rules; timeouts.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use f2b_server::actions::{ActionDef, ActionInfo, CommandAction};
use f2b_server::ticket::{BanTicket, BanTime};

fn def(dir: &Path, cmds: &[(&str, &str)], props: &[(&str, &str)]) -> ActionDef {
    let d = dir.display().to_string();
    let mut p: BTreeMap<String, String> = props
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    p.insert("dir".into(), d);
    ActionDef::new(
        "test",
        cmds.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        p,
    )
}

fn read(p: &Path) -> String {
    std::fs::read_to_string(p).unwrap_or_default()
}

fn trace(dir: &Path) -> Vec<String> {
    read(&dir.join("trace"))
        .lines()
        .map(str::to_string)
        .collect()
}

const HOSTILE: &[&str] = &[
    "; touch <dir>/pwned #",
    "$(touch <dir>/pwned)",
    "`touch <dir>/pwned`",
    "| touch <dir>/pwned",
    "a\ntouch <dir>/pwned",
    "x' ; touch <dir>/pwned ; echo '",
    "x\" ; touch <dir>/pwned ; echo \"",
    "${IFS}touch${IFS}<dir>/pwned",
    "&& touch <dir>/pwned &",
    "> <dir>/pwned",
    "a\0b",
    "\\",
    "*",
];

#[test]
fn hostile_values_never_execute_and_arrive_literally() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let pwned = dir.join("pwned");
    let d = def(
        dir,
        &[(
            "actionban",
            "printf '%s\\n' \"<F-USER>\" >> <dir>/user; printf '%s\\n' \"<matches>\" >> <dir>/matches; \
             printf '%s\\n' \"<ip>\" >> <dir>/ip; echo <F-USER> '<F-USER>' <ip> >/dev/null",
        )],
        &[],
    );
    let mut a = CommandAction::new(d, "jail", true);
    a.start(0.0).unwrap();
    for raw in HOSTILE {
        let v = raw.replace("<dir>", &dir.display().to_string());
        for f in ["user", "matches", "ip"] {
            let _ = std::fs::remove_file(dir.join(f));
        }
        let mut t = BanTicket::new(v.clone(), 1.0);
        t.set_capture("user", v.clone());
        t.data_mut().matches = vec![v.clone()];
        let info = ActionInfo::new(&t, BanTime::Seconds(600.0));
        a.ban(&info, 1.0)
            .unwrap_or_else(|e| panic!("ban with {v:?}: {e}"));
        assert!(!pwned.exists(), "value {v:?} executed");
        // NUL cannot cross exec: it is dropped, everything else arrives as it was
        let expect = format!("{}\n", v.replace('\0', ""));
        assert_eq!(read(&dir.join("user")), expect, "F-USER {v:?}");
        assert_eq!(read(&dir.join("matches")), expect, "matches {v:?}");
        assert_eq!(read(&dir.join("ip")), expect, "ip {v:?}");
    }
}

#[test]
fn plain_values_are_inline_so_quoted_templates_work() {
    // fail2ban writes values free of shell syntax as they are: `grep '<ip>,<name>'` relies on it
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let d = def(
        dir,
        &[("actionban", "echo '<ip>,<name>' '<F-ID>' <bantime> <bancount> <failures> '<time>' <family> >> <dir>/out")],
        &[("name", "ipscan")],
    );
    let mut a = CommandAction::new(d, "jail", true);
    let mut t = BanTicket::new("192.0.2.7", 1_700_000_000.0);
    t.set_capture("fid", "443");
    t.set_ban_count(3);
    t.data_mut().failures = 20;
    a.ban(&ActionInfo::new(&t, BanTime::Seconds(900.0)), 0.0)
        .unwrap();
    assert_eq!(
        read(&dir.join("out")),
        "192.0.2.7,ipscan 443 900 3 20 1700000000.0 inet4\n"
    );
}

#[test]
fn start_on_demand_per_family_and_stop() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let d = def(
        dir,
        &[
            (
                "actionstart",
                "echo start <family> <blocktype> >> <dir>/trace",
            ),
            ("actionstop", "echo stop <family> >> <dir>/trace"),
            ("actionban", "echo ban <ip> <blocktype> >> <dir>/trace"),
            ("actionunban", "echo unban <ip> >> <dir>/trace"),
        ],
        &[
            ("blocktype", "icmp-port-unreachable"),
            ("blocktype?family=inet6", "icmp6-port-unreachable"),
        ],
    );
    let mut a = CommandAction::new(d, "jail", true);
    a.start(0.0).unwrap();
    assert!(trace(dir).is_empty(), "conditional actions start on demand");
    let v4 = BanTicket::new("192.0.2.1", 1.0);
    let v6 = BanTicket::new("2001:db8::1", 1.0);
    let v4b = BanTicket::new("192.0.2.2", 1.0);
    let bt = BanTime::Seconds(60.0);
    a.ban(&ActionInfo::new(&v4, bt), 1.0).unwrap();
    a.ban(&ActionInfo::new(&v4b, bt), 1.0).unwrap();
    a.ban(&ActionInfo::new(&v6, bt), 1.0).unwrap();
    a.unban(&ActionInfo::new(&v4, bt), 2.0).unwrap();
    a.stop(3.0).unwrap();
    assert_eq!(
        trace(dir),
        [
            "start inet4 icmp-port-unreachable",
            "ban 192.0.2.1 icmp-port-unreachable",
            "ban 192.0.2.2 icmp-port-unreachable",
            "start inet6 icmp6-port-unreachable",
            "ban 2001:db8::1 icmp6-port-unreachable",
            "unban 192.0.2.1",
            "stop inet4",
            "stop inet6",
        ]
    );
    assert!(a.started_families().is_empty());
}

#[test]
fn plain_action_starts_once_and_unbans_only_with_bans() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let d = def(
        dir,
        &[
            ("actionstart", "echo start >> <dir>/trace"),
            ("actionstop", "echo stop >> <dir>/trace"),
            ("actionban", "echo ban <ip> >> <dir>/trace"),
            ("actionunban", "echo unban <ip> >> <dir>/trace"),
            ("actionflush", "echo flush >> <dir>/trace"),
        ],
        &[],
    );
    let mut a = CommandAction::new(d, "jail", true);
    a.start(0.0).unwrap();
    let t = BanTicket::new("192.0.2.1", 1.0);
    let bt = BanTime::Seconds(60.0);
    a.unban(&ActionInfo::new(&t, bt), 1.0).unwrap(); // nothing banned yet: no unban
    a.flush(1.0).unwrap(); // nothing banned: no flush
    a.ban(&ActionInfo::new(&t, bt), 1.0).unwrap();
    assert!(a.has_flush());
    a.flush(2.0).unwrap();
    a.unban(&ActionInfo::new(&t, bt), 2.0).unwrap(); // flushed: no unban
    a.stop(3.0).unwrap();
    a.stop(3.0).unwrap(); // stopped: nothing more
    assert_eq!(trace(dir), ["start", "ban 192.0.2.1", "flush", "stop"]);
}

#[test]
fn failing_ban_is_retried_once_without_check() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let d = def(
        dir,
        &[("actionban", "echo ban >> <dir>/trace; exit 1")],
        &[],
    );
    let mut a = CommandAction::new(d, "jail", true);
    let t = BanTicket::new("192.0.2.1", 1.0);
    let e = a
        .ban(&ActionInfo::new(&t, BanTime::Seconds(60.0)), 1.0)
        .unwrap_err();
    assert_eq!(e.to_string(), "Error banning 192.0.2.1");
    assert_eq!(trace(dir), ["ban", "ban"]);
}

#[test]
fn failing_ban_checks_repairs_and_retries() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // the "firewall chain" is a file: check needs it, repair creates it, ban fails without it
    let d = def(
        dir,
        &[
            (
                "actionstart",
                "echo start >> <dir>/trace; touch <dir>/chain",
            ),
            (
                "actioncheck",
                "echo check >> <dir>/trace; test -e <dir>/chain",
            ),
            (
                "actionrepair",
                "echo repair >> <dir>/trace; touch <dir>/chain",
            ),
            ("actionban", "echo ban >> <dir>/trace; test -e <dir>/chain"),
        ],
        &[],
    );
    let mut a = CommandAction::new(d, "jail", true);
    a.start(0.0).unwrap();
    std::fs::remove_file(dir.join("chain")).unwrap();
    let epoch = a.ban_epoch();
    let t = BanTicket::new("192.0.2.1", 1.0);
    a.ban(&ActionInfo::new(&t, BanTime::Seconds(60.0)), 1.0)
        .unwrap();
    assert_eq!(
        trace(dir),
        ["start", "ban", "check", "repair", "check", "ban"]
    );
    assert_eq!(
        a.ban_epoch(),
        epoch + 1,
        "a repair invalidates earlier bans"
    );
}

#[test]
fn failing_check_without_repair_restarts_a_family() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    // conditional (per-family) action: the restart stops and starts the ticket's family
    let d = def(
        dir,
        &[
            (
                "actionstart",
                "echo start <family> >> <dir>/trace; touch <dir>/chain",
            ),
            (
                "actionstop",
                "echo stop <family> >> <dir>/trace; rm -f <dir>/chain",
            ),
            (
                "actioncheck",
                "echo check >> <dir>/trace; test -e <dir>/chain",
            ),
            ("actionban", "echo ban >> <dir>/trace; test -e <dir>/chain"),
            (
                "actionunban",
                "echo unban >> <dir>/trace; test -e <dir>/chain",
            ),
        ],
        &[("x?family=inet6", "6")],
    );
    let mut a = CommandAction::new(d, "jail", true);
    a.start(0.0).unwrap();
    let t = BanTicket::new("192.0.2.1", 1.0);
    let bt = BanTime::Seconds(60.0);
    a.ban(&ActionInfo::new(&t, bt), 1.0).unwrap();
    std::fs::remove_file(dir.join("chain")).unwrap();
    a.ban(&ActionInfo::new(&t, bt), 1.0).unwrap();
    assert_eq!(
        trace(dir),
        [
            "start inet4",
            "ban",
            "ban",
            "check",
            "stop inet4",
            "start inet4",
            "check",
            "ban"
        ]
    );
    // an unban does not repair (no actionrepair_on_unban): it fails after the check
    std::fs::remove_file(dir.join("chain")).unwrap();
    std::fs::remove_file(dir.join("trace")).unwrap();
    assert!(a.unban(&ActionInfo::new(&t, bt), 2.0).is_err());
    assert_eq!(trace(dir), ["unban", "check"]);
}

#[test]
fn plain_action_cannot_restart_for_a_ticket_family() {
    // fail2ban 1.0.2 gives exactly this: the start for family "" counts as done for "inet4",
    // so without actionrepair the restart runs nothing and the ban fails
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let d = def(
        dir,
        &[
            (
                "actionstart",
                "echo start >> <dir>/trace; touch <dir>/chain",
            ),
            ("actionstop", "echo stop >> <dir>/trace; rm -f <dir>/chain"),
            (
                "actioncheck",
                "echo check >> <dir>/trace; test -e <dir>/chain",
            ),
            ("actionban", "echo ban >> <dir>/trace; test -e <dir>/chain"),
        ],
        &[],
    );
    let mut a = CommandAction::new(d, "jail", true);
    a.start(0.0).unwrap();
    std::fs::remove_file(dir.join("chain")).unwrap();
    let t = BanTicket::new("192.0.2.1", 1.0);
    assert!(a
        .ban(&ActionInfo::new(&t, BanTime::Seconds(60.0)), 1.0)
        .is_err());
    assert_eq!(trace(dir), ["start", "ban", "check", "check"]);
}

#[test]
fn unrepairable_environment_fails_the_ban() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let d = def(
        dir,
        &[
            ("actioncheck", "echo check >> <dir>/trace; false"),
            ("actionrepair", "echo repair >> <dir>/trace; false"),
            ("actionban", "echo ban >> <dir>/trace; false"),
        ],
        &[],
    );
    let mut a = CommandAction::new(d, "jail", true);
    let t = BanTicket::new("192.0.2.1", 1.0);
    assert!(a
        .ban(&ActionInfo::new(&t, BanTime::Seconds(60.0)), 1.0)
        .is_err());
    assert_eq!(trace(dir), ["ban", "check", "repair"]);
}

#[test]
fn timeout_is_honoured() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let d = def(dir, &[("actionban", "sleep 30")], &[("timeout", "1")]);
    let mut a = CommandAction::new(d, "jail", true);
    let t = BanTicket::new("192.0.2.1", 1.0);
    let t0 = Instant::now();
    assert!(a
        .ban(&ActionInfo::new(&t, BanTime::Seconds(60.0)), 1.0)
        .is_err());
    // two attempts of 1 s each, plus the kill grace
    assert!(t0.elapsed() < Duration::from_secs(6), "{:?}", t0.elapsed());
}

#[test]
fn properties_substitute_recursively_and_self_reference_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let d = def(
        dir,
        &[("actionban", "echo <cmd> >> <dir>/out")],
        &[
            ("cmd", "<chain>-<port>"),
            ("chain", "f2b-<name>"),
            ("port", "ssh"),
            ("name", "sshd"),
        ],
    );
    let mut a = CommandAction::new(d, "jail", true);
    let t = BanTicket::new("192.0.2.1", 1.0);
    a.ban(&ActionInfo::new(&t, BanTime::Seconds(60.0)), 1.0)
        .unwrap();
    assert_eq!(read(&dir.join("out")), "f2b-sshd-ssh\n");

    let d = def(
        dir,
        &[("actionban", "echo <a>")],
        &[("a", "<b>"), ("b", "<a>")],
    );
    let mut a = CommandAction::new(d, "jail", true);
    let e = a
        .ban(&ActionInfo::new(&t, BanTime::Seconds(60.0)), 1.0)
        .unwrap_err();
    assert!(e.to_string().contains("self referencing"), "{e}");
}

#[test]
fn ip_matches_from_history() {
    use f2b_server::actions::BanHistory;
    use f2b_server::ticket::TicketData;
    struct H;
    impl BanHistory for H {
        fn merged(&self, _ip: &str, this_jail_only: bool) -> Option<TicketData> {
            Some(TicketData {
                failures: if this_jail_only { 4 } else { 9 },
                matches: vec![if this_jail_only {
                    "jail line".into()
                } else {
                    "all; line".into()
                }],
                captures: BTreeMap::new(),
            })
        }
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let d = def(
        dir,
        &[(
            "actionban",
            "echo \"<ipfailures> <ipjailfailures> <ipmatches> <ipjailmatches>\" >> <dir>/out",
        )],
        &[],
    );
    let mut a = CommandAction::new(d, "jail", true);
    let t = BanTicket::new("192.0.2.1", 1.0);
    let h = H;
    a.ban(
        &ActionInfo::new(&t, BanTime::Seconds(60.0)).with_history(&h),
        1.0,
    )
    .unwrap();
    assert_eq!(read(&dir.join("out")), "9 4 all; line jail line\n");
}

#[test]
fn ip_tags_from_a_real_database() {
    use f2b_server::actions::DbHistory;
    use f2b_server::database::Database;
    let db = Database::open(":memory:").unwrap();
    db.add_jail("sshd").unwrap();
    db.add_jail("web").unwrap();
    let mk = |jail: &str, t: f64, failures: u32, line: &str| {
        let mut b = BanTicket::new("198.51.100.9", t);
        b.set_ban_count(1);
        b.data_mut().failures = failures;
        b.data_mut().matches = vec![line.to_string()];
        db.add_ban(jail, &b, BanTime::Seconds(600.0)).unwrap();
    };
    mk("sshd", 100.0, 3, "ssh one");
    mk("web", 200.0, 4, "web one");
    mk("sshd", 300.0, 5, "ssh two");
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let d = def(
        dir,
        &[("actionban", "printf '%s|%s|%s|%s\\n' <ipfailures> <ipjailfailures> \"<ipmatches>\" \"<ipjailmatches>\" >> <dir>/out")],
        &[],
    );
    let mut a = CommandAction::new(d, "sshd", true);
    let t = BanTicket::new("198.51.100.9", 400.0);
    let h = DbHistory {
        db: &db,
        jail: "sshd",
    };
    a.ban(
        &ActionInfo::new(&t, BanTime::Seconds(600.0)).with_history(&h),
        400.0,
    )
    .unwrap();
    assert_eq!(
        read(&dir.join("out")),
        "12|8|ssh one\nweb one\nssh two|ssh one\nssh two\n"
    );
}

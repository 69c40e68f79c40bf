//! The shared-database scenario of `persist_database*`: bans of every kind made by one daemon,
//! the file opened by another, and what the restore must show.

use super::*;

const JAIL: &str = "\
[t]
enabled = true
logpath = {dir}/t.log
maxretry = 3
bantime = 1h
action = rec[name=t]
         rec[name=quiet, norestored=1]
";

/// The jail's bantime at restore (1h): the cap fail2ban applies to restored bans.
const JAIL_BANTIME: i64 = 3600;

/// A short ban still running at restore (with room for slow starts on a loaded machine); the
/// last restoring daemon must end it at start + this.
const SHORT: i64 = 75;
pub const SHORT_IP: &str = "192.0.2.5";
pub const EXPIRED_IP: &str = "192.0.2.1";

/// The bans made: (address, the jail's bantime when it was banned). All by hand (`set t
/// bantime`, then `set t banip`) except 192.0.2.6, found in the log.
const BANS: [(&str, i64); 7] = [
    (EXPIRED_IP, 2),
    ("192.0.2.2", -1),
    ("192.0.2.3", 600),
    ("192.0.2.4", 7200),
    (SHORT_IP, SHORT),
    ("2001:db8::7", 3600),
    ("192.0.2.6", 3600),
];

/// Make the bans with `server` on a fresh tree and stop it; returns the tree (database inside).
pub fn make_bans(server: Server) -> Tree {
    let tree = Tree::new(JAIL);
    tree.write("t.log", "");
    let mut d = Daemon::start(server, &tree);
    let set = |args: &[&str]| {
        let (code, out) = d.client(args);
        assert_eq!(code, 0, "{server:?} {args:?}: {out}");
    };
    // (bantime set on the jail, address banned by hand with it)
    for (ip, bt) in &BANS[..6] {
        set(&["set", "t", "bantime", &bt.to_string()]);
        set(&["set", "t", "banip", ip]);
    }
    // one ban found in the log, so the restored ticket carries matches
    tree.append(
        "t.log",
        &(0..3)
            .map(|_| format!("{} FAIL from 192.0.2.6", stamp(0)))
            .collect::<Vec<_>>(),
    );
    assert!(
        wait_until(20.0, || tree.bans("t").iter().any(|r| r.id == "192.0.2.6")),
        "{server:?} did not ban from the log: {:?}\n{}",
        tree.read("rec"),
        tree.read("server.log")
    );
    // fail2ban writes bans to its database from a separate thread: give it a moment
    sleep_ms(1500);
    assert!(d.terminate(), "{server:?} did not stop");
    assert_eq!(tree.bans("t").len(), 7, "{}", tree.read("rec"));
    // the expired ban has certainly run out by the time anything restores it
    let first = tree
        .bans("t")
        .iter()
        .find(|r| r.id == EXPIRED_IP)
        .map(Rec::time)
        .expect("ban of the expired address");
    while (now_secs() as f64) < first + 4.0 {
        sleep_ms(200);
    }
    tree
}

/// What a restore must bring back: (ID, start, capped ban time), sorted by ID, from the
/// creator's ban records (their `<time>`: the database keeps it rounded to a second) and the
/// ban times set.
pub fn expected(creator: &Tree) -> Vec<(String, i64, i64)> {
    let now = now_secs();
    let mut v: Vec<(String, i64, i64)> = creator
        .bans("t")
        .iter()
        .map(|r| {
            let bt = BANS
                .iter()
                .find(|(ip, _)| *ip == r.id)
                .map(|(_, bt)| *bt)
                .expect("a ban made");
            let capped = if bt == -1 || bt > JAIL_BANTIME {
                JAIL_BANTIME
            } else {
                bt
            };
            (r.id.clone(), r.time().round() as i64, capped)
        })
        .filter(|(_, start, bt)| start + bt > now)
        .collect();
    v.sort();
    v
}

fn with_time_lines(exp: &[(String, i64, i64)]) -> Vec<String> {
    let mut v: Vec<String> = exp
        .iter()
        .map(|(ip, s, bt)| format!("{ip} \t{} + {bt} = {}", fmt_utc(*s), fmt_utc(s + bt)))
        .collect();
    v.sort();
    v
}

/// What one daemon showed after opening a database: its restore records (without pid and
/// clock) and `get t banip --with-time`.
#[derive(Debug, PartialEq)]
pub struct Restored {
    pub records: Vec<String>,
    pub with_time: Vec<String>,
}

/// Open `creator`'s database with `server` on a copy of the tree and check the restore
/// against `exp`. With `watch_short`, keep it running until the short ban ends and check when.
pub fn restore(
    server: Server,
    creator: &Tree,
    exp: &[(String, i64, i64)],
    watch_short: bool,
) -> Restored {
    let tree = Tree::new(JAIL);
    tree.write("t.log", "");
    std::fs::copy(creator.db(), tree.db()).expect("copy database");
    let mut d = Daemon::start(server, &tree);
    let ids: Vec<&str> = exp.iter().map(|(ip, _, _)| ip.as_str()).collect();
    assert!(
        wait_until(20.0, || tree.bans("t").len() >= exp.len()),
        "{server:?} restored {} of {}: {}\n{}",
        tree.bans("t").len(),
        exp.len(),
        tree.read("rec"),
        tree.read("server.log")
    );
    sleep_ms(500);
    let bans = tree.bans("t");
    let mut got: Vec<(String, i64, i64)> = bans
        .iter()
        .map(|r| (r.id.clone(), r.time() as i64, r.bantime()))
        .collect();
    got.sort();
    assert_eq!(
        got,
        exp,
        "{server:?}: restored bans (id, <time>, <bantime>)\n{}",
        tree.read("rec")
    );
    for r in &bans {
        assert!(r.restored(), "{server:?}: not marked restored: {}", r.line);
        assert_eq!(
            r.time().fract(),
            0.0,
            "{server:?}: restored <time> is whole seconds: {}",
            r.line
        );
    }
    assert!(!ids.contains(&EXPIRED_IP));
    assert!(
        tree.bans("quiet").is_empty(),
        "{server:?}: a norestored action ran on restore: {}",
        tree.read("rec")
    );
    let log = tree.read("server.log");
    for ip in &ids {
        assert!(
            log.contains(&format!("NOTICE  [t] Restore Ban {ip}\n")),
            "{server:?}: no Restore Ban {ip}:\n{log}"
        );
    }

    let with_time = banned_with_time(&d, "t");
    assert_eq!(
        with_time,
        with_time_lines(exp),
        "{server:?}: get t banip --with-time"
    );
    let mut want_ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    want_ids.sort();
    assert_eq!(banned_list(&d, "t"), want_ids, "{server:?}: status t");
    let (_, st) = d.client(&["status", "t"]);
    assert!(
        st.contains(&format!("Currently banned:\t{}", ids.len())),
        "{server:?}: {st}"
    );

    if watch_short {
        let (_, start, bt) = exp
            .iter()
            .find(|(ip, _, _)| ip == SHORT_IP)
            .expect("short ban restored")
            .clone();
        assert!(
            wait_until((start + bt - now_secs() + 10) as f64, || tree
                .unbans("t")
                .iter()
                .any(|r| r.id == SHORT_IP)),
            "{server:?}: short ban not ended: {}",
            tree.read("rec")
        );
        let un = tree
            .unbans("t")
            .into_iter()
            .find(|r| r.id == SHORT_IP)
            .expect("unban record");
        assert!(
            un.now() >= start + bt - 1 && un.now() <= start + bt + 4,
            "{server:?}: ban {start}+{bt} ended at {}: {}",
            un.now(),
            un.line
        );
        // it ended alone: the other restored bans keep running
        assert_eq!(tree.unbans("t").len(), 1, "{}", tree.read("rec"));
        assert!(!banned_list(&d, "t").contains(&SHORT_IP.to_string()));
    }

    // a new ban after the restore goes through the norestored action too
    let (code, out) = d.client(&["set", "t", "banip", "198.51.100.9"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        wait_until(10.0, || tree
            .bans("quiet")
            .iter()
            .any(|r| r.id == "198.51.100.9" && !r.restored())),
        "{server:?}: {}",
        tree.read("rec")
    );
    assert!(d.terminate());

    let records = bans
        .iter()
        .map(|r| {
            format!(
                "{} {} restored={} time={} bantime={}",
                r.name,
                r.id,
                r.get("restored"),
                r.get("time"),
                r.get("bantime")
            )
        })
        .collect();
    Restored { records, with_time }
}

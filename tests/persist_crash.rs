//! Crash safety: f2b-server is killed with SIGKILL at seeded random moments while a stream of
//! failure lines bans many addresses, and restarted each time (24 rounds). No ban may be lost
//! and none may be made twice.
//!
//! What "banned twice" means here. After a restart the firewall must be filled again, so
//! fail2ban runs actionban once more for every ban it restores from its database, with the
//! `<restored>` tag at 1 (seen by running it); f2b does the same. So a ban period (the bantime
//! of 1h never runs out during the test) legitimately shows one actionban with `restored=0`
//! (the ban itself) and one with `restored=1` per later server lifetime. Banned twice is any of:
//! two actionban records for one address within one server lifetime (told apart by a number
//! each server process carries in its environment, which its action shells inherit even when
//! the kill orphans them mid-start), or a second `restored=0` record for an address.
//! Lost is: an address whose actionban ran (in any lifetime) that is not banned after the last
//! restart, or any unban record (nothing may end these bans).
mod server_common;

use std::collections::{BTreeMap, BTreeSet};

use server_common::persist::*;

const SEED: u64 = 0x00F2_B5EE_D0C0_FFEE;
const ROUNDS: usize = 24;

fn ip(n: u64) -> String {
    format!("10.0.{}.{}", n / 250, n % 250 + 1)
}

#[test]
fn bans_survive_sigkill_at_random_moments() {
    let tree = Tree::new("[t]\nenabled = true\nlogpath = {dir}/t.log\nmaxretry = 2\nfindtime = 1h\nbantime = 1h\naction = rec[name=t]\n");
    tree.write("t.log", "");
    let mut rng = Rng::new(SEED);
    let mut next_ip = 0u64;
    let mut lives = Vec::new();
    for round in 0..ROUNDS {
        // half the rounds write while the daemon starts up (and restores), and may kill it then
        let early = rng.range(0, 1) == 0;
        let mut d = if early {
            Daemon::spawn(Server::Ours, &tree)
        } else {
            Daemon::start(Server::Ours, &tree)
        };
        lives.push(d.life);
        let burst = rng.range(4, 30);
        let kill_at = rng.range(0, burst * 2);
        let mut written = 0;
        // two failures per address, in chunks of one to four lines, the kill falling between chunks
        let mut lines: Vec<String> = Vec::new();
        for _ in 0..burst {
            let a = ip(next_ip);
            next_ip += 1;
            lines.push(format!("{} FAIL from {a}", stamp(0)));
            lines.push(format!("{} FAIL from {a}", stamp(0)));
        }
        let mut rest = &lines[..];
        while !rest.is_empty() && written < kill_at {
            let n = (rng.range(1, 4) as usize).min(rest.len());
            tree.append("t.log", &rest[..n]);
            rest = &rest[n..];
            written += n as u64;
            sleep_ms(rng.range(0, 60));
        }
        sleep_ms(rng.range(0, if early { 1200 } else { 400 }));
        d.kill9();
        // the rest of the burst arrives while the daemon is down
        tree.append("t.log", rest);
        // action shells run in their own session and may still be finishing their line
        sleep_ms(200);
        eprintln!(
            "round {round}: early={early} burst={burst} kill after {written} lines, {} ban records",
            tree.bans("t").len()
        );
    }

    let d = Daemon::start(Server::Ours, &tree);
    let last = d.life;
    let banned_before: BTreeSet<String> = tree
        .bans("t")
        .into_iter()
        .filter(|r| r.life() != last)
        .map(|r| r.id)
        .collect();
    assert!(
        banned_before.len() >= 20,
        "the rounds banned too little to test anything: {}",
        banned_before.len()
    );
    // every address whose failures were all written is banned in the end (those counted before
    // a kill but not yet banned are read again from the saved position, or found after it)
    let all: BTreeSet<String> = (0..next_ip).map(ip).collect();
    let ok = wait_until(60.0, || {
        banned_list(&d, "t").into_iter().collect::<BTreeSet<_>>() == all
    });
    let now_banned: BTreeSet<String> = banned_list(&d, "t").into_iter().collect();
    let lost: Vec<&String> = banned_before.difference(&now_banned).collect();
    assert!(
        lost.is_empty(),
        "bans whose actionban ran are gone after the restart: {lost:?}\n{}",
        tree.read("rec")
    );
    assert!(
        ok,
        "not every address banned: missing {:?}",
        all.difference(&now_banned).collect::<Vec<_>>()
    );
    sleep_ms(500);

    let rec = tree.rec();
    let unbans: Vec<&str> = rec
        .iter()
        .filter(|r| r.kind == "unban")
        .map(|r| r.line.as_str())
        .collect();
    assert!(
        unbans.is_empty(),
        "unban ran for bans that never ended: {unbans:?}"
    );
    let mut per_life: BTreeMap<(u64, String), usize> = BTreeMap::new();
    let mut fresh: BTreeMap<String, usize> = BTreeMap::new();
    lives.push(last);
    for r in rec.iter().filter(|r| r.kind == "ban") {
        assert!(
            lives.contains(&r.life()),
            "a ban by an unknown process: {}",
            r.line
        );
        *per_life.entry((r.life(), r.id.clone())).or_default() += 1;
        if !r.restored() {
            *fresh.entry(r.id.clone()).or_default() += 1;
        }
    }
    let twice: Vec<_> = per_life.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        twice.is_empty(),
        "actionban ran twice for one address in one server lifetime: {twice:?}"
    );
    let refreshed: Vec<_> = fresh.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        refreshed.is_empty(),
        "an address was banned anew while its ban ran: {refreshed:?}"
    );
    // the last lifetime put every earlier ban back through actionban, marked restored; every
    // record of one address, in any lifetime, carries the start of that one ban (whole seconds
    // once restored)
    for a in &banned_before {
        let n = rec
            .iter()
            .filter(|r| r.kind == "ban" && r.life() == last && &r.id == a && r.restored())
            .count();
        assert_eq!(n, 1, "{a}: restored actionban records in the last lifetime");
        let starts: BTreeSet<i64> = rec
            .iter()
            .filter(|r| r.kind == "ban" && &r.id == a)
            .map(|r| r.time().round() as i64)
            .collect();
        assert_eq!(
            starts.len(),
            1,
            "{a}: records of different bans: {:?}",
            rec.iter()
                .filter(|r| &r.id == a)
                .map(|r| &r.line)
                .collect::<Vec<_>>()
        );
    }
    let (_, out) = d.client(&["banned", &ip(0)]);
    assert_eq!(out.trim(), "[['t']]");
}

/// A clean stop unbans everything (actionunban) but keeps the bans in the database; here the
/// stop is cut short by SIGKILL at a seeded random moment within a second of SIGTERM (before,
/// during or after its unbanning), 8 times over a growing set of bans. After the last restart
/// every ban is back (restored through actionban), whether or not its unban ran before the kill.
#[test]
fn bans_survive_a_stop_cut_short_by_sigkill() {
    let tree =
        Tree::new("[t]\nenabled = true\nlogpath = {dir}/t.log\nmaxretry = 1\nfindtime = 1h\nbantime = 1h\naction = slowrec[name=t]\n");
    // unbans take 20 ms each, so a stop lasts long enough to be cut anywhere
    tree.write(
        "conf/action.d/slowrec.conf",
        &REC_ACTION.replace("actionunban = echo", "actionunban = sleep 0.02; echo"),
    );
    tree.write("t.log", "");
    let mut rng = Rng::new(SEED ^ 0x5709);
    let mut next_ip = 10_000u64;
    let mut cut = 0;
    for round in 0..8 {
        let mut d = Daemon::start(Server::Ours, &tree);
        let lines: Vec<String> = (0..15)
            .map(|_| {
                next_ip += 1;
                format!("{} FAIL from {}", stamp(0), ip(next_ip))
            })
            .collect();
        tree.append("t.log", &lines);
        let want = (next_ip - 10_000) as usize;
        assert!(
            wait_until(30.0, || banned_list(&d, "t").len() == want),
            "round {round}: {:?}",
            banned_list(&d, "t")
        );
        let unbans_before = tree.unbans("t").len();
        let t0 = std::time::Instant::now();
        let _ = std::process::Command::new("kill")
            .arg("-TERM")
            .arg(d.pid().to_string())
            .status();
        sleep_ms(rng.range(0, 1000));
        d.kill9();
        sleep_ms(200);
        let unbanned = tree.unbans("t").len() - unbans_before;
        if unbanned < want {
            cut += 1;
        }
        eprintln!(
            "round {round}: {unbanned} of {want} unbans ran before the kill ({:?})",
            t0.elapsed()
        );
    }
    // the kill has to cut the stop short now and then, or this proves nothing
    assert!(cut >= 4, "only {cut} of 8 stops were cut short");
    let d = Daemon::start(Server::Ours, &tree);
    let all: Vec<String> = {
        let mut v: Vec<String> = (10_001..=next_ip).map(ip).collect();
        v.sort();
        v
    };
    assert!(
        wait_until(30.0, || banned_list(&d, "t") == all),
        "missing after restart: {:?}",
        banned_list(&d, "t")
    );
    sleep_ms(300);
    for a in &all {
        let n = tree
            .bans("t")
            .iter()
            .filter(|r| r.life() == d.life && &r.id == a && r.restored())
            .count();
        assert_eq!(n, 1, "{a}: restored actionban records in the last lifetime");
    }
}

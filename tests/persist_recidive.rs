//! The stock `recidive` jail of the shipped jail.conf, unchanged but for its log path (set the
//! way the shipped tree offers: `fail2ban_log` in paths-overrides.local) and a recording
//! action, reads f2b-server's own log target and bans an address the `t` jail keeps banning.
//! Its week-long ban then survives a restart: restored through actionban once, not made again
//! from the old Ban lines of the log.
mod server_common;

use server_common::persist::*;

#[test]
fn stock_recidive_bans_the_repeat_offender_from_our_log_and_keeps_it() {
    let root = f2b::repo_root();
    let shipped = [
        "fail2ban.conf",
        "jail.conf",
        "filter.d/recidive.conf",
        "filter.d/common.conf",
    ];
    if let Some(missing) = shipped.iter().find(|f| !root.join(f).is_file()) {
        return f2b::skip(
            "stock_recidive_bans_the_repeat_offender_from_our_log_and_keeps_it",
            &format!("shipped {missing} missing"),
        );
    }
    let tree = Tree::new(
        "[t]\nenabled = true\nfilter = t\nlogpath = {dir}/t.log\nmaxretry = 1\nbantime = 1\naction = rec[name=t]\n\n\
         [recidive]\nenabled = true\naction = rec[name=recidive]\n",
    );
    // the shipped tree in place of the minimal one (its fail2ban.conf, with our paths in .local)
    for f in shipped {
        std::fs::copy(root.join(f), tree.path(&format!("conf/{f}"))).expect("copy shipped file");
    }
    tree.write(
        "conf/fail2ban.local",
        "[Definition]\nlogtarget = {dir}/server.log\nsocket = {dir}/f2b.sock\npidfile = {dir}/f2b.pid\ndbfile = {dir}/f2b.sqlite3\n",
    );
    tree.write(
        "conf/paths-overrides.local",
        "[DEFAULT]\nfail2ban_log = {dir}/server.log\n",
    );
    tree.write("t.log", "");
    let ip = "203.0.113.77";
    let mut d = Daemon::start(Server::Ours, &tree);
    let (_, st) = d.client(&["get", "recidive", "maxretry"]);
    assert_eq!(st.trim(), "5", "stock recidive maxretry");
    // five short bans of the same address by jail t (the stock recidive counts five in a day)
    for round in 1..=5usize {
        assert!(
            tree.bans("recidive").is_empty(),
            "recidive banned after {} bans: {}",
            round - 1,
            tree.read("rec")
        );
        tree.append("t.log", &[format!("{} FAIL from {ip}", stamp(0))]);
        assert!(
            wait_until(10.0, || tree.bans("t").len() == round),
            "round {round}: {}",
            tree.read("rec")
        );
        assert!(
            wait_until(10.0, || tree.unbans("t").len() == round),
            "round {round}: {}",
            tree.read("rec")
        );
    }
    assert!(
        wait_until(10.0, || !tree.bans("recidive").is_empty()),
        "{}\n{}",
        tree.read("rec"),
        tree.read("server.log")
    );
    let ban = &tree.bans("recidive")[0];
    assert_eq!(
        (ban.id.as_str(), ban.bantime(), ban.restored()),
        (ip, 604_800, false),
        "{}",
        ban.line
    );
    let log = tree.read("server.log");
    assert_eq!(
        log.matches(&format!("NOTICE  [t] Ban {ip}\n")).count(),
        5,
        "{log}"
    );
    assert!(
        log.contains(&format!("NOTICE  [recidive] Ban {ip}\n")),
        "{log}"
    );

    // restart: the week-long ban comes back once, as a restore; the five old Ban lines in the
    // log are behind the saved position and do not ban it again
    assert!(d.terminate());
    drop(d);
    let d = Daemon::start(Server::Ours, &tree);
    assert!(
        wait_until(10.0, || tree.bans("recidive").len() == 2),
        "{}",
        tree.read("rec")
    );
    sleep_ms(1500);
    let bans = tree.bans("recidive");
    assert_eq!(bans.len(), 2, "{}", tree.read("rec"));
    assert!(
        bans[1].restored() && bans[1].bantime() == 604_800,
        "{}",
        bans[1].line
    );
    assert_eq!(
        bans[1].time() as i64,
        bans[0].time().round() as i64,
        "restored with its start: {}",
        tree.read("rec")
    );
    assert_eq!(banned_list(&d, "recidive"), [ip]);
    let (_, st) = d.client(&["status", "recidive"]);
    assert!(
        st.contains("Total failed:\t0"),
        "old Ban lines read again: {st}"
    );
    assert!(banned_list(&d, "t").is_empty());
}

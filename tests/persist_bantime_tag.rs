//! LOCAL ONLY (fails on f2b): `<bantime>` of a ban made after `set JAIL bantime N` is N in
//! fail2ban, f2b still passes the bantime the jail was built with.
mod server_common;

use server_common::persist::*;

fn seen(server: Server) -> Vec<i64> {
    let tree = Tree::new(
        "[t]\nenabled = true\nlogpath = {dir}/t.log\nbantime = 1h\naction = rec[name=t]\n",
    );
    tree.write("t.log", "");
    let d = Daemon::start(server, &tree);
    for (bt, ip) in [("77", "192.0.2.1"), ("-1", "192.0.2.2")] {
        assert_eq!(d.client(&["set", "t", "bantime", bt]).0, 0);
        assert_eq!(d.client(&["set", "t", "banip", ip]).0, 0);
    }
    assert!(
        wait_until(10.0, || tree.bans("t").len() == 2),
        "{}",
        tree.read("rec")
    );
    tree.bans("t").iter().map(Rec::bantime).collect()
}

#[test]
fn bantime_tag_follows_set_bantime() {
    if have_fail2ban() {
        assert_eq!(seen(Server::Theirs), [77, -1], "fail2ban");
    }
    assert_eq!(seen(Server::Ours), [77, -1], "f2b");
}

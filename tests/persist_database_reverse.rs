//! LOCAL ONLY (fails: f2b writes an `ip` key into the ban data, see report).
//! The ban database is shared with fail2ban. Bans of every kind (expired, short, long,
//! persistent, longer than the jail allows, from log lines, IPv6) are made by one daemon, which
//! is then stopped; the database file is opened by the restoring daemons, each on its own copy
//! of the tree. Each must restore exactly the bans still running, with the same start and
//! (capped) ban time, through actionban with `<restored>` = 1 (never through a `norestored`
//! action), and end them when their time is up. Debian's fail2ban-server restoring its own file
//! is the reference f2b-server must match on the same file.
//!
//! What fail2ban does on restore, seen by running it: a ban whose start + stored ban time has
//! passed stays out; the ban time of the others is capped at the jail's current bantime (a
//! persistent one included) and the start is kept, so `<time>` is the original whole-second
//! start and the ban ends where it would have ended (or earlier, when capped).
mod server_common;

use server_common::persist::dbshare::*;
use server_common::persist::*;

/// Make the bans with `creator`, then open the database with each of `restorers` in turn (the
/// last one also waits for the short ban to end) and require the same restore from all.
fn run(creator: Server, restorers: &[Server], name: &str) {
    if (creator == Server::Theirs || restorers.contains(&Server::Theirs)) && !have_fail2ban() {
        return f2b::skip(
            name,
            "Debian's fail2ban-server / fail2ban-client are not installed",
        );
    }
    let made = make_bans(creator);
    if let Some(rows) = sql(
        &made.db(),
        "SELECT ip FROM bips WHERE jail = 't' ORDER BY ip",
    ) {
        assert_eq!(rows.len(), 7, "{creator:?} database bips: {rows:?}");
    }
    let exp = expected(&made);
    let ids: Vec<&str> = exp.iter().map(|(ip, _, _)| ip.as_str()).collect();
    assert_eq!(
        ids,
        [
            "192.0.2.2",
            "192.0.2.3",
            "192.0.2.4",
            SHORT_IP,
            "192.0.2.6",
            "2001:db8::7"
        ],
        "{exp:?}"
    );
    let mut seen: Vec<Restored> = Vec::new();
    for (i, server) in restorers.iter().enumerate() {
        seen.push(restore(*server, &made, &exp, i + 1 == restorers.len()));
    }
    for w in seen.windows(2) {
        assert_eq!(
            w[0], w[1],
            "{restorers:?} restore the same bans from the same file"
        );
    }
}

#[test]
fn fail2ban_restores_the_bans_of_an_f2b_database() {
    run(
        Server::Ours,
        &[Server::Ours, Server::Theirs],
        "fail2ban_restores_the_bans_of_an_f2b_database",
    );
}

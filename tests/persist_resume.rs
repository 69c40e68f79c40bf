//! Restart resume: a daemon stopped while it reads goes on where it stopped. A file jail keeps
//! its byte position: no failure counted twice, none lost, including lines appended while it
//! was down. Run on f2b-server and, as the reference for the expectations, on Debian's
//! fail2ban-server.
mod server_common;

use std::collections::BTreeMap;

use server_common::persist::*;

/// Servers to run: ours always, fail2ban's when installed.
fn servers(name: &str) -> Vec<Server> {
    let mut v = vec![Server::Ours];
    if have_fail2ban() {
        v.push(Server::Theirs);
    } else {
        f2b::skip(name, "fail2ban-server is not installed: f2b-server only");
    }
    v
}

/// `Found ID` lines of the server log, counted per ID.
fn found(tree: &Tree) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for l in tree.read("server.log").lines() {
        if let Some((_, rest)) = l.split_once("] Found ") {
            let id = rest.split(" - ").next().unwrap_or("").trim_end_matches(',');
            *m.entry(id.to_string()).or_insert(0) += 1;
        }
    }
    m
}

fn addr(i: usize) -> String {
    format!("10.{}.{}.{}", i / 62500, i / 250 % 250, i % 250 + 1)
}

/// `count` failure lines (one address each, from `first` on), each after `noise` other lines.
fn block(first: usize, count: usize, noise: usize) -> Vec<String> {
    let now = stamp(0);
    let mut v = Vec::with_capacity(count * (noise + 1));
    for i in first..first + count {
        for k in 0..noise {
            v.push(format!("{now} noise {i} {k} nothing to see"));
        }
        v.push(format!("{now} FAIL from {}", addr(i)));
    }
    v
}

#[test]
fn file_reading_resumes_at_the_saved_position() {
    let name = "file_reading_resumes_at_the_saved_position";
    const FIRST: usize = 300;
    const LATER: usize = 60;
    for server in servers(name) {
        // an ignorecommand (a shell per failure, ignoring nothing) slows reading down enough
        // that a stop lands in the middle of the file; fail2ban stops there, f2b-server
        // finishes reading what was in the file at its start first (either is a consistent
        // position to resume from)
        let tree = Tree::new("[t]\nenabled = true\nlogpath = {dir}/t.log\nmaxretry = 1000000\nfindtime = 1h\nignorecommand = exit 1\n");
        tree.append("t.log", &block(0, FIRST, 9));
        // stop as soon as reading has begun: most often in the middle of the file
        let mut d = Daemon::start(server, &tree);
        assert!(
            wait_until(60.0, || !found(&tree).is_empty()),
            "{server:?}: nothing found\n{}",
            tree.read("server.log")
        );
        assert!(d.terminate(), "{server:?} did not stop");
        drop(d);
        let first_life = found(&tree).values().sum::<usize>();
        eprintln!("{server:?}: stopped after {first_life} of {FIRST} failures");
        assert!(first_life > 0, "{server:?}: nothing read before the stop");
        if server == Server::Theirs {
            assert!(
                first_life < FIRST,
                "fail2ban read the whole file before stopping: the test proves less than it should"
            );
        }
        // more lines while it is down
        tree.append("t.log", &block(FIRST, LATER, 3));
        let d = Daemon::start(server, &tree);
        let total = FIRST + LATER;
        assert!(
            wait_until(120.0, || found(&tree).values().sum::<usize>() >= total),
            "{server:?}: found {} of {total}",
            found(&tree).values().sum::<usize>()
        );
        sleep_ms(1000);
        let f = found(&tree);
        let twice: Vec<_> = f.iter().filter(|(_, n)| **n != 1).take(10).collect();
        assert!(
            twice.is_empty(),
            "{server:?}: failures counted twice: {twice:?}"
        );
        let missing: Vec<String> = (0..total)
            .map(addr)
            .filter(|a| !f.contains_key(a))
            .take(10)
            .collect();
        assert!(missing.is_empty(), "{server:?}: failures lost: {missing:?}");
        assert_eq!(f.len(), total);
        // the second lifetime's counter holds exactly what it read
        let (_, st) = d.client(&["status", "t"]);
        assert!(
            st.contains(&format!("Total failed:\t{}\n", total - first_life)),
            "{server:?} (first lifetime {first_life}): {st}"
        );
    }
}

//! The jail pipeline with in-memory stages: lines in, bans and unbans out, on real threads and
//! the real clock (short ban times keep it quick).
use std::collections::BTreeMap;
use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use f2b_server::ignore::IgnoreList;
use f2b_server::jail::{
    now, ActionSet, Found, Jail, JailParts, JailSettings, LineFilter, LineSource, SourceLine,
};
use f2b_server::ticket::{BanTicket, BanTime};

/// Lines pushed by the test: `FAIL <id> <unix time>`.
struct ChanSource(Receiver<String>);

impl LineSource for ChanSource {
    fn poll(&mut self, timeout: Duration, sink: &mut dyn FnMut(SourceLine<'_>)) -> Vec<String> {
        if let Ok(l) = self.0.recv_timeout(timeout) {
            sink(SourceLine {
                text: &l,
                time: None,
                live: true,
            });
            while let Ok(l) = self.0.try_recv() {
                sink(SourceLine {
                    text: &l,
                    time: None,
                    live: true,
                });
            }
        }
        Vec::new()
    }
    fn status(&self) -> (&'static str, Vec<String>) {
        ("File list", vec!["/mem".into()])
    }
}

struct WordFilter;

impl LineFilter for WordFilter {
    fn process(&mut self, line: &SourceLine<'_>, _now: f64, out: &mut Vec<Found>) {
        let w: Vec<&str> = line.text.split_whitespace().collect();
        if let ["FAIL", id, t] = w[..] {
            if let Ok(time) = t.parse() {
                out.push(Found {
                    id: id.to_string(),
                    time,
                    matches: vec![line.text.to_string()],
                    captures: BTreeMap::new(),
                });
            }
        }
    }
}

#[derive(Clone, Default)]
struct Record(Arc<Mutex<Vec<String>>>);

impl Record {
    fn events(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
    fn wait_for(&self, ev: &str, secs: f64) -> bool {
        let end = Instant::now() + Duration::from_secs_f64(secs);
        while Instant::now() < end {
            if self.events().iter().any(|e| e == ev) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

struct RecActions {
    rec: Record,
    fail_ban: bool,
}

impl ActionSet for RecActions {
    fn start(&mut self) -> Vec<(String, String)> {
        self.rec.0.lock().unwrap().push("start".into());
        Vec::new()
    }
    fn stop(&mut self) -> Vec<(String, String)> {
        self.rec.0.lock().unwrap().push("stop".into());
        Vec::new()
    }
    fn ban(&mut self, t: &BanTicket) -> Vec<(String, String)> {
        self.rec.0.lock().unwrap().push(format!("ban {}", t.id()));
        if self.fail_ban {
            vec![("rec".into(), "exit status 1".into())]
        } else {
            Vec::new()
        }
    }
    fn unban(&mut self, t: &BanTicket, _skip: &[String]) -> Vec<(String, String)> {
        self.rec.0.lock().unwrap().push(format!("unban {}", t.id()));
        Vec::new()
    }
    fn flushable(&self) -> Vec<String> {
        Vec::new()
    }
    fn flush(&mut self, _a: &str) -> Result<(), String> {
        Ok(())
    }
    fn names(&self) -> Vec<String> {
        vec!["rec".into()]
    }
}

fn jail(
    maxretry: u32,
    findtime: f64,
    bantime: BanTime,
    fail_ban: bool,
) -> (Jail, Sender<String>, Record) {
    let (tx, rx) = mpsc::channel();
    let rec = Record::default();
    let parts = JailParts {
        settings: JailSettings {
            name: "t".into(),
            maxretry,
            findtime,
            bantime,
            maxmatches: 5,
        },
        source: Box::new(move || Ok(Box::new(ChanSource(rx)) as Box<dyn LineSource>)),
        source_status: ("File list", vec![]),
        filter: Box::new(WordFilter),
        actions: Box::new(RecActions {
            rec: rec.clone(),
            fail_ban,
        }),
        ignore: IgnoreList::new(false),
        store: None,
        observer: None,
        restore: Vec::new(),
        fail_total: 0,
    };
    (Jail::start(parts).unwrap(), tx, rec)
}

#[test]
fn maxretry_inside_findtime_bans_then_unbans_after_bantime() {
    let (j, tx, rec) = jail(3, 600.0, BanTime::Seconds(2.0), false);
    let t = now();
    for i in 0..3 {
        tx.send(format!("FAIL 192.0.2.1 {}", t - 0.3 + 0.1 * i as f64))
            .unwrap();
    }
    assert!(rec.wait_for("ban 192.0.2.1", 5.0), "{:?}", rec.events());
    let st = j.status();
    assert_eq!(
        (st.total_failed, st.total_banned, st.currently_banned),
        (3, 1, 1)
    );
    assert_eq!(st.banned, vec!["192.0.2.1".to_string()]);
    // the ban started at the last failure with 2 s
    assert!(rec.wait_for("unban 192.0.2.1", 5.0), "{:?}", rec.events());
    assert!(now() - t >= 1.7, "unbanned too early");
    assert_eq!(j.status().currently_banned, 0);
    j.stop();
    assert_eq!(rec.events().last().map(String::as_str), Some("stop"));
    assert_eq!(rec.events().first().map(String::as_str), Some("start"));
}

#[test]
fn failures_spread_wider_than_findtime_do_not_ban() {
    let (j, tx, rec) = jail(3, 10.0, BanTime::Seconds(600.0), false);
    let t = now();
    // three failures, 8 s apart: never three inside 10 s
    for i in 0..3 {
        tx.send(format!("FAIL 192.0.2.2 {}", t - 16.0 + 8.0 * i as f64))
            .unwrap();
    }
    std::thread::sleep(Duration::from_millis(800));
    assert_eq!(j.status().total_failed, 3);
    assert!(
        !rec.events().iter().any(|e| e.starts_with("ban")),
        "{:?}",
        rec.events()
    );
    j.stop();
}

#[test]
fn permanent_ban_stays_and_manual_unban_works() {
    let (j, tx, rec) = jail(2, 600.0, BanTime::Permanent, false);
    let t = now();
    tx.send(format!("FAIL 2001:db8::1 {}", t - 30.0)).unwrap();
    tx.send(format!("FAIL 2001:db8::1 {}", t - 50.0)).unwrap();
    assert!(rec.wait_for("ban 2001:db8::1", 5.0));
    std::thread::sleep(Duration::from_millis(1500));
    assert!(j.is_banned("2001:db8::1"));
    assert!(
        j.ban_list_with_time()[0].contains("+ -1 = 9999-12-31 23:59:59"),
        "{:?}",
        j.ban_list_with_time()
    );
    assert_eq!(j.unban_ips(vec!["2001:db8::1".into()]), 1);
    assert_eq!(j.unban_ips(vec!["2001:db8::1".into()]), 0);
    assert!(rec.events().iter().any(|e| e == "unban 2001:db8::1"));
    j.stop();
}

#[test]
fn manual_ban_and_failing_action_do_not_stop_the_jail() {
    let (j, tx, rec) = jail(1, 600.0, BanTime::Seconds(600.0), true);
    assert_eq!(j.ban_ips(vec!["198.51.100.7".into()]), 1);
    assert_eq!(j.ban_ips(vec!["198.51.100.7".into()]), 0, "already banned");
    // the action failed for the first ban; the jail keeps working
    tx.send(format!("FAIL 198.51.100.8 {}", now())).unwrap();
    assert!(rec.wait_for("ban 198.51.100.8", 5.0), "{:?}", rec.events());
    assert_eq!(j.status().total_banned, 2);
    assert_eq!(
        j.banned_ids(),
        vec!["198.51.100.7".to_string(), "198.51.100.8".to_string()]
    );
    j.stop();
    // stop unbans every ticket, then runs actionstop
    let ev = rec.events();
    let n = ev.len();
    assert_eq!(
        &ev[n - 3..],
        &["unban 198.51.100.7", "unban 198.51.100.8", "stop"]
    );
}

#[test]
fn old_lines_of_the_initial_read_are_dropped() {
    let (tx, rx) = mpsc::channel::<String>();
    let rec = Record::default();
    struct Initial(Receiver<String>);
    impl LineSource for Initial {
        fn poll(&mut self, timeout: Duration, sink: &mut dyn FnMut(SourceLine<'_>)) -> Vec<String> {
            if let Ok(l) = self.0.recv_timeout(timeout) {
                sink(SourceLine {
                    text: &l,
                    time: None,
                    live: false,
                });
            }
            Vec::new()
        }
        fn status(&self) -> (&'static str, Vec<String>) {
            ("File list", vec![])
        }
    }
    let parts = JailParts {
        settings: JailSettings {
            name: "t".into(),
            maxretry: 2,
            findtime: 60.0,
            bantime: BanTime::Seconds(60.0),
            maxmatches: 5,
        },
        source: Box::new(move || Ok(Box::new(Initial(rx)) as Box<dyn LineSource>)),
        source_status: ("File list", vec![]),
        filter: Box::new(WordFilter),
        actions: Box::new(RecActions {
            rec: rec.clone(),
            fail_ban: false,
        }),
        ignore: IgnoreList::new(false),
        store: None,
        observer: None,
        restore: Vec::new(),
        fail_total: 0,
    };
    let j = Jail::start(parts).unwrap();
    let t = now();
    tx.send(format!("FAIL 192.0.2.9 {}", t - 3600.0)).unwrap();
    tx.send(format!("FAIL 192.0.2.9 {}", t - 3599.0)).unwrap();
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(j.status().total_failed, 0);
    assert!(!rec.events().iter().any(|e| e.starts_with("ban")));
    j.stop();
}

#[test]
fn a_ban_already_over_is_not_applied() {
    let (j, tx, rec) = jail(2, 600.0, BanTime::Seconds(1.0), false);
    let t = now();
    tx.send(format!("FAIL 192.0.2.3 {}", t - 20.0)).unwrap();
    tx.send(format!("FAIL 192.0.2.3 {}", t - 10.0)).unwrap();
    std::thread::sleep(Duration::from_millis(700));
    assert!(
        !rec.events().iter().any(|e| e.starts_with("ban")),
        "{:?}",
        rec.events()
    );
    assert_eq!(j.status().total_banned, 0);
    j.stop();
}

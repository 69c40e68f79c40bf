//! Behaviour of the filter engine through its public API. Times are given by the caller (journal
//! form), so these tests do not depend on the date detector.

use f2b_filter::{Filter, FilterOptions, LineOutcome, Resolver, UseDns};

const T: f64 = 1_124_013_600.0;

fn filter(failregex: &[&str], f: impl FnOnce(&mut FilterOptions)) -> Filter {
    let mut o = FilterOptions {
        failregex: failregex.iter().map(|s| s.to_string()).collect(),
        ..FilterOptions::default()
    };
    f(&mut o);
    Filter::new(o).expect("filter builds")
}

fn run(flt: &mut Filter, line: &str) -> LineOutcome {
    flt.process_journal_line(line, T, "")
}

fn fids(o: &LineOutcome) -> Vec<String> {
    o.failures
        .iter()
        .filter(|f| !f.nofail)
        .map(|f| f.fid.clone())
        .collect()
}

#[test]
fn host_tag_normalises_addresses() {
    let mut f = filter(&["from <HOST> port"], |o| o.raw_hosts = true);
    assert_eq!(
        fids(&run(&mut f, "auth from 192.0.2.1 port 22")),
        ["192.0.2.1"]
    );
    assert_eq!(
        fids(&run(&mut f, "auth from ::ffff:192.0.2.7 port 22")),
        ["192.0.2.7"]
    );
    assert_eq!(
        fids(&run(&mut f, "auth from 2001:DB8::5 port 22")),
        ["2001:db8::5"]
    );
    assert_eq!(
        fids(&run(&mut f, "auth from some.host port 22")),
        ["some.host"]
    );
    let o = run(&mut f, "auth from 192.0.2.1 port 22");
    assert_eq!(
        o.failures[0].groups.get("ip4").map(String::as_str),
        Some("192.0.2.1")
    );
    assert_eq!(o.failures[0].matches, ["auth from 192.0.2.1 port 22"]);
    assert!(run(&mut f, "nothing here").failures.is_empty());
}

struct OneName;
impl Resolver for OneName {
    fn resolve(&self, host: &str) -> Vec<String> {
        if host == "bad.example" {
            vec!["198.51.100.4".into()]
        } else {
            vec![]
        }
    }
}

#[test]
fn dns_goes_through_the_resolver() {
    let mut f = filter(&["from <HOST>$"], |o| o.usedns = UseDns::Yes);
    f.set_resolver(Box::new(OneName));
    assert_eq!(fids(&run(&mut f, "from bad.example")), ["198.51.100.4"]);
    assert!(run(&mut f, "from unknown.example").failures.is_empty());
    let mut f = filter(&["from <HOST>$"], |o| o.usedns = UseDns::No);
    f.set_resolver(Box::new(OneName));
    assert!(
        run(&mut f, "from bad.example").failures.is_empty(),
        "usedns=no only accepts addresses"
    );
}

#[test]
fn failure_id_that_is_not_an_ip() {
    // tor-netscan style: the destination port is the id
    let mut f = filter(&[r"REJECT OUT: .* DPT=<F-ID>\d+</F-ID>"], |_| {});
    let o = run(
        &mut f,
        "[UFW] REJECT OUT: IN= OUT=eth0 SRC=10.0.0.1 DST=10.0.0.2 DPT=6667 WINDOW=0",
    );
    assert_eq!(fids(&o), ["6667"]);
    // both an id and a host: the id wins, the host goes to `ip`
    let mut f = filter(&[r"user <F-ID>\S+</F-ID> from <ADDR>"], |_| {});
    let o = run(&mut f, "user bob from 192.0.2.3");
    assert_eq!(fids(&o), ["bob"]);
    assert_eq!(
        o.failures[0].groups.get("ip").map(String::as_str),
        Some("192.0.2.3")
    );
}

#[test]
fn regex_without_id_is_rejected() {
    let e = Filter::new(FilterOptions {
        failregex: vec!["no id here".into()],
        ..FilterOptions::default()
    })
    .unwrap_err();
    assert_eq!(e.to_string(), "No failure-id group in 'no id here'");
}

#[test]
fn custom_groups_alt_and_user() {
    let mut f = filter(
        &[r"user=<F-USER>\S*</F-USER> rhost=<HOST> tty=<F-TTY>\S+</F-TTY>"],
        |o| o.raw_hosts = true,
    );
    let o = run(&mut f, "user=root rhost=192.0.2.5 tty=ssh");
    let g = &o.failures[0].groups;
    assert_eq!(g.get("user").map(String::as_str), Some("root"));
    assert_eq!(g.get("tty").map(String::as_str), Some("ssh"));
}

#[test]
fn ignoreregex_and_check_all() {
    let mut f = filter(&["from <HOST>", "host <HOST>"], |o| {
        o.ignoreregex = vec!["trusted".into()];
        o.check_all_regex = true;
    });
    let o = run(&mut f, "from 192.0.2.1 trusted");
    assert!(o.is_ignored() && o.failures.is_empty());
    assert_eq!(o.ignored_by, [0]);
    let o = run(&mut f, "from 192.0.2.1 host 192.0.2.2");
    assert_eq!(
        fids(&o),
        ["192.0.2.1", "192.0.2.2"],
        "check-all reports every regex"
    );
    let mut f = filter(&["from <HOST>", "host <HOST>"], |_| {});
    assert_eq!(
        fids(&run(&mut f, "from 192.0.2.1 host 192.0.2.2")),
        ["192.0.2.1"],
        "first hit wins"
    );
}

#[test]
fn prefregex_content() {
    let mut f = filter(&["^Failed for <HOST>$", "^Invalid from <HOST>$"], |o| {
        o.prefregex =
            Some(r"^<F-MLFID>\S+ app\[\d+\]:</F-MLFID> <F-CONTENT>.+</F-CONTENT>$".into());
        o.raw_hosts = true;
    });
    let o = run(&mut f, "srv app[1]: Failed for 192.0.2.9");
    assert!(o.pref_matched);
    assert_eq!(fids(&o), ["192.0.2.9"]);
    assert_eq!(o.failures[0].matches, ["srv app[1]: Failed for 192.0.2.9"]);
    let o = run(&mut f, "srv other[1]: Failed for 192.0.2.9");
    assert!(!o.pref_matched && o.failures.is_empty());
    // failregexes are anchored on the content, not on the line
    assert!(run(&mut f, "srv app[2]: x Failed for 192.0.2.9")
        .failures
        .is_empty());
}

#[test]
fn multi_line_buffer() {
    let mut f = filter(&[r"login attempt\n.*rejected host <HOST>$"], |o| {
        o.maxlines = 2;
        o.raw_hosts = true;
    });
    assert!(run(&mut f, "app[7]: login attempt").failures.is_empty());
    let o = run(&mut f, "app[7]: rejected host 192.0.2.44");
    assert_eq!(fids(&o), ["192.0.2.44"]);
    assert_eq!(
        o.failures[0].matches,
        ["app[7]: login attempt", "app[7]: rejected host 192.0.2.44"]
    );
    assert_eq!(o.consumed_previous, ["app[7]: login attempt"]);
    // the used lines left the buffer
    assert!(run(&mut f, "app[7]: rejected host 192.0.2.44")
        .failures
        .is_empty());
}

#[test]
fn skiplines() {
    let mut f = filter(
        &[r"^start (?P<id>\d+)<SKIPLINES>end \d+ from <HOST>$"],
        |o| {
            o.maxlines = 4;
            o.raw_hosts = true;
        },
    );
    run(&mut f, "start 1");
    run(&mut f, "noise a");
    let o = run(&mut f, "end 1 from 192.0.2.8");
    assert_eq!(fids(&o), ["192.0.2.8"]);
    assert_eq!(
        o.failures[0].matches,
        ["start 1", "end 1 from 192.0.2.8"],
        "skipped lines are not part of the failure"
    );
}

fn sshd_like() -> Filter {
    sshd_like_with(false)
}

fn sshd_like_with(check_all: bool) -> Filter {
    filter(
        &[
            r"^Failed \S+ for <F-USER>\S+</F-USER> from <HOST>",
            r"^<F-NOFAIL>Connection from</F-NOFAIL> <HOST>",
            r"^<F-MLFFORGET><F-MLFGAINED>Accepted \S+</F-MLFGAINED></F-MLFFORGET> for <F-USER>\S+</F-USER> from <HOST>",
            r"^<F-MLFFORGET>Disconnected</F-MLFFORGET>",
            r"^Received disconnect from <HOST>: .*Bye",
        ],
        |o| {
            o.prefregex =
                Some(r"^<F-MLFID>sshd\[\d+\]:</F-MLFID> <F-CONTENT>.+</F-CONTENT>$".into());
            o.raw_hosts = true;
            o.check_all_regex = check_all;
        },
    )
}

#[test]
fn nofail_counts_as_ignored_in_check_all_mode() {
    let mut f = sshd_like_with(true);
    let o = run(&mut f, "sshd[5]: Connection from 192.0.2.1");
    assert!(o.is_ignored() && !o.is_matched());
    assert_eq!(o.failures.len(), 1);
    assert!(o.failures[0].nofail);
}

#[test]
fn mlfid_collects_a_connection() {
    let mut f = sshd_like();
    let o = run(&mut f, "sshd[5]: Connection from 192.0.2.1");
    assert!(fids(&o).is_empty(), "nofail: no failure");
    // a later line of the same connection without address inherits it
    let o = run(
        &mut f,
        "sshd[5]: Received disconnect from 192.0.2.1: 11: Bye",
    );
    assert_eq!(fids(&o), ["192.0.2.1"]);
    assert_eq!(
        o.failures[0].matches,
        [
            "sshd[5]: Connection from 192.0.2.1",
            "sshd[5]: Received disconnect from 192.0.2.1: 11: Bye"
        ],
        "the no-failure line joins the failure"
    );
    // another connection is independent
    let o = run(&mut f, "sshd[6]: Failed password for bob from 192.0.2.2");
    assert_eq!(fids(&o), ["192.0.2.2"]);
    assert_eq!(o.failures[0].users, ["bob"]);
}

#[test]
fn mlfid_accepted_with_several_users_is_a_failure() {
    let mut f = sshd_like();
    assert_eq!(
        fids(&run(
            &mut f,
            "sshd[9]: Failed password for alice from 192.0.2.3"
        )),
        ["192.0.2.3"]
    );
    let o = run(&mut f, "sshd[9]: Accepted password for bob from 192.0.2.3");
    assert_eq!(fids(&o), ["192.0.2.3"], "two users on one connection");
    assert_eq!(o.failures[0].users, ["alice", "bob"]);
    // single user: accepted is a no-failure and forgets the connection
    let mut f = sshd_like();
    run(&mut f, "sshd[10]: Connection from 192.0.2.4");
    let o = run(
        &mut f,
        "sshd[10]: Accepted password for carol from 192.0.2.4",
    );
    assert!(fids(&o).is_empty());
    let o = run(
        &mut f,
        "sshd[10]: Received disconnect from 192.0.2.4: 11: Bye",
    );
    assert_eq!(
        o.failures[0].matches.len(),
        1,
        "forgotten connection starts over"
    );
}

#[test]
fn mlfid_pending_failure_without_id() {
    let mut f = filter(&[r"^auth failed$", r"^peer <HOST>$"], |o| {
        o.prefregex = Some(r"^<F-MLFID>c\d+</F-MLFID>: <F-CONTENT>.+</F-CONTENT>$".into());
        o.raw_hosts = true;
    });
    let o = run(&mut f, "c1: auth failed");
    assert!(
        o.failures.is_empty(),
        "pending failures are dropped by default"
    );
    let o = run(&mut f, "c1: peer 192.0.2.6");
    assert_eq!(fids(&o), ["192.0.2.6"]);
    assert_eq!(
        o.failures[0].matches,
        ["c1: auth failed", "c1: peer 192.0.2.6"]
    );
}

#[test]
fn line_date_reuse_and_none_pattern() {
    let mut f = filter(&["from <HOST>$"], |o| {
        o.datepattern = Some("{NONE}".into());
        o.raw_hosts = true;
    });
    let o = f.process_line("srv: from 192.0.2.1", T);
    assert_eq!(fids(&o), ["192.0.2.1"]);
    assert_eq!(o.failures[0].time, T, "no date: now");
    assert_eq!(o.failures[0].matches, ["srv: from 192.0.2.1"]);
}

#[test]
fn journal_time_text_prefixes_matches() {
    let mut f = filter(&["from <HOST>$"], |o| o.raw_hosts = true);
    let o = f.process_journal_line("srv: from 192.0.2.1", 1000.5, "2005-08-14T12:00:00 ");
    assert_eq!(o.failures[0].time, 1000.5);
    assert_eq!(
        o.failures[0].matches,
        ["2005-08-14T12:00:00 srv: from 192.0.2.1"]
    );
}

#[test]
fn subnet_and_cidr() {
    let mut f = filter(&[r"block <SUBNET>$"], |o| o.raw_hosts = true);
    assert_eq!(fids(&run(&mut f, "block 10.1.2.3/16")), ["10.1.0.0/16"]);
    assert_eq!(fids(&run(&mut f, "block 2001:db8::1")), ["2001:db8::1"]);
}

#[test]
fn mid_pattern_flags_warn_and_apply() {
    let mut f = filter(&[r"^<HOST> .*(?i)/admin"], |o| o.raw_hosts = true);
    assert_eq!(f.warnings.len(), 1);
    assert_eq!(fids(&run(&mut f, "192.0.2.1 GET /ADMIN")), ["192.0.2.1"]);
}

#[test]
fn skipped_lines_still_provide_the_last_date() {
    for prefilter in [true, false] {
        let mut f = filter(&["auth failure from <HOST>$"], |o| {
            o.datepattern = Some("EPOCH".into());
            o.raw_hosts = true;
            o.prefilter_lines = prefilter;
        });
        assert!(f
            .process_line("1124013590 srv noise", T)
            .failures
            .is_empty());
        assert!(f
            .process_line("srv more noise without date", T)
            .failures
            .is_empty());
        let o = f.process_line("srv auth failure from 192.0.2.1", T);
        assert_eq!(fids(&o), ["192.0.2.1"]);
        assert_eq!(
            o.failures[0].time, 1_124_013_590.0,
            "prefilter={prefilter}: last date reused"
        );
        assert_eq!(
            o.failures[0].matches,
            ["1124013590srv auth failure from 192.0.2.1"]
        );
        // a date older than 60 s before now is not reused
        assert!(f
            .process_line("1124013000 srv noise", T)
            .failures
            .is_empty());
        let o = f.process_line("srv auth failure from 192.0.2.2", T);
        assert_eq!(o.failures[0].time, T, "prefilter={prefilter}: now");
    }
}

/// Hostile patterns and lines: errors are fine, panics are not.
#[test]
fn no_panic_on_odd_input() {
    let patterns = [
        "",
        "(",
        ")",
        "[",
        "]",
        "[^]",
        "\\",
        "(?P<",
        "(?P<a",
        "(?P=",
        "(?(",
        "(?(a",
        "(?#",
        "{",
        "{,",
        "x{2,1}",
        "<HOST",
        "</F-USER>",
        "<F-USER>",
        "<F-",
        "<SKIPLINES>",
        "(?i",
        "(?<=",
        "[\\",
        "é<HOST>ü",
        "\\x4",
        "\\u12",
        "(?P<ip4>a)(?P<ip4>b)",
        "a**",
        "(?x) # <HOST>",
        "^^$$<HOST>",
        "[[:alpha:]]<HOST>",
        "(?L)<HOST>",
    ];
    for p in patterns {
        let _ = f2b_filter::pyre::translate(p);
        let _ = f2b_filter::pyre::translate_superset(p);
        let _ = f2b_filter::literals::required(p);
        for maxlines in [1, 3] {
            let opts = FilterOptions {
                failregex: vec![p.to_string()],
                maxlines,
                ..FilterOptions::default()
            };
            if let Ok(mut f) = Filter::new(opts) {
                for line in [
                    "",
                    "\u{0}",
                    "é",
                    "from 1.2.3.4",
                    "Aug 14 11:59:01 x",
                    "[",
                    "\n",
                ] {
                    let _ = f.process_line(line, T);
                    let _ = f.process_journal_line(line, T, "");
                }
            }
        }
    }
}

#[test]
fn text_that_is_no_valid_date_is_still_cut_out() {
    // A template matches `0000-12-30 00:00:00`, which is no date: the line has no date of its
    // own (time = now), yet the regexes do not see that text.
    let now = 1124013600.0;
    let dp = |o: &mut FilterOptions| o.datepattern = Some("{^LN-BEG}%Y-%m-%d %H:%M:%S".into());
    let mut flt = filter(&[r"^ host app: failure from <HOST>$"], dp);
    let o = flt.process_line("0000-12-30 00:00:00 host app: failure from 192.0.2.8", now);
    assert_eq!(fids(&o), vec!["192.0.2.8"]);
    assert_eq!(o.failures[0].time, now);
    assert_eq!(
        o.failures[0].matches,
        vec!["0000-12-30 00:00:00 host app: failure from 192.0.2.8"]
    );
    // After a recent valid date, that date is reused and the whole line is the text.
    let mut flt = filter(&[r"failure from <HOST>$"], dp);
    let _ = flt.process_line("2005-08-14 11:59:30 host app: hello", now);
    let o = flt.process_line("0000-12-30 00:00:00 host app: failure from 192.0.2.9", now);
    assert_eq!(fids(&o), vec!["192.0.2.9"]);
    assert_eq!(
        o.failures[0].matches,
        vec!["2005-08-14 11:59:300000-12-30 00:00:00 host app: failure from 192.0.2.9"]
    );
}

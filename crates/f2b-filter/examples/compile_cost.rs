//! What building filters costs: `Filter::new` for the stock filters the start-up benchmark uses
//! (bench/daemon.py's 50-jail tree), timed, with the heap they keep (a counting allocator) and
//! the process RSS. Then the cost of the first line each filter sees (lazy parts built there).
//!
//!     cargo run --release -p f2b-filter --example compile_cost [-- CONFDIR [N]]
//!
//! Needs a fail2ban tree (default /etc/fail2ban); prints a reason and exits 0 without one.

use f2b_filter::{Filter, FilterOptions};
use std::alloc::{GlobalAlloc, Layout, System};
use std::path::Path;
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Instant;

struct Counting;
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, l: Layout) -> *mut u8 {
        LIVE.fetch_add(l.size() as isize, Ordering::Relaxed);
        System.alloc(l)
    }
    unsafe fn dealloc(&self, p: *mut u8, l: Layout) {
        LIVE.fetch_sub(l.size() as isize, Ordering::Relaxed);
        System.dealloc(p, l)
    }
    unsafe fn realloc(&self, p: *mut u8, l: Layout, n: usize) -> *mut u8 {
        LIVE.fetch_add(n as isize - l.size() as isize, Ordering::Relaxed);
        System.realloc(p, l, n)
    }
}

#[global_allocator]
static A: Counting = Counting;

/// The filters of bench/daemon.py's start-up phase, in its order.
const MANY_FILTERS: &[&str] = &[
    "sshd",
    "apache-auth",
    "apache-badbots",
    "apache-noscript",
    "apache-overflows",
    "apache-nohome",
    "apache-botsearch",
    "apache-modsecurity",
    "apache-shellshock",
    "nginx-http-auth",
    "nginx-limit-req",
    "nginx-botsearch",
    "php-url-fopen",
    "roundcube-auth",
    "openhab-auth",
    "drupal-auth",
    "guacamole",
    "monit",
    "webmin-auth",
    "froxlor-auth",
    "squid",
    "3proxy",
    "proftpd",
    "pure-ftpd",
    "gssftpd",
    "wuftpd",
    "vsftpd",
    "assp",
    "courier-smtp",
    "postfix",
    "sendmail-auth",
    "sendmail-reject",
    "qmail",
    "dovecot",
    "sieve",
    "solid-pop3d",
    "exim",
    "exim-spam",
    "kerio",
    "courier-auth",
    "perdition",
    "squirrelmail",
    "cyrus-imap",
    "uwimap-auth",
    "named-refused",
    "nsd",
    "asterisk",
    "freeswitch",
    "mysqld-auth",
    "mongodb-auth",
    "selinux-ssh",
    "pam-generic",
    "xinetd-fail",
    "stunnel",
    "ejabberd-auth",
    "counter-strike",
    "nagios",
    "directadmin",
    "portsentry",
    "murmur",
    "haproxy-http-auth",
    "slapd",
    "domino-smtp",
    "phpmyadmin-syslog",
    "zoneminder",
    "traefik-auth",
];

fn rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let confdir = args.get(1).map_or("/etc/fail2ban", String::as_str);
    let n: usize = args.get(2).and_then(|s| s.parse().ok()).unwrap_or(50);
    if !Path::new(confdir).join("filter.d").is_dir() {
        println!("skipped: no fail2ban tree at {confdir}");
        return;
    }
    let avail: Vec<&str> = MANY_FILTERS
        .iter()
        .copied()
        .filter(|f| {
            Path::new(confdir)
                .join("filter.d")
                .join(format!("{f}.conf"))
                .is_file()
        })
        .collect();
    let mut opts = Vec::new();
    for i in 0..n {
        let name = avail[i % avail.len()];
        let def = match f2b_config::load_filter(Path::new(confdir), name, &[]) {
            Ok(d) => d,
            Err(e) => {
                println!("{name}: {e}");
                continue;
            }
        };
        opts.push((
            name,
            FilterOptions {
                prefregex: def.prefregex.clone(),
                failregex: def.failregex.clone(),
                ignoreregex: def.ignoreregex.clone(),
                maxlines: def.maxlines.unwrap_or(1).max(1),
                datepattern: def.datepattern.clone(),
                ..FilterOptions::default()
            },
        ));
    }
    // the shared default date templates are built once per process: not a per-filter cost
    let _ = f2b_filter::date::DateDetector::new(None, None)
        .map(|mut d| d.find("2024-01-01 00:00:00 x", 0.0));
    // F2B_REPEAT=N builds the set N times first (for profiling construction alone)
    let repeat: usize = std::env::var("F2B_REPEAT")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    for _ in 0..repeat {
        for (_, o) in &opts {
            let _ = Filter::new(o.clone());
        }
    }
    let rss0 = rss_kb();
    let heap0 = LIVE.load(Ordering::Relaxed);
    let t0 = Instant::now();
    let mut filters = Vec::new();
    let mut per = Vec::new();
    for (name, o) in &opts {
        let h = LIVE.load(Ordering::Relaxed);
        let t = Instant::now();
        match Filter::new(o.clone()) {
            Ok(f) => filters.push(f),
            Err(e) => println!("{name}: {e}"),
        }
        per.push((
            *name,
            t.elapsed().as_secs_f64() * 1e3,
            LIVE.load(Ordering::Relaxed) - h,
        ));
    }
    let build = t0.elapsed().as_secs_f64() * 1e3;
    let heap = LIVE.load(Ordering::Relaxed) - heap0;
    let rss = rss_kb();
    if args.iter().any(|a| a == "-v") {
        for (name, ms, bytes) in &per {
            println!("  {name:20} {ms:8.2} ms {:8.1} KiB", *bytes as f64 / 1024.0);
        }
    }
    println!(
        "Filter::new x{}: {build:.1} ms ({:.2} ms each), heap kept {:.2} MiB ({:.1} KiB each), RSS +{:.1} MiB",
        filters.len(),
        build / filters.len().max(1) as f64,
        heap as f64 / 1048576.0,
        heap as f64 / 1024.0 / filters.len().max(1) as f64,
        rss.saturating_sub(rss0) as f64 / 1024.0
    );
    let t1 = Instant::now();
    let line = "2024-01-01 00:00:00 host daemon[1]: nothing of interest from 192.0.2.1";
    for f in &mut filters {
        let _ = f.process_line(line, 1_704_067_200.0);
    }
    println!(
        "first line through each: {:.1} ms, heap now {:.2} MiB, RSS +{:.1} MiB",
        t1.elapsed().as_secs_f64() * 1e3,
        (LIVE.load(Ordering::Relaxed) - heap0) as f64 / 1048576.0,
        rss_kb().saturating_sub(rss0) as f64 / 1024.0
    );
}

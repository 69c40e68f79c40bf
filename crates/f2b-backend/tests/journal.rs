//! The journal backend against real journal files written by systemd-journal-remote, compared
//! with what fail2ban itself makes of the same files.
#![cfg(feature = "systemd")]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use f2b_backend::{JournalOptions, JournalReader, JournalStart, JournalWait, LogEncoding};

const BOOT_ID: &str = "5a2d94f475c74e88226aa72fdf94aab8";
const MACHINE_ID: &str = "44588499b98e20267039d2f91be5cddb";
const T0: u64 = 1_713_931_200_000_000;

fn journal_remote() -> Option<PathBuf> {
    [
        "/lib/systemd/systemd-journal-remote",
        "/usr/lib/systemd/systemd-journal-remote",
    ]
    .iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

macro_rules! require_journal_remote {
    () => {
        match journal_remote() {
            Some(p) => p,
            None => {
                eprintln!("SKIP: systemd-journal-remote not installed");
                return;
            }
        }
    };
}

/// One entry in journal export format: (name, value) pairs; values that are not single-line
/// text are written in the binary form.
struct Entry {
    realtime: u64,
    monotonic: u64,
    fields: Vec<(&'static str, Vec<u8>)>,
}

fn export(entries: &[Entry]) -> Vec<u8> {
    let mut out = Vec::new();
    for e in entries {
        writeln!(out, "__REALTIME_TIMESTAMP={}", e.realtime).unwrap();
        writeln!(out, "__MONOTONIC_TIMESTAMP={}", e.monotonic).unwrap();
        writeln!(out, "_BOOT_ID={BOOT_ID}").unwrap();
        writeln!(out, "_MACHINE_ID={MACHINE_ID}").unwrap();
        for (k, v) in &e.fields {
            if v.contains(&b'\n') || std::str::from_utf8(v).is_err() {
                out.extend_from_slice(k.as_bytes());
                out.push(b'\n');
                out.extend_from_slice(&(v.len() as u64).to_le_bytes());
                out.extend_from_slice(v);
                out.push(b'\n');
            } else {
                out.extend_from_slice(k.as_bytes());
                out.push(b'=');
                out.extend_from_slice(v);
                out.push(b'\n');
            }
        }
        out.push(b'\n');
    }
    out
}

/// Appends `entries` to the journal file `file` (created if needed).
fn write_journal(remote: &Path, file: &Path, entries: &[Entry]) {
    let mut child = Command::new(remote)
        .arg("-o")
        .arg(file)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn systemd-journal-remote");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(&export(entries))
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "journal-remote failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn kernel(i: u64, uptime_usec: u64, dpt: u32) -> Entry {
    let msg = format!(
        "[UFW BLOCK] IN= OUT=eth0 SRC=198.51.100.7 DST=203.0.113.{} LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID={} PROTO=TCP SPT=4{:04} DPT={dpt} WINDOW=42340 RES=0x00 SYN URGP=0",
        i % 250,
        i * 7,
        i
    );
    Entry {
        realtime: T0 + i * 1000,
        monotonic: uptime_usec + 1500,
        fields: vec![
            (
                "_SOURCE_MONOTONIC_TIMESTAMP",
                uptime_usec.to_string().into_bytes(),
            ),
            ("_TRANSPORT", b"kernel".to_vec()),
            ("PRIORITY", b"4".to_vec()),
            ("SYSLOG_FACILITY", b"0".to_vec()),
            ("SYSLOG_IDENTIFIER", b"kernel".to_vec()),
            ("MESSAGE", msg.into_bytes()),
            ("_HOSTNAME", b"relay01".to_vec()),
        ],
    }
}

fn sshd(i: u64) -> Entry {
    Entry {
        realtime: T0 + i * 1000 + 7,
        monotonic: 20_000_000_000 + i * 1000,
        fields: vec![
            ("_TRANSPORT", b"syslog".to_vec()),
            ("_PID", (4000 + i).to_string().into_bytes()),
            ("_COMM", b"sshd".to_vec()),
            ("SYSLOG_IDENTIFIER", b"sshd".to_vec()),
            ("SYSLOG_PID", (4000 + i).to_string().into_bytes()),
            (
                "_SOURCE_REALTIME_TIMESTAMP",
                (T0 + i * 1000 - 250).to_string().into_bytes(),
            ),
            (
                "MESSAGE",
                format!(
                    "Failed password for invalid user u{i} from 192.0.2.{} port {} ssh2",
                    i % 200,
                    30000 + i
                )
                .into_bytes(),
            ),
            ("_HOSTNAME", b"relay01".to_vec()),
        ],
    }
}

/// A mixed journal: kernel (ufw) and sshd lines, and the odd cases of the line format.
fn mixed_entries(n: u64) -> (Vec<Entry>, usize) {
    let mut v = Vec::new();
    let mut kernels = 0;
    for i in 0..n {
        if i % 3 == 0 {
            v.push(sshd(i));
        } else {
            v.push(kernel(
                i,
                123_456_000_000 + i * 977,
                [22, 80, 443, 9001][i as usize % 4],
            ));
            kernels += 1;
        }
    }
    let rt = T0 + n * 1000;
    let mono = 30_000_000_000;
    let odd: Vec<Vec<(&'static str, Vec<u8>)>> = vec![
        // journal transport, no SYSLOG_IDENTIFIER: _COMM; message with newlines
        vec![
            ("_TRANSPORT", b"journal".to_vec()),
            ("_COMM", b"python3".to_vec()),
            ("_PID", b"77".to_vec()),
            ("_HOSTNAME", b"relay01".to_vec()),
            ("MESSAGE", b"first\nsecond\n".to_vec()),
        ],
        // invalid UTF-8 in the message
        vec![
            ("_TRANSPORT", b"syslog".to_vec()),
            ("SYSLOG_IDENTIFIER", b"app".to_vec()),
            ("_HOSTNAME", b"relay01".to_vec()),
            ("MESSAGE", b"bad \xff\xfe bytes \xc3( here".to_vec()),
        ],
        // pid forms
        vec![
            ("SYSLOG_IDENTIFIER", b"hexpid".to_vec()),
            ("SYSLOG_PID", b"0x1f".to_vec()),
            ("MESSAGE", b"m".to_vec()),
        ],
        vec![
            ("SYSLOG_IDENTIFIER", b"strpid".to_vec()),
            ("SYSLOG_PID", b"abc".to_vec()),
            ("MESSAGE", b"m".to_vec()),
        ],
        vec![
            ("SYSLOG_IDENTIFIER", b"zeropid".to_vec()),
            ("SYSLOG_PID", b"0".to_vec()),
            ("_PID", b"55".to_vec()),
            ("MESSAGE", b"m".to_vec()),
        ],
        // no hostname, no identifier: the message alone
        vec![("MESSAGE", b"bare message".to_vec())],
        // no message
        vec![
            ("_HOSTNAME", b"relay01".to_vec()),
            ("SYSLOG_IDENTIFIER", b"silent".to_vec()),
        ],
        // kernel without a source stamp, and with a small uptime (space-padded stamp)
        vec![
            ("_TRANSPORT", b"kernel".to_vec()),
            ("SYSLOG_IDENTIFIER", b"kernel".to_vec()),
            ("_HOSTNAME", b"relay01".to_vec()),
            ("MESSAGE", b"no source stamp".to_vec()),
        ],
        vec![
            ("_TRANSPORT", b"kernel".to_vec()),
            ("SYSLOG_IDENTIFIER", b"kernel".to_vec()),
            ("_SOURCE_MONOTONIC_TIMESTAMP", b"5123456789".to_vec()),
            ("_HOSTNAME", b"relay01".to_vec()),
            ("MESSAGE", b"early boot".to_vec()),
        ],
        // Latin-1 hostname bytes
        vec![
            ("_HOSTNAME", b"h\xe9te".to_vec()),
            ("SYSLOG_IDENTIFIER", b"x".to_vec()),
            ("MESSAGE", b"caf\xe9".to_vec()),
        ],
    ];
    for (k, fields) in odd.into_iter().enumerate() {
        if fields
            .iter()
            .any(|(n, v)| *n == "_TRANSPORT" && v == b"kernel")
        {
            kernels += 1;
        }
        v.push(Entry {
            realtime: rt + k as u64 * 1000,
            monotonic: mono + k as u64 * 1000,
            fields,
        });
    }
    (v, kernels)
}

fn files_opts(file: &Path) -> JournalOptions {
    JournalOptions {
        files: vec![file.to_string_lossy().into_owned()],
        ..Default::default()
    }
}

fn read_all(r: &mut JournalReader) -> Vec<(String, f64)> {
    let mut out = Vec::new();
    while let Some(x) = r.next_line().unwrap() {
        out.push(x);
    }
    out
}

fn python() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"].into_iter().find(|p| {
        Command::new(p)
            .args([
                "-c",
                "import systemd.journal, fail2ban.server.filtersystemd",
            ])
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success())
    })
}

/// What fail2ban makes of every entry of `file`.
fn fail2ban_lines(py: &str, file: &Path, enc: &str) -> Vec<(String, f64)> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/support/fail2ban_journal.py");
    let out = Command::new(py)
        .arg(script)
        .arg(enc)
        .arg(file)
        .env("TZ", "UTC")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| {
            let v = parse_json_pair(l);
            (v.0, v.1)
        })
        .collect()
}

/// Parses `["line", 123.456]` as printed by json.dumps (ASCII-only escapes).
fn parse_json_pair(l: &str) -> (String, f64) {
    let l = l.trim();
    let inner = &l[1..l.len() - 1];
    let comma = inner.rfind(", ").unwrap();
    let (s, n) = (&inner[..comma], &inner[comma + 2..]);
    let s = &s[1..s.len() - 1];
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next().unwrap() {
            'n' => out.push('\n'),
            't' => out.push('\t'),
            'r' => out.push('\r'),
            'b' => out.push('\u{8}'),
            'f' => out.push('\u{c}'),
            'u' => {
                let hex: String = chars.by_ref().take(4).collect();
                let mut cp = u32::from_str_radix(&hex, 16).unwrap();
                if (0xD800..0xDC00).contains(&cp) {
                    let _ = chars.next();
                    let _ = chars.next();
                    let lo: String = chars.by_ref().take(4).collect();
                    let lo = u32::from_str_radix(&lo, 16).unwrap();
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                out.push(char::from_u32(cp).unwrap());
            }
            c => out.push(c),
        }
    }
    (out, n.parse().unwrap())
}

#[test]
fn lines_match_fail2ban_exactly() {
    let remote = require_journal_remote!();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("mixed.journal");
    let (entries, _) = mixed_entries(300);
    write_journal(&remote, &file, &entries);

    for (enc, pyenc) in [
        (LogEncoding::Utf8, "UTF-8"),
        (LogEncoding::Latin1, "latin-1"),
    ] {
        let mut r = JournalReader::open(&files_opts(&file), &[], JournalStart::Head, enc).unwrap();
        let ours = read_all(&mut r);
        assert_eq!(ours.len(), entries.len());
        assert_eq!(ours[1].0, "relay01 kernel: [123456.000977] [UFW BLOCK] IN= OUT=eth0 SRC=198.51.100.7 DST=203.0.113.1 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=7 PROTO=TCP SPT=40001 DPT=80 WINDOW=42340 RES=0x00 SYN URGP=0");
        assert_eq!(ours[0].0, "relay01 sshd[4000]: Failed password for invalid user u0 from 192.0.2.0 port 30000 ssh2");
        assert_eq!(ours[0].1, 1_713_931_199.999_75);
        let Some(py) = python() else {
            eprintln!(
                "SKIP differential part: python3 with systemd.journal and fail2ban not available"
            );
            continue;
        };
        let theirs = fail2ban_lines(py, &file, pyenc);
        assert_eq!(ours.len(), theirs.len());
        for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
            assert_eq!(a.0, b.0, "entry {i} ({pyenc})");
            assert!(
                (a.1 - b.1).abs() < 1e-6,
                "entry {i} time {} vs {}",
                a.1,
                b.1
            );
        }
    }
}

#[test]
fn kernel_match_sees_only_kernel_entries() {
    let remote = require_journal_remote!();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("k.journal");
    let (entries, kernels) = mixed_entries(600);
    write_journal(&remote, &file, &entries);

    let m = f2b_backend::parse_journalmatch("_TRANSPORT=kernel").unwrap();
    let mut r = JournalReader::open(
        &files_opts(&file),
        &m,
        JournalStart::Head,
        LogEncoding::Utf8,
    )
    .unwrap();
    let lines = read_all(&mut r);
    assert_eq!(lines.len(), kernels);
    assert!(
        lines
            .iter()
            .all(|(l, _)| l.starts_with("relay01 kernel: [")),
        "{lines:?}"
    );

    // Alternatives: kernel OR sshd's identifier.
    let m = f2b_backend::parse_journalmatch("_TRANSPORT=kernel + SYSLOG_IDENTIFIER=sshd").unwrap();
    let mut r = JournalReader::open(
        &files_opts(&file),
        &m,
        JournalStart::Head,
        LogEncoding::Utf8,
    )
    .unwrap();
    assert_eq!(read_all(&mut r).len(), kernels + 200);
    // Two lines of journalmatch are OR-ed too.
    let m = f2b_backend::parse_journalmatch("_TRANSPORT=kernel\nSYSLOG_IDENTIFIER=sshd").unwrap();
    let mut r = JournalReader::open(
        &files_opts(&file),
        &m,
        JournalStart::Head,
        LogEncoding::Utf8,
    )
    .unwrap();
    assert_eq!(read_all(&mut r).len(), kernels + 200);
    // Matches changed on a running reader: it keeps its place.
    let m = f2b_backend::parse_journalmatch("SYSLOG_IDENTIFIER=sshd").unwrap();
    let mut r = JournalReader::open(
        &files_opts(&file),
        &m,
        JournalStart::Head,
        LogEncoding::Utf8,
    )
    .unwrap();
    let first: Vec<_> = (0..50).map(|_| r.next_line().unwrap().unwrap()).collect();
    assert!(first.iter().all(|(l, _)| l.contains(" sshd[")));
    r.set_matches(&f2b_backend::parse_journalmatch("_TRANSPORT=kernel").unwrap())
        .unwrap();
    let rest = read_all(&mut r);
    assert!(rest.iter().all(|(l, _)| l.contains(" kernel: [")));
    assert!(rest.iter().all(|(_, t)| *t > first[49].1));
    assert!(!rest.is_empty() && rest.len() < kernels);
    assert!(r.set_matches(&[vec!["lowercase=x".to_string()]]).is_err());
    // Different fields in one alternative: AND.
    let m = f2b_backend::parse_journalmatch("_TRANSPORT=syslog SYSLOG_IDENTIFIER=sshd").unwrap();
    let mut r = JournalReader::open(
        &files_opts(&file),
        &m,
        JournalStart::Head,
        LogEncoding::Utf8,
    )
    .unwrap();
    assert_eq!(read_all(&mut r).len(), 200);
}

/// Waits (through sd_journal_wait) until `want` more lines arrived or 10 s passed.
fn wait_for_lines(r: &mut JournalReader, want: usize) -> Vec<(String, f64)> {
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut got = Vec::new();
    while got.len() < want && Instant::now() < deadline {
        got.extend(read_all(r));
        if got.len() >= want {
            break;
        }
        r.wait(Duration::from_millis(200)).unwrap();
    }
    got
}

#[test]
fn appended_entries_are_seen_while_running() {
    let remote = require_journal_remote!();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("live.journal");
    let first: Vec<Entry> = (0..50)
        .map(|i| kernel(i, 200_000_000_000 + i * 1000, 22))
        .collect();
    write_journal(&remote, &file, &first);

    let m = f2b_backend::parse_journalmatch("_TRANSPORT=kernel").unwrap();
    let mut r = JournalReader::open(
        &files_opts(&file),
        &m,
        JournalStart::Head,
        LogEncoding::Utf8,
    )
    .unwrap();
    assert_eq!(read_all(&mut r).len(), 50);
    // The first wait sets up libsystemd's watches (and may report an invalidation).
    assert_ne!(
        r.wait(Duration::from_millis(50)).unwrap(),
        JournalWait::Append
    );
    assert_eq!(read_all(&mut r).len(), 0);

    let second: Vec<Entry> = (50..120)
        .map(|i| {
            if i % 2 == 0 {
                kernel(i, 200_000_000_000 + i * 1000, 443)
            } else {
                sshd(i)
            }
        })
        .collect();
    write_journal(&remote, &file, &second);
    let got = wait_for_lines(&mut r, 35);
    assert_eq!(got.len(), 35);
    assert!(got.iter().all(|(l, _)| l.contains("DPT=443")));
    assert_eq!(read_all(&mut r).len(), 0);
}

#[test]
fn survives_rotation_and_vacuum_of_journal_files() {
    let remote = require_journal_remote!();
    let dir = tempfile::tempdir().unwrap();
    let jdir = dir.path().join("journal");
    std::fs::create_dir(&jdir).unwrap();
    let a = jdir.join("a.journal");
    write_journal(
        &remote,
        &a,
        &(0..30)
            .map(|i| kernel(i, 150_000_000_000 + i, 22))
            .collect::<Vec<_>>(),
    );

    let opts = JournalOptions {
        path: Some(jdir.clone()),
        ..Default::default()
    };
    let mut r = JournalReader::open(&opts, &[], JournalStart::Head, LogEncoding::Utf8).unwrap();
    assert_eq!(read_all(&mut r).len(), 30);

    // Rotation: a new file appears; then the old one is vacuumed.
    write_journal(
        &remote,
        &jdir.join("b.journal"),
        &(30..70)
            .map(|i| kernel(i, 150_000_000_000 + i, 80))
            .collect::<Vec<_>>(),
    );
    std::fs::remove_file(&a).unwrap();
    let got = wait_for_lines(&mut r, 40);
    assert_eq!(got.len(), 40, "{got:?}");
    assert!(got.iter().all(|(l, _)| l.contains("DPT=80")));
}

#[test]
fn restart_resumes_at_saved_time_and_cursor() {
    let remote = require_journal_remote!();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("restart.journal");
    write_journal(
        &remote,
        &file,
        &(0..40)
            .map(|i| kernel(i, 300_000_000_000 + i * 10, 22))
            .collect::<Vec<_>>(),
    );

    let mut r = JournalReader::open(
        &files_opts(&file),
        &[],
        JournalStart::Head,
        LogEncoding::Utf8,
    )
    .unwrap();
    let first = read_all(&mut r);
    assert_eq!(first.len(), 40);
    let pos = r.position().expect("position after reading");
    assert_eq!(pos.time, first[39].1);
    drop(r);

    write_journal(
        &remote,
        &file,
        &(40..65)
            .map(|i| kernel(i, 300_000_000_000 + i * 10, 443))
            .collect::<Vec<_>>(),
    );

    // By time, as fail2ban stores it: entries after the saved time, the time being turned into
    // microseconds by truncation (so the saved entry itself comes again when the float was a hair
    // below its stamp, exactly as with fail2ban).
    let mut r = JournalReader::open(
        &files_opts(&file),
        &[],
        JournalStart::Time(pos.time),
        LogEncoding::Utf8,
    )
    .unwrap();
    let again = read_all(&mut r);
    let saved_usec = T0 + 39 * 1000;
    let cut = (pos.time * 1e6) as u64;
    let replayed = usize::from(cut < saved_usec);
    assert_eq!(again.len(), 25 + replayed);
    assert!(again[replayed..].iter().all(|(l, _)| l.contains("DPT=443")));
    let again = again[replayed..].to_vec();

    // By cursor: exactly the new entries.
    let mut r = JournalReader::open(
        &files_opts(&file),
        &[],
        JournalStart::Cursor(pos.cursor.clone()),
        LogEncoding::Utf8,
    )
    .unwrap();
    let resumed = read_all(&mut r);
    assert_eq!(resumed.len(), 25);
    assert_eq!(resumed, again);

    // A start time between entries, and one past the end (then new entries still arrive).
    let mut r = JournalReader::open(
        &files_opts(&file),
        &[],
        JournalStart::Time(first[10].1 - 0.0001),
        LogEncoding::Utf8,
    )
    .unwrap();
    assert_eq!(read_all(&mut r).len(), 65 - 10);
    let mut r = JournalReader::open(
        &files_opts(&file),
        &[],
        JournalStart::Time(4e9),
        LogEncoding::Utf8,
    )
    .unwrap();
    assert_eq!(read_all(&mut r).len(), 0);
    write_journal(
        &remote,
        &file,
        &(65..70)
            .map(|i| kernel(i, 300_000_000_000 + i * 10, 9001))
            .collect::<Vec<_>>(),
    );
    assert_eq!(wait_for_lines(&mut r, 5).len(), 5);
}

#[test]
fn bad_options_are_clear_errors() {
    let e = JournalReader::open(
        &JournalOptions {
            files: vec!["/nonexistent/dir/*.journal".into()],
            ..Default::default()
        },
        &[],
        JournalStart::Head,
        LogEncoding::Utf8,
    )
    .err()
    .expect("no files must fail");
    assert!(e.to_string().contains("matched no file"), "{e}");
    assert!(f2b_backend::parse_journalmatch("_COMM").is_err());
}

/// The tor-netscan journal of the shared log generator (kernel ufw lines among sshd/CRON/...),
/// through our reader and fail2ban's formatter.
#[test]
fn generated_tor_netscan_journal_matches_fail2ban() {
    let remote = require_journal_remote!();
    let gen = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/bench/gen.py");
    if !gen.exists() {
        eprintln!("SKIP: {} not present", gen.display());
        return;
    }
    let Some(py) = python() else {
        eprintln!("SKIP: python3 with systemd.journal and fail2ban not available");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let export = dir.path().join("tor.export");
    let st = Command::new("python3")
        .arg(&gen)
        .args(["ufw-journal-export", "3000", "11", "0.3", "-o"])
        .arg(&export)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success());
    let file = dir.path().join("tor.journal");
    let out = Command::new(&remote)
        .arg("-o")
        .arg(&file)
        .arg(&export)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let mut r = JournalReader::open(
        &files_opts(&file),
        &[],
        JournalStart::Head,
        LogEncoding::Utf8,
    )
    .unwrap();
    let ours = read_all(&mut r);
    let theirs = fail2ban_lines(py, &file, "UTF-8");
    assert_eq!(ours.len(), 3000);
    assert_eq!(ours.len(), theirs.len());
    for (i, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        assert_eq!(a.0, b.0, "entry {i}");
        assert!(
            (a.1 - b.1).abs() < 1e-6,
            "entry {i} time {} vs {}",
            a.1,
            b.1
        );
    }
    let m = f2b_backend::parse_journalmatch("_TRANSPORT=kernel").unwrap();
    let mut r = JournalReader::open(
        &files_opts(&file),
        &m,
        JournalStart::Head,
        LogEncoding::Utf8,
    )
    .unwrap();
    let kernel = read_all(&mut r);
    assert!(!kernel.is_empty() && kernel.len() < 3000);
    assert_eq!(
        kernel.len(),
        ours.iter()
            .filter(|(l, _)| l.split(' ').nth(1) == Some("kernel:"))
            .count()
    );
}

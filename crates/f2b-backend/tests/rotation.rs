//! Log rotation while a writer is writing: every line must be read exactly once.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use f2b_backend::{FileBackend, FileTailer, FileWatcher, LogEncoding, StartPos};

const LINES: usize = 20_000;
const ROTATE_EVERY: usize = 2_000;

#[derive(Clone, Copy, Debug)]
enum Rotation {
    RenameCreate,
    CopyTruncate,
    DeleteCreate,
    DoubleRename,
}

fn append_handle(path: &Path) -> File {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
}

/// A syslog-like writer: appends through a handle it reopens when told to (its HUP).
struct Writer {
    path: PathBuf,
    file: Mutex<File>,
    reopen: AtomicBool,
    written: AtomicUsize,
}

impl Writer {
    fn run(&self) {
        for i in 0..LINES {
            {
                let mut f = self.file.lock().unwrap();
                if self.reopen.swap(false, Ordering::SeqCst) {
                    *f = append_handle(&self.path);
                }
                // Varied lengths so that reads end in the middle of lines.
                let pad = "x".repeat(i % 37);
                f.write_all(format!("line {i} {pad}\n").as_bytes()).unwrap();
            }
            self.written.store(i + 1, Ordering::SeqCst);
            // About 40 ms per rotation period: slower than the reader's poll interval, as any
            // real rotation schedule is.
            if i % 50 == 0 {
                thread::sleep(Duration::from_millis(1));
            }
        }
    }

    /// Lets the writer go on with the old handle for a moment, as a daemon does until it is
    /// signalled, then makes it reopen.
    fn hup_later(&self) {
        thread::sleep(Duration::from_millis(2));
        self.reopen.store(true, Ordering::SeqCst);
    }

    fn wait_reopened(&self) {
        while self.reopen.load(Ordering::SeqCst) && self.written.load(Ordering::SeqCst) < LINES {
            thread::sleep(Duration::from_micros(100));
        }
    }
}

fn rotated(path: &Path, n: u32) -> PathBuf {
    PathBuf::from(format!("{}.{n}", path.display()))
}

/// logrotate's numbering: `.1` becomes `.2`, ... (keeping four).
fn shift(p: &Path) {
    for n in (1..4).rev() {
        if rotated(p, n).exists() {
            fs::rename(rotated(p, n), rotated(p, n + 1)).unwrap();
        }
    }
}

fn rotate(w: &Writer, how: Rotation) {
    let p = &w.path;
    match how {
        Rotation::RenameCreate => {
            shift(p);
            fs::rename(p, rotated(p, 1)).unwrap();
            File::create(p).unwrap();
            w.hup_later();
        }
        Rotation::DeleteCreate => {
            fs::remove_file(p).unwrap();
            File::create(p).unwrap();
            w.hup_later();
        }
        Rotation::CopyTruncate => {
            // Atomic with respect to the writer, as lines written between the copy and the
            // truncation are lost for every reader.
            let _g = w.file.lock().unwrap();
            shift(p);
            fs::copy(p, rotated(p, 1)).unwrap();
            OpenOptions::new()
                .write(true)
                .open(p)
                .unwrap()
                .set_len(0)
                .unwrap();
        }
        Rotation::DoubleRename => {
            for _ in 0..2 {
                shift(p);
                fs::rename(p, rotated(p, 1)).unwrap();
                File::create(p).unwrap();
                w.reopen.store(true, Ordering::SeqCst);
                w.wait_reopened();
                thread::sleep(Duration::from_micros(500));
            }
        }
    }
}

/// Runs writer, rotator and reader threads; returns the lines read.
fn run(how: Rotation, backend: FileBackend) -> (Vec<String>, u64) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("test.log");
    let w = Arc::new(Writer {
        file: Mutex::new(append_handle(&path)),
        path: path.clone(),
        reopen: AtomicBool::new(false),
        written: AtomicUsize::new(0),
    });
    let mut watcher = FileWatcher::new(backend);
    watcher
        .add(FileTailer::open(&path, StartPos::Head, LogEncoding::Utf8).unwrap())
        .unwrap();
    let stop = watcher.stop_handle();
    let done = Arc::new(AtomicBool::new(false));

    let reader = {
        let done = done.clone();
        thread::spawn(move || {
            let mut lines = Vec::new();
            let deadline = Instant::now() + Duration::from_secs(60);
            loop {
                let finished = done.load(Ordering::SeqCst);
                let out = watcher.wait_and_read(Duration::from_millis(10), &mut |_, l| {
                    lines.push(l.to_owned())
                });
                assert!(out.errors.is_empty(), "{:?}", out.errors);
                if (finished && out.lines == 0 && lines.len() >= LINES)
                    || out.stopped
                    || Instant::now() > deadline
                {
                    break;
                }
            }
            let rotations = watcher.tailers()[0].rotations();
            (lines, rotations)
        })
    };
    let writer = {
        let w = w.clone();
        thread::spawn(move || w.run())
    };
    let mut next = ROTATE_EVERY;
    while next < LINES {
        if w.written.load(Ordering::SeqCst) >= next {
            rotate(&w, how);
            next += ROTATE_EVERY;
        } else {
            thread::sleep(Duration::from_micros(200));
        }
    }
    writer.join().unwrap();
    // Give the reader a full second of settled files before it stops on its own.
    thread::sleep(Duration::from_millis(200));
    done.store(true, Ordering::SeqCst);
    let r = reader.join().unwrap();
    drop(stop);
    r
}

fn check(how: Rotation, backend: FileBackend) {
    let (lines, rotations) = run(how, backend);
    let mut seen = vec![0u32; LINES];
    let mut foreign = Vec::new();
    for l in &lines {
        let n = l.split(' ').nth(1).and_then(|s| s.parse::<usize>().ok());
        match n {
            Some(n) if n < LINES && l == &format!("line {n} {}", "x".repeat(n % 37)) => {
                seen[n] += 1
            }
            _ => foreign.push(l.clone()),
        }
    }
    let lost: Vec<usize> = (0..LINES).filter(|&i| seen[i] == 0).collect();
    let dup: Vec<usize> = (0..LINES).filter(|&i| seen[i] > 1).collect();
    println!(
        "{how:?}/{backend:?}: {} lines read, {} rotations seen, {} lost, {} duplicated",
        lines.len(),
        rotations,
        lost.len(),
        dup.len()
    );
    assert!(
        foreign.is_empty(),
        "{how:?}: garbled lines {:?}",
        &foreign[..foreign.len().min(5)]
    );
    assert!(
        lost.is_empty(),
        "{how:?}: {} lines lost, first {:?}",
        lost.len(),
        &lost[..lost.len().min(10)]
    );
    assert!(
        dup.is_empty(),
        "{how:?}: {} lines duplicated, first {:?}",
        dup.len(),
        &dup[..dup.len().min(10)]
    );
    assert!(
        rotations >= (LINES / ROTATE_EVERY - 1) as u64 / 2,
        "{how:?}: only {rotations} rotations seen"
    );
}

#[test]
fn rename_and_create() {
    check(Rotation::RenameCreate, FileBackend::Inotify);
}

#[test]
fn copytruncate() {
    check(Rotation::CopyTruncate, FileBackend::Inotify);
}

#[test]
fn delete_and_create() {
    check(Rotation::DeleteCreate, FileBackend::Inotify);
}

#[test]
fn fast_double_rotation() {
    check(Rotation::DoubleRename, FileBackend::Inotify);
}

#[test]
fn rename_and_create_polling() {
    check(Rotation::RenameCreate, FileBackend::Polling);
}

#[test]
fn copytruncate_polling() {
    check(Rotation::CopyTruncate, FileBackend::Polling);
}

/// Two rotations, with lines written in between, and the reader not looking until both are
/// done: the generation in the middle is found and read whole, in order.
#[test]
fn double_rotation_between_two_reads() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.log");
    let write = |path: &Path, from: usize, to: usize| {
        let mut f = append_handle(path);
        for i in from..to {
            writeln!(f, "line {i}").unwrap();
        }
    };
    // An older rotated file, from before we started: must not be read.
    write(&rotated(&p, 3), 9000, 9010);
    // Birth times tick coarsely (a few ms on ext4): an older file must be older by a tick.
    std::thread::sleep(Duration::from_millis(30));
    write(&p, 0, 100);
    let mut t = FileTailer::open(&p, StartPos::Head, LogEncoding::Utf8).unwrap();
    let mut got = Vec::new();
    t.read_available(&mut got).unwrap();
    write(&p, 100, 150); // unread lines in the first generation
    fs::rename(&p, rotated(&p, 1)).unwrap();
    write(&p, 150, 300); // second generation
    fs::rename(rotated(&p, 1), rotated(&p, 2)).unwrap();
    fs::rename(&p, rotated(&p, 1)).unwrap();
    write(&p, 300, 400); // third
    t.read_available(&mut got).unwrap();
    let want: Vec<String> = (0..400).map(|i| format!("line {i}")).collect();
    assert_eq!(got, want);
    assert_eq!(t.rotations(), 1);
    t.read_available(&mut got).unwrap();
    assert_eq!(got.len(), 400);
}

/// copytruncate between two reads: the unread tail is taken from the copy.
#[test]
fn copytruncate_between_two_reads() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.log");
    let mut f = append_handle(&p);
    for i in 0..100 {
        writeln!(f, "line {i}").unwrap();
    }
    let mut t = FileTailer::open(&p, StartPos::Head, LogEncoding::Utf8).unwrap();
    let mut got = Vec::new();
    t.read_available(&mut got).unwrap();
    for i in 100..150 {
        writeln!(f, "line {i}").unwrap();
    }
    fs::copy(&p, rotated(&p, 1)).unwrap();
    f.set_len(0).unwrap();
    // Written again past our old offset: only the first line shows the truncation.
    for i in 150..1000 {
        writeln!(f, "line {i}").unwrap();
    }
    t.read_available(&mut got).unwrap();
    let want: Vec<String> = (0..1000).map(|i| format!("line {i}")).collect();
    assert_eq!(got, want);
}

/// Truncated and rewritten to exactly the same size between two reads: the modification time
/// and the first line give it away.
#[test]
fn same_size_rewrite_is_seen() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("app.log");
    fs::write(&p, "aaaa 1\nbbbb 2\n").unwrap();
    let mut t = FileTailer::open(&p, StartPos::Head, LogEncoding::Utf8).unwrap();
    let mut got = Vec::new();
    t.read_available(&mut got).unwrap();
    // Timestamps tick coarsely: make sure the rewrite lands on a later tick.
    thread::sleep(Duration::from_millis(30));
    fs::write(&p, "cccc 3\ndddd 4\n").unwrap();
    t.read_available(&mut got).unwrap();
    assert_eq!(got, ["aaaa 1", "bbbb 2", "cccc 3", "dddd 4"]);
}

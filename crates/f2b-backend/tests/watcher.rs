//! Several files of one jail behind one FileWatcher.

use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::thread;
use std::time::Duration;

use f2b_backend::{FileBackend, FileTailer, FileWatcher, LogEncoding, StartPos};

fn append(path: &Path, data: &str) {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap()
        .write_all(data.as_bytes())
        .unwrap();
}

/// Waits for `want` lines. With inotify the wait ends on the change itself (a long timeout);
/// polling looks at the files every `timeout`, its poll interval.
fn collect(w: &mut FileWatcher, want: usize) -> Vec<(PathBuf, String)> {
    let timeout = match w.backend() {
        FileBackend::Inotify => Duration::from_secs(30),
        FileBackend::Polling => Duration::from_millis(20),
    };
    let mut got = Vec::new();
    for _ in 0..1000 {
        let out = w.wait_and_read(timeout, &mut |p, l| {
            got.push((p.to_path_buf(), l.to_owned()))
        });
        assert!(out.errors.is_empty());
        assert!(
            !(out.timed_out && w.backend() == FileBackend::Inotify),
            "inotify did not wake the wait"
        );
        if got.len() >= want {
            break;
        }
    }
    got
}

fn several_files(backend: FileBackend) {
    let d1 = tempfile::tempdir().unwrap();
    let d2 = tempfile::tempdir().unwrap();
    let a = d1.path().join("auth.log");
    let b = d2.path().join("mail.log");
    let c = d1.path().join("other.log");
    append(&a, "old a\n");
    append(&b, "old b\n");
    let mut w = FileWatcher::new(backend);
    assert_eq!(w.backend(), backend);
    w.add(FileTailer::open(&a, StartPos::Tail, LogEncoding::Utf8).unwrap())
        .unwrap();
    w.add(FileTailer::open(&b, StartPos::Head, LogEncoding::Utf8).unwrap())
        .unwrap();
    match backend {
        FileBackend::Inotify => assert!(w.unwatched().is_empty()),
        FileBackend::Polling => assert_eq!(w.unwatched(), w.paths()),
    }
    let first = w.read_all(&mut |_, _| {});
    assert_eq!(first.lines, 1); // "old b"; a started at its end

    let writer = {
        let (a, b, c) = (a.clone(), b.clone(), c.clone());
        thread::spawn(move || {
            thread::sleep(Duration::from_millis(50));
            append(&c, "not watched\n");
            append(&a, "new a\n");
            thread::sleep(Duration::from_millis(50));
            append(&b, "new b\n");
        })
    };
    let got = collect(&mut w, 2);
    writer.join().unwrap();
    if backend == FileBackend::Inotify {
        // Woken by the changes themselves.
        let mut none = Vec::new();
        let out = w.wait_and_read(Duration::from_millis(1), &mut |_, l| {
            none.push(l.to_owned())
        });
        assert!(none.is_empty() && out.timed_out);
    }
    assert_eq!(
        got,
        vec![
            (a.clone(), "new a".to_string()),
            (b.clone(), "new b".to_string())
        ]
    );

    let t = w.remove(&a).expect("was watched");
    assert_eq!(t.position().pos, 12);
    assert_eq!(w.paths(), vec![b.clone()]);
}

#[test]
fn several_files_inotify() {
    several_files(FileBackend::Inotify);
}

#[test]
fn several_files_polling() {
    several_files(FileBackend::Polling);
}

#[test]
fn stop_handle_ends_a_wait() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("x.log");
    append(&a, "");
    let mut w = FileWatcher::new(FileBackend::Inotify);
    w.add(FileTailer::open(&a, StartPos::Head, LogEncoding::Utf8).unwrap())
        .unwrap();
    let stop = w.stop_handle();
    let t = thread::spawn(move || {
        thread::sleep(Duration::from_millis(50));
        stop.stop();
    });
    let out = w.wait_and_read(Duration::from_secs(120), &mut |_, _| {});
    t.join().unwrap();
    assert!(out.stopped);
    assert_eq!(out.lines, 0);
}

/// The log directory itself is removed and made again: after one poll interval the new
/// directory is watched, and its file is read from its start.
#[test]
fn directory_recreated() {
    let top = tempfile::tempdir().unwrap();
    let dir = top.path().join("logs");
    std::fs::create_dir(&dir).unwrap();
    let a = dir.join("app.log");
    append(&a, "one\n");
    let mut w = FileWatcher::new(FileBackend::Inotify);
    w.add(FileTailer::open(&a, StartPos::Head, LogEncoding::Utf8).unwrap())
        .unwrap();
    assert_eq!(w.read_all(&mut |_, _| {}).lines, 1);
    std::fs::remove_dir_all(&dir).unwrap();
    std::fs::create_dir(&dir).unwrap();
    // The first wait takes the removal events; the second times out, which renews the watch.
    w.wait_and_read(Duration::from_millis(10), &mut |_, _| {});
    w.wait_and_read(Duration::from_millis(10), &mut |_, _| {});
    append(&a, "two\n");
    let mut got = Vec::new();
    let out = w.wait_and_read(Duration::from_secs(60), &mut |_, l| got.push(l.to_owned()));
    assert!(!out.timed_out, "woken by the timeout, not by inotify");
    assert_eq!(got, ["two"]);
}

/// Two jails follow files of one directory through the process's single inotify instance:
/// each is woken for its own file, and one of them going away leaves the other's watch alive.
#[test]
fn watchers_share_a_directory() {
    let d = tempfile::tempdir().unwrap();
    let a = d.path().join("a.log");
    let b = d.path().join("b.log");
    append(&a, "");
    append(&b, "");
    let mut wa = FileWatcher::new(FileBackend::Inotify);
    let mut wb = FileWatcher::new(FileBackend::Inotify);
    wa.add(FileTailer::open(&a, StartPos::Head, LogEncoding::Utf8).unwrap())
        .unwrap();
    wb.add(FileTailer::open(&b, StartPos::Head, LogEncoding::Utf8).unwrap())
        .unwrap();
    assert!(wa.unwatched().is_empty() && wb.unwatched().is_empty());
    append(&a, "for a\n");
    append(&b, "for b\n");
    assert_eq!(collect(&mut wa, 1), vec![(a.clone(), "for a".to_string())]);
    assert_eq!(collect(&mut wb, 1), vec![(b.clone(), "for b".to_string())]);

    drop(wa);
    assert!(
        wb.unwatched().is_empty(),
        "the shared watch went with the other jail"
    );
    append(&b, "again\n");
    assert_eq!(collect(&mut wb, 1), vec![(b.clone(), "again".to_string())]);
}

//! Waiting for any of a jail's log files to change, and reading them.
//!
//! inotify (through `notify`) only wakes us up; what changed is found by the tailers
//! themselves, so a lost or coalesced event costs nothing but latency: every wait also ends
//! after its timeout and then all files are looked at (the polling fallback, and the only
//! mechanism with `backend = polling`). The parent directories are watched rather than the
//! files, so creations and renames (rotation) wake us too.

use std::collections::HashMap;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::time::Duration;

use notify::{RecursiveMode, Watcher};

use crate::filetailer::FileTailer;
use crate::BackendError;

/// How file changes are noticed (`backend =` for files).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileBackend {
    /// inotify when available, polling otherwise (`auto`, `pyinotify`, `gamin`).
    Inotify,
    /// Look at every file after each timeout (`polling`).
    Polling,
}

enum Wake {
    Paths(Vec<PathBuf>),
    Stop,
}

/// Wakes a [`FileWatcher`] blocked in [`FileWatcher::wait_and_read`] from another thread.
#[derive(Clone)]
pub struct StopHandle(Sender<Wake>);

impl StopHandle {
    /// Makes the current (or next) wait return at once with `stopped = true`.
    pub fn stop(&self) {
        let _ = self.0.send(Wake::Stop);
    }
}

/// What one wait produced.
#[derive(Debug, Default)]
pub struct WaitOutcome {
    /// Lines handed to the sink.
    pub lines: usize,
    /// [`StopHandle::stop`] was called.
    pub stopped: bool,
    /// The wait ended by its timeout (every file was looked at), not by a change.
    pub timed_out: bool,
    /// Files that could not be read this time (they are retried on the next wait).
    pub errors: Vec<(PathBuf, io::Error)>,
}

/// The log files of one jail, with the means to sleep until one of them has new data.
pub struct FileWatcher {
    backend: FileBackend,
    watcher: Option<notify::RecommendedWatcher>,
    /// Watched directories with the (device, inode) they had when the watch was set (None: the
    /// watch could not be set): a directory removed and made again needs a new watch.
    watched_dirs: HashMap<PathBuf, Option<(u64, u64)>>,
    tx: Sender<Wake>,
    rx: Receiver<Wake>,
    tailers: Vec<FileTailer>,
}

impl FileWatcher {
    /// With [`FileBackend::Inotify`] and no inotify available, falls back to polling.
    pub fn new(backend: FileBackend) -> FileWatcher {
        let (tx, rx) = mpsc::channel();
        let watcher = match backend {
            FileBackend::Polling => None,
            FileBackend::Inotify => {
                let etx = tx.clone();
                notify::recommended_watcher(move |res: notify::Result<notify::Event>| {
                    match res {
                        // Opens and closes change nothing (and our own opens would wake us).
                        Ok(ev) if matches!(ev.kind, notify::EventKind::Access(_)) => {}
                        Ok(ev) => {
                            let _ = etx.send(Wake::Paths(ev.paths));
                        }
                        // Lost events (queue overflow): look at everything.
                        Err(_) => {
                            let _ = etx.send(Wake::Paths(Vec::new()));
                        }
                    }
                })
                .ok()
            }
        };
        let backend = if watcher.is_some() {
            backend
        } else {
            FileBackend::Polling
        };
        FileWatcher {
            backend,
            watcher,
            watched_dirs: HashMap::new(),
            tx,
            rx,
            tailers: Vec::new(),
        }
    }

    /// The mechanism actually in use.
    pub fn backend(&self) -> FileBackend {
        self.backend
    }

    pub fn stop_handle(&self) -> StopHandle {
        StopHandle(self.tx.clone())
    }

    /// Adds a file; its directory is watched. A file already followed is replaced. When the
    /// directory cannot be watched (inotify limits), the file is still followed, at each
    /// timeout, and the watch is tried again then; [`FileWatcher::unwatched`] lists such files.
    pub fn add(&mut self, tailer: FileTailer) -> Result<(), BackendError> {
        let dir = parent_dir(tailer.path());
        if let Some(w) = self.watcher.as_mut() {
            if let std::collections::hash_map::Entry::Vacant(slot) = self.watched_dirs.entry(dir) {
                let id = match w.watch(slot.key(), RecursiveMode::NonRecursive) {
                    Ok(()) => dir_identity(slot.key()),
                    Err(_) => None,
                };
                slot.insert(id);
            }
        }
        self.remove(tailer.path());
        self.tailers.push(tailer);
        Ok(())
    }

    /// Files whose directory is not watched at the moment (they are read at each timeout only).
    pub fn unwatched(&self) -> Vec<PathBuf> {
        if self.watcher.is_none() {
            return self.paths();
        }
        self.tailers
            .iter()
            .filter(|t| !matches!(self.watched_dirs.get(&parent_dir(t.path())), Some(Some(_))))
            .map(|t| t.path().to_path_buf())
            .collect()
    }

    /// Stops following `path`; returns its tailer (for its position).
    pub fn remove(&mut self, path: &Path) -> Option<FileTailer> {
        let i = self.tailers.iter().position(|t| t.path() == path)?;
        let t = self.tailers.remove(i);
        let dir = parent_dir(path);
        if !self.tailers.iter().any(|t| parent_dir(t.path()) == dir)
            && self.watched_dirs.remove(&dir).is_some()
        {
            if let Some(w) = self.watcher.as_mut() {
                let _ = w.unwatch(&dir);
            }
        }
        Some(t)
    }

    pub fn tailers(&self) -> &[FileTailer] {
        &self.tailers
    }

    pub fn paths(&self) -> Vec<PathBuf> {
        self.tailers
            .iter()
            .map(|t| t.path().to_path_buf())
            .collect()
    }

    /// Reads every file now.
    pub fn read_all(&mut self, sink: &mut dyn FnMut(&Path, &str)) -> WaitOutcome {
        let all: Vec<usize> = (0..self.tailers.len()).collect();
        self.read_some(&all, sink)
    }

    /// Blocks until a watched file changes, `timeout` passes or [`StopHandle::stop`] is called,
    /// then reads the files that may have changed (all of them after a timeout) and hands each
    /// new line to `sink` with its file's path.
    pub fn wait_and_read(
        &mut self,
        timeout: Duration,
        sink: &mut dyn FnMut(&Path, &str),
    ) -> WaitOutcome {
        let mut touched: Vec<PathBuf> = Vec::new();
        let mut stopped = false;
        let mut timed_out = false;
        match self.rx.recv_timeout(timeout) {
            Ok(Wake::Paths(p)) => touched.extend(p),
            Ok(Wake::Stop) => stopped = true,
            Err(RecvTimeoutError::Timeout) => timed_out = true,
            Err(RecvTimeoutError::Disconnected) => timed_out = true,
        }
        // Coalesce whatever else is queued: one read serves many events.
        while let Ok(w) = self.rx.try_recv() {
            match w {
                Wake::Paths(p) => touched.extend(p),
                Wake::Stop => stopped = true,
            }
        }
        if stopped {
            return WaitOutcome {
                stopped,
                ..WaitOutcome::default()
            };
        }
        if timed_out {
            self.rewatch_replaced_dirs();
        }
        let overflow = !timed_out && touched.is_empty();
        let selected: Vec<usize> = if timed_out || overflow || self.backend == FileBackend::Polling
        {
            (0..self.tailers.len()).collect()
        } else {
            self.tailers
                .iter()
                .enumerate()
                .filter(|(_, t)| {
                    touched.iter().any(|p| {
                        p == t.path() || (t.has_retired() && parent_dir(p) == parent_dir(t.path()))
                            // A creation or rename in the directory may be our file coming back.
                            || (p.parent() == t.path().parent() && !t.path().exists())
                            || p.parent() == t.path().parent() && is_sibling(p, t.path())
                    })
                })
                .map(|(i, _)| i)
                .collect()
        };
        let mut out = self.read_some(&selected, sink);
        out.timed_out = timed_out;
        out
    }

    /// Renews the watch of directories that were removed and created again (their old watch
    /// died with them) or could not be watched before; until then their files were only polled.
    fn rewatch_replaced_dirs(&mut self) {
        let Some(w) = self.watcher.as_mut() else {
            return;
        };
        for (dir, id) in self.watched_dirs.iter_mut() {
            let now = dir_identity(dir);
            if now.is_some() && now != *id {
                let _ = w.unwatch(dir);
                *id = match w.watch(dir, RecursiveMode::NonRecursive) {
                    Ok(()) => now,
                    Err(_) => None,
                };
            }
        }
    }

    fn read_some(&mut self, which: &[usize], sink: &mut dyn FnMut(&Path, &str)) -> WaitOutcome {
        let mut out = WaitOutcome::default();
        for &i in which {
            let Some(t) = self.tailers.get_mut(i) else {
                continue;
            };
            let path = t.path().to_path_buf();
            match t.read_with(&mut |line| sink(&path, line)) {
                Ok(n) => out.lines += n,
                Err(e) => out.errors.push((path, e)),
            }
        }
        out
    }
}

/// `p` is a rotated name of `file` (`file.1`, `file-20240101`, ...).
fn is_sibling(p: &Path, file: &Path) -> bool {
    match (p.file_name(), file.file_name()) {
        (Some(a), Some(b)) => {
            let (a, b) = (a.to_string_lossy(), b.to_string_lossy());
            a.len() > b.len() && a.starts_with(&*b)
        }
        _ => false,
    }
}

fn dir_identity(dir: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(dir).ok().map(|m| (m.dev(), m.ino()))
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

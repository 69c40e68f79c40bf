//! Waiting for any of a jail's log files to change, and reading them.
//!
//! inotify (through `notify`) only wakes us up; what changed is found by the tailers
//! themselves, so a lost or coalesced event costs nothing but latency: every wait also ends
//! after its timeout and then all files are looked at (the polling fallback, and the only
//! mechanism with `backend = polling`). The parent directories are watched rather than the
//! files, so creations and renames (rotation) wake us too. All watchers of the process share
//! one inotify instance and its thread ([`crate::dirwatch`]).

use std::collections::HashSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::Arc;
use std::time::Duration;

use crate::dirwatch::{self, Hub, SubscriberId};
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
    /// The shared inotify instance and our subscription to it (None: polling).
    hub: Option<(Arc<Hub>, SubscriberId)>,
    /// Directories we subscribed to.
    dirs: HashSet<PathBuf>,
    tx: Sender<Wake>,
    rx: Receiver<Wake>,
    tailers: Vec<FileTailer>,
}

impl FileWatcher {
    /// With [`FileBackend::Inotify`] and no inotify available, falls back to polling.
    pub fn new(backend: FileBackend) -> FileWatcher {
        let (tx, rx) = mpsc::channel();
        let hub = match backend {
            FileBackend::Polling => None,
            FileBackend::Inotify => dirwatch::hub().map(|h| {
                let id = h.new_subscriber();
                (h, id)
            }),
        };
        let backend = if hub.is_some() {
            backend
        } else {
            FileBackend::Polling
        };
        FileWatcher {
            backend,
            hub,
            dirs: HashSet::new(),
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
        if let Some((hub, id)) = &self.hub {
            if !self.dirs.contains(&dir) {
                let tx = self.tx.clone();
                hub.subscribe(
                    &dir,
                    *id,
                    Box::new(move |paths| {
                        let _ = tx.send(Wake::Paths(paths));
                    }),
                );
                self.dirs.insert(dir);
            }
        }
        self.remove(tailer.path());
        self.tailers.push(tailer);
        Ok(())
    }

    /// Files whose directory is not watched at the moment (they are read at each timeout only).
    pub fn unwatched(&self) -> Vec<PathBuf> {
        let Some((hub, _)) = &self.hub else {
            return self.paths();
        };
        self.tailers
            .iter()
            .filter(|t| !hub.is_watched(&parent_dir(t.path())))
            .map(|t| t.path().to_path_buf())
            .collect()
    }

    /// Stops following `path`; returns its tailer (for its position).
    pub fn remove(&mut self, path: &Path) -> Option<FileTailer> {
        let i = self.tailers.iter().position(|t| t.path() == path)?;
        let t = self.tailers.remove(i);
        let dir = parent_dir(path);
        if !self.tailers.iter().any(|t| parent_dir(t.path()) == dir) && self.dirs.remove(&dir) {
            if let Some((hub, id)) = &self.hub {
                hub.unsubscribe(&dir, *id);
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
        let Some((hub, _)) = &self.hub else {
            return;
        };
        for dir in &self.dirs {
            hub.rewatch(dir);
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

impl Drop for FileWatcher {
    fn drop(&mut self) {
        if let Some((hub, id)) = &self.hub {
            for dir in &self.dirs {
                hub.unsubscribe(dir, *id);
            }
        }
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

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

//! One inotify instance, and so one `notify` thread, for every [`crate::FileWatcher`] of the
//! process.
//!
//! A watcher per jail costs a thread and an inotify instance each (50 jails: 50 threads, and
//! the kernel's default of 128 instances per user is shared with every other program). Here
//! each log directory is watched once, with the jails that follow a file in it subscribed to
//! it; events are routed to the subscribers of the directory they happened in.
//!
//! Two locks, taken in this order and never the other: `ops` serialises watch changes (the
//! `notify` calls wait for its event thread), `routes` is held only briefly, never across a
//! `notify` call, because that event thread takes it to route an event.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use notify::{RecursiveMode, Watcher};

/// What a subscriber is told: the paths an event names (empty: events were lost, look at
/// everything).
pub(crate) type Paths = Vec<PathBuf>;

/// Identifies one subscriber (one `FileWatcher`).
pub(crate) type SubscriberId = u64;

/// How a subscriber is woken (it must not block: it runs on notify's thread).
pub(crate) type Notify = Box<dyn Fn(Paths) + Send>;

struct Dir {
    /// (device, inode) the directory had when its watch was set; `None`: no watch (it could
    /// not be set, inotify limits), retried by [`Hub::rewatch`].
    watched: Option<(u64, u64)>,
    subscribers: Vec<(SubscriberId, Notify)>,
}

#[derive(Default)]
struct Routes {
    dirs: HashMap<PathBuf, Dir>,
}

pub(crate) struct Hub {
    ops: Mutex<notify::RecommendedWatcher>,
    routes: Arc<Mutex<Routes>>,
    next_id: AtomicU64,
}

fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn dir_identity(dir: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(dir).ok().map(|m| (m.dev(), m.ino()))
}

/// The process's hub, made on first use. `None` when inotify is not available (the caller
/// polls); a later call tries again (an inotify instance may have been freed meanwhile).
pub(crate) fn hub() -> Option<Arc<Hub>> {
    static HUB: Mutex<Option<Arc<Hub>>> = Mutex::new(None);
    let mut slot = relock(&HUB);
    if slot.is_none() {
        *slot = Hub::new().map(Arc::new);
    }
    slot.clone()
}

impl Hub {
    fn new() -> Option<Hub> {
        let routes = Arc::new(Mutex::new(Routes::default()));
        let r = Arc::clone(&routes);
        let watcher =
            notify::recommended_watcher(move |res: notify::Result<notify::Event>| route(&r, res))
                .ok()?;
        Some(Hub {
            ops: Mutex::new(watcher),
            routes,
            next_id: AtomicU64::new(1),
        })
    }

    pub(crate) fn new_subscriber(&self) -> SubscriberId {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Subscribes `id` to the events of `dir`, watching it if nobody did yet (or its earlier
    /// watch could not be set).
    pub(crate) fn subscribe(&self, dir: &Path, id: SubscriberId, tx: Notify) {
        let mut w = relock(&self.ops);
        let needs_watch = {
            let mut routes = relock(&self.routes);
            let d = routes.dirs.entry(dir.to_path_buf()).or_insert(Dir {
                watched: None,
                subscribers: Vec::new(),
            });
            d.subscribers.retain(|(s, _)| *s != id);
            d.subscribers.push((id, tx));
            d.watched.is_none()
        };
        if needs_watch {
            let watched = match w.watch(dir, RecursiveMode::NonRecursive) {
                Ok(()) => dir_identity(dir),
                Err(_) => None,
            };
            if let Some(d) = relock(&self.routes).dirs.get_mut(dir) {
                d.watched = watched;
            }
        }
    }

    /// Ends `id`'s subscription to `dir`; the watch goes with the last subscriber.
    pub(crate) fn unsubscribe(&self, dir: &Path, id: SubscriberId) {
        let mut w = relock(&self.ops);
        let unwatch = {
            let mut routes = relock(&self.routes);
            let Some(d) = routes.dirs.get_mut(dir) else {
                return;
            };
            d.subscribers.retain(|(s, _)| *s != id);
            if !d.subscribers.is_empty() {
                return;
            }
            routes.dirs.remove(dir).is_some_and(|d| d.watched.is_some())
        };
        if unwatch {
            let _ = w.unwatch(dir);
        }
    }

    /// Renews the watch of `dir` when it was removed and made again (its old watch died with
    /// it) or could not be set before.
    pub(crate) fn rewatch(&self, dir: &Path) {
        let mut w = relock(&self.ops);
        let Some(old) = relock(&self.routes).dirs.get(dir).map(|d| d.watched) else {
            return;
        };
        let now = dir_identity(dir);
        if now.is_none() || now == old {
            return;
        }
        if old.is_some() {
            let _ = w.unwatch(dir);
        }
        let watched = match w.watch(dir, RecursiveMode::NonRecursive) {
            Ok(()) => now,
            Err(_) => None,
        };
        if let Some(d) = relock(&self.routes).dirs.get_mut(dir) {
            d.watched = watched;
        }
    }

    /// Whether `dir` has a live watch.
    pub(crate) fn is_watched(&self, dir: &Path) -> bool {
        relock(&self.routes)
            .dirs
            .get(dir)
            .is_some_and(|d| d.watched.is_some())
    }
}

/// Runs on notify's thread: hands an event to the subscribers of the directories it concerns.
fn route(routes: &Mutex<Routes>, res: notify::Result<notify::Event>) {
    let routes = relock(routes);
    match res {
        // Opens and closes change nothing (and the readers' own opens would wake them).
        Ok(ev) if matches!(ev.kind, notify::EventKind::Access(_)) => {}
        Ok(ev) if !ev.need_rescan() && !ev.paths.is_empty() => {
            let mut told: Vec<SubscriberId> = Vec::new();
            for p in &ev.paths {
                // An entry of a watched directory, or the directory itself (removed, moved).
                for dir in [p.parent(), Some(p.as_path())].into_iter().flatten() {
                    let Some(d) = routes.dirs.get(dir) else {
                        continue;
                    };
                    for (id, tx) in &d.subscribers {
                        if !told.contains(id) {
                            told.push(*id);
                            tx(ev.paths.clone());
                        }
                    }
                }
            }
        }
        // Lost events (queue overflow) or an event naming nothing: everyone looks at everything.
        _ => {
            let mut told: Vec<SubscriberId> = Vec::new();
            for d in routes.dirs.values() {
                for (id, tx) in &d.subscribers {
                    if !told.contains(id) {
                        told.push(*id);
                        tx(Vec::new());
                    }
                }
            }
        }
    }
}

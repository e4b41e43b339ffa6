//! The `--poll` backend: a notify [`Watcher`] that rescans the watched folders on a timer,
//! for file systems that send no events (network drives, some VMs and containers).
//!
//! notify's own PollWatcher keeps modification times in whole seconds, so `generate`
//! writing a run twice within a second (queued, then done) would look like one change and
//! the page would keep the stale state. This one compares (mtime to the nanosecond,
//! length, inode) and never reads file contents.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use notify::{Event, EventHandler, EventKind, RecursiveMode, Watcher, WatcherKind};

/// What a rescan compares; any difference is a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    modified: Option<SystemTime>,
    len: u64,
    inode: u64,
}

fn stamp(meta: &std::fs::Metadata) -> Stamp {
    #[cfg(unix)]
    let inode = std::os::unix::fs::MetadataExt::ino(meta);
    #[cfg(not(unix))]
    let inode = 0;
    Stamp {
        modified: meta.modified().ok(),
        len: meta.len(),
        inode,
    }
}

/// Every path under `root` (only its direct entries when not recursive) with its stamp.
fn scan(root: &Path, recursive: bool, into: &mut HashMap<PathBuf, Stamp>) {
    let walk = walkdir::WalkDir::new(root).max_depth(if recursive { usize::MAX } else { 1 });
    for entry in walk.into_iter().filter_map(Result::ok) {
        if let Ok(meta) = entry.metadata() {
            into.insert(entry.into_path(), stamp(&meta));
        }
    }
}

/// Paths whose stamp differs between two scans, or that exist in only one.
fn changes(old: &HashMap<PathBuf, Stamp>, new: &HashMap<PathBuf, Stamp>) -> Vec<PathBuf> {
    let mut changed: Vec<PathBuf> = new
        .iter()
        .filter(|(p, s)| old.get(*p) != Some(s))
        .map(|(p, _)| p.clone())
        .collect();
    changed.extend(old.keys().filter(|p| !new.contains_key(*p)).cloned());
    changed.sort();
    changed
}

struct State {
    roots: BTreeMap<PathBuf, bool>,
    seen: HashMap<PathBuf, Stamp>,
}

impl State {
    fn rescan(&self) -> HashMap<PathBuf, Stamp> {
        let mut now = HashMap::with_capacity(self.seen.len());
        for (root, recursive) in &self.roots {
            scan(root, *recursive, &mut now);
        }
        now
    }
}

pub struct FinePollWatcher {
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
}

impl Watcher for FinePollWatcher {
    fn new<F: EventHandler>(mut handler: F, config: notify::Config) -> notify::Result<Self> {
        let interval = config.poll_interval().unwrap_or(Duration::from_millis(200));
        let state = Arc::new(Mutex::new(State {
            roots: BTreeMap::new(),
            seen: HashMap::new(),
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let (thread_state, thread_stop) = (Arc::clone(&state), Arc::clone(&stop));
        std::thread::Builder::new()
            .name("chorus poll watcher".into())
            .spawn(move || {
                while !thread_stop.load(Ordering::Relaxed) {
                    std::thread::sleep(interval);
                    let changed = {
                        let Ok(mut state) = thread_state.lock() else {
                            return;
                        };
                        let now = state.rescan();
                        let changed = changes(&state.seen, &now);
                        state.seen = now;
                        changed
                    };
                    for path in changed {
                        handler.handle_event(Ok(Event::new(EventKind::Any).add_path(path)));
                    }
                }
            })
            .map_err(notify::Error::io)?;
        Ok(FinePollWatcher { state, stop })
    }

    fn watch(&mut self, path: &Path, mode: RecursiveMode) -> notify::Result<()> {
        if !path.exists() {
            return Err(notify::Error::path_not_found().add_path(path.to_path_buf()));
        }
        let mut state = self
            .state
            .lock()
            .map_err(|_| notify::Error::generic("poll watcher stopped"))?;
        let recursive = mode == RecursiveMode::Recursive;
        state.roots.insert(path.to_path_buf(), recursive);
        // What is there now is the baseline, not a change.
        let mut seen = std::mem::take(&mut state.seen);
        scan(path, recursive, &mut seen);
        state.seen = seen;
        Ok(())
    }

    fn unwatch(&mut self, path: &Path) -> notify::Result<()> {
        let mut state = self
            .state
            .lock()
            .map_err(|_| notify::Error::generic("poll watcher stopped"))?;
        state.roots.remove(path);
        Ok(())
    }

    fn kind() -> WatcherKind {
        WatcherKind::PollWatcher
    }
}

impl Drop for FinePollWatcher {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rewrite_within_the_same_second_is_a_change() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.json");
        std::fs::write(&file, "one").unwrap();
        let mut before = HashMap::new();
        scan(dir.path(), true, &mut before);
        crate::fsutil::write_atomic(&file, b"two").unwrap();
        std::fs::write(dir.path().join("b.json"), "new").unwrap();
        let mut after = HashMap::new();
        scan(dir.path(), true, &mut after);
        let changed = changes(&before, &after);
        assert!(changed.contains(&file), "{changed:?}");
        assert!(changed.contains(&dir.path().join("b.json")));
    }
}

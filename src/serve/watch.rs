//! Watches what the site is made from (`chorus.toml`, `runs/`, `themes/`, `templates/`)
//! through notify and a short debounce, native events or polling. It reports changed paths
//! and never looks inside them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::mpsc::{channel, Receiver};
use std::time::Duration;

use notify::{Event, EventHandler, RecommendedWatcher, RecursiveMode, Watcher, WatcherKind};
use notify_debouncer_mini::{new_debouncer_opt, Config, DebounceEventResult, Debouncer};

use super::poll::FinePollWatcher;

/// Long enough to gather the burst of events one atomic write makes (create, write,
/// rename), short enough to keep write-to-reload well under the 150 ms target. Zola and
/// mdBook wait a full second.
pub const DEBOUNCE: Duration = Duration::from_millis(20);
/// How often `--poll` looks at modification times.
pub const POLL_INTERVAL: Duration = Duration::from_millis(200);
/// The folders under the project root whose every file feeds the site.
const WATCHED_DIRS: [&str; 3] = ["runs", "themes", "templates"];

/// A watcher that drops read-only events. inotify reports every open and close, and
/// debouncer-mini forwards them as changes, so each build's own reads of runs/ and
/// chorus.toml would trigger the next build, forever.
struct ChangesOnly<W: Watcher>(W);

impl<W: Watcher> Watcher for ChangesOnly<W> {
    fn new<F: EventHandler>(mut handler: F, config: notify::Config) -> notify::Result<Self> {
        let filter = move |event: notify::Result<Event>| {
            if !event.as_ref().is_ok_and(|e| e.kind.is_access()) {
                handler.handle_event(event);
            }
        };
        W::new(filter, config).map(ChangesOnly)
    }

    fn watch(&mut self, path: &Path, mode: RecursiveMode) -> notify::Result<()> {
        self.0.watch(path, mode)
    }

    fn unwatch(&mut self, path: &Path) -> notify::Result<()> {
        self.0.unwatch(path)
    }

    fn kind() -> WatcherKind {
        W::kind()
    }
}

enum AnyDebouncer {
    Native(Debouncer<ChangesOnly<RecommendedWatcher>>),
    Poll(Debouncer<FinePollWatcher>),
}

impl AnyDebouncer {
    fn watcher(&mut self) -> &mut dyn Watcher {
        match self {
            AnyDebouncer::Native(d) => d.watcher(),
            AnyDebouncer::Poll(d) => d.watcher(),
        }
    }
}

/// A batch of changes, after the debounce.
#[derive(Debug, Default)]
pub struct Batch {
    pub paths: Vec<PathBuf>,
    /// A watched folder appeared (say `runs/` after a checkout): its contents are unknown.
    pub new_folder: bool,
}

pub struct ProjectWatch {
    debouncer: AnyDebouncer,
    rx: Receiver<DebounceEventResult>,
    root: PathBuf,
    watched: BTreeSet<PathBuf>,
}

impl ProjectWatch {
    /// Starts watching the project at `root` (give it canonical, so event paths compare).
    pub fn start(root: &Path, poll: bool) -> Result<ProjectWatch, notify::Error> {
        let (tx, rx) = channel();
        let config = Config::default()
            .with_timeout(DEBOUNCE)
            .with_notify_config(notify::Config::default().with_poll_interval(POLL_INTERVAL));
        let mut debouncer = if poll {
            AnyDebouncer::Poll(new_debouncer_opt(config, tx)?)
        } else {
            AnyDebouncer::Native(new_debouncer_opt(config, tx)?)
        };
        // The root itself only non-recursively: it holds site/ (our own output) and
        // perhaps .git/ and target/, none of which feed the site.
        debouncer
            .watcher()
            .watch(root, RecursiveMode::NonRecursive)?;
        let mut watch = ProjectWatch {
            debouncer,
            rx,
            root: root.to_path_buf(),
            watched: BTreeSet::new(),
        };
        watch.refresh();
        Ok(watch)
    }

    /// Waits for the next batch of changes; `None` when the watcher has stopped.
    pub fn next_batch(&mut self) -> Option<Batch> {
        let mut batch = Batch::default();
        let first = self.rx.recv().ok()?;
        let mut results = vec![first];
        results.extend(self.rx.try_iter());
        for result in results {
            match result {
                Ok(events) => batch.paths.extend(events.into_iter().map(|e| e.path)),
                Err(e) => eprintln!("warning: watching files: {e}"),
            }
        }
        batch.new_folder = self.refresh();
        Some(batch)
    }

    /// Adds a recursive watch on each watched folder that exists and is not yet watched,
    /// and forgets folders that are gone. Returns whether a folder was added.
    fn refresh(&mut self) -> bool {
        let mut added = false;
        for name in WATCHED_DIRS {
            let dir = self.root.join(name);
            let exists = dir.is_dir();
            if exists && !self.watched.contains(&dir) {
                match self
                    .debouncer
                    .watcher()
                    .watch(&dir, RecursiveMode::Recursive)
                {
                    Ok(()) => {
                        self.watched.insert(dir);
                        added = true;
                    }
                    Err(e) => eprintln!("warning: cannot watch {}: {e}", dir.display()),
                }
            } else if !exists && self.watched.remove(&dir) {
                let _ = self.debouncer.watcher().unwatch(&dir);
            }
        }
        added
    }
}

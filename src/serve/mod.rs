//! `serve` owns `chorus serve` and `chorus build --watch`: it watches the project, asks
//! `site` to rebuild what changed, and serves the output folder on loopback with live
//! reload. It never renders pages itself and never serves a file outside the output folder.
//!
//! Pages are served from the output folder on disk (default `site/`), not from memory:
//! the preview is then byte for byte what `chorus build` publishes (the reload script is
//! added to responses only), a 1,000-image site costs no RAM, and `build --watch` shares
//! the same rebuild path.

mod engine;
mod http;
mod inject;
mod poll;
mod resolve;
mod watch;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use engine::Status;
pub use watch::{DEBOUNCE, POLL_INTERVAL};

use crate::site::BuildOptions;
use engine::{Engine, Outcome};
use http::Shared;
use watch::ProjectWatch;

/// Zola's default port; the next free one is taken when it is busy.
pub const DEFAULT_PORT: u16 = 1111;
/// How many ports after the default to try.
const PORT_TRIES: u16 = 50;

#[derive(Debug, Clone)]
pub struct ServeOptions {
    pub bind: IpAddr,
    /// `None`: the default port, or the next free one. `Some(0)`: any free port.
    pub port: Option<u16>,
    pub open: bool,
    pub poll: bool,
    pub build: BuildOptions,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{}: cannot open the project folder: {source}", path.display())]
    Root {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot watch {}: {source} (try --poll)", path.display())]
    Watch {
        path: PathBuf,
        source: notify::Error,
    },
    #[error("cannot listen on {addr}: {source}{hint}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
        hint: &'static str,
    },
    #[error("starting the server: {0}")]
    Runtime(std::io::Error),
}

/// Builds, serves and rebuilds until Ctrl-C. Build failures are shown, never fatal.
pub fn serve(root: &Path, opts: ServeOptions) -> Result<(), ServeError> {
    let root = canonical_root(root)?;
    let mut watch = start_watch(&root, opts.poll)?;
    let mut engine = Engine::new(&root, opts.build.clone());
    let first = engine.build_all();
    report(&first);
    let out = engine.out();
    let base_path = engine
        .project()
        .map(|p| {
            base_path(
                opts.build
                    .base_url
                    .as_deref()
                    .unwrap_or(&p.config.site.base_url),
            )
        })
        .unwrap_or_else(|| "/".into());
    let shared = Arc::new(Shared::new(out.clone(), base_path.clone(), first.status));

    let runtime = tokio::runtime::Runtime::new().map_err(ServeError::Runtime)?;
    runtime.block_on(async {
        let (listener, addr) = bind(opts.bind, opts.port).await?;
        if let Some(warning) = exposure_warning(opts.bind) {
            eprintln!("{warning}");
        }
        let url = format!("http://{addr}/");
        eprintln!("Serving {} at {url} (Ctrl-C to stop)", out.display());
        if base_path != "/" {
            eprintln!("  also at http://{addr}{base_path} (the base_url path)");
        }
        if opts.open {
            open_browser(&url);
        }
        let loop_shared = Arc::clone(&shared);
        std::thread::spawn(move || {
            rebuild_loop(&mut watch, &mut engine, |outcome| {
                report(&outcome);
                loop_shared.publish(outcome.status, outcome.reload);
            })
        });
        tokio::select! {
            () = http::serve(listener, http::router(shared)) => Ok(()),
            _ = tokio::signal::ctrl_c() => Ok(()),
        }
    })
}

/// `chorus build --watch`: builds, then rebuilds on every change until Ctrl-C.
pub fn watch(root: &Path, build: BuildOptions, poll: bool) -> Result<(), ServeError> {
    let root = canonical_root(root)?;
    let mut watch = start_watch(&root, poll)?;
    let mut engine = Engine::new(&root, build);
    report(&engine.build_all());
    eprintln!("Watching {} for changes (Ctrl-C to stop).", root.display());
    rebuild_loop(&mut watch, &mut engine, |outcome| report(&outcome));
    Ok(())
}

fn canonical_root(root: &Path) -> Result<PathBuf, ServeError> {
    // Event paths are absolute; comparing them with the project's needs the same form.
    root.canonicalize().map_err(|source| ServeError::Root {
        path: root.to_path_buf(),
        source,
    })
}

fn start_watch(root: &Path, poll: bool) -> Result<ProjectWatch, ServeError> {
    ProjectWatch::start(root, poll).map_err(|source| ServeError::Watch {
        path: root.to_path_buf(),
        source,
    })
}

fn rebuild_loop(watch: &mut ProjectWatch, engine: &mut Engine, mut done: impl FnMut(Outcome)) {
    while let Some(batch) = watch.next_batch() {
        if let Some(outcome) = engine.apply(&batch.paths, batch.new_folder) {
            done(outcome);
        }
    }
}

fn report(outcome: &Outcome) {
    match &outcome.status {
        Status::Built { problems } => {
            eprintln!("{}", outcome.summary);
            if !problems.is_empty() {
                eprintln!(
                    "{} problem(s) in runs/ (shown on the pages):",
                    problems.len()
                );
                for p in problems {
                    eprintln!("  {p}");
                }
            }
        }
        Status::Failed { message } => {
            eprintln!("{}\nerror: {message}\n(waiting for a fix)", outcome.summary)
        }
    }
}

/// The preview is for the person at this machine; say so when it is bound wider.
fn exposure_warning(ip: IpAddr) -> Option<String> {
    (!ip.is_loopback()).then(|| {
        format!(
            "warning: serving on {ip} makes the preview (and nothing but the site folder) \
             reachable from other machines; drop --bind to keep it on 127.0.0.1"
        )
    })
}

/// The path part of a base URL, with slashes at both ends: `https://x.io/repo` → `/repo/`.
fn base_path(base_url: &str) -> String {
    let after_scheme = base_url
        .split_once("://")
        .map_or(base_url, |(_, rest)| rest);
    let path = after_scheme.find('/').map_or("", |i| &after_scheme[i..]);
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        "/".into()
    } else {
        format!("/{trimmed}/")
    }
}

async fn bind(
    ip: IpAddr,
    port: Option<u16>,
) -> Result<(tokio::net::TcpListener, SocketAddr), ServeError> {
    let candidates: Vec<u16> = match port {
        Some(p) => vec![p],
        None => (DEFAULT_PORT..DEFAULT_PORT + PORT_TRIES).collect(),
    };
    let mut last_err = None;
    for p in candidates {
        let addr = SocketAddr::new(ip, p);
        match tokio::net::TcpListener::bind(addr).await {
            Ok(listener) => {
                let local = listener.local_addr().unwrap_or(addr);
                if port.is_none() && p != DEFAULT_PORT {
                    eprintln!("Port {DEFAULT_PORT} is busy; using port {p} instead.");
                }
                return Ok((listener, local));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AddrInUse && port.is_none() => {
                last_err = Some(e)
            }
            Err(source) => {
                let hint = if source.kind() == std::io::ErrorKind::AddrInUse {
                    " (the port is busy; choose another with --port, or --port 0 for any free one)"
                } else {
                    ""
                };
                return Err(ServeError::Bind { addr, source, hint });
            }
        }
    }
    Err(ServeError::Bind {
        addr: SocketAddr::new(ip, DEFAULT_PORT),
        source: last_err.unwrap_or_else(|| std::io::Error::other("no port to try")),
        hint: " (ports 1111 to 1160 are all busy; choose one with --port, or --port 0 for any free one)",
    })
}

fn open_browser(url: &str) {
    let (program, args): (&str, Vec<&str>) = if cfg!(target_os = "macos") {
        ("open", vec![url])
    } else if cfg!(windows) {
        ("cmd", vec!["/C", "start", "", url])
    } else {
        ("xdg-open", vec![url])
    };
    if let Err(e) = std::process::Command::new(program)
        .args(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
    {
        eprintln!("warning: could not open a browser ({program}: {e}); open {url} yourself");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_non_loopback_addresses_warn() {
        assert!(exposure_warning("0.0.0.0".parse().unwrap()).is_some());
        assert!(exposure_warning("192.168.1.5".parse().unwrap()).is_some());
        assert!(exposure_warning("127.0.0.1".parse().unwrap()).is_none());
        assert!(exposure_warning("::1".parse().unwrap()).is_none());
    }

    #[test]
    fn base_path_is_the_url_path() {
        assert_eq!(base_path("https://example.github.io/chorus/"), "/chorus/");
        assert_eq!(base_path("https://example.github.io/a/b"), "/a/b/");
        assert_eq!(base_path("https://example.com"), "/");
        assert_eq!(base_path(""), "/");
    }
}

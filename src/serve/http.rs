//! The preview server's HTTP side: files from the output folder (through [`resolve`]),
//! the live-reload event stream on the same port, and the error page while the build is
//! broken. GET and HEAD only; nothing here writes a file.

use std::convert::Infallible;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::Router;
use futures_util::stream::{self, StreamExt};
use tokio::sync::broadcast;

use super::engine::Status;
use super::inject::{self, EVENTS_PATH, SCRIPT_PATH, STYLE_PATH};
use super::resolve::{self, Resolved};

/// What the server shares with the rebuild loop.
pub struct Shared {
    /// The output folder.
    pub out: PathBuf,
    /// The path part of `base_url` (e.g. `/chorus/`), so the preview also answers where
    /// the published site will live. `/` when there is none.
    pub base_path: String,
    pub status: RwLock<Status>,
    /// Counts finished rebuilds that changed what a browser shows.
    pub generation: AtomicU64,
    pub reload: broadcast::Sender<u64>,
}

impl Shared {
    pub fn new(out: PathBuf, base_path: String, status: Status) -> Shared {
        Shared {
            out,
            base_path,
            status: RwLock::new(status),
            generation: AtomicU64::new(0),
            reload: broadcast::channel(16).0,
        }
    }

    /// Records a finished rebuild and tells open pages to reload when it changed anything.
    pub fn publish(&self, status: Status, reload: bool) {
        if let Ok(mut s) = self.status.write() {
            *s = status;
        }
        if reload {
            let generation = self.generation.fetch_add(1, Ordering::SeqCst) + 1;
            let _ = self.reload.send(generation); // no listener is fine
        }
    }

    fn status(&self) -> Status {
        self.status
            .read()
            .map(|s| s.clone())
            .unwrap_or(Status::Built {
                problems: Vec::new(),
            })
    }
}

pub fn router(shared: Arc<Shared>) -> Router {
    Router::new().fallback(handle).with_state(shared)
}

/// How long a connection may take to send a request's headers, and stay idle between
/// requests: a client that connects and says nothing must not hold a file descriptor.
pub const HEADER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// Connections served at once (open pages hold one each for live reload); more wait in
/// the kernel's queue instead of exhausting the process's file limit.
pub const MAX_CONNECTIONS: usize = 256;

/// Serves `app` on `listener` until the future is dropped, with [`HEADER_TIMEOUT`] and
/// [`MAX_CONNECTIONS`]. A failed accept (out of file descriptors, say) waits and goes on.
pub async fn serve(listener: tokio::net::TcpListener, app: Router) {
    let slots = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    loop {
        let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
            return;
        };
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            }
        };
        let service = hyper_util::service::TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let _ = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn handle(State(shared): State<Arc<Shared>>, req: Request) -> Response {
    if req.method() != Method::GET && req.method() != Method::HEAD {
        return (
            StatusCode::METHOD_NOT_ALLOWED,
            [(header::ALLOW, "GET, HEAD")],
            "",
        )
            .into_response();
    }
    let full = req.uri().path();
    let base = shared.base_path.trim_end_matches('/');
    if !base.is_empty() && full == base {
        return redirect(&format!("{}/", base.rsplit('/').next().unwrap_or_default()));
    }
    let path = match full.strip_prefix(base) {
        Some(rest) if !base.is_empty() && rest.starts_with('/') => rest,
        _ => full,
    };
    let wanted = path.trim_start_matches('/');
    if wanted.ends_with(EVENTS_PATH) {
        return events(&shared).into_response();
    }
    if wanted.ends_with(SCRIPT_PATH) {
        let ctype = "text/javascript; charset=utf-8";
        return with_headers(StatusCode::OK, ctype, Body::from(inject::SCRIPT));
    }
    if wanted.ends_with(STYLE_PATH) {
        let ctype = "text/css; charset=utf-8";
        return with_headers(StatusCode::OK, ctype, Body::from(inject::STYLE));
    }
    let depth = resolve::depth(path);
    let status = shared.status();
    let script = || inject::reload_script(depth, shared.generation.load(Ordering::SeqCst));
    if let Status::Failed { message } = &status {
        if wants_page(path) {
            return html(
                StatusCode::INTERNAL_SERVER_ERROR,
                inject::error_page(message, &script(), depth),
            );
        }
    }
    match resolve::resolve(&shared.out, path) {
        Resolved::Redirect(to) => redirect(&to),
        Resolved::File(file) => match tokio::fs::read(&file).await {
            Ok(bytes) => {
                let ctype = resolve::content_type(&file);
                if ctype.starts_with("text/html") {
                    let page =
                        decorate(&String::from_utf8_lossy(&bytes), &status, &script(), depth);
                    html(StatusCode::OK, page)
                } else {
                    with_headers(StatusCode::OK, ctype, Body::from(bytes))
                }
            }
            Err(_) => not_found(&shared, &status, &script(), depth).await,
        },
        Resolved::NotFound => not_found(&shared, &status, &script(), depth).await,
    }
}

/// Whether a path names a page (or a folder's page) rather than an asset.
fn wants_page(path: &str) -> bool {
    let last = path.rsplit('/').next().unwrap_or_default();
    last.is_empty() || last.ends_with(".html") || !last.contains('.')
}

fn decorate(page: &str, status: &Status, script: &str, depth: usize) -> String {
    let banner = match status {
        Status::Built { problems } => inject::problems_banner(problems, depth),
        Status::Failed { .. } => String::new(),
    };
    inject::inject(page, &format!("{banner}{script}"))
}

/// The theme's 404.html when the site has one, else a plain page; never a listing.
async fn not_found(shared: &Shared, status: &Status, script: &str, depth: usize) -> Response {
    let page = match resolve::resolve(&shared.out, "/404.html") {
        Resolved::File(file) => tokio::fs::read_to_string(&file).await.ok(),
        _ => None,
    };
    let page = page.unwrap_or_else(|| {
        "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>Not found</title></head>\
<body><h1>404: not found</h1></body></html>\n"
            .to_string()
    });
    html(
        StatusCode::NOT_FOUND,
        decorate(&page, status, script, depth),
    )
}

/// A page, with the Content-Security-Policy it declares sent as a header too (the
/// site's policy when it declares none).
fn html(status: StatusCode, page: String) -> Response {
    let csp = inject::page_csp(&page);
    let mut res = with_headers(status, "text/html; charset=utf-8", Body::from(page));
    if let Some(value) = csp.and_then(|c| HeaderValue::from_str(&c).ok()) {
        res.headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    res
}

fn with_headers(status: StatusCode, ctype: &'static str, body: Body) -> Response {
    let mut res = Response::new(body);
    *res.status_mut() = status;
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(ctype));
    // A preview must always show the latest build.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(crate::site::CSP),
    );
    res
}

fn redirect(to: &str) -> Response {
    match HeaderValue::from_str(to) {
        Ok(location) => (
            StatusCode::MOVED_PERMANENTLY,
            [(header::LOCATION, location)],
        )
            .into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}

/// Server-sent events: `hello` with the current generation on connect, then `reload`
/// after every rebuild that changed something.
fn events(
    shared: &Arc<Shared>,
) -> Sse<impl futures_util::Stream<Item = Result<Event, Infallible>>> {
    let rx = shared.reload.subscribe();
    let hello = Event::default()
        .event("hello")
        .data(shared.generation.load(Ordering::SeqCst).to_string());
    let shared = Arc::clone(shared);
    let reloads = stream::unfold(rx, move |mut rx| {
        let shared = Arc::clone(&shared);
        async move {
            let generation = match rx.recv().await {
                Ok(g) => g,
                // Missed some: the latest is all a page needs.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    shared.generation.load(Ordering::SeqCst)
                }
                Err(broadcast::error::RecvError::Closed) => return None,
            };
            Some((
                Ok(Event::default()
                    .event("reload")
                    .data(generation.to_string())),
                rx,
            ))
        }
    });
    Sse::new(stream::once(async move { Ok(hello) }).chain(reloads)).keep_alive(KeepAlive::default())
}

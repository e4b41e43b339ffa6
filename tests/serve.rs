//! `chorus serve` and `chorus build --watch` through the real binary: pages over real HTTP
//! on 127.0.0.1, live edits, the reload stream, traversal attempts and broken builds.
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::TestProject;

/// Long enough for a debug build on a busy 2-core machine; the benchmark measures speed.
const WAIT: Duration = Duration::from_secs(15);

/// A running `chorus` child, killed when the test ends (even when it fails).
struct Running {
    child: Child,
    log: Arc<Mutex<String>>,
}

impl Running {
    fn spawn(p: &TestProject, args: &[&str]) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_chorus"))
            .arg("--root")
            .arg(p.root())
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chorus");
        let log = Arc::new(Mutex::new(String::new()));
        let stderr = child.stderr.take().expect("piped stderr");
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let mut log = sink.lock().unwrap();
                log.push_str(&line);
                log.push('\n');
            }
        });
        Running { child, log }
    }

    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    fn wait_for_log(&self, needle: &str) -> String {
        let found = wait_until(|| self.log().contains(needle));
        assert!(found, "no {needle:?} in the output:\n{}", self.log());
        self.log()
    }

    fn still_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `chorus serve --port 0` (any free port) and the port it chose.
fn serve(p: &TestProject, extra: &[&str]) -> (Running, u16) {
    let mut args = vec!["serve", "--port", "0"];
    args.extend_from_slice(extra);
    let server = Running::spawn(p, &args);
    let log = server.wait_for_log("Serving ");
    let port = log
        .split("http://127.0.0.1:")
        .nth(1)
        .and_then(|rest| rest.split('/').next())
        .and_then(|port| port.parse().ok())
        .unwrap_or_else(|| panic!("no URL in the output:\n{log}"));
    (server, port)
}

fn wait_until(mut ok: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < WAIT {
        if ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    ok()
}

struct Reply {
    status: u16,
    headers: String,
    body: String,
}

impl Reply {
    fn header(&self, name: &str) -> Option<String> {
        self.headers.lines().find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// A raw HTTP/1.1 GET: the path goes out byte for byte (clients would normalise `..`).
fn get(port: u16, path: &str) -> Reply {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).expect("read reply");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    Reply {
        status,
        headers: head.to_string(),
        body: body.to_string(),
    }
}

/// A project with one offline group; returns it with the group id.
fn project_with_a_group() -> (TestProject, String) {
    let p = TestProject::init();
    let group = p.generate_offline(&[
        "--seed",
        "11",
        "--artists",
        "offline-minimalist,offline-surrealist",
    ]);
    (p, group[0].clone())
}

/// Rewrites one field of a run file the way `generate` does: whole file, then rename.
fn set_run_field(p: &TestProject, group: &str, slug: &str, field: &str, value: &str) {
    let rel = format!("runs/{group}/{slug}.json");
    let mut run: serde_json::Value = serde_json::from_str(&p.read(&rel)).unwrap();
    run[field] = serde_json::Value::String(value.to_string());
    let tmp = p.path(&format!("runs/{group}/.chorus-tmp-test-{slug}.json"));
    std::fs::write(&tmp, serde_json::to_vec_pretty(&run).unwrap()).unwrap();
    std::fs::rename(&tmp, p.path(&rel)).unwrap();
}

#[test]
fn a_changed_run_file_and_a_new_group_show_up_over_http() {
    let (p, g) = project_with_a_group();
    let (_server, port) = serve(&p, &[]);
    let page = format!("/groups/{g}/offline-minimalist.html");
    let first = get(port, &page);
    assert_eq!(first.status, 200);
    assert_eq!(
        first.header("content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    assert!(
        first.body.contains("data-chorus-live-reload"),
        "no reload script in the served page"
    );

    set_run_field(
        &p,
        &g,
        "offline-minimalist",
        "imagePrompt",
        "a lighthouse folded from paper cranes",
    );
    assert!(
        wait_until(|| get(port, &page)
            .body
            .contains("a lighthouse folded from paper cranes")),
        "the edit never reached the page"
    );
    let on_disk = p.read(&format!("site/groups/{g}/offline-minimalist.html"));
    assert!(on_disk.contains("a lighthouse folded from paper cranes"));
    assert!(
        !on_disk.contains("data-chorus-live-reload"),
        "the reload script leaked into site/"
    );

    // `chorus generate` in another terminal: its group appears on the index as it lands.
    let new = p.generate_offline(&["--seed", "12", "--artists", "offline-naturalist"]);
    assert!(
        wait_until(|| get(port, "/")
            .body
            .contains(&format!("groups/{}/index.html", new[0]))),
        "the new group never reached the index"
    );
    // Its JPEG, or the PNG itself when that is smaller (the offline Brush's flat images are).
    let image = |ext: &str| format!("/groups/{}/media/offline-naturalist.{ext}", new[0]);
    assert!(
        wait_until(
            || get(port, &image("jpg")).status == 200 || get(port, &image("png")).status == 200
        ),
        "the new image is not served"
    );

    // A config change rebuilds everything.
    let config =
        p.read("chorus.toml")
            .replacen("title = ", "title = \"Harbour studies\"\n# was: ", 1);
    p.write("chorus.toml", &config);
    assert!(
        wait_until(|| get(port, &page).body.contains("Harbour studies")),
        "the new title never showed"
    );

    // A removed group leaves the index, and its pages leave site/.
    std::fs::remove_dir_all(p.path(&format!("runs/{}", new[0]))).unwrap();
    assert!(
        wait_until(|| !get(port, "/").body.contains(&new[0])),
        "the removed group is still on the index"
    );
    assert!(wait_until(|| !p
        .path(&format!("site/groups/{}", new[0]))
        .exists()));

    // What the incremental rebuilds left in site/ is exactly what a clean build makes.
    let out = p.chorus(&["build"]).output().unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(
        log.contains(" 0 written, 0 removed"),
        "incremental output differs from a full build:\n{log}"
    );
}

#[test]
fn the_reload_endpoint_emits_an_event_under_the_base_path_too() {
    let (p, g) = project_with_a_group();
    let (_server, port) = serve(&p, &["--base-url", "https://example.org/preview/"]);

    let page = get(port, &format!("/preview/groups/{g}/index.html"));
    assert_eq!(
        page.status, 200,
        "the site is not served under its base path"
    );
    assert!(page.body.contains("data-events=\"../../__chorus/events\""));
    let script = get(port, "/preview/__chorus/reload.js");
    assert_eq!(script.status, 200);
    assert!(script.body.contains("new EventSource"), "{}", script.body);

    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(WAIT)).unwrap();
    write!(
        stream,
        "GET /preview/__chorus/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    )
    .unwrap();
    let mut reader = BufReader::new(stream);
    let mut seen = String::new();
    let mut read_until = |needle: &str, seen: &mut String| {
        let start = Instant::now();
        while !seen.contains(needle) && start.elapsed() < WAIT {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                break;
            }
            seen.push_str(&line);
        }
        assert!(
            seen.contains(needle),
            "no {needle:?} on the event stream:\n{seen}"
        );
    };
    read_until("event: hello", &mut seen);
    assert!(seen
        .to_ascii_lowercase()
        .contains("content-type: text/event-stream"));

    set_run_field(
        &p,
        &g,
        "offline-surrealist",
        "artistStmt",
        "A new statement.",
    );
    read_until("event: reload", &mut seen);
}

#[test]
fn nothing_outside_the_site_folder_is_served() {
    let (p, g) = project_with_a_group();
    let (_server, port) = serve(&p, &[]);
    let config_abs = p.path("chorus.toml");
    #[cfg(unix)]
    std::os::unix::fs::symlink(&config_abs, p.path("site/leak.toml")).unwrap();

    let attempts = [
        "/../chorus.toml".to_string(),
        "/groups/../../chorus.toml".to_string(),
        "/%2e%2e/chorus.toml".to_string(),
        "/%2E%2E/%2e%2e/chorus.toml".to_string(),
        "/..%2fchorus.toml".to_string(),
        "/static/..%5c..%5cchorus.toml".to_string(),
        "//etc/passwd".to_string(),
        "/etc/passwd".to_string(),
        format!("/{}", config_abs.display()),
        format!(
            "/%2f{}",
            config_abs.display().to_string().trim_start_matches('/')
        ),
        "/leak.toml".to_string(),
        "/.chorus-site".to_string(),
    ];
    for path in &attempts {
        let reply = get(port, path);
        assert_eq!(reply.status, 404, "{path} was not refused");
        assert!(
            !reply.body.contains("[[artists]]"),
            "{path} leaked chorus.toml"
        );
    }

    // Folders: their index.html, or 404; never a listing.
    assert_eq!(get(port, "/static/").status, 404);
    let groups = get(port, "/groups");
    assert_eq!(groups.status, 301);
    assert_eq!(groups.header("location").as_deref(), Some("groups/"));
    assert_eq!(get(port, "/groups/").status, 404);

    let css = get(port, "/static/style.css");
    assert_eq!(
        (css.status, css.header("content-type").as_deref()),
        (200, Some("text/css; charset=utf-8"))
    );
    let index = get(port, "/");
    assert_eq!(
        index.header("content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    for (path, ctype) in [
        (
            format!("/groups/{g}/media/offline-minimalist.jpg"),
            "image/jpeg",
        ),
        (
            format!("/{}", p.thumb(&g, "offline-minimalist.png", 400)),
            "image/jpeg",
        ),
        (
            "/static/gallery.js".to_string(),
            "text/javascript; charset=utf-8",
        ),
        ("/runs.json".to_string(), "application/json"),
        ("/atom.xml".to_string(), "application/xml"),
    ] {
        let reply = get(port, &path);
        assert_eq!(reply.status, 200, "{path}");
        assert_eq!(
            reply.header("content-type").as_deref(),
            Some(ctype),
            "{path}"
        );
    }
}

#[test]
fn a_broken_template_shows_the_error_page_and_the_site_recovers() {
    let (p, g) = project_with_a_group();
    let (mut server, port) = serve(&p, &[]);
    assert_eq!(get(port, "/").status, 200);

    p.write(
        "templates/run.html",
        "{% extends \"base.html\" %}{% block content %}{% if %}{% endblock content %}",
    );
    assert!(
        wait_until(|| get(port, "/").status == 500),
        "no error page for a broken template"
    );
    let error = get(port, &format!("/groups/{g}/index.html"));
    assert!(error.body.contains("The site could not be built"));
    assert!(
        error.body.contains("run.html"),
        "the error does not name the template:\n{}",
        error.body
    );
    assert!(
        error.body.contains("data-chorus-live-reload"),
        "the error page would not recover by itself"
    );
    assert_eq!(
        get(port, "/static/style.css").status,
        200,
        "assets should still be served"
    );

    std::fs::remove_file(p.path("templates/run.html")).unwrap();
    assert!(
        wait_until(|| get(port, "/").status == 200),
        "the site did not recover"
    );
    assert!(get(port, "/")
        .body
        .contains(&format!("groups/{g}/index.html")));

    // A broken run file is a problem to show, not a reason to stop.
    p.write(&format!("runs/{g}/offline-surrealist.json"), "{ not json");
    assert!(
        wait_until(|| get(port, "/").body.contains("data-chorus-problems")),
        "the broken run file is not reported on the page"
    );
    assert!(get(port, "/").body.contains("offline-surrealist.json"));
    assert!(
        server.still_running(),
        "the server exited:\n{}",
        server.log()
    );
}

#[test]
fn a_busy_default_port_moves_to_the_next_one() {
    let p = TestProject::init();
    // Hold 1111 if it is free; if someone else holds it, the server must move on all the same.
    let _hold = std::net::TcpListener::bind(("127.0.0.1", 1111));
    let server = Running::spawn(&p, &["serve"]);
    let log = server.wait_for_log("Serving ");
    assert!(log.contains("Port 1111 is busy; using port"), "{log}");
    assert!(!log.contains("http://127.0.0.1:1111/"), "{log}");
}

#[test]
fn build_watch_rebuilds_without_serving() {
    let (p, g) = project_with_a_group();
    let watcher = Running::spawn(&p, &["build", "--watch", "--poll"]);
    watcher.wait_for_log("Watching ");
    set_run_field(
        &p,
        &g,
        "offline-minimalist",
        "imagePrompt",
        "moss on a copper roof",
    );
    let page = Path::new("site/groups")
        .join(&g)
        .join("offline-minimalist.html");
    assert!(
        wait_until(|| std::fs::read_to_string(p.path(page.to_str().unwrap()))
            .is_ok_and(|s| s.contains("moss on a copper roof"))),
        "build --watch did not rebuild:\n{}",
        watcher.log()
    );
    assert!(!p
        .read(page.to_str().unwrap())
        .contains("data-chorus-live-reload"));
}

#[test]
fn pages_carry_their_content_security_policy_as_a_header_and_no_inline_script() {
    let (p, g) = project_with_a_group();
    let (_server, port) = serve(&p, &[]);
    for path in [
        "/".to_string(),
        format!("/groups/{g}/index.html"),
        "/nothing-here".into(),
    ] {
        let page = get(port, &path);
        let csp = page.header("content-security-policy").unwrap_or_default();
        assert!(
            csp.contains("script-src 'self'") && csp.contains("default-src 'self'"),
            "{path}: no policy header: {}",
            page.headers
        );
        assert!(
            !csp.contains("unsafe-inline"),
            "{path}: the policy allows inline code: {csp}"
        );
        // The live-reload script is a file the policy allows, never inline.
        assert!(page.body.contains("data-chorus-live-reload"), "{path}");
        assert!(!page.body.contains("<script>"), "{path}: inline script");
    }
}

#[test]
fn idle_and_half_sent_connections_are_closed() {
    let (p, _g) = project_with_a_group();
    let (_server, port) = serve(&p, &[]);
    let idle = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut half = TcpStream::connect(("127.0.0.1", port)).unwrap();
    half.write_all(b"GET / HTTP/1.1\r\nHost: 127.0").unwrap();
    // The server's header timeout is 10 s; a server without one never closes these.
    for mut stream in [idle, half] {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut buf = Vec::new();
        let closed = stream.read_to_end(&mut buf);
        assert!(
            closed.is_ok(),
            "the server kept a silent connection open for 30 s: {closed:?}"
        );
    }
    // And it still answers.
    assert_eq!(get(port, "/").status, 200);
}

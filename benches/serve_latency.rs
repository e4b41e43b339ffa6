//! How fast `chorus serve` answers a change, on a 1,000-run site (250 groups × 4 Artists).
//!
//! Run: `cargo bench --bench serve_latency` (release build). For each watcher (native events,
//! then `--poll`) it writes 20 run files, one at a time, the way `generate` does (temp file +
//! rename), and measures from the start of the write to
//!   (a) the `reload` event on the live-reload stream, and
//!   (b) the re-rendered run page on disk carrying the new text.
//! Target: median ≤ 150 ms for both, debounce included (native events).

use std::io::{BufRead, BufReader, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::{Duration, Instant};

use chorus::store::{self, ArtistRef, BrushRef, GroupRecord, RunMeta, RunRecord, Status};

const GROUPS: usize = 250;
const ARTISTS: [&str; 4] = [
    "offline-minimalist",
    "offline-maximalist",
    "offline-surrealist",
    "offline-naturalist",
];
const CHANGES: usize = 20;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    let status = Command::new(env!("CARGO_BIN_EXE_chorus"))
        .arg("--root")
        .arg(root)
        .arg("init")
        .output()
        .unwrap();
    assert!(status.status.success(), "chorus init failed");
    let groups = write_corpus(root);
    eprintln!(
        "corpus: {} groups × {} runs in {}",
        groups.len(),
        ARTISTS.len(),
        root.display()
    );

    for (label, extra) in [("native events", &[][..]), ("--poll", &["--poll"][..])] {
        let (server, port, startup, rebuilds) = start(root, extra);
        let (a, b) = measure(root, port, &groups, label);
        drop(server);
        let rebuilds = rebuilds.lock().unwrap().clone();
        println!(
            "\n{label}: initial build + start {startup} ms; {CHANGES} changes on {} runs",
            groups.len() * ARTISTS.len()
        );
        report("write → reload event", &a);
        report("write → page on disk", &b);
        report("rebuild alone (server)", &rebuilds);
    }
}

/// 250 groups of 4 done runs, each with a 512 px PNG (one thumbnail width; all alike, so
/// the thumbnail cache makes it once: what is measured is the rebuild, not resizing).
fn write_corpus(root: &Path) -> Vec<uuid::Uuid> {
    let runs_dir = root.join("runs");
    let png = {
        let img = image::RgbImage::from_fn(512, 512, |x, y| {
            image::Rgb([(x / 2) as u8, (y / 2) as u8, 128])
        });
        let mut bytes = std::io::Cursor::new(Vec::new());
        img.write_to(&mut bytes, image::ImageFormat::Png).unwrap();
        bytes.into_inner()
    };
    let start = chrono::Utc::now() - chrono::Duration::days(1);
    (0..GROUPS)
        .map(|i| {
            let id = uuid::Uuid::new_v4();
            let created = start + chrono::Duration::seconds(i as i64);
            let group = GroupRecord {
                schema_version: store::SCHEMA_VERSION,
                run_group_id: id,
                prompt_version: "v2-neutral".into(),
                prompt_text: "Describe the image you would make.".into(),
                prompt_sha256: store::sha256_hex(b"Describe the image you would make."),
                brush: BrushRef {
                    slug: "procedural".into(),
                    name: "Procedural Brush".into(),
                    provider: "procedural".into(),
                    model: "procedural-v1".into(),
                    size: Some("512x512".into()),
                    quality: None,
                },
                artists: ARTISTS
                    .iter()
                    .map(|s| ArtistRef {
                        slug: s.to_string(),
                        name: s.to_string(),
                        provider: "offline".into(),
                        model: "offline-v1".into(),
                    })
                    .collect(),
                seed: i as u64,
                created_at: created,
            };
            store::write_group(&runs_dir, &group).unwrap();
            for slug in ARTISTS {
                let image = store::image_file_name(slug, "png");
                chorus::fsutil::write_atomic(&store::group_dir(&runs_dir, &id).join(&image), &png)
                    .unwrap();
                store::write_run(
                    &runs_dir,
                    &run(id, slug, &image, created, "A statement about *light*."),
                )
                .unwrap();
            }
            id
        })
        .collect()
}

fn run(
    group: uuid::Uuid,
    slug: &str,
    image: &str,
    created: chrono::DateTime<chrono::Utc>,
    stmt: &str,
) -> RunRecord {
    RunRecord {
        schema_version: store::SCHEMA_VERSION,
        run_id: uuid::Uuid::from_u64_pair(group.as_u64_pair().0, slug.len() as u64),
        run_group_id: group,
        artist_slug: slug.into(),
        brush_slug: "procedural".into(),
        prompt_version: "v2-neutral".into(),
        status: Status::Done,
        artist_stmt: stmt.into(),
        image_prompt: format!("{slug}: a quiet harbour at dawn"),
        revised_prompt: None,
        image_file: Some(image.into()),
        error: None,
        meta: RunMeta::default(),
        created_at: created,
        updated_at: None,
    }
}

type Rebuilds = Arc<Mutex<Vec<f64>>>;

fn start(root: &Path, extra: &[&str]) -> (Server, u16, u128, Rebuilds) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_chorus"))
        .arg("--root")
        .arg(root)
        .args(["serve", "--port", "0"])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start chorus serve");
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let server = Server(child);
    loop {
        let line = rx
            .recv_timeout(Duration::from_secs(120))
            .expect("serve never started");
        if let Some(rest) = line.split("http://127.0.0.1:").nth(1) {
            let port = rest.split('/').next().unwrap().parse().unwrap();
            // Drain the log so the pipe never fills.
            // Drain the log so the pipe never fills, keeping the server's own rebuild times.
            let rebuilds = Arc::new(Mutex::new(Vec::new()));
            let sink = Arc::clone(&rebuilds);
            std::thread::spawn(move || {
                while let Ok(line) = rx.recv() {
                    let ms = line
                        .strip_prefix("Rebuilt ")
                        .and_then(|l| l.split(" in ").nth(1));
                    if let Some(ms) = ms.and_then(|m| m.split(' ').next()?.parse::<f64>().ok()) {
                        sink.lock().unwrap().push(ms);
                    }
                }
            });
            return (server, port, started.elapsed().as_millis(), rebuilds);
        }
    }
}

/// Returns the latencies (ms) to the reload event and to the page on disk.
fn measure(root: &Path, port: u16, groups: &[uuid::Uuid], label: &str) -> (Vec<f64>, Vec<f64>) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET /__chorus/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    )
    .unwrap();
    let (tx, reloads) = mpsc::channel::<Instant>();
    std::thread::spawn(move || {
        for line in BufReader::new(stream).lines().map_while(Result::ok) {
            if line.starts_with("event: reload") {
                let _ = tx.send(Instant::now());
            }
        }
    });
    std::thread::sleep(Duration::from_millis(500));
    while reloads.try_recv().is_ok() {}

    let runs_dir = root.join("runs");
    let (mut to_event, mut to_disk) = (Vec::new(), Vec::new());
    for i in 0..CHANGES {
        let group = groups[(i * 37) % groups.len()];
        let slug = ARTISTS[i % ARTISTS.len()];
        let marker = format!("bench change {i} ({label})");
        let page = root
            .join("site/groups")
            .join(group.to_string())
            .join(format!("{slug}.html"));
        let created = chrono::Utc::now();
        let record = run(
            group,
            slug,
            &store::image_file_name(slug, "png"),
            created,
            &marker,
        );

        let t0 = Instant::now();
        store::write_run(&runs_dir, &record).unwrap();
        let disk = wait_for_page(&page, &marker, t0);
        let event = reloads
            .recv_timeout(Duration::from_secs(10))
            .expect("no reload event");
        to_disk.push(ms(disk - t0));
        to_event.push(ms(event.saturating_duration_since(t0)));
        // Let the server go idle, so each change is measured on its own.
        std::thread::sleep(Duration::from_millis(300));
        while reloads.try_recv().is_ok() {}
    }
    (to_event, to_disk)
}

fn wait_for_page(page: &PathBuf, marker: &str, t0: Instant) -> Instant {
    loop {
        if std::fs::read_to_string(page).is_ok_and(|s| s.contains(marker)) {
            return Instant::now();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "{} never showed the change",
            page.display()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn report(what: &str, samples: &[f64]) {
    if samples.is_empty() {
        println!("  {what:<22} no samples");
        return;
    }
    let mut s = samples.to_vec();
    s.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let pick = |q: f64| s[((s.len() - 1) as f64 * q).round() as usize];
    println!(
        "  {what:<22} median {:>6.1} ms   min {:>6.1}   p90 {:>6.1}   max {:>6.1}",
        pick(0.5),
        pick(0.0),
        pick(0.9),
        pick(1.0)
    );
}

//! `cargo bench --bench generate`: the batch generator against a loopback mock with fixed
//! latencies (300 ms chat, 800 ms image call, a 1 MB PNG behind a URL). Runs the real
//! release binary on 10 and then 50 groups × 5 Artists at concurrency 16 and prints wall
//! time, the ideal wall time (stage latencies summed over all runs / concurrency), their
//! ratio, and the child's peak RSS, to show that memory does not grow with the image count.
//! "ideal" uses the mock's fixed latencies; "ideal(m)" the stage latencies the runs recorded
//! (which add the download, decode and write of each image).
//!
//! Options (env): BENCH_GROUPS (default "10,50"), BENCH_CONCURRENCY (default 16).

use std::io::Cursor;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

const CHAT_MS: u64 = 300;
const IMAGE_MS: u64 = 800;
const ARTISTS: usize = 5;

#[tokio::main]
async fn main() {
    let groups: Vec<usize> = std::env::var("BENCH_GROUPS")
        .unwrap_or_else(|_| "10,50".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let concurrency: usize = std::env::var("BENCH_CONCURRENCY")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(16);

    let server = MockServer::builder()
        .disable_request_recording()
        .start()
        .await;
    let image = noise_png(1024 * 1024);
    mount(&server, image.clone()).await;
    println!(
        "mock on {}: chat {CHAT_MS} ms, image call {IMAGE_MS} ms, image {} bytes; {ARTISTS} Artists, concurrency {concurrency}",
        server.uri(),
        image.len()
    );
    println!(
        "{:>6} {:>5} {:>8} {:>8} {:>6} {:>11} {:>7} {:>10} {:>5}",
        "groups",
        "runs",
        "wall s",
        "ideal s",
        "ratio",
        "ideal(m) s",
        "ratio(m)",
        "peak RSS",
        "done"
    );
    for g in groups {
        let dir = tempfile::tempdir().expect("temp dir");
        write_project(dir.path(), &server.uri(), concurrency);
        let (wall, rss_kib, ok) = tokio::task::spawn_blocking({
            let root = dir.path().to_path_buf();
            move || run_chorus(&root, g, concurrency)
        })
        .await
        .expect("join");
        let runs = g * ARTISTS;
        let ideal = runs as f64 * (CHAT_MS + IMAGE_MS) as f64 / 1000.0 / concurrency as f64;
        let (done, stage_ms) = done_and_latency(&dir.path().join("runs"));
        let measured = stage_ms as f64 / 1000.0 / concurrency as f64;
        println!(
            "{g:>6} {runs:>5} {:>8.2} {ideal:>8.2} {:>6.3} {measured:>11.2} {:>7.3} {:>6.1} MiB {done:>5}{}",
            wall.as_secs_f64(),
            wall.as_secs_f64() / ideal,
            wall.as_secs_f64() / measured,
            rss_kib as f64 / 1024.0,
            if ok { "" } else { "  (chorus exited non-zero)" }
        );
    }
}

async fn mount(server: &MockServer, image: Vec<u8>) {
    let reply = "===ARTIST STATEMENT===\nA bench statement.\n\n===FINAL IMAGE PROMPT===\nA bench image prompt.";
    Mock::given(method("POST"))
        .and(path("/v1/chat/completions"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"choices": [{"message": {"content": reply}}], "usage": {"prompt_tokens": 100, "completion_tokens": 50}}))
                .set_delay(Duration::from_millis(CHAT_MS)),
        )
        .mount(server)
        .await;
    let url = format!("{}/files/image.png", server.uri());
    Mock::given(method("POST"))
        .and(path("/v1/images/generations"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"data": [{"url": url, "revised_prompt": "revised"}]}))
                .set_delay(Duration::from_millis(IMAGE_MS)),
        )
        .mount(server)
        .await;
    Mock::given(method("GET"))
        .and(path("/files/image.png"))
        .respond_with(ResponseTemplate::new(200).set_body_raw(image, "image/png"))
        .mount(server)
        .await;
}

fn write_project(root: &Path, uri: &str, concurrency: usize) {
    let mut toml = format!(
        "[defaults]\nbrush = \"brush\"\nprompt = \"p\"\nconcurrency = {concurrency}\n\n[prompts.p]\ntext = \"Paint the rain.\"\n\n\
         [[brushes]]\nslug = \"brush\"\nname = \"Brush\"\nprovider = \"openai-images\"\nmodel = \"sd-turbo\"\nbase_url = \"{uri}/v1\"\n"
    );
    for i in 0..ARTISTS {
        toml.push_str(&format!(
            "\n[[artists]]\nslug = \"artist-{i}\"\nname = \"Artist {i}\"\nprovider = \"openai\"\nmodel = \"m{i}\"\nbase_url = \"{uri}/v1\"\n"
        ));
    }
    std::fs::write(root.join("chorus.toml"), toml).expect("write chorus.toml");
}

/// Runs the release binary; returns wall time, peak RSS (KiB, from /proc) and success.
fn run_chorus(root: &Path, groups: usize, concurrency: usize) -> (Duration, u64, bool) {
    let started = Instant::now();
    let mut child = Command::new(env!("CARGO_BIN_EXE_chorus"))
        .arg("--root")
        .arg(root)
        .args([
            "generate",
            "--repeat",
            &groups.to_string(),
            "--concurrency",
            &concurrency.to_string(),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn chorus");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak = 0;
    loop {
        // VmHWM is the kernel's own high-water mark, so sampling only risks missing the
        // last few milliseconds.
        if let Some(hwm) = std::fs::read_to_string(&status_file)
            .ok()
            .and_then(|s| vm_hwm(&s))
        {
            peak = peak.max(hwm);
        }
        if let Ok(Some(status)) = child.try_wait() {
            return (started.elapsed(), peak, status.success());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn vm_hwm(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Runs done, and the sum of every stage's recorded latency (ms) over all runs.
fn done_and_latency(runs: &Path) -> (usize, u64) {
    let mut done = 0;
    let mut total_ms = 0;
    let records = walkdir::WalkDir::new(runs)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| {
            e.path().extension().is_some_and(|x| x == "json") && e.file_name() != "group.json"
        });
    for entry in records {
        let Some(run) = std::fs::read_to_string(entry.path())
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        else {
            continue;
        };
        done += usize::from(run["status"] == "done");
        for stage in ["artist", "brush", "download"] {
            total_ms += run["meta"][stage]["latencyMs"].as_u64().unwrap_or(0);
        }
    }
    (done, total_ms)
}

/// A PNG of random pixels close to `bytes` long (noise barely compresses).
fn noise_png(bytes: usize) -> Vec<u8> {
    let side = ((bytes / 3) as f64).sqrt() as u32;
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    let img = image::RgbImage::from_fn(side, side, |_, _| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        image::Rgb([state as u8, (state >> 8) as u8, (state >> 16) as u8])
    });
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png)
        .expect("encode");
    out.into_inner()
}

//! Gallery benchmark: writes a corpus of N groups × 5 runs with 1024×1024 images (PNG or
//! JPEG), builds it with chorus (cold, warm, pages-only; each build in a child process
//! so its peak RSS is its own), then builds the same corpus with Hugo making the same
//! thumbnail widths, and prints the ratios. Also times fast_image_resize against the
//! `image` crate's resize, and jpeg-encoder against `image`'s JPEG encoder.
//!
//! ```text
//! cargo run --release --example bench_gallery -- --groups 200 --format jpeg
//! cargo run --release --example bench_gallery -- --groups 200 --format png --corpus-only --dir /tmp/corpus
//! ```
//! Options: --groups N (200), --format jpeg|png (jpeg), --dir DIR
//! (/tmp/chorus-bench-<format>-<N>), --corpus-only, --no-hugo, --no-resize-compare,
//! --repeat N (1): cold builds of each tool, reported as the median, since one run on a
//! shared machine can be off by 10%.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use chorus::store::{
    sha256_hex, write_group, write_run, ArtistRef, BrushRef, GroupRecord, RunMeta, RunRecord,
    Status,
};
use rayon::prelude::*;

const SIDE: u32 = 1024;
const ARTISTS: [(&str, &str); 5] = [
    ("gpt-4o-mini", "GPT-4o Mini"),
    ("claude-3-opus", "Claude 3 Opus"),
    ("gemini-1.5-pro", "Gemini 1.5 Pro"),
    ("mistral-large", "Mistral Large"),
    ("llama-3-70b", "Llama 3 70B"),
];

struct Args {
    groups: usize,
    format: String,
    dir: PathBuf,
    corpus_only: bool,
    hugo: bool,
    resize_compare: bool,
    build_once: bool,
    repeat: usize,
}

fn parse_args() -> Args {
    let mut a = Args {
        groups: 200,
        format: "jpeg".into(),
        dir: PathBuf::new(),
        corpus_only: false,
        hugo: true,
        resize_compare: true,
        build_once: false,
        repeat: 1,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--groups" => a.groups = it.next().and_then(|v| v.parse().ok()).expect("--groups N"),
            "--format" => a.format = it.next().expect("--format jpeg|png"),
            "--dir" => a.dir = it.next().expect("--dir DIR").into(),
            "--corpus-only" => a.corpus_only = true,
            "--no-hugo" => a.hugo = false,
            "--no-resize-compare" => a.resize_compare = false,
            "--build-once" => a.build_once = true,
            "--repeat" => {
                a.repeat = it.next().and_then(|v| v.parse().ok()).expect("--repeat N");
                assert!(a.repeat > 0, "--repeat is at least 1");
            }
            other => panic!(
                "unknown option {other}; see the comment at the top of examples/bench_gallery.rs"
            ),
        }
    }
    assert!(
        a.format == "jpeg" || a.format == "png",
        "--format is jpeg or png"
    );
    if a.dir.as_os_str().is_empty() {
        a.dir = std::env::temp_dir().join(format!("chorus-bench-{}-{}", a.format, a.groups));
    }
    a
}

fn main() {
    let args = parse_args();
    if args.build_once {
        return build_once(&args.dir);
    }
    let ext = if args.format == "jpeg" { "jpg" } else { "png" };
    let t = Instant::now();
    let images = write_corpus(&args.dir, args.groups, ext);
    println!(
        "corpus: {} groups × 5 runs, {images} {ext} images of {SIDE}×{SIDE} in {} ({:.1} s)",
        args.groups,
        args.dir.display(),
        t.elapsed().as_secs_f64()
    );
    if args.corpus_only {
        return;
    }
    if args.resize_compare {
        compare_resizers(&args.dir);
    }

    let site = args.dir.join("site");
    let cache = args.dir.join(chorus::site::CACHE_DIR);
    let _ = std::fs::remove_dir_all(args.dir.join("templates"));
    let mut colds: Vec<Measured> = (0..args.repeat)
        .map(|_| {
            let _ = std::fs::remove_dir_all(&site);
            let _ = std::fs::remove_dir_all(&cache);
            child_build(&args.dir)
        })
        .collect();
    colds.sort_by(|a, b| a.secs.total_cmp(&b.secs));
    let cold_all: Vec<f64> = colds.iter().map(|m| m.secs).collect();
    let cold = colds.swap_remove(colds.len() / 2);
    let warm = child_build(&args.dir);
    // Pages only: a theme edit changes every page, the images stay cached.
    let base = chorus::site::render::theme::DEFAULT_THEME
        .get_file("templates/base.html")
        .and_then(|f| f.contents_utf8())
        .expect("default base.html");
    std::fs::create_dir_all(args.dir.join("templates")).unwrap();
    std::fs::write(
        args.dir.join("templates/base.html"),
        format!("{base}<!-- edited -->\n"),
    )
    .unwrap();
    let pages = child_build(&args.dir);
    std::fs::remove_dir_all(args.dir.join("templates")).unwrap();
    let _ = child_build(&args.dir);

    let thumbs = count_thumbs(&site);
    println!();
    println!("chorus build ({images} images, {thumbs} thumbnails at 400 and 800 px, JPEG q80):");
    println!(
        "  cold (empty cache):       {:>8.3} s   {:>6.2} ms per image   peak RSS {:>4} MB{}",
        cold.secs,
        cold.secs * 1000.0 / images as f64,
        cold.rss_mb,
        runs_note(&cold_all)
    );
    println!(
        "  warm (nothing changed):   {:>8.3} s   (in-process build {:.3} s)   peak RSS {:>4} MB",
        warm.secs, warm.inner, warm.rss_mb
    );
    println!(
        "  pages only (theme edit):  {:>8.3} s   (in-process build {:.3} s)   peak RSS {:>4} MB",
        pages.secs, pages.inner, pages.rss_mb
    );
    for (name, m) in [("cold", &cold), ("warm", &warm), ("pages", &pages)] {
        println!("  phases {name:<5} (s): {}", m.phases);
    }
    let peak = cold.rss_mb.max(warm.rss_mb).max(pages.rss_mb);
    println!("  peak RSS over the builds: {peak} MB (target ≤ 300)");

    if args.hugo {
        match hugo_bench(&args.dir, ext, args.repeat) {
            Some((hcold_all, hwarm)) => {
                let hcold = hcold_all[hcold_all.len() / 2];
                println!();
                println!(
                    "hugo ({}), same corpus, same widths (400x and 800x, q80, Lanczos):",
                    hugo_version()
                );
                println!(
                    "  cold: {hcold:>8.3} s{}   warm: {hwarm:>8.3} s",
                    runs_note(&hcold_all)
                );
                println!("ratios: cold hugo/chorus = {:.1}× (target ≥ 10×), warm hugo/chorus = {:.1}×; chorus warm {:.3} s (target ≤ 0.25 s)", hcold / cold.secs, hwarm / warm.secs, warm.secs);
            }
            None => println!("\nhugo: not found (apt-get install -y hugo); skipped"),
        }
    }
}

// ---------------------------------------------------------------------------------
// Corpus

/// A photograph-like 1024² image: smooth colour fields plus fine grain, so that PNG and
/// JPEG sizes and decode costs resemble real Brush output rather than flat shapes.
fn texture(seed: u64) -> image::RgbImage {
    let f = |k: u64| {
        ((seed
            .wrapping_mul(6364136223846793005)
            .wrapping_add(k * 1442695040888963407))
            >> 40) as f32
            / (1u64 << 24) as f32
    };
    let (a, b, c, d) = (
        f(1) * 0.02 + 0.003,
        f(2) * 0.02 + 0.003,
        f(3) * 6.0,
        f(4) * 6.0,
    );
    image::RgbImage::from_fn(SIDE, SIDE, |x, y| {
        let (xf, yf) = (x as f32, y as f32);
        let h = (x.wrapping_mul(374761393) ^ y.wrapping_mul(668265263) ^ seed as u32)
            .wrapping_mul(1274126177);
        let grain = (h >> 24) as f32 / 255.0 * 28.0 - 14.0;
        let r = 128.0 + 90.0 * (xf * a + c).sin() + grain;
        let g = 128.0 + 90.0 * (yf * b + d).cos() + grain;
        let bl = 128.0 + 90.0 * ((xf + yf) * (a + b) * 0.5 + c - d).sin() - grain;
        image::Rgb([
            r.clamp(0.0, 255.0) as u8,
            g.clamp(0.0, 255.0) as u8,
            bl.clamp(0.0, 255.0) as u8,
        ])
    })
}

fn encode(img: &image::RgbImage, ext: &str) -> Vec<u8> {
    if ext == "jpg" {
        let mut out = Vec::new();
        jpeg_encoder::Encoder::new(&mut out, 90)
            .encode(
                img.as_raw(),
                SIDE as u16,
                SIDE as u16,
                jpeg_encoder::ColorType::Rgb,
            )
            .unwrap();
        out
    } else {
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    }
}

fn write_corpus(dir: &Path, groups: usize, ext: &str) -> usize {
    let done_marker = dir.join(".corpus-complete");
    let images = groups * ARTISTS.len();
    if done_marker.exists() {
        return images;
    }
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("runs")).unwrap();
    std::fs::write(
        dir.join("chorus.toml"),
        "[site]\ntitle = \"chorus bench\"\nbase_url = \"https://example.github.io/bench/\"\n",
    )
    .unwrap();
    let runs_dir = dir.join("runs");
    let epoch = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")
        .unwrap()
        .to_utc();
    (0..groups).into_par_iter().for_each(|gi| {
        let id = uuid::Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0000 | gi as u128);
        let at = epoch + chrono::Duration::minutes(gi as i64 * 7);
        let version = format!("v{}-bench", gi % 4 + 1);
        let prompt = format!("Paint a place that exists only at dawn (variant {}).", gi % 4 + 1);
        write_group(
            &runs_dir,
            &GroupRecord {
                schema_version: 1,
                run_group_id: id,
                prompt_version: version.clone(),
                prompt_sha256: sha256_hex(prompt.as_bytes()),
                prompt_text: prompt,
                brush: BrushRef { slug: "dall-e-3".into(), name: "DALL·E 3".into(), provider: "openai-images".into(), model: "dall-e-3".into(), size: Some("1024x1024".into()), quality: None },
                artists: ARTISTS.iter().map(|(s, n)| ArtistRef { slug: (*s).into(), name: (*n).into(), provider: "openrouter".into(), model: (*s).into() }).collect(),
                seed: gi as u64,
                created_at: at,
            },
        )
        .unwrap();
        for (ai, (slug, _)) in ARTISTS.iter().enumerate() {
            let file = format!("{slug}.{ext}");
            let img = texture((gi * 8 + ai) as u64 + 1);
            std::fs::write(runs_dir.join(id.to_string()).join(&file), encode(&img, ext)).unwrap();
            let stmt = format!("**Study {gi}.{ai}** — a dawn that never finishes arriving.\n\nI kept the palette narrow so that the eye rests on light rather than on detail. {}", "The longer you look, the more the place refuses to be anywhere else. ".repeat(3));
            write_run(
                &runs_dir,
                &RunRecord {
                    schema_version: 1,
                    run_id: uuid::Uuid::from_u128(((gi as u128) << 8) | ai as u128 | 0x4000_8000_0000_0000_0000),
                    run_group_id: id,
                    artist_slug: (*slug).into(),
                    brush_slug: "dall-e-3".into(),
                    prompt_version: version.clone(),
                    status: Status::Done,
                    artist_stmt: stmt,
                    image_prompt: format!("A quiet dawn field, study {gi}.{ai}, soft light, muted palette"),
                    revised_prompt: Some(format!("A photograph-like quiet dawn field, study {gi}.{ai}.")),
                    image_file: Some(file),
                    error: None,
                    meta: RunMeta::default(),
                    created_at: at,
                    updated_at: None,
                },
            )
            .unwrap();
        }
    });
    std::fs::write(&done_marker, b"").unwrap();
    images
}

// ---------------------------------------------------------------------------------
// chorus builds, each in a child process

struct Measured {
    phases: String,
    secs: f64,
    inner: f64,
    rss_mb: u64,
}

/// ", median of 3: 1.0 / 1.1 / 1.2 s" when a figure is the median of several runs.
fn runs_note(sorted: &[f64]) -> String {
    if sorted.len() < 2 {
        return String::new();
    }
    let all: Vec<String> = sorted.iter().map(|s| format!("{s:.2}")).collect();
    format!(", median of {}: {} s", sorted.len(), all.join(" / "))
}

fn child_build(dir: &Path) -> Measured {
    let t = Instant::now();
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--build-once", "--dir"])
        .arg(dir)
        .output()
        .expect("running the build child");
    let secs = t.elapsed().as_secs_f64();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "build failed: {stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let field = |name: &str| -> f64 {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0.0)
    };
    let phases = stdout
        .lines()
        .find_map(|l| l.strip_prefix("phases="))
        .unwrap_or_default()
        .to_string();
    Measured {
        phases,
        secs,
        inner: field("build_secs="),
        rss_mb: field("rss_kb=") as u64 / 1024,
    }
}

fn build_once(dir: &Path) {
    let project = chorus::config::Project::load(dir).expect("bench project");
    let t = Instant::now();
    let report =
        chorus::site::build(&project, &chorus::site::BuildOptions::default()).expect("build");
    println!("build_secs={}", t.elapsed().as_secs_f64());
    println!(
        "written={} made={} hashed={}",
        report.written, report.images.made, report.images.hashed
    );
    let phases: Vec<String> = report
        .timings
        .iter()
        .map(|(n, d)| format!("{n} {:.3}", d.as_secs_f64()))
        .collect();
    println!("phases={}", phases.join(", "));
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .map(|v| v.trim().trim_end_matches("kB").trim().to_string());
    println!("rss_kb={}", hwm.unwrap_or_default());
}

/// Thumbnails are the `@<token>-<width>.jpg` files beside the full images in `media/`.
fn count_thumbs(dir: &Path) -> usize {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| {
            let name = e.file_name().to_string_lossy();
            e.path().parent().is_some_and(|p| p.ends_with("media"))
                && [400, 800]
                    .iter()
                    .any(|w| name.starts_with('@') && name.ends_with(&format!("-{w}.jpg")))
        })
        .count()
}

// ---------------------------------------------------------------------------------
// Resizer and encoder comparison (one thread, 20 images)

fn compare_resizers(dir: &Path) {
    let sources: Vec<PathBuf> = walkdir::WalkDir::new(dir.join("runs"))
        .sort_by_file_name()
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_some_and(|x| x == "jpg" || x == "png"))
        .take(20)
        .collect();
    let decoded: Vec<image::RgbImage> = sources
        .iter()
        .map(|p| chorus::site::group::images::decode_rgb(&std::fs::read(p).unwrap()).unwrap())
        .collect();
    let n = decoded.len() as f64;
    let time = |f: &dyn Fn(&image::RgbImage)| -> f64 {
        let t = Instant::now();
        for img in &decoded {
            f(img);
        }
        t.elapsed().as_secs_f64() * 1000.0 / n
    };
    let t_decode = {
        let bytes: Vec<Vec<u8>> = sources.iter().map(|p| std::fs::read(p).unwrap()).collect();
        let t = Instant::now();
        for b in &bytes {
            let _ = chorus::site::group::images::decode_rgb(b).unwrap();
        }
        t.elapsed().as_secs_f64() * 1000.0 / n
    };
    let fr = time(&|img| {
        for w in [400, 800] {
            std::hint::black_box(
                chorus::site::group::images::resize_rgb(
                    img,
                    w,
                    w,
                    chorus::site::group::images::LANCZOS3,
                )
                .unwrap(),
            );
        }
    });
    let im = time(&|img| {
        for w in [400, 800] {
            std::hint::black_box(image::imageops::resize(
                img,
                w,
                w,
                image::imageops::FilterType::Lanczos3,
            ));
        }
    });
    let small: Vec<(image::RgbImage, u32)> = decoded
        .iter()
        .flat_map(|img| {
            [400u32, 800].map(|w| {
                (
                    chorus::site::group::images::resize_rgb(
                        img,
                        w,
                        w,
                        chorus::site::group::images::LANCZOS3,
                    )
                    .unwrap(),
                    w,
                )
            })
        })
        .collect();
    let time_enc = |f: &dyn Fn(&[u8], u32) -> usize| -> f64 {
        let t = Instant::now();
        for (px, w) in &small {
            std::hint::black_box(f(px.as_raw(), *w));
        }
        t.elapsed().as_secs_f64() * 1000.0 / n
    };
    let je = time_enc(&|px, w| {
        chorus::site::group::images::encode_jpeg(px, w, w)
            .unwrap()
            .len()
    });
    let ie = time_enc(&|px, w| {
        let mut out = Vec::new();
        image::codecs::jpeg::JpegEncoder::new_with_quality(
            &mut out,
            chorus::site::group::images::JPEG_QUALITY,
        )
        .encode(px, w, w, image::ExtendedColorType::Rgb8)
        .unwrap();
        out.len()
    });
    println!(
        "per {SIDE}² source image, one thread, 400 + 800 px, Lanczos3 (mean of {} images):",
        decoded.len()
    );
    println!("  decode:                         {t_decode:>7.2} ms");
    println!("  resize fast_image_resize:       {fr:>7.2} ms");
    println!(
        "  resize image::imageops::resize: {im:>7.2} ms   ({:.1}× slower)",
        im / fr
    );
    println!("  encode jpeg-encoder q80:        {je:>7.2} ms");
    println!(
        "  encode image JpegEncoder q80:   {ie:>7.2} ms   ({:.1}× slower)",
        ie / je
    );
}

// ---------------------------------------------------------------------------------
// Hugo on the same corpus

fn hugo_version() -> String {
    Command::new("hugo")
        .arg("version")
        .output()
        .ok()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .nth(1)
                .unwrap_or("?")
                .to_string()
        })
        .unwrap_or_default()
}

/// Writes a Hugo site with one page bundle per group (images hard-linked from runs/),
/// whose template makes 400 and 800 px Lanczos thumbnails of every image at q80.
fn hugo_bench(dir: &Path, ext: &str, repeat: usize) -> Option<(Vec<f64>, f64)> {
    Command::new("hugo").arg("version").output().ok()?;
    let site = dir.join("hugo");
    let _ = std::fs::remove_dir_all(&site);
    std::fs::create_dir_all(site.join("layouts/_default")).unwrap();
    std::fs::write(site.join("config.toml"), "baseURL = \"https://example.github.io/bench/\"\ntitle = \"bench\"\ndisableKinds = [\"taxonomy\", \"term\", \"RSS\", \"sitemap\"]\n[imaging]\nquality = 80\nresampleFilter = \"Lanczos\"\n").unwrap();
    std::fs::write(site.join("layouts/_default/single.html"), "<!doctype html><title>{{ .Title }}</title>{{ range .Resources.ByType \"image\" }}{{ $a := .Resize \"400x q80 Lanczos jpg\" }}{{ $b := .Resize \"800x q80 Lanczos jpg\" }}<a href=\"{{ .RelPermalink }}\"><img src=\"{{ $a.RelPermalink }}\" srcset=\"{{ $a.RelPermalink }} 400w, {{ $b.RelPermalink }} 800w\" width=\"{{ $a.Width }}\" height=\"{{ $a.Height }}\" loading=\"lazy\"></a>{{ end }}\n").unwrap();
    std::fs::write(site.join("layouts/_default/list.html"), "<!doctype html><title>{{ .Title }}</title>{{ range .Pages }}<a href=\"{{ .RelPermalink }}\">{{ .Title }}</a>{{ end }}\n").unwrap();
    std::fs::write(site.join("layouts/index.html"), "<!doctype html><title>bench</title>{{ range .Site.RegularPages }}<a href=\"{{ .RelPermalink }}\">{{ .Title }}</a>{{ end }}\n").unwrap();
    for entry in std::fs::read_dir(dir.join("runs"))
        .unwrap()
        .filter_map(Result::ok)
    {
        let gdir = entry.path();
        if !gdir.is_dir() {
            continue;
        }
        let name = entry.file_name();
        let bundle = site.join("content/groups").join(&name);
        std::fs::create_dir_all(&bundle).unwrap();
        std::fs::write(
            bundle.join("index.md"),
            format!("---\ntitle: \"{}\"\n---\n", name.to_string_lossy()),
        )
        .unwrap();
        for img in std::fs::read_dir(&gdir).unwrap().filter_map(Result::ok) {
            if img.path().extension().is_some_and(|x| x == ext) {
                let dest = bundle.join(img.file_name());
                if std::fs::hard_link(img.path(), &dest).is_err() {
                    std::fs::copy(img.path(), &dest).unwrap();
                }
            }
        }
    }
    let run = || -> f64 {
        let t = Instant::now();
        let out = Command::new("hugo")
            .arg("--quiet")
            .arg("--source")
            .arg(&site)
            .output()
            .expect("running hugo");
        assert!(
            out.status.success(),
            "hugo failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t.elapsed().as_secs_f64()
    };
    let mut colds: Vec<f64> = (0..repeat)
        .map(|_| {
            // Hugo keeps processed images under resources/ and writes public/.
            let _ = std::fs::remove_dir_all(site.join("resources"));
            let _ = std::fs::remove_dir_all(site.join("public"));
            run()
        })
        .collect();
    colds.sort_by(f64::total_cmp);
    let warm = run();
    Some((colds, warm))
}

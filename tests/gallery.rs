//! The gallery as a visitor meets it: pages, links under a sub-path and from disk,
//! untrusted model output, determinism, theme overrides and template errors. Groups are
//! written straight into runs/ (the format of src/store/schema.rs) with small images.
mod common;

use std::collections::{BTreeSet, VecDeque};
use std::path::{Path, PathBuf};

use chorus::store::{
    sha256_hex, write_group, write_run, ArtistRef, BrushRef, Cost, CostSource, GroupRecord,
    RunMeta, RunRecord, StageMeta, StageStatus, Status, Tokens,
};
use common::TestProject;

// ---------------------------------------------------------------------------------
// Fixture: a group written directly into runs/.

struct Run<'a> {
    slug: &'a str,
    name: &'a str,
    status: Status,
    stmt: &'a str,
    prompt: &'a str,
    revised: Option<&'a str>,
    error: Option<&'a str>,
    /// Side of the square PNG to write; 0 for no image.
    image: u32,
}

fn run<'a>(slug: &'a str, name: &'a str) -> Run<'a> {
    Run {
        slug,
        name,
        status: Status::Done,
        stmt: "**A study** in light.\n\nSecond paragraph.",
        prompt: "a lighthouse at dawn, watercolour",
        revised: Some("A watercolour lighthouse at dawn."),
        error: None,
        image: 420,
    }
}

fn png(side: u32, tint: u8) -> Vec<u8> {
    let img = image::RgbImage::from_fn(side, side, |x, y| {
        image::Rgb([(x % 256) as u8, tint, (y % 256) as u8])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn stage(latency_ms: u64, cost: f64, at: chrono::DateTime<chrono::Utc>) -> StageMeta {
    StageMeta {
        status: StageStatus::Done,
        provider: Some("offline".into()),
        model: Some("m".into()),
        answered_model: None,
        params: Default::default(),
        latency_ms,
        tokens: Some(Tokens {
            input: 100,
            output: 50,
        }),
        cost: Some(Cost {
            usd: cost,
            source: CostSource::Estimate,
        }),
        attempts: 1,
        retries: Vec::new(),
        request_id: None,
        error: None,
        batch: None,
        finished_at: at,
    }
}

/// Writes one group and returns its id.
fn write_fixture_group(
    p: &TestProject,
    version: &str,
    prompt_text: &str,
    brush: &str,
    minute: u32,
    runs: &[Run],
) -> String {
    let runs_dir = p.path("runs");
    let id = uuid::Uuid::new_v4();
    let at = chrono::DateTime::parse_from_rfc3339(&format!("2026-03-01T10:{minute:02}:00Z"))
        .unwrap()
        .to_utc();
    let group = GroupRecord {
        schema_version: 1,
        run_group_id: id,
        prompt_version: version.into(),
        prompt_text: prompt_text.into(),
        prompt_sha256: sha256_hex(prompt_text.as_bytes()),
        brush: BrushRef {
            slug: "brush".into(),
            name: brush.into(),
            provider: "procedural".into(),
            model: "procedural-v1".into(),
            size: None,
            quality: None,
        },
        artists: runs
            .iter()
            .map(|r| ArtistRef {
                slug: r.slug.into(),
                name: r.name.into(),
                provider: "offline".into(),
                model: "m".into(),
            })
            .collect(),
        seed: 1,
        created_at: at,
    };
    write_group(&runs_dir, &group).unwrap();
    for (i, r) in runs.iter().enumerate() {
        let image_file = (r.image > 0).then(|| format!("{}.png", r.slug));
        if let Some(f) = &image_file {
            std::fs::write(
                runs_dir.join(id.to_string()).join(f),
                png(r.image, (i * 60) as u8),
            )
            .unwrap();
        }
        let record = RunRecord {
            schema_version: 1,
            run_id: uuid::Uuid::new_v4(),
            run_group_id: id,
            artist_slug: r.slug.into(),
            brush_slug: "brush".into(),
            prompt_version: version.into(),
            status: r.status,
            artist_stmt: r.stmt.into(),
            image_prompt: r.prompt.into(),
            revised_prompt: r.revised.map(Into::into),
            image_file,
            error: r.error.map(Into::into),
            meta: RunMeta {
                artist: (r.status == Status::Done).then(|| stage(1000 + 500 * i as u64, 0.01, at)),
                ..RunMeta::default()
            },
            created_at: at,
            updated_at: None,
        };
        write_run(&runs_dir, &record).unwrap();
    }
    id.to_string()
}

/// A project with two groups of one prompt version and one of another: a done run, a
/// failed one, an unfinished one and a wide image (so both thumbnail widths exist).
fn gallery_project() -> (TestProject, Vec<String>) {
    let p = TestProject::init();
    let mut wide = run("beta", "Beta Artist");
    wide.image = 840;
    let g1 = write_fixture_group(
        &p,
        "v1-sea",
        "Paint the sea.",
        "Test Brush",
        1,
        &[run("alpha", "Alpha Artist"), wide],
    );
    let g2 = write_fixture_group(
        &p,
        "v1-sea",
        "Paint the sea.",
        "Test Brush",
        2,
        &[
            run("alpha", "Alpha Artist"),
            Run {
                status: Status::Failed,
                error: Some("provider said 500 three times"),
                image: 0,
                ..run("beta", "Beta Artist")
            },
            Run {
                status: Status::Generating,
                image: 0,
                stmt: "",
                prompt: "",
                revised: None,
                ..run("gamma", "Gamma Artist")
            },
        ],
    );
    let g3 = write_fixture_group(
        &p,
        "v2-sky",
        "Paint the sky.",
        "Test Brush",
        3,
        &[run("gamma", "Gamma Artist"), run("alpha", "Alpha Artist")],
    );
    (p, vec![g3, g2, g1])
}

// ---------------------------------------------------------------------------------
// A small HTML reader: tags and their attributes, enough to follow links and to find
// event handlers wherever they hide.

#[derive(Debug)]
struct Tag {
    name: String,
    attrs: Vec<(String, String)>,
}

fn decode_entities(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        let Some(end) = tail.find(';').filter(|&e| e < 12) else {
            out.push('&');
            rest = &tail[1..];
            continue;
        };
        let entity = &tail[1..end];
        let ch = match entity {
            "amp" => Some('&'),
            "lt" => Some('<'),
            "gt" => Some('>'),
            "quot" => Some('"'),
            "apos" => Some('\''),
            e if e.starts_with("#x") || e.starts_with("#X") => u32::from_str_radix(&e[2..], 16)
                .ok()
                .and_then(char::from_u32),
            e if e.starts_with('#') => e[1..].parse().ok().and_then(char::from_u32),
            _ => None,
        };
        match ch {
            Some(c) => out.push(c),
            None => out.push_str(&tail[..=end]),
        }
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    out
}

fn tags(html: &str) -> Vec<Tag> {
    let b = html.as_bytes();
    let mut i = 0;
    let mut out = Vec::new();
    while i < b.len() {
        if b[i] != b'<' {
            i += 1;
            continue;
        }
        if html[i..].starts_with("<!--") {
            i += html[i..].find("-->").map_or(b.len(), |e| e + 3);
            continue;
        }
        i += 1;
        if i < b.len() && (b[i] == b'!' || b[i] == b'/' || b[i] == b'?') {
            i += html[i..].find('>').unwrap_or(b.len() - i);
            continue;
        }
        let start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'-' || b[i] == b':') {
            i += 1;
        }
        let name = html[start..i].to_ascii_lowercase();
        let mut attrs = Vec::new();
        loop {
            while i < b.len() && (b[i].is_ascii_whitespace() || b[i] == b'/') {
                i += 1;
            }
            if i >= b.len() || b[i] == b'>' {
                i += 1;
                break;
            }
            let a = i;
            while i < b.len() && !b[i].is_ascii_whitespace() && !matches!(b[i], b'=' | b'>' | b'/')
            {
                i += 1;
            }
            let attr = html[a..i].to_ascii_lowercase();
            while i < b.len() && b[i].is_ascii_whitespace() {
                i += 1;
            }
            let mut value = String::new();
            if i < b.len() && b[i] == b'=' {
                i += 1;
                while i < b.len() && b[i].is_ascii_whitespace() {
                    i += 1;
                }
                if i < b.len() && (b[i] == b'"' || b[i] == b'\'') {
                    let q = b[i];
                    let v = i + 1;
                    i = v + html[v..]
                        .bytes()
                        .position(|c| c == q)
                        .unwrap_or(b.len() - v);
                    value = html[v..i].to_string();
                    i += 1;
                } else {
                    let v = i;
                    while i < b.len() && !b[i].is_ascii_whitespace() && b[i] != b'>' {
                        i += 1;
                    }
                    value = html[v..i].to_string();
                }
            }
            if !attr.is_empty() {
                attrs.push((attr, decode_entities(&value)));
            }
        }
        out.push(Tag { name, attrs });
    }
    out
}

/// Every URL a page points at: href, src and each srcset candidate.
fn page_urls(html: &str) -> Vec<String> {
    let mut urls = Vec::new();
    for tag in tags(html) {
        for (name, value) in &tag.attrs {
            match name.as_str() {
                "href" | "src" => urls.push(value.clone()),
                "srcset" => urls.extend(
                    value
                        .split(',')
                        .filter_map(|c| c.split_whitespace().next())
                        .map(str::to_string),
                ),
                _ => {}
            }
        }
    }
    urls
}

fn is_external(url: &str) -> bool {
    url.starts_with('#')
        || url.contains("://")
        || url.starts_with("mailto:")
        || url.starts_with("//")
}

fn html_files(site: &Path) -> Vec<PathBuf> {
    walkdir::WalkDir::new(site)
        .into_iter()
        .filter_map(Result::ok)
        .map(|e| e.into_path())
        .filter(|p| p.extension().is_some_and(|e| e == "html"))
        .collect()
}

// ---------------------------------------------------------------------------------

#[test]
fn the_gallery_has_every_page_and_export() {
    let (p, ids) = gallery_project();
    p.write(
        "chorus.toml",
        &p.read("chorus.toml").replace(
            "https://example.github.io/chorus/",
            "https://me.example/gallery",
        ),
    );
    p.chorus(&["build"]).assert().success();
    let [g3, g2, g1] = [&ids[0], &ids[1], &ids[2]];

    // Index: newest first, with version, date, counts and a strip of thumbnails.
    let index = p.read("site/index.html");
    let pos = |s: &str| index.find(s).unwrap_or_else(|| panic!("index lacks {s}"));
    assert!(pos(&format!("groups/{g3}/index.html")) < pos(&format!("groups/{g2}/index.html")));
    assert!(pos(&format!("groups/{g2}/index.html")) < pos(&format!("groups/{g1}/index.html")));
    assert!(
        index.contains("2026-03-01 10:02:00 UTC")
            && index.contains("1 failed")
            && index.contains("1 unfinished")
    );
    assert!(index.contains(&p.thumb(g1, "alpha.png", 400)));

    // Compare page: columns in registry order, each labelled under its image with the
    // Artist (→ Brush for screen readers), the Brush stated once for the group; same-size
    // images with srcset, statements, prompts, figures; failures shown with their reason.
    let group = p.read(&format!("site/groups/{g2}/index.html"));
    let column = |name: &str| {
        group
            .find(&format!(
                ">{name}</a><span class=\"visually-hidden\"> → Test Brush</span></h2>"
            ))
            .unwrap_or_else(|| panic!("no column for {name}"))
    };
    let (a, b, c) = (
        column("Alpha Artist"),
        column("Beta Artist"),
        column("Gamma Artist"),
    );
    assert_eq!(
        group.matches("<strong>Test Brush</strong>").count(),
        1,
        "the Brush is named once"
    );
    assert!(a < b && b < c, "columns out of registry order");
    assert!(
        group.contains("provider said 500 three times"),
        "failed run without its reason"
    );
    assert!(
        group.contains("unfinished: still generating"),
        "unfinished run without its reason"
    );
    assert!(
        group.contains("<strong>A study</strong>")
            && group.contains("A watercolour lighthouse at dawn.")
    );
    assert!(
        group.contains("$0.01") && group.contains("1.0 s") && group.contains("100 in / 50 out")
    );
    let wide = p.read(&format!("site/groups/{g1}/index.html"));
    let d = format!("../../groups/{g1}");
    // The full image is its JPEG, or the original when that is smaller.
    let full = if p
        .path(&format!("site/groups/{g1}/media/beta.jpg"))
        .is_file()
    {
        "jpg"
    } else {
        "png"
    };
    assert!(
        wide.contains(&format!(
            "srcset=\"../../{} 200w, ../../{} 400w, ../../{} 800w, {d}/media/beta.{full} 840w\"",
            p.thumb(g1, "beta.png", 200),
            p.thumb(g1, "beta.png", 400),
            p.thumb(g1, "beta.png", 800)
        )),
        "{wide}"
    );
    assert!(wide.contains(
        "width=\"840\" height=\"840\" alt=\"a lighthouse at dawn, watercolour\" loading=\"lazy\""
    ));
    assert!(p
        .path(&format!("site/{}", p.thumb(g1, "beta.png", 800)))
        .is_file());
    // By default the full image is published as a JPEG, or as it is when that is smaller
    // (tests/scale.rs checks which); only one of them; runs/ keeps the PNG.
    let other = if full == "jpg" { "png" } else { "jpg" };
    let published = p.path(&format!("site/groups/{g1}/media/beta.{full}"));
    let full_image = image::open(published).unwrap();
    assert_eq!((full_image.width(), full_image.height()), (840, 840));
    assert!(!p
        .path(&format!("site/groups/{g1}/media/beta.{other}"))
        .exists());
    assert!(p.path(&format!("runs/{g1}/beta.png")).is_file());
    let thumb = image::open(p.path(&format!("site/{}", p.thumb(g1, "beta.png", 400)))).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (400, 400));

    // Run page: statement, prompts, metadata, neighbours and the way back.
    let run_page = p.read(&format!("site/groups/{g2}/beta.html"));
    assert!(
        run_page.contains("rel=\"prev\"")
            && run_page.contains("alpha.html")
            && run_page.contains("gamma.html")
    );
    assert!(run_page.contains("href=\"../../groups/") && run_page.contains("Back to the group"));

    // Artist page with totals; prompt page with its matrix.
    let beta = p.read("site/artists/beta.html");
    assert!(
        beta.contains("<dt>Runs</dt><dd>2</dd>") && beta.contains("<dt>Failures</dt><dd>1</dd>"),
        "{beta}"
    );
    assert!(
        beta.contains("<dt>Mean latency</dt><dd>1.5 s</dd>")
            && beta.contains("<dt>Total cost</dt><dd>$0.01</dd>")
    );
    let prompt = p.read("site/prompts/v1-sea.html");
    assert!(
        prompt.contains("Paint the sea.")
            && prompt.split("class=\"matrix\"").nth(1).is_some_and(|m| m
                .split("</table>")
                .next()
                .unwrap_or("")
                .matches("<tr><th scope=\"row\">")
                .count()
                == 2)
    );
    assert!(prompt.contains("Gamma Artist") && prompt.contains("not in this group"));

    // Exports.
    assert!(p.path("site/.nojekyll").is_file());
    // The 404 page is served at any depth and on any host: its links start from the
    // base_url's path.
    let not_found = p.read("site/404.html");
    assert!(
        not_found.contains("href=\"/gallery/index.html\""),
        "{not_found}"
    );
    assert!(not_found.contains("href=\"/gallery/static/style.css\""));
    assert!(!not_found.contains("<style"));
    let runs: serde_json::Value = serde_json::from_str(&p.read("site/runs.json")).unwrap();
    let listed = runs["groups"].as_array().unwrap();
    assert_eq!(listed.len(), 3);
    let total: usize = listed
        .iter()
        .map(|g| {
            let url = g["runsUrl"].as_str().unwrap();
            let one: serde_json::Value =
                serde_json::from_str(&p.read(&format!("site/{url}"))).unwrap();
            one["runs"].as_array().unwrap().len()
        })
        .sum();
    assert_eq!(total, 7);
    let atom = p.read("site/atom.xml");
    assert_eq!(atom.matches("<entry>").count(), 3);
    assert!(atom.contains(&format!(
        "<link href=\"https://me.example/gallery/groups/{g1}/index.html\"/>"
    )));
    let sitemap = p.read("site/sitemaps/1.xml");
    assert!(p
        .read("site/sitemap.xml")
        .contains("<sitemap><loc>https://me.example/gallery/sitemaps/1.xml</loc></sitemap>"));
    assert!(sitemap.contains(&format!(
        "<loc>https://me.example/gallery/groups/{g2}/beta.html</loc>"
    )));
    assert!(index.contains("<link rel=\"canonical\" href=\"https://me.example/gallery/\">"));
}

#[test]
fn untrusted_text_never_becomes_markup() {
    const PAYLOADS: &[&str] = &[
        "<script>alert(1)</script>",
        "<SCRIPT SRC=//evil.example/x.js></SCRIPT>",
        "<img src=x onerror=alert(1)>",
        "<svg onload=alert(1)><circle/></svg>",
        "<details open ontoggle=alert(1)>x</details>",
        "\"><script>alert(1)</script>",
        "' onmouseover='alert(1)",
        "\" onfocus=\"alert(1)\" autofocus=\"",
        "[click](javascript:alert(1))",
        "[c2](JaVaScRiPt:alert(1))",
        "![i](javascript:alert(1))",
        "<a href=\"javascript:alert(1)\">a</a>",
        "<a href=\"jav&#x09;ascript:alert(1)\">b</a>",
        "<iframe src=\"https://evil.example\"></iframe>",
        "<style>body{display:none}</style>",
        "<form action=\"javascript:alert(1)\"><button>go</button></form>",
        "<math><mi xlink:href=\"javascript:alert(1)\">m</mi></math>",
        "</textarea><script>alert(1)</script>",
        "{{ site.title }} {% raw %}",
    ];
    let all = PAYLOADS.join("\n\n");
    let p = TestProject::init();
    let evil = Run {
        stmt: &all,
        prompt: &all,
        revised: Some(&all),
        image: 64,
        ..run("evil", &all)
    };
    let failed = Run {
        status: Status::Failed,
        error: Some(&all),
        image: 0,
        ..run("failing", PAYLOADS[2])
    };
    write_fixture_group(
        &p,
        &format!("v1{}", PAYLOADS[0]),
        &all,
        PAYLOADS[3],
        1,
        &[evil, failed],
    );
    p.chorus(&["build"]).assert().success();

    let site = p.path("site");
    let pages = html_files(&site);
    assert!(pages.len() >= 8, "too few pages: {pages:?}");
    for page in pages {
        let html = std::fs::read_to_string(&page).unwrap();
        let name = page.strip_prefix(&site).unwrap().display().to_string();
        let parsed = tags(&html);
        let scripts: Vec<&Tag> = parsed.iter().filter(|t| t.name == "script").collect();
        assert_eq!(
            html.to_ascii_lowercase().matches("<script").count(),
            scripts.len(),
            "{name}: hidden <script"
        );
        for s in scripts {
            let src = s
                .attrs
                .iter()
                .find(|(n, _)| n == "src")
                .map(|(_, v)| v.as_str())
                .unwrap_or("");
            // The theme's own: the gallery, the blind page's voting (issue 15) and the
            // style map's taps (issue 26).
            assert!(
                ["static/gallery.js", "static/votes.js", "static/map.js"]
                    .iter()
                    .any(|own| src.ends_with(own)),
                "{name}: a script that is not the theme's: {s:?}"
            );
        }
        for t in &parsed {
            // The difference views (issue 6) draw inline SVG built by site::analysis::svg;
            // any other <svg> would be payload.
            let own_svg = t.name == "svg"
                && t.attrs.iter().any(|(n, v)| {
                    n == "class"
                        && ["heatmap", "palette", "distribution", "bars", "interval"]
                            .contains(&v.as_str())
                });
            assert!(
                own_svg
                    || !matches!(
                        t.name.as_str(),
                        "iframe" | "form" | "svg" | "math" | "textarea"
                    ),
                "{name}: <{}> survived",
                t.name
            );
            assert!(
                t.name != "style",
                "{name}: <style> survived (the pages' policy allows no inline style)"
            );
            for (attr, value) in &t.attrs {
                assert!(
                    !attr.starts_with("on"),
                    "{name}: event handler {attr}={value:?} on <{}>",
                    t.name
                );
                let squeezed: String = value
                    .chars()
                    .filter(|c| !c.is_whitespace() && !c.is_control())
                    .collect();
                if matches!(
                    attr.as_str(),
                    "href"
                        | "src"
                        | "srcset"
                        | "action"
                        | "formaction"
                        | "xlink:href"
                        | "data-full"
                ) {
                    assert!(
                        !squeezed.to_ascii_lowercase().contains("javascript:"),
                        "{name}: {attr}={value:?}"
                    );
                    assert!(!value.contains("evil.example"), "{name}: {attr}={value:?}");
                }
            }
        }
    }
}

#[test]
fn every_relative_link_resolves_to_a_file_on_disk() {
    let (p, _) = gallery_project();
    p.chorus(&["build"]).assert().success();
    let site = p.path("site");
    let mut checked = 0;
    // 404.html is served at any depth, so it links from the base_url's path on purpose.
    for page in html_files(&site)
        .into_iter()
        .filter(|p| !p.ends_with("404.html"))
    {
        let html = std::fs::read_to_string(&page).unwrap();
        for url in page_urls(&html) {
            if is_external(&url) {
                continue;
            }
            assert!(
                !url.starts_with('/'),
                "{}: root-absolute link {url} breaks under a sub-path",
                page.display()
            );
            let path = url.split(['#', '?']).next().unwrap();
            let mut target = page.parent().unwrap().join(path);
            if path.ends_with('/') || path.is_empty() {
                target = target.join("index.html");
            }
            assert!(
                target.is_file(),
                "{}: {url} does not resolve to a file",
                page.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} links checked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn served_under_a_sub_path_no_link_or_image_is_broken() {
    let (p, ids) = gallery_project();
    let wide_thumb = p.thumb(&ids[2], "beta.png", 800);
    p.chorus(&["build"]).assert().success();
    let app = axum::Router::new().nest_service(
        "/repo-name",
        tower_http::services::ServeDir::new(p.path("site")),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    let client = reqwest::Client::new();
    let start = reqwest::Url::parse(&format!("http://{addr}/repo-name/")).unwrap();
    let mut queue = VecDeque::from([start.clone()]);
    let mut seen = BTreeSet::from([start.to_string()]);
    let mut broken = Vec::new();
    while let Some(url) = queue.pop_front() {
        let resp = client.get(url.clone()).send().await.unwrap();
        if !resp.status().is_success() {
            broken.push(format!("{url}: {}", resp.status()));
            continue;
        }
        let is_html = resp
            .headers()
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/html"));
        let body = resp.text().await.unwrap_or_default();
        if !is_html {
            continue;
        }
        for link in page_urls(&body) {
            if is_external(&link) {
                continue;
            }
            let mut next = url.join(&link).unwrap();
            next.set_fragment(None);
            assert!(
                next.path().starts_with("/repo-name/"),
                "{url}: {link} leaves the sub-path"
            );
            if seen.insert(next.to_string()) {
                queue.push_back(next);
            }
        }
    }
    server.abort();
    assert!(broken.is_empty(), "broken: {broken:#?}");
    assert!(seen.len() > 30, "only {} URLs reached", seen.len());
    assert!(
        seen.iter().any(|u| u.ends_with(&wide_thumb))
            && seen.iter().any(|u| u.ends_with("atom.xml"))
    );
}

fn snapshot(dir: &Path) -> Vec<(String, Vec<u8>, std::time::SystemTime)> {
    let mut files: Vec<_> = walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
            (
                rel,
                std::fs::read(e.path()).unwrap(),
                e.metadata().unwrap().modified().unwrap(),
            )
        })
        .collect();
    files.sort_by(|a, b| a.0.cmp(&b.0));
    files
}

#[test]
fn builds_are_byte_identical_and_leave_unchanged_files_alone() {
    let (p, _) = gallery_project();
    p.chorus(&["build"]).assert().success();
    let first = snapshot(&p.path("site"));
    // A fresh output folder and a fresh cache give the same bytes.
    std::fs::remove_dir_all(p.path(".chorus-cache")).unwrap();
    p.chorus(&["build", "--out", p.path("again").to_str().unwrap()])
        .assert()
        .success();
    let again = snapshot(&p.path("again"));
    assert_eq!(first.len(), again.len());
    for (a, b) in first.iter().zip(&again) {
        assert_eq!(a.0, b.0);
        assert!(a.1 == b.1, "{} differs between builds", a.0);
    }
    // Rebuilding in place rewrites nothing, so every mtime is kept.
    std::thread::sleep(std::time::Duration::from_millis(20));
    let out = p.chorus(&["build"]).output().unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(" 0 written, 0 removed"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let after = snapshot(&p.path("site"));
    for (a, b) in first.iter().zip(&after) {
        assert_eq!(a.2, b.2, "{} was rewritten", a.0);
    }
}

#[test]
fn project_templates_override_the_theme_one_file_at_a_time() {
    let (p, ids) = gallery_project();
    p.write(
        "templates/run.html",
        "{% extends \"base.html\" %}{% block content %}<p class=\"mine\">Custom run page for {{ run.artist_name }}</p>{% endblock content %}",
    );
    p.chorus(&["build"]).assert().success();
    assert!(p
        .read(&format!("site/groups/{}/alpha.html", ids[0]))
        .contains("Custom run page for Alpha Artist"));
    // The other templates are still the theme's.
    assert!(p
        .read(&format!("site/groups/{}/index.html", ids[0]))
        .contains("class=\"compare\""));
}

#[test]
fn a_theme_copy_missing_a_file_gets_the_built_in_one_with_a_warning() {
    let (p, _) = gallery_project();
    let full = p.path("full");
    p.chorus(&["build", "--out", full.to_str().unwrap()])
        .assert()
        .success();
    // An older chorus's copy: no leaderboard template, no votes script.
    for gone in ["templates/leaderboard.html", "static/votes.js"] {
        std::fs::remove_file(p.path(&format!("themes/default/{gone}"))).unwrap();
    }
    let out = p.chorus(&["build"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    for gone in ["templates/leaderboard.html", "static/votes.js"] {
        assert!(
            err.lines()
                .any(|l| l.starts_with("warning:") && l.contains(gone) && l.contains("built-in")),
            "no warning names {gone}: {err}"
        );
    }
    // The pages are those of the whole theme: the header's leaderboard link resolves.
    assert!(p.path("site/leaderboards/index.html").is_file());
    let listed = |dir: &str| p.files_under(dir);
    assert_eq!(listed("site"), listed("full"));
    for f in listed("site") {
        assert!(
            std::fs::read(p.path(&format!("site/{f}"))).unwrap()
                == std::fs::read(p.path(&format!("full/{f}"))).unwrap(),
            "site/{f} differs from the whole theme's"
        );
    }
}

#[test]
fn a_template_error_names_the_file_and_line() {
    let (p, _) = gallery_project();
    p.write("templates/group.html", "{% extends \"base.html\" %}\n{% block content %}\n<p>{{ group.no_such_field }}</p>\n{% endblock content %}\n");
    let out = p.chorus(&["build"]).output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("templates/group.html:3"), "{err}");

    p.write(
        "templates/group.html",
        "{% extends \"base.html\" %}\n{% block content %}\n{% if %}\n{% endblock content %}\n",
    );
    let out = p.chorus(&["build"]).output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("templates/group.html") && err.contains("3:"),
        "{err}"
    );
}

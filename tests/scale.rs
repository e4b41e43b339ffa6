//! A history that only grows (issue 11), through the real binary: an incremental build in
//! a new process equals a clean build byte for byte; listings are paginated from the
//! oldest group with relative links that work from disk and under a sub-path; the sitemap
//! is an index of files; the published size and its warning; each `originals` choice.
mod common;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use common::{tree, TestProject};

fn mtime(p: &TestProject, rel: &str) -> std::time::SystemTime {
    std::fs::metadata(p.path(rel))
        .and_then(|m| m.modified())
        .unwrap_or_else(|e| panic!("{rel}: {e}"))
}

fn build(p: &TestProject) -> String {
    let out = p.chorus(&["build"]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
}

/// Asserts that `site/` equals a clean build of the same project (fresh cache, fresh
/// output folder), byte for byte.
fn assert_equals_clean_build(p: &TestProject, when: &str) {
    let clean = tempfile::tempdir().unwrap();
    let copy = clean.path().join("project");
    // A copy of the project without its cache or output.
    for e in walkdir::WalkDir::new(p.root())
        .into_iter()
        .filter_map(Result::ok)
    {
        let rel = e.path().strip_prefix(p.root()).unwrap();
        if rel.starts_with("site") || rel.starts_with(".chorus-cache") {
            continue;
        }
        let dest = copy.join(rel);
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(e.path(), &dest).unwrap();
        }
    }
    let out = assert_cmd::Command::cargo_bin("chorus")
        .unwrap()
        .arg("--root")
        .arg(&copy)
        .arg("build")
        .output()
        .unwrap();
    assert!(out.status.success());
    let (ours, theirs) = (tree(&p.path("site")), tree(&copy.join("site")));
    let names = |m: &BTreeMap<String, Vec<u8>>| m.keys().cloned().collect::<BTreeSet<_>>();
    assert_eq!(names(&ours), names(&theirs), "{when}: different files");
    for (name, bytes) in &ours {
        assert!(
            bytes == &theirs[name],
            "{when}: {name} differs from a clean build"
        );
    }
}

fn set_site(p: &TestProject, line: &str) {
    let toml = p.read("chorus.toml");
    p.write(
        "chorus.toml",
        &toml.replacen("[site]\n", &format!("[site]\n{line}\n"), 1),
    );
}

#[test]
fn an_incremental_build_in_a_new_process_equals_a_clean_build() {
    let p = TestProject::init();
    let ids = p.generate_offline(&["--repeat", "3"]);
    assert_eq!(ids.len(), 3);
    let first = build(&p);
    assert!(first.contains("3 rebuilt"), "{first}");
    // Each blind page leads to the next older group's; the oldest leads nowhere.
    let blind = |id: &str| p.read(&format!("site/groups/{id}/blind.html"));
    let next_blind = |id: &str| format!("href=\"../../groups/{id}/blind.html\">Next group, blind");
    assert!(blind(&ids[2]).contains(&next_blind(&ids[1])));
    assert!(!blind(&ids[0]).contains("Next group, blind"));

    // Nothing changed: nothing is built or written.
    let again = build(&p);
    assert!(
        again.contains("0 rebuilt") && again.contains(" 0 written, 0 removed"),
        "{again}"
    );

    // A new group, an edited run, a removed group: only the changed groups are built.
    let new = p.generate_offline(&[]);
    let run = format!("runs/{}/offline-minimalist.json", ids[0]);
    let mut record: serde_json::Value = serde_json::from_str(&p.read(&run)).unwrap();
    record["artistStmt"] = "A **new** statement, written by hand.".into();
    p.write(&run, &serde_json::to_string_pretty(&record).unwrap());
    std::fs::remove_dir_all(p.path(&format!("runs/{}", ids[1]))).unwrap();
    let out = build(&p);
    assert!(
        out.contains("Built 3 group(s)") && out.contains("2 rebuilt"),
        "{out}"
    );
    assert!(!p.path(&format!("site/groups/{}", ids[1])).exists());
    assert!(p
        .read(&format!("site/groups/{}/index.html", new[0]))
        .contains("offline-minimalist"));
    // The group after the removed one now leads past it.
    assert!(blind(&new[0]).contains(&next_blind(&ids[2])));
    assert!(blind(&ids[2]).contains(&next_blind(&ids[0])));
    assert_equals_clean_build(&p, "after adding, editing and removing groups");

    // The same file contents under new mtimes (a git checkout): nothing is rebuilt.
    let bytes = std::fs::read(p.path(&run)).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    std::fs::write(p.path(&run), bytes).unwrap();
    let out = build(&p);
    assert!(out.contains("0 rebuilt"), "{out}");

    // A template change renders everything again.
    p.write(
        "templates/run.html",
        &chorus::site::render::theme::DEFAULT_THEME
            .get_file("templates/run.html")
            .unwrap()
            .contents_utf8()
            .unwrap()
            .replace("Artist statement", "What the Artist said"),
    );
    let out = build(&p);
    assert!(out.contains("3 rebuilt"), "{out}");
    assert!(p
        .read(&format!("site/groups/{}/offline-minimalist.html", ids[2]))
        .contains("What the Artist said"));
    assert_equals_clean_build(&p, "after a template change");
}

/// The hrefs and srcs of a page (enough for this theme's markup).
fn links(html: &str) -> Vec<String> {
    let mut out = Vec::new();
    for attr in ["href=\"", "src=\""] {
        for part in html.split(attr).skip(1) {
            out.push(part.split('"').next().unwrap().replace("&amp;", "&"));
        }
    }
    out
}

fn is_external(url: &str) -> bool {
    url.starts_with("http://") || url.starts_with("https://") || url.starts_with("data:")
}

#[test]
fn listings_are_paginated_from_the_oldest_with_links_that_work_from_disk() {
    let p = TestProject::init();
    set_site(&p, "per_page = 2");
    let ids = p.generate_offline(&["--repeat", "5"]);
    build(&p);

    // 5 groups: pages 1 and 2 hold two each, the index the newest one.
    let index = p.read("site/index.html");
    assert!(index.contains(&format!("groups/{}/index.html", ids[4])));
    assert!(!index.contains(&format!("groups/{}/index.html", ids[3])));
    assert!(
        index.contains("href=\"page/2.html\" rel=\"next\""),
        "{index}"
    );
    let page1 = p.read("site/page/1.html");
    assert!(page1.contains(&format!("groups/{}/index.html", ids[0])));
    assert!(
        page1.contains("href=\"../page/2.html\" rel=\"prev\""),
        "{page1}"
    );
    assert!(page1.contains("href=\"../index.html\""));
    let artist = p.read("site/artists/offline-minimalist.html");
    assert!(artist.contains("href=\"../artists/offline-minimalist/2.html\" rel=\"next\""));
    assert!(p.path("site/artists/offline-minimalist/1.html").is_file());
    assert!(p.path("site/prompts/v2-neutral/1.html").is_file());

    // The newest page filters by prompt version and Artist, with counts, and offers the
    // other order; the oldest-first pages list the oldest group first.
    assert!(
        index.contains(
            "href=\"prompts/v2-neutral.html\">v2-neutral <span class=\"muted\">(5)</span>"
        ),
        "{index}"
    );
    assert!(index.contains("href=\"artists/offline-minimalist.html\">Offline Minimalist <span class=\"muted\">(5)</span>"));
    assert!(index.contains("<a href=\"oldest/1.html\">oldest first</a>"));
    let first = p.read("site/oldest/1.html");
    let at = |html: &str, id: &str| html.find(&format!("groups/{id}/index.html"));
    assert!(at(&first, &ids[0]) < at(&first, &ids[1]) && at(&first, &ids[0]).is_some());
    assert!(first.contains("href=\"../oldest/2.html\" rel=\"next\">Newer →"));
    assert!(first.contains("<a href=\"../index.html\">newest first</a>"));
    assert!(at(&p.read("site/oldest/3.html"), &ids[4]).is_some());

    // Every relative link of every page resolves to a file on disk.
    let site = p.path("site");
    let mut checked = 0;
    for e in walkdir::WalkDir::new(&site)
        .into_iter()
        .filter_map(Result::ok)
    {
        // 404.html is served at any depth, so it links from the site's path on purpose.
        if e.path().extension().map_or(true, |x| x != "html") || e.file_name() == "404.html" {
            continue;
        }
        let html = std::fs::read_to_string(e.path()).unwrap();
        for url in links(&html) {
            if is_external(&url) || url.starts_with('#') {
                continue;
            }
            assert!(
                !url.starts_with('/'),
                "{}: root-absolute {url}",
                e.path().display()
            );
            let path = url.split(['#', '?']).next().unwrap();
            let target = e.path().parent().unwrap().join(path);
            let target = if path.ends_with('/') {
                target.join("index.html")
            } else {
                target
            };
            assert!(
                target.is_file(),
                "{}: {url} is not on disk",
                e.path().display()
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} links");

    // A new group rewrites the newest page only; older pages keep their bytes and mtimes,
    // in either order.
    let stable = [
        "page/1.html",
        "page/2.html",
        "oldest/1.html",
        "oldest/2.html",
    ];
    let before = stable.map(|f| mtime(&p, &format!("site/{f}")));
    std::thread::sleep(std::time::Duration::from_millis(20));
    let new = p.generate_offline(&[]);
    build(&p);
    assert_eq!(before, stable.map(|f| mtime(&p, &format!("site/{f}"))));
    let index = p.read("site/index.html");
    assert!(index.contains(&format!("groups/{}/index.html", new[0])));
    assert!(index.contains(&format!("groups/{}/index.html", ids[4])));
    assert_equals_clean_build(&p, "after one more group");

    // The sitemap is an index of sitemap files that list every page.
    let sitemap = p.read("site/sitemap.xml");
    assert!(sitemap.contains("<sitemapindex") && sitemap.contains("sitemaps/1.xml</loc>"));
    let urls = p.read("site/sitemaps/1.xml");
    assert!(urls.contains(&format!("groups/{}/offline-naturalist.html</loc>", ids[0])));
    assert!(urls.contains("page/1.html</loc>"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paginated_listings_work_under_a_sub_path() {
    let p = TestProject::init();
    set_site(&p, "per_page = 1");
    p.generate_offline(&["--repeat", "3"]);
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
        if !url.path().ends_with(".html") && !url.path().ends_with('/') {
            continue;
        }
        let body = resp.text().await.unwrap_or_default();
        for link in links(&body) {
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
    // Every page of the index was reached by following links.
    for page in ["page/1.html", "page/2.html"] {
        assert!(
            seen.iter().any(|u| u.ends_with(page)),
            "{page} never reached"
        );
    }
}

#[test]
fn build_reports_the_site_size_and_warns_past_the_budget() {
    let p = TestProject::init();
    p.generate_offline(&[]);
    let out = build(&p);
    assert!(
        out.contains("Site size: ") && !out.contains("warning: the site is"),
        "{out}"
    );
    let strict = p.chorus(&["build", "--strict"]).output().unwrap();
    assert_eq!(strict.status.code(), Some(0), "within the 1 GB default");
    // A budget below the site's size (GitHub Pages' 1 GB by default) brings the warning
    // and the options; --strict makes it exit 6, and says the same.
    let config = p
        .read("chorus.toml")
        .replace("[site]\n", "[site]\nsize_budget = \"0.5 MB\"\n");
    assert!(
        config.contains("size_budget"),
        "the starter config has a [site] table"
    );
    p.write("chorus.toml", &config);
    let strict = p.chorus(&["build", "--strict"]).output().unwrap();
    assert_eq!(
        strict.status.code(),
        Some(6),
        "{}",
        String::from_utf8_lossy(&strict.stderr)
    );
    assert!(String::from_utf8_lossy(&strict.stderr).contains("[site] size_budget, 500 KB"));
    let out = p.chorus(&["build"]).output().unwrap();
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("warning: the site is")
            && stderr.contains("originals = \"web\"")
            && stderr.contains("set originals = \"none\""),
        "{stderr}"
    );
    // It never suggests the setting already in force.
    assert!(!stderr.contains("set originals = \"web\""), "{stderr}");
}

/// A 1024² image with a photograph's texture (smooth light plus grain): about 2 MB as PNG,
/// where a JPEG is a few hundred KB.
fn photo_png() -> Vec<u8> {
    let mut state = 2_654_435_761u32;
    let img = image::RgbImage::from_fn(1024, 1024, |x, y| {
        state ^= state << 13;
        state ^= state >> 17;
        state ^= state << 5;
        let grain = (state % 24) as i32 - 12;
        let px = |v: u32| (v as i32 + grain).clamp(0, 255) as u8;
        image::Rgb([
            px((x / 5 + y / 7) % 256),
            px((x / 6 + y / 3) % 256),
            px(200 - x / 8),
        ])
    });
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

#[test]
fn each_originals_choice_publishes_what_it_says() {
    let p = TestProject::init();
    let id = p
        .generate_offline(&["--artists", "offline-minimalist"])
        .remove(0);
    let src = p.path(&format!("runs/{id}/offline-minimalist.png"));
    // One flat colour, well compressed: a PNG of a few KB, where its JPEG is larger.
    let mut flat = Vec::new();
    let pixels = image::RgbImage::from_pixel(1024, 1024, image::Rgb([40, 90, 160]));
    image::ImageEncoder::write_image(
        image::codecs::png::PngEncoder::new_with_quality(
            &mut flat,
            image::codecs::png::CompressionType::Best,
            image::codecs::png::FilterType::Adaptive,
        ),
        pixels.as_raw(),
        1024,
        1024,
        image::ExtendedColorType::Rgb8,
    )
    .unwrap();
    std::fs::write(&src, &flat).unwrap();
    let group = |p: &TestProject| p.read(&format!("site/groups/{id}/index.html"));
    let site = |rel: &str| p.path(&format!("site/groups/{id}/{rel}"));

    // web (the default) publishes the smaller of a JPEG and the original: a flat PNG is
    // smaller than its JPEG, so it is published as it is.
    build(&p);
    let media: Vec<String> = std::fs::read_dir(site("media"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(site("media/offline-minimalist.png").is_file(), "{media:?}");
    assert_eq!(
        std::fs::read(site("media/offline-minimalist.png")).unwrap(),
        flat
    );
    assert!(!site("media/offline-minimalist.jpg").exists());
    assert!(group(&p).contains("offline-minimalist.png 1024w"));

    // A photograph-like PNG is published as a JPEG, a fraction of its size; runs/ keeps
    // the PNG untouched.
    let original = photo_png();
    std::fs::write(&src, &original).unwrap();
    build(&p);
    let published = std::fs::read(site("media/offline-minimalist.jpg")).unwrap();
    let jpeg = image::load_from_memory(&published).unwrap();
    assert_eq!((jpeg.width(), jpeg.height()), (1024, 1024));
    assert!(
        published.len() * 2 < original.len(),
        "JPEG {} bytes, PNG {}",
        published.len(),
        original.len()
    );
    assert!(!site("media/offline-minimalist.png").exists());
    assert!(group(&p).contains("offline-minimalist.jpg 1024w"));
    assert_eq!(std::fs::read(&src).unwrap(), original);
    assert_equals_clean_build(&p, "with originals = \"web\"");

    // copy: the original bytes.
    set_site(&p, "originals = \"copy\"");
    build(&p);
    assert_eq!(
        std::fs::read(site("media/offline-minimalist.png")).unwrap(),
        original
    );
    assert!(!site("media/offline-minimalist.jpg").exists());
    assert!(group(&p).contains("offline-minimalist.png 1024w"));

    // none: the largest thumbnail stands in for the full image.
    p.write(
        "chorus.toml",
        &p.read("chorus.toml")
            .replace("originals = \"copy\"", "originals = \"none\""),
    );
    build(&p);
    assert!(
        !site("media/offline-minimalist.png").exists()
            && !site("media/offline-minimalist.jpg").exists()
    );
    let page = group(&p);
    let largest = p.thumb(&id, "offline-minimalist.png", 800);
    assert!(page.contains(&format!("../../{largest} 800w")), "{page}");
    assert!(!page.contains("1024w"));
    assert!(p.path(&format!("site/{largest}")).is_file());
    assert_equals_clean_build(&p, "with originals = \"none\"");

    // A bad value is refused with the key and the choices.
    p.write(
        "chorus.toml",
        &p.read("chorus.toml")
            .replace("originals = \"none\"", "originals = \"huge\""),
    );
    let out = p.chorus(&["build"]).output().unwrap();
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("originals") && stderr.contains("web"),
        "{stderr}"
    );
}

fn build_with_id(p: &TestProject, id: &str) -> String {
    let out = p
        .chorus(&["build"])
        .env(chorus::site::engine::incremental::TEST_BUILD_ID_ENV, id)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    stderr
}

/// The manifest's files under .chorus-cache/site-*/, by kind ("summaries", "entries", …).
fn manifest_files(p: &TestProject, kind: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for state in std::fs::read_dir(p.path(".chorus-cache"))
        .unwrap()
        .flatten()
    {
        if !state.file_name().to_string_lossy().starts_with("site-") {
            continue;
        }
        let at = state.path().join(kind);
        if at.is_file() {
            found.push(at);
        } else if let Ok(dir) = std::fs::read_dir(&at) {
            found.extend(dir.flatten().map(|e| e.path()));
        }
    }
    found.sort();
    found
}

#[test]
fn another_chorus_binary_or_a_damaged_cache_renders_everything_again() {
    let p = TestProject::init();
    p.generate_offline(&["--repeat", "2"]);
    assert!(build_with_id(&p, "chorus-a").contains("2 rebuilt"));
    assert!(build_with_id(&p, "chorus-a").contains("0 rebuilt"));
    // Pages a different chorus made are never kept.
    let out = build_with_id(&p, "chorus-b");
    assert!(out.contains("2 rebuilt"), "{out}");
    assert!(build_with_id(&p, "chorus-b").contains("0 rebuilt"));

    // A small index, and the groups' entries and summaries in shards by name.
    assert_eq!(manifest_files(&p, "index.bin").len(), 1);
    assert!((1..=2).contains(&manifest_files(&p, "summaries").len()));
    assert!((1..=2).contains(&manifest_files(&p, "entries").len()));

    // A lost shard of the manifest: the next build that needs it builds everything, and
    // the result is still a clean build's.
    std::fs::remove_file(&manifest_files(&p, "summaries")[0]).unwrap();
    p.generate_offline(&[]);
    let out = build_with_id(&p, "chorus-b");
    assert!(out.contains("3 rebuilt"), "{out}");
    assert_equals_clean_build(&p, "after losing a manifest shard");

    // A damaged index: the same.
    std::fs::write(&manifest_files(&p, "index.bin")[0], b"\x01\x02garbage").unwrap();
    let out = build_with_id(&p, "chorus-b");
    assert!(out.contains("3 rebuilt"), "{out}");
    assert!(build_with_id(&p, "chorus-b").contains("0 rebuilt"));
}

//! Test fixtures shared by the integration tests: a temp project and the real binary.
#![allow(dead_code)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;

pub mod batch_mock;
pub mod mock;

/// A throwaway chorus project in a temp folder.
pub struct TestProject {
    pub dir: tempfile::TempDir,
}

impl TestProject {
    /// An empty folder (no chorus.toml yet).
    pub fn empty() -> TestProject {
        TestProject {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    /// A project made by `chorus init`.
    pub fn init() -> TestProject {
        let p = TestProject::empty();
        p.chorus(&["init"]).assert().success();
        p
    }

    /// A project with the given chorus.toml and nothing else.
    pub fn with_config(toml: &str) -> TestProject {
        let p = TestProject::empty();
        p.write("chorus.toml", toml);
        p
    }

    /// A copy of `tests/fixtures/<name>` (a whole project) in a temp folder.
    pub fn fixture(name: &str) -> TestProject {
        let p = TestProject::empty();
        let src = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        for entry in walkdir::WalkDir::new(&src)
            .into_iter()
            .filter_map(Result::ok)
        {
            let rel = entry.path().strip_prefix(&src).unwrap();
            let dest = p.root().join(rel);
            if entry.file_type().is_dir() {
                std::fs::create_dir_all(&dest).unwrap();
            } else {
                std::fs::copy(entry.path(), &dest).unwrap();
            }
        }
        p
    }

    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    pub fn path(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    pub fn write(&self, rel: &str, text: &str) {
        let path = self.path(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }

    pub fn read(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
    }

    /// The real `chorus` binary, run with `--root` set to this project and no API keys.
    pub fn chorus(&self, args: &[&str]) -> Command {
        let mut cmd = Command::cargo_bin("chorus").expect("binary built");
        cmd.arg("--root").arg(self.root()).args(args);
        for key in ["OPENROUTER_API_KEY", "OPENAI_API_KEY", "ANTHROPIC_API_KEY"] {
            cmd.env_remove(key);
        }
        cmd
    }

    /// Runs `generate --offline` and returns the new group ids (stdout, one per line).
    pub fn generate_offline(&self, extra: &[&str]) -> Vec<String> {
        let mut args = vec!["generate", "--offline"];
        args.extend_from_slice(extra);
        let out = self.chorus(&args).output().expect("run chorus");
        assert!(
            out.status.success(),
            "generate failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(str::to_string)
            .collect()
    }

    /// Where the site publishes the `width` px thumbnail of `runs/<group>/<image>` (named by
    /// the image's content), relative to the site's root.
    #[allow(dead_code)]
    pub fn thumb(&self, group: &str, image: &str, width: u32) -> String {
        let bytes = std::fs::read(self.path(&format!("runs/{group}/{image}"))).unwrap();
        chorus::site::render::model::thumb_url(group, &chorus::store::sha256_hex(&bytes), width)
    }

    /// Every file under `rel`, relative to it, sorted.
    pub fn files_under(&self, rel: &str) -> Vec<String> {
        let base = self.path(rel);
        let mut files: Vec<String> = walkdir::WalkDir::new(&base)
            .into_iter()
            .filter_map(Result::ok)
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                e.path()
                    .strip_prefix(&base)
                    .unwrap()
                    .to_string_lossy()
                    .into_owned()
            })
            .collect();
        files.sort();
        files
    }
}

/// Every file under `dir` with its bytes, by path relative to `dir`: for comparing whole
/// trees (a site built twice, a folder that must stay untouched).
pub fn tree(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
        .filter(|e| e.file_type().is_file())
        .map(|e| {
            let rel = e.path().strip_prefix(dir).unwrap().display().to_string();
            (rel, std::fs::read(e.path()).unwrap())
        })
        .collect()
}

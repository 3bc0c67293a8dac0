//! Records at build time what the manifest reports, so nothing runs git when a batch is scored:
//! - `AML_MINER_REPO_COMMIT`: the commit the miner is built from: the `AML_MINER_REPO_COMMIT`
//!   environment variable when set (a container build without `.git`), else `git rev-parse HEAD`,
//!   else `unknown`;
//! - `AML_MINER_LIBS`: `name=version` pairs (`;`-separated) of the main libraries, from `Cargo.lock`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Libraries whose locked versions the manifest lists under `libs`.
const LIBS: [&str; 8] = [
    "arrow",
    "parquet",
    "ndarray",
    "rayon",
    "serde_json",
    "sha2",
    "ed25519-dalek",
    "axum",
];

fn git(args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (output.status.success() && !text.is_empty()).then_some(text)
}

/// Asks Cargo to run this script again when the checked-out commit moves: the worktree's `HEAD`,
/// the branch it points to and `packed-refs` (only files that exist, or Cargo would rerun always).
fn watch_git() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let absolute = |path: String| root.join(PathBuf::from(path));
    let mut watched = Vec::new();
    if let Some(dir) = git(&["rev-parse", "--git-dir"]) {
        watched.push(absolute(dir).join("HEAD"));
    }
    if let Some(common) = git(&["rev-parse", "--git-common-dir"]).map(absolute) {
        if let Some(branch) = git(&["symbolic-ref", "-q", "HEAD"]) {
            watched.push(common.join(branch));
        }
        watched.push(common.join("packed-refs"));
    }
    for path in watched.iter().filter(|p| p.is_file()) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

fn repo_commit() -> String {
    println!("cargo:rerun-if-env-changed=AML_MINER_REPO_COMMIT");
    if let Some(commit) = std::env::var("AML_MINER_REPO_COMMIT")
        .ok()
        .filter(|c| !c.trim().is_empty())
    {
        return commit.trim().to_string();
    }
    watch_git();
    git(&["rev-parse", "HEAD"]).unwrap_or_else(|| "unknown".to_string())
}

/// `name=version` of every library of [`LIBS`] found in `Cargo.lock` (first version listed).
fn locked_libs() -> String {
    let lock = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock");
    println!("cargo:rerun-if-changed={}", lock.display());
    let text = std::fs::read_to_string(&lock).unwrap_or_default();
    let mut pairs = Vec::new();
    for lib in LIBS {
        let name_line = format!("name = \"{lib}\"");
        let mut lines = text.lines();
        if lines.by_ref().any(|line| line == name_line) {
            if let Some(version) = lines
                .next()
                .and_then(|line| line.strip_prefix("version = \""))
                .and_then(|rest| rest.strip_suffix('"'))
            {
                pairs.push(format!("{lib}={version}"));
            }
        }
    }
    pairs.join(";")
}

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rustc-env=AML_MINER_REPO_COMMIT={}", repo_commit());
    println!("cargo:rustc-env=AML_MINER_LIBS={}", locked_libs());
}

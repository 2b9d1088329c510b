//! Shared helpers for the `vmbackup target` end-to-end tests: running the
//! binary, building disk images, hashing files.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::os::unix::fs::{FileExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::process::Output;

use assert_cmd::cargo::cargo_bin_cmd;
use sha2::{Digest, Sha256};

/// Lock settle time for tests: nothing else uses their targets.
pub const LOCK_SETTLE: &str = "10ms";

/// The fingerprint cache directory the tests' imports use, inside the
/// build directory rather than the user's home.
pub fn cache_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("fingerprint-cache")
}

/// `vmbackup target <args>` with a short lock settle time.
pub fn vmbackup_target(args: &[&str]) -> Output {
    let mut cmd = cargo_bin_cmd!("vmbackup");
    cmd.env("VMBACKUP_LOCK_SETTLE", LOCK_SETTLE)
        .env("VMBACKUP_CACHE_DIR", cache_dir())
        .env_remove("VMBACKUP_TARGET")
        .arg("target")
        .args(args);
    cmd.output().unwrap()
}

/// The path of the built binary, for tests that drive the process themselves.
pub fn binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_vmbackup"))
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Asserts success and returns standard output.
pub fn ok(o: Output) -> String {
    assert!(
        o.status.success(),
        "exit {:?}\nstdout:\n{}\nstderr:\n{}",
        o.status.code(),
        stdout(&o),
        stderr(&o)
    );
    stdout(&o)
}

/// Asserts exit status 1 without a panic and returns standard error.
pub fn fails(o: Output) -> String {
    let err = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(1),
        "stdout:\n{}\nstderr:\n{err}",
        stdout(&o)
    );
    assert!(!err.contains("panicked"), "{err}");
    err
}

/// The last line of a command's output.
pub fn last_line(text: &str) -> String {
    text.lines().last().unwrap_or_default().trim().to_owned()
}

/// What to put at a place in an image.
#[derive(Debug, Clone, Copy)]
pub enum Fill {
    /// Pseudo-random bytes from a seed (incompressible).
    Random(u64),
    /// Explicit zeros (allocated, not a hole).
    Zeros,
    /// One repeated byte.
    Byte(u8),
}

pub fn fill_bytes(fill: Fill, len: usize) -> Vec<u8> {
    match fill {
        Fill::Random(seed) => {
            let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
            let mut out = Vec::with_capacity(len + 8);
            while out.len() < len {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                out.extend_from_slice(&x.to_le_bytes());
            }
            out.truncate(len);
            out
        }
        Fill::Zeros => vec![0; len],
        Fill::Byte(b) => vec![b; len],
    }
}

/// Creates a sparse image of `size` bytes with data at the given extents;
/// everything else is a hole.
pub fn make_image(path: &Path, size: u64, extents: &[(u64, usize, Fill)]) {
    let f = File::create(path).unwrap();
    f.set_len(size).unwrap();
    write_extents(path, extents);
}

/// Writes extents into an existing image.
pub fn write_extents(path: &Path, extents: &[(u64, usize, Fill)]) {
    let f = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    for &(at, len, fill) in extents {
        f.write_all_at(&fill_bytes(fill, len), at).unwrap();
    }
}

/// SHA-256 of a file, hex.
pub fn sha256_file(path: &Path) -> String {
    use std::io::Read;
    let mut f = File::open(path).unwrap();
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).unwrap();
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    hex::encode(h.finalize())
}

/// Bytes a file occupies on disk.
pub fn allocated_bytes(path: &Path) -> u64 {
    std::fs::metadata(path).unwrap().blocks() * 512
}

/// Every file below a directory, relative to it, sorted.
pub fn files_below(dir: &Path) -> Vec<String> {
    fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let e = e.unwrap();
            let p = e.path();
            if p.is_dir() {
                walk(base, &p, out);
            } else {
                out.push(p.strip_prefix(base).unwrap().display().to_string());
            }
        }
    }
    let mut out = Vec::new();
    if dir.exists() {
        walk(dir, dir, &mut out);
    }
    out.sort();
    out
}

/// `qemu-img` when it is installed. Missing, the caller skips, unless
/// `VMBACKUP_TEST_S3_REQUIRED=1` (the test script), where it is a failure.
pub fn qemu_img_available() -> bool {
    let found = std::process::Command::new("qemu-img")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            std::env::var("VMBACKUP_TEST_S3_REQUIRED").as_deref() != Ok("1"),
            "qemu-img is missing (scripts/setup-test-tools installs it)"
        );
        eprintln!("skipping the qcow2 checks: qemu-img is not installed");
    }
    found
}

/// Runs qemu-img and returns its output, asserting success.
pub fn qemu_img(args: &[&str]) -> String {
    let o = std::process::Command::new("qemu-img")
        .args(args)
        .output()
        .unwrap();
    let text = format!("{}{}", stdout(&o), stderr(&o));
    assert!(o.status.success(), "qemu-img {args:?}:\n{text}");
    text
}

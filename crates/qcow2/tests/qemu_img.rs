//! QEMU's own tools accept what the writer produces: `qemu-img check` finds
//! no errors or leaks, and `qemu-img compare` finds the qcow2 image equal to
//! the raw image it was written from. `qemu-img` is installed by
//! scripts/setup-test-tools; without it the test skips, unless
//! `VMBACKUP_TEST_S3_REQUIRED=1` (set by scripts/test), when it fails.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::Path;
use std::process::Command;
use vmbackup_qcow2::{Qcow2Writer, WriterOptions};

fn have_qemu_img() -> bool {
    let found = Command::new("qemu-img").arg("--version").output().is_ok();
    if !found {
        assert!(
            std::env::var("VMBACKUP_TEST_S3_REQUIRED").as_deref() != Ok("1"),
            "qemu-img is missing (scripts/setup-test-tools installs it)"
        );
        eprintln!("skipping: qemu-img is not installed");
    }
    found
}

fn qemu_img(args: &[&str]) -> String {
    let out = Command::new("qemu-img").args(args).output().unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "qemu-img {args:?} failed:\n{text}");
    text
}

/// A sparse raw image with data at the given extents, and the same content
/// written as qcow2 by streaming the raw file's bytes.
fn raw_and_qcow2(dir: &Path, size: u64, extents: &[(u64, Vec<u8>)], bits: u32) -> (String, String) {
    let raw = dir.join(format!("disk-{bits}.raw"));
    let f = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(&raw)
        .unwrap();
    f.set_len(size).unwrap();
    for (at, data) in extents {
        f.write_all_at(data, *at).unwrap();
    }
    let qcow = dir.join(format!("disk-{bits}.qcow2"));
    let mut w = Qcow2Writer::new(
        File::create(&qcow).unwrap(),
        size,
        WriterOptions { cluster_bits: bits },
    )
    .unwrap();
    // Stream in 1 MiB pieces, as an export does block by block; pieces in
    // holes of the raw file are skipped, as an export skips absent blocks.
    let mut buf = vec![0u8; 1 << 20];
    let mut pos = 0;
    while pos < size {
        let n = (size - pos).min(buf.len() as u64);
        let touched = extents
            .iter()
            .any(|(at, d)| *at < pos + n && at + d.len() as u64 > pos);
        if touched {
            f.read_exact_at(&mut buf[..n as usize], pos).unwrap();
            w.write(pos, &buf[..n as usize]).unwrap();
        }
        pos += n;
    }
    w.finish().unwrap();
    (
        raw.to_str().unwrap().to_owned(),
        qcow.to_str().unwrap().to_owned(),
    )
}

fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

#[test]
fn qemu_img_checks_and_compares_equal() {
    if !have_qemu_img() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let extents = [
        (0, noise(1, 70_000)),
        (3 << 20, noise(2, 2 << 20)),
        ((600 << 20) + 12345, noise(3, 300_000)),
        ((1 << 30) - 4096, noise(4, 4096)),
    ];
    // Default clusters, small clusters (many L2 tables and refcount blocks)
    // and the largest clusters.
    for bits in [16, 9, 21] {
        let size = if bits == 9 { 64 << 20 } else { 1 << 30 };
        let extents: Vec<_> = extents
            .iter()
            .filter(|(at, d)| at + d.len() as u64 <= size)
            .cloned()
            .collect();
        let (raw, qcow) = raw_and_qcow2(dir.path(), size, &extents, bits);
        let check = qemu_img(&["check", "-f", "qcow2", &qcow]);
        assert!(check.contains("No errors were found"), "{check}");
        qemu_img(&["compare", "-f", "raw", "-F", "qcow2", &raw, &qcow]);
        let info = qemu_img(&["info", "--output=json", "-f", "qcow2", &qcow]);
        assert!(
            info.contains(&format!("\"virtual-size\": {size}")),
            "{info}"
        );
    }
}

#[test]
fn odd_sizes_compare_equal_to_the_raw_image() {
    if !have_qemu_img() {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let size = (5 << 20) + 4321;
    let (raw, qcow) = raw_and_qcow2(dir.path(), size, &[(size - 4321, noise(9, 4321))], 16);
    let check = qemu_img(&["check", "-f", "qcow2", &qcow]);
    assert!(check.contains("No errors were found"), "{check}");
    qemu_img(&["compare", "-f", "raw", "-F", "qcow2", &raw, &qcow]);
}

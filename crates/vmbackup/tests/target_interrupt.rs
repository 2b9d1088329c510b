//! Interrupting long operations for real: the binary runs on a large sparse
//! image, gets SIGINT (or SIGTERM) once its progress has started, and must
//! leave nothing half-done: no partial file under an export's name, no
//! backup that looks complete after an import, no lock left on the target.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod target_common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::Value;
use target_common::*;

const MIB: u64 = 1 << 20;

/// Starts `vmbackup target <args>` with plain progress lines on stderr.
fn spawn(args: &[&str]) -> (Child, mpsc::Receiver<String>) {
    let mut child = Command::new(binary())
        .env("VMBACKUP_LOCK_SETTLE", LOCK_SETTLE)
        .env("VMBACKUP_CACHE_DIR", cache_dir())
        .arg("target")
        .args(args)
        .args(["--progress", "plain"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    (child, rx)
}

/// True once a plain progress line of `label` shows work done.
fn progressed(lines: &[String], label: &str) -> bool {
    lines.iter().any(|l| {
        l.starts_with(&format!("{label}:")) && l.contains(" of ") && !l.contains("(0 B of")
    })
}

/// Waits until `ready` holds (it sees the stderr lines so far), then sends
/// `signal`. Returns the exit code and everything printed on stderr.
fn interrupt_when(
    mut child: Child,
    lines: &mpsc::Receiver<String>,
    signal: &str,
    ready: impl Fn(&[String]) -> bool,
) -> (Option<i32>, String) {
    let deadline = Instant::now() + Duration::from_secs(180);
    let mut seen = Vec::new();
    while !ready(&seen) {
        if let Ok(line) = lines.recv_timeout(Duration::from_millis(20)) {
            seen.push(line);
        }
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            let _ = child.kill();
            panic!(
                "the operation ended or never got ready:\n{}",
                seen.join("\n")
            );
        }
    }
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let code = child.wait().unwrap().code();
    seen.extend(lines.iter());
    (code, seen.join("\n"))
}

/// A sparse 2 GiB disk with 128 MiB of incompressible data spread over it:
/// enough work that the operation is still running when the signal comes.
fn big_sparse_disk(path: &Path) {
    let extents: Vec<(u64, usize, Fill)> = (0..32)
        .map(|i| (i * 64 * MIB + 4096, 4 * MIB as usize, Fill::Random(i + 1)))
        .collect();
    make_image(path, 2 << 30, &extents);
}

fn backup_configs(target: &Path) -> Vec<String> {
    files_below(target)
        .into_iter()
        .filter(|f| f.contains("/backups/backup_"))
        .collect()
}

fn lock_files(target: &Path) -> Vec<String> {
    files_below(target)
        .into_iter()
        .filter(|f| f.ends_with(".lck"))
        .collect()
}

#[test]
fn interrupted_import_leaves_no_complete_backup_and_no_lock() {
    let work = tempfile::tempdir().unwrap();
    let target = work.path().join("target");
    std::fs::create_dir(&target).unwrap();
    let disk = work.path().join("disk.img");
    big_sparse_disk(&disk);
    let t = target.to_str().unwrap();

    for (signal, code) in [("-INT", 130), ("-TERM", 143)] {
        let (child, lines) = spawn(&[
            "import",
            "--target",
            t,
            "--volume",
            "pvc-big",
            "--from",
            disk.to_str().unwrap(),
        ]);
        // Interrupt once the in-progress placeholder is on the target and
        // blocks are being uploaded.
        let (status, stderr) = interrupt_when(child, &lines, signal, |seen| {
            progressed(seen, "import (upload)") && !backup_configs(&target).is_empty()
        });
        assert_eq!(status, Some(code), "{stderr}");
        assert!(stderr.contains("import interrupted"), "{stderr}");
        assert!(stderr.contains("removed the unfinished backup"), "{stderr}");
        assert!(
            backup_configs(&target).is_empty(),
            "{:?}",
            backup_configs(&target)
        );

        let listing: Value = serde_json::from_str(&ok(vmbackup_target(&[
            "ls", "--target", t, "--output", "json",
        ])))
        .unwrap();
        for v in listing["volumes"].as_array().unwrap() {
            for b in v["backups"].as_array().unwrap() {
                assert_eq!(b["complete"], false, "{listing}");
            }
        }
        assert!(lock_files(&target).is_empty(), "{:?}", lock_files(&target));
    }
    // No placeholder was left either: the next import is a clean full one.
    let small = work.path().join("small.img");
    make_image(&small, 4 * MIB, &[(0, 1000, Fill::Byte(3))]);
    let out = ok(vmbackup_target(&[
        "import",
        "--target",
        t,
        "--volume",
        "pvc-big",
        "--from",
        small.to_str().unwrap(),
    ]));
    assert!(out.contains("full backup"), "{out}");
    let listing: Value = serde_json::from_str(&ok(vmbackup_target(&[
        "ls", "--target", t, "--output", "json",
    ])))
    .unwrap();
    assert_eq!(
        listing["volumes"][0]["backups"].as_array().unwrap().len(),
        1
    );
}

#[test]
fn interrupted_export_leaves_no_file() {
    let work = tempfile::tempdir().unwrap();
    let target = work.path().join("target");
    std::fs::create_dir(&target).unwrap();
    let disk = work.path().join("disk.img");
    big_sparse_disk(&disk);
    let t = target.to_str().unwrap();
    let backup = last_line(&ok(vmbackup_target(&[
        "import",
        "--target",
        t,
        "--volume",
        "pvc-big",
        "--from",
        disk.to_str().unwrap(),
    ])));

    let out_dir = work.path().join("out");
    std::fs::create_dir(&out_dir).unwrap();
    for (format, signal, code) in [
        ("raw", "-INT", 130),
        ("qcow2", "-INT", 130),
        ("raw", "-TERM", 143),
    ] {
        let dest = out_dir.join(format!("disk.{format}"));
        let (child, lines) = spawn(&[
            "export",
            "--target",
            t,
            "--volume",
            "pvc-big",
            "--backup",
            &backup,
            "--to",
            dest.to_str().unwrap(),
            "--format",
            format,
        ]);
        // Interrupt once data is being written to the temporary file.
        let (status, stderr) = interrupt_when(child, &lines, signal, |seen| {
            progressed(seen, "export") && !files_below(&out_dir).is_empty()
        });
        assert_eq!(status, Some(code), "{stderr}");
        assert!(stderr.contains("export interrupted"), "{stderr}");
        assert!(
            !dest.exists(),
            "{format}: a partial file is under the final name"
        );
        assert!(
            files_below(&out_dir).is_empty(),
            "{format}: temporary files left: {:?}",
            files_below(&out_dir)
        );
        assert!(lock_files(&target).is_empty(), "{:?}", lock_files(&target));
    }
}

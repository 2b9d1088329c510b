//! The disaster-recovery story with `vmbackup target`, end to end: an
//! operator backs up a disk image to a backup target, lists and inspects
//! it, verifies it, exports it back as raw and qcow2 images, then takes an
//! incremental backup after the disk changed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod target_common;

use serde_json::Value;
use std::path::Path;
use target_common::*;

const MIB: u64 = 1 << 20;

fn json(text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("not JSON ({e}):\n{text}"))
}

fn import(target: &str, volume: &str, image: &Path, extra: &[&str]) -> (String, String) {
    let mut args = vec![
        "import",
        "--target",
        target,
        "--volume",
        volume,
        "--from",
        image.to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let out = ok(vmbackup_target(&args));
    (last_line(&out), out)
}

/// `vmbackup target export` of one backup to `to`, with `extra` flags.
fn export_command(
    target: &str,
    volume: &str,
    backup: &str,
    to: &Path,
    extra: &[&str],
) -> std::process::Output {
    let to = to.to_str().unwrap();
    let mut args = vec![
        "export", "--target", target, "--volume", volume, "--backup", backup, "--to", to,
    ];
    args.extend_from_slice(extra);
    vmbackup_target(&args)
}

/// `qemu-img check` accepts the qcow2 image and `qemu-img compare` finds
/// it equal to the raw one (skipped where qemu-img is missing).
fn qcow2_checks_and_equals(qcow: &Path, raw: &Path) {
    if qemu_img_available() {
        let check = qemu_img(&["check", "-f", "qcow2", qcow.to_str().unwrap()]);
        assert!(check.contains("No errors were found"), "{check}");
        qemu_img(&[
            "compare",
            "-f",
            "raw",
            "-F",
            "qcow2",
            raw.to_str().unwrap(),
            qcow.to_str().unwrap(),
        ]);
    }
}

fn export(target: &str, volume: &str, backup: &str, to: &Path, format: &str) {
    ok(export_command(
        target,
        volume,
        backup,
        to,
        &["--format", format],
    ));
}

#[test]
fn backup_list_inspect_verify_export_and_back_up_again() {
    let work = tempfile::tempdir().unwrap();
    let target_dir = work.path().join("target");
    std::fs::create_dir(&target_dir).unwrap();
    let target = target_dir.to_str().unwrap();

    // A 24 MiB disk (plus a tail that is not a whole block): random data,
    // a written-but-zero region, small writes inside blocks, and holes.
    let disk = work.path().join("disk.img");
    let size = 24 * MIB + 1234;
    make_image(
        &disk,
        size,
        &[
            (0, 3 * MIB as usize, Fill::Random(1)),
            (6 * MIB, 2 * MIB as usize, Fill::Zeros),
            (10 * MIB + 100, MIB as usize, Fill::Random(2)),
            (17 * MIB + 5, 4000, Fill::Byte(7)),
            (24 * MIB, 1234, Fill::Random(3)),
        ],
    );
    let original = sha256_file(&disk);

    // Back it up. The name is the last line; the line before says what
    // was stored.
    let (first, out) = import(target, "pvc-disk-1", &disk, &[]);
    assert!(first.starts_with("backup-"), "{out}");
    assert!(out.contains("full backup"), "{out}");

    // It is listed as complete, with its time and size.
    let table = ok(vmbackup_target(&["ls", "--target", target]));
    let row = table.lines().find(|l| l.contains(&first)).unwrap();
    assert!(
        row.starts_with("pvc-disk-1") && row.ends_with("complete"),
        "{table}"
    );
    let listing = json(&ok(vmbackup_target(&[
        "ls", "--target", target, "--output", "json",
    ])));
    let vol = &listing["volumes"][0];
    assert_eq!(vol["name"], "pvc-disk-1");
    assert_eq!(vol["lastBackup"], first.as_str());
    let b = &vol["backups"][0];
    assert_eq!(b["name"], first.as_str());
    assert_eq!(b["complete"], true);
    assert!(b["created"].as_str().unwrap().ends_with('Z'));
    // 2 MiB blocks holding data: 0-2, 2-4, 10-12, 16-18, 24-26 MiB.
    assert_eq!(b["size"], 10 * MIB);

    // `show` tells the details, including the exact image size.
    let details = json(&ok(vmbackup_target(&[
        "show",
        "--target",
        target,
        "--volume",
        "pvc-disk-1",
        "--backup",
        &first,
        "--output",
        "json",
    ])));
    assert_eq!(details["imageSize"], size);
    assert_eq!(details["blockSize"], 2 * MIB);
    assert_eq!(details["compression"], "lz4");
    assert_eq!(details["blocks"], 5);
    assert_eq!(details["state"], "complete");
    assert_eq!(
        details["url"],
        format!("{target}?backup={first}&volume=pvc-disk-1").as_str()
    );
    let text = ok(vmbackup_target(&[
        "show",
        "--target",
        target,
        "--volume",
        "pvc-disk-1",
        "--backup",
        &first,
    ]));
    assert!(
        text.contains("State:") && text.contains("complete"),
        "{text}"
    );

    // Every block checks out.
    let report = ok(vmbackup_target(&["verify", "--target", target]));
    assert!(
        report.contains("volume pvc-disk-1: OK (1 backups, 5 blocks"),
        "{report}"
    );

    // A raw export is byte-identical to the disk, and sparse.
    let raw = work.path().join("restored.img");
    export(target, "pvc-disk-1", &first, &raw, "raw");
    assert_eq!(sha256_file(&raw), original);
    assert!(allocated_bytes(&raw) <= 10 * MIB, "holes were written out");

    // A qcow2 export passes qemu-img's check and equals the raw export.
    let qcow = work.path().join("restored.qcow2");
    export(target, "pvc-disk-1", &first, &qcow, "qcow2");
    qcow2_checks_and_equals(&qcow, &raw);

    // An export never overwrites a file unless asked to.
    let err = fails(export_command(target, "pvc-disk-1", &first, &raw, &[]));
    assert!(err.contains("restored.img"), "{err}");

    // The disk changes: one block gets new data, and a region that held
    // data becomes zeros. The next backup is incremental and uploads only
    // the changed block.
    write_extents(
        &disk,
        &[
            (MIB + 17, 3000, Fill::Random(4)),
            (10 * MIB + 100, MIB as usize, Fill::Zeros),
        ],
    );
    let changed = sha256_file(&disk);
    let (second, out) = import(
        target,
        "pvc-disk-1",
        &disk,
        &["--backup", "backup-after-change"],
    );
    assert_eq!(second, "backup-after-change");
    assert!(out.contains("incremental backup"), "{out}");
    assert!(out.contains(" 1 uploaded"), "{out}");

    // Both backups restore exactly what the disk held at their time.
    let raw2 = work.path().join("restored-2.img");
    export(target, "pvc-disk-1", &second, &raw2, "raw");
    assert_eq!(sha256_file(&raw2), changed);
    let again = work.path().join("restored-again.img");
    export(target, "pvc-disk-1", &first, &again, "raw");
    assert_eq!(sha256_file(&again), original);

    // Without the final flush (`--no-sync`, as fast as `cp`), the images
    // are the same, in both formats.
    let unsynced = work.path().join("restored-unsynced.img");
    let unsynced_qcow = work.path().join("restored-unsynced.qcow2");
    for (to, format) in [(&unsynced, "raw"), (&unsynced_qcow, "qcow2")] {
        ok(export_command(
            target,
            "pvc-disk-1",
            &second,
            to,
            &["--format", format, "--no-sync"],
        ));
    }
    assert_eq!(sha256_file(&unsynced), changed);
    qcow2_checks_and_equals(&unsynced_qcow, &unsynced);

    let listing = json(&ok(vmbackup_target(&[
        "ls", "--target", target, "--output", "json",
    ])));
    let mut names: Vec<&str> = listing["volumes"][0]["backups"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    names.sort_unstable();
    let mut expected = [first.as_str(), "backup-after-change"];
    expected.sort_unstable();
    assert_eq!(names, expected);

    // Verifying one backup reads only its blocks.
    let one = json(&ok(vmbackup_target(&[
        "verify",
        "--target",
        target,
        "--volume",
        "pvc-disk-1",
        "--backup",
        "backup-after-change",
        "--output",
        "json",
    ])));
    assert_eq!(one[0]["ok"], true);
    assert_eq!(one[0]["backupsChecked"][0], "backup-after-change");
    assert_eq!(one[0]["blocksChecked"], 4);
}

#[test]
fn every_compression_round_trips() {
    let work = tempfile::tempdir().unwrap();
    let target = work.path().join("target");
    std::fs::create_dir(&target).unwrap();
    let target = target.to_str().unwrap();
    let disk = work.path().join("disk.img");
    make_image(
        &disk,
        5 * MIB + 3,
        &[
            (0, 300_000, Fill::Random(9)),
            (2 * MIB, MIB as usize, Fill::Byte(0x5a)),
            (5 * MIB, 3, Fill::Byte(1)),
        ],
    );
    let sum = sha256_file(&disk);
    for method in ["lz4", "gzip", "none"] {
        let volume = format!("vol-{method}");
        let (backup, _) = import(target, &volume, &disk, &["--compression", method]);
        let details = json(&ok(vmbackup_target(&[
            "show", "--target", target, "--volume", &volume, "--backup", &backup, "--output",
            "json",
        ])));
        assert_eq!(details["compression"], method);
        let out = work.path().join(format!("{method}.img"));
        export(target, &volume, &backup, &out, "raw");
        assert_eq!(sha256_file(&out), sum, "{method}");
    }
    let report = ok(vmbackup_target(&["verify", "--target", target]));
    assert_eq!(report.matches(": OK (").count(), 3, "{report}");
}

#[test]
fn piped_output_has_no_progress_noise() {
    let work = tempfile::tempdir().unwrap();
    let target = work.path().join("target");
    std::fs::create_dir(&target).unwrap();
    let target = target.to_str().unwrap();
    let disk = work.path().join("disk.img");
    make_image(&disk, 4 * MIB, &[(0, MIB as usize, Fill::Random(5))]);
    let o = vmbackup_target(&[
        "import",
        "--target",
        target,
        "--volume",
        "quiet",
        "--from",
        disk.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert_eq!(stderr(&o), "", "stderr is not a terminal: no progress");
    let backup = last_line(&stdout(&o));
    let out = work.path().join("out.img");
    let o = vmbackup_target(&[
        "export",
        "--target",
        target,
        "--volume",
        "quiet",
        "--backup",
        &backup,
        "--to",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success());
    assert_eq!(stderr(&o), "");
    let o = vmbackup_target(&["verify", "--target", target]);
    assert!(o.status.success());
    assert_eq!(stderr(&o), "");
}

#[test]
fn a_second_import_takes_unchanged_checksums_from_the_fingerprint_cache() {
    let work = tempfile::tempdir().unwrap();
    let target = work.path().join("target");
    std::fs::create_dir(&target).unwrap();
    let target = target.to_str().unwrap();
    let cache = work.path().join("cache");
    let disk = work.path().join("disk.img");
    make_image(&disk, 8 * MIB, &[(0, 4 * MIB as usize, Fill::Random(31))]);
    let import = |extra: &[&str]| {
        let mut args = vec![
            "import",
            "--target",
            target,
            "--volume",
            "cached",
            "--from",
            disk.to_str().unwrap(),
            "--block-size",
            "1Mi",
        ];
        args.extend(extra);
        ok(vmbackup_target(&args))
    };
    let dir = cache.to_str().unwrap();
    let first = import(&["--cache-dir", dir]);
    assert!(
        first.contains("0 checksums from the fingerprint cache"),
        "{first}"
    );
    write_extents(&disk, &[(MIB + 1, 7, Fill::Random(32))]);
    let second = import(&["--cache-dir", dir]);
    assert!(
        second.contains("1 uploaded") && second.contains("3 checksums from the fingerprint cache"),
        "{second}"
    );
    let third = import(&["--no-cache"]);
    assert!(
        third.contains("0 checksums from the fingerprint cache"),
        "{third}"
    );
    let out = work.path().join("out.img");
    export(target, "cached", &last_line(&second), &out, "raw");
    assert_eq!(sha256_file(&out), sha256_file(&disk));
    let o = vmbackup_target(&["import", "--cache-dir", dir, "--no-cache"]);
    assert!(!o.status.success());
}

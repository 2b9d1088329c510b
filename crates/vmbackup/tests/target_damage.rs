//! A damaged or unusable backup target, end to end: `verify` names every bad
//! block with its backup, offset and file and exits 1; exports of damaged
//! backups fail without leaving a file behind; bad URLs, names, files and
//! credentials give clear errors, never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod target_common;

use serde_json::Value;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use target_common::*;

const MIB: u64 = 1 << 20;

/// A target with one backup of a 6 MiB disk (blocks at 0, 2 and 4 MiB).
fn target_with_backup(work: &Path) -> (String, String) {
    let target = work.join("target");
    std::fs::create_dir(&target).unwrap();
    let disk = work.join("disk.img");
    make_image(
        &disk,
        6 * MIB,
        &[
            (0, MIB as usize, Fill::Random(1)),
            (2 * MIB, MIB as usize, Fill::Random(2)),
            (4 * MIB, 5000, Fill::Random(3)),
        ],
    );
    let target = target.to_str().unwrap().to_owned();
    let out = ok(vmbackup_target(&[
        "import",
        "--target",
        &target,
        "--volume",
        "pvc-damaged",
        "--from",
        disk.to_str().unwrap(),
    ]));
    (target, last_line(&out))
}

/// The file of a backup's config.
fn backup_cfg(target: &str, backup: &str) -> PathBuf {
    let rel = files_below(Path::new(target))
        .into_iter()
        .find(|f| f.ends_with(&format!("backup_{backup}.cfg")))
        .unwrap();
    Path::new(target).join(rel)
}

/// The backup config on disk, and the block file (relative to the target)
/// used at each offset.
fn blocks_by_offset(target: &str, backup: &str) -> Vec<(u64, String)> {
    let cfg: Value =
        serde_json::from_slice(&std::fs::read(backup_cfg(target, backup)).unwrap()).unwrap();
    let blocks = files_below(Path::new(target));
    cfg["Blocks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let sum = b["BlockChecksum"].as_str().unwrap();
            let file = blocks
                .iter()
                .find(|f| f.ends_with(&format!("{sum}.blk")))
                .unwrap()
                .clone();
            (b["Offset"].as_u64().unwrap(), file)
        })
        .collect()
}

#[test]
fn verify_reports_each_bad_block_and_exits_1() {
    let work = tempfile::tempdir().unwrap();
    let (target, backup) = target_with_backup(work.path());
    let blocks = blocks_by_offset(&target, &backup);
    assert_eq!(blocks.len(), 3);
    let (flipped_at, flipped) = blocks[1].clone();
    let (missing_at, missing) = blocks[2].clone();

    // Bit rot in one block file, another block file lost.
    let path = PathBuf::from(&target).join(&flipped);
    let mut bytes = std::fs::read(&path).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&path, bytes).unwrap();
    std::fs::remove_file(PathBuf::from(&target).join(&missing)).unwrap();

    let o = vmbackup_target(&["verify", "--target", &target]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    let report = stdout(&o);
    assert!(report.contains("volume pvc-damaged: DAMAGED"), "{report}");
    for (offset, file) in [(flipped_at, &flipped), (missing_at, &missing)] {
        let line = report
            .lines()
            .find(|l| l.contains(&format!("offset {offset} ")))
            .unwrap_or_else(|| panic!("offset {offset} not reported:\n{report}"));
        assert!(line.contains(&format!("backup {backup}")), "{line}");
        assert!(line.contains(&format!("file {file}")), "{line}");
    }
    // The intact block is not reported.
    assert!(
        !report.contains(&format!("offset {} ", blocks[0].0)),
        "{report}"
    );

    let o = vmbackup_target(&[
        "verify",
        "--target",
        &target,
        "--volume",
        "pvc-damaged",
        "--output",
        "json",
    ]);
    assert_eq!(o.status.code(), Some(1));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let bad = v[0]["badBlocks"].as_array().unwrap();
    assert_eq!(bad.len(), 2);
    assert_eq!(bad[0]["backup"], backup.as_str());
    assert_eq!(bad[0]["offset"], flipped_at.min(missing_at));
    assert!(bad.iter().any(|b| b["file"] == flipped.as_str()
        && b["error"].as_str().unwrap().contains("checksum")
        || b["file"] == flipped.as_str()
            && b["error"].as_str().unwrap().contains("damaged block")));
    assert!(
        bad.iter().any(|b| b["file"] == missing.as_str()
            && b["error"].as_str().unwrap().contains("cannot find"))
    );

    // Exporting the damaged backup fails, naming the block, and leaves no
    // file behind.
    for format in ["raw", "qcow2"] {
        let dest = work.path().join(format!("out.{format}"));
        let err = fails(vmbackup_target(&[
            "export",
            "--target",
            &target,
            "--volume",
            "pvc-damaged",
            "--backup",
            &backup,
            "--to",
            dest.to_str().unwrap(),
            "--format",
            format,
        ]));
        assert!(err.contains(".blk"), "{err}");
        assert!(!dest.exists());
    }
    let leftovers: Vec<_> = std::fs::read_dir(work.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("partial"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_broken_backup_config_is_damage_too() {
    let work = tempfile::tempdir().unwrap();
    let (target, backup) = target_with_backup(work.path());
    let cfg = files_below(Path::new(&target))
        .into_iter()
        .find(|f| f.ends_with(".cfg") && f.contains("/backups/"))
        .unwrap();
    std::fs::write(Path::new(&target).join(&cfg), b"{\"Name\": ").unwrap();
    let o = vmbackup_target(&["verify", "--target", &target]);
    assert_eq!(o.status.code(), Some(1));
    let report = stdout(&o);
    assert!(report.contains(&format!("bad backup {backup}")), "{report}");
    assert!(report.contains(&cfg), "the config file is named:\n{report}");

    // `ls` still lists it, as unreadable.
    let table = ok(vmbackup_target(&["ls", "--target", &target]));
    assert!(table.contains("unreadable"), "{table}");
    // `show` fails naming the file.
    let err = fails(vmbackup_target(&[
        "show",
        "--target",
        &target,
        "--volume",
        "pvc-damaged",
        "--backup",
        &backup,
    ]));
    assert!(err.contains(&cfg), "{err}");
}

#[test]
fn unusable_targets_and_arguments_give_clear_errors() {
    let work = tempfile::tempdir().unwrap();
    let (target, backup) = target_with_backup(work.path());
    let missing_dir = work.path().join("nowhere");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (
            vec!["ls".into(), "--target".into(), "gs://bucket/path".into()],
            "scheme \"gs\" is not supported",
        ),
        (
            vec![
                "ls".into(),
                "--target".into(),
                missing_dir.display().to_string(),
            ],
            "nowhere",
        ),
        (
            vec![
                "ls".into(),
                "--target".into(),
                "nfs://server:/export".into(),
            ],
            "with --mount-point DIR",
        ),
        (
            vec![
                "ls".into(),
                "--target".into(),
                target.clone(),
                "--mount-point".into(),
                "/mnt".into(),
            ],
            "--mount-point applies to nfs:// and cifs://",
        ),
        (
            vec![
                "ls".into(),
                "--target".into(),
                "s3://bucket@us-east-1".into(),
            ],
            "missing path",
        ),
        (
            vec![
                "ls".into(),
                "--target".into(),
                "s3://bucket@us-east-1/".into(),
                "--credentials".into(),
                missing_dir.join("secret.yaml").display().to_string(),
            ],
            "secret.yaml",
        ),
        (
            vec![
                "export".into(),
                "--target".into(),
                target.clone(),
                "--volume".into(),
                "pvc-damaged".into(),
                "--backup".into(),
                backup.clone(),
                "--to".into(),
                "-".into(),
            ],
            "standard output is not supported",
        ),
        (
            vec![
                "show".into(),
                "--target".into(),
                target.clone(),
                "--volume".into(),
                "../../etc".into(),
                "--backup".into(),
                backup.clone(),
            ],
            "invalid volume name",
        ),
        (
            vec![
                "show".into(),
                "--target".into(),
                target.clone(),
                "--volume".into(),
                "pvc-damaged".into(),
                "--backup".into(),
                "backup-nope".into(),
            ],
            "backup backup-nope of volume pvc-damaged does not exist",
        ),
        (
            vec![
                "export".into(),
                "--target".into(),
                target.clone(),
                "--volume".into(),
                "pvc-other".into(),
                "--backup".into(),
                backup.clone(),
                "--to".into(),
                work.path().join("x.img").display().to_string(),
            ],
            "volume pvc-other does not exist",
        ),
        (
            vec![
                "import".into(),
                "--target".into(),
                target.clone(),
                "--volume".into(),
                "pvc-damaged".into(),
                "--from".into(),
                work.path().join("no-such.img").display().to_string(),
            ],
            "no-such.img",
        ),
    ];
    for (args, expected) in cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let err = fails(vmbackup_target(&args));
        assert!(
            err.contains(expected),
            "{args:?}: expected {expected:?} in:\n{err}"
        );
    }
    // A control character in a target is shown escaped, never as it is.
    let odd = work.path().join("no\nsuch\u{1b}[31m");
    let err = fails(vmbackup_target(&["ls", "--target", odd.to_str().unwrap()]));
    assert!(
        err.trim_end().lines().count() == 1 && !err.contains('\u{1b}'),
        "{err:?}"
    );

    // A malformed credentials file is named with the field at fault.
    let secret = work.path().join("secret.yaml");
    std::fs::write(&secret, "kind: Secret\ndata:\n  AWS_ACCESS_KEY_ID: '***'\n").unwrap();
    let err = fails(vmbackup_target(&[
        "ls",
        "--target",
        "s3://bucket@us-east-1/",
        "--credentials",
        secret.to_str().unwrap(),
    ]));
    assert!(
        err.contains("secret.yaml") && err.contains("data.AWS_ACCESS_KEY_ID"),
        "{err}"
    );

    // Usage errors are clap's: exit 2.
    let o = vmbackup_target(&["verify", "--target", &target, "--backup", &backup]);
    assert_eq!(o.status.code(), Some(2), "--backup needs --volume");

    // Nothing was created by the failed commands.
    assert!(!work.path().join("x.img").exists());
}

/// Imports a small disk as a backup of `volume` on `target`.
fn import_volume(work: &Path, target: &str, volume: &str) {
    let disk = work.join(format!("{volume}.img"));
    make_image(&disk, 2 * MIB, &[(0, 4096, Fill::Random(7))]);
    ok(vmbackup_target(&[
        "import",
        "--target",
        target,
        "--volume",
        volume,
        "--from",
        disk.to_str().unwrap(),
    ]));
}

#[test]
fn one_damaged_volume_does_not_hide_the_others_from_ls() {
    let work = tempfile::tempdir().unwrap();
    let (target, _) = target_with_backup(work.path());
    for v in ["pvc-garbage", "pvc-link", "pvc-huge", "pvc-filebackups"] {
        import_volume(work.path(), &target, v);
    }
    let root = Path::new(&target);
    let file_of = |volume: &str, name: &str| {
        root.join(
            files_below(root)
                .into_iter()
                .find(|f| f.ends_with(&format!("/{volume}/{name}")))
                .unwrap(),
        )
    };
    std::fs::write(file_of("pvc-garbage", "volume.cfg"), b"not json at all").unwrap();
    let link = file_of("pvc-link", "volume.cfg");
    std::fs::remove_file(&link).unwrap();
    std::os::unix::fs::symlink("/etc/passwd", &link).unwrap();
    let huge = file_of("pvc-huge", "volume.cfg");
    let text = std::fs::read_to_string(&huge).unwrap();
    let cfg: Value = serde_json::from_str(&text).unwrap();
    let size = cfg["Size"].as_str().unwrap().to_owned();
    std::fs::write(
        &huge,
        text.replace(&format!("\"{size}\""), "\"99999999999999999999999\""),
    )
    .unwrap();
    let backups = file_of("pvc-filebackups", "volume.cfg")
        .parent()
        .unwrap()
        .join("backups");
    std::fs::remove_dir_all(&backups).unwrap();
    std::fs::write(&backups, b"").unwrap();

    let table = ok(vmbackup_target(&["ls", "--target", &target]));
    for v in ["pvc-garbage", "pvc-link", "pvc-huge", "pvc-filebackups"] {
        let line = table.lines().find(|l| l.contains(v)).unwrap_or_else(|| {
            panic!("{v} missing:\n{table}");
        });
        assert!(line.contains("damaged"), "{v}:\n{table}");
    }
    assert!(
        table
            .lines()
            .any(|l| l.contains("pvc-damaged") && l.contains("complete")),
        "{table}"
    );

    let json: Value = serde_json::from_str(&ok(vmbackup_target(&[
        "ls", "--target", &target, "--output", "json",
    ])))
    .unwrap();
    let volumes = json["volumes"].as_array().unwrap();
    assert_eq!(volumes.len(), 5, "{json}");
    for v in volumes {
        let name = v["name"].as_str().unwrap();
        if name == "pvc-damaged" {
            assert!(v["error"].is_null(), "{v}");
            assert_eq!(v["backups"][0]["state"], "complete", "{v}");
        } else {
            assert!(v["error"].is_string(), "{v}");
            // What an export would refuse is not called complete: without
            // a usable volume.cfg, no backup of the volume can be exported.
            for b in v["backups"].as_array().unwrap() {
                assert_eq!(b["state"], "unreadable", "{v}");
                assert!(b["error"].as_str().unwrap().contains("volume.cfg"), "{v}");
            }
        }
    }
}

#[test]
fn verify_reports_backups_that_are_a_file_and_volumes_that_do_not_exist() {
    let work = tempfile::tempdir().unwrap();
    let (target, _) = target_with_backup(work.path());
    import_volume(work.path(), &target, "pvc-filebackups");
    let root = Path::new(&target);
    let cfg = files_below(root)
        .into_iter()
        .find(|f| f.ends_with("/pvc-filebackups/volume.cfg"))
        .unwrap();
    let backups = root.join(&cfg).parent().unwrap().join("backups");
    std::fs::remove_dir_all(&backups).unwrap();
    std::fs::write(&backups, b"").unwrap();

    let o = vmbackup_target(&["verify", "--target", &target]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    let report = stdout(&o);
    let line = report
        .lines()
        .find(|l| l.starts_with("volume pvc-filebackups"))
        .unwrap();
    assert!(line.contains("DAMAGED"), "{report}");
    assert!(report.contains("not a directory"), "{report}");
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("volume pvc-damaged") && l.contains("OK")),
        "{report}"
    );

    let err = fails(vmbackup_target(&[
        "verify", "--target", &target, "--volume", "nosuch",
    ]));
    assert!(err.contains("volume nosuch does not exist"), "{err}");
    assert!(!err.contains("DAMAGED"), "{err}");

    // A mistyped backup name is an error, not an empty "OK".
    let o = vmbackup_target(&[
        "verify",
        "--target",
        &target,
        "--volume",
        "pvc-damaged",
        "--backup",
        "backup-nosuch",
    ]);
    assert!(!stdout(&o).contains("OK"), "{}", stdout(&o));
    let err = fails(o);
    assert!(
        err.contains("backup backup-nosuch of volume pvc-damaged does not exist"),
        "{err}"
    );
}

/// `export` of the backup of `pvc-damaged` to `to`, with `--force` when
/// asked.
fn export_args<'a>(target: &'a str, backup: &'a str, to: &'a Path, force: bool) -> Vec<&'a str> {
    let mut args = vec![
        "export",
        "--target",
        target,
        "--volume",
        "pvc-damaged",
        "--backup",
        backup,
        "--to",
        to.to_str().unwrap(),
    ];
    if force {
        args.push("--force");
    }
    args
}

#[test]
fn export_never_replaces_a_device_fifo_or_unforced_symlink() {
    let work = tempfile::tempdir().unwrap();
    let (target, backup) = target_with_backup(work.path());
    let export =
        |to: &Path, force: bool| vmbackup_target(&export_args(&target, &backup, to, force));
    let dangling = work.path().join("dangling.raw");
    std::os::unix::fs::symlink(work.path().join("nowhere"), &dangling).unwrap();
    let err = fails(export(&dangling, false));
    assert!(err.contains("--force"), "{err}");
    assert!(
        std::fs::symlink_metadata(&dangling)
            .unwrap()
            .file_type()
            .is_symlink()
    );

    let fifo = work.path().join("fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let err = fails(export(&fifo, true));
    assert!(err.contains("FIFO"), "{err}");
    let err = fails(export(Path::new("/dev/null"), true));
    assert!(err.contains("character device"), "{err}");
    assert!(!std::fs::metadata("/dev/null").unwrap().is_file());

    // With --force a symlink is replaced by the image itself.
    let link = work.path().join("link.raw");
    std::os::unix::fs::symlink("/dev/null", &link).unwrap();
    ok(export(&link, true));
    let meta = std::fs::symlink_metadata(&link).unwrap();
    assert!(meta.is_file() && meta.len() == 6 * MIB);
}

#[test]
fn export_never_writes_into_the_target_it_reads() {
    let work = tempfile::tempdir().unwrap();
    let (target, backup) = target_with_backup(work.path());
    let before = files_below(Path::new(&target));
    let (_, block) = blocks_by_offset(&target, &backup).remove(0);
    let block = Path::new(&target).join(block);
    // A block of the backup itself (even with --force), a new file in the
    // target's root, and the root reached through a link beside it.
    let link = work.path().join("link-to-target");
    std::os::unix::fs::symlink(&target, &link).unwrap();
    for (to, force) in [
        (block.clone(), true),
        (Path::new(&target).join("disk.raw"), false),
        (link.join("disk.raw"), false),
    ] {
        let err = fails(vmbackup_target(&export_args(&target, &backup, &to, force)));
        assert!(
            err.contains("inside the backup target") && err.contains(to.to_str().unwrap()),
            "{err}"
        );
    }
    assert_eq!(
        files_below(Path::new(&target)),
        before,
        "the target changed"
    );
    ok(vmbackup_target(&["verify", "--target", &target]));
}

#[test]
fn verify_of_one_backup_that_is_not_complete_says_so_and_fails() {
    let work = tempfile::tempdir().unwrap();
    let (target, backup) = target_with_backup(work.path());
    // What an import stopped before its commit leaves: a config with the
    // names and no CreatedTime.
    let cfg = backup_cfg(&target, &backup);
    let placeholder = cfg.with_file_name("backup_backup-stopped.cfg");
    let mut json: Value = serde_json::from_slice(&std::fs::read(&cfg).unwrap()).unwrap();
    json["Name"] = "backup-stopped".into();
    json["CreatedTime"] = "".into();
    json["Blocks"] = Value::Array(Vec::new());
    std::fs::write(&placeholder, serde_json::to_vec(&json).unwrap()).unwrap();

    let err = fails(vmbackup_target(&[
        "verify",
        "--target",
        &target,
        "--volume",
        "pvc-damaged",
        "--backup",
        "backup-stopped",
    ]));
    assert!(
        err.contains("backup-stopped") && err.contains("not complete"),
        "{err}"
    );
    // Over the whole volume, a backup in progress is no damage.
    let out = ok(vmbackup_target(&["verify", "--target", &target]));
    assert!(
        out.contains("in progress, not checked: backup-stopped"),
        "{out}"
    );
}

#[test]
fn a_folder_where_a_config_should_be_is_damage_and_says_so() {
    let work = tempfile::tempdir().unwrap();
    let (target, backup) = target_with_backup(work.path());
    let cfg = backup_cfg(&target, &backup);
    std::fs::remove_file(&cfg).unwrap();
    std::fs::create_dir(&cfg).unwrap();

    let listing: Value = serde_json::from_str(&ok(vmbackup_target(&[
        "ls", "--target", &target, "--output", "json",
    ])))
    .unwrap();
    let entry = &listing["volumes"][0]["backups"][0];
    assert_eq!(entry["name"], backup.as_str(), "{listing}");
    assert_eq!(entry["state"], "unreadable", "{listing}");
    assert!(
        entry["error"]
            .as_str()
            .unwrap()
            .contains("is a directory, not a file"),
        "{listing}"
    );
    let o = vmbackup_target(&["verify", "--target", &target]);
    assert_eq!(o.status.code(), Some(1), "{}", stdout(&o));
    assert!(stdout(&o).contains("is a directory"), "{}", stdout(&o));
    for command in ["show", "export"] {
        let to = work.path().join("out.raw");
        let mut args = vec![
            command,
            "--target",
            &target,
            "--volume",
            "pvc-damaged",
            "--backup",
            &backup,
        ];
        if command == "export" {
            args.extend(["--to", to.to_str().unwrap()]);
        }
        let err = fails(vmbackup_target(&args));
        assert!(
            err.contains("is a directory, not a file"),
            "{command}: {err}"
        );
    }

    // The same for volume.cfg.
    let volume_cfg = cfg.parent().unwrap().parent().unwrap().join("volume.cfg");
    std::fs::remove_file(&volume_cfg).unwrap();
    std::fs::create_dir(&volume_cfg).unwrap();
    let table = ok(vmbackup_target(&["ls", "--target", &target]));
    assert!(
        table.contains("damaged") && table.contains("volume.cfg is a directory"),
        "{table}"
    );
}

#[test]
fn every_command_names_a_missing_volume_or_backup_the_same_way() {
    let work = tempfile::tempdir().unwrap();
    let (target, backup) = target_with_backup(work.path());
    let to = work.path().join("out.raw");
    let to = to.to_str().unwrap();
    for (volume, name, expected) in [
        (
            "nosuch",
            backup.as_str(),
            "volume nosuch does not exist on the target",
        ),
        (
            "pvc-damaged",
            "backup-nosuch",
            "backup backup-nosuch of volume pvc-damaged does not exist on the target",
        ),
    ] {
        let base = ["--target", &target, "--volume", volume, "--backup", name];
        for mut args in [
            vec!["show"],
            vec!["verify"],
            vec!["export", "--to", to],
            vec!["export", "--to", to, "--format", "qcow2"],
        ] {
            args.extend(base);
            let err = fails(vmbackup_target(&args));
            assert!(err.contains(expected), "{args:?}: {err}");
        }
    }
    assert!(!Path::new(to).exists());
}

#[test]
fn a_backup_whose_volume_cfg_is_lost_exports_with_the_size_given() {
    let work = tempfile::tempdir().unwrap();
    let (target, backup) = target_with_backup(work.path());
    let root = Path::new(&target);
    let volume_cfg = files_below(root)
        .into_iter()
        .find(|f| f.ends_with("/pvc-damaged/volume.cfg"))
        .unwrap();
    std::fs::remove_file(root.join(volume_cfg)).unwrap();
    let disk = work.path().join("disk.img");
    let to = work.path().join("out.raw");
    let export = |extra: &[&str]| {
        let mut args = export_args(&target, &backup, &to, false);
        args.extend(extra);
        vmbackup_target(&args)
    };

    let err = fails(export(&[]));
    assert!(
        err.contains("volume.cfg") && err.contains("--volume-size"),
        "{err}"
    );
    assert!(!to.exists());
    // Smaller than the blocks the backup holds: refused, naming the field.
    let err = fails(export(&["--volume-size", "4Mi"]));
    assert!(err.contains("lies beyond the volume size"), "{err}");
    ok(export(&["--volume-size", "6Mi"]));
    assert_eq!(sha256_file(&to), sha256_file(&disk));
    if qemu_img_available() {
        let qcow2 = work.path().join("out.qcow2");
        let size = (6 * MIB).to_string();
        let mut args = export_args(&target, &backup, &qcow2, false);
        args.extend(["--format", "qcow2", "--volume-size", &size]);
        ok(vmbackup_target(&args));
        qemu_img(&[
            "compare",
            "-q",
            qcow2.to_str().unwrap(),
            to.to_str().unwrap(),
        ]);
    }
}

#[test]
fn ls_of_a_folder_that_is_not_a_target_says_what_it_may_be() {
    let work = tempfile::tempdir().unwrap();
    let (target, _) = target_with_backup(work.path());
    let inner = Path::new(&target).join("backupstore");
    let out = ok(vmbackup_target(&[
        "ls",
        "--target",
        inner.to_str().unwrap(),
    ]));
    assert!(
        out.contains("No backup volumes.") && out.contains("holds volumes/ at its top"),
        "{out}"
    );
    let empty = work.path().join("empty");
    std::fs::create_dir(&empty).unwrap();
    let out = ok(vmbackup_target(&[
        "ls",
        "--target",
        empty.to_str().unwrap(),
    ]));
    assert!(out.contains("the target is empty"), "{out}");
    // A real target gets no hint.
    let json: Value = serde_json::from_str(&ok(vmbackup_target(&[
        "ls", "--target", &target, "--output", "json",
    ])))
    .unwrap();
    assert!(json.get("hint").is_none(), "{json}");
}

#[test]
fn import_refuses_what_is_not_a_disk_image_without_hanging() {
    let work = tempfile::tempdir().unwrap();
    let target = work.path().join("target");
    std::fs::create_dir(&target).unwrap();
    let fifo = work.path().join("fifo");
    assert!(
        std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap()
            .success()
    );
    let empty = work.path().join("empty.raw");
    std::fs::write(&empty, b"").unwrap();
    for (from, why) in [
        (fifo.as_path(), "FIFO"),
        (Path::new("/dev/zero"), "character device"),
        (Path::new("/dev/null"), "character device"),
        (empty.as_path(), "empty"),
    ] {
        let err = fails(vmbackup_target(&[
            "import",
            "--target",
            target.to_str().unwrap(),
            "--volume",
            "pvc-x",
            "--from",
            from.to_str().unwrap(),
        ]));
        assert!(
            err.contains(why) && err.contains(from.to_str().unwrap()),
            "{err}"
        );
    }
    assert!(
        files_below(&target).is_empty(),
        "{:?}",
        files_below(&target)
    );
}

#[test]
fn ls_reports_folders_it_skips() {
    let work = tempfile::tempdir().unwrap();
    let (target, _) = target_with_backup(work.path());
    // A folder under harvester/vmbackups whose name cannot be a namespace
    // (another tool's, or a typo) is not read, and `ls` says so.
    let stray = Path::new(&target).join("harvester/vmbackups/Old_Backups");
    std::fs::create_dir_all(&stray).unwrap();
    std::fs::write(stray.join("vm1-b1.cfg"), b"{}").unwrap();
    let out = ok(vmbackup_target(&[
        "ls", "--target", &target, "--output", "json",
    ]));
    let listing: Value = serde_json::from_str(&out).unwrap();
    let ignored = listing["ignored"].as_array().unwrap();
    assert!(
        ignored
            .iter()
            .any(|i| i["path"] == "harvester/vmbackups/Old_Backups"
                && i["reason"]
                    .as_str()
                    .unwrap()
                    .contains("not a namespace folder")),
        "{out}"
    );
    assert!(listing["vmBackups"].as_array().unwrap().is_empty(), "{out}");
}

#[test]
fn ls_does_not_call_a_backup_complete_that_export_refuses() {
    let work = tempfile::tempdir().unwrap();
    let (target, backup) = target_with_backup(work.path());
    let cfg_path = backup_cfg(&target, &backup);
    let mut cfg: Value = serde_json::from_slice(&std::fs::read(&cfg_path).unwrap()).unwrap();
    cfg["Labels"]["vmbackup.io/image-size"] = Value::from("abc");
    std::fs::write(&cfg_path, serde_json::to_vec(&cfg).unwrap()).unwrap();

    let out = ok(vmbackup_target(&[
        "ls", "--target", &target, "--output", "json",
    ]));
    let listing: Value = serde_json::from_str(&out).unwrap();
    let b = &listing["volumes"][0]["backups"][0];
    assert_eq!(b["state"], "unreadable", "{out}");
    assert_eq!(b["complete"], false, "{out}");
    assert!(
        b["error"].as_str().unwrap().contains("is not a byte count"),
        "{out}"
    );
}

/// A Harvester metadata file for `default/vm1-b1` whose one volume backup
/// is `volume_backup`.
fn write_metadata(target: &str, volume_backup: Value) {
    let dir = Path::new(target).join("harvester/vmbackups/default");
    std::fs::create_dir_all(&dir).unwrap();
    let doc = serde_json::json!({"name": "vm1-b1", "namespace": "default",
        "backupSpec": {"source": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": "vm1"}},
        "volumeBackups": [volume_backup]});
    std::fs::write(dir.join("vm1-b1.cfg"), serde_json::to_vec(&doc).unwrap()).unwrap();
}

#[test]
fn ls_reports_metadata_whose_volume_backups_are_not_what_harvester_writes() {
    let work = tempfile::tempdir().unwrap();
    let (target, backup) = target_with_backup(work.path());
    let good = serde_json::json!({"name": "vb", "volumeName": "disk-0",
        "persistentVolumeClaim": {"metadata": {"name": "p"}, "spec": {"volumeName": "pvc-damaged"}},
        "longhornBackupName": backup, "volumeSize": 6291456});
    let mut cases: Vec<(Value, &str)> = Vec::new();
    let mut v = good.clone();
    v["longhornBackupName"] = Value::from(7);
    cases.push((v, "volumeBackups[0].longhornBackupName: not a string"));
    let mut v = good.clone();
    v["persistentVolumeClaim"]["spec"]["volumeName"] = serde_json::json!(["a"]);
    cases.push((
        v,
        "volumeBackups[0].persistentVolumeClaim.spec.volumeName: not a string",
    ));
    let mut v = good.clone();
    v["longhornBackupName"] = Value::from("../../etc");
    cases.push((v, "is not a Longhorn name"));
    cases.push((Value::from("x"), "volumeBackups[0]: not an object"));
    let mut v = good.clone();
    v["persistentVolumeClaim"] = Value::from("x");
    cases.push((v, "volumeBackups[0].persistentVolumeClaim: not an object"));
    let mut v = good.clone();
    v["readyToUse"] = Value::from("yes");
    cases.push((v, "volumeBackups[0].readyToUse: not true or false"));
    let mut v = good.clone();
    v["progress"] = Value::from("x");
    cases.push((v, "volumeBackups[0].progress: not an integer"));
    let mut v = good.clone();
    v["csiDriverName"] = Value::from(1);
    cases.push((v, "volumeBackups[0].csiDriverName: not a string"));
    for (vb, says) in cases {
        write_metadata(&target, vb);
        let out = ok(vmbackup_target(&[
            "ls", "--target", &target, "--output", "json",
        ]));
        let listing: Value = serde_json::from_str(&out).unwrap();
        let entry = &listing["vmBackups"][0];
        assert!(
            entry["error"].as_str().is_some_and(|e| e.contains(says)),
            "{says}: {out}"
        );
    }
    // The well-formed file reads, and its backup is on the target.
    write_metadata(&target, good.clone());
    let out = ok(vmbackup_target(&[
        "ls", "--target", &target, "--output", "json",
    ]));
    let listing: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listing["vmBackups"][0]["error"], Value::Null, "{out}");
    assert_eq!(
        listing["vmBackups"][0]["volumes"][0]["onTarget"], "complete",
        "{out}"
    );

    // A metadata file that names no backup: what is on the target is unknown.
    let mut v = good.clone();
    v["longhornBackupName"] = Value::from("");
    write_metadata(&target, v);
    let out = ok(vmbackup_target(&[
        "ls", "--target", &target, "--output", "json",
    ]));
    let listing: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        listing["vmBackups"][0]["volumes"][0]["onTarget"], "unknown",
        "{out}"
    );

    // A volume whose backups cannot be listed: its backups are unreadable,
    // not missing.
    write_metadata(&target, good);
    let backups_dir = backup_cfg(&target, &backup).parent().unwrap().to_owned();
    std::fs::remove_dir_all(&backups_dir).unwrap();
    std::fs::write(&backups_dir, b"not a directory").unwrap();
    let out = ok(vmbackup_target(&[
        "ls", "--target", &target, "--output", "json",
    ]));
    let listing: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        listing["vmBackups"][0]["volumes"][0]["onTarget"], "unreadable",
        "{out}"
    );
}

#[test]
fn a_name_no_target_path_can_hold_hides_nothing_else() {
    let work = tempfile::tempdir().unwrap();
    let (target, backup) = target_with_backup(work.path());
    let root = Path::new(&target);
    // Another tool left entries whose names hold a control character, or
    // are not UTF-8, or links that lead nowhere: beside the volume, at
    // every level of the volume tree, and in the metadata folders.
    let volume_dir = std::fs::read_dir(root.join("backupstore/volumes"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.is_dir())
        .unwrap();
    let hash_dir = std::fs::read_dir(&volume_dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.join("pvc-damaged").is_dir())
        .unwrap();
    std::fs::create_dir_all(root.join("backupstore/volumes/bad\u{7f}top")).unwrap();
    std::fs::create_dir_all(volume_dir.join("b\u{1b}[31m")).unwrap();
    std::fs::create_dir_all(hash_dir.join("bad\u{7f}name")).unwrap();
    std::os::unix::fs::symlink(root.join("nowhere"), hash_dir.join("dangling")).unwrap();
    let backups = hash_dir.join("pvc-damaged/backups");
    std::fs::write(
        backups.join(std::ffi::OsStr::from_bytes(b"backup_\xff.cfg")),
        b"{}",
    )
    .unwrap();
    for folder in ["harvester/vmbackups", "harvester/vmbackups/default"] {
        let dir = root.join(folder);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("bad\u{7f}.cfg"), b"{}").unwrap();
    }

    let out = ok(vmbackup_target(&[
        "ls", "--target", &target, "--output", "json",
    ]));
    let listing: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(listing["volumes"][0]["name"], "pvc-damaged", "{out}");
    assert_eq!(listing["volumes"][0]["backups"][0]["name"], backup.as_str());
    assert_eq!(
        listing["volumes"][0]["backups"].as_array().unwrap().len(),
        1,
        "{out}"
    );
    let ignored = listing["ignored"].as_array().unwrap();
    let reasons: Vec<&str> = ignored
        .iter()
        .filter(|i| {
            let path = i["path"].as_str().unwrap();
            path.contains("\\u{") || path.contains('\u{fffd}') || path.ends_with("/dangling")
        })
        .map(|i| i["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons.len(), 7, "{out}");
    assert!(
        ignored.iter().all(|i| !i["reason"]
            .as_str()
            .unwrap()
            .starts_with("cannot be listed")),
        "nothing is left unlisted: {out}"
    );
    assert!(
        !out.contains('\u{7f}') && !out.contains('\u{1b}'),
        "a raw control character reached the output: {out}"
    );

    // verify checks the volume; the junk beside it is no backup's damage.
    let run = vmbackup_target(&["verify", "--target", &target, "--output", "json"]);
    assert_eq!(run.status.code(), Some(0), "{run:?}");
    let results: Value = serde_json::from_slice(&run.stdout).unwrap();
    assert!(
        results
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["volume"] == "pvc-damaged" && r["ok"] == true),
        "{results:?}"
    );
}

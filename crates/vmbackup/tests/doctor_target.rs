//! `vmbackup doctor --target`: the backup target is read too. Its backup
//! volumes are named after the Longhorn volumes (as `backup ls` and
//! `backup inspect` show them), so a ready backup is checked against the
//! backup of exactly that volume; a target that cannot be read is a finding,
//! not a crash.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_support;

use std::path::Path;
use std::time::Duration;

use cli_support::*;
use serde_json::Value;
use vmbackup_backupstore::{ImportOptions, NoProgress, Target, TargetOptions};

/// Writes a backup `backup` of `volume` to the target in `root` (a small
/// image, imported as Longhorn would store it).
fn put_backup(root: &Path, volume: &str, backup: &str) {
    let image = root.join(format!("{backup}.img"));
    std::fs::write(&image, vec![7u8; 64 * 1024]).unwrap();
    std::fs::create_dir_all(root.join("store")).unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let target = Target::open(
            root.join("store").to_str().unwrap(),
            &TargetOptions::default(),
        )
        .await
        .unwrap()
        .with_lock_settle(Duration::ZERO);
        let options = ImportOptions {
            backup_name: Some(backup.to_owned()),
            block_size: 4096,
            ..ImportOptions::default()
        };
        target
            .import_raw(volume, &image, &options, &NoProgress)
            .await
            .unwrap();
    });
}

/// A cluster with one ready VM backup of `volume` whose Longhorn backup is
/// `backup`, on the NFS target.
fn cluster(dir: &Path, volume: &str, backup: &str) {
    let vb_name = vb_name();
    write_yaml(
        dir,
        "cluster.yaml",
        &[
            setting_nfs(Some(0)),
            lh_target(true),
            storage_class("longhorn"),
            lh_backup(backup, volume),
            backup_volume(volume),
            ready_vmbackup(VMB, vec![vb(VMB, PVC, volume, Some(backup))]),
            owned_snapshot(VMB, &vb_name, &format!("{vb_name}-vsc")),
            content(
                &format!("{vb_name}-vsc"),
                &format!("bak://{volume}/{backup}"),
                "Delete",
                &vb_name,
            ),
        ],
    );
}

fn doctor_with_target(dir: &Path, mount: &Path) -> (i32, Value) {
    let r = run(
        [
            "doctor",
            "--output",
            "json",
            "--from",
            dir.join("cluster.yaml").to_str().unwrap(),
            "--target",
            NFS,
            "--mount-point",
            mount.to_str().unwrap(),
        ],
        None,
    );
    assert_ne!(r.code, 3, "{r:?}");
    (r.code, r.json())
}

#[test]
fn backup_volumes_on_the_target_are_the_longhorn_volumes_of_the_backups() {
    let cfgs: Value = serde_json::from_str(&fixture_text(
        "backupstore-ls-volume-only-two-volume-cfgs.json",
    ))
    .unwrap();
    let (volume, cfg) = cfgs.as_object().unwrap().iter().next().unwrap();
    let backup = cfg["LastBackupName"].as_str().unwrap();
    assert_eq!(
        (volume.as_str(), backup),
        (
            "pvc-004d8edb-3a8c-4596-a659-3d00122d3f07",
            "backup-c5f548b7e86b4b56"
        )
    );
    let d = tempfile::tempdir().unwrap();
    put_backup(d.path(), volume, backup);
    cluster(d.path(), volume, backup);
    let (code, report) = doctor_with_target(d.path(), &d.path().join("store"));
    assert_eq!(serious(&report), Vec::<Value>::new(), "{report:#}");
    assert_eq!(code, 0);
}

/// Findings that are warnings or errors.
fn serious(report: &Value) -> Vec<Value> {
    findings(report)
        .iter()
        .filter(|f| f["severity"] != "info")
        .cloned()
        .collect()
}

#[test]
fn a_ready_backup_whose_data_is_not_on_the_target_is_an_error() {
    let cfg: Value =
        serde_json::from_str(&fixture_text("backupstore-inspect-backup-cfg.json")).unwrap();
    let (volume, backup) = (
        cfg["VolumeName"].as_str().unwrap(),
        cfg["Name"].as_str().unwrap(),
    );
    assert_eq!(volume, "pvc-004d8edb-3a8c-4596-a659-3d00122d3f07");
    let d = tempfile::tempdir().unwrap();
    // The target holds another backup of the volume, not this one.
    put_backup(d.path(), volume, "backup-0000000000000001");
    cluster(d.path(), volume, backup);
    let (code, report) = doctor_with_target(d.path(), &d.path().join("store"));
    let missing = finding(&report, "backup-not-on-target");
    assert_eq!(missing["kind"], "VirtualMachineBackup");
    assert!(
        missing["message"].as_str().unwrap().contains(backup),
        "{missing:#}"
    );
    assert_eq!(code, 2);

    // Once the backup is there, nothing is wrong.
    put_backup(d.path(), volume, backup);
    let (code, report) = doctor_with_target(d.path(), &d.path().join("store"));
    assert_eq!(serious(&report), Vec::<Value>::new(), "{report:#}");
    assert_eq!(code, 0);
}

#[test]
fn an_unreadable_target_is_reported_as_unavailable() {
    let d = tempfile::tempdir().unwrap();
    cluster(d.path(), PV, LHB);
    let (code, report) = doctor_with_target(d.path(), &d.path().join("not-mounted"));
    let on_setting = findings(&report)
        .iter()
        .any(|f| f["code"] == "target-unavailable" && f["kind"] == "Setting");
    assert!(on_setting, "{report:#}");
    assert_eq!(code, 2);
}

#[test]
fn bad_target_options_are_input_errors() {
    let d = tempfile::tempdir().unwrap();
    cluster(d.path(), PV, LHB);
    let r = run(
        [
            "doctor",
            "--from",
            d.path().to_str().unwrap(),
            "--target",
            "s3://bucket@region/x",
            "--mount-point",
            "/mnt",
        ],
        None,
    );
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stderr
            .contains("--mount-point applies to nfs:// and cifs://"),
        "{}",
        r.stderr
    );
}

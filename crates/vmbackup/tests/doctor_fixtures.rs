//! `vmbackup doctor` on every real-world case: an operator saves what
//! `kubectl get -o yaml` printed in a bug report (or the log lines or target
//! listings it quoted, written back as the objects they describe) and gets
//! the diagnosis the case calls for, with the exit code that goes with it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_support;

use cli_support::*;
use serde_json::Value;
use tempfile::TempDir;

fn dir() -> TempDir {
    tempfile::tempdir().unwrap()
}

/// The VolumeSnapshotContent a cross-namespace restore used, with the
/// handle as the CSI log quotes it.
fn content_from_csi_log() -> (Value, String) {
    let log = fixture_text("csi-restore-legacy-bs-handle-cannot-find-backup-volume.log");
    let start = log
        .find("snapshot_id:\\\"")
        .expect("snapshot id in the log")
        + "snapshot_id:\\\"".len();
    let handle = log[start..].split("\\\"").next().unwrap().to_owned();
    assert_eq!(handle, "bs://os-vol/backup-be842e7288aa4318");
    (
        content("restore-new-ns-r1-vb", &handle, "Retain", "restore-r1-vb"),
        handle,
    )
}

#[test]
fn csi_log_restore_failure_is_a_legacy_handle_not_a_missing_backup() {
    let d = dir();
    let (vsc, _) = content_from_csi_log();
    // The log itself sits in the directory too: it is skipped, not an error.
    copy_fixture(
        d.path(),
        "csi-restore-legacy-bs-handle-cannot-find-backup-volume.log",
    );
    write_yaml(d.path(), "vsc.yaml", std::slice::from_ref(&vsc));
    let (code, report) = doctor(&[d.path()]);
    let legacy = finding(&report, "legacy-handle");
    assert!(
        legacy["fix"]
            .as_str()
            .unwrap()
            .contains("backup-be842e7288aa4318"),
        "{legacy:#}"
    );
    assert!(
        legacy["impact"].as_str().unwrap().contains("NotFound"),
        "{legacy:#}"
    );
    assert!(
        !legacy["fix"].as_str().unwrap().contains("pvc-ed6a0cb7"),
        "never guessed from the PV being created"
    );
    assert!(!codes(&report).contains(&"missing-longhorn-backup".to_owned()));
    assert_eq!(code, 1, "undetermined without the Backup CR: a warning");
    assert!(report["notes"].to_string().contains(".log"), "{report:#}");

    // With the Backup CR the handle is known to be wrong, and the fix exact.
    let pv = "pvc-0d6f0b77-5e54-4c9d-9f5a-3c1b2a4d5e6f";
    write_yaml(
        d.path(),
        "backups.yaml",
        &[lh_backup("backup-be842e7288aa4318", pv)],
    );
    let (code, report) = doctor(&[d.path()]);
    let legacy = finding(&report, "legacy-handle");
    assert_eq!(legacy["severity"], "error");
    assert_eq!(legacy["kind"], "VolumeSnapshotContent");
    assert_eq!(legacy["name"], "restore-new-ns-r1-vb");
    assert!(
        legacy["fix"]
            .as_str()
            .unwrap()
            .contains(&format!("bak://{pv}/backup-be842e7288aa4318")),
        "{legacy:#}"
    );
    assert_eq!(code, 2);
}

#[test]
fn upstream_bs_example_needs_its_backup_cr_rather_than_a_guess() {
    let d = dir();
    copy_fixture(
        d.path(),
        "vsc-static-bs-handle-longhorn-upstream-example.yaml",
    );
    let (code, report) = doctor(&[d.path()]);
    let legacy = finding(&report, "legacy-handle");
    assert_eq!(legacy["severity"], "warning");
    assert!(
        legacy["message"]
            .as_str()
            .unwrap()
            .contains("backup-625159fb469e492e")
    );
    assert!(
        legacy["fix"]
            .as_str()
            .unwrap()
            .contains("status.volumeName")
    );
    assert_eq!(code, 1);

    // The Backup CR says test-vol: only the prefix is old; nothing fails.
    write_yaml(
        d.path(),
        "backup.yaml",
        &[lh_backup("backup-625159fb469e492e", "test-vol")],
    );
    let (code, report) = doctor(&[d.path()]);
    assert!(
        !codes(&report).contains(&"legacy-handle".to_owned()),
        "{report:#}"
    );
    let deprecated = finding(&report, "deprecated-handle-prefix");
    assert_eq!(deprecated["severity"], "info");
    assert!(
        deprecated["fix"]
            .as_str()
            .unwrap()
            .contains("bak://test-vol/backup-625159fb469e492e")
    );
    assert_eq!(code, 0, "informational findings only");

    // It says another volume: the handle is wrong and the fix names it.
    write_yaml(
        d.path(),
        "backup.yaml",
        &[lh_backup("backup-625159fb469e492e", "pvc-aaaa")],
    );
    let (code, report) = doctor(&[d.path()]);
    let legacy = finding(&report, "legacy-handle");
    assert!(
        legacy["fix"]
            .as_str()
            .unwrap()
            .contains("bak://pvc-aaaa/backup-625159fb469e492e")
    );
    assert_eq!(code, 2);
}

#[test]
fn prebound_snapshot_is_fine_and_its_content_carries_the_finding() {
    let d = dir();
    copy_fixture(
        d.path(),
        "vs-static-prebound-longhorn-upstream-example.yaml",
    );
    copy_fixture(
        d.path(),
        "vsc-static-bs-handle-longhorn-upstream-example.yaml",
    );
    let (_, report) = doctor(&[d.path()]);
    assert!(
        !findings(&report)
            .iter()
            .any(|f| f["kind"] == "VolumeSnapshot"
                && HANDLE_CODES.contains(&f["code"].as_str().unwrap())),
        "{report:#}"
    );
    let legacy = finding(&report, "legacy-handle");
    assert_eq!(legacy["name"], "test-existing-backup");
    assert!(
        legacy["message"]
            .as_str()
            .unwrap()
            .contains("default/test-snapshot-existing-backup")
    );
}

#[test]
fn snapshot_type_class_needs_nothing() {
    let (code, report) = doctor(&[&fixture("vsclass-longhorn-snapshot-type-snap.yaml")]);
    assert_eq!(findings(&report).len(), 0, "{report:#}");
    assert_eq!(code, 0);
    assert_eq!(report["objects"]["VolumeSnapshotClass"], 1);
}

#[test]
fn backup_type_class_is_valid() {
    let (code, report) = doctor(&[&fixture("vsclass-longhorn-backup-type-bak.yaml")]);
    assert_eq!(findings(&report).len(), 0, "{report:#}");
    assert_eq!(code, 0);
}

#[test]
fn pre_release_class_types_are_reported_and_v1beta1_only_noted() {
    let (code, report) = doctor(&[&fixture("vsclass-set-v1beta1-pre-release-type-names.yaml")]);
    let of = |name: &str| -> Vec<String> {
        findings(&report)
            .iter()
            .filter(|f| f["name"] == name)
            .map(|f| f["code"].as_str().unwrap().to_owned())
            .collect()
    };
    assert_eq!(
        of("longhorn-backup-1"),
        ["deprecated-api-version"],
        "no type means backup"
    );
    assert!(of("longhorn-backup-2").contains(&"non-standard-snapshot-class-type".to_owned()));
    assert!(of("longhorn-snapshot").contains(&"non-standard-snapshot-class-type".to_owned()));
    assert!(of("invalid-class").contains(&"unknown-snapshot-class-type".to_owned()));
    assert!(
        findings(&report)
            .iter()
            .filter(|f| f["code"] == "deprecated-api-version")
            .all(|f| f["severity"] == "info")
    );
    assert_eq!(code, 1, "warnings, no errors");
    // Most severe first.
    let severities: Vec<&str> = findings(&report)
        .iter()
        .map(|f| f["severity"].as_str().unwrap())
        .collect();
    let rank = |s: &str| {
        ["error", "warning", "info"]
            .iter()
            .position(|x| *x == s)
            .unwrap()
    };
    assert!(
        severities.windows(2).all(|w| rank(w[0]) <= rank(w[1])),
        "{severities:?}"
    );
}

#[test]
fn vm_snapshot_content_with_snap_handle_is_not_flagged() {
    let (code, report) = doctor(&[&fixture("vsc-vm-snapshot-snap-handle-harvester-v160.yaml")]);
    assert_eq!(findings(&report).len(), 0, "{report:#}");
    assert_eq!(code, 0);
}

#[test]
fn guest_cluster_content_is_skipped_and_its_class_typo_found() {
    let d = dir();
    copy_fixture(
        d.path(),
        "vsc-guest-cluster-harvester-csi-backup-handle.yaml",
    );
    let (code, report) = doctor(&[d.path()]);
    assert_eq!(findings(&report).len(), 0, "{report:#}");
    assert_eq!(code, 0);
    // With the study's class present, the misspelt name is reported.
    write_yaml(
        d.path(),
        "class.yaml",
        &[
            serde_json::json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
            "metadata": {"name": "harvester-backup"}, "driver": "driver.harvesterhci.io", "deletionPolicy": "Delete"}),
        ],
    );
    let (_, report) = doctor(&[d.path()]);
    no_handle_findings(&report);
    let missing = finding(&report, "missing-snapshot-class");
    let message = missing["message"].as_str().unwrap();
    assert!(
        message.contains("harveter-backup") && message.contains("harvester-backup"),
        "{message}"
    );
}

#[test]
fn truncated_vmbackup_list_reads_without_false_legacy_flags() {
    let (_, report) = doctor(&[&fixture("vmbackup-list-nfs-v140-truncated.yaml")]);
    assert_eq!(report["objects"]["VirtualMachineBackup"], 1, "{report:#}");
    no_handle_findings(&report);
}

#[test]
fn nfs_setting_without_interval_is_valid_and_periodic_rediscovery_off() {
    let d = dir();
    let value = fixture_text("setting-backup-target-value-nfs.json");
    write_yaml(
        d.path(),
        "setting.yaml",
        &[
            serde_json::json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "Setting",
            "metadata": {"name": "backup-target"}, "value": value}),
        ],
    );
    let (code, report) = doctor(&[d.path()]);
    let refresh = finding(&report, "refresh-disabled");
    assert_eq!(refresh["severity"], "info");
    assert!(
        refresh["message"]
            .as_str()
            .unwrap()
            .contains("nfs://192.168.122.159:/nfs_server/nfs_share/")
    );
    assert_eq!(code, 0, "valid: informational only");
}

#[test]
fn elided_volume_backups_are_a_clear_parse_error() {
    let r = run(
        [
            "doctor",
            "--from",
            fixture("vmbackup-progress-volumebackups-author-elided.yaml")
                .to_str()
                .unwrap(),
        ],
        None,
    );
    assert_eq!(r.code, 3, "{r:?}");
    assert!(
        r.stdout.is_empty(),
        "nothing is diagnosed from a file that does not parse"
    );
    assert!(
        r.stderr
            .contains("vmbackup-progress-volumebackups-author-elided.yaml"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("not valid YAML") && r.stderr.contains("line 22"),
        "{}",
        r.stderr
    );
}

#[test]
fn cross_namespace_restore_contents_need_bak_handles() {
    let d = dir();
    copy_fixture(d.path(), "vmrestore-cross-namespace-new-vm.yaml");
    // The content a pre-fix Harvester made for this restore.
    let name = vmbackup_engine::naming::restore_content_name(
        "new-ns",
        "restore-default-vm-backup-to-new-ns",
        "default-vm-backup-volume-os-vol",
    );
    write_yaml(
        d.path(),
        "restore-objects.yaml",
        &[
            content(&name, "bs://os-vol/backup-be842e7288aa4318", "Retain", "x"),
            lh_backup(
                "backup-be842e7288aa4318",
                "pvc-11112222-3333-4444-5555-666677778888",
            ),
        ],
    );
    let (code, report) = doctor(&[d.path()]);
    let legacy = finding(&report, "legacy-handle");
    assert!(
        legacy["fix"]
            .as_str()
            .unwrap()
            .contains("bak://pvc-11112222-3333-4444-5555-666677778888/backup-be842e7288aa4318"),
        "{legacy:#}"
    );
    assert_eq!(code, 2);
}

#[test]
fn failed_backup_is_an_error_and_nothing_is_repaired() {
    let file = fixture("vmbackup-error-volumesnapshot-stopped-vm-truncated.yaml");
    let (code, report) = doctor(&[&file]);
    let failed = finding(&report, "vmbackup-failed");
    assert_eq!(failed["severity"], "error");
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .contains("extra-default.off-volume-vm-extra-default-rootdisk-vp3py")
    );
    no_handle_findings(&report);
    assert_eq!(code, 2);
    let r = run(["repair", "--from", file.to_str().unwrap()], None);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(r.stdout.contains("# Nothing to do."), "{}", r.stdout);
}

#[test]
fn a_pvc_name_from_a_vm_is_recognised_in_a_handle() {
    let d = dir();
    copy_fixture(
        d.path(),
        "vm-list-with-volumeclaimtemplates-annotation.yaml",
    );
    write_yaml(
        d.path(),
        "vsc.yaml",
        &[content(
            "c1",
            "bs://vm1-disk-0-egtdn/backup-0123456789abcdef",
            "Delete",
            "s1",
        )],
    );
    let (code, report) = doctor(&[d.path()]);
    let legacy = finding(&report, "legacy-handle");
    assert_eq!(legacy["severity"], "error");
    assert!(
        legacy["message"]
            .as_str()
            .unwrap()
            .contains("VM test-migration/vm1"),
        "{legacy:#}"
    );
    assert_eq!(code, 2);
}

#[test]
fn starting_with_pvc_is_no_proof_of_a_volume_name() {
    let d = dir();
    copy_fixture(d.path(), "pvc-named-like-pv-and-its-longhorn-volume.yaml");
    write_yaml(
        d.path(),
        "vsc.yaml",
        &[content(
            "c1",
            "bs://pvc-2b31db45-574a-4b80-ba9d-ec6132d05d46/backup-0123456789abcdef",
            "Delete",
            "s1",
        )],
    );
    let (_, report) = doctor(&[d.path()]);
    let legacy = finding(&report, "legacy-handle");
    assert_eq!(legacy["severity"], "error");
    for field in ["message", "fix"] {
        assert!(
            legacy[field]
                .as_str()
                .unwrap()
                .contains("pvc-f012dd43-a0b9-4f48-92a3-416071a08875"),
            "{legacy:#}"
        );
    }
}

#[test]
fn unavailable_longhorn_target_is_reported_and_is_not_a_handle_problem() {
    let (code, report) = doctor(&[&fixture("lh-backuptarget-s3-unavailable-truncated.yaml")]);
    let t = finding(&report, "target-unavailable");
    assert_eq!(t["kind"], "BackupTarget");
    assert_eq!(t["namespace"], "longhorn-system");
    assert!(
        t["message"]
            .as_str()
            .unwrap()
            .contains("s3://example-bucket@dsg/backupstore/")
    );
    no_handle_findings(&report);
    assert_eq!(code, 2);
}

#[test]
fn scheduled_backups_with_bak_handles_need_no_repair() {
    let dump = fixture_text("lh-backups-describe-scheduled-vmbackup-bak-handles.log");
    let mut objects = Vec::new();
    for block in dump.split("Backup:\n").skip(1) {
        let field = |key: &str| {
            block
                .lines()
                .find_map(|l| l.trim().strip_prefix(key).map(|v| v.trim().to_owned()))
        };
        let backup = field("Name:").unwrap();
        let content_name = block
            .lines()
            .filter_map(|l| l.trim().strip_prefix("Name:"))
            .nth(2)
            .unwrap()
            .trim()
            .to_owned();
        let snapshot = field("Snapshot:").filter(|s| !s.is_empty());
        if let Some(h) = field("SnapshotHandle:") {
            let volume = h.trim_start_matches("bak://").split('/').next().unwrap();
            objects.push(lh_backup(&backup, volume));
            objects.push(backup_volume(volume));
            objects.push(content(
                &content_name,
                &h,
                "Delete",
                snapshot.as_deref().unwrap_or("s"),
            ));
        }
    }
    assert_eq!(
        objects.len(),
        3,
        "the second block is cut before its handle"
    );
    let d = dir();
    write_yaml(d.path(), "objects.yaml", &objects);
    let (code, report) = doctor(&[d.path()]);
    assert_eq!(findings(&report).len(), 0, "{report:#}");
    assert_eq!(code, 0);
}

#[test]
fn cut_api_listing_is_a_clear_error_and_its_volume_name_need_not_start_with_pvc() {
    let file = fixture("lh-api-backupvolumes-list-truncated.json");
    let r = run(["doctor", "--from", file.to_str().unwrap()], None);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr
            .contains("lh-api-backupvolumes-list-truncated.json"),
        "{}",
        r.stderr
    );
    assert!(
        r.stderr.contains("not valid JSON") && r.stderr.contains("line 27"),
        "{}",
        r.stderr
    );

    let raw = fixture_text("lh-api-backupvolumes-list-truncated.json");
    let first = &raw[raw.find("[{").unwrap() + 1..raw.find("}, {").unwrap() + 1];
    let bv: Value = serde_json::from_str(first).unwrap();
    let (volume, last) = (
        bv["name"].as_str().unwrap(),
        bv["lastBackupName"].as_str().unwrap(),
    );
    assert_eq!((volume, last), ("volume-test-1", "backup-53a6c62b6573459e"));
    let d = dir();
    write_yaml(
        d.path(),
        "objects.yaml",
        &[
            lh_backup(last, volume),
            backup_volume(volume),
            content("c1", &format!("bak://{volume}/{last}"), "Delete", "s1"),
        ],
    );
    let (code, report) = doctor(&[d.path()]);
    assert_eq!(findings(&report).len(), 0, "{report:#}");
    assert_eq!(code, 0);
}

#[test]
fn backupstore_listings_are_not_manifests_and_are_noted() {
    let (_, report) = {
        let d = dir();
        copy_fixture(d.path(), "backupstore-ls-volume-only-two-volume-cfgs.json");
        copy_fixture(d.path(), "backupstore-inspect-backup-cfg.json");
        copy_fixture(d.path(), "vsclass-longhorn-backup-type-bak.yaml");
        doctor(&[d.path()])
    };
    let notes = report["notes"].to_string();
    assert!(
        notes.contains("backupstore-ls-volume-only-two-volume-cfgs.json"),
        "{notes}"
    );
    assert!(notes.contains("not Kubernetes objects"), "{notes}");
}

//! One test per real-world case: the diagnosis each case calls for comes
//! out of the engine as findings (and, where a fix is planned, as steps).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::path::PathBuf;

use support::*;
use vmbackup_api::document::values_from_str;
use vmbackup_engine::reconcile::classes::{ClassType, classify};
use vmbackup_engine::target::{TargetBackup, TargetListing};
use vmbackup_engine::{
    Code, Finding, Kind, Object, Options, Severity, TargetFacts, TargetState, View, plan,
};

fn fixtures() -> PathBuf {
    let dir = std::env::var_os("VMBACKUP_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/real")
        });
    assert!(
        dir.is_dir(),
        "fixture directory {} is missing (set VMBACKUP_FIXTURES)",
        dir.display()
    );
    dir
}

fn text(name: &str) -> String {
    std::fs::read_to_string(fixtures().join(name)).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn objects(name: &str) -> Vec<Object> {
    values_from_str(&text(name))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
        .into_iter()
        .map(|(_, v)| Object::from_value(v).unwrap_or_else(|e| panic!("{name}: {e}")))
        .collect()
}

fn findings(view: &View) -> Vec<Finding> {
    plan(view, &not_read(), now(), &Options::default()).findings
}

fn codes(findings: &[Finding]) -> Vec<Code> {
    findings.iter().map(|f| f.code).collect()
}

const HANDLE_CODES: [Code; 5] = [
    Code::LegacyHandle,
    Code::UnresolvableHandle,
    Code::MalformedHandle,
    Code::DeprecatedHandlePrefix,
    Code::AmbiguousBackupVolume,
];

fn no_handle_findings(f: &[Finding]) {
    assert!(!f.iter().any(|f| HANDLE_CODES.contains(&f.code)), "{f:#?}");
}

/// A restore content as the log shows it: `bs://os-vol/...`.
fn restore_content_from_log() -> (Object, String) {
    let log = text("csi-restore-legacy-bs-handle-cannot-find-backup-volume.log");
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
fn csi_log_legacy_handle_is_diagnosed_as_legacy_not_missing_backup() {
    let (vsc, _) = restore_content_from_log();
    let f = findings(&View::from_objects([vsc.clone()]));
    let legacy = f
        .iter()
        .find(|f| f.code == Code::LegacyHandle)
        .expect("legacy-handle");
    assert!(
        legacy.fix.contains("backup-be842e7288aa4318"),
        "{}",
        legacy.fix
    );
    assert!(legacy.impact.contains("NotFound"), "{}", legacy.impact);
    assert!(
        !legacy.fix.contains("pvc-ed6a0cb7"),
        "must not guess from the PV being created"
    );
    assert!(!codes(&f).contains(&Code::MissingLonghornBackup));

    // With the Backup CR, the fix names its status.volumeName.
    let pv = "pvc-0d6f0b77-5e54-4c9d-9f5a-3c1b2a4d5e6f";
    let f = findings(&View::from_objects([
        vsc,
        lh_backup("backup-be842e7288aa4318", pv),
    ]));
    let legacy = f
        .iter()
        .find(|f| f.code == Code::LegacyHandle)
        .expect("legacy-handle");
    assert_eq!(legacy.severity, Severity::Error);
    assert!(
        legacy
            .fix
            .contains(&format!("bak://{pv}/backup-be842e7288aa4318")),
        "{}",
        legacy.fix
    );
}

#[test]
fn upstream_bs_example_needs_the_backup_cr_rather_than_a_guess() {
    let vsc = objects("vsc-static-bs-handle-longhorn-upstream-example.yaml");
    let f = findings(&View::from_objects(vsc.clone()));
    let legacy = f
        .iter()
        .find(|f| f.code == Code::LegacyHandle)
        .expect("legacy-handle");
    assert_eq!(legacy.severity, Severity::Warning);
    assert!(
        legacy.message.contains("backup-625159fb469e492e"),
        "{}",
        legacy.message
    );
    assert!(legacy.fix.contains("status.volumeName"), "{}", legacy.fix);

    // Backup CR says test-vol: only the prefix is deprecated.
    let mut with_cr = vsc.clone();
    with_cr.push(lh_backup("backup-625159fb469e492e", "test-vol"));
    let f = findings(&View::from_objects(with_cr));
    assert!(!codes(&f).contains(&Code::LegacyHandle), "{f:#?}");
    let d = f
        .iter()
        .find(|f| f.code == Code::DeprecatedHandlePrefix)
        .expect("deprecated prefix");
    assert!(d.fix.contains("bak://test-vol/backup-625159fb469e492e"));

    // Backup CR says another volume: the handle is wrong.
    let mut other = vsc;
    other.push(lh_backup("backup-625159fb469e492e", "pvc-aaaa"));
    let f = findings(&View::from_objects(other));
    let legacy = f
        .iter()
        .find(|f| f.code == Code::LegacyHandle)
        .expect("legacy-handle");
    assert!(
        legacy
            .fix
            .contains("bak://pvc-aaaa/backup-625159fb469e492e"),
        "{}",
        legacy.fix
    );
}

#[test]
fn prebound_snapshot_is_fine_and_its_content_is_reported_with_the_replacement_note() {
    let mut all = objects("vs-static-prebound-longhorn-upstream-example.yaml");
    all.extend(objects(
        "vsc-static-bs-handle-longhorn-upstream-example.yaml",
    ));
    let f = findings(&View::from_objects(all));
    assert!(
        !f.iter()
            .any(|f| f.object.kind == Kind::VolumeSnapshot && HANDLE_CODES.contains(&f.code)),
        "{f:#?}"
    );
    let legacy = f
        .iter()
        .find(|f| f.code == Code::LegacyHandle)
        .expect("legacy-handle on the content");
    assert_eq!(legacy.object.name, "test-existing-backup");
    assert!(
        legacy
            .message
            .contains("default/test-snapshot-existing-backup"),
        "{}",
        legacy.message
    );
}

#[test]
fn snapshot_class_type_snap_is_not_a_backup_class_and_needs_nothing() {
    let classes = objects("vsclass-longhorn-snapshot-type-snap.yaml");
    let Object::VolumeSnapshotClass(c) = &classes[0] else {
        panic!()
    };
    assert_eq!(classify(c), ClassType::Snapshot);
    assert!(findings(&View::from_objects(classes)).is_empty());
}

#[test]
fn snapshot_class_type_bak_is_a_backup_class() {
    let classes = objects("vsclass-longhorn-backup-type-bak.yaml");
    let Object::VolumeSnapshotClass(c) = &classes[0] else {
        panic!()
    };
    assert_eq!(classify(c), ClassType::Backup);
    assert!(findings(&View::from_objects(classes)).is_empty());
}

#[test]
fn pre_release_class_types_are_non_standard_invalid_is_warned_no_type_is_backup() {
    let classes = objects("vsclass-set-v1beta1-pre-release-type-names.yaml");
    let kinds: Vec<ClassType> = classes
        .iter()
        .map(|o| match o {
            Object::VolumeSnapshotClass(c) => classify(c),
            _ => panic!(),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            ClassType::Backup,
            ClassType::NonStandard("longhorn-backup".into()),
            ClassType::NonStandard("longhorn-snapshot".into()),
            ClassType::Unknown("invalid".into()),
        ]
    );
    let f = findings(&View::from_objects(classes));
    let of = |name: &str| -> Vec<Code> {
        f.iter()
            .filter(|f| f.object.name == name)
            .map(|f| f.code)
            .collect()
    };
    assert_eq!(of("longhorn-backup-1"), [Code::DeprecatedApiVersion]);
    assert!(of("longhorn-backup-2").contains(&Code::NonStandardSnapshotClassType));
    assert!(of("longhorn-snapshot").contains(&Code::NonStandardSnapshotClassType));
    assert!(of("invalid-class").contains(&Code::UnknownSnapshotClassType));
    assert!(
        f.iter()
            .filter(|f| f.code == Code::DeprecatedApiVersion)
            .all(|f| f.severity == Severity::Info)
    );
}

#[test]
fn vm_snapshot_content_with_snap_handle_is_not_flagged() {
    let f = findings(&View::from_objects(objects(
        "vsc-vm-snapshot-snap-handle-harvester-v160.yaml",
    )));
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn guest_cluster_content_of_another_driver_is_skipped_but_its_class_typo_is_noted() {
    let vsc = objects("vsc-guest-cluster-harvester-csi-backup-handle.yaml");
    let f = findings(&View::from_objects(vsc.clone()));
    no_handle_findings(&f);
    assert!(f.is_empty(), "{f:#?}");
    // With the study's class present, the misspelt class name is reported.
    let mut with_class = vsc;
    with_class.push(obj(serde_json::json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
        "metadata": {"name": "harvester-backup"}, "driver": "driver.harvesterhci.io", "deletionPolicy": "Delete"})));
    let f = findings(&View::from_objects(with_class));
    no_handle_findings(&f);
    let missing = f
        .iter()
        .find(|f| f.code == Code::MissingSnapshotClass)
        .expect("missing class");
    assert!(
        missing.message.contains("harveter-backup") && missing.message.contains("harvester-backup")
    );
}

#[test]
fn truncated_vmbackup_list_is_handled_without_false_legacy_flags() {
    let list = objects("vmbackup-list-nfs-v140-truncated.yaml");
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].reference().name, "vm3-1");
    let f = findings(&View::from_objects(list));
    no_handle_findings(&f);
}

#[test]
fn nfs_setting_without_interval_is_valid_and_periodic_rediscovery_is_off() {
    let value = text("setting-backup-target-value-nfs.json");
    let setting = obj(
        serde_json::json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "Setting",
        "metadata": {"name": "backup-target"}, "value": value}),
    );
    let f = findings(&View::from_objects([setting]));
    let refresh = f
        .iter()
        .find(|f| f.code == Code::RefreshDisabled)
        .expect("refresh-disabled");
    assert_eq!(refresh.severity, Severity::Info);
    assert!(
        refresh
            .message
            .contains("nfs://192.168.122.159:/nfs_server/nfs_share/"),
        "{}",
        refresh.message
    );
    assert!(!f.iter().any(|f| f.severity > Severity::Info), "{f:#?}");
}

#[test]
fn elided_volume_backups_are_a_parse_error_or_read_leniently_without_inventing_pvcs() {
    let raw = text("vmbackup-progress-volumebackups-author-elided.yaml");
    assert!(
        values_from_str(&raw).is_err(),
        "the published text is not valid YAML"
    );
    // Leniently: drop the elision lines and leave the elided PVC copies
    // empty; the PVC data is then simply absent.
    let lenient: String = raw
        .lines()
        .filter(|l| l.trim() != ".....")
        .map(|l| {
            if l.trim() == "persistentVolumeClaim:" {
                format!("{l} {{}}\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    let vmb = values_from_str(&lenient).unwrap().remove(0).1;
    let vmb = Object::from_value(vmb).unwrap();
    let Object::VirtualMachineBackup(b) = &vmb else {
        panic!()
    };
    let pairs: Vec<_> = b
        .volume_backups()
        .iter()
        .map(|vb| {
            (
                vb.name.clone().unwrap(),
                vb.longhorn_backup_name.clone().unwrap(),
                vb.pv_name().is_none(),
            )
        })
        .collect();
    assert_eq!(
        pairs,
        [
            (
                "vm-b1-volume-vm-disk-0-jzwen".into(),
                "backup-70d260245e9e415a".into(),
                true
            ),
            (
                "vm-b1-volume-vm-disk-1-4rqsg".into(),
                "backup-c506be694d70446a".into(),
                true
            ),
        ]
    );
    // Longhorn Backups listed but absent: both are reported missing; no
    // handle is made up.
    let view = View::builder()
        .object(vmb)
        .listed(Kind::LonghornBackup)
        .listed(Kind::VolumeSnapshot)
        .build();
    let p = plan(&view, &not_read(), now(), &Options::default());
    let missing: Vec<_> = p
        .findings
        .iter()
        .filter(|f| f.code == Code::MissingLonghornBackup)
        .collect();
    assert_eq!(missing.len(), 2, "{:#?}", p.findings);
    assert!(
        p.steps
            .iter()
            .all(|s| !matches!(s.action, vmbackup_engine::Action::Create { .. })),
        "{:#?}",
        p.steps
    );
}

#[test]
fn cross_namespace_restore_requires_correct_handles_on_its_contents() {
    let vmr = objects("vmrestore-cross-namespace-new-vm.yaml");
    let Object::VirtualMachineRestore(r) = &vmr[0] else {
        panic!()
    };
    assert!(r.is_cross_namespace());
    // Contents made for it by a pre-fix Harvester carry bs://<PVC>/<backup>.
    let name = vmbackup_engine::naming::restore_content_name(
        "new-ns",
        "restore-default-vm-backup-to-new-ns",
        "default-vm-backup-volume-os-vol",
    );
    let mut all = vmr.clone();
    all.push(content(
        &name,
        "bs://os-vol/backup-be842e7288aa4318",
        "Retain",
        "x",
    ));
    all.push(lh_backup(
        "backup-be842e7288aa4318",
        "pvc-11112222-3333-4444-5555-666677778888",
    ));
    let f = findings(&View::from_objects(all));
    let legacy = f
        .iter()
        .find(|f| f.code == Code::LegacyHandle)
        .expect("legacy-handle");
    assert!(
        legacy
            .fix
            .contains("bak://pvc-11112222-3333-4444-5555-666677778888/backup-be842e7288aa4318")
    );
}

#[test]
fn failed_backup_is_reported_and_nothing_is_repaired() {
    let vmb = objects("vmbackup-error-volumesnapshot-stopped-vm-truncated.yaml");
    let options = Options {
        repair: vmbackup_engine::RepairScope::All,
        ..Options::default()
    };
    let p = plan(&View::from_objects(vmb), &not_read(), now(), &options);
    let failed = p
        .findings
        .iter()
        .find(|f| f.code == Code::VmbackupFailed)
        .expect("vmbackup-failed");
    assert_eq!(failed.severity, Severity::Error);
    assert!(
        failed
            .message
            .contains("extra-default.off-volume-vm-extra-default-rootdisk-vp3py")
    );
    no_handle_findings(&p.findings);
    assert!(
        p.steps
            .iter()
            .all(|s| !matches!(s.action, vmbackup_engine::Action::Create { .. })),
        "{:#?}",
        p.steps
    );
}

#[test]
fn a_pvc_name_in_a_handle_is_recognised_from_the_vm_and_its_storage_class_checked() {
    let vms = objects("vm-list-with-volumeclaimtemplates-annotation.yaml");
    let Object::VirtualMachine(vm) = &vms[0] else {
        panic!()
    };
    let templates = vm.volume_claim_templates().unwrap();
    assert_eq!(
        templates[0]
            .spec
            .as_ref()
            .unwrap()
            .storage_class_name
            .as_deref(),
        Some("longhorn-image-hgdh2")
    );
    let mut all = vms.clone();
    all.push(content(
        "c1",
        "bs://vm1-disk-0-egtdn/backup-0123456789abcdef",
        "Delete",
        "s1",
    ));
    let f = findings(&View::from_objects(all));
    let legacy = f
        .iter()
        .find(|f| f.code == Code::LegacyHandle)
        .expect("legacy-handle");
    assert_eq!(legacy.severity, Severity::Error);
    assert!(
        legacy.message.contains("VM test-migration/vm1"),
        "{}",
        legacy.message
    );
}

#[test]
fn starting_with_pvc_is_not_proof_of_a_volume_name() {
    let mut all = objects("pvc-named-like-pv-and-its-longhorn-volume.yaml");
    all.push(content(
        "c1",
        "bs://pvc-2b31db45-574a-4b80-ba9d-ec6132d05d46/backup-0123456789abcdef",
        "Delete",
        "s1",
    ));
    let f = findings(&View::from_objects(all));
    let legacy = f
        .iter()
        .find(|f| f.code == Code::LegacyHandle)
        .expect("legacy-handle");
    assert_eq!(legacy.severity, Severity::Error);
    assert!(
        legacy
            .message
            .contains("pvc-f012dd43-a0b9-4f48-92a3-416071a08875"),
        "{}",
        legacy.message
    );
    assert!(
        legacy
            .fix
            .contains("pvc-f012dd43-a0b9-4f48-92a3-416071a08875"),
        "{}",
        legacy.fix
    );
}

fn listing_from_volume_cfgs() -> TargetListing {
    let cfgs: serde_json::Value =
        serde_json::from_str(&text("backupstore-ls-volume-only-two-volume-cfgs.json")).unwrap();
    let mut l = TargetListing {
        complete: true,
        ..TargetListing::default()
    };
    for (volume, cfg) in cfgs.as_object().unwrap() {
        let last = cfg["LastBackupName"].as_str().unwrap().to_owned();
        l.volumes
            .entry(volume.clone())
            .or_default()
            .backups
            .insert(last, TargetBackup { complete: true });
    }
    l
}

/// A rediscovery in which a backup on the target gets a VMBackup and a
/// content with the right handle.
fn rediscovery_handle(listing: TargetListing, volume: &str, backup: &str) -> String {
    let mut listing = listing;
    let doc: vmbackup_engine::metadata::VmBackupMetadata = serde_json::from_value(serde_json::json!({
        "name": "vm1-b1", "namespace": "default",
        "backupSpec": {"source": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": "vm1"}, "type": "backup"},
        "volumeBackups": [vb("vm1-b1", "vm1-disk-0-abcde", volume, Some(backup), false)]
    }))
    .unwrap();
    listing
        .vm_backups
        .insert(("default".into(), "vm1-b1".into()), doc);
    let facts = TargetFacts {
        url: NFS.into(),
        state: TargetState::Listed(listing),
    };
    let view = View::complete([
        setting_nfs(None),
        storage_class("longhorn"),
        namespace("default"),
        lh_backup(backup, volume),
    ]);
    let p = plan(&view, &facts, now(), &Options::default());
    p.steps
        .iter()
        .find_map(|s| match &s.action {
            vmbackup_engine::Action::Create { object }
                if object.kind() == Kind::VolumeSnapshotContent =>
            {
                object.to_value()["spec"]["source"]["snapshotHandle"]
                    .as_str()
                    .map(str::to_owned)
            }
            _ => None,
        })
        .unwrap_or_else(|| panic!("no content created: {:#?}", p))
}

#[test]
fn backup_volume_names_on_the_target_are_the_volumes_of_bak_handles() {
    let handle = rediscovery_handle(
        listing_from_volume_cfgs(),
        "pvc-004d8edb-3a8c-4596-a659-3d00122d3f07",
        "backup-c5f548b7e86b4b56",
    );
    assert_eq!(
        handle,
        "bak://pvc-004d8edb-3a8c-4596-a659-3d00122d3f07/backup-c5f548b7e86b4b56"
    );
}

#[test]
fn a_backup_config_gives_its_handle_from_volume_and_name() {
    let cfg: serde_json::Value =
        serde_json::from_str(&text("backupstore-inspect-backup-cfg.json")).unwrap();
    let volume = cfg["VolumeName"].as_str().unwrap();
    let backup = cfg["Name"].as_str().unwrap();
    let mut listing = TargetListing {
        complete: true,
        ..TargetListing::default()
    };
    listing
        .volumes
        .entry(volume.into())
        .or_default()
        .backups
        .insert(backup.into(), TargetBackup { complete: true });
    let handle = rediscovery_handle(listing, volume, backup);
    assert_eq!(
        handle,
        "bak://pvc-004d8edb-3a8c-4596-a659-3d00122d3f07/backup-fa78d89827664840"
    );
}

#[test]
fn unavailable_longhorn_target_is_reported_and_is_not_a_handle_problem() {
    let f = findings(&View::from_objects(objects(
        "lh-backuptarget-s3-unavailable-truncated.yaml",
    )));
    let t = f
        .iter()
        .find(|f| f.code == Code::TargetUnavailable)
        .expect("target-unavailable");
    assert_eq!(t.object.kind, Kind::LonghornBackupTarget);
    assert!(
        t.message.contains("s3://example-bucket@dsg/backupstore/"),
        "{}",
        t.message
    );
    no_handle_findings(&f);
}

#[test]
fn scheduled_backups_with_bak_handles_need_no_repair() {
    let dump = text("lh-backups-describe-scheduled-vmbackup-bak-handles.log");
    let mut all = Vec::new();
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
        let handle = field("SnapshotHandle:");
        if let Some(h) = &handle {
            let volume = h.trim_start_matches("bak://").split('/').next().unwrap();
            all.push(lh_backup(&backup, volume));
            all.push(backup_volume(volume));
            all.push(content(
                &content_name,
                h,
                "Delete",
                snapshot.as_deref().unwrap_or("s"),
            ));
        }
    }
    assert_eq!(
        all.len(),
        3,
        "the first block has a handle, the second is cut before it"
    );
    let f = findings(&View::from_objects(all));
    assert!(f.is_empty(), "{f:#?}");
}

#[test]
fn volume_names_need_not_start_with_pvc() {
    let raw = text("lh-api-backupvolumes-list-truncated.json");
    assert!(
        serde_json::from_str::<serde_json::Value>(&raw).is_err(),
        "the published file is cut"
    );
    let first = &raw[raw.find("[{").unwrap() + 1..raw.find("}, {").unwrap() + 1];
    let bv: serde_json::Value = serde_json::from_str(first).unwrap();
    let volume = bv["name"].as_str().unwrap();
    let last = bv["lastBackupName"].as_str().unwrap();
    assert_eq!((volume, last), ("volume-test-1", "backup-53a6c62b6573459e"));
    let view = View::from_objects([
        lh_backup(last, volume),
        backup_volume(volume),
        content("c1", &format!("bak://{volume}/{last}"), "Delete", "s1"),
    ]);
    let f = findings(&view);
    assert!(f.is_empty(), "{f:#?}");
}

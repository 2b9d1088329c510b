//! VM backups and restores shaped as Harvester writes them: read, changed
//! and written back without losing fields this tool does not model.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};
use vmbackup_api::harvester::{BackupType, VirtualMachineBackup, VirtualMachineRestore};
use vmbackup_api::wellknown;

fn yaml(name: &str) -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    serde_yaml_ng::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

#[test]
fn a_ready_backup_round_trips_with_unknown_fields_at_every_level() {
    let input = yaml("vmbackup-ready.yaml");
    let vmb: VirtualMachineBackup = serde_json::from_value(input.clone()).unwrap();
    assert_eq!(serde_json::to_value(&vmb).unwrap(), input);

    assert!(vmb.is_ready());
    assert_eq!(vmb.backup_type(), BackupType::Backup);
    assert_eq!(
        vmb.spec.extra.get("futureSpecField"),
        Some(&json!("keep-me"))
    );
    let status = vmb.status.as_ref().unwrap();
    assert!(status.extra.contains_key("futureStatusField"));
    let vb = &vmb.volume_backups()[0];
    assert_eq!(vb.pvc_name(), Some("vm1-disk-0-abcde"));
    assert_eq!(
        vb.pv_name(),
        Some("pvc-5b1c3e8e-2f7a-4c0e-9d7e-1b2c3d4e5f60")
    );
    assert_eq!(
        vb.longhorn_backup_name.as_deref(),
        Some("backup-70d260245e9e415a")
    );
    assert!(vb.is_longhorn());
    assert_eq!(vb.volume_size, Some(10_737_418_240));
    let source = status.source.as_ref().unwrap();
    assert_eq!(
        source.spec.as_ref().unwrap().volumes()[0].claim_name(),
        Some("vm1-disk-0-abcde")
    );
    let condition = vmb.condition(wellknown::CONDITION_METADATA_READY).unwrap();
    assert!(condition.is_true());
    assert_eq!(condition.extra.get("futureConditionField"), Some(&json!(3)));
    let target = status.backup_target.as_ref().unwrap();
    assert_eq!(
        target.endpoint.as_deref(),
        Some("nfs://192.168.122.159:/nfs_server/nfs_share/")
    );
}

#[test]
fn changing_a_backup_keeps_everything_else() {
    let input = yaml("vmbackup-ready.yaml");
    let mut vmb: VirtualMachineBackup = serde_json::from_value(input.clone()).unwrap();
    let status = vmb.status.as_mut().unwrap();
    status.ready_to_use = Some(false);
    let vb = &mut status.volume_backups.as_mut().unwrap()[0];
    vb.name = Some("vm1-b1-volume-vm1-disk-0-abcde-snap-revise".into());

    let mut expected = input;
    expected["status"]["readyToUse"] = json!(false);
    expected["status"]["volumeBackups"][0]["name"] =
        json!("vm1-b1-volume-vm1-disk-0-abcde-snap-revise");
    assert_eq!(serde_json::to_value(&vmb).unwrap(), expected);
}

#[test]
fn rewriting_the_vm_copy_keeps_unmodelled_vm_fields() {
    let input = yaml("vmbackup-ready.yaml");
    let mut vmb: VirtualMachineBackup = serde_json::from_value(input.clone()).unwrap();
    let spec = vmb
        .status
        .as_mut()
        .unwrap()
        .source
        .as_mut()
        .unwrap()
        .spec
        .as_mut()
        .unwrap();
    for interface in spec.instance_spec_mut().interfaces_mut() {
        interface.mac_address = None;
    }
    let out = serde_json::to_value(&vmb).unwrap();
    let interface =
        &out["status"]["source"]["spec"]["template"]["spec"]["domain"]["devices"]["interfaces"][0];
    assert_eq!(
        interface,
        &json!({"bridge": {}, "model": "virtio", "name": "default"})
    );
    assert_eq!(
        out["status"]["source"]["spec"]["template"]["spec"]["networks"],
        input["status"]["source"]["spec"]["template"]["spec"]["networks"]
    );
    assert_eq!(
        out["status"]["source"]["metadata"]["creationTimestamp"],
        Value::Null
    );
}

#[test]
fn a_completed_restore_round_trips() {
    let input = yaml("vmrestore-complete.yaml");
    let vmr: VirtualMachineRestore = serde_json::from_value(input.clone()).unwrap();
    assert_eq!(serde_json::to_value(&vmr).unwrap(), input);
    assert!(vmr.is_complete());
    assert!(!vmr.is_failed());
    assert!(vmr.is_cross_namespace());
    let restore = &vmr.status.as_ref().unwrap().restores.as_ref().unwrap()[0];
    assert_eq!(
        restore.volume_backup_name.as_deref(),
        Some("vm1-b1-volume-vm1-disk-0-abcde")
    );
    let pvc = restore.persistent_volume_claim_spec.as_ref().unwrap();
    assert_eq!(pvc.spec.as_ref().unwrap().storage_request(), Some("10Gi"));
    assert!(
        vmr.status
            .as_ref()
            .unwrap()
            .extra
            .contains_key("futureRestoreStatus")
    );
}

#[test]
fn a_new_backup_serialises_with_type_meta_and_nothing_else() {
    let vmb = VirtualMachineBackup::new("vm1-b2", "default", "vm1", BackupType::Backup);
    assert_eq!(
        serde_json::to_value(&vmb).unwrap(),
        json!({
            "apiVersion": "harvesterhci.io/v1beta1",
            "kind": "VirtualMachineBackup",
            "metadata": {"name": "vm1-b2", "namespace": "default"},
            "spec": {"source": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": "vm1"}, "type": "backup"}
        })
    );
}

#[test]
fn a_backup_cut_off_inside_a_condition_still_reads_and_round_trips() {
    let input = json!({
        "apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineBackup",
        "metadata": {"name": "b", "namespace": "default"},
        "spec": {"source": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": "vm"}, "type": "backup"},
        "status": {"conditions": [{"lastTransitionTime": "2024-05-21T05:15:21Z", "message": "Not Ready"}],
                   "volumeBackups": [{"csiDriverName": "driver.longhorn.io", "longhornBackupName": "backup-1",
                                      "persistentVolumeClaim": {"metadata": {"name": "pvc"}}}]}
    });
    let vmb: VirtualMachineBackup = serde_json::from_value(input.clone()).unwrap();
    assert_eq!(vmb.volume_backups()[0].volume_name, "");
    assert_eq!(serde_json::to_value(&vmb).unwrap(), input);
}

#[test]
fn a_failed_restore_is_recognised() {
    let vmr: VirtualMachineRestore = serde_json::from_value(json!({
        "apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineRestore",
        "metadata": {"name": "r", "namespace": "default"},
        "spec": {"target": {"kind": "VirtualMachine", "name": "vm"}, "virtualMachineBackupName": "b",
                 "virtualMachineBackupNamespace": "default", "newVM": false},
        "status": {"complete": false, "conditions": [
            {"type": "InProgress", "status": "False", "reason": "Error", "message": "boom"}]}
    }))
    .unwrap();
    assert!(vmr.is_failed());
    assert!(!vmr.is_cross_namespace());
}

#[test]
fn malformed_backups_fail_with_the_field_named() {
    let mut input = yaml("vmbackup-ready.yaml");
    input["status"]["volumeBackups"][0]["volumeSize"] = json!("ten gigabytes");
    let err = serde_json::from_value::<VirtualMachineBackup>(input)
        .unwrap_err()
        .to_string();
    assert!(err.contains("status.volumeBackups[0].volumeSize"), "{err}");

    let mut input = yaml("vmbackup-ready.yaml");
    input["status"]["volumeBackups"][0]
        .as_object_mut()
        .unwrap()
        .remove("persistentVolumeClaim");
    let err = serde_json::from_value::<VirtualMachineBackup>(input)
        .unwrap_err()
        .to_string();
    assert!(err.contains("persistentVolumeClaim"), "{err}");

    let mut input = yaml("vmbackup-ready.yaml");
    input["kind"] = json!("VirtualMachineRestore");
    let err = serde_json::from_value::<VirtualMachineBackup>(input)
        .unwrap_err()
        .to_string();
    assert!(err.contains("kind"), "{err}");
}

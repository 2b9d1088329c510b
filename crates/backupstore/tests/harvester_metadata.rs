//! Harvester's VM backup and VM image metadata files, in both layouts.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::*;
use serde_json::json;
use vmbackup_backupstore::{Error, MetadataLayout, VmBackupMetadata, VmImageMetadata};

fn sample() -> serde_json::Value {
    json!({
        "name": "vm1-b1",
        "namespace": "default",
        "backupSpec": {"source": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": "vm1"}, "type": "backup"},
        "vmSourceSpec": {"metadata": {"name": "vm1", "namespace": "default", "annotations": {"harvesterhci.io/volumeClaimTemplates": "[{\"a\":\"<b>\"}]"}}, "spec": {"runStrategy": "RerunOnFailure"}},
        "volumeBackups": [{
            "name": "vm1-b1-volume-vm1-disk-0-abcde",
            "volumeName": "disk-0",
            "csiDriverName": "driver.longhorn.io",
            "persistentVolumeClaim": {"metadata": {"name": "vm1-disk-0-abcde", "namespace": "default"},
                "spec": {"volumeName": "pvc-5b1c3e8e-2f7a-4c0e-9d7e-1b2c3d4e5f60"}},
            "longhornBackupName": "backup-70d260245e9e415a",
            "volumeSize": 10737418240u64,
            "progress": 100
        }],
        "secretBackups": [{"name": "vm1-cloudinit", "data": {"userdata": "I2Nsb3VkLWNvbmZpZw=="}}],
        "someFutureKey": {"kept": true}
    })
}

#[tokio::test]
async fn write_read_and_list_vm_backup_metadata() {
    let (dir, target) = local_target();
    let meta: VmBackupMetadata = serde_json::from_value(sample()).unwrap();
    assert!(target.write_vm_backup_metadata(&meta).await.unwrap());
    assert!(
        !target.write_vm_backup_metadata(&meta).await.unwrap(),
        "identical content is not rewritten"
    );
    let path = dir.path().join("harvester/vmbackups/default/vm1-b1.cfg");
    let written = std::fs::read_to_string(&path).unwrap();
    assert!(
        written.contains("\\u003cb\\u003e"),
        "Go escaping: {written}"
    );
    assert!(written.starts_with("{\"name\":\"vm1-b1\",\"namespace\":\"default\",\"backupSpec\""));
    // Lossless: unknown keys survive.
    let back: serde_json::Value = serde_json::from_str(&written).unwrap();
    assert_eq!(back, sample());

    let read = target
        .read_vm_backup_metadata("default", "vm1-b1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read, meta);
    let vols = read.volumes();
    assert_eq!(vols.len(), 1);
    assert_eq!(
        vols[0].longhorn_volume.as_deref(),
        Some("pvc-5b1c3e8e-2f7a-4c0e-9d7e-1b2c3d4e5f60")
    );
    assert_eq!(
        vols[0].longhorn_backup.as_deref(),
        Some("backup-70d260245e9e415a")
    );
    assert_eq!(vols[0].pvc, "vm1-disk-0-abcde");
    assert_eq!(vols[0].size, Some(10737418240));

    target
        .delete_vm_backup_metadata("default", "vm1-b1")
        .await
        .unwrap();
    assert!(
        target
            .read_vm_backup_metadata("default", "vm1-b1")
            .await
            .unwrap()
            .is_none()
    );
}

#[tokio::test]
async fn legacy_flat_layout_is_read_listed_and_migrated() {
    let (dir, target) = local_target();
    let folder = dir.path().join("harvester/vmbackups");
    std::fs::create_dir_all(&folder).unwrap();
    // Harvester 1.0 - 1.2 wrote <namespace>-<name>.cfg, sometimes without a namespace.
    let mut old = sample();
    old["namespace"] = json!("");
    std::fs::write(folder.join("default-vm1-b1.cfg"), old.to_string()).unwrap();
    let mut other = sample();
    other["namespace"] = json!("team-a");
    other["name"] = json!("b-2");
    std::fs::write(folder.join("team-a-b-2.cfg"), other.to_string()).unwrap();
    std::fs::write(folder.join("broken.cfg"), b"{not json").unwrap();

    let read = target
        .read_vm_backup_metadata("default", "vm1-b1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.namespace, "default");
    let listed = target.list_vm_backup_metadata().await.unwrap().files;
    assert_eq!(listed.len(), 3);
    assert!(listed.iter().all(|f| f.layout == MetadataLayout::Legacy));
    let broken = listed
        .iter()
        .find(|f| f.path.ends_with("broken.cfg"))
        .unwrap();
    assert!(matches!(broken.content, Err(Error::Json { .. })));

    let moved = target.migrate_legacy_vm_backup_metadata().await.unwrap();
    assert_eq!(moved.len(), 2);
    assert!(folder.join("default/vm1-b1.cfg").exists());
    assert!(folder.join("team-a/b-2.cfg").exists());
    assert!(!folder.join("default-vm1-b1.cfg").exists());
    assert!(
        folder.join("broken.cfg").exists(),
        "unreadable files are left alone"
    );
    let listed = target.list_vm_backup_metadata().await.unwrap().files;
    let namespaced: Vec<_> = listed
        .iter()
        .filter(|f| f.layout == MetadataLayout::Namespaced)
        .collect();
    assert_eq!(namespaced.len(), 2);
    let team = target
        .read_vm_backup_metadata("team-a", "b-2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(team.extra["someFutureKey"], json!({"kept": true}));
}

#[tokio::test]
async fn hostile_metadata_is_rejected_with_the_file_named() {
    let (dir, target) = local_target();
    let folder = dir.path().join("harvester/vmbackups");
    std::fs::create_dir_all(folder.join("default")).unwrap();
    let mut evil = sample();
    evil["namespace"] = json!("../../backupstore");
    std::fs::write(folder.join("default/vm1-b1.cfg"), evil.to_string()).unwrap();
    let e = target
        .read_vm_backup_metadata("default", "vm1-b1")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Field { path, field, .. } if path == "harvester/vmbackups/default/vm1-b1.cfg" && field == "namespace"),
        "{e}"
    );

    // A file that claims to be another backup.
    let mut elsewhere = sample();
    elsewhere["name"] = json!("other");
    std::fs::write(folder.join("default/vm1-b1.cfg"), elsewhere.to_string()).unwrap();
    let e = target
        .read_vm_backup_metadata("default", "vm1-b1")
        .await
        .unwrap_err();
    assert!(
        matches!(&e, Error::Field { field, .. } if field == "name"),
        "{e}"
    );

    std::fs::write(folder.join("default/vm1-b1.cfg"), b"[1,2]").unwrap();
    assert!(matches!(
        target
            .read_vm_backup_metadata("default", "vm1-b1")
            .await
            .unwrap_err(),
        Error::Json { .. }
    ));
    std::fs::File::create(folder.join("default/vm1-b1.cfg"))
        .unwrap()
        .set_len(17 << 20)
        .unwrap();
    assert!(matches!(
        target
            .read_vm_backup_metadata("default", "vm1-b1")
            .await
            .unwrap_err(),
        Error::TooLarge { .. }
    ));

    // A folder that is not a namespace name is not read, and the listing
    // says it skipped it.
    std::fs::create_dir_all(folder.join("Not_A_Namespace")).unwrap();
    std::fs::write(folder.join("Not_A_Namespace/x.cfg"), sample().to_string()).unwrap();
    let listed = target.list_vm_backup_metadata().await.unwrap();
    assert!(
        listed
            .files
            .iter()
            .all(|f| !f.path.contains("Not_A_Namespace"))
    );
    assert_eq!(listed.ignored.len(), 1, "{:?}", listed.ignored);
    assert_eq!(
        listed.ignored[0].path,
        "harvester/vmbackups/Not_A_Namespace"
    );
    assert!(
        listed.ignored[0].reason.contains("not a namespace folder"),
        "{}",
        listed.ignored[0].reason
    );

    let mut meta: VmBackupMetadata = serde_json::from_value(sample()).unwrap();
    meta.name = "../x".into();
    assert!(matches!(
        target.write_vm_backup_metadata(&meta).await.unwrap_err(),
        Error::InvalidName { .. }
    ));
}

#[tokio::test]
async fn vm_image_metadata() {
    let (dir, target) = local_target();
    let meta: VmImageMetadata = serde_json::from_value(json!({
        "name": "image-abc",
        "namespace": "default",
        "url": "nfs://host:/export?backingImage=vmi-1234",
        "displayName": "ubuntu.img",
        "storageClassParameters": {"migratable": "true", "numberOfReplicas": "3"}
    }))
    .unwrap();
    assert!(target.write_vm_image_metadata(&meta).await.unwrap());
    let text = std::fs::read_to_string(dir.path().join("harvester/vmimages/default/image-abc.cfg"))
        .unwrap();
    assert_eq!(
        text,
        r#"{"name":"image-abc","namespace":"default","url":"nfs://host:/export?backingImage=vmi-1234","displayName":"ubuntu.img","storageClassParameters":{"migratable":"true","numberOfReplicas":"3"}}"#
    );
    assert_eq!(
        target
            .read_vm_image_metadata("default", "image-abc")
            .await
            .unwrap(),
        Some(meta)
    );
    let listed = target.list_vm_image_metadata().await.unwrap().files;
    assert_eq!(listed.len(), 1);
    target
        .delete_vm_image_metadata("default", "image-abc")
        .await
        .unwrap();
    assert_eq!(
        target
            .read_vm_image_metadata("default", "image-abc")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn an_empty_target_lists_nothing() {
    let (_dir, target) = local_target();
    assert!(
        target
            .list_vm_backup_metadata()
            .await
            .unwrap()
            .files
            .is_empty()
    );
    assert!(
        target
            .list_vm_image_metadata()
            .await
            .unwrap()
            .files
            .is_empty()
    );
    assert!(target.list_volumes().await.unwrap().volumes.is_empty());
    assert!(target.list_backups("vol").await.unwrap().backups.is_empty());
    assert!(target.volume_config_opt("vol").await.unwrap().is_none());
    assert!(
        target
            .read_vm_backup_metadata("default", "x")
            .await
            .unwrap()
            .is_none()
    );
}

//! Disaster recovery: the cluster loses its VolumeSnapshotContents (for
//! example a control plane restored from an older state). The snapshots
//! bound to them are useless; vmbackup binds each volume backup again to
//! its Longhorn backup, with a correct handle, and the VM restores.

mod common;

use common::*;
use vmbackup_engine::{Kind, ObjectRef};
use vmbackup_sim::LonghornVersion;

#[test]
fn after_losing_every_content_the_backup_is_rebound_and_restores() {
    let world = World::new();
    let mut a = world.cluster("cluster-a", LonghornVersion::V1_8, 0);
    let digests = vm_with_data(&mut a, "default", "vm1");
    back_up(&mut a, "default", "vm1", "vm1-backup");
    let ids = backup_ids(&a, "default", "vm1-backup");

    let contents: Vec<ObjectRef> = a
        .store()
        .list::<vmbackup_api::VolumeSnapshotContent>()
        .filter_map(|c| c.metadata.name.as_deref())
        .map(|n| ObjectRef::cluster(Kind::VolumeSnapshotContent, n))
        .collect();
    assert_eq!(contents.len(), 2);
    a.lose(&contents);
    a.controller_mut().request_sync();
    a.run_until_settled().unwrap();

    assert_sound(&world, &a, "default", "vm1-backup", &ids, "after the loss");
    let mut found = handles(&a, "default", "vm1-backup");
    found.sort();
    let mut expected: Vec<String> = ids
        .iter()
        .map(|(volume, backup)| format!("bak://{volume}/{backup}"))
        .collect();
    expected.sort();
    assert_eq!(found, expected);
    assert!(
        a.controller().failures().is_empty(),
        "{:#?}",
        a.controller().failures()
    );

    a.create_namespace("dr").unwrap();
    a.restore_vm("dr", "r1", "default", "vm1-backup", "vm1", true)
        .unwrap();
    restored(&mut a, "dr", "r1");
    assert_eq!(a.vm_disk_sha256("dr", "vm1").unwrap(), digests);
}

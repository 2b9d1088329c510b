//! Deleting a backup whose contents carry a broken (legacy) handle: on
//! Longhorn 1.8 the driver's DeleteSnapshot finds no backup volume for the
//! PVC name and succeeds without deleting anything, as upstream. The
//! Longhorn backup stays on the target, orphaned, and vmbackup reports it.
//! A backup with correct handles is deleted with its data.

mod common;

use common::*;
use vmbackup_engine::{Code, Kind, ObjectRef, Precondition};
use vmbackup_sim::LonghornVersion;

#[test]
fn deleting_a_backup_with_a_broken_handle_leaves_its_longhorn_backup_and_it_is_reported() {
    let world = World::new();
    let mut a = world.cluster("cluster-a", LonghornVersion::V1_7, 0);
    vm_with_data(&mut a, "default", "vm2");
    back_up(&mut a, "default", "vm2", "vm2-nightly");
    back_up(&mut a, "default", "vm2", "vm2-weekly");
    let legacy_ids = backup_ids(&a, "default", "vm2-nightly");
    let good_ids = backup_ids(&a, "default", "vm2-weekly");
    let lost = backup_objects(&a, "default", "vm2-nightly");
    a.lose(&lost);
    a.legacy_rediscover("default", "vm2-nightly").unwrap();
    a.run_until_settled().unwrap();
    a.set_longhorn_version(LonghornVersion::V1_8).unwrap();
    a.run_until_settled().unwrap();

    // The user deletes the legacy backup.
    a.store_mut()
        .delete(
            &ObjectRef::namespaced(Kind::VirtualMachineBackup, "default", "vm2-nightly"),
            &Precondition::none(),
        )
        .unwrap();
    a.run_until_settled().unwrap();
    assert!(a.vmbackup("default", "vm2-nightly").is_none());
    assert!(
        a.store()
            .list::<vmbackup_api::VolumeSnapshotContent>()
            .all(|c| !c.snapshot_handle().unwrap_or_default().starts_with("bs://")),
        "its contents are gone"
    );
    assert!(
        a.events()
            .logs()
            .iter()
            .any(|l| l.message == "cannot find backup volume for volume vm2-disk-0"),
        "DeleteSnapshot found no backup volume for the PVC name"
    );
    for (volume, backup) in &legacy_ids {
        assert!(
            world.target.has_backup(volume, backup).unwrap(),
            "{backup} is still on the target"
        );
        let finding = a
            .controller()
            .findings()
            .iter()
            .find(|f| f.code == Code::OrphanLonghornBackup && f.object.name == *backup);
        assert!(
            finding.is_some(),
            "{backup} is reported: {:#?}",
            a.controller().findings()
        );
    }

    // A backup with correct handles goes with its data.
    a.store_mut()
        .delete(
            &ObjectRef::namespaced(Kind::VirtualMachineBackup, "default", "vm2-weekly"),
            &Precondition::none(),
        )
        .unwrap();
    a.run_until_settled().unwrap();
    for (volume, backup) in &good_ids {
        assert!(
            !world.target.has_backup(volume, backup).unwrap(),
            "{backup} was deleted"
        );
    }
}

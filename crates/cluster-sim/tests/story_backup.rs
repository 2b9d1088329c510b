//! A VM with two disks holding known data is backed up: every disk becomes a
//! real Longhorn backup on the target, the VMBackup becomes ready, and its
//! metadata file is on the target for other clusters.

mod common;

use common::*;
use vmbackup_sim::LonghornVersion;

#[test]
fn a_vm_with_two_disks_is_backed_up_to_the_target() {
    let world = World::new();
    let mut a = world.cluster("cluster-a", LonghornVersion::V1_8, 0);
    let digests = vm_with_data(&mut a, "default", "vm1");
    assert_eq!(digests.len(), 2);

    back_up(&mut a, "default", "vm1", "vm1-backup");

    let lhbs = longhorn_backups(&a, "default", "vm1-backup");
    assert_eq!(lhbs.len(), 2, "one Longhorn backup per disk");
    let vmb = a.vmbackup("default", "vm1-backup").unwrap();
    for vb in vmb.volume_backups() {
        let volume = vb.pv_name().unwrap();
        let backup = vb.longhorn_backup_name.as_deref().unwrap();
        assert!(
            world.target.has_backup(volume, backup).unwrap(),
            "{volume}/{backup} on the target"
        );
    }
    let meta = world
        .target
        .run(
            world
                .target
                .store()
                .read_vm_backup_metadata("default", "vm1-backup"),
        )
        .unwrap();
    assert!(meta.is_some(), "metadata file written");
    assert!(
        a.controller().failures().is_empty(),
        "{:#?}",
        a.controller().failures()
    );
}

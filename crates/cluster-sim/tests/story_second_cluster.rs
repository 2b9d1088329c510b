//! A second cluster configured with the same backup target rediscovers the
//! first cluster's backups once Longhorn has synced them, with contents
//! whose handles name the right Longhorn volume, and restores a VM from
//! them byte for byte.

mod common;

use common::*;
use vmbackup_sim::LonghornVersion;

#[test]
fn a_second_cluster_rediscovers_the_backup_from_the_shared_target_and_restores_it() {
    let world = World::new();
    let mut a = world.cluster("cluster-a", LonghornVersion::V1_8, 0);
    let digests = vm_with_data(&mut a, "default", "vm1");
    back_up(&mut a, "default", "vm1", "vm1-backup");
    let ids = backup_ids(&a, "default", "vm1-backup");

    let mut b = world.cluster("cluster-b", LonghornVersion::V1_8, 60);
    let vmb = b
        .vmbackup("default", "vm1-backup")
        .expect("cluster-b rediscovered the backup");
    assert!(vmb.is_ready(), "{:#?}", vmb.status);
    let mut found = handles(&b, "default", "vm1-backup");
    found.sort();
    let mut expected: Vec<String> = ids
        .iter()
        .map(|(volume, backup)| format!("bak://{volume}/{backup}"))
        .collect();
    expected.sort();
    assert_eq!(found, expected, "contents name the Longhorn volumes");

    // The source VM does not exist on cluster-b: the restore makes it.
    assert!(b.vm("default", "vm1").is_none());
    b.restore_vm("default", "r1", "default", "vm1-backup", "vm1", true)
        .unwrap();
    restored(&mut b, "default", "r1");
    assert!(b.vm_running("default", "vm1"));
    assert_eq!(b.vm_disk_sha256("default", "vm1").unwrap(), digests);
    assert_sound(&world, &b, "default", "vm1-backup", &ids, "cluster-b");
    assert_sound(&world, &a, "default", "vm1-backup", &ids, "cluster-a");
}

//! The backup target is disconnected: Longhorn reports it unavailable,
//! vmbackup marks the backups on it not ready (with the reason) and treats
//! none of them as deleted. Once it is reconnected they are ready again
//! and restore as before.

mod common;

use std::time::Duration;

use common::*;
use vmbackup_engine::Code;
use vmbackup_sim::LonghornVersion;

#[test]
fn backups_go_not_ready_while_the_target_is_disconnected_and_ready_again_after() {
    let world = World::new();
    let mut a = world.cluster("cluster-a", LonghornVersion::V1_8, 60);
    let digests = vm_with_data(&mut a, "default", "vm1");
    back_up(&mut a, "default", "vm1", "vm1-backup");
    let ids = backup_ids(&a, "default", "vm1-backup");

    world.target.set_available(false);
    a.advance(Duration::from_secs(61)).unwrap();
    let vmb = a.vmbackup("default", "vm1-backup").unwrap();
    assert!(!vmb.is_ready());
    let reason = vmb.condition("Ready").unwrap().reason.clone().unwrap();
    assert!(reason.contains("cannot reach backup target"), "{reason}");
    let findings = a.controller().findings();
    assert!(findings.iter().any(|f| f.code == Code::TargetUnavailable));
    assert!(findings.iter().any(|f| f.code == Code::VmbackupNotReady));
    assert_eq!(
        a.longhorn_backup_ids().len(),
        ids.len(),
        "no backup is treated as deleted"
    );
    let bt = a
        .store()
        .get_as::<vmbackup_api::longhorn::BackupTarget>("longhorn-system", "default")
        .unwrap();
    assert!(!bt.is_available(), "Longhorn sees the target down too");

    world.target.set_available(true);
    a.advance(Duration::from_secs(61)).unwrap();
    assert_sound(&world, &a, "default", "vm1-backup", &ids, "after reconnect");
    a.create_namespace("team-b").unwrap();
    a.restore_vm("team-b", "r1", "default", "vm1-backup", "vm1", true)
        .unwrap();
    restored(&mut a, "team-b", "r1");
    assert_eq!(a.vm_disk_sha256("team-b", "vm1").unwrap(), digests);
}

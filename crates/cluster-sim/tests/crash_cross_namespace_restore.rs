//! The controller crashes right after every single action of a restore
//! into another namespace and starts again from a fresh view; every time
//! the restore completes with the backed-up bytes, no Longhorn backup is
//! lost, no backup has two working contents in one namespace, and the
//! VMBackup stays ready.

mod common;

use common::*;
use vmbackup_sim::LonghornVersion;

#[test]
fn a_crash_after_any_action_of_a_cross_namespace_restore_converges_intact() {
    let world = World::new();
    let mut base = world.cluster("cluster-a", LonghornVersion::V1_8, 0);
    let digests = vm_with_data(&mut base, "default", "vm1");
    back_up(&mut base, "default", "vm1", "vm1-backup");
    let kept = backup_ids(&base, "default", "vm1-backup");
    base.create_namespace("team-b").unwrap();
    base.run_until_settled().unwrap();

    let (_w, mut clean) = world.fork(&base);
    clean
        .restore_vm("team-b", "r1", "default", "vm1-backup", "vm1", true)
        .unwrap();
    restored(&mut clean, "team-b", "r1");
    let actions = clean.controller().executed().len();
    assert!(actions >= 8, "a restore is many actions, got {actions}");

    for k in 1..=actions {
        let (w, mut c) = world.fork(&base);
        c.restore_vm("team-b", "r1", "default", "vm1-backup", "vm1", true)
            .unwrap();
        c.controller_mut().crash_after(k);
        restored(&mut c, "team-b", "r1");
        assert_eq!(
            c.controller().crashes(),
            1,
            "crash after action {k} happened"
        );
        let context = format!("crash after action {k} of {actions}");
        assert!(c.vm_running("team-b", "vm1"), "{context}");
        assert_eq!(
            c.vm_disk_sha256("team-b", "vm1").unwrap(),
            digests,
            "{context}"
        );
        assert_sound(&w, &c, "default", "vm1-backup", &kept, &context);
    }
}

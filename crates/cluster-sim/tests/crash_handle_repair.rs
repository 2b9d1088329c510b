//! The controller crashes right after every single action of a handle
//! repair and starts again from a fresh view; every time the cluster
//! converges with no Longhorn backup lost, at most one working content per
//! backup and namespace, the VMBackup ready, and a restore giving back the
//! backed-up bytes.

mod common;

use std::collections::BTreeSet;

use common::*;
use vmbackup_engine::RepairScope;
use vmbackup_sim::{Cluster, LonghornVersion};

fn repair(c: &mut Cluster) {
    c.controller_mut().options_mut().repair = RepairScope::Only(BTreeSet::from([(
        "default".to_owned(),
        "vm2-nightly".to_owned(),
    )]));
}

#[test]
fn a_crash_after_any_action_of_a_handle_repair_converges_intact() {
    // An old cluster's backup with legacy handles, on Longhorn 1.8.
    let world = World::new();
    let mut base = world.cluster("cluster-a", LonghornVersion::V1_7, 0);
    let digests = vm_with_data(&mut base, "default", "vm2");
    back_up(&mut base, "default", "vm2", "vm2-nightly");
    let kept = backup_ids(&base, "default", "vm2-nightly");
    let lost = backup_objects(&base, "default", "vm2-nightly");
    base.lose(&lost);
    base.legacy_rediscover("default", "vm2-nightly").unwrap();
    base.run_until_settled().unwrap();
    base.set_longhorn_version(LonghornVersion::V1_8).unwrap();
    base.run_until_settled().unwrap();
    base.create_namespace("team-b").unwrap();

    // Without a crash, the repair takes this many actions.
    let (_w, mut clean) = world.fork(&base);
    repair(&mut clean);
    let actions = clean.run_until_settled().unwrap().actions;
    assert!(actions >= 4, "a repair is several actions, got {actions}");

    for k in 1..=actions {
        let (w, mut c) = world.fork(&base);
        repair(&mut c);
        c.controller_mut().crash_after(k);
        c.run_until_settled().unwrap();
        assert_eq!(
            c.controller().crashes(),
            1,
            "crash after action {k} happened"
        );
        let context = format!("crash after action {k} of {actions}");
        assert_sound(&w, &c, "default", "vm2-nightly", &kept, &context);
        assert!(
            handles(&c, "default", "vm2-nightly")
                .iter()
                .all(|h| h.starts_with("bak://pvc-")),
            "{context}: {:?}",
            handles(&c, "default", "vm2-nightly")
        );
        // The repaired backup restores into another namespace, byte for byte.
        c.restore_vm("team-b", "r", "default", "vm2-nightly", "vm2", true)
            .unwrap();
        restored(&mut c, "team-b", "r");
        assert_eq!(
            c.vm_disk_sha256("team-b", "vm2").unwrap(),
            digests,
            "{context}"
        );
        assert_sound(&w, &c, "default", "vm2-nightly", &kept, &context);
    }
}

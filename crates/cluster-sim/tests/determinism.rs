//! The simulation is deterministic: the same story run twice gives the same
//! objects (names, UIDs, resource versions), the same actions at the same
//! simulated times, and the same Longhorn backups.
#![allow(clippy::unwrap_used)]

mod common;

use common::*;
use vmbackup_sim::{Cluster, LonghornVersion};

fn story() -> (World, Cluster) {
    let world = World::new();
    let mut a = world.cluster("cluster-a", LonghornVersion::V1_8, 0);
    vm_with_data(&mut a, "default", "vm1");
    back_up(&mut a, "default", "vm1", "vm1-backup");
    a.create_namespace("team-b").unwrap();
    a.restore_vm("team-b", "r1", "default", "vm1-backup", "vm1", true)
        .unwrap();
    restored(&mut a, "team-b", "r1");
    (world, a)
}

fn actions(c: &Cluster) -> Vec<String> {
    c.controller()
        .executed()
        .iter()
        .map(|e| format!("{} {}", e.time, e.step))
        .collect()
}

fn objects(c: &Cluster) -> Vec<String> {
    c.store()
        .objects()
        .map(|o| {
            let m = o.meta();
            format!(
                "{} uid={:?} rv={:?}",
                o.reference(),
                m.uid,
                m.resource_version
            )
        })
        .collect()
}

#[test]
fn the_same_story_twice_gives_the_same_cluster() {
    let (_w1, first) = story();
    let (_w2, second) = story();
    assert_eq!(actions(&first), actions(&second));
    assert_eq!(objects(&first), objects(&second));
    assert_eq!(first.longhorn_backup_ids(), second.longhorn_backup_ids());
    assert_eq!(first.clock(), second.clock());
}

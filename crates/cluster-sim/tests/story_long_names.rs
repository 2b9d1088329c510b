//! A VM whose name is longer than 63 characters: every object made for its
//! backup and restore is a valid Kubernetes object (the API server refuses
//! anything else) and the names Harvester shortens are shortened. A restore
//! that would give the new VM that name is refused up front (the name
//! becomes a label value, limited to 63 characters) with nothing created;
//! under a shorter name the VM restores into another namespace byte for
//! byte.

mod common;

use common::*;
use vmbackup_sim::LonghornVersion;

#[test]
fn a_vm_with_a_name_past_63_characters_is_backed_up_and_restored() {
    let vm = format!("{}vm", "long-name-".repeat(7));
    assert!(vm.len() > 63, "{}", vm.len());
    let backup = format!("{vm}-backup");
    let world = World::new();
    let mut a = world.cluster("cluster-a", LonghornVersion::V1_8, 0);
    let digests = vm_with_data(&mut a, "default", &vm);
    back_up(&mut a, "default", &vm, &backup);
    let ids = backup_ids(&a, "default", &backup);

    a.create_namespace("team-b").unwrap();
    a.restore_vm("team-b", "same-name", "default", &backup, &vm, true)
        .unwrap();
    a.run_until_settled().unwrap();
    let refused = a.vmrestore("team-b", "same-name").unwrap();
    assert!(!refused.is_complete());
    let why = refused.condition("Ready").unwrap().message.clone().unwrap();
    assert!(why.contains("63 characters"), "{why}");
    assert!(
        a.store()
            .list::<vmbackup_sim::typed::Pvc>()
            .all(|p| p.metadata.namespace.as_deref() != Some("team-b")),
        "nothing was created for the refused restore"
    );

    let restore = format!("restore-{vm}");
    a.restore_vm("team-b", &restore, "default", &backup, "vm-restored", true)
        .unwrap();
    restored(&mut a, "team-b", &restore);
    assert!(a.vm_running("team-b", "vm-restored"));
    assert_eq!(a.vm_disk_sha256("team-b", "vm-restored").unwrap(), digests);
    assert_sound(&world, &a, "default", &backup, &ids, "long names");
    assert!(
        a.controller().failures().is_empty(),
        "the API server refused nothing vmbackup sent: {:#?}",
        a.controller().failures()
    );
    assert!(backup.len() > 63 && a.vmbackup("default", &backup).is_some());
    // Cross-namespace restore objects are named by SafeConcatName.
    let restore_contents: Vec<String> = a
        .controller()
        .executed()
        .iter()
        .filter_map(|e| match &e.step.action {
            vmbackup_engine::Action::Create { object }
                if object.kind() == vmbackup_engine::Kind::VolumeSnapshotContent =>
            {
                Some(object.reference().name)
            }
            _ => None,
        })
        .filter(|n| n.starts_with("restore-team-b-"))
        .collect();
    assert_eq!(restore_contents.len(), 2, "{restore_contents:?}");
    assert!(
        restore_contents.iter().all(|n| n.len() == 63),
        "{restore_contents:?}"
    );
}

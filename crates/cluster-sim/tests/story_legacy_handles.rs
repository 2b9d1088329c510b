//! An old cluster (Longhorn 1.7, Harvester before 1.5) rediscovered a
//! backup with handles `bs://<PVC name>/<backup>`. Longhorn 1.7 ignores the
//! PVC name, so nobody noticed. After the upgrade to Longhorn 1.8 a restore
//! through those handles fails with Longhorn's NotFound; vmbackup repairs
//! the handles and restores, and no Longhorn backup is lost.

mod common;

use std::collections::BTreeSet;

use common::*;
use vmbackup_engine::{Code, Kind, ObjectRef, RepairScope};
use vmbackup_sim::LonghornVersion;

#[test]
fn a_legacy_backup_fails_the_naive_restore_on_longhorn_1_8_and_vmbackup_repairs_and_restores_it() {
    let world = World::new();
    let mut a = world.cluster("cluster-a", LonghornVersion::V1_7, 0);
    let digests = vm_with_data(&mut a, "default", "vm2");
    back_up(&mut a, "default", "vm2", "vm2-nightly");
    let lhbs = longhorn_backups(&a, "default", "vm2-nightly");

    // The cluster loses its backup objects and the old Harvester
    // rediscovers the backup from the target, the old way.
    let lost = backup_objects(&a, "default", "vm2-nightly");
    a.lose(&lost);
    a.legacy_rediscover("default", "vm2-nightly").unwrap();
    a.run_until_settled().unwrap();
    assert!(a.vmbackup("default", "vm2-nightly").unwrap().is_ready());
    let claims = a.vm_claims("default", "vm2").unwrap();
    let legacy: BTreeSet<String> = handles(&a, "default", "vm2-nightly").into_iter().collect();
    for (lhb, claim) in lhbs.iter().zip(claims.values()) {
        assert!(
            legacy.contains(&format!("bs://{claim}/{lhb}")),
            "{legacy:?}"
        );
    }

    // On Longhorn 1.7 a restore through those handles works.
    a.create_namespace("team-old").unwrap();
    let pvcs = a
        .legacy_restore("default", "vm2-nightly", "team-old", "old")
        .unwrap();
    a.run_until_settled().unwrap();
    for pvc in &pvcs {
        assert!(a.volume_file("team-old", pvc).is_ok(), "{pvc} bound on 1.7");
    }
    a.legacy_restore_cleanup("team-old", "old").unwrap();
    a.run_until_settled().unwrap();

    // Longhorn is upgraded to 1.8: the same restore now fails with the
    // driver's NotFound, and the PVCs stay Pending.
    a.set_longhorn_version(LonghornVersion::V1_8).unwrap();
    a.run_until_settled().unwrap();
    assert!(
        a.controller()
            .findings()
            .iter()
            .any(|f| f.code == Code::LegacyHandle),
        "{:#?}",
        a.controller().findings()
    );
    a.create_namespace("team-b").unwrap();
    let pvcs = a
        .legacy_restore("default", "vm2-nightly", "team-b", "naive")
        .unwrap();
    a.run_until_settled().unwrap();
    for (pvc, claim) in pvcs.iter().zip(claims.values()) {
        assert!(
            a.volume_file("team-b", pvc).is_err(),
            "{pvc} must stay Pending"
        );
        let events = a.event_messages(&ObjectRef::namespaced(
            Kind::PersistentVolumeClaim,
            "team-b",
            pvc,
        ));
        assert!(
            events.iter().any(|e| e.contains("code = NotFound")
                && e.contains(&format!("of volume {claim}: there is no backup volume"))),
            "{events:#?}"
        );
    }
    assert!(
        a.events().logs().iter().any(|l| l
            .message
            .starts_with("cannot find backup volume for volume vm2-")),
        "the CSI plugin logs what Longhorn logs"
    );
    a.legacy_restore_cleanup("team-b", "naive").unwrap();
    a.run_until_settled().unwrap();

    // vmbackup repairs the handles of that backup...
    a.controller_mut().options_mut().repair = RepairScope::Only(BTreeSet::from([(
        "default".to_owned(),
        "vm2-nightly".to_owned(),
    )]));
    a.run_until_settled().unwrap();
    let vmb = a.vmbackup("default", "vm2-nightly").unwrap();
    assert!(vmb.is_ready());
    let repaired = handles(&a, "default", "vm2-nightly");
    assert_eq!(repaired.len(), 2);
    assert!(
        repaired.iter().all(|h| h.starts_with("bak://pvc-")),
        "{repaired:?}"
    );
    assert!(
        !a.controller()
            .findings()
            .iter()
            .any(|f| f.code == Code::LegacyHandle),
        "{:#?}",
        a.controller().findings()
    );
    // ... without losing a Longhorn backup ...
    assert_eq!(longhorn_backups(&a, "default", "vm2-nightly"), lhbs);
    for vb in vmb.volume_backups() {
        let (volume, backup) = (
            vb.pv_name().unwrap(),
            vb.longhorn_backup_name.as_deref().unwrap(),
        );
        assert!(world.target.has_backup(volume, backup).unwrap());
    }

    // ... and restores it into the other namespace, byte for byte.
    a.restore_vm("team-b", "r-vm2", "default", "vm2-nightly", "vm2", true)
        .unwrap();
    restored(&mut a, "team-b", "r-vm2");
    assert!(a.vm_running("team-b", "vm2"));
    assert_eq!(a.vm_disk_sha256("team-b", "vm2").unwrap(), digests);
}

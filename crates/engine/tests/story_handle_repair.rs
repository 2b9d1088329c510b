//! DESIGN.md: legacy objects whose handle is `bs://<PVC name>/<backup>` are
//! detected and repaired without losing a byte.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::*;
use vmbackup_engine::{Action, Code, Kind, Options, RepairScope, View, plan};

const VMB: &str = "vm1-b1";
const VB: &str = "vm1-b1-volume-vm1-disk-0-abcde";
const PV: &str = "pvc-5b1c3e8e-2f7a-4c0e-9d7e-1b2c3d4e5f60";
const LHB: &str = "backup-70d260245e9e415a";

fn legacy_cluster() -> View {
    View::complete([
        setting_nfs(Some(0)),
        lh_target(true),
        storage_class("longhorn"),
        namespace("default"),
        lh_backup(LHB, PV),
        backup_volume(PV),
        pvc("vm1-disk-0-abcde", "default", PV),
        ready_vmbackup(VMB, vec![vb(VMB, "vm1-disk-0-abcde", PV, Some(LHB), true)]),
        owned_snapshot(VMB, VB, &format!("{VB}-vsc")),
        content(
            &format!("{VB}-vsc"),
            &format!("bs://vm1-disk-0-abcde/{LHB}"),
            "Delete",
            VB,
        ),
    ])
}

#[test]
fn a_legacy_handle_is_reported_with_its_fix() {
    let p = plan(&legacy_cluster(), &not_read(), now(), &Options::default());
    let f = p
        .findings
        .iter()
        .find(|f| f.code == Code::LegacyHandle)
        .expect("legacy-handle finding");
    assert_eq!(f.object.kind, Kind::VolumeSnapshotContent);
    assert!(f.message.contains("vm1-disk-0-abcde"), "{}", f.message);
    assert!(f.fix.contains(&format!("bak://{PV}/{LHB}")), "{}", f.fix);
    // Without a restore needing it and without a request, nothing changes.
    assert!(p.steps.is_empty(), "{:#?}", summary(&p));
}

#[test]
fn repair_creates_a_correct_pair_relinks_and_retires_the_old_one_retain_first() {
    let options = Options {
        repair: RepairScope::All,
        ..Options::default()
    };
    let view = legacy_cluster();
    let (p, after, target) = plan_and_apply(&view, &not_read(), &options);
    let new_vb = format!("{VB}-snap-revise");
    assert_eq!(
        summary(&p),
        [
            format!("create VolumeSnapshotContent {new_vb}-vsc"),
            format!("create VolumeSnapshot {new_vb}"),
            format!("patch VirtualMachineBackup {VMB}"),
            format!("patch VolumeSnapshotContent {VB}-vsc"),
            format!("delete VolumeSnapshot {VB}"),
            format!("delete VolumeSnapshotContent {VB}-vsc"),
        ]
    );
    let Action::Create { object } = &p.steps[0].action else {
        panic!()
    };
    let json = object.to_value();
    assert_eq!(
        json["spec"]["source"]["snapshotHandle"],
        format!("bak://{PV}/{LHB}")
    );
    assert_eq!(json["spec"]["deletionPolicy"], "Delete");
    let Action::Patch { patch, .. } = &p.steps[3].action else {
        panic!()
    };
    assert_eq!(patch["spec"]["deletionPolicy"], "Retain");

    // The VMBackup points at the new pair; the Longhorn backup is untouched.
    let vmb = after.vmbackup("default", VMB).unwrap();
    assert_eq!(
        vmb.volume_backups()[0].name.as_deref(),
        Some(new_vb.as_str())
    );
    assert_eq!(
        vmb.volume_backups()[0].longhorn_backup_name.as_deref(),
        Some(LHB)
    );
    assert!(after.longhorn_backup(LHB).is_some());
    assert!(after.snapshot("default", VB).is_none());

    // Applying the plan and planning again gives nothing new.
    let again = plan(&after, &target, now(), &options);
    assert!(again.steps.is_empty(), "{:#?}", summary(&again));
    assert!(
        !again.findings.iter().any(|f| f.code == Code::LegacyHandle),
        "{:#?}",
        again.findings
    );
}

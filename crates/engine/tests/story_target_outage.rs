//! A backup target that cannot be listed makes the backups on it not ready
//! (Harvester's check: the error is the reason), and they are ready again
//! once a listing shows their data. A VolumeSnapshot whose content was lost
//! is replaced by one bound to the Longhorn backup, so the backup recovers
//! instead of failing for good.

mod support;

use support::*;
use vmbackup_engine::{Action, Options, TargetFacts, TargetState, View, plan};

const VMB: &str = "vm1-b1";
const VB: &str = "vm1-b1-volume-vm1-disk-0-abcde";
const PV: &str = "pvc-5b1c3e8e-2f7a-4c0e-9d7e-1b2c3d4e5f60";
const LHB: &str = "backup-70d260245e9e415a";

fn cluster_with_a_ready_backup() -> View {
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
            &format!("bak://{PV}/{LHB}"),
            "Delete",
            VB,
        ),
    ])
}

fn unreachable() -> TargetFacts {
    TargetFacts {
        url: NFS.to_owned(),
        state: TargetState::Unavailable {
            reason: "connection timed out".into(),
        },
    }
}

#[test]
fn backups_go_not_ready_while_the_target_is_unreachable_and_come_back() {
    let options = Options::default();
    let (p, down, _) = plan_and_apply(&cluster_with_a_ready_backup(), &unreachable(), &options);
    assert!(
        summary(&p).contains(&format!("patch-status VirtualMachineBackup {VMB}")),
        "{:#?}",
        summary(&p)
    );
    let vmb = down.vmbackup("default", VMB).unwrap();
    assert!(!vmb.is_ready());
    let ready = vmb.condition("Ready").unwrap();
    assert_eq!(ready.reason.as_deref(), Some("connection timed out"));
    // Nothing else is touched: no snapshot, content or Longhorn backup.
    assert!(
        p.actions()
            .all(|a| matches!(a, Action::PatchStatus { .. } | Action::Patch { .. })),
        "{:#?}",
        summary(&p)
    );
    let again = plan(&down, &unreachable(), now(), &options);
    assert!(
        !summary(&again)
            .iter()
            .any(|s| s.contains("VirtualMachineBackup")),
        "stable while down: {:#?}",
        summary(&again)
    );

    let (_, up, _) = plan_and_apply(&down, &listing(&[(PV, LHB)]), &options);
    assert!(up.vmbackup("default", VMB).unwrap().is_ready());
}

#[test]
fn a_snapshot_whose_content_was_lost_is_rebound_to_the_longhorn_backup() {
    let lost = cluster_with_a_ready_backup()
        .objects()
        .into_iter()
        .filter(|o| o.kind() != vmbackup_engine::Kind::VolumeSnapshotContent)
        .collect::<Vec<_>>();
    let view = View::complete(lost);
    let options = Options::default();
    let (p, after, facts) = plan_and_apply(&view, &not_read(), &options);
    assert!(
        summary(&p).contains(&format!("delete VolumeSnapshot {VB}")),
        "{:#?}",
        summary(&p)
    );
    let vmb = after.vmbackup("default", VMB).unwrap();
    assert!(
        vmb.status.as_ref().unwrap().error.is_none(),
        "no error recorded"
    );
    // The snapshot is gone: the next plan binds a new one to a content
    // with the right handle.
    let (p2, after2, _) = plan_and_apply(&after, &facts, &options);
    let created = p2
        .actions()
        .find_map(|a| match a {
            Action::Create { object }
                if object.kind() == vmbackup_engine::Kind::VolumeSnapshotContent =>
            {
                Some(object.to_value())
            }
            _ => None,
        })
        .expect("a new content");
    assert_eq!(
        created["spec"]["source"]["snapshotHandle"],
        format!("bak://{PV}/{LHB}")
    );
    assert!(after2.snapshot("default", VB).is_some());
}

#[test]
fn an_untrusted_listing_leaves_ready_backups_alone() {
    let empty = TargetFacts {
        url: NFS.to_owned(),
        state: TargetState::Listed(vmbackup_engine::target::TargetListing {
            complete: true,
            ..Default::default()
        }),
    };
    let p = plan(
        &cluster_with_a_ready_backup(),
        &empty,
        now(),
        &Options::default(),
    );
    assert!(
        !summary(&p)
            .iter()
            .any(|s| s.contains("VirtualMachineBackup")),
        "{:#?}",
        summary(&p)
    );
}

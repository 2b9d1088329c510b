//! DESIGN.md, the rest of the story: a second cluster that shares the
//! backup target rediscovers the backups and restores them; a target that
//! disconnects and reconnects; backups whose data leaves the target and
//! returns; recovery after the snapshot objects were lost; and periodic
//! rediscovery on and off.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use chrono::Duration;
use support::world::*;
use support::{lh_target, namespace, setting_nfs, storage_class};
use vmbackup_engine::context::ANNOTATION_SYNC_REQUESTED_AT;
use vmbackup_engine::{Action, Code, Kind, Object, ObjectRef, Severity};

const NS: &str = "default";

/// Cluster A with VM `vm1` backed up as `vm1-b1`.
fn cluster_a() -> World {
    let mut a = World::new(cluster(NS, "vm1", 2, Some(0)));
    a.put(vec![new_vmbackup(NS, "vm1-b1", "vm1")]);
    a.run(10);
    assert!(a.view.vmbackup(NS, "vm1-b1").unwrap().is_ready());
    a
}

/// A second, empty cluster configured with the same backup target.
fn cluster_b(shared: &World, refresh: Option<i64>) -> World {
    let mut b = World::new(vec![
        setting_nfs(refresh),
        lh_target(true),
        storage_class("longhorn"),
        namespace(NS),
        support::backup_snapshot_class(),
    ]);
    b.target = shared.target.clone();
    b
}

fn created_contents(w: &World) -> Vec<serde_json::Value> {
    w.plans
        .iter()
        .flat_map(|p| &p.steps)
        .filter_map(|s| match &s.action {
            Action::Create { object } if object.kind() == Kind::VolumeSnapshotContent => {
                Some(object.to_value())
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_second_cluster_sharing_the_target_rediscovers_the_backup_and_restores_it_in_another_namespace()
{
    let a = cluster_a();
    let mut b = cluster_b(&a, Some(0));
    b.run(10);
    let vmb = b.view.vmbackup(NS, "vm1-b1").expect("rediscovered");
    assert!(vmb.is_ready(), "{:#?}", vmb.status);
    let original = a.view.vmbackup(NS, "vm1-b1").unwrap();
    // Every content made for it names the Longhorn volume of its backup.
    let contents = created_contents(&b);
    assert_eq!(contents.len(), 2);
    for vb in original.volume_backups() {
        let handle = format!(
            "bak://{}/{}",
            vb.pv_name().unwrap(),
            vb.longhorn_backup_name.as_deref().unwrap()
        );
        assert!(
            contents
                .iter()
                .any(|c| c["spec"]["source"]["snapshotHandle"] == handle.as_str()),
            "{handle} in {contents:#?}"
        );
    }
    // And it restores into a namespace of this cluster.
    b.put(vec![
        namespace("dr"),
        new_vmrestore("dr", "r1", NS, "vm1-b1", "vm1", true, None),
    ]);
    let last = b.run(20);
    let vmr = b.view.vmrestores().values().next().unwrap();
    assert!(vmr.is_complete(), "{:#?}", vmr.status);
    assert!(b.view.vm("dr", "vm1").is_some());
    assert!(
        last.findings.iter().all(|f| f.severity < Severity::Warning),
        "{:#?}",
        last.findings
    );
}

#[test]
fn disconnecting_the_target_makes_backups_not_ready_and_reconnecting_makes_them_ready_again() {
    let mut a = cluster_a();
    let lhbs: Vec<String> = a
        .view
        .longhorn_backups()
        .keys()
        .map(str::to_owned)
        .collect();
    a.target_online = false;
    let p = a.turn();
    assert!(p.findings.iter().any(|f| f.code == Code::TargetUnavailable));
    // An unreachable target says nothing about the data: no finding calls
    // it missing or advises deleting a backup.
    for f in p
        .findings
        .iter()
        .filter(|f| f.code == Code::TargetUnavailable)
    {
        assert!(!f.fix.contains("delete"), "{f:#?}");
        assert!(!f.message.contains("missing data"), "{f:#?}");
    }
    a.run(5);
    let vmb = a.view.vmbackup(NS, "vm1-b1").unwrap();
    assert!(!vmb.is_ready());
    let ready = vmb.condition("Ready").unwrap();
    assert_eq!(ready.reason.as_deref(), Some("connection refused"));
    assert_eq!(ready.message.as_deref(), Some("Change back to non-ready"));
    // Not ready is not deleted: every object and every backup is still there.
    assert_eq!(
        a.view
            .longhorn_backups()
            .keys()
            .map(str::to_owned)
            .collect::<Vec<_>>(),
        lhbs
    );
    assert_eq!(vmb.volume_backups().len(), 2);
    let setting = a.view.setting("backup-target").unwrap();
    assert!(
        setting
            .metadata
            .annotations
            .as_ref()
            .unwrap()
            .contains_key("vmbackup.io/target-unavailable-since")
    );
    // A restore waits meanwhile.
    a.put(vec![new_vmrestore(
        NS, "r1", NS, "vm1-b1", "vm2", true, None,
    )]);
    a.run(5);
    assert!(a.view.pvc(NS, "restore-vm1-b1-uid-r1-disk-0").is_none());
    assert!(!a.view.vmrestores().values().next().unwrap().is_failed());
    // An empty listing while backups are known proves nothing either way.
    a.target_online = true;
    let saved = a.target.clone();
    *a.listing() = vmbackup_engine::target::TargetListing {
        complete: true,
        ..Default::default()
    };
    let p = a.turn();
    assert!(p.findings.iter().any(|f| f.code == Code::TargetUnavailable));
    assert!(
        a.view
            .vmbackup(NS, "vm1-b1")
            .unwrap()
            .volume_backups()
            .len()
            == 2
    );
    // Back: the sync runs again, the backup is ready, the restore goes on.
    a.target = saved;
    let p = a.turn();
    assert!(
        p.steps
            .iter()
            .any(|s| s.reason.contains("the backup target was unavailable")),
        "{:#?}",
        p.steps
    );
    a.run(20);
    let setting = a.view.setting("backup-target").unwrap();
    assert!(
        !setting
            .metadata
            .annotations
            .as_ref()
            .unwrap()
            .contains_key("vmbackup.io/target-unavailable-since")
    );
    assert!(a.view.vmbackup(NS, "vm1-b1").unwrap().is_ready());
    assert!(a.view.vmrestores().values().next().unwrap().is_complete());
}

#[test]
fn a_backup_whose_data_leaves_the_target_is_not_ready_and_ready_again_when_it_returns() {
    let mut a = cluster_a();
    let vb = a.view.vmbackup(NS, "vm1-b1").unwrap().volume_backups()[1].clone();
    let pv = vb.pv_name().unwrap().to_owned();
    let saved = a.listing().volumes.remove(&pv).unwrap();
    a.options.sync_now = true;
    a.run(5);
    let vmb = a.view.vmbackup(NS, "vm1-b1").unwrap();
    assert!(!vmb.is_ready());
    let ready = vmb.condition("Ready").unwrap();
    assert_eq!(
        ready.reason.as_deref(),
        Some(format!("cannot find volume {pv} in the backup target").as_str())
    );
    let p = a.plan();
    assert!(p.findings.iter().any(|f| f.code == Code::VmbackupNotReady));
    // A restore waits meanwhile.
    a.put(vec![new_vmrestore(
        NS, "r1", NS, "vm1-b1", "vm2", true, None,
    )]);
    let p = a.turn();
    assert!(
        p.findings
            .iter()
            .any(|f| f.code == Code::RestoreBlocked && f.message.contains("not ready")),
        "{:#?}",
        p.findings
    );
    assert!(a.view.pvc(NS, "restore-vm1-b1-uid-r1-disk-0").is_none());
    // The data returns: ready again, and the restore goes on.
    a.listing().volumes.insert(pv, saved);
    a.run(20);
    assert!(a.view.vmbackup(NS, "vm1-b1").unwrap().is_ready());
    assert!(a.view.vmrestores().values().next().unwrap().is_complete());
}

#[test]
fn after_losing_the_snapshot_objects_a_backup_gets_contents_with_correct_handles_again() {
    let mut a = cluster_a();
    let vmb = a.view.vmbackup(NS, "vm1-b1").unwrap().clone();
    let lost: Vec<ObjectRef> = a
        .view
        .objects()
        .into_iter()
        .filter(|o| matches!(o.kind(), Kind::VolumeSnapshot | Kind::VolumeSnapshotContent))
        .map(|o| o.reference())
        .collect();
    assert_eq!(lost.len(), 4);
    a.remove(&lost);
    a.plans.clear();
    a.run(10);
    let after = a.view.vmbackup(NS, "vm1-b1").unwrap();
    assert!(after.is_ready(), "{:#?}", after.status);
    let contents = created_contents(&a);
    assert_eq!(contents.len(), 2);
    for vb in vmb.volume_backups() {
        let name = format!("{}-vsc", vb.name.as_deref().unwrap());
        let c = a.view.content(&name).expect("new content");
        assert_eq!(
            c.snapshot_handle(),
            Some(
                format!(
                    "bak://{}/{}",
                    vb.pv_name().unwrap(),
                    vb.longhorn_backup_name.as_deref().unwrap()
                )
                .as_str()
            )
        );
    }
    // The whole cluster lost (VMBackups too): the same cluster rediscovers them.
    let everything: Vec<ObjectRef> = a
        .view
        .objects()
        .into_iter()
        .filter(|o| {
            matches!(
                o.kind(),
                Kind::VolumeSnapshot | Kind::VolumeSnapshotContent | Kind::VirtualMachineBackup
            )
        })
        .map(|o| o.reference())
        .collect();
    a.remove(&everything);
    a.options.sync_now = true;
    a.run(10);
    assert!(a.view.vmbackup(NS, "vm1-b1").unwrap().is_ready());
    a.options.sync_now = false;
    a.put(vec![new_vmrestore(
        NS, "r1", NS, "vm1-b1", "vm2", true, None,
    )]);
    a.run(20);
    assert!(a.view.vmrestores().values().next().unwrap().is_complete());
}

/// Cluster A takes a second backup after B synced: B sees it only when a
/// rediscovery runs.
fn second_backup_written(b: &mut World) -> World {
    let mut a = cluster_a();
    b.target = a.target.clone();
    b.run(10);
    assert!(b.view.vmbackup(NS, "vm1-b1").is_some());
    a.put(vec![new_vmbackup(NS, "vm1-b2", "vm1")]);
    a.run(10);
    b.target = a.target.clone();
    a
}

#[test]
fn with_refresh_interval_zero_rediscovery_runs_only_on_triggers_and_says_so() {
    let mut b = cluster_b(&World::new(Vec::<Object>::new()), Some(0));
    second_backup_written(&mut b);
    b.now += Duration::hours(6);
    let p = b.run(5);
    assert!(b.view.vmbackup(NS, "vm1-b2").is_none());
    let f = p
        .findings
        .iter()
        .find(|f| f.code == Code::RefreshDisabled)
        .expect("refresh-disabled finding");
    assert!(f.fix.contains("refreshIntervalInSeconds"), "{}", f.fix);
    // The fix names the way to ask for a rediscovery that exists: the
    // annotation, not a command.
    assert!(f.fix.contains(ANNOTATION_SYNC_REQUESTED_AT), "{}", f.fix);
    // On request it runs.
    b.options.sync_now = true;
    b.run(10);
    assert!(b.view.vmbackup(NS, "vm1-b2").unwrap().is_ready());
}

#[test]
fn with_a_refresh_interval_rediscovery_runs_periodically() {
    let mut b = cluster_b(&World::new(Vec::<Object>::new()), Some(300));
    second_backup_written(&mut b);
    let p = b.run(5);
    assert!(b.view.vmbackup(NS, "vm1-b2").is_none());
    assert!(!p.findings.iter().any(|f| f.code == Code::RefreshDisabled));
    assert!(matches!(
        p.requeue,
        vmbackup_engine::Requeue::After(d) if d.as_secs() <= 300
    ));
    b.now += Duration::seconds(301);
    b.run(10);
    assert!(b.view.vmbackup(NS, "vm1-b2").unwrap().is_ready());
}

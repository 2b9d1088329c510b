//! Invariants of planning, over generated clusters: VMBackups with one to
//! three volumes whose contents carry every kind of handle (correct,
//! `bs://` with the volume, a PVC name under `bak://` or `bs://`, a name
//! that is not a volume, malformed, `snap://`), dynamic and pre-provisioned
//! contents, Longhorn Backup CRs and BackupVolumes present or missing, and
//! restores into the same or another namespace.
//!
//! * nothing is lost: no plan deletes a Longhorn Backup, deletes a
//!   VolumeSnapshotContent whose policy is `Delete` without switching it to
//!   `Retain` first, or deletes a VolumeSnapshot bound to such a content;
//! * applying a plan and planning again converges: the plan is empty after
//!   a bounded number of rounds (a round is needed after objects are
//!   created whose UID others must name);
//! * a plan cut short after any step, applied, and planned again until
//!   nothing is left, ends where the whole plan ends;
//! * plans and findings are deterministic, whatever the order in which the
//!   objects were read.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;

use proptest::prelude::*;
use serde_json::{Value, json};
use support::{NFS, backup_volume, lh_backup, namespace, now, obj, setting_nfs, storage_class};
use vmbackup_engine::target::{TargetBackup, TargetListing};
use vmbackup_engine::testing::apply;
use vmbackup_engine::{
    Action, Kind, Object, Options, Plan, RepairScope, TargetFacts, TargetState, View, plan,
};

/// How a content's handle is written.
#[derive(Debug, Clone, Copy)]
enum Form {
    Correct,
    CorrectBs,
    PvcNameBak,
    PvcNameBs,
    NotAVolume,
    Malformed,
    Snap,
}

#[derive(Debug, Clone)]
struct Vol {
    form: Form,
    dynamic: bool,
    delete_policy: bool,
    has_lh_backup: bool,
    has_backup_volume: bool,
    pvc_exists: bool,
    lhb_recorded: bool,
    snapshot_exists: bool,
    on_target: bool,
}

#[derive(Debug, Clone)]
struct Backup {
    vols: Vec<Vol>,
    ready: bool,
    vm_exists: bool,
}

#[derive(Debug, Clone)]
struct Restore {
    backup: usize,
    other_namespace: bool,
    new_vm: bool,
    delete_policy: bool,
}

#[derive(Debug, Clone)]
struct Cluster {
    backups: Vec<Backup>,
    restores: Vec<Restore>,
    repair_all: bool,
    target_listed: bool,
    refresh: Option<i64>,
}

fn form() -> impl Strategy<Value = Form> {
    prop_oneof![
        3 => Just(Form::Correct),
        1 => Just(Form::CorrectBs),
        2 => Just(Form::PvcNameBak),
        3 => Just(Form::PvcNameBs),
        1 => Just(Form::NotAVolume),
        1 => Just(Form::Malformed),
        1 => Just(Form::Snap),
    ]
}

fn vol() -> impl Strategy<Value = Vol> {
    (
        form(),
        any::<bool>(),
        prop::bool::weighted(0.7),
        prop::bool::weighted(0.8),
        prop::bool::weighted(0.8),
        any::<bool>(),
        prop::bool::weighted(0.85),
        prop::bool::weighted(0.9),
        prop::bool::weighted(0.8),
    )
        .prop_map(
            |(
                form,
                dynamic,
                delete_policy,
                has_lh_backup,
                has_backup_volume,
                pvc_exists,
                lhb_recorded,
                snapshot_exists,
                on_target,
            )| Vol {
                form,
                dynamic,
                delete_policy,
                has_lh_backup,
                has_backup_volume,
                pvc_exists,
                lhb_recorded,
                snapshot_exists,
                on_target,
            },
        )
}

fn cluster() -> impl Strategy<Value = Cluster> {
    let backup = (
        prop::collection::vec(vol(), 1..=3),
        prop::bool::weighted(0.85),
        any::<bool>(),
    )
        .prop_map(|(vols, ready, vm_exists)| Backup {
            vols,
            ready,
            vm_exists,
        });
    (
        prop::collection::vec(backup, 1..=3),
        prop::collection::vec(
            (0usize..3, any::<bool>(), any::<bool>(), any::<bool>()),
            0..=2,
        ),
        any::<bool>(),
        any::<bool>(),
        prop_oneof![Just(None), Just(Some(0)), Just(Some(300))],
    )
        .prop_map(|(backups, restores, repair_all, target_listed, refresh)| {
            let n = backups.len();
            Cluster {
                restores: restores
                    .into_iter()
                    .map(|(b, other, new_vm, delete)| Restore {
                        backup: b % n,
                        other_namespace: other,
                        new_vm,
                        delete_policy: delete,
                    })
                    .collect(),
                backups,
                repair_all,
                target_listed,
                refresh,
            }
        })
}

fn names(j: usize, i: usize) -> (String, String, String, String) {
    let vmb = format!("vm{j}-b");
    let pvc = format!("vm{j}-disk-{i}-abcde");
    let pv = format!("pvc-{j}{i}5b1c3e-2f7a-4c0e-9d7e-1b2c3d4e5f60");
    let lhb = format!("backup-{j}{i}70d260245e9e41");
    (vmb, pvc, pv, lhb)
}

fn build(c: &Cluster) -> (Vec<Object>, TargetFacts, Options) {
    let mut objects = vec![
        setting_nfs(c.refresh),
        support::lh_target(true),
        storage_class("longhorn"),
        namespace("default"),
        namespace("other"),
        support::backup_snapshot_class(),
    ];
    let mut listing = TargetListing {
        complete: true,
        ..TargetListing::default()
    };
    for (j, b) in c.backups.iter().enumerate() {
        let (vmb, ..) = names(j, 0);
        let vm = format!("vm{j}");
        let mut volumes = Vec::new();
        let mut vbs = Vec::new();
        for (i, v) in b.vols.iter().enumerate() {
            let (_, pvc, pv, lhb) = names(j, i);
            let vb = format!("{vmb}-volume-{pvc}");
            volumes.push(
                json!({"name": format!("disk-{i}"), "persistentVolumeClaim": {"claimName": pvc}}),
            );
            let mut entry = json!({"name": vb, "volumeName": format!("disk-{i}"), "csiDriverName": "driver.longhorn.io",
                "persistentVolumeClaim": {"metadata": {"name": pvc, "namespace": "default"},
                    "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "10Gi"}},
                        "volumeName": pv, "storageClassName": "longhorn", "volumeMode": "Block"}},
                "volumeSize": 10737418240i64, "readyToUse": b.ready, "progress": if b.ready {100} else {50}});
            if v.lhb_recorded {
                entry["longhornBackupName"] = json!(lhb);
            }
            vbs.push(entry);
            if v.pvc_exists {
                objects.push(support::pvc(&pvc, "default", &pv));
            }
            if v.has_lh_backup {
                objects.push(lh_backup(&lhb, &pv));
            }
            if v.has_backup_volume {
                objects.push(backup_volume(&pv));
            }
            if v.on_target {
                listing
                    .volumes
                    .entry(pv.clone())
                    .or_default()
                    .backups
                    .insert(lhb.clone(), TargetBackup { complete: true });
            }
            if !v.snapshot_exists {
                continue;
            }
            let handle = match v.form {
                Form::Correct => format!("bak://{pv}/{lhb}"),
                Form::CorrectBs => format!("bs://{pv}/{lhb}"),
                Form::PvcNameBak => format!("bak://{pvc}/{lhb}"),
                Form::PvcNameBs => format!("bs://{pvc}/{lhb}"),
                Form::NotAVolume => format!("bak://Not_A_Volume/{lhb}"),
                Form::Malformed => "bak://only-one-part".to_owned(),
                Form::Snap => format!("snap://{pv}/snapshot-{j}{i}"),
            };
            let vs_uid = format!("uid-vs-{j}-{i}");
            let (content, source) = if v.dynamic {
                (format!("snapcontent-{vs_uid}"), json!({"volumeHandle": pv}))
            } else {
                (format!("{vb}-vsc"), json!({"snapshotHandle": handle}))
            };
            let vs_source = if v.dynamic {
                json!({"persistentVolumeClaimName": pvc})
            } else {
                json!({"volumeSnapshotContentName": content})
            };
            objects.push(obj(json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
                "metadata": {"name": vb, "namespace": "default", "uid": vs_uid, "resourceVersion": "3",
                    "ownerReferences": [{"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineBackup",
                        "name": vmb, "uid": format!("uid-{vmb}"), "controller": true}]},
                "spec": {"source": vs_source, "volumeSnapshotClassName": "longhorn"},
                "status": {"boundVolumeSnapshotContentName": content, "readyToUse": b.ready,
                    "creationTime": "2025-01-01T00:00:00Z"}})));
            objects.push(obj(json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotContent",
                "metadata": {"name": content, "uid": format!("uid-{content}"), "resourceVersion": "4"},
                "spec": {"driver": "driver.longhorn.io",
                    "deletionPolicy": if v.delete_policy {"Delete"} else {"Retain"},
                    "volumeSnapshotClassName": "longhorn", "source": source,
                    "volumeSnapshotRef": {"name": vb, "namespace": "default", "uid": vs_uid}},
                "status": {"snapshotHandle": handle, "readyToUse": b.ready}})));
        }
        let mut status = json!({"sourceUID": format!("uid-{vm}"), "readyToUse": b.ready,
            "progress": if b.ready {100} else {50},
            "backupTarget": {"endpoint": NFS},
            "csiDriverVolumeSnapshotClassNames": {"driver.longhorn.io": "longhorn"},
            "source": {"metadata": {"name": vm, "namespace": "default"},
                "spec": {"runStrategy": "RerunOnFailure", "template": {"spec": {"volumes": volumes.clone()}}}},
            "volumeBackups": vbs, "secretBackups": []});
        if b.ready {
            status["creationTime"] = json!("2025-01-01T00:00:00Z");
            status["conditions"] = json!([
                {"type": "InProgress", "status": "False", "message": "Operation complete",
                    "lastUpdateTime": "2025-01-01T00:00:00Z", "lastTransitionTime": "2025-01-01T00:00:00Z"},
                {"type": "Ready", "status": "True", "message": "Operation complete",
                    "lastUpdateTime": "2025-01-01T00:00:00Z", "lastTransitionTime": "2025-01-01T00:00:00Z"}]);
        }
        objects.push(obj(json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineBackup",
            "metadata": {"name": vmb, "namespace": "default", "uid": format!("uid-{vmb}"), "resourceVersion": "7",
                "finalizers": ["wrangler.cattle.io/harvester-vm-backup-controller"]},
            "spec": {"source": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": vm}, "type": "backup"},
            "status": status})));
        if b.vm_exists {
            objects.push(obj(json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
                "metadata": {"name": vm, "namespace": "default", "uid": format!("uid-{vm}"), "resourceVersion": "1"},
                "spec": {"runStrategy": "RerunOnFailure", "template": {"spec": {"volumes": volumes}}},
                "status": {"created": true, "ready": true, "printableStatus": "Running"}})));
        }
    }
    for (i, r) in c.restores.iter().enumerate() {
        let ns = if r.other_namespace {
            "other"
        } else {
            "default"
        };
        let target = if r.new_vm {
            format!("new{i}")
        } else {
            format!("vm{}", r.backup)
        };
        let mut spec = json!({"target": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": target},
            "virtualMachineBackupName": format!("vm{}-b", r.backup), "virtualMachineBackupNamespace": "default",
            "newVM": r.new_vm});
        if !r.delete_policy {
            spec["deletionPolicy"] = json!("retain");
        }
        objects.push(obj(json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineRestore",
            "metadata": {"name": format!("r{i}"), "namespace": ns, "uid": format!("uid-r{i}"), "resourceVersion": "1",
                "creationTimestamp": format!("2025-06-01T11:00:0{i}Z")},
            "spec": spec})));
    }
    let target = if c.target_listed {
        TargetFacts {
            url: NFS.to_owned(),
            state: TargetState::Listed(listing),
        }
    } else {
        TargetFacts::not_read(NFS)
    };
    let options = Options {
        repair: if c.repair_all {
            RepairScope::All
        } else {
            RepairScope::WhenNeeded
        },
        ..Options::default()
    };
    (objects, target, options)
}

/// Checks "nothing is lost" on one plan over the View it was made from.
fn nothing_lost(view: &View, p: &Plan) -> Result<(), String> {
    let mut retained: BTreeSet<String> = BTreeSet::new();
    for (i, s) in p.steps.iter().enumerate() {
        match &s.action {
            Action::Delete { target, .. } if target.kind == Kind::LonghornBackup => {
                return Err(format!("step {i} deletes Longhorn Backup {}", target.name));
            }
            Action::Patch { target, patch, .. }
                if target.kind == Kind::VolumeSnapshotContent
                    && patch.string_at("/spec/deletionPolicy").as_deref() == Some("Retain") =>
            {
                retained.insert(target.name.clone());
            }
            Action::Delete { target, .. }
                if target.kind == Kind::VolumeSnapshotContent
                    && view.content(&target.name).is_some_and(|c| c.deletes_data())
                    && !retained.contains(&target.name) =>
            {
                return Err(format!(
                    "step {i} deletes content {} with policy Delete",
                    target.name
                ));
            }
            Action::Delete { target, .. } if target.kind == Kind::VolumeSnapshot => {
                let ns = target.namespace.as_deref().unwrap_or("default");
                let bound = view
                    .snapshot(ns, &target.name)
                    .and_then(|vs| view.content_of_snapshot(vs));
                if let Some(c) = bound.filter(|c| c.deletes_data()) {
                    let name = c.metadata.name.clone().unwrap_or_default();
                    if !retained.contains(&name) {
                        return Err(format!(
                            "step {i} deletes VolumeSnapshot {ns}/{} bound to Delete content {name}",
                            target.name
                        ));
                    }
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Plans and applies until a plan is empty; every plan must apply and lose
/// nothing. Returns the final state and the number of plans that changed
/// something.
fn converge(
    mut view: View,
    mut target: TargetFacts,
    options: &Options,
    rounds: usize,
) -> Result<(View, TargetFacts, usize), String> {
    for round in 0..rounds {
        let p = plan(&view, &target, now(), options);
        nothing_lost(&view, &p)?;
        if p.steps.is_empty() {
            return Ok((view, target, round));
        }
        let (v, t, err) = apply(&view, &target, &p.steps);
        if let Some(e) = err {
            return Err(format!("round {round}: {e}\n{:#?}", p.steps));
        }
        view = v;
        target = t;
    }
    let p = plan(&view, &target, now(), options);
    Err(format!(
        "no fixpoint after {rounds} rounds; still planned: {:#?}",
        p.steps.iter().map(ToString::to_string).collect::<Vec<_>>()
    ))
}

/// The state for comparison: objects without resource versions, and the
/// metadata files on the target.
fn state(view: &View, target: &TargetFacts) -> (Vec<Value>, Vec<String>) {
    let objects = view
        .objects()
        .into_iter()
        .map(|o| {
            let mut v = o.to_value();
            if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("resourceVersion");
            }
            v
        })
        .collect();
    let files = target
        .listing()
        .map(|l| {
            l.vm_backups
                .values()
                .map(|d| serde_json::to_string(d).unwrap())
                .collect()
        })
        .unwrap_or_default();
    (objects, files)
}

/// The fixpoint is reached within this many plans.
const ROUNDS: usize = 6;

proptest! {
    #![proptest_config(ProptestConfig { cases: 192, ..ProptestConfig::default() })]

    #[test]
    fn plans_never_lose_backup_data_and_converge(c in cluster()) {
        let (objects, target, options) = build(&c);
        let view = View::complete(objects);
        let result = converge(view, target, &options, ROUNDS);
        prop_assert!(result.is_ok(), "{}", result.err().unwrap_or_default());
    }

    #[test]
    fn a_plan_cut_short_anywhere_ends_where_the_whole_plan_ends(c in cluster(), cut in any::<prop::sample::Index>()) {
        let (objects, target, options) = build(&c);
        let view = View::complete(objects);
        let first = plan(&view, &target, now(), &options);
        prop_assume!(!first.steps.is_empty());
        let k = cut.index(first.steps.len());
        let (whole_view, whole_target, err) = apply(&view, &target, &first.steps);
        prop_assert!(err.is_none());
        let whole = converge(whole_view, whole_target, &options, ROUNDS);
        prop_assert!(whole.is_ok(), "{}", whole.err().unwrap_or_default());
        let (cut_view, cut_target, err) = apply(&view, &target, &first.steps[..k]);
        prop_assert!(err.is_none());
        let cut = converge(cut_view, cut_target, &options, ROUNDS + 1);
        prop_assert!(cut.is_ok(), "cut after {k}: {}", cut.err().unwrap_or_default());
        let (wv, wt, _) = whole.unwrap();
        let (cv, ct, _) = cut.unwrap();
        let (a, b) = (state(&wv, &wt), state(&cv, &ct));
        if a != b {
            let diff: Vec<String> = a.0.iter().filter(|o| !b.0.contains(o)).map(|o| o.to_string()).collect();
            let other: Vec<String> = b.0.iter().filter(|o| !a.0.contains(o)).map(|o| o.to_string()).collect();
            prop_assert!(false, "cut after {k} of {:#?}\nonly whole: {diff:#?}\nonly cut: {other:#?}\nfiles equal: {}",
                first.steps.iter().map(ToString::to_string).collect::<Vec<_>>(), a.1 == b.1);
        }
    }

    #[test]
    fn plans_do_not_depend_on_the_order_objects_were_read(
        c in cluster(),
        order in any::<u64>(),
    ) {
        let (objects, target, options) = build(&c);
        let first = plan(&View::complete(objects.clone()), &target, now(), &options);
        let again = plan(&View::complete(objects.clone()), &target, now(), &options);
        prop_assert_eq!(&first, &again);
        let mut shuffled = objects;
        let n = shuffled.len();
        let mut state = order | 1;
        for i in (1..n).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            let j = usize::try_from(state % (i as u64 + 1)).unwrap();
            shuffled.swap(i, j);
        }
        let other = plan(&View::complete(shuffled), &target, now(), &options);
        prop_assert_eq!(&first, &other);
        let as_json = |p: &Plan| serde_json::to_string(p).unwrap();
        prop_assert_eq!(as_json(&first), as_json(&other));
    }
}

/// Every handle form at once, with restores, repaired in one go.
#[test]
fn a_sample_cluster_with_every_handle_form_converges() {
    let vols = [
        Form::Correct,
        Form::CorrectBs,
        Form::PvcNameBak,
        Form::PvcNameBs,
        Form::NotAVolume,
        Form::Malformed,
        Form::Snap,
    ]
    .into_iter()
    .map(|form| Vol {
        form,
        dynamic: false,
        delete_policy: true,
        has_lh_backup: true,
        has_backup_volume: true,
        pvc_exists: true,
        lhb_recorded: true,
        snapshot_exists: true,
        on_target: true,
    })
    .collect::<Vec<_>>();
    let c = Cluster {
        backups: vols
            .chunks(3)
            .map(|v| Backup {
                vols: v.to_vec(),
                ready: true,
                vm_exists: true,
            })
            .collect(),
        restores: vec![
            Restore {
                backup: 0,
                other_namespace: true,
                new_vm: true,
                delete_policy: true,
            },
            Restore {
                backup: 1,
                other_namespace: false,
                new_vm: false,
                delete_policy: true,
            },
        ],
        repair_all: true,
        target_listed: true,
        refresh: Some(0),
    };
    let (objects, target, options) = build(&c);
    let view = View::complete(objects);
    let (end, _, rounds) = converge(view.clone(), target, &options, ROUNDS).unwrap();
    assert!(rounds >= 1);
    // Every repairable content was replaced; the Longhorn backups are all there.
    assert_eq!(end.longhorn_backups().len(), view.longhorn_backups().len());
    let left: Vec<&str> = end
        .contents()
        .values()
        .filter_map(|c| c.snapshot_handle())
        .filter(|h| h.contains("abcde/") || h.contains("Not_A_Volume"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

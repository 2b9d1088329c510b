//! DESIGN.md: legacy objects whose handle is `bs://<PVC name>/<backup>` are
//! detected and repaired without losing a byte.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::*;
use vmbackup_engine::{Action, Code, Finding, Kind, Options, Plan, RepairScope, View, plan};

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

fn repair_all() -> Options {
    Options {
        repair: RepairScope::All,
        ..Options::default()
    }
}

fn legacy_finding(p: &Plan) -> &Finding {
    p.findings
        .iter()
        .find(|f| f.code == Code::LegacyHandle)
        .expect("legacy-handle finding")
}

#[test]
fn a_legacy_handle_is_reported_with_its_fix() {
    let p = plan(&legacy_cluster(), &not_read(), now(), &Options::default());
    let f = legacy_finding(&p);
    assert_eq!(f.object.kind, Kind::VolumeSnapshotContent);
    assert!(f.message.contains("vm1-disk-0-abcde"), "{}", f.message);
    assert!(f.fix.contains(&format!("bak://{PV}/{LHB}")), "{}", f.fix);
    // Without a restore needing it and without a request, nothing changes.
    assert!(p.steps.is_empty(), "{:#?}", summary(&p));
}

#[test]
fn repair_creates_a_correct_pair_relinks_and_retires_the_old_one_retain_first() {
    let options = repair_all();
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
    assert_eq!(patch.to_value()["spec"]["deletionPolicy"], "Retain");

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

mod with_restores {
    use serde_json::json;
    use vmbackup_engine::{Action, Code, Kind, Object, ObjectRef};

    use super::support::world::*;
    use super::support::{content, obj};

    const NS: &str = "default";
    const VMB: &str = "vm1-b1";

    /// A backup of `vm1` whose snapshot was turned into what older
    /// Harvester left after a rediscovery: `<vb>-vsc` with
    /// `bs://<PVC name>/<backup>`, which Longhorn ≥ 1.8 cannot resolve.
    fn legacy_world() -> (World, String, String, String) {
        let mut w = World::new(cluster(NS, "vm1", 1, Some(0)));
        w.put(vec![new_vmbackup(NS, VMB, "vm1")]);
        w.run(10);
        let vmb = w.view.vmbackup(NS, VMB).unwrap().clone();
        let vb = vmb.volume_backups()[0].clone();
        let vb_name = vb.name.clone().unwrap();
        let lhb = vb.longhorn_backup_name.clone().unwrap();
        let pvc = vb.pvc_name().unwrap().to_owned();
        let vs = w.view.snapshot(NS, &vb_name).unwrap().clone();
        let old_content = w.view.content_of_snapshot(&vs).unwrap();
        let old = ObjectRef::cluster(
            Kind::VolumeSnapshotContent,
            old_content.metadata.name.clone().unwrap(),
        );
        w.remove(&[
            old,
            ObjectRef::namespaced(Kind::VolumeSnapshot, NS, &vb_name),
        ]);
        let vsc = format!("{vb_name}-vsc");
        w.put(vec![
            content(&vsc, &format!("bs://{pvc}/{lhb}"), "Delete", &vb_name),
            obj(json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
                "metadata": {"name": vb_name, "namespace": NS, "uid": "uid-old-vs", "resourceVersion": "3",
                    "ownerReferences": [{"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineBackup",
                        "name": VMB, "uid": format!("uid-{VMB}"), "controller": true}]},
                "spec": {"source": {"volumeSnapshotContentName": vsc}, "volumeSnapshotClassName": "longhorn"},
                "status": {"boundVolumeSnapshotContentName": vsc, "readyToUse": true}})),
        ]);
        (w, vb_name, lhb, pvc)
    }

    fn legacy_handles(w: &World) -> Vec<String> {
        w.view
            .contents()
            .values()
            .filter_map(|c| c.snapshot_handle())
            .filter(|h| h.starts_with("bs://"))
            .map(str::to_owned)
            .collect()
    }

    #[test]
    fn a_same_namespace_restore_of_a_legacy_backup_repairs_the_handle_first_then_restores() {
        let (mut w, vb_name, lhb, _) = legacy_world();
        assert!(
            w.plan()
                .findings
                .iter()
                .any(|f| f.code == Code::LegacyHandle)
        );
        w.put(vec![new_vmrestore(NS, "r1", NS, VMB, "vm2", true, None)]);
        let first = w.turn();
        // No PVC is made from the broken snapshot: the handle is repaired first.
        assert!(
            first
                .steps
                .iter()
                .all(|s| s.action.target().kind != Kind::PersistentVolumeClaim),
            "{:#?}",
            first.steps
        );
        assert!(
            first
                .steps
                .iter()
                .any(|s| s.action.target().name == format!("{vb_name}-snap-revise-vsc"))
        );
        w.run(20);
        let vmr = w.view.vmrestores().values().next().unwrap();
        assert!(vmr.is_complete(), "{:#?}", vmr.status);
        let pvc = w.view.pvc(NS, "restore-vm1-b1-uid-r1-disk-0").unwrap();
        assert_eq!(
            pvc.spec
                .as_ref()
                .unwrap()
                .data_source
                .as_ref()
                .unwrap()
                .name,
            format!("{vb_name}-snap-revise")
        );
        assert!(w.view.longhorn_backup(&lhb).is_some());
        assert!(legacy_handles(&w).is_empty(), "{:?}", legacy_handles(&w));
        let vmb = w.view.vmbackup(NS, VMB).unwrap();
        assert!(vmb.is_ready());
        assert_eq!(
            w.listing().vm_backups[&(NS.to_owned(), VMB.to_owned())].volume_backups[0]
                .name
                .as_deref(),
            Some(format!("{vb_name}-snap-revise").as_str())
        );
    }

    #[test]
    fn a_stuck_restore_into_another_namespace_gets_a_content_with_the_right_handle_and_completes() {
        let mut w = World::new(cluster(NS, "vm1", 1, Some(0)));
        w.put(vec![new_vmbackup(NS, VMB, "vm1")]);
        w.run(10);
        let vb = w.view.vmbackup(NS, VMB).unwrap().volume_backups()[0].clone();
        let vb_name = vb.name.clone().unwrap();
        let lhb = vb.longhorn_backup_name.clone().unwrap();
        let pvc = vb.pvc_name().unwrap().to_owned();
        let vs = vmbackup_engine::naming::restore_snapshot_name("r1", &vb_name);
        let vsc = vmbackup_engine::naming::restore_content_name("new-ns", "r1", &vb_name);
        let restored = "restore-vm1-b1-uid-r1-disk-0";
        // What a Harvester release before the fix left behind: a restore
        // content naming the PVC, a PVC stuck Pending on it, the VM.
        let mut stuck_vsc = content(&vsc, &format!("bs://{pvc}/{lhb}"), "Retain", &vs).to_value();
        stuck_vsc["spec"]["volumeSnapshotRef"]["namespace"] = json!("new-ns");
        let mut vm = vm_with_disks("new-ns", "vm1", 1, "uid-vm1-new")
            .into_iter()
            .find(|o| o.kind() == Kind::VirtualMachine)
            .unwrap()
            .to_value();
        vm["metadata"]["annotations"] = json!({"restore.harvesterhci.io/last-restore-uid": "r1-uid-r1",
            "restore.harvesterhci.io/name": "r1"});
        vm["spec"]["template"]["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"] =
            json!(restored);
        vm["status"] = json!({"created": true, "ready": false, "printableStatus": "Starting"});
        w.put(vec![
            support_namespace("new-ns"),
            Object::from_value(stuck_vsc).unwrap(),
            obj(json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
                "metadata": {"name": vs, "namespace": "new-ns", "uid": "uid-stuck-vs",
                    "ownerReferences": [{"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineRestore",
                        "name": "r1", "uid": "uid-r1", "blockOwnerDeletion": true}]},
                "spec": {"source": {"volumeSnapshotContentName": vsc}, "volumeSnapshotClassName": "longhorn"},
                "status": {"boundVolumeSnapshotContentName": vsc, "readyToUse": true}})),
            obj(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": restored, "namespace": "new-ns", "uid": "uid-stuck-pvc",
                    "annotations": {"restore.harvesterhci.io/name": "r1"}},
                "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "10Gi"}},
                    "storageClassName": "longhorn", "volumeMode": "Block",
                    "dataSource": {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": vs}},
                "status": {"phase": "Pending"}})),
            Object::from_value(vm).unwrap(),
            obj(json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineRestore",
                "metadata": {"name": "r1", "namespace": "new-ns", "uid": "uid-r1", "resourceVersion": "5",
                    "finalizers": ["wrangler.cattle.io/harvester-vm-restore-controller"]},
                "spec": {"target": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": "vm1"},
                    "virtualMachineBackupName": VMB, "virtualMachineBackupNamespace": NS, "newVM": true},
                "status": {"complete": false, "restores": [{"volumeName": "disk-0", "volumeBackupName": vb_name,
                    "persistentVolumeClaimSpec": {"metadata": {"name": restored, "namespace": "new-ns"}}}]}})),
        ]);
        let legacy = w
            .plan()
            .findings
            .into_iter()
            .find(|f| f.code == Code::LegacyHandle && f.object.name == vsc)
            .expect("legacy-handle finding on the restore's content");
        assert!(
            legacy.fix.contains("restore new-ns/r1 replaces it"),
            "{}",
            legacy.fix
        );
        // The stuck PVC holds no data: it goes with the broken pair.
        let first = w.turn();
        let deletes: Vec<String> = first
            .steps
            .iter()
            .filter(|s| matches!(s.action, Action::Delete { .. }))
            .map(|s| s.action.target().name)
            .collect();
        assert_eq!(deletes, [restored.to_owned(), vs.clone(), vsc.clone()]);
        w.run(20);
        let vmr = w.view.vmrestores().values().next().unwrap();
        assert!(vmr.is_complete(), "{:#?}", vmr.status);
        let made = w
            .plans
            .iter()
            .flat_map(|p| &p.steps)
            .find_map(|s| match &s.action {
                Action::Create { object } if object.kind() == Kind::VolumeSnapshotContent => {
                    Some(object.to_value())
                }
                _ => None,
            })
            .unwrap();
        assert_eq!(
            made["spec"]["source"]["snapshotHandle"],
            format!("bak://{}/{lhb}", vb.pv_name().unwrap())
        );
        assert_eq!(made["spec"]["deletionPolicy"], "Retain");
        assert!(w.view.longhorn_backup(&lhb).is_some());
        let pvc = w.view.pvc("new-ns", restored).unwrap();
        assert_eq!(pvc.status.as_ref().unwrap().phase.as_deref(), Some("Bound"));
        assert!(legacy_handles(&w).is_empty());
    }

    fn support_namespace(name: &str) -> Object {
        super::support::namespace(name)
    }
}

#[test]
fn a_snapshot_the_backup_does_not_control_is_left_and_the_fix_says_so() {
    // The same legacy pair, but its VolumeSnapshot has no owner: the repair
    // gives the backup a correct pair and leaves the old one for a human.
    let mut objects = legacy_cluster().objects();
    for o in &mut objects {
        if o.kind() == Kind::VolumeSnapshot {
            o.meta_mut().owner_references = None;
        }
    }
    let view = View::complete(objects);
    let options = repair_all();
    let p = plan(&view, &not_read(), now(), &options);
    let new_vb = format!("{VB}-snap-revise");
    assert_eq!(
        summary(&p),
        [
            format!("create VolumeSnapshotContent {new_vb}-vsc"),
            format!("create VolumeSnapshot {new_vb}"),
            format!("patch VirtualMachineBackup {VMB}"),
        ]
    );
    let f = legacy_finding(&p);
    assert!(f.fix.contains("this plan repairs it"), "{}", f.fix);
    assert!(
        f.fix
            .contains(&format!("VolumeSnapshot default/{VB} is not controlled")),
        "{}",
        f.fix
    );
    assert!(
        !f.fix.contains("then it is set to Retain and deleted"),
        "{}",
        f.fix
    );

    // Without a request, the fix names the command and the same caveat.
    let p = plan(&view, &not_read(), now(), &Options::default());
    let f = legacy_finding(&p);
    assert!(f.fix.contains("`vmbackup repair`"), "{}", f.fix);
    assert!(f.fix.contains("left in place"), "{}", f.fix);
}

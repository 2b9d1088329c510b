//! DESIGN.md, the first steps of the story: a backup whose contents carry
//! correct handles, then restores of it as a new VM, into another
//! namespace, and over the VM it was taken from; and the restores that are
//! refused without changing anything.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use support::world::*;
use vmbackup_engine::{Action, Code, Kind, Object, ObjectRef, Plan, Severity};

const NS: &str = "default";
const VMB: &str = "vm1-b1";

fn backed_up(disks: usize) -> World {
    let mut w = World::new(cluster(NS, "vm1", disks, Some(0)));
    w.put(vec![new_vmbackup(NS, VMB, "vm1")]);
    w.run(10);
    w
}

fn created(plans: &[Plan], kind: Kind) -> Vec<serde_json::Value> {
    plans
        .iter()
        .flat_map(|p| &p.steps)
        .filter_map(|s| match &s.action {
            Action::Create { object } if object.kind() == kind => Some(object.to_value()),
            _ => None,
        })
        .collect()
}

fn deleted(plans: &[Plan], kind: Kind) -> Vec<String> {
    plans
        .iter()
        .flat_map(|p| &p.steps)
        .filter_map(|s| match &s.action {
            Action::Delete { target, .. } if target.kind == kind => Some(target.name.clone()),
            _ => None,
        })
        .collect()
}

fn serious(p: &Plan) -> Vec<String> {
    p.findings
        .iter()
        .filter(|f| f.severity >= Severity::Warning)
        .map(|f| f.to_string())
        .collect()
}

fn longhorn_backups(w: &World) -> Vec<String> {
    w.view
        .longhorn_backups()
        .keys()
        .map(str::to_owned)
        .collect()
}

#[test]
fn a_backup_has_one_snapshot_per_volume_whose_content_names_the_longhorn_volume() {
    let mut w = backed_up(2);
    let vmb = w.view.vmbackup(NS, VMB).unwrap();
    assert!(vmb.is_ready(), "{:#?}", vmb.status);
    assert_eq!(vmb.volume_backups().len(), 2);
    for vb in vmb.volume_backups() {
        let vs = w.view.snapshot(NS, vb.name.as_deref().unwrap()).unwrap();
        let content = w.view.content_of_snapshot(vs).unwrap();
        let lhb = vb
            .longhorn_backup_name
            .as_deref()
            .expect("longhorn backup name");
        let pv = vb.pv_name().unwrap();
        assert!(pv.starts_with("pvc-"));
        assert_eq!(
            content.snapshot_handle(),
            Some(format!("bak://{pv}/{lhb}").as_str())
        );
        assert_ne!(pv, vb.pvc_name().unwrap());
    }
    // The metadata file is on the target, and nothing is left to do.
    assert!(
        w.listing()
            .vm_backups
            .contains_key(&(NS.to_owned(), VMB.to_owned()))
    );
    let last = w.run(3);
    assert!(serious(&last).is_empty(), "{:#?}", last.findings);
}

#[test]
fn a_restore_as_a_new_vm_gets_new_pvcs_secrets_and_macs_and_starts() {
    let mut w = backed_up(2);
    w.put(vec![new_vmrestore(NS, "r1", NS, VMB, "vm2", true, None)]);
    let last = w.run(20);
    assert!(serious(&last).is_empty(), "{:#?}", last.findings);

    let vmr = w.view.vmrestores().values().next().unwrap();
    assert!(vmr.is_complete(), "{:#?}", vmr.status);
    let status = vmr.status.as_ref().unwrap();
    assert_eq!(status.progress, Some(100));
    assert!(status.restore_time.is_some());
    let vm2 = w.view.vm(NS, "vm2").expect("restored VM");
    assert_eq!(status.target_uid, vm2.metadata.uid);
    assert_eq!(
        vmr.metadata.owner_references.as_ref().unwrap()[0].uid,
        vm2.metadata.uid.clone().unwrap()
    );
    // PVCs named as Harvester names them, restored from the backup's own snapshots.
    let vmb = w.view.vmbackup(NS, VMB).unwrap();
    for vb in vmb.volume_backups() {
        let pvc_name = format!("restore-{VMB}-uid-r1-{}", vb.volume_name);
        let pvc = w.view.pvc(NS, &pvc_name).expect("restored PVC");
        let source = pvc.spec.as_ref().unwrap().data_source.as_ref().unwrap();
        assert_eq!(source.name, vb.name.clone().unwrap());
        assert!(
            vm2.volumes()
                .iter()
                .any(|v| v.claim_name() == Some(pvc_name.as_str()))
        );
    }
    // No objects of its own for a same-namespace restore.
    assert!(created(&w.plans, Kind::VolumeSnapshotContent).is_empty());
    // The secret is renamed for the new VM and owned by it.
    let secret = vmbackup_engine::naming::new_vm_secret_name("vm2", "vm1-cloudinit");
    let s = w.view.secret(NS, &secret).expect("restored secret");
    assert_eq!(
        s.metadata.owner_references.as_ref().unwrap()[0].uid,
        vm2.metadata.uid.clone().unwrap()
    );
    let vm2_json = serde_json::to_value(vm2).unwrap();
    let t = &vm2_json["spec"]["template"]["spec"];
    assert_eq!(
        t["volumes"][2]["cloudInitNoCloud"]["secretRef"]["name"],
        secret
    );
    assert!(
        t["domain"]["devices"]["interfaces"][0]
            .get("macAddress")
            .is_none()
    );
    assert_eq!(vm2_json["spec"]["runStrategy"], "RerunOnFailure");
    assert_eq!(vm2_json["status"]["ready"], true);
    // The source VM is untouched.
    assert_eq!(w.view.vm(NS, "vm1").unwrap().volumes().len(), 3);
}

#[test]
fn a_restore_into_another_namespace_uses_retain_contents_with_the_longhorn_volume_and_removes_them_when_done()
 {
    let mut w = backed_up(1);
    w.put(vec![
        vmbackup_engine::Object::from_value(serde_json::json!({
        "apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "new-ns"}}))
        .unwrap(),
    ]);
    w.put(vec![new_vmrestore(
        "new-ns", "r1", NS, VMB, "vm1", true, None,
    )]);
    let before = longhorn_backups(&w);
    let last = w.run(20);
    assert!(serious(&last).is_empty(), "{:#?}", last.findings);
    assert!(w.view.vmrestores().values().next().unwrap().is_complete());

    let vmb = w.view.vmbackup(NS, VMB).unwrap();
    let vb = &vmb.volume_backups()[0];
    let vb_name = vb.name.as_deref().unwrap();
    let contents = created(&w.plans, Kind::VolumeSnapshotContent);
    assert_eq!(contents.len(), 1, "{contents:#?}");
    let c = &contents[0];
    assert_eq!(
        c["metadata"]["name"],
        vmbackup_engine::naming::restore_content_name("new-ns", "r1", vb_name)
    );
    assert_eq!(c["spec"]["deletionPolicy"], "Retain");
    assert_eq!(
        c["spec"]["source"]["snapshotHandle"],
        format!(
            "bak://{}/{}",
            vb.pv_name().unwrap(),
            vb.longhorn_backup_name.as_deref().unwrap()
        )
    );
    let snapshots: Vec<_> = created(&w.plans, Kind::VolumeSnapshot)
        .into_iter()
        .filter(|s| s["metadata"]["namespace"] == "new-ns")
        .collect();
    assert_eq!(snapshots.len(), 1);
    assert_eq!(
        snapshots[0]["metadata"]["ownerReferences"][0]["kind"],
        "VirtualMachineRestore"
    );
    // Gone once the restore is complete; the backup and its data stay.
    assert!(
        w.view
            .content(c["metadata"]["name"].as_str().unwrap())
            .is_none()
    );
    assert!(
        w.view
            .snapshot("new-ns", snapshots[0]["metadata"]["name"].as_str().unwrap())
            .is_none()
    );
    assert_eq!(longhorn_backups(&w), before);
    assert!(w.view.vmbackup(NS, VMB).unwrap().is_ready());
    let pvc = w
        .view
        .pvc("new-ns", "restore-vm1-b1-uid-r1-disk-0")
        .unwrap();
    assert_eq!(pvc.status.as_ref().unwrap().phase.as_deref(), Some("Bound"));
    assert!(w.view.vm("new-ns", "vm1").is_some());
}

fn replace(policy: Option<&str>) -> (World, Vec<String>, Vec<String>) {
    let mut w = backed_up(2);
    let vm = w.view.vm(NS, "vm1").unwrap().clone();
    let old_claims: Vec<String> = vm
        .volumes()
        .iter()
        .filter_map(|v| v.claim_name().map(str::to_owned))
        .collect();
    let before = longhorn_backups(&w);
    w.put(vec![new_vmrestore(NS, "r1", NS, VMB, "vm1", false, policy)]);
    // First the running VM is stopped, and nothing else is touched in it.
    let first = w.turn();
    let stop = first
        .steps
        .iter()
        .find(|s| s.action.target().kind == Kind::VirtualMachine)
        .expect("a VM step");
    let Action::Patch {
        patch,
        precondition,
        ..
    } = &stop.action
    else {
        panic!("{stop}")
    };
    assert_eq!(
        *patch,
        serde_json::json!({"spec": {"runStrategy": "Halted"}})
    );
    assert_eq!(precondition.uid.as_deref(), Some("uid-vm1"));
    let last = w.run(20);
    assert!(serious(&last).is_empty(), "{:#?}", last.findings);
    assert_eq!(longhorn_backups(&w), before);
    (w, old_claims, before)
}

#[test]
fn replacing_the_vm_stops_it_rewrites_it_in_place_and_deletes_its_old_volumes() {
    let (w, old_claims, _) = replace(Some("delete"));
    let vmr = w.view.vmrestores().values().next().unwrap();
    assert!(vmr.is_complete(), "{:#?}", vmr.status);
    assert_eq!(
        vmr.status.as_ref().unwrap().deleted_volumes.as_deref(),
        Some(old_claims.as_slice())
    );
    let vm = w.view.vm(NS, "vm1").unwrap();
    assert_eq!(vm.metadata.uid.as_deref(), Some("uid-vm1"));
    let claims: Vec<&str> = vm.volumes().iter().filter_map(|v| v.claim_name()).collect();
    assert_eq!(
        claims,
        [
            "restore-vm1-b1-uid-r1-disk-0",
            "restore-vm1-b1-uid-r1-disk-1"
        ]
    );
    for old in &old_claims {
        assert!(w.view.pvc(NS, old).is_none(), "{old} should be deleted");
    }
    let v = serde_json::to_value(vm).unwrap();
    assert_eq!(
        v["spec"]["template"]["spec"]["domain"]["devices"]["interfaces"][0]["macAddress"],
        "52:54:00:aa:bb:cc"
    );
    assert_eq!(
        v["spec"]["template"]["spec"]["volumes"][2]["cloudInitNoCloud"]["secretRef"]["name"],
        "vm1-cloudinit"
    );
    assert_eq!(v["status"]["ready"], true);
    assert_eq!(
        v["metadata"]["annotations"]["restore.harvesterhci.io/last-restore-uid"],
        "r1-uid-r1"
    );
}

#[test]
fn replacing_with_the_retain_policy_keeps_the_old_volumes() {
    let (w, old_claims, _) = replace(Some("retain"));
    assert!(w.view.vmrestores().values().next().unwrap().is_complete());
    for old in &old_claims {
        assert!(w.view.pvc(NS, old).is_some(), "{old} should be kept");
    }
    assert!(deleted(&w.plans, Kind::PersistentVolumeClaim).is_empty());
}

fn refused(w: &mut World, expected: &str) {
    let before = w.view.objects();
    let p = w.turn();
    let f = p
        .findings
        .iter()
        .find(|f| f.code == Code::RestoreFailed)
        .unwrap_or_else(|| panic!("no restore-failed finding: {:#?}", p.findings));
    assert!(f.message.contains(expected), "{}", f.message);
    // Only the restore's own status changed.
    for s in &p.steps {
        assert_eq!(s.action.target().kind, Kind::VirtualMachineRestore, "{s}");
    }
    let vmr = w.view.vmrestores().values().next().unwrap();
    assert!(vmr.is_failed(), "{:#?}", vmr.status);
    assert!(
        vmr.condition("Ready")
            .unwrap()
            .message
            .as_deref()
            .unwrap()
            .contains(expected)
    );
    let changed: Vec<ObjectRef> = w
        .view
        .objects()
        .into_iter()
        .filter(|o| o.kind() != Kind::VirtualMachineRestore && !before.contains(o))
        .map(|o| o.reference())
        .collect();
    assert!(changed.is_empty(), "{changed:#?}");
    // Planning again changes nothing more.
    assert!(w.plan().steps.is_empty(), "{:#?}", w.plan().steps);
}

#[test]
fn a_vm_recreated_under_the_same_name_is_refused_not_overwritten() {
    let mut w = backed_up(1);
    let uid_ref = ObjectRef::namespaced(Kind::VirtualMachine, NS, "vm1");
    w.remove(&[uid_ref]);
    let mut again: Vec<Object> = vm_with_disks(NS, "vm1", 1, "uid-vm1-recreated");
    again.retain(|o| o.kind() == Kind::VirtualMachine || o.kind() == Kind::PersistentVolumeClaim);
    w.put(again);
    w.put(vec![new_vmrestore(
        NS,
        "r1",
        NS,
        VMB,
        "vm1",
        false,
        Some("delete"),
    )]);
    refused(&mut w, "is not the VM backup default/vm1-b1 was taken from");
}

#[test]
fn a_new_vm_restore_never_overwrites_an_existing_vm() {
    let mut w = backed_up(1);
    w.put(vec![new_vmrestore(NS, "r1", NS, VMB, "vm1", true, None)]);
    refused(&mut w, "VM vm1 is already exists");
}

#[test]
fn a_restore_from_a_backup_on_another_target_is_refused() {
    let mut w = backed_up(1);
    w.put(vec![support::obj(serde_json::json!({
        "apiVersion": "harvesterhci.io/v1beta1", "kind": "Setting",
        "metadata": {"name": "backup-target", "uid": "setting-uid", "resourceVersion": "9"},
        "value": serde_json::json!({"type": "nfs", "endpoint": "nfs://10.9.9.9:/other"}).to_string()}))]);
    w.target.url = "nfs://10.9.9.9:/other".into();
    w.run(5);
    w.put(vec![new_vmrestore(NS, "r1", NS, VMB, "vm9", true, None)]);
    refused(&mut w, "is not matched in vmBackup default/vm1-b1");
}

#[test]
fn a_restore_waits_for_a_backup_in_progress_and_then_runs() {
    let mut w = World::new(cluster(NS, "vm1", 1, Some(0)));
    w.put(vec![
        new_vmbackup(NS, VMB, "vm1"),
        new_vmrestore(NS, "r1", NS, VMB, "vm2", true, None),
    ]);
    let first = w.turn();
    assert!(
        first
            .steps
            .iter()
            .all(|s| s.action.target().kind != Kind::PersistentVolumeClaim)
    );
    let vmr = w.view.vmrestores().values().next().unwrap();
    assert!(!vmr.is_failed());
    w.run(20);
    assert!(w.view.vmrestores().values().next().unwrap().is_complete());
}

#[test]
fn a_restore_that_keeps_macs_is_refused_while_the_source_vm_exists() {
    let mut w = backed_up(1);
    let mut r = new_vmrestore(NS, "r1", NS, VMB, "vm2", true, None).to_value();
    r["spec"]["keepMacAddress"] = serde_json::json!(true);
    w.put(vec![vmbackup_engine::Object::from_value(r).unwrap()]);
    refused(&mut w, "because the source vm is still existent");
}

#[test]
fn two_restores_replacing_one_vm_run_one_after_the_other() {
    let mut w = backed_up(1);
    let mut second = new_vmrestore(NS, "r2", NS, VMB, "vm1", false, Some("retain")).to_value();
    second["metadata"]["creationTimestamp"] = serde_json::json!("2025-06-01T12:00:05Z");
    let mut first = new_vmrestore(NS, "r1", NS, VMB, "vm1", false, Some("retain")).to_value();
    first["metadata"]["creationTimestamp"] = serde_json::json!("2025-06-01T12:00:00Z");
    w.put(vec![
        Object::from_value(first).unwrap(),
        Object::from_value(second).unwrap(),
    ]);
    let p = w.turn();
    let waits = p
        .findings
        .iter()
        .find(|f| f.code == Code::RestoreBlocked)
        .expect("the second restore waits");
    assert_eq!(waits.object.name, "r2");
    assert!(waits.message.contains("default/r1"), "{}", waits.message);
    w.run(30);
    for vmr in w.view.vmrestores().values() {
        assert!(vmr.is_complete(), "{:#?}", vmr.status);
    }
    let vm = w.view.vm(NS, "vm1").unwrap();
    assert_eq!(
        vmbackup_engine::reconcile::restore::vm::last_restore_id(vm),
        Some("r2-uid-r2")
    );
}

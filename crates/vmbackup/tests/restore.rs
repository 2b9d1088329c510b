//! `vmbackup restore --dry-run`: before anything is created, the operator
//! learns everything that would make the restore fail — and when nothing
//! would, sees the VirtualMachineRestore that would be created.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_support;

use std::path::Path;

use cli_support::*;
use serde_json::{Value, json};

fn cluster_dir(objects: &[Value]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write_yaml(d.path(), "cluster.yaml", objects);
    d
}

fn restore(dir: &Path, args: &[&str]) -> (i32, Value) {
    let mut all = vec![
        "restore",
        "--dry-run",
        "--output",
        "json",
        "--from",
        dir.to_str().unwrap(),
    ];
    all.extend_from_slice(args);
    let r = run(all, None);
    assert!(r.code == 0 || r.code == 2, "{r:?}");
    (r.code, r.json())
}

fn problems(out: &Value) -> Vec<String> {
    out["preflight"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] == "error")
        .map(|f| {
            format!(
                "{} {}",
                f["code"].as_str().unwrap(),
                f["message"].as_str().unwrap()
            )
        })
        .collect()
}

fn with_namespaces(mut objects: Vec<Value>, names: &[&str]) -> Vec<Value> {
    objects.extend(names.iter().map(|n| namespace(n)));
    objects
}

#[test]
fn a_sound_cross_namespace_restore_passes_and_shows_its_object() {
    let d = cluster_dir(&with_namespaces(healthy_cluster(), &["staging"]));
    let (code, out) = restore(
        d.path(),
        &[VMB, "--new-vm", "vm1-copy", "--to-namespace", "staging"],
    );
    assert_eq!(problems(&out), Vec::<String>::new(), "{out:#}");
    assert_eq!(code, 0);
    assert_eq!(out["preflight"]["passed"], true);
    assert_eq!(out["created"], false);
    assert_eq!(
        out["restore"],
        json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineRestore",
            "metadata": {"name": "restore-vm1-b1-vm1-copy", "namespace": "staging"},
            "spec": {"target": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": "vm1-copy"},
                "virtualMachineBackupName": VMB, "virtualMachineBackupNamespace": "default",
                "newVM": true, "keepMacAddress": false}})
    );
}

#[test]
fn the_table_shows_the_preflight_then_an_object_that_reads_back() {
    let d = cluster_dir(&with_namespaces(healthy_cluster(), &["staging"]));
    let r = run(
        [
            "restore",
            "--dry-run",
            "--from",
            d.path().to_str().unwrap(),
            VMB,
            "--new-vm",
            "vm1-copy",
            "--to-namespace",
            "staging",
            "--name",
            "r1",
        ],
        None,
    );
    assert_eq!(r.code, 0, "{r:?}");
    let (report, yaml) = r.stdout.split_once("---\n").unwrap();
    assert!(
        report.starts_with("Preflight: restore VMBackup default/vm1-b1 as new VM staging/vm1-copy"),
        "{report}"
    );
    assert!(report.contains("passed"), "{report}");
    let docs = vmbackup_api::document::values_from_str(yaml).unwrap();
    assert_eq!(docs.len(), 1);
    let vmbackup_engine::Object::VirtualMachineRestore(vmr) =
        vmbackup_engine::Object::from_value(docs[0].1.clone()).unwrap()
    else {
        panic!("{yaml}")
    };
    assert_eq!(vmr.metadata.name.as_deref(), Some("r1"));
    assert!(vmr.is_cross_namespace());
    assert_eq!(vmr.spec.new_vm, Some(true));
}

#[test]
fn a_legacy_handle_blocks_a_same_namespace_restore_but_not_a_cross_namespace_one() {
    let d = cluster_dir(&with_namespaces(legacy_cluster(), &["staging"]));
    let (code, out) = restore(d.path(), &[VMB, "--new-vm", "vm1-copy"]);
    assert_eq!(code, 2);
    let legacy = out["preflight"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["code"] == "legacy-handle")
        .unwrap_or_else(|| panic!("{out:#}"));
    assert!(
        legacy["fix"]
            .as_str()
            .unwrap()
            .contains("vmbackup repair -n default vm1-b1"),
        "{legacy:#}"
    );
    assert!(
        legacy["fix"]
            .as_str()
            .unwrap()
            .contains(&format!("bak://{PV}/{LHB}")),
        "{legacy:#}"
    );

    // Another namespace gets a content made for the restore, with the handle
    // from the Longhorn Backup: the legacy content is not read.
    let (code, out) = restore(
        d.path(),
        &[VMB, "--new-vm", "vm1-copy", "--to-namespace", "staging"],
    );
    assert_eq!(problems(&out), Vec::<String>::new(), "{out:#}");
    assert_eq!(code, 0);
}

#[test]
fn every_problem_is_reported_at_once() {
    let mut objects: Vec<Value> = healthy_cluster()
        .into_iter()
        .filter(|o| o["kind"] != "StorageClass" && o["kind"] != "BackupVolume")
        .map(|mut o| {
            if o["kind"] == "BackupTarget" {
                o["status"]["available"] = json!(false);
            }
            o
        })
        .collect();
    objects.push(storage_class("other"));
    objects.push(backup_volume("pvc-other"));
    objects.push(namespace("staging"));
    objects.push(vm("taken", "staging", "x", false));
    let d = cluster_dir(&objects);
    let (code, out) = restore(
        d.path(),
        &[VMB, "--new-vm", "taken", "--to-namespace", "staging"],
    );
    assert_eq!(code, 2);
    let p = problems(&out).join("\n");
    assert!(
        p.contains("missing-storage-class") && p.contains("StorageClass longhorn"),
        "{p}"
    );
    assert!(p.contains("target-unavailable"), "{p}");
    assert!(
        p.contains("unresolvable-handle") && p.contains("no BackupVolume"),
        "{p}"
    );
    assert!(
        p.contains("restore-blocked VM taken is already exists"),
        "{p}"
    );
}

#[test]
fn a_failed_backup_cannot_be_restored() {
    let d = tempfile::tempdir().unwrap();
    copy_fixture(
        d.path(),
        "vmbackup-error-volumesnapshot-stopped-vm-truncated.yaml",
    );
    let (code, out) = restore(d.path(), &["extra-default.off", "--new-vm", "vm2"]);
    assert_eq!(code, 2);
    let p = problems(&out).join("\n");
    assert!(
        p.contains("vmbackup-failed") && p.contains("in error state"),
        "{p}"
    );
    // What the input cannot tell is said, not assumed.
    let unchecked = out["preflight"]["unchecked"].to_string();
    assert!(
        unchecked.contains("no VirtualMachine in the input"),
        "{unchecked}"
    );
    assert!(unchecked.contains("no Setting in the input"), "{unchecked}");
}

#[test]
fn the_cross_namespace_restore_of_the_bug_report_needs_backup_volumes() {
    // The restore of harvester#1801 (default/default-vm-backup into new-ns
    // as new-ns-vm), over a backup whose content has the legacy handle of
    // the CSI log in longhorn#10366.
    let vmr: Value = vmbackup_api::document::values_from_str(&fixture_text(
        "vmrestore-cross-namespace-new-vm.yaml",
    ))
    .unwrap()
    .remove(0)
    .1;
    let spec = &vmr["spec"];
    let (backup, backup_ns) = (
        spec["virtualMachineBackupName"].as_str().unwrap(),
        spec["virtualMachineBackupNamespace"].as_str().unwrap(),
    );
    let (to_ns, vm_name, name) = (
        vmr["metadata"]["namespace"].as_str().unwrap(),
        spec["target"]["name"].as_str().unwrap(),
        vmr["metadata"]["name"].as_str().unwrap(),
    );
    let lhb = "backup-be842e7288aa4318";
    let pv = "pvc-11112222-3333-4444-5555-666677778888";
    let vb_name = format!("{backup}-volume-os-vol");
    let mut vmb = ready_vmbackup(backup, vec![vb(backup, "os-vol", pv, Some(lhb))]);
    vmb["metadata"]["namespace"] = json!(backup_ns);
    let mut objects = vec![
        setting_nfs(None),
        lh_target(true),
        storage_class("longhorn"),
        snapshot_class("longhorn"),
        namespace(backup_ns),
        namespace(to_ns),
        lh_backup(lhb, pv),
        vmb,
        owned_snapshot(backup, &vb_name, &format!("{vb_name}-vsc")),
        content(
            &format!("{vb_name}-vsc"),
            &format!("bs://os-vol/{lhb}"),
            "Delete",
            &vb_name,
        ),
    ];
    let args = [
        backup,
        "-n",
        backup_ns,
        "--new-vm",
        vm_name,
        "--to-namespace",
        to_ns,
        "--name",
        name,
    ];
    // Longhorn has no BackupVolume for the volume (the kind is listed once one exists).
    objects.push(backup_volume("pvc-other"));
    let d2 = cluster_dir(&objects);
    let (code, out) = restore(d2.path(), &args);
    assert_eq!(code, 2);
    assert!(
        problems(&out)
            .join("\n")
            .contains(&format!("no BackupVolume for volume {pv}")),
        "{out:#}"
    );
    objects.push(backup_volume(pv));
    let d3 = cluster_dir(&objects);
    let (code, out) = restore(d3.path(), &args);
    assert_eq!(problems(&out), Vec::<String>::new(), "{out:#}");
    assert_eq!(code, 0);
    let mut expected = spec.clone();
    expected["keepMacAddress"] = json!(false);
    assert_eq!(out["restore"]["spec"], expected);
    assert_eq!(out["restore"]["metadata"], vmr["metadata"]);
}

#[test]
fn replacing_needs_the_vm_stopped_and_no_other_restore_running() {
    let mut objects = healthy_cluster();
    for o in &mut objects {
        if o["kind"] == "VirtualMachine" {
            o["status"]["ready"] = json!(true);
        }
    }
    let d = cluster_dir(&objects);
    let (code, out) = restore(d.path(), &[VMB, "--replace"]);
    assert_eq!(code, 2);
    let p = problems(&out).join("\n");
    assert!(p.contains("Please stop the VM \"vm1\""), "{p}");
    assert_eq!(
        out["restore"]["spec"]["deletionPolicy"], "retain",
        "old volumes are kept unless asked"
    );
    assert_eq!(out["restore"]["spec"]["newVM"], false);
    assert_eq!(out["restore"]["spec"]["target"]["name"], "vm1");
}

#[test]
fn a_taken_restore_name_or_a_missing_backup_is_reported() {
    let mut objects = healthy_cluster();
    objects.push(json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineRestore",
        "metadata": {"name": "r1", "namespace": "default"},
        "spec": {"target": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": "vm9"},
            "virtualMachineBackupName": VMB, "virtualMachineBackupNamespace": "default", "newVM": true},
        "status": {"complete": true}}));
    let d = cluster_dir(&objects);
    let (code, out) = restore(d.path(), &[VMB, "--new-vm", "vm2", "--name", "r1"]);
    assert_eq!(code, 2);
    assert!(
        problems(&out)
            .join("\n")
            .contains("VirtualMachineRestore default/r1 already exists"),
        "{out:#}"
    );
    let (code, out) = restore(d.path(), &["no-such-backup", "--new-vm", "vm2"]);
    assert_eq!(code, 2);
    assert!(
        problems(&out)
            .join("\n")
            .contains("can't get vmbackup default/no-such-backup"),
        "{out:#}"
    );
}

#[test]
fn manifests_allow_only_a_dry_run() {
    let d = cluster_dir(&healthy_cluster());
    let r = run(
        [
            "restore",
            "--from",
            d.path().to_str().unwrap(),
            VMB,
            "--new-vm",
            "vm2",
        ],
        None,
    );
    assert_eq!(r.code, 1);
    assert!(r.stderr.contains("--dry-run"), "{}", r.stderr);
    assert!(r.stdout.is_empty());
}

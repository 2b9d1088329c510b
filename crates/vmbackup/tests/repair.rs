//! `vmbackup repair`: an operator with a legacy `bs://<PVC>/<backup>`
//! handle gets a plan to review, applies it with kubectl exactly as
//! printed, and the cluster is repaired: no legacy handle is left, nothing
//! more to do, the Longhorn backup untouched.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_support;

use std::collections::BTreeMap;
use std::path::Path;

use cli_support::*;
use serde_json::{Map, Value, json};

fn cluster_dir(objects: &[Value]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    write_yaml(d.path(), "cluster.yaml", objects);
    d
}

fn repair(dir: &Path, extra: &[&str]) -> Run {
    let mut args = vec!["repair", "--from", dir.to_str().unwrap()];
    args.extend_from_slice(extra);
    run(args, None)
}

/// JSON merge patch (RFC 7386).
fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let map = target.as_object_mut().unwrap();
    for (k, v) in patch {
        if v.is_null() {
            map.remove(k);
        } else {
            merge(map.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

type Key = (String, String, String);

fn key(object: &Value) -> Key {
    (
        object["kind"].as_str().unwrap().to_owned(),
        object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("")
            .to_owned(),
        object["metadata"]["name"].as_str().unwrap().to_owned(),
    )
}

/// Does with the printed plan what `kubectl apply -f` and then the listed
/// commands do on an API server: create what is missing, merge-patch what
/// exists (refusing a stale resourceVersion or another uid), delete.
fn kubectl(cluster: &mut BTreeMap<Key, Value>, plan: &str) {
    let docs = vmbackup_api::document::values_from_str(plan).unwrap();
    for (_, doc) in docs {
        let k = key(&doc);
        match cluster.get_mut(&k) {
            Some(existing) => {
                for pin in ["uid", "resourceVersion"] {
                    if let Some(want) = doc["metadata"].get(pin) {
                        assert_eq!(&existing["metadata"][pin], want, "conflict on {k:?}");
                    }
                }
                let mut patch = doc.clone();
                let meta = patch["metadata"].as_object_mut().unwrap();
                meta.remove("uid");
                meta.remove("resourceVersion");
                merge(existing, &patch);
                let rv: u64 = existing["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap_or("0")
                    .parse()
                    .unwrap();
                existing["metadata"]["resourceVersion"] = json!((rv + 1).to_string());
            }
            None => {
                let mut created = doc.clone();
                created["metadata"]["uid"] = json!(format!("uid-{}", k.2));
                created["metadata"]["resourceVersion"] = json!("1");
                cluster.insert(k, created);
            }
        }
    }
    let commands = plan.split("run in this order:\n").nth(1).unwrap_or("");
    for line in commands.lines() {
        let command = line.trim_start_matches('#').trim();
        let command = command.split("   #").next().unwrap();
        let words: Vec<&str> = command.split_whitespace().collect();
        match words.as_slice() {
            ["kubectl", "delete", resource, name, rest @ ..] => {
                let kind = match *resource {
                    "volumesnapshots.snapshot.storage.k8s.io" => "VolumeSnapshot",
                    "volumesnapshotcontents.snapshot.storage.k8s.io" => "VolumeSnapshotContent",
                    other => panic!("unexpected delete of {other}"),
                };
                let ns = match rest {
                    ["-n", ns] => (*ns).to_owned(),
                    _ => String::new(),
                };
                let removed = cluster.remove(&(kind.to_owned(), ns, (*name).to_owned()));
                assert!(removed.is_some(), "{line}");
            }
            other => panic!("unexpected command {other:?}"),
        }
    }
}

#[test]
fn the_printed_plan_applied_with_kubectl_repairs_the_cluster() {
    let d = cluster_dir(&legacy_cluster());
    let r = repair(d.path(), &[]);
    assert_eq!(r.code, 0, "{r:?}");
    let plan = r.stdout;
    let new_vb = format!("{}-snap-revise", vb_name());

    // Reviewable: every step has its reason, the new handle is right.
    assert!(
        plan.contains(&format!(
            "# step 1/6: create VolumeSnapshotContent {new_vb}-vsc"
        )),
        "{plan}"
    );
    assert!(
        plan.contains(&format!("snapshotHandle: bak://{PV}/{LHB}")),
        "{plan}"
    );
    assert!(
        plan.contains("legacy-handle"),
        "the finding is shown: {plan}"
    );
    assert!(!plan.contains("CAUTION"), "{plan}");

    let mut cluster: BTreeMap<Key, Value> =
        legacy_cluster().into_iter().map(|o| (key(&o), o)).collect();
    kubectl(&mut cluster, &plan);

    // The VMBackup now points at the new pair, the old pair is gone, the
    // Longhorn backup is still there.
    let vmb = &cluster[&("VirtualMachineBackup".into(), "default".into(), VMB.into())];
    assert_eq!(vmb["status"]["volumeBackups"][0]["name"], new_vb.as_str());
    assert_eq!(vmb["status"]["volumeBackups"][0]["longhornBackupName"], LHB);
    assert!(!cluster.contains_key(&("VolumeSnapshot".into(), "default".into(), vb_name())));
    assert!(cluster.contains_key(&("Backup".into(), "longhorn-system".into(), LHB.into())));
    let new_content = &cluster[&(
        "VolumeSnapshotContent".into(),
        String::new(),
        format!("{new_vb}-vsc"),
    )];
    assert_eq!(
        new_content["spec"]["source"]["snapshotHandle"],
        format!("bak://{PV}/{LHB}")
    );

    let after = cluster_dir(&cluster.into_values().collect::<Vec<_>>());
    let (_, report) = doctor(&[after.path()]);
    no_handle_findings(&report);
    let again = repair(after.path(), &[]);
    assert_eq!(again.code, 0);
    assert!(
        again.stdout.contains("# Nothing to do."),
        "{}",
        again.stdout
    );
}

#[test]
fn the_yaml_parses_back_into_the_objects_of_the_plan() {
    let d = cluster_dir(&legacy_cluster());
    // A plan stamps conditions with the second it is made: use a YAML and a
    // JSON plan of the same second (the YAML made before the JSON equals
    // the one made after it).
    let (yaml, json) = (0..5)
        .find_map(|_| {
            let before = repair(d.path(), &[]).stdout;
            let json = repair(d.path(), &["--output", "json"]).json();
            (repair(d.path(), &[]).stdout == before).then_some((before, json))
        })
        .expect("three plans within one second");
    let steps = json["steps"].as_array().unwrap();
    let documents: Vec<Value> = vmbackup_api::document::values_from_str(&yaml)
        .unwrap()
        .into_iter()
        .map(|(_, v)| v)
        .collect();
    let mut expected = Vec::new();
    let mut deletes = Vec::new();
    for step in steps {
        let action = &step["action"];
        match action["op"].as_str().unwrap() {
            "create" => expected.push(action["object"].clone()),
            "patch" => {
                let target = &action["target"];
                let mut doc = json!({"apiVersion": target["apiVersion"], "kind": target["kind"],
                    "metadata": {"name": target["name"]}});
                if let Some(ns) = target.get("namespace") {
                    doc["metadata"]["namespace"] = ns.clone();
                }
                for pin in ["uid", "resourceVersion"] {
                    if let Some(v) = action["precondition"].get(pin) {
                        doc["metadata"][pin] = v.clone();
                    }
                }
                merge(&mut doc, &action["patch"]);
                expected.push(doc);
            }
            "delete" => deletes.push(action["target"]["name"].as_str().unwrap().to_owned()),
            other => panic!("unexpected step {other}"),
        }
        assert!(
            yaml.contains(step["reason"].as_str().unwrap()),
            "reason of {step:#} missing"
        );
    }
    assert_eq!(documents, expected);
    assert_eq!(deletes.len(), 2, "{json:#}");
    for name in deletes {
        assert!(yaml.contains(&format!(" {name}")), "{yaml}");
    }
    // Every created object reads back as the typed object it describes.
    let creates = steps.iter().filter(|s| s["action"]["op"] == "create");
    for step in creates {
        let object = &step["action"]["object"];
        assert!(documents.contains(object));
        vmbackup_engine::Object::from_value(object.clone()).unwrap();
    }
}

#[test]
fn a_healthy_cluster_needs_nothing() {
    let d = cluster_dir(&healthy_cluster());
    let r = repair(d.path(), &[]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("# Nothing to do."), "{}", r.stdout);
    assert!(!r.stdout.contains("legacy-handle"), "{}", r.stdout);
}

#[test]
fn only_the_selected_backups_are_repaired() {
    // A second legacy backup, vm2-b1 in namespace prod.
    let mut objects = legacy_cluster();
    let vb2 = "vm2-b1-volume-vm1-disk-0-abcde";
    let mut vmb2 = ready_vmbackup("vm2-b1", vec![vb("vm2-b1", PVC, PV, Some(LHB))]);
    vmb2["metadata"]["namespace"] = json!("prod");
    let mut vs2 = owned_snapshot("vm2-b1", vb2, "prod-content");
    vs2["metadata"]["namespace"] = json!("prod");
    let mut vsc2 = content("prod-content", &format!("bs://{PVC}/{LHB}"), "Delete", vb2);
    vsc2["spec"]["volumeSnapshotRef"]["namespace"] = json!("prod");
    objects.extend([vmb2, vs2, vsc2, namespace("prod")]);
    let d = cluster_dir(&objects);

    let all = repair(d.path(), &["--output", "json"]).json();
    let one = repair(d.path(), &["--output", "json", "-n", "prod"]).json();
    let named = repair(d.path(), &["--output", "json", "-n", "prod", "vm2-b1"]).json();
    let targets = |plan: &Value| -> Vec<String> {
        plan["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| {
                let a = &s["action"];
                let t = if a["op"] == "create" {
                    &a["object"]["metadata"]
                } else {
                    &a["target"]
                };
                format!(
                    "{}/{}",
                    t["namespace"].as_str().unwrap_or("-"),
                    t["name"].as_str().unwrap()
                )
            })
            .collect()
    };
    assert_eq!(targets(&all).len(), 12, "{all:#}");
    assert_eq!(targets(&one).len(), 6);
    assert_eq!(targets(&one), targets(&named));
    assert!(
        targets(&one).iter().all(|t| !t.starts_with("default/")),
        "{:?}",
        targets(&one)
    );

    let r = repair(d.path(), &["-n", "prod", "no-such-backup"]);
    assert_eq!(r.code, 1);
    assert!(
        r.stderr
            .contains("VirtualMachineBackup prod/no-such-backup is not in the input"),
        "{}",
        r.stderr
    );
}

#[test]
fn apply_refuses_manifest_files() {
    let d = cluster_dir(&legacy_cluster());
    let r = repair(d.path(), &["--apply"]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.is_empty());
    assert!(
        r.stderr.contains("--apply changes a live cluster") && r.stderr.contains("manifest files"),
        "{}",
        r.stderr
    );
}

#[test]
fn without_an_input_the_live_cluster_is_meant() {
    let r = run(["repair"], None);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("--kubeconfig") && r.stderr.contains("--from"),
        "{}",
        r.stderr
    );
}

//! What `vmbackup doctor --from` reads: `kubectl get -o yaml|json` output
//! in nested directories, multi-document files, `List`s, standard input;
//! objects of other kinds are noted and skipped; a file that does not parse
//! stops the diagnosis with an error naming it (and its line).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_support;

use cli_support::*;
use serde_json::{Value, json};

#[test]
fn nested_directories_lists_json_and_multi_document_files_are_read() {
    let d = tempfile::tempdir().unwrap();
    let objects = legacy_cluster();
    // A List, as `kubectl get -o yaml` prints it, two levels down.
    let list = json!({"apiVersion": "v1", "kind": "List", "items": objects[..4], "metadata": {"resourceVersion": ""}});
    write_yaml(&d.path().join("cluster/longhorn"), "list.yaml", &[list]);
    // JSON, as `kubectl get -o json` prints it.
    std::fs::write(
        d.path().join("cluster/objects.json"),
        serde_json::to_string_pretty(
            &json!({"apiVersion": "v1", "kind": "List", "items": objects[4..8]}),
        )
        .unwrap(),
    )
    .unwrap();
    // Multi-document YAML, with other kinds among them.
    let mut rest = objects[8..].to_vec();
    rest.push(json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "harvester", "namespace": "harvester-system"}}));
    rest.push(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}}));
    write_yaml(d.path(), "rest.yml", &rest);
    std::fs::write(d.path().join("README.txt"), "how this dump was taken").unwrap();
    std::fs::create_dir(d.path().join(".git")).unwrap();
    std::fs::write(d.path().join(".git/config.yaml"), "not: [valid").unwrap();

    let (code, report) = doctor(&[d.path()]);
    let total: u64 = report["objects"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(total, objects.len() as u64, "{report:#}");
    assert_eq!(finding(&report, "legacy-handle")["severity"], "error");
    assert_eq!(code, 2);
    let notes = report["notes"].to_string();
    assert!(
        notes.contains("apps/v1 Deployment (1)") && notes.contains("v1 ConfigMap (1)"),
        "{notes}"
    );
    assert!(notes.contains("README.txt"), "{notes}");
}

#[test]
fn standard_input_is_read_with_a_dash() {
    let text: Vec<String> = legacy_cluster()
        .iter()
        .map(|o| serde_yaml_ng::to_string(o).unwrap())
        .collect();
    let r = run(
        ["doctor", "--output", "json", "--from", "-"],
        Some(&text.join("---\n")),
    );
    assert_eq!(r.code, 2, "{r:?}");
    assert_eq!(
        finding(&r.json(), "legacy-handle")["name"],
        format!("{}-vsc", vb_name())
    );
}

#[test]
fn every_unreadable_file_is_named_with_its_line() {
    let d = tempfile::tempdir().unwrap();
    write_yaml(d.path(), "good.yaml", &healthy_cluster());
    std::fs::write(
        d.path().join("a-bad.yaml"),
        "apiVersion: v1\nkind: List\nitems:\n  - a: b\n   c: d\n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("b-bad.json"),
        "{\"apiVersion\": \"v1\",\n \"kind\": \n",
    )
    .unwrap();
    std::fs::write(
        d.path().join("c-shape.yaml"),
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n# the backup\napiVersion: longhorn.io/v1beta2\nkind: Backup\nmetadata:\n  name: backup-1\nstatus:\n  volumeName: [1]\n",
    )
    .unwrap();
    let r = run(["doctor", "--from", d.path().to_str().unwrap()], None);
    assert_eq!(r.code, 3, "{r:?}");
    assert!(r.stdout.is_empty());
    let e = &r.stderr;
    assert!(e.contains("3 files could not be read"), "{e}");
    assert!(
        e.contains("a-bad.yaml: not valid YAML") && e.contains("line 5"),
        "{e}"
    );
    assert!(
        e.contains("b-bad.json: not valid JSON") && e.contains("line 3"),
        "{e}"
    );
    assert!(
        e.contains("c-shape.yaml: document 2 (from line 5): Backup \"backup-1\"")
            && e.contains("volumeName"),
        "{e}"
    );
}

#[test]
fn objects_without_a_valid_name_or_namespace_are_refused() {
    for (text, says) in [
        (
            "apiVersion: harvesterhci.io/v1beta1\nkind: VirtualMachineBackup\nmetadata: {namespace: default}\nspec: {source: {apiGroup: kubevirt.io, kind: VirtualMachine, name: vm1}}\n",
            "metadata.name: missing",
        ),
        (
            "apiVersion: harvesterhci.io/v1beta1\nkind: VirtualMachineBackup\nmetadata: {name: ../x, namespace: default}\nspec: {source: {apiGroup: kubevirt.io, kind: VirtualMachine, name: vm1}}\n",
            "metadata.name: \"../x\" is not a Kubernetes object name",
        ),
        (
            "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {name: p, namespace: Not_A_Namespace}\n",
            "metadata.namespace: \"Not_A_Namespace\" is not a namespace name",
        ),
    ] {
        let d = tempfile::tempdir().unwrap();
        write_yaml(d.path(), "good.yaml", &healthy_cluster());
        std::fs::write(d.path().join("bad.yaml"), text).unwrap();
        let r = run(["doctor", "--from", d.path().to_str().unwrap()], None);
        assert_eq!(r.code, 3, "{r:?}");
        assert!(r.stdout.is_empty());
        assert!(
            r.stderr.contains("bad.yaml: document 1 (from line 1)") && r.stderr.contains(says),
            "{says}: {}",
            r.stderr
        );
    }
}

#[test]
fn an_input_without_objects_is_an_error() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("notes.yaml"), "just: notes\n").unwrap();
    let r = run(["doctor", "--from", d.path().to_str().unwrap()], None);
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("no Kubernetes objects"), "{}", r.stderr);
    let r = run(
        [
            "doctor",
            "--from",
            d.path().join("missing").to_str().unwrap(),
        ],
        None,
    );
    assert_eq!(r.code, 3);
    assert!(r.stderr.contains("missing"), "{}", r.stderr);
}

#[test]
fn the_table_is_for_people_and_yaml_for_tools() {
    let d = tempfile::tempdir().unwrap();
    write_yaml(d.path(), "c.yaml", &legacy_cluster());
    let r = run(["doctor", "--from", d.path().to_str().unwrap()], None);
    assert_eq!(r.code, 2);
    let first = r.stdout.lines().next().unwrap();
    assert!(
        first.starts_with("ERROR    legacy-handle  VolumeSnapshotContent "),
        "{}",
        r.stdout
    );
    assert!(
        r.stdout.contains("  problem  ")
            && r.stdout.contains("  impact   ")
            && r.stdout.contains("  fix      ")
    );
    assert!(r.stdout.contains("1 error, 0 warnings"), "{}", r.stdout);
    let r = run(
        [
            "doctor",
            "--output",
            "yaml",
            "--from",
            d.path().to_str().unwrap(),
        ],
        None,
    );
    let value: serde_json::Value = serde_yaml_ng::from_str(&r.stdout).unwrap();
    assert_eq!(value["findings"][0]["code"], "legacy-handle");
}

#[test]
fn a_healthy_cluster_exits_zero() {
    let d = tempfile::tempdir().unwrap();
    write_yaml(d.path(), "c.yaml", &healthy_cluster());
    let (code, report) = doctor(&[d.path()]);
    assert!(
        findings(&report).iter().all(|f| f["severity"] == "info"),
        "{report:#}"
    );
    assert_eq!(code, 0);
}

#[test]
fn a_live_cluster_is_not_reachable_and_says_what_to_use() {
    let r = run(
        [
            "doctor",
            "--kubeconfig",
            "/nonexistent",
            "--context",
            "prod",
        ],
        None,
    );
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("--from DIR") && r.stderr.contains("--bundle"),
        "{}",
        r.stderr
    );
    let r = run(["doctor", "--from", ".", "--bundle", "x.zip"], None);
    assert_eq!(r.code, 2, "a usage error");
    assert!(r.stderr.contains("cannot be used with"), "{}", r.stderr);
}

#[test]
fn a_kind_the_input_does_not_hold_proves_nothing() {
    // Only the VMBackup: its VolumeSnapshots, contents and Longhorn Backups
    // were not dumped, so nothing can be said to be missing.
    let d = tempfile::tempdir().unwrap();
    let only_backups: Vec<Value> = healthy_cluster()
        .into_iter()
        .filter(|o| o["kind"] == "VirtualMachineBackup")
        .collect();
    assert!(!only_backups.is_empty());
    write_yaml(d.path(), "vmb.yaml", &only_backups);
    let (code, report) = doctor(&[d.path()]);
    assert!(
        findings(&report).iter().all(|f| f["severity"] == "info"),
        "{report:#}"
    );
    assert_eq!(code, 0, "{report:#}");
    // It says what it could not check.
    let notes = report["notes"].to_string();
    assert!(
        notes.contains("not in the input, so not checked"),
        "{notes}"
    );
    assert!(
        notes.contains("VolumeSnapshot (snapshot.storage.k8s.io/v1)"),
        "{notes}"
    );
    assert!(notes.contains("Backup (longhorn.io/v1beta2)"), "{notes}");
    assert!(!notes.contains("VirtualMachineBackup"), "{notes}");
}

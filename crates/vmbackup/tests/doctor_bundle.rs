//! `vmbackup doctor --bundle`: a Harvester support bundle, as the support
//! bundle kit writes it — one `List` per API resource under
//! `yamls/cluster/<group>/<version>/` and `yamls/namespaced/<ns>/<group>/<version>/`,
//! inside a `supportbundle_<uuid>_<time>/` directory, with `null` and empty
//! strings rewritten to the string "null" — read as the zip file or
//! unpacked, with the same diagnosis as the same objects given with --from.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod cli_support;

use std::io::Write;
use std::path::{Path, PathBuf};

use cli_support::*;
use serde_json::{Value, json};

const ROOT: &str = "supportbundle_0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0_2025-06-01T12-00-00Z";

/// Where the kit puts objects of this apiVersion and kind (namespace from
/// the object).
fn bundle_path(object: &Value) -> String {
    let api_version = object["apiVersion"].as_str().unwrap();
    let kind = object["kind"].as_str().unwrap();
    let plural = match kind {
        "Setting" => "settings",
        "BackupTarget" => "backuptargets",
        "Backup" => "backups",
        "BackupVolume" => "backupvolumes",
        "Volume" => "volumes",
        "StorageClass" => "storageclasses",
        "VolumeSnapshotClass" => "volumesnapshotclasses",
        "VolumeSnapshotContent" => "volumesnapshotcontents",
        "VolumeSnapshot" => "volumesnapshots",
        "Namespace" => "namespaces",
        "PersistentVolumeClaim" => "persistentvolumeclaims",
        "VirtualMachine" => "virtualmachines",
        "VirtualMachineBackup" => "virtualmachinebackups",
        other => panic!("no plural for {other}"),
    };
    match object["metadata"]["namespace"].as_str() {
        Some(ns) => format!("yamls/namespaced/{ns}/{api_version}/{plural}.yaml"),
        None => format!("yamls/cluster/{api_version}/{plural}.yaml"),
    }
}

/// The collector's text: a `List`, with `"key":null,` and `""` rewritten
/// to `"null"`.
fn collector_text(items: &[Value]) -> String {
    let list = json!({"apiVersion": "v1", "kind": "List", "items": items, "metadata": {"resourceVersion": ""}});
    let json = serde_json::to_string(&list)
        .unwrap()
        .replace(":null,", ":\"null\",")
        .replace("\"\"", "\"null\"");
    let value: Value = serde_json::from_str(&json).unwrap();
    serde_yaml_ng::to_string(&value).unwrap()
}

/// The files of a bundle holding `objects`, plus what a real bundle has
/// beside them: other resources, Longhorn settings, logs, an empty list.
fn bundle_files(objects: &[Value]) -> Vec<(String, String)> {
    let mut by_path: std::collections::BTreeMap<String, Vec<Value>> = Default::default();
    for o in objects {
        by_path.entry(bundle_path(o)).or_default().push(o.clone());
    }
    let mut files: Vec<(String, String)> = by_path
        .into_iter()
        .map(|(path, items)| (path, collector_text(&items)))
        .collect();
    files.push((
        "yamls/namespaced/default/v1/pods.yaml".into(),
        collector_text(&[json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "namespace": "default"}})]),
    ));
    files.push((
        "yamls/namespaced/longhorn-system/longhorn.io/v1beta2/settings.yaml".into(),
        collector_text(&[
            json!({"apiVersion": "longhorn.io/v1beta2", "kind": "Setting",
            "metadata": {"name": "backup-target", "namespace": "longhorn-system"}, "value": ""}),
        ]),
    ));
    files.push((
        "yamls/namespaced/default/harvesterhci.io/v1beta1/virtualmachinerestores.yaml".into(),
        collector_text(&[]),
    ));
    files.push((
        "metadata.yaml".into(),
        "projectName: Harvester\nbundleVersion: \"0.1\"\n".into(),
    ));
    files.push((
        "logs/harvester-system/harvester-abc/apiserver.log".into(),
        "level=info msg=started\n".into(),
    ));
    files
}

fn write_dir(root: &Path, files: &[(String, String)]) -> PathBuf {
    let bundle = root.join(ROOT);
    for (path, text) in files {
        let file = bundle.join(path);
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(file, text).unwrap();
    }
    bundle
}

fn write_zip(root: &Path, files: &[(String, String)]) -> PathBuf {
    let path = root.join(format!("{ROOT}.zip"));
    let mut zip = zip::ZipWriter::new(std::fs::File::create(&path).unwrap());
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    zip.add_directory(format!("{ROOT}/"), options).unwrap();
    for (name, text) in files {
        zip.start_file(format!("{ROOT}/{name}"), options).unwrap();
        zip.write_all(text.as_bytes()).unwrap();
    }
    zip.finish().unwrap();
    path
}

fn doctor_bundle(path: &Path) -> (i32, Value) {
    let r = run(
        [
            "doctor",
            "--output",
            "json",
            "--bundle",
            path.to_str().unwrap(),
        ],
        None,
    );
    assert_ne!(r.code, 3, "{r:?}");
    (r.code, r.json())
}

/// The legacy cluster plus real objects full of empty strings and nulls.
fn objects() -> Vec<Value> {
    let mut objects = legacy_cluster();
    let text = fixture_text("pvc-named-like-pv-and-its-longhorn-volume.yaml");
    objects.extend(
        vmbackup_api::document::values_from_str(&text)
            .unwrap()
            .into_iter()
            .map(|(_, v)| v),
    );
    let vms = fixture_text("vm-list-with-volumeclaimtemplates-annotation.yaml");
    objects.extend(
        vmbackup_api::document::values_from_str(&vms)
            .unwrap()
            .into_iter()
            .map(|(_, v)| v),
    );
    objects
}

#[test]
fn a_bundle_gives_the_same_diagnosis_unpacked_zipped_and_as_manifests() {
    let d = tempfile::tempdir().unwrap();
    let files = bundle_files(&objects());
    let unpacked = write_dir(d.path(), &files);
    let zipped = write_zip(d.path(), &files);
    let manifests = write_yaml(&d.path().join("manifests"), "all.yaml", &objects());

    let (code, from_dir) = doctor_bundle(&unpacked);
    let legacy = finding(&from_dir, "legacy-handle");
    assert_eq!(legacy["severity"], "error");
    assert!(
        legacy["fix"]
            .as_str()
            .unwrap()
            .contains(&format!("bak://{PV}/{LHB}")),
        "{legacy:#}"
    );
    assert_eq!(code, 2);
    assert_eq!(
        from_dir["objects"]["VirtualMachineBackup"], 1,
        "{from_dir:#}"
    );
    assert_eq!(
        from_dir["objects"]["PersistentVolumeClaim"], 2,
        "{from_dir:#}"
    );
    assert!(from_dir["objects"].get("Pod").is_none());
    let notes = from_dir["notes"].to_string();
    assert!(
        notes.contains("default, longhorn-system, test-migration"),
        "the namespaces collected: {notes}"
    );

    // The parent directory of the unpacked bundle works too.
    let (_, from_parent) = doctor_bundle(d.path());
    assert_eq!(from_parent["findings"], from_dir["findings"]);

    let (zip_code, from_zip) = doctor_bundle(&zipped);
    assert_eq!(zip_code, code);
    assert_eq!(from_zip["findings"], from_dir["findings"]);
    assert_eq!(from_zip["objects"], from_dir["objects"]);

    let (_, from_manifests) = doctor(&[manifests.parent().unwrap()]);
    assert_eq!(from_manifests["findings"], from_dir["findings"]);
}

#[test]
fn repair_plans_from_a_zipped_bundle_and_refuses_to_apply_to_it() {
    let d = tempfile::tempdir().unwrap();
    let zipped = write_zip(d.path(), &bundle_files(&legacy_cluster()));
    let r = run(["repair", "--bundle", zipped.to_str().unwrap()], None);
    assert_eq!(r.code, 0, "{r:?}");
    assert!(
        r.stdout
            .contains(&format!("snapshotHandle: bak://{PV}/{LHB}")),
        "{}",
        r.stdout
    );
    let r = run(
        ["repair", "--apply", "--bundle", zipped.to_str().unwrap()],
        None,
    );
    assert_eq!(r.code, 1);
    assert!(
        r.stderr.contains("--apply changes a live cluster") && r.stderr.contains("support bundle"),
        "{}",
        r.stderr
    );
    assert!(r.stdout.is_empty());
}

#[test]
fn a_kind_the_bundle_lists_empty_is_known_absent() {
    let d = tempfile::tempdir().unwrap();
    let mut objects = legacy_cluster();
    // Drop the Longhorn Backup: the bundle still has the (empty) list.
    objects.retain(|o| o["kind"] != "Backup");
    let mut files = bundle_files(&objects);
    files.push((
        "yamls/namespaced/longhorn-system/longhorn.io/v1beta2/backups.yaml".into(),
        collector_text(&[]),
    ));
    let bundle = write_dir(d.path(), &files);
    let (_, report) = doctor_bundle(&bundle);
    let missing = finding(&report, "missing-longhorn-backup");
    assert!(
        missing["message"].as_str().unwrap().contains(LHB),
        "{missing:#}"
    );
}

#[test]
fn what_is_not_a_bundle_says_why() {
    let d = tempfile::tempdir().unwrap();
    std::fs::write(d.path().join("x.yaml"), "a: 1\n").unwrap();
    let r = run(["doctor", "--bundle", d.path().to_str().unwrap()], None);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("not a support bundle") && r.stderr.contains("yamls/"),
        "{}",
        r.stderr
    );

    let not_zip = d.path().join("bundle.zip");
    std::fs::write(&not_zip, "this is not a zip file").unwrap();
    let r = run(["doctor", "--bundle", not_zip.to_str().unwrap()], None);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains("bundle.zip") && r.stderr.contains("zip"),
        "{}",
        r.stderr
    );

    // A bundle whose VMBackup list is damaged names the file inside the zip.
    let mut files = bundle_files(&legacy_cluster());
    for (path, text) in &mut files {
        if path.ends_with("virtualmachinebackups.yaml") {
            *text = "items:\n- kind: [\n".into();
        }
    }
    let zipped = write_zip(d.path(), &files);
    let r = run(["doctor", "--bundle", zipped.to_str().unwrap()], None);
    assert_eq!(r.code, 3);
    assert!(
        r.stderr.contains(&format!("{ROOT}.zip!{ROOT}/yamls/namespaced/default/harvesterhci.io/v1beta1/virtualmachinebackups.yaml")),
        "{}",
        r.stderr
    );
}

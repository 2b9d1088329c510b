//! Real objects captured from public bug reports: every one of a modelled
//! kind is read and written back without losing anything, and files that
//! are not valid YAML or JSON are rejected with an error.
//!
//! The fixtures are found through `VMBACKUP_FIXTURES`, by default the
//! `shared/fixtures/real` directory beside the workspace. The test fails if
//! the directory is missing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;
use vmbackup_api::document::{self, Object};

fn fixtures_dir() -> PathBuf {
    let dir = std::env::var_os("VMBACKUP_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/real")
        });
    assert!(
        dir.is_dir(),
        "fixture directory {} is missing (set VMBACKUP_FIXTURES)",
        dir.display()
    );
    dir
}

fn fixture_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| {
            matches!(
                path.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            )
        })
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no YAML or JSON fixtures found");
    files
}

/// The fixture files MANIFEST.md describes as not parseable ("Not valid
/// YAML", "not parseable JSON", ...), by file name.
fn declared_unparseable() -> BTreeSet<String> {
    let manifest = std::fs::read_to_string(fixtures_dir().join("MANIFEST.md")).unwrap_or_default();
    let mut out = BTreeSet::new();
    for section in manifest.split("\n### ").skip(1) {
        let (title, body) = section.split_once('\n').unwrap_or((section, ""));
        let body = body.to_lowercase();
        let says_invalid = [
            "not valid yaml",
            "not valid json",
            "not parseable",
            "does not parse",
        ]
        .iter()
        .any(|phrase| body.contains(phrase));
        if says_invalid {
            out.insert(title.trim().to_owned());
        }
    }
    out
}

/// Generic parse of every document, independent of the typed model.
fn raw_documents(text: &str, json: bool) -> Result<Vec<Value>, String> {
    if json {
        serde_json::from_str::<Value>(text)
            .map(|v| vec![v])
            .map_err(|e| e.to_string())
    } else {
        serde_yaml_ng::Deserializer::from_str(text)
            .map(|d| <Value as serde::Deserialize>::deserialize(d).map_err(|e| e.to_string()))
            .collect()
    }
}

#[test]
fn every_modelled_object_round_trips_exactly() {
    let mut modelled = 0;
    for path in fixture_files() {
        let text = std::fs::read_to_string(&path).unwrap();
        let json = path.extension().is_some_and(|e| e == "json");
        if raw_documents(&text, json).is_err() {
            continue; // covered by the test below
        }
        let objects =
            document::values_from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for (location, input) in objects {
            let object = Object::from_value(input.clone())
                .unwrap_or_else(|e| panic!("{} {location}: {e}", path.display()));
            if !object.is_modelled() {
                continue;
            }
            modelled += 1;
            let output = object.to_value().unwrap();
            assert_eq!(
                output,
                input,
                "{} {location}: re-serialised object differs from the input",
                path.display()
            );
        }
    }
    assert!(
        modelled > 0,
        "no fixture object of a modelled kind was found"
    );
}

#[test]
fn unparseable_files_are_rejected_with_an_error() {
    let declared = declared_unparseable();
    let mut rejected = BTreeSet::new();
    for path in fixture_files() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let json = path.extension().is_some_and(|e| e == "json");
        if raw_documents(&text, json).is_ok() {
            continue;
        }
        let err = document::objects_from_str(&text).expect_err(&name);
        assert!(!err.to_string().is_empty(), "{name}: empty error message");
        rejected.insert(name);
    }
    let missing: Vec<_> = declared.difference(&rejected).collect();
    assert!(
        missing.is_empty(),
        "files MANIFEST.md calls unparseable were read without error: {missing:?}"
    );
}

#[test]
fn the_documented_broken_files_are_rejected() {
    for (name, expect) in [
        ("vmbackup-progress-volumebackups-author-elided.yaml", "YAML"),
        ("lh-api-backupvolumes-list-truncated.json", "JSON"),
    ] {
        let path = fixtures_dir().join(name);
        if !path.exists() {
            continue;
        }
        let err = document::objects_from_str(&std::fs::read_to_string(&path).unwrap()).unwrap_err();
        assert!(err.to_string().contains(expect), "{name}: {err}");
    }
}

#[test]
fn fixtures_read_as_the_manifest_describes() {
    let dir = fixtures_dir();
    let read = |name: &str| -> Vec<Object> {
        let path = dir.join(name);
        document::objects_from_str(&std::fs::read_to_string(path).unwrap())
            .unwrap()
            .into_iter()
            .map(|(_, o)| o)
            .collect()
    };
    let objects = read("vmbackup-list-nfs-v140-truncated.yaml");
    let Object::VirtualMachineBackup(vmb) = &objects[0] else {
        panic!("{objects:?}")
    };
    assert_eq!(vmb.metadata.name.as_deref(), Some("vm3-1"));
    assert_eq!(vmb.spec.source.name, "vm3");
    assert!(!vmb.is_ready());
    assert!(vmb.volume_backups().is_empty());

    let objects = read("vmrestore-cross-namespace-new-vm.yaml");
    let Object::VirtualMachineRestore(vmr) = &objects[0] else {
        panic!("{objects:?}")
    };
    assert!(vmr.is_cross_namespace());
    assert_eq!(vmr.spec.new_vm, Some(true));

    let objects = read("vsc-static-bs-handle-longhorn-upstream-example.yaml");
    let Object::VolumeSnapshotContent(vsc) = &objects[0] else {
        panic!("{objects:?}")
    };
    assert_eq!(
        vsc.snapshot_handle(),
        Some("bs://test-vol/backup-625159fb469e492e")
    );
    assert!(vsc.is_pre_provisioned() && vsc.is_longhorn() && vsc.deletes_data());

    let objects = read("vsc-vm-snapshot-snap-handle-harvester-v160.yaml");
    let Object::VolumeSnapshotContent(vsc) = &objects[0] else {
        panic!("{objects:?}")
    };
    assert!(
        vsc.snapshot_handle()
            .unwrap()
            .starts_with("snap://pvc-f04ace4a")
    );
    assert!(!vsc.is_pre_provisioned());

    let objects = read("vsclass-set-v1beta1-pre-release-type-names.yaml");
    assert_eq!(objects.len(), 4);
    let Object::VolumeSnapshotClass(class) = &objects[1] else {
        panic!("{objects:?}")
    };
    assert_eq!(class.parameter("type"), Some("longhorn-backup"));
    assert_eq!(
        class.extra.read_api_version(),
        Some("snapshot.storage.k8s.io/v1beta1")
    );

    let objects = read("lh-backuptarget-s3-unavailable-truncated.yaml");
    let Object::LonghornBackupTarget(target) = &objects[0] else {
        panic!("{objects:?}")
    };
    assert!(!target.is_available());

    let objects = read("pvc-named-like-pv-and-its-longhorn-volume.yaml");
    let Object::PersistentVolumeClaim(pvc) = &objects[0] else {
        panic!("{objects:?}")
    };
    let Object::LonghornVolume(volume) = &objects[1] else {
        panic!("{objects:?}")
    };
    let pv_name = pvc.spec.as_ref().and_then(|s| s.volume_name.as_deref());
    assert_eq!(pv_name, volume.metadata.name.as_deref());
    let k8s_status = volume
        .status
        .as_ref()
        .unwrap()
        .kubernetes_status
        .as_ref()
        .unwrap();
    assert_eq!(k8s_status.pvc_name.as_deref(), pvc.metadata.name.as_deref());
    assert!(!volume.restore_failed());

    let objects = read("vm-list-with-volumeclaimtemplates-annotation.yaml");
    let Object::VirtualMachine(vm) = &objects[0] else {
        panic!("{objects:?}")
    };
    assert_eq!(vm.volumes()[0].claim_name(), Some("vm1-disk-0-egtdn"));
    let templates = vm.volume_claim_templates().unwrap();
    assert_eq!(
        templates[0]
            .spec
            .as_ref()
            .unwrap()
            .storage_class_name
            .as_deref(),
        Some("longhorn-image-hgdh2")
    );
}

#[test]
fn backup_target_setting_value_decodes() {
    let text = std::fs::read_to_string(fixtures_dir().join("setting-backup-target-value-nfs.json"))
        .unwrap();
    let target = vmbackup_api::harvester::BackupTargetSetting::parse(&text).unwrap();
    assert_eq!(
        target.target_type(),
        vmbackup_api::harvester::BackupTargetType::Nfs
    );
    assert_eq!(
        target.endpoint.as_deref(),
        Some("nfs://192.168.122.159:/nfs_server/nfs_share/")
    );
    assert_eq!(target.refresh_interval_seconds(), 0);
    let back: Value = serde_json::from_str(&target.to_value_string()).unwrap();
    assert_eq!(back, serde_json::from_str::<Value>(&text).unwrap());
}

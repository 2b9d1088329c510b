//! Shared by the doctor, repair and restore tests: running the binary, the
//! real-world fixtures, and builders for the objects of a small Harvester
//! cluster written as manifest files.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::ffi::OsStr;
use std::path::{Path, PathBuf};

use assert_cmd::cargo::cargo_bin_cmd;
use serde_json::{Value, json};

pub const NFS: &str = "nfs://10.0.0.1:/export";
pub const PV: &str = "pvc-5b1c3e8e-2f7a-4c0e-9d7e-1b2c3d4e5f60";
pub const LHB: &str = "backup-70d260245e9e415a";
pub const VMB: &str = "vm1-b1";
pub const PVC: &str = "vm1-disk-0-abcde";

/// The real-world fixtures: `VMBACKUP_FIXTURES`, or `shared/fixtures/real`
/// beside the workspace. Missing fixtures fail the test.
pub fn fixtures() -> PathBuf {
    let dir = std::env::var_os("VMBACKUP_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/real")
        });
    assert!(
        dir.is_dir(),
        "fixture directory {} is missing (set VMBACKUP_FIXTURES)",
        dir.display()
    );
    dir
}

pub fn fixture(name: &str) -> PathBuf {
    let path = fixtures().join(name);
    assert!(path.is_file(), "fixture {} is missing", path.display());
    path
}

pub fn fixture_text(name: &str) -> String {
    std::fs::read_to_string(fixture(name)).unwrap()
}

/// What one run of the binary gave.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}\nstderr: {}", self.stdout, self.stderr))
    }
}

pub fn run<I, S>(args: I, stdin: Option<&str>) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut cmd = cargo_bin_cmd!("vmbackup");
    cmd.args(args);
    if let Some(input) = stdin {
        cmd.write_stdin(input);
    }
    let output = cmd.output().unwrap();
    Run {
        code: output.status.code().unwrap(),
        stdout: String::from_utf8(output.stdout).unwrap(),
        stderr: String::from_utf8(output.stderr).unwrap(),
    }
}

/// `vmbackup doctor --output json` over `paths` (each given with --from).
pub fn doctor(paths: &[&Path]) -> (i32, Value) {
    let mut args: Vec<&OsStr> = vec![
        OsStr::new("doctor"),
        OsStr::new("--output"),
        OsStr::new("json"),
    ];
    for p in paths {
        args.push(OsStr::new("--from"));
        args.push(p.as_os_str());
    }
    let r = run(args, None);
    assert!(r.code != 3, "input unreadable: {}", r.stderr);
    (r.code, r.json())
}

pub fn findings(report: &Value) -> &Vec<Value> {
    report["findings"].as_array().unwrap()
}

pub fn codes(report: &Value) -> Vec<String> {
    findings(report)
        .iter()
        .map(|f| f["code"].as_str().unwrap().to_owned())
        .collect()
}

/// The first finding with `code`, or a panic showing the report.
pub fn finding<'a>(report: &'a Value, code: &str) -> &'a Value {
    findings(report)
        .iter()
        .find(|f| f["code"] == code)
        .unwrap_or_else(|| panic!("no {code} finding in {report:#}"))
}

pub const HANDLE_CODES: [&str; 5] = [
    "legacy-handle",
    "unresolvable-handle",
    "malformed-handle",
    "deprecated-handle-prefix",
    "ambiguous-backup-volume",
];

pub fn no_handle_findings(report: &Value) {
    assert!(
        !codes(report)
            .iter()
            .any(|c| HANDLE_CODES.contains(&c.as_str())),
        "{report:#}"
    );
}

/// Writes `docs` as multi-document YAML to `dir/name`.
pub fn write_yaml(dir: &Path, name: &str, docs: &[Value]) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    let text: Vec<String> = docs
        .iter()
        .map(|d| serde_yaml_ng::to_string(d).unwrap())
        .collect();
    std::fs::write(&path, text.join("---\n")).unwrap();
    path
}

pub fn copy_fixture(dir: &Path, name: &str) -> PathBuf {
    let to = dir.join(name);
    std::fs::copy(fixture(name), &to).unwrap();
    to
}

// ---- objects ----

pub fn lh_backup(name: &str, volume: &str) -> Value {
    json!({"apiVersion": "longhorn.io/v1beta2", "kind": "Backup",
        "metadata": {"name": name, "namespace": "longhorn-system", "uid": format!("uid-{name}"), "resourceVersion": "1",
            "labels": {"backup-volume": volume, "backup-target": "default"}},
        "spec": {"snapshotName": format!("snapshot-{name}")},
        "status": {"state": "Completed", "volumeName": volume, "backupTargetName": "default",
            "snapshotName": format!("snapshot-{name}"), "progress": 100}})
}

pub fn backup_volume(volume: &str) -> Value {
    json!({"apiVersion": "longhorn.io/v1beta2", "kind": "BackupVolume",
        "metadata": {"name": format!("{volume}-0fbc591a"), "namespace": "longhorn-system",
            "labels": {"backup-volume": volume, "backup-target": "default"}},
        "spec": {"volumeName": volume, "backupTargetName": "default"}})
}

pub fn lh_target(available: bool) -> Value {
    json!({"apiVersion": "longhorn.io/v1beta2", "kind": "BackupTarget",
        "metadata": {"name": "default", "namespace": "longhorn-system", "uid": "bt-uid", "resourceVersion": "1"},
        "spec": {"backupTargetURL": NFS, "pollInterval": "5m0s"},
        "status": {"available": available}})
}

pub fn setting_nfs(refresh: Option<i64>) -> Value {
    let mut value = json!({"type": "nfs", "endpoint": NFS});
    if let Some(r) = refresh {
        value["refreshIntervalInSeconds"] = json!(r);
    }
    json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "Setting",
        "metadata": {"name": "backup-target", "uid": "setting-uid", "resourceVersion": "1"},
        "value": value.to_string()})
}

pub fn storage_class(name: &str) -> Value {
    json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": name}, "provisioner": "driver.longhorn.io"})
}

pub fn snapshot_class(name: &str) -> Value {
    json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
        "metadata": {"name": name}, "driver": "driver.longhorn.io", "deletionPolicy": "Delete",
        "parameters": {"type": "bak"}})
}

pub fn namespace(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
}

pub fn pvc(name: &str, ns: &str, pv: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{name}")},
        "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "10Gi"}},
            "volumeName": pv, "storageClassName": "longhorn", "volumeMode": "Block"},
        "status": {"phase": "Bound"}})
}

pub fn vm(name: &str, ns: &str, claim: &str, ready: bool) -> Value {
    json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
        "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{name}"), "resourceVersion": "5"},
        "spec": {"runStrategy": if ready {"RerunOnFailure"} else {"Halted"},
            "template": {"spec": {"domain": {"devices": {"disks": [{"name": "disk-0", "disk": {"bus": "virtio"}}]}},
                "volumes": [{"name": "disk-0", "persistentVolumeClaim": {"claimName": claim}}]}}},
        "status": {"ready": ready}})
}

/// A volume backup entry.
pub fn vb(vmb: &str, pvc: &str, pv: &str, lhb: Option<&str>) -> Value {
    let mut v = json!({"name": format!("{vmb}-volume-{pvc}"), "volumeName": "disk-0", "csiDriverName": "driver.longhorn.io",
        "persistentVolumeClaim": {"metadata": {"name": pvc, "namespace": "default"},
            "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "10Gi"}},
                "volumeName": pv, "storageClassName": "longhorn", "volumeMode": "Block"}},
        "volumeSize": 10737418240i64, "readyToUse": true, "progress": 100,
        "creationTime": "2025-01-01T00:00:00Z"});
    if let Some(b) = lhb {
        v["longhornBackupName"] = json!(b);
    }
    v
}

/// A ready VMBackup of VM `vm1` in `default` on the NFS target.
pub fn ready_vmbackup(name: &str, vbs: Vec<Value>) -> Value {
    json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineBackup",
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"), "resourceVersion": "7",
            "finalizers": ["wrangler.cattle.io/harvester-vm-backup-controller"]},
        "spec": {"source": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": "vm1"}, "type": "backup"},
        "status": {"sourceUID": "uid-vm1", "readyToUse": true, "progress": 100, "creationTime": "2025-01-01T00:00:00Z",
            "backupTarget": {"endpoint": NFS},
            "csiDriverVolumeSnapshotClassNames": {"driver.longhorn.io": "longhorn"},
            "source": {"metadata": {"name": "vm1", "namespace": "default"},
                "spec": {"runStrategy": "RerunOnFailure", "template": {"spec": {"volumes": [
                    {"name": "disk-0", "persistentVolumeClaim": {"claimName": PVC}}]}}}},
            "volumeBackups": vbs,
            "conditions": [
                {"type": "InProgress", "status": "False", "message": "Operation complete",
                    "lastUpdateTime": "2025-01-01T00:00:00Z", "lastTransitionTime": "2025-01-01T00:00:00Z"},
                {"type": "Ready", "status": "True", "message": "Operation complete",
                    "lastUpdateTime": "2025-01-01T00:00:00Z", "lastTransitionTime": "2025-01-01T00:00:00Z"},
                {"type": "MetadataReady", "status": "True",
                    "lastUpdateTime": "2025-01-01T00:00:00Z", "lastTransitionTime": "2025-01-01T00:00:00Z"}]}})
}

/// A ready VolumeSnapshot owned by VMBackup `vmb`, bound to `content`.
pub fn owned_snapshot(vmb: &str, name: &str, content: &str) -> Value {
    json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"), "resourceVersion": "3",
            "ownerReferences": [{"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineBackup",
                "name": vmb, "uid": format!("uid-{vmb}"), "controller": true}]},
        "spec": {"source": {"volumeSnapshotContentName": content}, "volumeSnapshotClassName": "longhorn"},
        "status": {"boundVolumeSnapshotContentName": content, "readyToUse": true, "creationTime": "2025-01-01T00:00:00Z"}})
}

/// A pre-provisioned content with `handle`, bound to `default/snapshot`.
pub fn content(name: &str, handle: &str, policy: &str, snapshot: &str) -> Value {
    json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotContent",
        "metadata": {"name": name, "uid": format!("uid-{name}"), "resourceVersion": "4"},
        "spec": {"driver": "driver.longhorn.io", "deletionPolicy": policy, "volumeSnapshotClassName": "longhorn",
            "source": {"snapshotHandle": handle},
            "volumeSnapshotRef": {"name": snapshot, "namespace": "default"}},
        "status": {"snapshotHandle": handle, "readyToUse": true}})
}

/// The volume backup (and VolumeSnapshot) name of the cluster below.
pub fn vb_name() -> String {
    format!("{VMB}-volume-{PVC}")
}

/// A cluster whose one VM backup's content carries the legacy handle
/// `bs://<PVC name>/<backup>` (as rediscovered by Harvester before v1.5).
pub fn legacy_cluster() -> Vec<Value> {
    let vb_name = vb_name();
    vec![
        setting_nfs(Some(0)),
        lh_target(true),
        storage_class("longhorn"),
        snapshot_class("longhorn"),
        namespace("default"),
        lh_backup(LHB, PV),
        backup_volume(PV),
        pvc(PVC, "default", PV),
        vm("vm1", "default", PVC, false),
        ready_vmbackup(VMB, vec![vb(VMB, PVC, PV, Some(LHB))]),
        owned_snapshot(VMB, &vb_name, &format!("{vb_name}-vsc")),
        content(
            &format!("{vb_name}-vsc"),
            &format!("bs://{PVC}/{LHB}"),
            "Delete",
            &vb_name,
        ),
    ]
}

/// The same cluster with correct handles.
pub fn healthy_cluster() -> Vec<Value> {
    let mut objects = legacy_cluster();
    let vb_name = vb_name();
    let last = objects.len() - 1;
    objects[last] = content(
        &format!("{vb_name}-vsc"),
        &format!("bak://{PV}/{LHB}"),
        "Delete",
        &vb_name,
    );
    objects
}

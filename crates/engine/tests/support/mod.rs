//! Builders for the objects of a small Harvester cluster, and helpers to
//! plan, apply and re-plan.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod world;

use chrono::{DateTime, TimeZone, Utc};
use serde_json::{Value, json};
use vmbackup_engine::target::{TargetBackup, TargetListing};
use vmbackup_engine::testing::apply;
use vmbackup_engine::{Object, Options, Plan, TargetFacts, TargetState, View, plan};

pub const NFS: &str = "nfs://10.0.0.1:/export";

pub fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2025, 6, 1, 12, 0, 0).unwrap()
}

pub fn obj(v: Value) -> Object {
    Object::from_value(v).unwrap()
}

pub fn setting_nfs(refresh: Option<i64>) -> Object {
    let mut value = json!({"type": "nfs", "endpoint": NFS});
    if let Some(r) = refresh {
        value["refreshIntervalInSeconds"] = json!(r);
    }
    obj(
        json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "Setting",
        "metadata": {"name": "backup-target", "uid": "setting-uid", "resourceVersion": "1"},
        "value": value.to_string()}),
    )
}

pub fn storage_class(name: &str) -> Object {
    obj(
        json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": name}, "provisioner": "driver.longhorn.io"}),
    )
}

/// Longhorn's backup VolumeSnapshotClass `longhorn` (`type: bak`).
pub fn backup_snapshot_class() -> Object {
    obj(
        json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
        "metadata": {"name": "longhorn"}, "driver": "driver.longhorn.io", "deletionPolicy": "Delete",
        "parameters": {"type": "bak"}}),
    )
}

pub fn namespace(name: &str) -> Object {
    obj(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}))
}

pub fn lh_backup(name: &str, volume: &str) -> Object {
    obj(
        json!({"apiVersion": "longhorn.io/v1beta2", "kind": "Backup",
        "metadata": {"name": name, "namespace": "longhorn-system", "uid": format!("uid-{name}"), "resourceVersion": "1",
            "labels": {"backup-volume": volume, "backup-target": "default"}},
        "spec": {"snapshotName": format!("snapshot-{name}")},
        "status": {"state": "Completed", "volumeName": volume, "backupTargetName": "default",
            "snapshotName": format!("snapshot-{name}"), "progress": 100}}),
    )
}

pub fn backup_volume(volume: &str) -> Object {
    obj(
        json!({"apiVersion": "longhorn.io/v1beta2", "kind": "BackupVolume",
        "metadata": {"name": format!("{volume}-0fbc591a"), "namespace": "longhorn-system",
            "labels": {"backup-volume": volume, "backup-target": "default"}},
        "spec": {"volumeName": volume, "backupTargetName": "default"}}),
    )
}

pub fn lh_target(available: bool) -> Object {
    obj(
        json!({"apiVersion": "longhorn.io/v1beta2", "kind": "BackupTarget",
        "metadata": {"name": "default", "namespace": "longhorn-system", "uid": "bt-uid", "resourceVersion": "1"},
        "spec": {"backupTargetURL": NFS, "pollInterval": "5m0s"},
        "status": {"available": available}}),
    )
}

/// A volume backup entry.
pub fn vb(vmb: &str, pvc: &str, pv: &str, lhb: Option<&str>, ready: bool) -> Value {
    let mut v = json!({"name": format!("{vmb}-volume-{pvc}"), "volumeName": "disk-0", "csiDriverName": "driver.longhorn.io",
        "persistentVolumeClaim": {"metadata": {"name": pvc, "namespace": "default"},
            "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "10Gi"}},
                "volumeName": pv, "storageClassName": "longhorn", "volumeMode": "Block"}},
        "volumeSize": 10737418240i64, "readyToUse": ready, "progress": if ready {100} else {0}});
    if let Some(b) = lhb {
        v["longhornBackupName"] = json!(b);
    }
    if ready {
        v["creationTime"] = json!("2025-01-01T00:00:00Z");
    }
    v
}

/// A ready VMBackup of VM `vm1` in `default` on the NFS target.
pub fn ready_vmbackup(name: &str, vbs: Vec<Value>) -> Object {
    obj(
        json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineBackup",
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"), "resourceVersion": "7",
            "finalizers": ["wrangler.cattle.io/harvester-vm-backup-controller"]},
        "spec": {"source": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": "vm1"}, "type": "backup"},
        "status": {"sourceUID": "uid-vm1", "readyToUse": true, "progress": 100, "creationTime": "2025-01-01T00:00:00Z",
            "backupTarget": {"endpoint": NFS},
            "csiDriverVolumeSnapshotClassNames": {"driver.longhorn.io": "longhorn"},
            "source": {"metadata": {"name": "vm1", "namespace": "default"},
                "spec": {"runStrategy": "RerunOnFailure", "template": {"spec": {"volumes": [
                    {"name": "disk-0", "persistentVolumeClaim": {"claimName": "vm1-disk-0-abcde"}}]}}}},
            "volumeBackups": vbs,
            "conditions": [
                {"type": "InProgress", "status": "False", "message": "Operation complete",
                    "lastUpdateTime": "2025-01-01T00:00:00Z", "lastTransitionTime": "2025-01-01T00:00:00Z"},
                {"type": "Ready", "status": "True", "message": "Operation complete",
                    "lastUpdateTime": "2025-01-01T00:00:00Z", "lastTransitionTime": "2025-01-01T00:00:00Z"},
                {"type": "MetadataReady", "status": "True",
                    "lastUpdateTime": "2025-01-01T00:00:00Z", "lastTransitionTime": "2025-01-01T00:00:00Z"}]}}),
    )
}

/// A ready VolumeSnapshot owned by VMBackup `vmb`, bound to `content`.
pub fn owned_snapshot(vmb: &str, name: &str, content: &str) -> Object {
    obj(
        json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
        "metadata": {"name": name, "namespace": "default", "uid": format!("uid-{name}"), "resourceVersion": "3",
            "ownerReferences": [{"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineBackup",
                "name": vmb, "uid": format!("uid-{vmb}"), "controller": true}]},
        "spec": {"source": {"volumeSnapshotContentName": content}, "volumeSnapshotClassName": "longhorn"},
        "status": {"boundVolumeSnapshotContentName": content, "readyToUse": true, "creationTime": "2025-01-01T00:00:00Z"}}),
    )
}

/// A pre-provisioned content with `handle`, bound to `default/snapshot`.
pub fn content(name: &str, handle: &str, policy: &str, snapshot: &str) -> Object {
    obj(
        json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotContent",
        "metadata": {"name": name, "uid": format!("uid-{name}"), "resourceVersion": "4"},
        "spec": {"driver": "driver.longhorn.io", "deletionPolicy": policy, "volumeSnapshotClassName": "longhorn",
            "source": {"snapshotHandle": handle},
            "volumeSnapshotRef": {"name": snapshot, "namespace": "default"}},
        "status": {"snapshotHandle": handle, "readyToUse": true}}),
    )
}

pub fn pvc(name: &str, ns: &str, pv: &str) -> Object {
    obj(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{name}")},
        "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "10Gi"}},
            "volumeName": pv, "storageClassName": "longhorn", "volumeMode": "Block"},
        "status": {"phase": "Bound"}}))
}

/// A listing of the NFS target holding these (volume, backup) pairs.
pub fn listing(backups: &[(&str, &str)]) -> TargetFacts {
    let mut l = TargetListing {
        complete: true,
        ..TargetListing::default()
    };
    for (volume, backup) in backups {
        l.volumes
            .entry((*volume).to_owned())
            .or_default()
            .backups
            .insert((*backup).to_owned(), TargetBackup { complete: true });
    }
    TargetFacts {
        url: NFS.to_owned(),
        state: TargetState::Listed(l),
    }
}

pub fn not_read() -> TargetFacts {
    TargetFacts::not_read(NFS)
}

/// Plans, applies, and returns the state after.
pub fn plan_and_apply(
    view: &View,
    target: &TargetFacts,
    options: &Options,
) -> (Plan, View, TargetFacts) {
    let p = plan(view, target, now(), options);
    let (v, t, err) = apply(view, target, &p.steps);
    assert_eq!(err, None, "plan does not apply: {:#?}", p.steps);
    (p, v, t)
}

/// Steps as `verb kind name` lines, for readable assertions.
pub fn summary(p: &Plan) -> Vec<String> {
    p.steps
        .iter()
        .map(|s| {
            let t = s.action.target();
            format!("{} {} {}", s.action.verb(), t.kind, t.name)
        })
        .collect()
}

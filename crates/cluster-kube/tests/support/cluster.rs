//! A cluster where VMBackup `default/vm1-b1` has one volume whose
//! VolumeSnapshotContent carries the legacy handle `bs://<PVC name>/<backup>`,
//! which Longhorn 1.8 and later cannot resolve. Objects are JSON as the API
//! server returns them (uids, resourceVersions).

use serde_json::{Value, json};
use vmbackup_engine::Kind;

pub const NFS: &str = "nfs://10.0.0.1:/export";
pub const VMB: &str = "vm1-b1";
pub const PVC: &str = "vm1-disk-0-abcde";
pub const VB: &str = "vm1-b1-volume-vm1-disk-0-abcde";
pub const PV: &str = "pvc-5b1c3e8e-2f7a-4c0e-9d7e-1b2c3d4e5f60";
pub const LHB: &str = "backup-70d260245e9e415a";

pub fn setting() -> Value {
    json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "Setting",
        "metadata": {"name": "backup-target", "uid": "setting-uid", "resourceVersion": "11"},
        "value": json!({"type": "nfs", "endpoint": NFS, "refreshIntervalInSeconds": 0}).to_string()})
}

pub fn storage_class() -> Value {
    json!({"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
        "metadata": {"name": "longhorn", "uid": "sc-uid", "resourceVersion": "12"},
        "provisioner": "driver.longhorn.io"})
}

pub fn namespace() -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": "default", "uid": "ns-uid", "resourceVersion": "13"}})
}

pub fn backup_target() -> Value {
    json!({"apiVersion": "longhorn.io/v1beta2", "kind": "BackupTarget",
        "metadata": {"name": "default", "namespace": "longhorn-system", "uid": "bt-uid", "resourceVersion": "14"},
        "spec": {"backupTargetURL": NFS, "pollInterval": "5m0s"},
        "status": {"available": true}})
}

pub fn longhorn_backup() -> Value {
    json!({"apiVersion": "longhorn.io/v1beta2", "kind": "Backup",
        "metadata": {"name": LHB, "namespace": "longhorn-system", "uid": "lhb-uid", "resourceVersion": "15",
            "labels": {"backup-volume": PV, "backup-target": "default"}},
        "spec": {"snapshotName": format!("snapshot-{LHB}")},
        "status": {"state": "Completed", "volumeName": PV, "backupTargetName": "default",
            "snapshotName": format!("snapshot-{LHB}"), "progress": 100}})
}

pub fn backup_volume() -> Value {
    json!({"apiVersion": "longhorn.io/v1beta2", "kind": "BackupVolume",
        "metadata": {"name": format!("{PV}-0fbc591a"), "namespace": "longhorn-system", "uid": "bv-uid",
            "resourceVersion": "16", "labels": {"backup-volume": PV, "backup-target": "default"}},
        "spec": {"volumeName": PV, "backupTargetName": "default"}})
}

pub fn pvc() -> Value {
    json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
        "metadata": {"name": PVC, "namespace": "default", "uid": "pvc-uid", "resourceVersion": "17"},
        "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "10Gi"}},
            "volumeName": PV, "storageClassName": "longhorn", "volumeMode": "Block"},
        "status": {"phase": "Bound"}})
}

pub fn vmbackup() -> Value {
    json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineBackup",
        "metadata": {"name": VMB, "namespace": "default", "uid": "vmb-uid", "resourceVersion": "20",
            "finalizers": ["wrangler.cattle.io/harvester-vm-backup-controller"]},
        "spec": {"source": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": "vm1"}, "type": "backup"},
        "status": {"sourceUID": "vm1-uid", "readyToUse": true, "progress": 100, "creationTime": "2025-01-01T00:00:00Z",
            "backupTarget": {"endpoint": NFS},
            "csiDriverVolumeSnapshotClassNames": {"driver.longhorn.io": "longhorn"},
            "source": {"metadata": {"name": "vm1", "namespace": "default"},
                "spec": {"runStrategy": "RerunOnFailure", "template": {"spec": {"volumes": [
                    {"name": "disk-0", "persistentVolumeClaim": {"claimName": PVC}}]}}}},
            "volumeBackups": [{"name": VB, "volumeName": "disk-0", "csiDriverName": "driver.longhorn.io",
                "persistentVolumeClaim": {"metadata": {"name": PVC, "namespace": "default"},
                    "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "10Gi"}},
                        "volumeName": PV, "storageClassName": "longhorn", "volumeMode": "Block"}},
                "longhornBackupName": LHB, "volumeSize": 10737418240i64, "readyToUse": true,
                "progress": 100, "creationTime": "2025-01-01T00:00:00Z"}],
            "conditions": [
                {"type": "InProgress", "status": "False", "message": "Operation complete",
                    "lastUpdateTime": "2025-01-01T00:00:00Z", "lastTransitionTime": "2025-01-01T00:00:00Z"},
                {"type": "Ready", "status": "True", "message": "Operation complete",
                    "lastUpdateTime": "2025-01-01T00:00:00Z", "lastTransitionTime": "2025-01-01T00:00:00Z"},
                {"type": "MetadataReady", "status": "True",
                    "lastUpdateTime": "2025-01-01T00:00:00Z", "lastTransitionTime": "2025-01-01T00:00:00Z"}]}})
}

pub fn snapshot() -> Value {
    json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
        "metadata": {"name": VB, "namespace": "default", "uid": "vs-uid", "resourceVersion": "21",
            "ownerReferences": [{"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineBackup",
                "name": VMB, "uid": "vmb-uid", "controller": true}]},
        "spec": {"source": {"volumeSnapshotContentName": format!("{VB}-vsc")}, "volumeSnapshotClassName": "longhorn"},
        "status": {"boundVolumeSnapshotContentName": format!("{VB}-vsc"), "readyToUse": true,
            "creationTime": "2025-01-01T00:00:00Z"}})
}

pub fn content() -> Value {
    let handle = format!("bs://{PVC}/{LHB}");
    json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotContent",
        "metadata": {"name": format!("{VB}-vsc"), "uid": "vsc-uid", "resourceVersion": "22"},
        "spec": {"driver": "driver.longhorn.io", "deletionPolicy": "Delete", "volumeSnapshotClassName": "longhorn",
            "source": {"snapshotHandle": handle},
            "volumeSnapshotRef": {"name": VB, "namespace": "default"}},
        "status": {"snapshotHandle": handle, "readyToUse": true}})
}

/// Every object of the cluster, by kind.
pub fn objects() -> Vec<(Kind, Value)> {
    vec![
        (Kind::Setting, setting()),
        (Kind::Namespace, namespace()),
        (Kind::StorageClass, storage_class()),
        (Kind::LonghornBackupTarget, backup_target()),
        (Kind::LonghornBackupVolume, backup_volume()),
        (Kind::LonghornBackup, longhorn_backup()),
        (Kind::PersistentVolumeClaim, pvc()),
        (Kind::VirtualMachineBackup, vmbackup()),
        (Kind::VolumeSnapshot, snapshot()),
        (Kind::VolumeSnapshotContent, content()),
    ]
}

/// The URL path of the collection of `kind` (all namespaces).
pub fn collection(kind: Kind) -> String {
    vmbackup_kube::testing::collection(kind).unwrap()
}

/// The URL path of one object.
pub fn object_path(kind: Kind, namespace: Option<&str>, name: &str) -> String {
    vmbackup_kube::testing::object_path(kind, namespace, name).unwrap()
}

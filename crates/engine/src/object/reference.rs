//! Kinds of objects the engine knows, and references to single objects.

use std::borrow::Cow;
use std::fmt;

use serde::Serialize;

/// Every kind of object the engine reads or writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    /// `harvesterhci.io/v1beta1` VirtualMachineBackup.
    VirtualMachineBackup,
    /// `harvesterhci.io/v1beta1` VirtualMachineRestore.
    VirtualMachineRestore,
    /// `harvesterhci.io/v1beta1` Setting (cluster scoped).
    Setting,
    /// `snapshot.storage.k8s.io/v1` VolumeSnapshot.
    VolumeSnapshot,
    /// `snapshot.storage.k8s.io/v1` VolumeSnapshotContent (cluster scoped).
    VolumeSnapshotContent,
    /// `snapshot.storage.k8s.io/v1` VolumeSnapshotClass (cluster scoped).
    VolumeSnapshotClass,
    /// `longhorn.io/v1beta2` Backup.
    LonghornBackup,
    /// `longhorn.io/v1beta2` BackupVolume.
    LonghornBackupVolume,
    /// `longhorn.io/v1beta2` BackupTarget.
    LonghornBackupTarget,
    /// `longhorn.io/v1beta2` Volume.
    LonghornVolume,
    /// `longhorn.io/v1beta2` Engine.
    LonghornEngine,
    /// `kubevirt.io/v1` VirtualMachine.
    VirtualMachine,
    /// Core PersistentVolumeClaim.
    PersistentVolumeClaim,
    /// Core PersistentVolume (cluster scoped).
    PersistentVolume,
    /// `storage.k8s.io/v1` StorageClass (cluster scoped).
    StorageClass,
    /// Core Namespace (cluster scoped).
    Namespace,
    /// Core Secret.
    Secret,
    /// A file on the backup target (the name is its path from the root).
    TargetFile,
}

impl Kind {
    /// Every kind, in a fixed order.
    pub const ALL: &'static [Kind] = &[
        Kind::VirtualMachineBackup,
        Kind::VirtualMachineRestore,
        Kind::Setting,
        Kind::VolumeSnapshot,
        Kind::VolumeSnapshotContent,
        Kind::VolumeSnapshotClass,
        Kind::LonghornBackup,
        Kind::LonghornBackupVolume,
        Kind::LonghornBackupTarget,
        Kind::LonghornVolume,
        Kind::LonghornEngine,
        Kind::VirtualMachine,
        Kind::PersistentVolumeClaim,
        Kind::PersistentVolume,
        Kind::StorageClass,
        Kind::Namespace,
        Kind::Secret,
        Kind::TargetFile,
    ];

    /// The Kubernetes `kind` field.
    pub fn kind(self) -> &'static str {
        match self {
            Kind::VirtualMachineBackup => "VirtualMachineBackup",
            Kind::VirtualMachineRestore => "VirtualMachineRestore",
            Kind::Setting => "Setting",
            Kind::VolumeSnapshot => "VolumeSnapshot",
            Kind::VolumeSnapshotContent => "VolumeSnapshotContent",
            Kind::VolumeSnapshotClass => "VolumeSnapshotClass",
            Kind::LonghornBackup => "Backup",
            Kind::LonghornBackupVolume => "BackupVolume",
            Kind::LonghornBackupTarget => "BackupTarget",
            Kind::LonghornVolume => "Volume",
            Kind::LonghornEngine => "Engine",
            Kind::VirtualMachine => "VirtualMachine",
            Kind::PersistentVolumeClaim => "PersistentVolumeClaim",
            Kind::PersistentVolume => "PersistentVolume",
            Kind::StorageClass => "StorageClass",
            Kind::Namespace => "Namespace",
            Kind::Secret => "Secret",
            Kind::TargetFile => "TargetFile",
        }
    }

    /// The Kubernetes `apiVersion` of objects of this kind.
    pub fn api_version(self) -> &'static str {
        match self {
            Kind::VirtualMachineBackup | Kind::VirtualMachineRestore | Kind::Setting => {
                "harvesterhci.io/v1beta1"
            }
            Kind::VolumeSnapshot | Kind::VolumeSnapshotContent | Kind::VolumeSnapshotClass => {
                "snapshot.storage.k8s.io/v1"
            }
            Kind::LonghornBackup
            | Kind::LonghornBackupVolume
            | Kind::LonghornBackupTarget
            | Kind::LonghornVolume
            | Kind::LonghornEngine => "longhorn.io/v1beta2",
            Kind::VirtualMachine => "kubevirt.io/v1",
            Kind::PersistentVolumeClaim
            | Kind::PersistentVolume
            | Kind::Namespace
            | Kind::Secret => "v1",
            Kind::StorageClass => "storage.k8s.io/v1",
            Kind::TargetFile => "vmbackup.io/target",
        }
    }

    /// Whether objects of this kind live in a namespace.
    pub fn namespaced(self) -> bool {
        !matches!(
            self,
            Kind::Setting
                | Kind::VolumeSnapshotContent
                | Kind::VolumeSnapshotClass
                | Kind::PersistentVolume
                | Kind::StorageClass
                | Kind::Namespace
                | Kind::TargetFile
        )
    }

    /// The namespace an object of this kind with `namespace` in its
    /// metadata is in: its own, `default` when a namespaced object has none
    /// (as `kubectl apply` would place it), none for a cluster-scoped kind.
    pub fn filed_namespace<'a>(self, namespace: Option<Cow<'a, str>>) -> Option<Cow<'a, str>> {
        match (self.namespaced(), namespace) {
            (true, Some(ns)) => Some(ns),
            (true, None) => Some(Cow::Borrowed("default")),
            (false, _) => None,
        }
    }

    /// Whether the kind has a `status` subresource, so that status changes
    /// must be sent to `/status`. Harvester's VirtualMachineBackup and
    /// VirtualMachineRestore have none: their status is written with the
    /// object.
    pub fn has_status_subresource(self) -> bool {
        matches!(
            self,
            Kind::VolumeSnapshot
                | Kind::VolumeSnapshotContent
                | Kind::LonghornBackup
                | Kind::LonghornBackupVolume
                | Kind::LonghornBackupTarget
                | Kind::LonghornVolume
                | Kind::LonghornEngine
                | Kind::VirtualMachine
                | Kind::PersistentVolumeClaim
                | Kind::PersistentVolume
                | Kind::Namespace
        )
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.kind())
    }
}

impl Serialize for Kind {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.kind())
    }
}

/// A reference to one object: kind, namespace (for namespaced kinds) and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct ObjectRef {
    /// The kind.
    pub kind: Kind,
    /// The `apiVersion`, derived from the kind.
    #[serde(rename = "apiVersion")]
    pub api_version: &'static str,
    /// The namespace; `None` for cluster-scoped kinds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// The name.
    pub name: String,
}

impl ObjectRef {
    /// A namespaced object.
    pub fn namespaced(kind: Kind, namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ObjectRef {
            kind,
            api_version: kind.api_version(),
            namespace: Some(namespace.into()),
            name: name.into(),
        }
    }

    /// A cluster-scoped object.
    pub fn cluster(kind: Kind, name: impl Into<String>) -> Self {
        ObjectRef {
            kind,
            api_version: kind.api_version(),
            namespace: None,
            name: name.into(),
        }
    }

    /// An object of `kind` in `namespace` if the kind is namespaced, else a
    /// cluster-scoped one.
    pub fn new(kind: Kind, namespace: Option<&str>, name: impl Into<String>) -> Self {
        match kind.filed_namespace(namespace.map(Cow::Borrowed)) {
            Some(ns) => ObjectRef::namespaced(kind, ns, name),
            None => ObjectRef::cluster(kind, name),
        }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.namespace {
            Some(ns) => write!(f, "{} {}/{}", self.kind, ns, self.name),
            None => write!(f, "{} {}", self.kind, self.name),
        }
    }
}

//! Where each kind of object the engine knows lives on the API server:
//! group, version, plural and scope, taken from the typed objects' own
//! [`kube::Resource`] implementations so that no name is written twice.

use kube::api::{Api, DynamicObject};
use kube::core::ApiResource;
use kube::{Client, Resource};
use vmbackup_api::core::{
    Namespace, PersistentVolume, PersistentVolumeClaim, Secret, StorageClass,
};
use vmbackup_api::harvester::Setting;
use vmbackup_api::kubevirt::VirtualMachine;
use vmbackup_api::longhorn::{Backup, BackupTarget, BackupVolume, Engine, Volume};
use vmbackup_api::{
    VirtualMachineBackup, VirtualMachineRestore, VolumeSnapshot, VolumeSnapshotClass,
    VolumeSnapshotContent,
};
use vmbackup_engine::{Kind, ObjectRef};

/// The kinds read from a cluster, in the order they are listed. Secrets
/// are read separately (only those needed, see [`crate::SecretReads`]) and
/// target files are not cluster objects.
pub const LISTED_KINDS: &[Kind] = &[
    Kind::Setting,
    Kind::Namespace,
    Kind::StorageClass,
    Kind::VolumeSnapshotClass,
    Kind::LonghornBackupTarget,
    Kind::LonghornBackupVolume,
    Kind::LonghornBackup,
    Kind::LonghornVolume,
    Kind::LonghornEngine,
    Kind::PersistentVolume,
    Kind::PersistentVolumeClaim,
    Kind::VirtualMachine,
    Kind::VirtualMachineBackup,
    Kind::VolumeSnapshot,
    Kind::VolumeSnapshotContent,
    Kind::VirtualMachineRestore,
];

/// The API resource of `kind`, or `None` for [`Kind::TargetFile`].
pub fn api_resource(kind: Kind) -> Option<ApiResource> {
    fn of<K: Resource<DynamicType = ()>>() -> Option<ApiResource> {
        Some(ApiResource::erase::<K>(&()))
    }
    match kind {
        Kind::VirtualMachineBackup => of::<VirtualMachineBackup>(),
        Kind::VirtualMachineRestore => of::<VirtualMachineRestore>(),
        Kind::Setting => of::<Setting>(),
        Kind::VolumeSnapshot => of::<VolumeSnapshot>(),
        Kind::VolumeSnapshotContent => of::<VolumeSnapshotContent>(),
        Kind::VolumeSnapshotClass => of::<VolumeSnapshotClass>(),
        Kind::LonghornBackup => of::<Backup>(),
        Kind::LonghornBackupVolume => of::<BackupVolume>(),
        Kind::LonghornBackupTarget => of::<BackupTarget>(),
        Kind::LonghornVolume => of::<Volume>(),
        Kind::LonghornEngine => of::<Engine>(),
        Kind::VirtualMachine => of::<VirtualMachine>(),
        Kind::PersistentVolumeClaim => of::<PersistentVolumeClaim>(),
        Kind::PersistentVolume => of::<PersistentVolume>(),
        Kind::StorageClass => of::<StorageClass>(),
        Kind::Namespace => of::<Namespace>(),
        Kind::Secret => of::<Secret>(),
        Kind::TargetFile => None,
    }
}

/// An API handle for every object of `kind` (all namespaces).
pub fn api_all(client: &Client, kind: Kind) -> Option<Api<DynamicObject>> {
    api_resource(kind).map(|ar| Api::all_with(client.clone(), &ar))
}

/// An API handle for the object `target` refers to: its namespace for
/// namespaced kinds, the cluster scope otherwise.
pub fn api_for(client: &Client, target: &ObjectRef) -> Option<Api<DynamicObject>> {
    let ar = api_resource(target.kind)?;
    Some(match (&target.namespace, target.kind.namespaced()) {
        (Some(ns), true) => Api::namespaced_with(client.clone(), ns, &ar),
        (None, true) => Api::namespaced_with(client.clone(), "default", &ar),
        (_, false) => Api::all_with(client.clone(), &ar),
    })
}

/// A namespaced API handle for `kind` in `namespace`.
pub fn api_in(client: &Client, kind: Kind, namespace: &str) -> Option<Api<DynamicObject>> {
    api_resource(kind).map(|ar| Api::namespaced_with(client.clone(), namespace, &ar))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_cluster_kind_has_a_resource_matching_the_engine() {
        for kind in Kind::ALL {
            match api_resource(*kind) {
                None => assert_eq!(*kind, Kind::TargetFile),
                Some(ar) => {
                    assert_eq!(ar.kind, kind.kind(), "{kind:?}");
                    assert_eq!(ar.api_version, kind.api_version(), "{kind:?}");
                    assert!(!ar.plural.is_empty());
                }
            }
        }
    }

    #[test]
    fn plurals_are_the_served_ones() {
        let plural = |k| api_resource(k).map(|ar| ar.plural).unwrap_or_default();
        assert_eq!(plural(Kind::VirtualMachineBackup), "virtualmachinebackups");
        assert_eq!(
            plural(Kind::VolumeSnapshotContent),
            "volumesnapshotcontents"
        );
        assert_eq!(plural(Kind::LonghornBackup), "backups");
        assert_eq!(
            plural(Kind::PersistentVolumeClaim),
            "persistentvolumeclaims"
        );
        assert_eq!(plural(Kind::StorageClass), "storageclasses");
    }

    #[test]
    fn every_listed_kind_is_listed_once_and_secrets_are_not_among_them() {
        let mut seen = std::collections::BTreeSet::new();
        for kind in LISTED_KINDS {
            assert!(seen.insert(*kind), "{kind:?} twice");
        }
        let expected = Kind::ALL
            .iter()
            .filter(|k| !matches!(k, Kind::Secret | Kind::TargetFile))
            .count();
        assert_eq!(seen.len(), expected);
    }
}

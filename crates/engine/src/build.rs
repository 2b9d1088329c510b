//! Builders for the objects the engine creates, shaped as Harvester shapes
//! them (names from [`crate::naming`]).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use vmbackup_api::meta::ObjectReference;
use vmbackup_api::snapshot::{
    VolumeSnapshotContentSource, VolumeSnapshotContentSpec, VolumeSnapshotSource,
    VolumeSnapshotSpec,
};
use vmbackup_api::wellknown;
use vmbackup_api::{VolumeSnapshot, VolumeSnapshotContent};

/// An owner reference; `None` when the owner has no UID yet (it is being
/// created in the same plan: the reference is added once it exists).
pub fn owner_ref(
    api_version: &str,
    kind: &str,
    meta: &ObjectMeta,
    controller: bool,
) -> Option<OwnerReference> {
    Some(OwnerReference {
        api_version: api_version.to_owned(),
        kind: kind.to_owned(),
        name: meta.name.clone()?,
        uid: meta.uid.clone()?,
        controller: controller.then_some(true),
        block_owner_deletion: Some(true),
    })
}

/// A pre-provisioned content holding the Longhorn backup behind `handle`,
/// bound to the VolumeSnapshot `namespace/snapshot`.
pub fn backup_content(
    name: &str,
    handle: &str,
    class: Option<&str>,
    deletion_policy: &str,
    namespace: &str,
    snapshot: &str,
) -> VolumeSnapshotContent {
    VolumeSnapshotContent {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            ..ObjectMeta::default()
        },
        spec: VolumeSnapshotContentSpec {
            volume_snapshot_ref: ObjectReference {
                name: Some(snapshot.to_owned()),
                namespace: Some(namespace.to_owned()),
                ..ObjectReference::default()
            },
            deletion_policy: deletion_policy.to_owned(),
            driver: wellknown::LONGHORN_CSI_DRIVER.to_owned(),
            volume_snapshot_class_name: class.map(str::to_owned),
            source: VolumeSnapshotContentSource {
                snapshot_handle: Some(handle.to_owned()),
                ..VolumeSnapshotContentSource::default()
            },
            ..VolumeSnapshotContentSpec::default()
        },
        ..VolumeSnapshotContent::default()
    }
}

/// A VolumeSnapshot bound to the pre-provisioned content `content`.
pub fn snapshot_of_content(
    namespace: &str,
    name: &str,
    content: &str,
    class: Option<&str>,
    owner: Option<OwnerReference>,
) -> VolumeSnapshot {
    VolumeSnapshot {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            owner_references: owner.map(|o| vec![o]),
            ..ObjectMeta::default()
        },
        spec: VolumeSnapshotSpec {
            source: VolumeSnapshotSource {
                volume_snapshot_content_name: Some(content.to_owned()),
                ..VolumeSnapshotSource::default()
            },
            volume_snapshot_class_name: class.map(str::to_owned),
            ..VolumeSnapshotSpec::default()
        },
        ..VolumeSnapshot::default()
    }
}

/// A VolumeSnapshot of the PVC `namespace/pvc` (a new backup).
pub fn snapshot_of_pvc(
    namespace: &str,
    name: &str,
    pvc: &str,
    class: Option<&str>,
    annotations: BTreeMap<String, String>,
    owner: Option<OwnerReference>,
) -> VolumeSnapshot {
    VolumeSnapshot {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            annotations: (!annotations.is_empty()).then_some(annotations),
            owner_references: owner.map(|o| vec![o]),
            ..ObjectMeta::default()
        },
        spec: VolumeSnapshotSpec {
            source: VolumeSnapshotSource {
                persistent_volume_claim_name: Some(pvc.to_owned()),
                ..VolumeSnapshotSource::default()
            },
            volume_snapshot_class_name: class.map(str::to_owned),
            ..VolumeSnapshotSpec::default()
        },
        ..VolumeSnapshot::default()
    }
}

/// Whether `meta` has a controller owner reference to the object `uid`.
pub fn controlled_by(meta: &ObjectMeta, uid: Option<&str>) -> bool {
    let Some(uid) = uid else { return false };
    meta.owner_references
        .iter()
        .flatten()
        .any(|o| o.uid == uid && o.controller == Some(true))
}

//! The PVCs a restore creates from VolumeSnapshots, and the PVC templates a
//! restored VM records in its `harvesterhci.io/volumeClaimTemplates`
//! annotation.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use vmbackup_api::core::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, PvcSpec, PvcTemplate, VolumeResources,
};
use vmbackup_api::harvester::PersistentVolumeClaimSourceSpec;
use vmbackup_api::meta::{EmbeddedObjectMeta, TypedLocalObjectReference};
use vmbackup_api::wellknown;

/// Annotation prefixes of the source PVC that are not copied: binding state
/// of the old PV (`pv.kubernetes.io/…`), CDI's bookkeeping
/// (`cdi.kubevirt.io…`).
const DROPPED_ANNOTATION_PREFIXES: &[&str] = &["pv.kubernetes.io", "cdi.kubevirt.io"];
/// Source PVC annotations that would pin the restored PVC to the old
/// volume's node (which may not exist here).
const DROPPED_ANNOTATIONS: &[&str] = &["volume.kubernetes.io/selected-node"];
/// Labels CDI puts on the PVCs it owns.
const CDI_LABELS: &[(&str, &str)] = &[
    ("app", "containerized-data-importer"),
    ("app.kubernetes.io/component", "storage"),
    ("app.kubernetes.io/managed-by", "cdi-controller"),
];

/// The PVC restoring `source` (a volume backup's PVC) from the
/// VolumeSnapshot `snapshot`: access modes, size, storage class and volume
/// mode of the original; its labels and annotations less the binding,
/// node and CDI bookkeeping; and `restore.harvesterhci.io/name`. It has no
/// owner: the PVC lives with the VM, not with the restore.
pub fn restored_pvc(
    namespace: &str,
    name: &str,
    restore: &str,
    source: &PersistentVolumeClaimSourceSpec,
    snapshot: &str,
) -> Result<PersistentVolumeClaim, serde_json::Error> {
    let meta = source.metadata.as_ref();
    let labels: BTreeMap<String, String> = meta
        .and_then(|m| m.labels.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, v)| {
            !k.starts_with("cdi.kubevirt.io")
                && !CDI_LABELS.iter().any(|(ck, cv)| ck == k && cv == v)
        })
        .collect();
    let mut annotations: BTreeMap<String, String> = meta
        .and_then(|m| m.annotations.clone())
        .unwrap_or_default()
        .into_iter()
        .filter(|(k, _)| {
            !DROPPED_ANNOTATION_PREFIXES.iter().any(|p| k.starts_with(p))
                && !DROPPED_ANNOTATIONS.contains(&k.as_str())
        })
        .collect();
    annotations.insert(
        wellknown::ANNOTATION_RESTORE_NAME.to_owned(),
        restore.to_owned(),
    );
    let spec = PvcSpec {
        data_source: Some(TypedLocalObjectReference {
            api_group: Some(wellknown::SNAPSHOT_GROUP.to_owned()),
            kind: wellknown::KIND_VOLUME_SNAPSHOT.to_owned(),
            name: snapshot.to_owned(),
            ..TypedLocalObjectReference::default()
        }),
        ..claim_spec(source)
    };
    let spec: PersistentVolumeClaimSpec = spec.to_k8s()?;
    Ok(PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(namespace.to_owned()),
            labels: (!labels.is_empty()).then_some(labels),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        },
        spec: Some(spec),
        ..PersistentVolumeClaim::default()
    })
}

/// The parts of a backed-up PVC spec a restored PVC takes.
fn claim_spec(source: &PersistentVolumeClaimSourceSpec) -> PvcSpec {
    let spec = source.spec.clone().unwrap_or_default();
    PvcSpec {
        access_modes: spec.access_modes,
        resources: spec.resources.map(|r| VolumeResources {
            requests: r.requests,
            limits: r.limits,
            ..VolumeResources::default()
        }),
        storage_class_name: spec.storage_class_name,
        volume_mode: spec.volume_mode,
        ..PvcSpec::default()
    }
}

/// The template a restored VM records for the PVC `name` restored from
/// `source`: its name, the image annotation if any, and the claim spec.
pub fn claim_template(name: &str, source: &PersistentVolumeClaimSourceSpec) -> PvcTemplate {
    let image = source
        .metadata
        .as_ref()
        .and_then(|m| m.annotation(wellknown::ANNOTATION_IMAGE_ID))
        .map(|i| BTreeMap::from([(wellknown::ANNOTATION_IMAGE_ID.to_owned(), i.to_owned())]));
    PvcTemplate {
        metadata: Some(EmbeddedObjectMeta {
            name: Some(name.to_owned()),
            annotations: image,
            ..EmbeddedObjectMeta::default()
        }),
        spec: Some(claim_spec(source)),
        ..PvcTemplate::default()
    }
}

/// Whether the PVC holds no data yet: not bound to any volume.
pub fn is_unbound(pvc: &PersistentVolumeClaim) -> bool {
    pvc.spec
        .as_ref()
        .and_then(|s| s.volume_name.as_deref())
        .is_none_or(str::is_empty)
        && phase(pvc) != "Bound"
}

/// The PVC's phase (`Pending` when not reported yet).
pub fn phase(pvc: &PersistentVolumeClaim) -> &str {
    pvc.status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .unwrap_or("Pending")
}

/// The VolumeSnapshot a PVC is restored from, if any.
pub fn snapshot_source(pvc: &PersistentVolumeClaim) -> Option<&str> {
    pvc.spec
        .as_ref()?
        .data_source
        .as_ref()
        .filter(|d| d.kind == wellknown::KIND_VOLUME_SNAPSHOT)
        .map(|d| d.name.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_restored_pvc_copies_the_claim_and_drops_binding_node_and_cdi_state() {
        let source: PersistentVolumeClaimSourceSpec = serde_json::from_value(json!({
            "metadata": {"name": "vm1-disk-0", "namespace": "default",
                "labels": {"keep": "1", "app": "containerized-data-importer", "cdi.kubevirt.io/x": "y"},
                "annotations": {"harvesterhci.io/imageId": "default/image-1",
                    "pv.kubernetes.io/bind-completed": "yes",
                    "volume.kubernetes.io/selected-node": "node-1",
                    "cdi.kubevirt.io/storage.import": "z",
                    "volume.kubernetes.io/storage-provisioner": "driver.longhorn.io"}},
            "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "10Gi"}},
                "volumeName": "pvc-old", "storageClassName": "longhorn-image-1", "volumeMode": "Block",
                "dataSource": {"kind": "PersistentVolumeClaim", "name": "x"}}
        }))
        .unwrap();
        let pvc = restored_pvc("other", "restore-b-u-disk-0", "r1", &source, "vs-1").unwrap();
        let v = serde_json::to_value(&pvc).unwrap();
        assert_eq!(v["metadata"]["labels"], json!({"keep": "1"}));
        assert_eq!(
            v["metadata"]["annotations"],
            json!({"harvesterhci.io/imageId": "default/image-1",
                "volume.kubernetes.io/storage-provisioner": "driver.longhorn.io",
                "restore.harvesterhci.io/name": "r1"})
        );
        assert_eq!(
            v["spec"],
            json!({"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "10Gi"}},
                "storageClassName": "longhorn-image-1", "volumeMode": "Block",
                "dataSource": {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot", "name": "vs-1"}})
        );
        assert!(is_unbound(&pvc));
        assert_eq!(snapshot_source(&pvc), Some("vs-1"));
        let t = serde_json::to_value(claim_template("restore-b-u-disk-0", &source)).unwrap();
        assert_eq!(
            t,
            json!({"metadata": {"name": "restore-b-u-disk-0", "annotations": {"harvesterhci.io/imageId": "default/image-1"}},
                "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "10Gi"}},
                    "storageClassName": "longhorn-image-1", "volumeMode": "Block"}})
        );
    }
}

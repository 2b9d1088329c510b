//! What Harvester releases before 1.5 did, to build the objects old
//! clusters still carry: VolumeSnapshotContents whose handle is
//! `bs://<PVC name>/<Longhorn backup>` — the PVC name where Longhorn needs
//! its volume name. Longhorn before 1.8 ignores that part and restores from
//! them; 1.8 and later cannot find a backup volume and refuse.
//!
//! Two paths made them: rediscovering a VM backup from the target, and
//! restoring a VM backup into another namespace. Both are reproduced here
//! as the old controller did them, so that vmbackup can be shown finding
//! and repairing them.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use serde_json::json;
use vmbackup_api::meta::ObjectReference;
use vmbackup_api::snapshot::{
    VolumeSnapshotContentSource, VolumeSnapshotContentSpec, VolumeSnapshotSource,
    VolumeSnapshotSpec,
};
use vmbackup_api::wellknown;
use vmbackup_api::{VirtualMachineBackup, VolumeSnapshot, VolumeSnapshotContent};
use vmbackup_engine::metadata::VmBackupMetadata;
use vmbackup_engine::naming;
use vmbackup_engine::{Kind, Object, ObjectRef};

use crate::cluster::Cluster;
use crate::error::SimError;

/// Label on the objects of a restore made the old way.
pub const LABEL_LEGACY_RESTORE: &str = "sim.vmbackup.io/legacy-restore";

/// The handle old Harvester wrote: `bs://<PVC name>/<backup>`.
pub fn legacy_handle(pvc: &str, backup: &str) -> String {
    format!("bs://{pvc}/{backup}")
}

fn content(
    name: &str,
    handle: &str,
    policy: &str,
    ns: &str,
    snapshot: &str,
    labels: Option<BTreeMap<String, String>>,
) -> VolumeSnapshotContent {
    VolumeSnapshotContent {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            labels,
            ..ObjectMeta::default()
        },
        spec: VolumeSnapshotContentSpec {
            volume_snapshot_ref: ObjectReference {
                name: Some(snapshot.to_owned()),
                namespace: Some(ns.to_owned()),
                ..ObjectReference::default()
            },
            deletion_policy: policy.to_owned(),
            driver: wellknown::LONGHORN_CSI_DRIVER.to_owned(),
            volume_snapshot_class_name: Some(wellknown::VSCLASS_LONGHORN_BACKUP.to_owned()),
            source: VolumeSnapshotContentSource {
                snapshot_handle: Some(handle.to_owned()),
                ..VolumeSnapshotContentSource::default()
            },
            ..VolumeSnapshotContentSpec::default()
        },
        ..VolumeSnapshotContent::default()
    }
}

fn snapshot(
    ns: &str,
    name: &str,
    content: &str,
    owner: Option<OwnerReference>,
    labels: Option<BTreeMap<String, String>>,
) -> VolumeSnapshot {
    VolumeSnapshot {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(ns.to_owned()),
            owner_references: owner.map(|o| vec![o]),
            labels,
            ..ObjectMeta::default()
        },
        spec: VolumeSnapshotSpec {
            source: VolumeSnapshotSource {
                volume_snapshot_content_name: Some(content.to_owned()),
                ..VolumeSnapshotSource::default()
            },
            volume_snapshot_class_name: Some(wellknown::VSCLASS_LONGHORN_BACKUP.to_owned()),
            ..VolumeSnapshotSpec::default()
        },
        ..VolumeSnapshot::default()
    }
}

impl Cluster {
    /// Old Harvester's rediscovery of VM backup `ns/name` from the target:
    /// the VMBackup is created from its metadata file with its status, and
    /// every volume backup gets a content `<vb>-vsc` with the legacy handle
    /// and a VolumeSnapshot `<vb>` bound to it, both owned by the VMBackup.
    pub fn legacy_rediscover(&mut self, ns: &str, name: &str) -> Result<(), SimError> {
        let server = self
            .server()
            .cloned()
            .ok_or_else(|| SimError::Invalid("no backup target on the network".into()))?;
        let raw = server
            .run(server.store().read_vm_backup_metadata(ns, name))?
            .ok_or_else(|| SimError::NotFound(format!("metadata of VM backup {ns}/{name}")))?;
        let doc: VmBackupMetadata = serde_json::to_value(&raw)
            .and_then(serde_json::from_value)
            .map_err(|e| SimError::Invalid(format!("metadata of {ns}/{name}: {e}")))?;
        let vbs: Vec<serde_json::Value> = doc
            .volume_backups
            .iter()
            .map(|vb| {
                let mut v = serde_json::to_value(vb).unwrap_or_default();
                v["readyToUse"] = json!(false);
                v
            })
            .collect();
        let vmb = Object::from_value(json!({
            "apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineBackup",
            "metadata": {"name": name, "namespace": ns},
            "spec": doc.backup_spec,
            "status": {"readyToUse": false, "backupTarget": {"endpoint": server.url()},
                "source": doc.vm_source_spec, "volumeBackups": vbs,
                "secretBackups": doc.secret_backups}
        }))
        .map_err(|e| SimError::Invalid(e.to_string()))?;
        let created = self.store_mut().create(vmb)?;
        let owner = OwnerReference {
            api_version: wellknown::HARVESTER_API_VERSION.to_owned(),
            kind: wellknown::KIND_VIRTUAL_MACHINE_BACKUP.to_owned(),
            name: name.to_owned(),
            uid: created.meta().uid.clone().unwrap_or_default(),
            controller: Some(true),
            block_owner_deletion: Some(true),
        };
        for vb in &doc.volume_backups {
            let (Some(vb_name), Some(pvc), Some(lhb)) = (
                vb.name.as_deref(),
                vb.pvc_name(),
                vb.longhorn_backup_name.as_deref(),
            ) else {
                continue;
            };
            let content_name = naming::content_for_volume_backup(vb_name);
            let mut c = content(
                &content_name,
                &legacy_handle(pvc, lhb),
                wellknown::DELETION_POLICY_DELETE,
                ns,
                vb_name,
                None,
            );
            c.metadata.owner_references = Some(vec![owner.clone()]);
            self.store_mut().create(c)?;
            self.store_mut().create(snapshot(
                ns,
                vb_name,
                &content_name,
                Some(owner.clone()),
                None,
            ))?;
        }
        Ok(())
    }

    /// Old Harvester's restore of VM backup `backup_ns/backup` into
    /// namespace `ns` under the name `name`: per volume a `Retain` content
    /// with the legacy handle, a VolumeSnapshot in `ns`, and a PVC restored
    /// from it. Returns the PVC names. On Longhorn 1.8 these PVCs stay
    /// Pending with the driver's NotFound error.
    pub fn legacy_restore(
        &mut self,
        backup_ns: &str,
        backup: &str,
        ns: &str,
        name: &str,
    ) -> Result<Vec<String>, SimError> {
        let vmb: VirtualMachineBackup = self
            .vmbackup(backup_ns, backup)
            .cloned()
            .ok_or_else(|| SimError::NotFound(format!("VMBackup {backup_ns}/{backup}")))?;
        let labels = Some(BTreeMap::from([(
            LABEL_LEGACY_RESTORE.to_owned(),
            name.to_owned(),
        )]));
        let mut pvcs = Vec::new();
        for vb in vmb.volume_backups() {
            let (Some(vb_name), Some(pvc), Some(lhb)) = (
                vb.name.as_deref(),
                vb.pvc_name(),
                vb.longhorn_backup_name.as_deref(),
            ) else {
                continue;
            };
            let content_name = naming::restore_content_name(ns, name, vb_name);
            let snapshot_name = naming::restore_snapshot_name(name, vb_name);
            self.store_mut().create(content(
                &content_name,
                &legacy_handle(pvc, lhb),
                wellknown::DELETION_POLICY_RETAIN,
                ns,
                &snapshot_name,
                labels.clone(),
            ))?;
            self.store_mut().create(snapshot(
                ns,
                &snapshot_name,
                &content_name,
                None,
                labels.clone(),
            ))?;
            let spec = vb.persistent_volume_claim.spec.clone().unwrap_or_default();
            let claim = format!("restore-{backup}-{name}-{}", vb.volume_name);
            let pvc_obj = Object::from_value(json!({
                "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": claim, "namespace": ns, "labels": {LABEL_LEGACY_RESTORE: name}},
                "spec": {"accessModes": spec.access_modes, "volumeMode": spec.volume_mode,
                    "storageClassName": spec.storage_class_name,
                    "resources": spec.resources,
                    "dataSource": {"apiGroup": "snapshot.storage.k8s.io", "kind": "VolumeSnapshot",
                        "name": snapshot_name}},
                "status": {"phase": "Pending"}
            }))
            .map_err(|e| SimError::Invalid(e.to_string()))?;
            self.store_mut().create(pvc_obj)?;
            pvcs.push(claim);
        }
        Ok(pvcs)
    }

    /// Removes what [`Cluster::legacy_restore`] made (its contents are
    /// `Retain`: no backup is touched).
    pub fn legacy_restore_cleanup(&mut self, ns: &str, name: &str) -> Result<(), SimError> {
        let mine = |o: &Object| {
            o.meta()
                .labels
                .as_ref()
                .and_then(|l| l.get(LABEL_LEGACY_RESTORE))
                .is_some_and(|v| v == name)
        };
        let refs: Vec<ObjectRef> = self
            .store()
            .objects()
            .filter(|o| mine(o))
            .filter(|o| {
                matches!(o.kind(), Kind::VolumeSnapshotContent)
                    || o.meta().namespace.as_deref() == Some(ns)
            })
            .map(Object::reference)
            .collect();
        for r in refs {
            self.store_mut()
                .delete(&r, &vmbackup_engine::Precondition::none())?;
        }
        Ok(())
    }
}

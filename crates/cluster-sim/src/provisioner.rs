//! The CSI external provisioner and the volume binder: a PVC of a Longhorn
//! storage class gets a volume from the driver (empty, or from the
//! VolumeSnapshot named as its data source), a PV `pvc-<PVC uid>` and is
//! bound. A failure is an event with the driver's message and the PVC stays
//! Pending; it is retried on every pass. Deleted PVCs release their PV,
//! whose volume is deleted (reclaim policy `Delete`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    CSIPersistentVolumeSource, ObjectReference, PersistentVolumeClaimStatus, PersistentVolumeSpec,
    PersistentVolumeStatus,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use vmbackup_api::core::PersistentVolume;
use vmbackup_api::kubevirt::VirtualMachine;
use vmbackup_api::wellknown;
use vmbackup_api::{VolumeSnapshot, VolumeSnapshotContent};
use vmbackup_engine::reconcile::backup::quantity_bytes;
use vmbackup_engine::{Kind, ObjectRef, Precondition};

use crate::env::Env;
use crate::error::SimError;
use crate::events::EventType;
use crate::longhorn::Longhorn;
use crate::typed::{Pv, Pvc, StorageClass};

/// Component name in events.
pub const PROVISIONER: &str = "driver.longhorn.io_csi-provisioner";
/// Finalizer that keeps a PVC in use from being deleted.
pub const PVC_PROTECTION: &str = "kubernetes.io/pvc-protection";
/// Finalizer the provisioner keeps on the PVs it made.
pub const PV_PROTECTION: &str = "kubernetes.io/pv-protection";

/// One pass.
pub fn run(longhorn: &mut Longhorn, env: &mut Env) -> Result<(), SimError> {
    let pvcs: Vec<Pvc> = env.store.list::<Pvc>().cloned().collect();
    for pvc in &pvcs {
        let ns = pvc.metadata.namespace.clone().unwrap_or_default();
        let name = pvc.metadata.name.clone().unwrap_or_default();
        let r = ObjectRef::namespaced(Kind::PersistentVolumeClaim, &ns, &name);
        if pvc.metadata.deletion_timestamp.is_some() {
            if !in_use(env, &ns, &name) {
                env.store.remove_finalizer(&r, PVC_PROTECTION)?;
            }
            continue;
        }
        env.store.add_finalizer(&r, PVC_PROTECTION)?;
        if pvc
            .spec
            .as_ref()
            .and_then(|s| s.volume_name.as_deref())
            .is_some()
        {
            continue;
        }
        provision(longhorn, env, pvc, &ns, &name)?;
    }
    release(longhorn, env)?;
    Ok(())
}

/// Whether a VM that is not stopped uses the claim.
fn in_use(env: &Env, ns: &str, claim: &str) -> bool {
    env.store.list::<VirtualMachine>().any(|vm| {
        vm.metadata.namespace.as_deref() == Some(ns)
            && vm.status.as_ref().and_then(|s| s.created) == Some(true)
            && vm.volumes().iter().any(|v| v.claim_name() == Some(claim))
    })
}

fn provision(
    longhorn: &mut Longhorn,
    env: &mut Env,
    pvc: &Pvc,
    ns: &str,
    name: &str,
) -> Result<(), SimError> {
    let r = ObjectRef::namespaced(Kind::PersistentVolumeClaim, ns, name);
    let spec = pvc.spec.clone().unwrap_or_default();
    let Some(class_name) = spec.storage_class_name.clone() else {
        return Ok(());
    };
    let Some(class) = env.store.get_as::<StorageClass>("", &class_name).cloned() else {
        env.event(
            "persistentvolume-controller",
            r,
            EventType::Warning,
            "ProvisioningFailed",
            format!("storageclass.storage.k8s.io \"{class_name}\" not found"),
        );
        return Ok(());
    };
    if class.provisioner != wellknown::LONGHORN_CSI_DRIVER {
        return Ok(());
    }
    let fail = |env: &mut Env, message: String| {
        env.event(
            PROVISIONER,
            ObjectRef::namespaced(Kind::PersistentVolumeClaim, ns, name),
            EventType::Warning,
            "ProvisioningFailed",
            message,
        );
    };
    let requested = spec
        .resources
        .as_ref()
        .and_then(|r| r.requests.as_ref())
        .and_then(|r| r.get("storage"))
        .and_then(|q| quantity_bytes(&q.0));
    let Some(requested) = requested else {
        fail(env, "the claim requests no storage size".into());
        return Ok(());
    };
    let source_handle = match spec.data_source.as_ref() {
        None => None,
        Some(ds) if ds.kind == wellknown::KIND_VOLUME_SNAPSHOT => {
            let Some(vs) = env.store.get_as::<VolumeSnapshot>(ns, &ds.name).cloned() else {
                fail(
                    env,
                    format!(
                        "error getting handle for DataSource Type VolumeSnapshot by Name {}: error getting snapshot {} from api server: volumesnapshots.snapshot.storage.k8s.io \"{}\" not found",
                        ds.name, ds.name, ds.name
                    ),
                );
                return Ok(());
            };
            if !vs.is_ready() {
                fail(
                    env,
                    format!(
                        "error getting handle for DataSource Type VolumeSnapshot by Name {}: snapshot {} is not Ready",
                        ds.name, ds.name
                    ),
                );
                return Ok(());
            }
            let handle = vs
                .content_name()
                .and_then(|c| env.store.get_as::<VolumeSnapshotContent>("", c))
                .and_then(|c| c.snapshot_handle().map(str::to_owned));
            let Some(handle) = handle else {
                fail(
                    env,
                    format!(
                        "error getting handle for DataSource Type VolumeSnapshot by Name {}: the bound content has no snapshot handle",
                        ds.name
                    ),
                );
                return Ok(());
            };
            Some(handle)
        }
        Some(ds) => {
            fail(
                env,
                format!("data source kind {} is not supported", ds.kind),
            );
            return Ok(());
        }
    };
    let uid = pvc.metadata.uid.clone().unwrap_or_default();
    let pv_name = format!("pvc-{uid}");
    let created = match longhorn.create_volume(env, &pv_name, requested, source_handle.as_deref()) {
        Ok(v) => v,
        Err(e) => {
            fail(
                env,
                format!("failed to provision volume with StorageClass \"{class_name}\": {e}"),
            );
            return Ok(());
        }
    };
    let mut capacity = BTreeMap::new();
    capacity.insert("storage".to_owned(), Quantity(created.capacity.to_string()));
    if env.store.get_as::<Pv>("", &pv_name).is_none() {
        env.store.create_with_status(PersistentVolume {
            metadata: ObjectMeta {
                name: Some(pv_name.clone()),
                finalizers: Some(vec![PV_PROTECTION.to_owned()]),
                annotations: Some(BTreeMap::from([(
                    "pv.kubernetes.io/provisioned-by".to_owned(),
                    wellknown::LONGHORN_CSI_DRIVER.to_owned(),
                )])),
                ..ObjectMeta::default()
            },
            spec: Some(PersistentVolumeSpec {
                access_modes: spec.access_modes.clone(),
                capacity: Some(capacity.clone()),
                claim_ref: Some(ObjectReference {
                    kind: Some("PersistentVolumeClaim".into()),
                    namespace: Some(ns.to_owned()),
                    name: Some(name.to_owned()),
                    uid: Some(uid.clone()),
                    ..ObjectReference::default()
                }),
                csi: Some(CSIPersistentVolumeSource {
                    driver: wellknown::LONGHORN_CSI_DRIVER.to_owned(),
                    volume_handle: created.id.clone(),
                    ..CSIPersistentVolumeSource::default()
                }),
                persistent_volume_reclaim_policy: Some("Delete".into()),
                storage_class_name: Some(class_name.clone()),
                volume_mode: spec.volume_mode.clone(),
                ..PersistentVolumeSpec::default()
            }),
            status: Some(PersistentVolumeStatus {
                phase: Some("Bound".into()),
                ..PersistentVolumeStatus::default()
            }),
        })?;
    }
    env.store.update::<Pvc>(ns, name, |p| {
        if let Some(s) = p.spec.as_mut() {
            s.volume_name = Some(pv_name.clone());
        }
        p.status = Some(PersistentVolumeClaimStatus {
            phase: Some("Bound".into()),
            access_modes: spec.access_modes.clone(),
            capacity: Some(capacity.clone()),
            ..PersistentVolumeClaimStatus::default()
        });
    })?;
    env.event(
        PROVISIONER,
        r,
        EventType::Normal,
        "ProvisioningSucceeded",
        format!("Successfully provisioned volume {pv_name}"),
    );
    Ok(())
}

/// PVs whose claim is gone: their volume is deleted, then the PV.
fn release(longhorn: &mut Longhorn, env: &mut Env) -> Result<(), SimError> {
    let pvs: Vec<Pv> = env.store.list::<Pv>().cloned().collect();
    for pv in pvs {
        let Some(spec) = pv.spec.as_ref() else {
            continue;
        };
        let Some(claim) = spec.claim_ref.as_ref() else {
            continue;
        };
        let claim_ns = claim.namespace.clone().unwrap_or_default();
        let claim_name = claim.name.clone().unwrap_or_default();
        let bound = env
            .store
            .get_as::<Pvc>(&claim_ns, &claim_name)
            .is_some_and(|p| p.metadata.uid == claim.uid);
        if bound {
            continue;
        }
        let name = pv.metadata.name.clone().unwrap_or_default();
        if spec.persistent_volume_reclaim_policy.as_deref() == Some("Retain") {
            continue;
        }
        if let Some(csi) = spec.csi.as_ref()
            && let Err(e) = longhorn.delete_volume(env, &csi.volume_handle)
        {
            env.event(
                PROVISIONER,
                ObjectRef::cluster(Kind::PersistentVolume, &name),
                EventType::Warning,
                "VolumeFailedDelete",
                e.to_string(),
            );
            continue;
        }
        let r = ObjectRef::cluster(Kind::PersistentVolume, &name);
        env.store.remove_finalizer(&r, PV_PROTECTION)?;
        env.store.delete(&r, &Precondition::none())?;
    }
    Ok(())
}

//! The CSI snapshot controller and its sidecar: binds VolumeSnapshots to
//! VolumeSnapshotContents (a new content per snapshot of a PVC, or the
//! pre-provisioned content a snapshot names), cuts snapshots through the
//! driver until they are ready, mirrors readiness into the snapshots, and
//! on deletion calls the driver's DeleteSnapshot for contents whose policy
//! is `Delete` (never for `Retain`).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use vmbackup_api::meta::{ErrorInfo, ObjectReference};
use vmbackup_api::snapshot::{
    VolumeSnapshotContentSource, VolumeSnapshotContentSpec, VolumeSnapshotContentStatus,
    VolumeSnapshotStatus,
};
use vmbackup_api::wellknown;
use vmbackup_api::{VolumeSnapshot, VolumeSnapshotClass, VolumeSnapshotContent};
use vmbackup_engine::{Kind, ObjectRef, Precondition};

use crate::env::Env;
use crate::error::SimError;
use crate::events::EventType;
use crate::longhorn::Longhorn;
use crate::typed::{Pv, Pvc};

/// Component name in events.
pub const CONTROLLER: &str = "snapshot-controller";
/// Finalizer on a bound VolumeSnapshot.
pub const SNAPSHOT_BOUND_FINALIZER: &str =
    "snapshot.storage.kubernetes.io/volumesnapshot-bound-protection";
/// Finalizer on a VolumeSnapshotContent.
pub const CONTENT_FINALIZER: &str =
    "snapshot.storage.kubernetes.io/volumesnapshotcontent-bound-protection";

fn ns_name(meta: &ObjectMeta) -> (String, String) {
    (
        meta.namespace.clone().unwrap_or_else(|| "default".into()),
        meta.name.clone().unwrap_or_default(),
    )
}

fn rfc3339_of_nanos(nanos: i64) -> String {
    chrono::DateTime::<chrono::Utc>::from_timestamp_nanos(nanos)
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// One pass of the controller and the sidecar.
pub fn run(longhorn: &mut Longhorn, env: &mut Env) -> Result<(), SimError> {
    let snapshots: Vec<VolumeSnapshot> = env.store.list::<VolumeSnapshot>().cloned().collect();
    for vs in &snapshots {
        if vs.metadata.deletion_timestamp.is_some() {
            delete_snapshot(env, vs)?;
        } else {
            bind(env, vs)?;
        }
    }
    let contents: Vec<VolumeSnapshotContent> =
        env.store.list::<VolumeSnapshotContent>().cloned().collect();
    for c in &contents {
        sidecar(longhorn, env, c)?;
    }
    let snapshots: Vec<VolumeSnapshot> = env.store.list::<VolumeSnapshot>().cloned().collect();
    for vs in &snapshots {
        if vs.metadata.deletion_timestamp.is_none() {
            mirror(env, vs)?;
        }
    }
    Ok(())
}

fn set_snapshot_error(env: &mut Env, vs: &VolumeSnapshot, message: &str) -> Result<(), SimError> {
    let (ns, name) = ns_name(&vs.metadata);
    let now = env.now();
    let changed = env.store.update::<VolumeSnapshot>(&ns, &name, |v| {
        let s = v.status.get_or_insert_with(VolumeSnapshotStatus::default);
        s.ready_to_use = Some(false);
        if s.error.as_ref().and_then(|e| e.message.as_deref()) != Some(message) {
            s.error = Some(ErrorInfo {
                time: Some(now.clone()),
                message: Some(message.to_owned()),
                ..ErrorInfo::default()
            });
        }
    })?;
    if changed {
        env.event(
            CONTROLLER,
            ObjectRef::namespaced(Kind::VolumeSnapshot, &ns, &name),
            EventType::Warning,
            "SnapshotError",
            message.to_owned(),
        );
    }
    Ok(())
}

/// Binds a snapshot to its content, creating the content of a snapshot of
/// a PVC.
fn bind(env: &mut Env, vs: &VolumeSnapshot) -> Result<(), SimError> {
    let (ns, name) = ns_name(&vs.metadata);
    let r = ObjectRef::namespaced(Kind::VolumeSnapshot, &ns, &name);
    if vs
        .status
        .as_ref()
        .and_then(|s| s.bound_volume_snapshot_content_name.as_deref())
        .is_some()
    {
        env.store.add_finalizer(&r, SNAPSHOT_BOUND_FINALIZER)?;
        return Ok(());
    }
    let uid = vs.metadata.uid.clone().unwrap_or_default();
    let content_name = if let Some(pvc_name) =
        vs.spec.source.persistent_volume_claim_name.as_deref()
    {
        let Some(class_name) = vs.spec.volume_snapshot_class_name.clone() else {
            return set_snapshot_error(
                env,
                vs,
                "no VolumeSnapshotClass is named and no default class exists",
            );
        };
        let Some(class) = env
            .store
            .get_as::<VolumeSnapshotClass>("", &class_name)
            .cloned()
        else {
            return set_snapshot_error(
                env,
                vs,
                &format!(
                    "failed to get snapshot class with error volumesnapshotclass.snapshot.storage.k8s.io \"{class_name}\" not found"
                ),
            );
        };
        let Some(pvc) = env.store.get_as::<Pvc>(&ns, pvc_name).cloned() else {
            return set_snapshot_error(
                env,
                vs,
                &format!(
                    "failed to get input parameters to create snapshot {name}: \"persistentvolumeclaim \\\"{pvc_name}\\\" not found\""
                ),
            );
        };
        let Some(pv_name) = pvc.spec.as_ref().and_then(|s| s.volume_name.clone()) else {
            return set_snapshot_error(
                env,
                vs,
                &format!(
                    "the PVC {pvc_name} is not yet bound to a PV, will not attempt to take a snapshot"
                ),
            );
        };
        let Some(handle) = env
            .store
            .get_as::<Pv>("", &pv_name)
            .and_then(|pv| pv.spec.as_ref()?.csi.as_ref())
            .map(|c| c.volume_handle.clone())
        else {
            return set_snapshot_error(
                env,
                vs,
                &format!("PersistentVolume {pv_name} is not a CSI volume"),
            );
        };
        let content_name = format!("snapcontent-{uid}");
        if env
            .store
            .get_as::<VolumeSnapshotContent>("", &content_name)
            .is_none()
        {
            env.store.create(VolumeSnapshotContent {
                metadata: ObjectMeta {
                    name: Some(content_name.clone()),
                    finalizers: Some(vec![CONTENT_FINALIZER.to_owned()]),
                    ..ObjectMeta::default()
                },
                spec: VolumeSnapshotContentSpec {
                    volume_snapshot_ref: ObjectReference {
                        api_version: Some(wellknown::SNAPSHOT_API_VERSION.to_owned()),
                        kind: Some(wellknown::KIND_VOLUME_SNAPSHOT.to_owned()),
                        name: Some(name.clone()),
                        namespace: Some(ns.clone()),
                        uid: Some(uid.clone()),
                        ..ObjectReference::default()
                    },
                    deletion_policy: class.deletion_policy.clone(),
                    driver: class.driver.clone(),
                    volume_snapshot_class_name: Some(class_name),
                    source: VolumeSnapshotContentSource {
                        volume_handle: Some(handle),
                        ..VolumeSnapshotContentSource::default()
                    },
                    ..VolumeSnapshotContentSpec::default()
                },
                ..VolumeSnapshotContent::default()
            })?;
        }
        content_name
    } else if let Some(content_name) = vs.spec.source.volume_snapshot_content_name.clone() {
        let Some(content) = env
            .store
            .get_as::<VolumeSnapshotContent>("", &content_name)
            .cloned()
        else {
            return set_snapshot_error(
                env,
                vs,
                &format!("VolumeSnapshotContent {content_name} is missing"),
            );
        };
        let target = &content.spec.volume_snapshot_ref;
        if target.name.as_deref() != Some(name.as_str())
            || target.namespace.as_deref() != Some(ns.as_str())
        {
            return set_snapshot_error(
                env,
                vs,
                &format!(
                    "VolumeSnapshotContent {content_name} is bound to a different VolumeSnapshot ({}/{})",
                    target.namespace.as_deref().unwrap_or_default(),
                    target.name.as_deref().unwrap_or_default()
                ),
            );
        }
        if target.uid.as_deref().is_some_and(|u| u != uid) {
            return set_snapshot_error(
                env,
                vs,
                &format!(
                    "VolumeSnapshotContent {content_name} is bound to another VolumeSnapshot of that name"
                ),
            );
        }
        env.store
            .update::<VolumeSnapshotContent>("", &content_name, |c| {
                c.spec.volume_snapshot_ref.uid = Some(uid.clone());
            })?;
        env.store.add_finalizer(
            &ObjectRef::cluster(Kind::VolumeSnapshotContent, &content_name),
            CONTENT_FINALIZER,
        )?;
        content_name
    } else {
        return set_snapshot_error(env, vs, "the snapshot has no source");
    };
    env.store.update::<VolumeSnapshot>(&ns, &name, |v| {
        v.status
            .get_or_insert_with(VolumeSnapshotStatus::default)
            .bound_volume_snapshot_content_name = Some(content_name.clone());
    })?;
    env.store.add_finalizer(&r, SNAPSHOT_BOUND_FINALIZER)?;
    Ok(())
}

/// Copies the content's state into the bound snapshot.
fn mirror(env: &mut Env, vs: &VolumeSnapshot) -> Result<(), SimError> {
    let Some(content_name) = vs
        .status
        .as_ref()
        .and_then(|s| s.bound_volume_snapshot_content_name.clone())
    else {
        return Ok(());
    };
    let Some(content) = env
        .store
        .get_as::<VolumeSnapshotContent>("", &content_name)
        .cloned()
    else {
        return set_snapshot_error(env, vs, "VolumeSnapshotContent is missing");
    };
    let (ns, name) = ns_name(&vs.metadata);
    let cs = content.status.clone().unwrap_or_default();
    env.store.update::<VolumeSnapshot>(&ns, &name, |v| {
        let s = v.status.get_or_insert_with(VolumeSnapshotStatus::default);
        s.ready_to_use = Some(cs.ready_to_use == Some(true));
        s.creation_time = cs.creation_time.map(rfc3339_of_nanos);
        s.restore_size = cs.restore_size.map(|b| b.to_string());
        s.error = cs.error.clone();
    })?;
    Ok(())
}

/// The sidecar's work on one content.
fn sidecar(
    longhorn: &mut Longhorn,
    env: &mut Env,
    c: &VolumeSnapshotContent,
) -> Result<(), SimError> {
    let name = c.metadata.name.clone().unwrap_or_default();
    let r = ObjectRef::cluster(Kind::VolumeSnapshotContent, &name);
    if c.spec.driver != wellknown::LONGHORN_CSI_DRIVER {
        return Ok(());
    }
    if c.metadata.deletion_timestamp.is_some() {
        if !c
            .metadata
            .finalizers
            .iter()
            .flatten()
            .any(|f| f == CONTENT_FINALIZER)
        {
            return Ok(());
        }
        if c.deletes_data()
            && let Some(handle) = c.snapshot_handle().map(str::to_owned)
            && let Err(e) = longhorn.delete_snapshot(env, &handle)
        {
            env.event(
                "csi-snapshotter",
                r,
                EventType::Warning,
                "SnapshotDeleteError",
                format!("failed to delete snapshot: {e}"),
            );
            return Ok(());
        }
        env.store.remove_finalizer(&r, CONTENT_FINALIZER)?;
        return Ok(());
    }
    let status = c.status.clone().unwrap_or_default();
    if status.ready_to_use == Some(true) {
        return Ok(());
    }
    if let Some(handle) = c.spec.source.snapshot_handle.clone() {
        // Pre-provisioned: Longhorn's driver cannot list snapshots, so the
        // sidecar takes the handle as it is and marks it ready.
        let now = env.clock.nanos();
        env.store.update::<VolumeSnapshotContent>("", &name, |c| {
            let s = c
                .status
                .get_or_insert_with(VolumeSnapshotContentStatus::default);
            s.snapshot_handle = Some(handle.clone());
            s.ready_to_use = Some(true);
            s.creation_time.get_or_insert(now);
        })?;
        return Ok(());
    }
    let Some(volume) = c.spec.source.volume_handle.clone() else {
        return Ok(());
    };
    let Some(vs_uid) = c.spec.volume_snapshot_ref.uid.clone() else {
        return Ok(());
    };
    let parameters: BTreeMap<String, String> = c
        .spec
        .volume_snapshot_class_name
        .as_deref()
        .and_then(|n| env.store.get_as::<VolumeSnapshotClass>("", n))
        .and_then(|class| class.parameters.clone())
        .unwrap_or_default();
    let now = env.clock.nanos();
    let now_text = env.now();
    match longhorn.create_snapshot(env, &format!("snapshot-{vs_uid}"), &volume, &parameters) {
        Ok(cut) => {
            env.store.update::<VolumeSnapshotContent>("", &name, |c| {
                let s = c
                    .status
                    .get_or_insert_with(VolumeSnapshotContentStatus::default);
                s.snapshot_handle = Some(cut.handle.clone());
                s.ready_to_use = Some(cut.ready);
                s.restore_size = Some(cut.size);
                s.creation_time.get_or_insert(now);
                s.error = None;
            })?;
        }
        Err(e) => {
            let message = format!("failed to take snapshot of the volume {volume}: {e}");
            env.store.update::<VolumeSnapshotContent>("", &name, |c| {
                let s = c
                    .status
                    .get_or_insert_with(VolumeSnapshotContentStatus::default);
                s.ready_to_use = Some(false);
                s.error = Some(ErrorInfo {
                    time: Some(now_text.clone()),
                    message: Some(message.clone()),
                    ..ErrorInfo::default()
                });
            })?;
            env.event(
                "csi-snapshotter",
                r,
                EventType::Warning,
                "SnapshotCreationFailed",
                message,
            );
        }
    }
    Ok(())
}

/// A snapshot being deleted: its content goes too when the policy is
/// `Delete` (the sidecar then deletes the snapshot data); with `Retain` the
/// content stays. The snapshot is released once that is settled.
fn delete_snapshot(env: &mut Env, vs: &VolumeSnapshot) -> Result<(), SimError> {
    let (ns, name) = ns_name(&vs.metadata);
    let r = ObjectRef::namespaced(Kind::VolumeSnapshot, &ns, &name);
    let bound = vs
        .status
        .as_ref()
        .and_then(|s| s.bound_volume_snapshot_content_name.clone());
    if let Some(content_name) = bound
        && let Some(c) = env
            .store
            .get_as::<VolumeSnapshotContent>("", &content_name)
            .cloned()
        && c.spec.volume_snapshot_ref.uid.as_deref() == vs.metadata.uid.as_deref()
        && c.deletes_data()
    {
        if c.metadata.deletion_timestamp.is_none() {
            env.store.delete(
                &ObjectRef::cluster(Kind::VolumeSnapshotContent, &content_name),
                &Precondition::none(),
            )?;
        }
        return Ok(());
    }
    env.store.remove_finalizer(&r, SNAPSHOT_BOUND_FINALIZER)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::events::Events;
    use crate::longhorn::LonghornVersion;
    use crate::store::Store;
    use serde_json::{Value, json};
    use vmbackup_api::longhorn::Backup;
    use vmbackup_engine::Object;

    fn obj(v: Value) -> Object {
        Object::from_value(v).unwrap()
    }

    fn base() -> Store {
        let mut s = Store::new("snap-test");
        for ns in ["default", "longhorn-system"] {
            s.create(obj(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}),
            ))
            .unwrap();
        }
        s.create_with_status(obj(json!({"apiVersion": "longhorn.io/v1beta2", "kind": "Backup",
            "metadata": {"name": "backup-1", "namespace": "longhorn-system", "finalizers": ["longhorn.io"]},
            "spec": {}, "status": {"state": "Completed", "volumeName": "pvc-1"}})))
            .unwrap();
        s
    }

    fn content(name: &str, handle: &str, policy: &str, vs: &str) -> Object {
        obj(
            json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotContent",
            "metadata": {"name": name},
            "spec": {"driver": "driver.longhorn.io", "deletionPolicy": policy,
                "source": {"snapshotHandle": handle},
                "volumeSnapshotRef": {"name": vs, "namespace": "default"}}}),
        )
    }

    fn snapshot(name: &str, content: &str) -> Object {
        obj(
            json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"source": {"volumeSnapshotContentName": content}}}),
        )
    }

    fn passes(s: &mut Store, n: usize) -> Events {
        let dir = tempfile::tempdir().unwrap();
        let mut lh = Longhorn::new(LonghornVersion::V1_8, dir.path(), "t").unwrap();
        let mut events = Events::default();
        for _ in 0..n {
            let mut env = Env {
                store: s,
                events: &mut events,
                clock: Clock::default(),
                server: None,
            };
            run(&mut lh, &mut env).unwrap();
        }
        events
    }

    #[test]
    fn a_pre_provisioned_content_is_bound_and_ready_whatever_its_handle() {
        let mut s = base();
        s.create(content("c1", "bs://vm1-disk-0/backup-1", "Delete", "vs1"))
            .unwrap();
        s.create(snapshot("vs1", "c1")).unwrap();
        passes(&mut s, 2);
        let vs = s.get_as::<VolumeSnapshot>("default", "vs1").unwrap();
        assert!(vs.is_ready());
        assert_eq!(vs.content_name(), Some("c1"));
        let c = s.get_as::<VolumeSnapshotContent>("", "c1").unwrap();
        assert_eq!(c.spec.volume_snapshot_ref.uid, vs.metadata.uid);
    }

    #[test]
    fn a_content_bound_to_another_snapshot_is_refused() {
        let mut s = base();
        s.create(content("c1", "bak://pvc-1/backup-1", "Delete", "other"))
            .unwrap();
        s.create(snapshot("vs1", "c1")).unwrap();
        passes(&mut s, 2);
        let vs = s.get_as::<VolumeSnapshot>("default", "vs1").unwrap();
        assert!(!vs.is_ready());
        let error = vs.status.as_ref().unwrap().error.as_ref().unwrap();
        assert!(
            error
                .message
                .as_deref()
                .unwrap()
                .contains("different VolumeSnapshot")
        );
    }

    #[test]
    fn deleting_a_snapshot_deletes_a_delete_content_and_keeps_a_retain_one() {
        for (policy, content_kept) in [("Delete", false), ("Retain", true)] {
            let mut s = base();
            s.create(content("c1", "bak://pvc-1/backup-1", policy, "vs1"))
                .unwrap();
            s.create(snapshot("vs1", "c1")).unwrap();
            passes(&mut s, 2);
            s.delete(
                &ObjectRef::namespaced(Kind::VolumeSnapshot, "default", "vs1"),
                &Precondition::none(),
            )
            .unwrap();
            passes(&mut s, 3);
            assert!(
                s.get_as::<VolumeSnapshot>("default", "vs1").is_none(),
                "{policy}"
            );
            assert_eq!(
                s.get_as::<VolumeSnapshotContent>("", "c1").is_some(),
                content_kept,
                "{policy}"
            );
            // No BackupVolume names pvc-1 in this store: Longhorn 1.8's
            // DeleteSnapshot finds none and deletes nothing either way.
            assert!(
                s.get_as::<Backup>("longhorn-system", "backup-1").is_some(),
                "{policy}"
            );
        }
    }

    #[test]
    fn a_snapshot_whose_content_vanished_reports_it() {
        let mut s = base();
        s.create(content("c1", "bak://pvc-1/backup-1", "Delete", "vs1"))
            .unwrap();
        s.create(snapshot("vs1", "c1")).unwrap();
        passes(&mut s, 2);
        s.forget(&ObjectRef::cluster(Kind::VolumeSnapshotContent, "c1"));
        passes(&mut s, 1);
        let vs = s.get_as::<VolumeSnapshot>("default", "vs1").unwrap();
        assert!(!vs.is_ready());
        assert_eq!(
            vs.status
                .as_ref()
                .unwrap()
                .error
                .as_ref()
                .unwrap()
                .message
                .as_deref(),
            Some("VolumeSnapshotContent is missing")
        );
    }
}

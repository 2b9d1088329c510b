//! Where a restored PVC's data comes from. In the backup's own namespace:
//! the backup's VolumeSnapshot, whose content must resolve (a broken one is
//! repaired by the handle repair first). In another namespace: a
//! VolumeSnapshotContent made for this restore (`Retain`, handle
//! `bak://<Backup.status.volumeName>/<backup>`) and a VolumeSnapshot bound
//! to it; an existing pair with any other handle (older Harvester wrote the
//! PVC name there) is retired and made again.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference;
use vmbackup_api::VolumeBackup;
use vmbackup_api::wellknown;

use crate::build;
use crate::context::{Ctx, create, deleting, name_of, same_object};
use crate::finding::{Code, Finding, Severity};
use crate::naming;
use crate::object::{Kind, ObjectRef};
use crate::plan::Action;
use crate::resolve::{self, Problem, Verdict};

/// The state of one volume's data source.
#[derive(Debug, Clone, PartialEq)]
pub enum State {
    /// The VolumeSnapshot is ready to restore from.
    Ready,
    /// Not yet (being made, not ready, waiting for something); why.
    Waiting {
        /// Why, for the restore's status.
        why: String,
        /// A finding, when a human should look.
        finding: Option<Finding>,
    },
    /// It cannot be restored from as it is and is being replaced; a PVC
    /// already made from it (and not bound) must be made again.
    Broken {
        /// Why, for the restore's status.
        why: String,
        /// A finding, when the plan cannot fix it by itself.
        finding: Option<Finding>,
    },
}

/// One volume's data source and the actions that prepare it.
#[derive(Debug, Clone)]
pub struct Source {
    /// The VolumeSnapshot, in the restore's namespace, to restore from.
    pub snapshot: String,
    /// Its state.
    pub state: State,
    /// Creations, or retirement of a broken pair.
    pub actions: Vec<(Action, String)>,
}

fn waiting(why: impl Into<String>) -> State {
    State::Waiting {
        why: why.into(),
        finding: None,
    }
}

/// Readiness of an existing VolumeSnapshot.
fn readiness(vs: &vmbackup_api::VolumeSnapshot, ns: &str, name: &str, r: &ObjectRef) -> State {
    if vs.is_ready() {
        return State::Ready;
    }
    match vs
        .status
        .as_ref()
        .and_then(|s| s.error.as_ref())
        .and_then(|e| e.message.as_deref())
    {
        Some(err) => State::Waiting {
            why: format!("VolumeSnapshot {ns}/{name} is not ready: {err}"),
            finding: Some(
                Finding::new(Code::RestoreBlocked, Severity::Error, r.clone())
                    .message(format!(
                        "the restore waits for VolumeSnapshot {ns}/{name}, which reports an error: {err}"
                    ))
                    .impact("no PVC is created for this volume until the snapshot is ready")
                    .fix("check the snapshot's content and the Longhorn backup it names; the restore continues once the snapshot is ready"),
            ),
        },
        None => waiting(format!("VolumeSnapshot {ns}/{name} is not ready yet")),
    }
}

/// The backup's own VolumeSnapshot `<vb>` in its namespace.
pub fn same_namespace(
    ctx: &Ctx,
    r: &ObjectRef,
    ns: &str,
    vb: &VolumeBackup,
    vb_name: &str,
) -> Source {
    let view = ctx.view;
    let source = |state| Source {
        snapshot: vb_name.to_owned(),
        state,
        actions: Vec::new(),
    };
    let Some(vs) = view.snapshot(ns, vb_name) else {
        return source(waiting(format!(
            "VolumeSnapshot {ns}/{vb_name} of the backup does not exist yet"
        )));
    };
    if deleting(&vs.metadata) {
        return source(waiting(format!(
            "VolumeSnapshot {ns}/{vb_name} of the backup is being deleted"
        )));
    }
    if let Some(content) = view.content_of_snapshot(vs)
        && let Verdict::Broken(broken) =
            resolve::judge(view, content, vb.longhorn_backup_name.as_deref())
    {
        let content_name = name_of(&content.metadata);
        let why = format!(
            "content {content_name} of VolumeSnapshot {ns}/{vb_name} has handle {}, which Longhorn cannot resolve",
            broken.handle
        );
        let finding = (!broken.repairable()).then(|| {
            let need = match &broken.problem {
                Problem::MissingBackup => "the Longhorn Backup it names is not in the cluster",
                Problem::NoBackupVolume { .. } => "Longhorn has no BackupVolume for its volume",
                Problem::AmbiguousBackupVolume { .. } => "several BackupVolumes claim its volume",
                Problem::Malformed(_) | Problem::WrongVolume { .. } => {
                    "the Longhorn Backup that tells the right volume is not known"
                }
            };
            Finding::new(Code::RestoreBlocked, Severity::Error, r.clone())
                .message(format!("{why}, and it cannot be repaired yet: {need}"))
                .impact("the restore creates no PVC for this volume: one made from this snapshot would stay Pending")
                .fix("see the handle finding on the content; once its Longhorn Backup is known the handle is repaired and the restore continues")
        });
        return source(State::Broken {
            why: format!("{why}: the handle is repaired first"),
            finding,
        });
    }
    source(readiness(vs, ns, vb_name, r))
}

/// Names and owner of a restore's own snapshot objects.
#[derive(Debug, Clone)]
pub struct RestoreObjects<'a> {
    /// The VMRestore's namespace.
    pub namespace: &'a str,
    /// The VMRestore's name.
    pub restore: &'a str,
    /// Owner reference to the VMRestore (for the VolumeSnapshot).
    pub owner: Option<OwnerReference>,
}

/// The VolumeSnapshotContent and VolumeSnapshot made for this restore in
/// its namespace, from the Longhorn backup of `vb`.
pub fn cross_namespace(
    ctx: &Ctx,
    r: &ObjectRef,
    objects: &RestoreObjects,
    vb: &VolumeBackup,
    vb_name: &str,
) -> Source {
    let view = ctx.view;
    let ns = objects.namespace;
    let vs_name = naming::restore_snapshot_name(objects.restore, vb_name);
    let vsc_name = naming::restore_content_name(ns, objects.restore, vb_name);
    let mut out = Source {
        snapshot: vs_name.clone(),
        state: State::Ready,
        actions: Vec::new(),
    };
    let Some(lhb) = vb.longhorn_backup_name.as_deref() else {
        out.state = State::Waiting {
            why: format!("volume backup {vb_name} names no Longhorn backup"),
            finding: None,
        };
        return out;
    };
    let Some(handle) = resolve::correct_handle(view, lhb) else {
        let why = match view.longhorn_backup(lhb) {
            Some(_) => format!("Longhorn Backup {lhb} has no status.volumeName yet"),
            None => format!("Longhorn Backup {lhb} is not in the cluster"),
        };
        out.state = State::Waiting {
            finding: Some(
                Finding::new(Code::MissingLonghornBackup, Severity::Warning, r.clone())
                    .message(format!(
                        "the restore needs {why}: it tells the volume the restore content's handle must name"
                    ))
                    .impact("the restore into another namespace cannot create its VolumeSnapshotContent yet")
                    .fix("wait for Longhorn to sync the backup target (or request a BackupTarget sync)"),
            ),
            why,
        };
        return out;
    };
    let content = view.content(&vsc_name);
    let snapshot = view.snapshot(ns, &vs_name);
    let content_problem = content.and_then(|c| {
        let handle_now = c.snapshot_handle().unwrap_or_default();
        let r = &c.spec.volume_snapshot_ref;
        if handle_now != handle {
            Some(format!("has handle {handle_now:?} instead of {handle}"))
        } else if c.spec.driver != wellknown::LONGHORN_CSI_DRIVER {
            Some(format!("belongs to driver {:?}", c.spec.driver))
        } else if r.name.as_deref() != Some(vs_name.as_str())
            || r.namespace.as_deref().unwrap_or("default") != ns
        {
            Some("is bound to another VolumeSnapshot".to_owned())
        } else {
            None
        }
    });
    let snapshot_problem = snapshot.and_then(|vs| {
        (vs.spec.source.volume_snapshot_content_name.as_deref() != Some(vsc_name.as_str()))
            .then(|| format!("does not take its data from content {vsc_name}"))
    });
    if content_problem.is_some() || snapshot_problem.is_some() {
        let why = match (&content_problem, &snapshot_problem) {
            (Some(p), _) => format!("restore content {vsc_name} {p}"),
            (None, Some(p)) => format!("restore VolumeSnapshot {ns}/{vs_name} {p}"),
            (None, None) => String::new(),
        };
        if let Some(vs) = snapshot.filter(|vs| !deleting(&vs.metadata)) {
            out.actions.push((
                Action::Delete {
                    target: ObjectRef::namespaced(Kind::VolumeSnapshot, ns, &vs_name),
                    precondition: same_object(&vs.metadata),
                },
                format!("retire restore VolumeSnapshot {vs_name}: {why}"),
            ));
        }
        if let Some(c) = content.filter(|c| !deleting(&c.metadata)) {
            out.actions.push((
                Action::Delete {
                    target: ObjectRef::cluster(Kind::VolumeSnapshotContent, &vsc_name),
                    precondition: same_object(&c.metadata),
                },
                format!("retire restore content {vsc_name} (kept data: Retain): {why}"),
            ));
        }
        out.state = State::Broken {
            why: format!("{why}: it is replaced by one with handle {handle}"),
            finding: None,
        };
        return out;
    }
    if let Some(c) = content.filter(|c| deleting(&c.metadata)) {
        out.state = waiting(format!(
            "restore content {} is still being deleted",
            name_of(&c.metadata)
        ));
        return out;
    }
    if snapshot.is_some_and(|vs| deleting(&vs.metadata)) {
        out.state = waiting(format!(
            "restore VolumeSnapshot {ns}/{vs_name} is still being deleted"
        ));
        return out;
    }
    let class = Some(ctx.restore_class.as_str());
    if content.is_none() {
        out.actions.push((
            create(build::backup_content(
                &vsc_name,
                &handle,
                class,
                wellknown::DELETION_POLICY_RETAIN,
                ns,
                &vs_name,
            )),
            format!(
                "content for restore {ns}/{} with handle {handle} (Retain)",
                objects.restore
            ),
        ));
    }
    match snapshot {
        Some(vs) => out.state = readiness(vs, ns, &vs_name, r),
        None => {
            out.actions.push((
                create(build::snapshot_of_content(
                    ns,
                    &vs_name,
                    &vsc_name,
                    class,
                    objects.owner.clone(),
                )),
                format!("VolumeSnapshot {ns}/{vs_name} bound to restore content {vsc_name}"),
            ));
            out.state = waiting(format!("VolumeSnapshot {ns}/{vs_name} is being made"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::context::Options;
    use crate::object::Object;
    use crate::target::TargetFacts;
    use crate::view::View;
    use chrono::{TimeZone, Utc};
    use serde_json::json;

    const PV: &str = "pvc-5b1c3e8e-2f7a-4c0e-9d7e-1b2c3d4e5f60";
    const LHB: &str = "backup-70d260245e9e415a";

    fn obj(v: serde_json::Value) -> Object {
        Object::from_value(v).unwrap()
    }

    fn vb() -> VolumeBackup {
        serde_json::from_value(json!({"name": "b-volume-disk", "volumeName": "disk-0",
            "csiDriverName": "driver.longhorn.io", "longhornBackupName": LHB,
            "persistentVolumeClaim": {"metadata": {"name": "vm1-disk-0"}, "spec": {"volumeName": PV}}}))
        .unwrap()
    }

    fn backup_cr() -> Object {
        obj(
            json!({"apiVersion": "longhorn.io/v1beta2", "kind": "Backup",
            "metadata": {"name": LHB, "namespace": "longhorn-system"},
            "spec": {}, "status": {"state": "Completed", "volumeName": PV}}),
        )
    }

    fn plan_source(view: &View) -> Source {
        let facts = TargetFacts::not_read("nfs://x");
        let options = Options::default();
        let now = Utc.with_ymd_and_hms(2025, 6, 1, 0, 0, 0).unwrap();
        let ctx = Ctx::new(view, &facts, now, &options);
        let r = ObjectRef::namespaced(Kind::VirtualMachineRestore, "other", "r1");
        let objects = RestoreObjects {
            namespace: "other",
            restore: "r1",
            owner: None,
        };
        cross_namespace(&ctx, &r, &objects, &vb(), "b-volume-disk")
    }

    #[test]
    fn another_namespace_gets_a_retain_content_naming_the_longhorn_volume() {
        let s = plan_source(&View::complete([backup_cr()]));
        assert_eq!(s.snapshot, "restore-r1-b-volume-disk");
        assert!(matches!(s.state, State::Waiting { .. }));
        let Action::Create { object } = &s.actions[0].0 else {
            panic!("{:?}", s.actions)
        };
        let c = object.to_value();
        assert_eq!(c["metadata"]["name"], "restore-other-r1-b-volume-disk");
        assert_eq!(c["spec"]["deletionPolicy"], "Retain");
        assert_eq!(
            c["spec"]["source"]["snapshotHandle"],
            format!("bak://{PV}/{LHB}")
        );
        assert_eq!(c["spec"]["volumeSnapshotRef"]["namespace"], "other");
        let Action::Create { object } = &s.actions[1].0 else {
            panic!()
        };
        assert_eq!(object.reference().namespace.as_deref(), Some("other"));
    }

    #[test]
    fn without_the_backup_cr_nothing_is_made_and_the_restore_says_why() {
        let s = plan_source(&View::complete([]));
        assert!(s.actions.is_empty());
        let State::Waiting { finding, .. } = s.state else {
            panic!("{:?}", s.state)
        };
        assert_eq!(finding.unwrap().code, Code::MissingLonghornBackup);
    }

    #[test]
    fn an_old_content_with_a_pvc_name_is_retired_not_reused() {
        let stale = obj(
            json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotContent",
            "metadata": {"name": "restore-other-r1-b-volume-disk", "uid": "u-c"},
            "spec": {"driver": "driver.longhorn.io", "deletionPolicy": "Retain",
                "source": {"snapshotHandle": format!("bs://vm1-disk-0/{LHB}")},
                "volumeSnapshotRef": {"name": "restore-r1-b-volume-disk", "namespace": "other"}}}),
        );
        let vs = obj(
            json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshot",
            "metadata": {"name": "restore-r1-b-volume-disk", "namespace": "other", "uid": "u-s"},
            "spec": {"source": {"volumeSnapshotContentName": "restore-other-r1-b-volume-disk"}}}),
        );
        let s = plan_source(&View::complete([backup_cr(), stale, vs]));
        assert!(matches!(s.state, State::Broken { .. }), "{:?}", s.state);
        let deleted: Vec<String> = s
            .actions
            .iter()
            .map(|(a, _)| a.target().to_string())
            .collect();
        assert_eq!(
            deleted,
            [
                "VolumeSnapshot other/restore-r1-b-volume-disk",
                "VolumeSnapshotContent restore-other-r1-b-volume-disk"
            ]
        );
        assert!(
            s.actions
                .iter()
                .all(|(a, _)| matches!(a, Action::Delete { .. }))
        );
    }
}

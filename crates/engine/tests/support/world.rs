//! A small cluster for story tests: the engine's plans are applied as an
//! API server would, then the controllers vmbackup relies on take one turn:
//!
//! * the snapshot controller with Longhorn ≥ 1.8's CSI driver: a snapshot
//!   of a PVC becomes a Longhorn backup on the target with a `bak://`
//!   handle; a pre-provisioned content is ready only if Longhorn resolves
//!   its handle (a BackupVolume whose `spec.volumeName` is the volume part,
//!   and the Backup CR); deleting a snapshot bound to a `Delete` content
//!   deletes the content and, through a resolvable handle, the backup;
//! * the PVC provisioner: a PVC restored from a ready snapshot whose handle
//!   resolves gets a PV and a Longhorn volume and is bound;
//! * KubeVirt: a VM runs unless its run strategy is `Halted`;
//! * Longhorn's target sync: Backup and BackupVolume CRs for what the target
//!   holds (when the BackupTarget is available and syncing is on);
//! * the garbage collector: objects whose owner is gone are deleted.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use vmbackup_api::handle::SnapshotHandle;
use vmbackup_engine::target::{TargetBackup, TargetListing};
use vmbackup_engine::testing::apply;
use vmbackup_engine::{Object, ObjectRef, Options, Plan, TargetFacts, TargetState, View, plan};

use super::{NFS, now, obj};

fn hex(text: &str, n: usize) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))[..n].to_owned()
}

/// A cluster and its backup target.
#[derive(Debug, Clone)]
pub struct World {
    /// The cluster.
    pub view: View,
    /// The backup target (what a shell would read).
    pub target: TargetFacts,
    /// Options for planning.
    pub options: Options,
    /// Whether Longhorn syncs Backup CRs from the target.
    pub longhorn_sync: bool,
    /// Whether the target can be reached.
    pub target_online: bool,
    /// The time plans are made at.
    pub now: DateTime<Utc>,
    /// Every plan made so far.
    pub plans: Vec<Plan>,
}

impl World {
    /// A world of these objects, with an empty, readable NFS target.
    pub fn new(objects: Vec<Object>) -> Self {
        World {
            view: View::complete(objects),
            target: TargetFacts {
                url: NFS.to_owned(),
                state: TargetState::Listed(TargetListing {
                    complete: true,
                    ..TargetListing::default()
                }),
            },
            options: Options::default(),
            longhorn_sync: true,
            target_online: true,
            now: now(),
            plans: Vec::new(),
        }
    }

    /// The target's listing (kept even while offline).
    pub fn listing(&mut self) -> &mut TargetListing {
        match &mut self.target.state {
            TargetState::Listed(l) => l,
            _ => panic!("target not listed"),
        }
    }

    /// What the shell reads: the listing, or unavailable while offline.
    fn facts(&self) -> TargetFacts {
        if self.target_online {
            self.target.clone()
        } else {
            TargetFacts {
                url: NFS.to_owned(),
                state: TargetState::Unavailable {
                    reason: "connection refused".into(),
                },
            }
        }
    }

    /// Plans on the current state.
    pub fn plan(&self) -> Plan {
        plan(&self.view, &self.facts(), self.now, &self.options)
    }

    /// Plans, applies the plan, lets the controllers take a turn. Returns
    /// the plan.
    pub fn turn(&mut self) -> Plan {
        let p = self.plan();
        let facts = self.facts();
        let (view, facts, err) = apply(&self.view, &facts, &p.steps);
        assert_eq!(err, None, "plan does not apply: {:#?}", p.steps);
        self.view = view;
        if self.target_online {
            self.target = facts;
        }
        self.settle();
        self.plans.push(p.clone());
        p
    }

    /// Turns until a plan changes nothing and the controllers have nothing
    /// to do; panics after `max` turns.
    pub fn run(&mut self, max: usize) -> Plan {
        for _ in 0..max {
            let before = self.view.objects();
            let p = self.turn();
            if p.steps.is_empty() && self.view.objects() == before {
                return p;
            }
        }
        panic!(
            "no fixpoint after {max} turns; last plans: {:#?}",
            self.plans.iter().rev().take(2).collect::<Vec<_>>()
        );
    }

    /// Replaces or adds objects.
    pub fn put(&mut self, objects: Vec<Object>) {
        let mut all: BTreeMap<ObjectRef, Object> = self
            .view
            .objects()
            .into_iter()
            .map(|o| (o.reference(), o))
            .collect();
        for o in objects {
            all.insert(o.reference(), o);
        }
        self.view = self.view.with_objects(all.into_values());
    }

    /// Removes objects.
    pub fn remove(&mut self, refs: &[ObjectRef]) {
        let objects = self
            .view
            .objects()
            .into_iter()
            .filter(|o| !refs.contains(&o.reference()));
        self.view = self.view.with_objects(objects);
    }

    /// One turn of the external controllers.
    pub fn settle(&mut self) {
        let mut objects: BTreeMap<ObjectRef, Value> = self
            .view
            .objects()
            .into_iter()
            .map(|o| (o.reference(), o.to_value()))
            .collect();
        self.garbage_collect(&mut objects);
        self.snapshot_controller(&mut objects);
        self.provisioner(&mut objects);
        kubevirt(&mut objects);
        if self.longhorn_sync && self.target_online {
            self.longhorn_target_sync(&mut objects);
        }
        self.view = self.view.with_objects(
            objects
                .into_values()
                .map(|v| Object::from_value(v).unwrap()),
        );
    }

    fn garbage_collect(&mut self, objects: &mut BTreeMap<ObjectRef, Value>) {
        loop {
            let uids: BTreeSet<String> = objects
                .values()
                .filter_map(|v| v["metadata"]["uid"].as_str().map(str::to_owned))
                .collect();
            let orphans: Vec<ObjectRef> = objects
                .iter()
                .filter(|(_, v)| {
                    v["metadata"]["ownerReferences"]
                        .as_array()
                        .is_some_and(|o| {
                            !o.is_empty()
                                && o.iter()
                                    .all(|o| !uids.contains(o["uid"].as_str().unwrap_or_default()))
                        })
                })
                .map(|(r, _)| r.clone())
                .collect();
            if orphans.is_empty() {
                return;
            }
            for r in orphans {
                objects.remove(&r);
            }
        }
    }

    /// Whether Longhorn ≥ 1.8 resolves a backup handle.
    fn resolves(objects: &BTreeMap<ObjectRef, Value>, handle: &str) -> bool {
        match SnapshotHandle::parse(handle) {
            Ok(SnapshotHandle::Backup(b)) => {
                let volume = b.volume();
                let backup = b.backup().as_str();
                let has_bv = objects
                    .values()
                    .any(|v| v["kind"] == "BackupVolume" && v["spec"]["volumeName"] == volume);
                let has_backup = objects
                    .values()
                    .any(|v| v["kind"] == "Backup" && v["metadata"]["name"] == backup);
                has_bv && has_backup
            }
            Ok(_) => true,
            Err(_) => false,
        }
    }

    fn snapshot_controller(&mut self, objects: &mut BTreeMap<ObjectRef, Value>) {
        // Snapshots deleted: their Delete contents go, and with them the
        // backups their handles resolve to.
        let snapshots: BTreeSet<(String, String)> = objects
            .values()
            .filter(|v| v["kind"] == "VolumeSnapshot")
            .map(|v| {
                (
                    v["metadata"]["namespace"]
                        .as_str()
                        .unwrap_or("default")
                        .to_owned(),
                    v["metadata"]["name"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                )
            })
            .collect();
        let gone: Vec<(ObjectRef, String)> = objects
            .iter()
            .filter(|(_, v)| {
                v["kind"] == "VolumeSnapshotContent"
                    && v["spec"]["deletionPolicy"] == "Delete"
                    && v["status"]["readyToUse"] == true
                    && !snapshots.contains(&(
                        v["spec"]["volumeSnapshotRef"]["namespace"]
                            .as_str()
                            .unwrap_or("default")
                            .to_owned(),
                        v["spec"]["volumeSnapshotRef"]["name"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                    ))
            })
            .map(|(r, v)| {
                let handle = v["spec"]["source"]["snapshotHandle"]
                    .as_str()
                    .or(v["status"]["snapshotHandle"].as_str())
                    .unwrap_or_default()
                    .to_owned();
                (r.clone(), handle)
            })
            .collect();
        for (r, handle) in gone {
            if Self::resolves(objects, &handle)
                && let Ok(SnapshotHandle::Backup(b)) = SnapshotHandle::parse(&handle)
            {
                let backup = b.backup().as_str().to_owned();
                objects.retain(|_, v| !(v["kind"] == "Backup" && v["metadata"]["name"] == backup));
                if let TargetState::Listed(l) = &mut self.target.state {
                    for vol in l.volumes.values_mut() {
                        vol.backups.remove(&backup);
                    }
                }
            }
            objects.remove(&r);
        }
        // New snapshots.
        let keys: Vec<ObjectRef> = objects.keys().cloned().collect();
        for r in keys {
            let v = objects[&r].clone();
            if v["kind"] != "VolumeSnapshot" || v["status"]["readyToUse"] == true {
                continue;
            }
            let ns = v["metadata"]["namespace"]
                .as_str()
                .unwrap_or("default")
                .to_owned();
            let name = v["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let uid = v["metadata"]["uid"].as_str().unwrap_or_default().to_owned();
            if let Some(claim) = v["spec"]["source"]["persistentVolumeClaimName"].as_str() {
                let pvc = objects
                    .values()
                    .find(|p| {
                        p["kind"] == "PersistentVolumeClaim"
                            && p["metadata"]["name"] == claim
                            && p["metadata"]["namespace"] == ns.as_str()
                    })
                    .cloned();
                let Some(pv) = pvc.as_ref().and_then(|p| p["spec"]["volumeName"].as_str()) else {
                    continue;
                };
                let backup = format!("backup-{}", hex(&uid, 16));
                let content = format!("snapcontent-{uid}");
                let handle = format!("bak://{pv}/{backup}");
                objects.insert(
                    ObjectRef::cluster(vmbackup_engine::Kind::VolumeSnapshotContent, &content),
                    json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotContent",
                        "metadata": {"name": content, "uid": format!("uid-{content}"), "resourceVersion": "1"},
                        "spec": {"driver": "driver.longhorn.io", "deletionPolicy": "Delete",
                            "volumeSnapshotClassName": v["spec"]["volumeSnapshotClassName"],
                            "source": {"volumeHandle": pv},
                            "volumeSnapshotRef": {"name": name, "namespace": ns, "uid": uid}},
                        "status": {"snapshotHandle": handle, "readyToUse": true}}),
                );
                ensure_backup(
                    objects,
                    &mut self.target,
                    pv,
                    &backup,
                    Some(&format!("snapshot-{uid}")),
                );
                let s = objects.get_mut(&r).unwrap();
                s["status"] = json!({"boundVolumeSnapshotContentName": content, "readyToUse": true,
                    "creationTime": "2025-06-01T12:00:00Z"});
            }
        }
        // Pre-provisioned contents are judged with the objects as they are.
        let keys: Vec<ObjectRef> = objects.keys().cloned().collect();
        for r in keys {
            let v = objects[&r].clone();
            if v["kind"] != "VolumeSnapshot" || v["status"]["readyToUse"] == true {
                continue;
            }
            let Some(content) = v["spec"]["source"]["volumeSnapshotContentName"].as_str() else {
                continue;
            };
            let cref = ObjectRef::cluster(vmbackup_engine::Kind::VolumeSnapshotContent, content);
            let Some(c) = objects.get(&cref).cloned() else {
                continue;
            };
            let handle = c["spec"]["source"]["snapshotHandle"]
                .as_str()
                .unwrap_or_default();
            let ok = Self::resolves(objects, handle);
            let s = objects.get_mut(&r).unwrap();
            if ok {
                s["status"] = json!({"boundVolumeSnapshotContentName": content, "readyToUse": true,
                    "creationTime": "2025-06-01T12:00:00Z"});
                let c = objects.get_mut(&cref).unwrap();
                c["status"] = json!({"snapshotHandle": handle, "readyToUse": true});
            } else {
                s["status"] = json!({"boundVolumeSnapshotContentName": content, "readyToUse": false,
                    "error": {"message": format!("cannot find backup volume for handle {handle}")}});
            }
        }
    }

    fn provisioner(&mut self, objects: &mut BTreeMap<ObjectRef, Value>) {
        let keys: Vec<ObjectRef> = objects.keys().cloned().collect();
        for r in keys {
            let v = objects[&r].clone();
            if v["kind"] != "PersistentVolumeClaim" || v["spec"]["volumeName"].is_string() {
                continue;
            }
            let Some(vs) = v["spec"]["dataSource"]["name"].as_str() else {
                continue;
            };
            let ns = v["metadata"]["namespace"].as_str().unwrap_or("default");
            let Some(snapshot) = objects
                .values()
                .find(|s| {
                    s["kind"] == "VolumeSnapshot"
                        && s["metadata"]["name"] == vs
                        && s["metadata"]["namespace"] == ns
                })
                .cloned()
            else {
                continue;
            };
            if snapshot["status"]["readyToUse"] != true {
                continue;
            }
            let content = snapshot["status"]["boundVolumeSnapshotContentName"]
                .as_str()
                .unwrap_or_default();
            let cref = ObjectRef::cluster(vmbackup_engine::Kind::VolumeSnapshotContent, content);
            let handle = objects
                .get(&cref)
                .and_then(|c| {
                    c["status"]["snapshotHandle"]
                        .as_str()
                        .or(c["spec"]["source"]["snapshotHandle"].as_str())
                })
                .unwrap_or_default()
                .to_owned();
            if !Self::resolves(objects, &handle) {
                continue;
            }
            let uid = v["metadata"]["uid"].as_str().unwrap_or_default();
            let pv = format!("pvc-{uid}");
            let size = v["spec"]["resources"]["requests"]["storage"].clone();
            objects.insert(
                ObjectRef::cluster(vmbackup_engine::Kind::PersistentVolume, &pv),
                json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv},
                    "spec": {"capacity": {"storage": size}, "csi": {"driver": "driver.longhorn.io", "volumeHandle": pv},
                        "storageClassName": v["spec"]["storageClassName"]}}),
            );
            objects.insert(
                ObjectRef::namespaced(
                    vmbackup_engine::Kind::LonghornVolume,
                    "longhorn-system",
                    &pv,
                ),
                json!({"apiVersion": "longhorn.io/v1beta2", "kind": "Volume",
                    "metadata": {"name": pv, "namespace": "longhorn-system"},
                    "spec": {"size": "10737418240", "fromBackup": handle},
                    "status": {"restoreRequired": false, "state": "detached"}}),
            );
            let p = objects.get_mut(&r).unwrap();
            p["spec"]["volumeName"] = json!(pv);
            p["status"] = json!({"phase": "Bound"});
        }
    }

    fn longhorn_target_sync(&mut self, objects: &mut BTreeMap<ObjectRef, Value>) {
        let available = objects
            .values()
            .any(|v| v["kind"] == "BackupTarget" && v["status"]["available"] == true);
        if !available {
            return;
        }
        let TargetState::Listed(l) = &self.target.state else {
            return;
        };
        let pairs: Vec<(String, String)> = l
            .volumes
            .iter()
            .flat_map(|(vol, v)| v.backups.keys().map(move |b| (vol.clone(), b.clone())))
            .collect();
        let mut target = self.target.clone();
        let before = objects.len();
        for (volume, backup) in pairs {
            ensure_backup(objects, &mut target, &volume, &backup, None);
        }
        self.target = target;
        // Longhorn records when it synced (just after the plan was made).
        let added = objects.len() != before;
        let synced = (self.now + chrono::Duration::seconds(1))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        for v in objects.values_mut() {
            if v["kind"] != "BackupTarget" {
                continue;
            }
            let requested = v["spec"]["syncRequestedAt"].as_str().unwrap_or_default();
            let last = v["status"]["lastSyncedAt"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            if added || requested > last.as_str() {
                v["status"]["lastSyncedAt"] = json!(synced);
            }
        }
    }
}

/// The Backup CR and BackupVolume of `backup` of `volume`, and the backup on
/// the target.
fn ensure_backup(
    objects: &mut BTreeMap<ObjectRef, Value>,
    target: &mut TargetFacts,
    volume: &str,
    backup: &str,
    snapshot: Option<&str>,
) {
    let bref = ObjectRef::namespaced(
        vmbackup_engine::Kind::LonghornBackup,
        "longhorn-system",
        backup,
    );
    objects.entry(bref).or_insert_with(|| {
        let mut status = json!({"state": "Completed", "volumeName": volume, "backupTargetName": "default", "progress": 100});
        if let Some(s) = snapshot {
            status["snapshotName"] = json!(s);
        }
        json!({"apiVersion": "longhorn.io/v1beta2", "kind": "Backup",
            "metadata": {"name": backup, "namespace": "longhorn-system", "uid": format!("uid-{backup}"),
                "labels": {"backup-volume": volume, "backup-target": "default"}},
            "spec": {}, "status": status})
    });
    if !objects
        .values()
        .any(|v| v["kind"] == "BackupVolume" && v["spec"]["volumeName"] == volume)
    {
        let name = format!("{volume}-{}", hex(&format!("{volume}-default"), 8));
        objects.insert(
            ObjectRef::namespaced(
                vmbackup_engine::Kind::LonghornBackupVolume,
                "longhorn-system",
                &name,
            ),
            json!({"apiVersion": "longhorn.io/v1beta2", "kind": "BackupVolume",
                "metadata": {"name": name, "namespace": "longhorn-system",
                    "labels": {"backup-volume": volume, "backup-target": "default"}},
                "spec": {"volumeName": volume, "backupTargetName": "default"}}),
        );
    }
    if let TargetState::Listed(l) = &mut target.state {
        l.volumes
            .entry(volume.to_owned())
            .or_default()
            .backups
            .insert(backup.to_owned(), TargetBackup { complete: true });
    }
}

fn kubevirt(objects: &mut BTreeMap<ObjectRef, Value>) {
    for v in objects.values_mut() {
        if v["kind"] != "VirtualMachine" {
            continue;
        }
        let halted = v["spec"]["runStrategy"] == "Halted"
            || (v["spec"]["runStrategy"].is_null() && v["spec"]["running"] != true);
        let status = if halted {
            json!({"created": false, "ready": false, "printableStatus": "Stopped"})
        } else {
            json!({"created": true, "ready": true, "printableStatus": "Running"})
        };
        if v["status"] != status {
            v["status"] = status;
        }
    }
}

/// Objects of a small Harvester cluster: settings, classes, namespaces, the
/// Longhorn BackupTarget, and VM `vm` in `ns` with `disks` disks (PVCs
/// bound to Longhorn volumes) and a cloud-init secret.
pub fn cluster(ns: &str, vm: &str, disks: usize, refresh: Option<i64>) -> Vec<Object> {
    let mut out = vec![
        super::setting_nfs(refresh),
        obj(
            json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "Setting",
            "metadata": {"name": "csi-driver-config"}, "value": ""}),
        ),
        super::lh_target(true),
        super::storage_class("longhorn"),
        super::namespace("default"),
        super::backup_snapshot_class(),
        obj(
            json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotClass",
            "metadata": {"name": "longhorn-snapshot"}, "driver": "driver.longhorn.io", "deletionPolicy": "Delete",
            "parameters": {"type": "snap"}}),
        ),
    ];
    if ns != "default" {
        out.push(super::namespace(ns));
    }
    out.extend(vm_with_disks(ns, vm, disks, &format!("uid-{vm}")));
    out
}

/// VM `vm` (uid `uid`) with its PVCs, PVs and Longhorn volumes and a
/// cloud-init secret.
pub fn vm_with_disks(ns: &str, vm: &str, disks: usize, uid: &str) -> Vec<Object> {
    let mut out = Vec::new();
    let mut volumes = Vec::new();
    let mut disk_devices = Vec::new();
    for i in 0..disks {
        let claim = format!("{vm}-disk-{i}-{}", &hex(&format!("{ns}/{vm}/{i}/{uid}"), 5));
        let pv = format!("pvc-{}", uuid_like(&format!("{ns}/{claim}/{uid}")));
        volumes.push(
            json!({"name": format!("disk-{i}"), "persistentVolumeClaim": {"claimName": claim}}),
        );
        disk_devices.push(json!({"name": format!("disk-{i}"), "disk": {"bus": "virtio"}}));
        out.push(obj(json!({"apiVersion": "v1", "kind": "PersistentVolumeClaim",
            "metadata": {"name": claim, "namespace": ns, "uid": format!("uid-{claim}"),
                "annotations": {"volume.kubernetes.io/storage-provisioner": "driver.longhorn.io",
                    "pv.kubernetes.io/bind-completed": "yes"}},
            "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "10Gi"}},
                "volumeName": pv, "storageClassName": "longhorn", "volumeMode": "Block"},
            "status": {"phase": "Bound"}})));
        out.push(obj(json!({"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": pv},
            "spec": {"capacity": {"storage": "10Gi"}, "csi": {"driver": "driver.longhorn.io", "volumeHandle": pv},
                "storageClassName": "longhorn"}})));
        out.push(obj(
            json!({"apiVersion": "longhorn.io/v1beta2", "kind": "Volume",
            "metadata": {"name": pv, "namespace": "longhorn-system"},
            "spec": {"size": "10737418240"}, "status": {"state": "attached"}}),
        ));
    }
    volumes.push(json!({"name": "cloudinit", "cloudInitNoCloud": {"secretRef": {"name": format!("{vm}-cloudinit")}}}));
    out.push(obj(json!({"apiVersion": "v1", "kind": "Secret",
        "metadata": {"name": format!("{vm}-cloudinit"), "namespace": ns, "uid": format!("uid-{vm}-ci")},
        "data": {"userdata": "I2Nsb3VkLWNvbmZpZw=="}})));
    out.push(obj(json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
        "metadata": {"name": vm, "namespace": ns, "uid": uid, "resourceVersion": "1"},
        "spec": {"runStrategy": "RerunOnFailure", "template": {
            "metadata": {"labels": {"harvesterhci.io/vmName": vm}},
            "spec": {"domain": {"devices": {"disks": disk_devices,
                    "interfaces": [{"name": "default", "macAddress": "52:54:00:aa:bb:cc", "masquerade": {}}]}},
                "networks": [{"name": "default", "pod": {}}],
                "volumes": volumes}}},
        "status": {"created": true, "ready": true, "printableStatus": "Running"}})));
    out
}

fn uuid_like(text: &str) -> String {
    let h = hex(text, 32);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// A new VMBackup of `vm` in `ns`, as a user creates it.
pub fn new_vmbackup(ns: &str, name: &str, vm: &str) -> Object {
    obj(
        json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineBackup",
        "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{name}"), "resourceVersion": "1"},
        "spec": {"source": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": vm}, "type": "backup"}}),
    )
}

/// A new VMRestore, as a user creates it.
pub fn new_vmrestore(
    ns: &str,
    name: &str,
    backup_ns: &str,
    backup: &str,
    target: &str,
    new_vm: bool,
    policy: Option<&str>,
) -> Object {
    let mut spec = json!({"target": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": target},
        "virtualMachineBackupName": backup, "virtualMachineBackupNamespace": backup_ns, "newVM": new_vm});
    if let Some(p) = policy {
        spec["deletionPolicy"] = json!(p);
    }
    obj(
        json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineRestore",
        "metadata": {"name": name, "namespace": ns, "uid": format!("uid-{name}"), "resourceVersion": "1"},
        "spec": spec}),
    )
}

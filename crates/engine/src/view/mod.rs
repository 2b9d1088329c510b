//! The View: an indexed snapshot of the objects the engine reasons about.
//!
//! A View also knows which kinds were *listed* in full. Absence of an object
//! of a listed kind is a fact ("the StorageClass does not exist"); absence
//! of an object of a kind that was not listed proves nothing, and the engine
//! then says what it would need instead of guessing. [`View::from_objects`]
//! treats every kind it saw as listed; shells that list everything use
//! [`ViewBuilder::all_listed`].

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};

use vmbackup_api::core::{
    Lossless, Namespace, PersistentVolume, PersistentVolumeClaim, Secret, StorageClass,
};
use vmbackup_api::harvester::Setting;
use vmbackup_api::kubevirt::VirtualMachine;
use vmbackup_api::longhorn::{Backup, BackupTarget, BackupVolume, Engine, Volume};
use vmbackup_api::{
    VirtualMachineBackup, VirtualMachineRestore, VolumeSnapshot, VolumeSnapshotClass,
    VolumeSnapshotContent,
};

use crate::object::{Kind, Object, ObjectRef};

/// `(namespace, name)` of a namespaced object.
pub type Key = (String, String);

/// A `(namespace, name)` pair, owned ([`Key`]) or borrowed, so that maps
/// keyed by [`Key`] are searched without allocating a key.
trait Pair {
    fn pair(&self) -> (&str, &str);
}

impl Pair for Key {
    fn pair(&self) -> (&str, &str) {
        (&self.0, &self.1)
    }
}

impl Pair for (&str, &str) {
    fn pair(&self) -> (&str, &str) {
        (self.0, self.1)
    }
}

impl<'a> Borrow<dyn Pair + 'a> for Key {
    fn borrow(&self) -> &(dyn Pair + 'a) {
        self
    }
}

impl PartialEq for dyn Pair + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.pair() == other.pair()
    }
}

impl Eq for dyn Pair + '_ {}

impl PartialOrd for dyn Pair + '_ {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The order of [`Key`]: namespace, then name.
impl Ord for dyn Pair + '_ {
    fn cmp(&self, other: &Self) -> Ordering {
        self.pair().cmp(&other.pair())
    }
}

fn key_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Key {
    (
        meta.namespace
            .clone()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| "default".into()),
        meta.name.clone().unwrap_or_default(),
    )
}

fn name_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> String {
    meta.name.clone().unwrap_or_default()
}

/// An indexed, immutable snapshot of the cluster's relevant objects. Each
/// object is boxed: a B-tree node then holds pointers, not half-empty slots
/// the size of the largest object.
#[derive(Debug, Clone, Default)]
pub struct View {
    listed: BTreeSet<Kind>,
    vmbackups: BTreeMap<Key, Box<VirtualMachineBackup>>,
    vmrestores: BTreeMap<Key, Box<VirtualMachineRestore>>,
    settings: BTreeMap<String, Box<Setting>>,
    snapshots: BTreeMap<Key, Box<VolumeSnapshot>>,
    contents: BTreeMap<String, Box<VolumeSnapshotContent>>,
    classes: BTreeMap<String, Box<VolumeSnapshotClass>>,
    lh_backups: BTreeMap<String, Box<Backup>>,
    lh_backup_volumes: BTreeMap<String, Box<BackupVolume>>,
    lh_backup_targets: BTreeMap<String, Box<BackupTarget>>,
    lh_volumes: BTreeMap<String, Box<Volume>>,
    lh_engines: BTreeMap<String, Box<Engine>>,
    vms: BTreeMap<Key, Box<VirtualMachine>>,
    pvcs: BTreeMap<Key, Box<Lossless<PersistentVolumeClaim>>>,
    pvs: BTreeMap<String, Box<Lossless<PersistentVolume>>>,
    storage_classes: BTreeMap<String, Box<Lossless<StorageClass>>>,
    namespaces: BTreeMap<String, Box<Lossless<Namespace>>>,
    secrets: BTreeMap<Key, Box<Lossless<Secret>>>,
    index: Index,
}

/// Secondary indexes, rebuilt whenever the View is built.
#[derive(Debug, Clone, Default)]
struct Index {
    /// VolumeSnapshotContent names by the VolumeSnapshot they point at.
    contents_by_snapshot: BTreeMap<Key, Vec<String>>,
    /// BackupVolume names by Longhorn volume (`spec.volumeName`).
    backup_volumes_by_volume: BTreeMap<String, Vec<String>>,
    /// Longhorn Backup names by Longhorn snapshot name.
    backups_by_snapshot: BTreeMap<String, Vec<String>>,
    /// Engine names by Longhorn volume.
    engines_by_volume: BTreeMap<String, Vec<String>>,
    /// VirtualMachineRestores by the VMBackup they restore.
    restores_by_backup: BTreeMap<Key, Vec<Key>>,
    /// PVCs by the PV they are bound to.
    pvcs_by_volume: BTreeMap<String, Vec<Key>>,
    /// PVCs by name (any namespace).
    pvcs_by_name: BTreeMap<String, Vec<Key>>,
    /// VirtualMachines by the claim names of their PVC volumes.
    vms_by_claim: BTreeMap<String, Vec<Key>>,
}

/// Builds a [`View`].
#[derive(Debug, Default)]
pub struct ViewBuilder {
    view: View,
    all_listed: bool,
}

impl ViewBuilder {
    /// Adds an object. A later object with the same reference replaces an
    /// earlier one.
    pub fn object(mut self, object: impl Into<Object>) -> Self {
        self.view.insert(object.into());
        self
    }

    /// Adds objects.
    pub fn objects(mut self, objects: impl IntoIterator<Item = Object>) -> Self {
        for object in objects {
            self.view.insert(object);
        }
        self
    }

    /// Declares that every object of `kind` was given (so absence is a fact).
    pub fn listed(mut self, kind: Kind) -> Self {
        self.view.listed.insert(kind);
        self
    }

    /// Declares every kind listed (a shell that reads the whole cluster).
    pub fn all_listed(mut self) -> Self {
        self.all_listed = true;
        self
    }

    /// The View, indexed.
    pub fn build(mut self) -> View {
        if self.all_listed {
            self.view
                .listed
                .extend(Kind::ALL.iter().copied().filter(|k| *k != Kind::TargetFile));
        }
        self.view.reindex();
        self.view
    }
}

impl View {
    /// A builder.
    pub fn builder() -> ViewBuilder {
        ViewBuilder::default()
    }

    /// A View of these objects, with every kind that occurs among them
    /// treated as listed in full.
    pub fn from_objects(objects: impl IntoIterator<Item = Object>) -> View {
        let mut view = View::default();
        for object in objects {
            view.listed.insert(object.kind());
            view.insert(object);
        }
        view.reindex();
        view
    }

    /// A View of every object, every kind listed in full.
    pub fn complete(objects: impl IntoIterator<Item = Object>) -> View {
        View::builder().objects(objects).all_listed().build()
    }

    /// Whether every object of `kind` is in the View.
    pub fn is_listed(&self, kind: Kind) -> bool {
        self.listed.contains(&kind)
    }

    /// The kinds listed in full.
    pub fn listed_kinds(&self) -> impl Iterator<Item = Kind> + '_ {
        self.listed.iter().copied()
    }

    /// A copy with different objects and the same listed kinds.
    pub fn with_objects(&self, objects: impl IntoIterator<Item = Object>) -> View {
        let mut view = View {
            listed: self.listed.clone(),
            ..View::default()
        };
        for object in objects {
            view.insert(object);
        }
        view.reindex();
        view
    }

    fn insert(&mut self, object: Object) {
        match object {
            Object::VirtualMachineBackup(o) => {
                self.vmbackups.insert(key_of(&o.metadata), o);
            }
            Object::VirtualMachineRestore(o) => {
                self.vmrestores.insert(key_of(&o.metadata), o);
            }
            Object::Setting(o) => {
                self.settings.insert(name_of(&o.metadata), o);
            }
            Object::VolumeSnapshot(o) => {
                self.snapshots.insert(key_of(&o.metadata), o);
            }
            Object::VolumeSnapshotContent(o) => {
                self.contents.insert(name_of(&o.metadata), o);
            }
            Object::VolumeSnapshotClass(o) => {
                self.classes.insert(name_of(&o.metadata), o);
            }
            Object::LonghornBackup(o) => {
                self.lh_backups.insert(name_of(&o.metadata), o);
            }
            Object::LonghornBackupVolume(o) => {
                self.lh_backup_volumes.insert(name_of(&o.metadata), o);
            }
            Object::LonghornBackupTarget(o) => {
                self.lh_backup_targets.insert(name_of(&o.metadata), o);
            }
            Object::LonghornVolume(o) => {
                self.lh_volumes.insert(name_of(&o.metadata), o);
            }
            Object::LonghornEngine(o) => {
                self.lh_engines.insert(name_of(&o.metadata), o);
            }
            Object::VirtualMachine(o) => {
                self.vms.insert(key_of(&o.metadata), o);
            }
            Object::PersistentVolumeClaim(o) => {
                self.pvcs.insert(key_of(&o.metadata), o);
            }
            Object::PersistentVolume(o) => {
                self.pvs.insert(name_of(&o.metadata), o);
            }
            Object::StorageClass(o) => {
                self.storage_classes.insert(name_of(&o.metadata), o);
            }
            Object::Namespace(o) => {
                self.namespaces.insert(name_of(&o.metadata), o);
            }
            Object::Secret(o) => {
                self.secrets.insert(key_of(&o.metadata), o);
            }
        }
    }

    fn reindex(&mut self) {
        let mut index = Index::default();
        for (name, vsc) in &self.contents {
            let r = &vsc.spec.volume_snapshot_ref;
            if let Some(vs) = r.name.as_deref() {
                let ns = r.namespace.clone().unwrap_or_else(|| "default".into());
                index
                    .contents_by_snapshot
                    .entry((ns, vs.to_owned()))
                    .or_default()
                    .push(name.clone());
            }
        }
        for (name, bv) in &self.lh_backup_volumes {
            if let Some(volume) = bv.volume_name() {
                index
                    .backup_volumes_by_volume
                    .entry(volume.to_owned())
                    .or_default()
                    .push(name.clone());
            }
        }
        for (name, b) in &self.lh_backups {
            if let Some(snap) = b
                .status
                .as_ref()
                .and_then(|s| s.snapshot_name.as_deref())
                .filter(|s| !s.is_empty())
            {
                index
                    .backups_by_snapshot
                    .entry(snap.to_owned())
                    .or_default()
                    .push(name.clone());
            }
        }
        for (name, e) in &self.lh_engines {
            if let Some(volume) = e.spec.volume_name.as_deref() {
                index
                    .engines_by_volume
                    .entry(volume.to_owned())
                    .or_default()
                    .push(name.clone());
            }
        }
        for (key, vmr) in &self.vmrestores {
            let b = (
                vmr.spec.virtual_machine_backup_namespace.clone(),
                vmr.spec.virtual_machine_backup_name.clone(),
            );
            index
                .restores_by_backup
                .entry(b)
                .or_default()
                .push(key.clone());
        }
        for (key, vm) in &self.vms {
            for claim in vm.volumes().iter().filter_map(|v| v.claim_name()) {
                index
                    .vms_by_claim
                    .entry(claim.to_owned())
                    .or_default()
                    .push(key.clone());
            }
        }
        for (key, pvc) in &self.pvcs {
            index
                .pvcs_by_name
                .entry(key.1.clone())
                .or_default()
                .push(key.clone());
            if let Some(pv) = pvc.spec.as_ref().and_then(|s| s.volume_name.as_deref()) {
                index
                    .pvcs_by_volume
                    .entry(pv.to_owned())
                    .or_default()
                    .push(key.clone());
            }
        }
        self.index = index;
    }

    /// Every object, in a fixed order (by kind, then namespace and name).
    pub fn objects(&self) -> Vec<Object> {
        let mut out = Vec::with_capacity(self.len());
        out.extend(self.settings.values().cloned().map(Object::Setting));
        out.extend(self.namespaces.values().cloned().map(Object::Namespace));
        out.extend(
            self.storage_classes
                .values()
                .cloned()
                .map(Object::StorageClass),
        );
        out.extend(
            self.classes
                .values()
                .cloned()
                .map(Object::VolumeSnapshotClass),
        );
        out.extend(
            self.lh_backup_targets
                .values()
                .cloned()
                .map(Object::LonghornBackupTarget),
        );
        out.extend(
            self.lh_backup_volumes
                .values()
                .cloned()
                .map(Object::LonghornBackupVolume),
        );
        out.extend(
            self.lh_backups
                .values()
                .cloned()
                .map(Object::LonghornBackup),
        );
        out.extend(
            self.lh_volumes
                .values()
                .cloned()
                .map(Object::LonghornVolume),
        );
        out.extend(
            self.lh_engines
                .values()
                .cloned()
                .map(Object::LonghornEngine),
        );
        out.extend(self.pvs.values().cloned().map(Object::PersistentVolume));
        out.extend(
            self.pvcs
                .values()
                .cloned()
                .map(Object::PersistentVolumeClaim),
        );
        out.extend(self.secrets.values().cloned().map(Object::Secret));
        out.extend(self.vms.values().cloned().map(Object::VirtualMachine));
        out.extend(
            self.vmbackups
                .values()
                .cloned()
                .map(Object::VirtualMachineBackup),
        );
        out.extend(self.snapshots.values().cloned().map(Object::VolumeSnapshot));
        out.extend(
            self.contents
                .values()
                .cloned()
                .map(Object::VolumeSnapshotContent),
        );
        out.extend(
            self.vmrestores
                .values()
                .cloned()
                .map(Object::VirtualMachineRestore),
        );
        out
    }

    /// Number of objects.
    pub fn len(&self) -> usize {
        self.settings.len()
            + self.namespaces.len()
            + self.storage_classes.len()
            + self.classes.len()
            + self.lh_backup_targets.len()
            + self.lh_backup_volumes.len()
            + self.lh_backups.len()
            + self.lh_volumes.len()
            + self.lh_engines.len()
            + self.pvs.len()
            + self.pvcs.len()
            + self.secrets.len()
            + self.vms.len()
            + self.vmbackups.len()
            + self.snapshots.len()
            + self.contents.len()
            + self.vmrestores.len()
    }

    /// Whether the View holds no object.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The object `r` refers to, if present.
    pub fn get(&self, r: &ObjectRef) -> Option<Object> {
        let ns = || r.namespace.clone().unwrap_or_else(|| "default".into());
        let key = || (ns(), r.name.clone());
        match r.kind {
            Kind::VirtualMachineBackup => self.vmbackups.get(&key()).cloned().map(Object::from),
            Kind::VirtualMachineRestore => self.vmrestores.get(&key()).cloned().map(Object::from),
            Kind::Setting => self.settings.get(&r.name).cloned().map(Object::from),
            Kind::VolumeSnapshot => self.snapshots.get(&key()).cloned().map(Object::from),
            Kind::VolumeSnapshotContent => self.contents.get(&r.name).cloned().map(Object::from),
            Kind::VolumeSnapshotClass => self.classes.get(&r.name).cloned().map(Object::from),
            Kind::LonghornBackup => self.lh_backups.get(&r.name).cloned().map(Object::from),
            Kind::LonghornBackupVolume => self
                .lh_backup_volumes
                .get(&r.name)
                .cloned()
                .map(Object::from),
            Kind::LonghornBackupTarget => self
                .lh_backup_targets
                .get(&r.name)
                .cloned()
                .map(Object::from),
            Kind::LonghornVolume => self.lh_volumes.get(&r.name).cloned().map(Object::from),
            Kind::LonghornEngine => self.lh_engines.get(&r.name).cloned().map(Object::from),
            Kind::VirtualMachine => self.vms.get(&key()).cloned().map(Object::from),
            Kind::PersistentVolumeClaim => self
                .pvcs
                .get(&key())
                .cloned()
                .map(Object::PersistentVolumeClaim),
            Kind::PersistentVolume => self.pvs.get(&r.name).cloned().map(Object::PersistentVolume),
            Kind::StorageClass => self
                .storage_classes
                .get(&r.name)
                .cloned()
                .map(Object::StorageClass),
            Kind::Namespace => self.namespaces.get(&r.name).cloned().map(Object::Namespace),
            Kind::Secret => self.secrets.get(&key()).cloned().map(Object::Secret),
            Kind::TargetFile => None,
        }
    }

    // ---- Harvester ----

    /// Every VMBackup, by (namespace, name).
    pub fn vmbackups(&self) -> &BTreeMap<Key, Box<VirtualMachineBackup>> {
        &self.vmbackups
    }

    /// One VMBackup.
    pub fn vmbackup(&self, namespace: &str, name: &str) -> Option<&VirtualMachineBackup> {
        self.vmbackups
            .get(&(namespace, name) as &dyn Pair)
            .map(Box::as_ref)
    }

    /// Every VMRestore, by (namespace, name).
    pub fn vmrestores(&self) -> &BTreeMap<Key, Box<VirtualMachineRestore>> {
        &self.vmrestores
    }

    /// The VMRestores of the VMBackup `namespace/name`.
    pub fn restores_of(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Iterator<Item = &VirtualMachineRestore> {
        self.index
            .restores_by_backup
            .get(&(namespace, name) as &dyn Pair)
            .into_iter()
            .flatten()
            .filter_map(|k| self.vmrestores.get(k).map(Box::as_ref))
    }

    /// A Harvester setting by name.
    pub fn setting(&self, name: &str) -> Option<&Setting> {
        self.settings.get(name).map(Box::as_ref)
    }

    // ---- CSI snapshots ----

    /// Every VolumeSnapshot.
    pub fn snapshots(&self) -> &BTreeMap<Key, Box<VolumeSnapshot>> {
        &self.snapshots
    }

    /// One VolumeSnapshot.
    pub fn snapshot(&self, namespace: &str, name: &str) -> Option<&VolumeSnapshot> {
        self.snapshots
            .get(&(namespace, name) as &dyn Pair)
            .map(Box::as_ref)
    }

    /// Every VolumeSnapshotContent.
    pub fn contents(&self) -> &BTreeMap<String, Box<VolumeSnapshotContent>> {
        &self.contents
    }

    /// One VolumeSnapshotContent.
    pub fn content(&self, name: &str) -> Option<&VolumeSnapshotContent> {
        self.contents.get(name).map(Box::as_ref)
    }

    /// The contents whose `volumeSnapshotRef` names `namespace/name`.
    pub fn contents_for_snapshot(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Iterator<Item = &VolumeSnapshotContent> {
        self.index
            .contents_by_snapshot
            .get(&(namespace, name) as &dyn Pair)
            .into_iter()
            .flatten()
            .filter_map(|n| self.contents.get(n).map(Box::as_ref))
    }

    /// The content a VolumeSnapshot is bound to (by its status, or its
    /// pre-provisioned source), falling back to a content pointing at it.
    pub fn content_of_snapshot(&self, vs: &VolumeSnapshot) -> Option<&VolumeSnapshotContent> {
        if let Some(c) = vs.content_name().and_then(|n| self.contents.get(n)) {
            return Some(c);
        }
        let (ns, name) = key_of(&vs.metadata);
        self.contents_for_snapshot(&ns, &name).next()
    }

    /// Every VolumeSnapshotClass.
    pub fn snapshot_classes(&self) -> &BTreeMap<String, Box<VolumeSnapshotClass>> {
        &self.classes
    }

    /// One VolumeSnapshotClass.
    pub fn snapshot_class(&self, name: &str) -> Option<&VolumeSnapshotClass> {
        self.classes.get(name).map(Box::as_ref)
    }

    // ---- Longhorn ----

    /// Every Longhorn Backup.
    pub fn longhorn_backups(&self) -> &BTreeMap<String, Box<Backup>> {
        &self.lh_backups
    }

    /// One Longhorn Backup.
    pub fn longhorn_backup(&self, name: &str) -> Option<&Backup> {
        self.lh_backups.get(name).map(Box::as_ref)
    }

    /// The Longhorn Backups taken from the Longhorn snapshot `snapshot`.
    pub fn longhorn_backups_of_snapshot(&self, snapshot: &str) -> impl Iterator<Item = &Backup> {
        self.index
            .backups_by_snapshot
            .get(snapshot)
            .into_iter()
            .flatten()
            .filter_map(|n| self.lh_backups.get(n).map(Box::as_ref))
    }

    /// Every Longhorn BackupVolume.
    pub fn backup_volumes(&self) -> &BTreeMap<String, Box<BackupVolume>> {
        &self.lh_backup_volumes
    }

    /// The BackupVolumes whose volume is `volume` (matched on
    /// `spec.volumeName`, never on the CR name).
    pub fn backup_volumes_of(&self, volume: &str) -> impl Iterator<Item = &BackupVolume> {
        self.index
            .backup_volumes_by_volume
            .get(volume)
            .into_iter()
            .flatten()
            .filter_map(|n| self.lh_backup_volumes.get(n).map(Box::as_ref))
    }

    /// Every Longhorn BackupTarget.
    pub fn backup_targets(&self) -> &BTreeMap<String, Box<BackupTarget>> {
        &self.lh_backup_targets
    }

    /// One Longhorn Volume.
    pub fn longhorn_volume(&self, name: &str) -> Option<&Volume> {
        self.lh_volumes.get(name).map(Box::as_ref)
    }

    /// The Engines of the Longhorn volume `volume`.
    pub fn engines_of(&self, volume: &str) -> impl Iterator<Item = &Engine> {
        self.index
            .engines_by_volume
            .get(volume)
            .into_iter()
            .flatten()
            .filter_map(|n| self.lh_engines.get(n).map(Box::as_ref))
    }

    // ---- KubeVirt and core ----

    /// Every VirtualMachine.
    pub fn vms(&self) -> &BTreeMap<Key, Box<VirtualMachine>> {
        &self.vms
    }

    /// One VirtualMachine.
    pub fn vm(&self, namespace: &str, name: &str) -> Option<&VirtualMachine> {
        self.vms
            .get(&(namespace, name) as &dyn Pair)
            .map(Box::as_ref)
    }

    /// Every PVC.
    pub fn pvcs(&self) -> &BTreeMap<Key, Box<Lossless<PersistentVolumeClaim>>> {
        &self.pvcs
    }

    /// One PVC.
    pub fn pvc(&self, namespace: &str, name: &str) -> Option<&PersistentVolumeClaim> {
        self.pvcs
            .get(&(namespace, name) as &dyn Pair)
            .map(|p| &p.object)
    }

    /// The PVCs bound to the PersistentVolume `pv`.
    pub fn pvcs_bound_to(&self, pv: &str) -> impl Iterator<Item = &PersistentVolumeClaim> {
        self.index
            .pvcs_by_volume
            .get(pv)
            .into_iter()
            .flatten()
            .filter_map(|k| self.pvcs.get(k))
            .map(|p| &p.object)
    }

    /// The PVCs named `name`, in any namespace.
    pub fn pvcs_named(&self, name: &str) -> impl Iterator<Item = (&Key, &PersistentVolumeClaim)> {
        self.index
            .pvcs_by_name
            .get(name)
            .into_iter()
            .flatten()
            .filter_map(|k| self.pvcs.get_key_value(k))
            .map(|(k, p)| (k, &p.object))
    }

    /// The VirtualMachines with a PVC volume claiming `claim`.
    pub fn vms_claiming(&self, claim: &str) -> impl Iterator<Item = (&Key, &VirtualMachine)> {
        self.index
            .vms_by_claim
            .get(claim)
            .into_iter()
            .flatten()
            .filter_map(|k| self.vms.get_key_value(k))
            .map(|(k, vm)| (k, vm.as_ref()))
    }

    /// One PersistentVolume.
    pub fn pv(&self, name: &str) -> Option<&PersistentVolume> {
        self.pvs.get(name).map(|p| &p.object)
    }

    /// One StorageClass.
    pub fn storage_class(&self, name: &str) -> Option<&StorageClass> {
        self.storage_classes.get(name).map(|p| &p.object)
    }

    /// One Namespace.
    pub fn namespace(&self, name: &str) -> Option<&Namespace> {
        self.namespaces.get(name).map(|p| &p.object)
    }

    /// One Secret.
    pub fn secret(&self, namespace: &str, name: &str) -> Option<&Secret> {
        self.secrets
            .get(&(namespace, name) as &dyn Pair)
            .map(|p| &p.object)
    }

    /// Every Secret.
    pub fn secrets(&self) -> &BTreeMap<Key, Box<Lossless<Secret>>> {
        &self.secrets
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: serde_json::Value) -> Object {
        Object::from_value(v).unwrap()
    }

    #[test]
    fn indexes_contents_by_snapshot_and_backup_volumes_by_spec_volume() {
        let view = View::from_objects([
            obj(
                json!({"apiVersion": "snapshot.storage.k8s.io/v1", "kind": "VolumeSnapshotContent",
                "metadata": {"name": "c1"},
                "spec": {"driver": "driver.longhorn.io", "deletionPolicy": "Delete",
                    "source": {"snapshotHandle": "bak://v/b"},
                    "volumeSnapshotRef": {"name": "s1", "namespace": "ns"}}}),
            ),
            obj(
                json!({"apiVersion": "longhorn.io/v1beta2", "kind": "BackupVolume",
                "metadata": {"name": "pvc-1-0fbc591a", "namespace": "longhorn-system"},
                "spec": {"volumeName": "pvc-1", "backupTargetName": "default"}}),
            ),
        ]);
        assert_eq!(view.contents_for_snapshot("ns", "s1").count(), 1);
        assert_eq!(view.backup_volumes_of("pvc-1").count(), 1);
        assert_eq!(view.backup_volumes_of("pvc-1-0fbc591a").count(), 0);
        assert!(view.is_listed(Kind::VolumeSnapshotContent));
        assert!(!view.is_listed(Kind::LonghornBackup));
        assert_eq!(view.len(), 2);
        assert_eq!(view.objects().len(), 2);
    }

    #[test]
    fn borrowed_pairs_find_what_owned_keys_find() {
        let mut map: BTreeMap<Key, u8> = BTreeMap::new();
        for (i, (ns, name)) in [("a", "x"), ("a", "y"), ("b", "a"), ("ab", ""), ("", "z")]
            .into_iter()
            .enumerate()
        {
            map.insert((ns.to_owned(), name.to_owned()), i as u8);
        }
        for ((ns, name), v) in &map {
            assert_eq!(map.get(&(ns.as_str(), name.as_str()) as &dyn Pair), Some(v));
        }
        assert_eq!(map.get(&("a", "z") as &dyn Pair), None);
        assert_eq!(map.get(&("b", "") as &dyn Pair), None);
    }

    #[test]
    fn later_objects_replace_earlier_ones() {
        let a = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "labels": {"a": "1"}}});
        let b = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "labels": {"a": "2"}}});
        let view = View::from_objects([obj(a), obj(b)]);
        let ns = view.namespace("x").unwrap();
        assert_eq!(ns.metadata.labels.as_ref().unwrap()["a"], "2");
    }
}

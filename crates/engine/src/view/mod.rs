//! The View: an indexed snapshot of the objects the engine reasons about.
//!
//! A View also knows which kinds were *listed* in full. Absence of an object
//! of a listed kind is a fact ("the StorageClass does not exist"); absence
//! of an object of a kind that was not listed proves nothing, and the engine
//! then says what it would need instead of guessing. [`View::from_objects`]
//! treats every kind it saw as listed; shells that list everything use
//! [`ViewBuilder::all_listed`].

mod store;

use std::collections::BTreeSet;

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

use crate::context::{name_of, ns_of};
use crate::object::{Kind, Object, ObjectRef};
use store::Lookup;
pub use store::{HasMeta, Named, Namespaced};

/// `(namespace, name)` of a namespaced object, owned.
pub type Key = (String, String);

/// An indexed, immutable snapshot of the cluster's relevant objects. Each
/// kind is a vector of boxed objects sorted by name (see [`Namespaced`] and
/// [`Named`]); the indexes are vectors of positions into them.
#[derive(Debug, Clone, Default)]
pub struct View {
    listed: BTreeSet<Kind>,
    vmbackups: Namespaced<VirtualMachineBackup>,
    vmrestores: Namespaced<VirtualMachineRestore>,
    settings: Named<Setting>,
    snapshots: Namespaced<VolumeSnapshot>,
    contents: Named<VolumeSnapshotContent>,
    classes: Named<VolumeSnapshotClass>,
    lh_backups: Named<Backup>,
    lh_backup_volumes: Named<BackupVolume>,
    lh_backup_targets: Named<BackupTarget>,
    lh_volumes: Named<Volume>,
    lh_engines: Named<Engine>,
    vms: Namespaced<VirtualMachine>,
    pvcs: Namespaced<Lossless<PersistentVolumeClaim>>,
    pvs: Named<Lossless<PersistentVolume>>,
    storage_classes: Named<Lossless<StorageClass>>,
    namespaces: Named<Lossless<Namespace>>,
    secrets: Namespaced<Lossless<Secret>>,
    index: Index,
}

/// Secondary indexes, rebuilt whenever the View is built: positions into
/// the View's sorted objects.
#[derive(Debug, Clone, Default)]
struct Index {
    /// VolumeSnapshotContents by the VolumeSnapshot they point at.
    contents_by_snapshot: Lookup<u32>,
    /// BackupVolumes by Longhorn volume (`spec.volumeName`).
    backup_volumes_by_volume: Lookup<u32>,
    /// Longhorn Backups by Longhorn snapshot name.
    backups_by_snapshot: Lookup<u32>,
    /// Engines by Longhorn volume.
    engines_by_volume: Lookup<u32>,
    /// VirtualMachineRestores by the VMBackup they restore.
    restores_by_backup: Lookup<u32>,
    /// PVCs by the PV they are bound to.
    pvcs_by_volume: Lookup<u32>,
    /// PVCs by name (any namespace).
    pvcs_by_name: Lookup<u32>,
    /// VirtualMachines by the claim names of their PVC volumes: (position
    /// of the VM, position of the volume in its list).
    vms_by_claim: Lookup<(u32, u32)>,
}

/// Positions `0..len` as index entries.
fn positions(len: usize) -> impl Iterator<Item = u32> {
    // A View holds far fewer than 2^32 objects of a kind.
    (0..len).map(|i| u32::try_from(i).unwrap_or(u32::MAX))
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
            Object::VirtualMachineBackup(o) => self.vmbackups.push(o),
            Object::VirtualMachineRestore(o) => self.vmrestores.push(o),
            Object::Setting(o) => self.settings.push(o),
            Object::VolumeSnapshot(o) => self.snapshots.push(o),
            Object::VolumeSnapshotContent(o) => self.contents.push(o),
            Object::VolumeSnapshotClass(o) => self.classes.push(o),
            Object::LonghornBackup(o) => self.lh_backups.push(o),
            Object::LonghornBackupVolume(o) => self.lh_backup_volumes.push(o),
            Object::LonghornBackupTarget(o) => self.lh_backup_targets.push(o),
            Object::LonghornVolume(o) => self.lh_volumes.push(o),
            Object::LonghornEngine(o) => self.lh_engines.push(o),
            Object::VirtualMachine(o) => self.vms.push(o),
            Object::PersistentVolumeClaim(o) => self.pvcs.push(o),
            Object::PersistentVolume(o) => self.pvs.push(o),
            Object::StorageClass(o) => self.storage_classes.push(o),
            Object::Namespace(o) => self.namespaces.push(o),
            Object::Secret(o) => self.secrets.push(o),
        }
    }

    /// Sorts every kind and builds the indexes.
    fn reindex(&mut self) {
        self.vmbackups.seal();
        self.vmrestores.seal();
        self.settings.seal();
        self.snapshots.seal();
        self.contents.seal();
        self.classes.seal();
        self.lh_backups.seal();
        self.lh_backup_volumes.seal();
        self.lh_backup_targets.seal();
        self.lh_volumes.seal();
        self.lh_engines.seal();
        self.vms.seal();
        self.pvcs.seal();
        self.pvs.seal();
        self.storage_classes.seal();
        self.namespaces.seal();
        self.secrets.seal();

        let vm_volumes: Vec<(u32, u32)> = positions(self.vms.len())
            .flat_map(|vm| positions(self.vms.at(vm).volumes().len()).map(move |v| (vm, v)))
            .collect();
        let index = Index {
            contents_by_snapshot: Lookup::new(positions(self.contents.len()), |i| {
                self.content_snapshot(i)
            }),
            backup_volumes_by_volume: Lookup::new(positions(self.lh_backup_volumes.len()), |i| {
                self.backup_volume_volume(i)
            }),
            backups_by_snapshot: Lookup::new(positions(self.lh_backups.len()), |i| {
                self.backup_snapshot(i)
            }),
            engines_by_volume: Lookup::new(positions(self.lh_engines.len()), |i| {
                self.engine_volume(i)
            }),
            restores_by_backup: Lookup::new(positions(self.vmrestores.len()), |i| {
                self.restored_backup(i)
            }),
            pvcs_by_volume: Lookup::new(positions(self.pvcs.len()), |i| self.pvc_volume(i)),
            pvcs_by_name: Lookup::new(positions(self.pvcs.len()), |i| self.pvc_name(i)),
            vms_by_claim: Lookup::new(vm_volumes, |e| self.vm_claim(e)),
        };
        self.index = index;
    }

    // The keys of the secondary indexes, each read in one place for both
    // building an index and searching it.

    /// The `(namespace, name)` the content at `i` points at.
    fn content_snapshot(&self, i: u32) -> Option<(&str, &str)> {
        let r = &self.contents.at(i).spec.volume_snapshot_ref;
        Some((
            r.namespace.as_deref().unwrap_or("default"),
            r.name.as_deref()?,
        ))
    }

    /// The Longhorn volume of the BackupVolume at `i` (`spec.volumeName`).
    fn backup_volume_volume(&self, i: u32) -> Option<&str> {
        self.lh_backup_volumes.at(i).volume_name()
    }

    /// The Longhorn snapshot the Backup at `i` was taken from.
    fn backup_snapshot(&self, i: u32) -> Option<&str> {
        self.lh_backups
            .at(i)
            .status
            .as_ref()
            .and_then(|s| s.snapshot_name.as_deref())
            .filter(|s| !s.is_empty())
    }

    /// The Longhorn volume of the Engine at `i`.
    fn engine_volume(&self, i: u32) -> Option<&str> {
        self.lh_engines.at(i).spec.volume_name.as_deref()
    }

    /// The `(namespace, name)` of the VMBackup the restore at `i` restores.
    fn restored_backup(&self, i: u32) -> Option<(&str, &str)> {
        let spec = &self.vmrestores.at(i).spec;
        Some((
            spec.virtual_machine_backup_namespace.as_str(),
            spec.virtual_machine_backup_name.as_str(),
        ))
    }

    /// The PV the PVC at `i` is bound to.
    fn pvc_volume(&self, i: u32) -> Option<&str> {
        self.pvcs
            .at(i)
            .object
            .spec
            .as_ref()
            .and_then(|s| s.volume_name.as_deref())
    }

    /// The name of the PVC at `i`.
    fn pvc_name(&self, i: u32) -> Option<&str> {
        Some(name_of(self.pvcs.at(i).meta()))
    }

    /// The claim of volume `volume` of the VM at `vm`, if it is a PVC.
    fn vm_claim(&self, (vm, volume): (u32, u32)) -> Option<&str> {
        self.vms.at(vm).volumes().get(volume as usize)?.claim_name()
    }

    /// Every object, in a fixed order (by kind, then namespace and name).
    pub fn objects(&self) -> Vec<Object> {
        let mut out = Vec::with_capacity(self.len());
        out.extend(self.settings.boxed().cloned().map(Object::Setting));
        out.extend(self.namespaces.boxed().cloned().map(Object::Namespace));
        out.extend(
            self.storage_classes
                .boxed()
                .cloned()
                .map(Object::StorageClass),
        );
        out.extend(
            self.classes
                .boxed()
                .cloned()
                .map(Object::VolumeSnapshotClass),
        );
        out.extend(
            self.lh_backup_targets
                .boxed()
                .cloned()
                .map(Object::LonghornBackupTarget),
        );
        out.extend(
            self.lh_backup_volumes
                .boxed()
                .cloned()
                .map(Object::LonghornBackupVolume),
        );
        out.extend(self.lh_backups.boxed().cloned().map(Object::LonghornBackup));
        out.extend(self.lh_volumes.boxed().cloned().map(Object::LonghornVolume));
        out.extend(self.lh_engines.boxed().cloned().map(Object::LonghornEngine));
        out.extend(self.pvs.boxed().cloned().map(Object::PersistentVolume));
        out.extend(
            self.pvcs
                .boxed()
                .cloned()
                .map(Object::PersistentVolumeClaim),
        );
        out.extend(self.secrets.boxed().cloned().map(Object::Secret));
        out.extend(self.vms.boxed().cloned().map(Object::VirtualMachine));
        out.extend(
            self.vmbackups
                .boxed()
                .cloned()
                .map(Object::VirtualMachineBackup),
        );
        out.extend(self.snapshots.boxed().cloned().map(Object::VolumeSnapshot));
        out.extend(
            self.contents
                .boxed()
                .cloned()
                .map(Object::VolumeSnapshotContent),
        );
        out.extend(
            self.vmrestores
                .boxed()
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
        let ns = r.namespace.as_deref().unwrap_or("default");
        let name = r.name.as_str();
        fn boxed<T: Clone>(o: Option<&T>) -> Option<Box<T>> {
            o.map(|o| Box::new(o.clone()))
        }
        match r.kind {
            Kind::VirtualMachineBackup => boxed(self.vmbackups.get(ns, name)).map(Object::from),
            Kind::VirtualMachineRestore => boxed(self.vmrestores.get(ns, name)).map(Object::from),
            Kind::Setting => boxed(self.settings.get(name)).map(Object::from),
            Kind::VolumeSnapshot => boxed(self.snapshots.get(ns, name)).map(Object::from),
            Kind::VolumeSnapshotContent => boxed(self.contents.get(name)).map(Object::from),
            Kind::VolumeSnapshotClass => boxed(self.classes.get(name)).map(Object::from),
            Kind::LonghornBackup => boxed(self.lh_backups.get(name)).map(Object::from),
            Kind::LonghornBackupVolume => boxed(self.lh_backup_volumes.get(name)).map(Object::from),
            Kind::LonghornBackupTarget => boxed(self.lh_backup_targets.get(name)).map(Object::from),
            Kind::LonghornVolume => boxed(self.lh_volumes.get(name)).map(Object::from),
            Kind::LonghornEngine => boxed(self.lh_engines.get(name)).map(Object::from),
            Kind::VirtualMachine => boxed(self.vms.get(ns, name)).map(Object::from),
            Kind::PersistentVolumeClaim => {
                boxed(self.pvcs.get(ns, name)).map(Object::PersistentVolumeClaim)
            }
            Kind::PersistentVolume => boxed(self.pvs.get(name)).map(Object::PersistentVolume),
            Kind::StorageClass => boxed(self.storage_classes.get(name)).map(Object::StorageClass),
            Kind::Namespace => boxed(self.namespaces.get(name)).map(Object::Namespace),
            Kind::Secret => boxed(self.secrets.get(ns, name)).map(Object::Secret),
            Kind::TargetFile => None,
        }
    }

    // ---- Harvester ----

    /// Every VMBackup, by (namespace, name).
    pub fn vmbackups(&self) -> &Namespaced<VirtualMachineBackup> {
        &self.vmbackups
    }

    /// One VMBackup.
    pub fn vmbackup(&self, namespace: &str, name: &str) -> Option<&VirtualMachineBackup> {
        self.vmbackups.get(namespace, name)
    }

    /// Every VMRestore, by (namespace, name).
    pub fn vmrestores(&self) -> &Namespaced<VirtualMachineRestore> {
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
            .find((namespace, name), |i| self.restored_backup(i))
            .iter()
            .map(|i| self.vmrestores.at(*i))
    }

    /// A Harvester setting by name.
    pub fn setting(&self, name: &str) -> Option<&Setting> {
        self.settings.get(name)
    }

    // ---- CSI snapshots ----

    /// Every VolumeSnapshot.
    pub fn snapshots(&self) -> &Namespaced<VolumeSnapshot> {
        &self.snapshots
    }

    /// One VolumeSnapshot.
    pub fn snapshot(&self, namespace: &str, name: &str) -> Option<&VolumeSnapshot> {
        self.snapshots.get(namespace, name)
    }

    /// Every VolumeSnapshotContent.
    pub fn contents(&self) -> &Named<VolumeSnapshotContent> {
        &self.contents
    }

    /// One VolumeSnapshotContent.
    pub fn content(&self, name: &str) -> Option<&VolumeSnapshotContent> {
        self.contents.get(name)
    }

    /// The contents whose `volumeSnapshotRef` names `namespace/name`.
    pub fn contents_for_snapshot(
        &self,
        namespace: &str,
        name: &str,
    ) -> impl Iterator<Item = &VolumeSnapshotContent> {
        self.index
            .contents_by_snapshot
            .find((namespace, name), |i| self.content_snapshot(i))
            .iter()
            .map(|i| self.contents.at(*i))
    }

    /// The content a VolumeSnapshot is bound to (by its status, or its
    /// pre-provisioned source), falling back to a content pointing at it.
    pub fn content_of_snapshot(&self, vs: &VolumeSnapshot) -> Option<&VolumeSnapshotContent> {
        if let Some(c) = vs.content_name().and_then(|n| self.contents.get(n)) {
            return Some(c);
        }
        self.contents_for_snapshot(ns_of(&vs.metadata), name_of(&vs.metadata))
            .next()
    }

    /// Every VolumeSnapshotClass.
    pub fn snapshot_classes(&self) -> &Named<VolumeSnapshotClass> {
        &self.classes
    }

    /// One VolumeSnapshotClass.
    pub fn snapshot_class(&self, name: &str) -> Option<&VolumeSnapshotClass> {
        self.classes.get(name)
    }

    // ---- Longhorn ----

    /// Every Longhorn Backup.
    pub fn longhorn_backups(&self) -> &Named<Backup> {
        &self.lh_backups
    }

    /// One Longhorn Backup.
    pub fn longhorn_backup(&self, name: &str) -> Option<&Backup> {
        self.lh_backups.get(name)
    }

    /// The Longhorn Backups taken from the Longhorn snapshot `snapshot`.
    pub fn longhorn_backups_of_snapshot(&self, snapshot: &str) -> impl Iterator<Item = &Backup> {
        self.index
            .backups_by_snapshot
            .find(snapshot, |i| self.backup_snapshot(i))
            .iter()
            .map(|i| self.lh_backups.at(*i))
    }

    /// Every Longhorn BackupVolume.
    pub fn backup_volumes(&self) -> &Named<BackupVolume> {
        &self.lh_backup_volumes
    }

    /// The BackupVolumes whose volume is `volume` (matched on
    /// `spec.volumeName`, never on the CR name).
    pub fn backup_volumes_of(&self, volume: &str) -> impl Iterator<Item = &BackupVolume> {
        self.index
            .backup_volumes_by_volume
            .find(volume, |i| self.backup_volume_volume(i))
            .iter()
            .map(|i| self.lh_backup_volumes.at(*i))
    }

    /// Every Longhorn BackupTarget.
    pub fn backup_targets(&self) -> &Named<BackupTarget> {
        &self.lh_backup_targets
    }

    /// One Longhorn Volume.
    pub fn longhorn_volume(&self, name: &str) -> Option<&Volume> {
        self.lh_volumes.get(name)
    }

    /// The Engines of the Longhorn volume `volume`.
    pub fn engines_of(&self, volume: &str) -> impl Iterator<Item = &Engine> {
        self.index
            .engines_by_volume
            .find(volume, |i| self.engine_volume(i))
            .iter()
            .map(|i| self.lh_engines.at(*i))
    }

    // ---- KubeVirt and core ----

    /// Every VirtualMachine.
    pub fn vms(&self) -> &Namespaced<VirtualMachine> {
        &self.vms
    }

    /// One VirtualMachine.
    pub fn vm(&self, namespace: &str, name: &str) -> Option<&VirtualMachine> {
        self.vms.get(namespace, name)
    }

    /// Every PVC.
    pub fn pvcs(&self) -> &Namespaced<Lossless<PersistentVolumeClaim>> {
        &self.pvcs
    }

    /// One PVC.
    pub fn pvc(&self, namespace: &str, name: &str) -> Option<&PersistentVolumeClaim> {
        self.pvcs.get(namespace, name).map(|p| &p.object)
    }

    /// The PVCs bound to the PersistentVolume `pv`.
    pub fn pvcs_bound_to(&self, pv: &str) -> impl Iterator<Item = &PersistentVolumeClaim> {
        self.index
            .pvcs_by_volume
            .find(pv, |i| self.pvc_volume(i))
            .iter()
            .map(|i| &self.pvcs.at(*i).object)
    }

    /// The PVCs named `name`, in any namespace, with their
    /// `(namespace, name)`.
    pub fn pvcs_named(
        &self,
        name: &str,
    ) -> impl Iterator<Item = ((&str, &str), &PersistentVolumeClaim)> {
        self.index
            .pvcs_by_name
            .find(name, |i| self.pvc_name(i))
            .iter()
            .map(|i| {
                let pvc = self.pvcs.at(*i);
                ((ns_of(pvc.meta()), name_of(pvc.meta())), &pvc.object)
            })
    }

    /// The VirtualMachines with a PVC volume claiming `claim`, with their
    /// `(namespace, name)`.
    pub fn vms_claiming(
        &self,
        claim: &str,
    ) -> impl Iterator<Item = ((&str, &str), &VirtualMachine)> {
        self.index
            .vms_by_claim
            .find(claim, |e| self.vm_claim(e))
            .iter()
            .map(|(vm, _)| {
                let vm = self.vms.at(*vm);
                ((ns_of(&vm.metadata), name_of(&vm.metadata)), vm)
            })
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
        self.secrets.get(namespace, name).map(|p| &p.object)
    }

    /// Every Secret.
    pub fn secrets(&self) -> &Namespaced<Lossless<Secret>> {
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
    fn later_objects_replace_earlier_ones() {
        let a = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "labels": {"a": "1"}}});
        let b = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "x", "labels": {"a": "2"}}});
        let view = View::from_objects([obj(a), obj(b)]);
        let ns = view.namespace("x").unwrap();
        assert_eq!(ns.metadata.labels.as_ref().unwrap()["a"], "2");
    }
}

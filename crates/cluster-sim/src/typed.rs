//! Typed access to the objects of the store: every API type the engine
//! knows, with its [`Kind`], and short names for the core types kept
//! losslessly.

use vmbackup_api::core::{
    Lossless, Namespace as CoreNamespace, PersistentVolume, PersistentVolumeClaim,
    Secret as CoreSecret, StorageClass as CoreStorageClass,
};
use vmbackup_api::harvester::Setting;
use vmbackup_api::kubevirt::VirtualMachine;
use vmbackup_api::longhorn::{Backup, BackupTarget, BackupVolume, Engine, Volume};
use vmbackup_api::{
    VirtualMachineBackup, VirtualMachineRestore, VolumeSnapshot, VolumeSnapshotClass,
    VolumeSnapshotContent,
};
use vmbackup_engine::{Kind, Object};

/// A PersistentVolumeClaim as stored.
pub type Pvc = Lossless<PersistentVolumeClaim>;
/// A PersistentVolume as stored.
pub type Pv = Lossless<PersistentVolume>;
/// A Namespace as stored.
pub type Namespace = Lossless<CoreNamespace>;
/// A StorageClass as stored.
pub type StorageClass = Lossless<CoreStorageClass>;
/// A Secret as stored.
pub type Secret = Lossless<CoreSecret>;

/// An API type the store holds.
pub trait Typed: Clone + Sized + 'static {
    /// Its kind.
    const KIND: Kind;
    /// The typed object, if `object` is of this type.
    fn from_object(object: &Object) -> Option<&Self>;
    /// Wraps the typed object.
    fn into_object(self) -> Object;
}

macro_rules! typed {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        $(impl Typed for $ty {
            const KIND: Kind = Kind::$variant;
            fn from_object(object: &Object) -> Option<&Self> {
                match object {
                    Object::$variant(o) => Some(o),
                    _ => None,
                }
            }
            fn into_object(self) -> Object {
                Object::$variant(Box::new(self))
            }
        })*
    };
}

typed!(
    VirtualMachineBackup(VirtualMachineBackup),
    VirtualMachineRestore(VirtualMachineRestore),
    Setting(Setting),
    VolumeSnapshot(VolumeSnapshot),
    VolumeSnapshotContent(VolumeSnapshotContent),
    VolumeSnapshotClass(VolumeSnapshotClass),
    LonghornBackup(Backup),
    LonghornBackupVolume(BackupVolume),
    LonghornBackupTarget(BackupTarget),
    LonghornVolume(Volume),
    LonghornEngine(Engine),
    VirtualMachine(VirtualMachine),
    PersistentVolumeClaim(Pvc),
    PersistentVolume(Pv),
    StorageClass(StorageClass),
    Namespace(Namespace),
    Secret(Secret),
);

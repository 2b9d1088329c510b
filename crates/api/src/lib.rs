//! Typed objects that vmbackup reads and writes, and the Longhorn CSI
//! snapshot-handle codec.
//!
//! * [`harvester`]: `harvesterhci.io/v1beta1` VirtualMachineBackup,
//!   VirtualMachineRestore (our two CRDs, Harvester's schema) and Setting;
//! * [`snapshot`]: `snapshot.storage.k8s.io/v1` VolumeSnapshot,
//!   VolumeSnapshotContent, VolumeSnapshotClass;
//! * [`longhorn`]: `longhorn.io/v1beta2` Backup, BackupVolume, BackupTarget,
//!   Volume, Engine;
//! * [`kubevirt`]: `kubevirt.io/v1` VirtualMachine;
//! * [`core`]: k8s-openapi core types and the PVC spec Harvester embeds;
//! * [`crds`]: our CustomResourceDefinitions, generated from these types;
//! * [`document`]: reading objects of any of these kinds from YAML or JSON.
//!
//! Every type keeps what it does not model (see [`Extra`]): parsing an
//! object and serialising it again gives back an equal JSON value.

pub mod core;
pub mod crds;
pub mod document;
pub mod extra;
pub mod handle;
pub mod harvester;
pub mod kubevirt;
pub mod longhorn;
pub mod meta;
pub mod object;
pub mod schema;
pub mod snapshot;
pub mod string_map;
pub mod wellknown;

pub use extra::Extra;
pub use harvester::{
    BackupType, VirtualMachineBackup, VirtualMachineBackupSpec, VirtualMachineBackupStatus,
    VirtualMachineRestore, VirtualMachineRestoreSpec, VirtualMachineRestoreStatus, VolumeBackup,
    VolumeRestore,
};
pub use object::TypeInfo;
pub use snapshot::{VolumeSnapshot, VolumeSnapshotClass, VolumeSnapshotContent};
pub use string_map::StringMap;

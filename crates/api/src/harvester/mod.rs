//! `harvesterhci.io/v1beta1` objects: VM backups and restores (the two CRDs
//! vmbackup serves, with Harvester's schema) and the `backup-target` setting.

mod backup;
mod condition;
mod restore;
mod setting;

pub use backup::{
    BackupTargetRef, BackupType, PersistentVolumeClaimSourceSpec, SecretBackup,
    VirtualMachineBackup, VirtualMachineBackupSpec, VirtualMachineBackupStatus,
    VirtualMachineSourceSpec, VolumeBackup,
};
pub use condition::Condition;
pub use restore::{
    VirtualMachineRestore, VirtualMachineRestoreSpec, VirtualMachineRestoreStatus, VolumeRestore,
};
pub use setting::{BackupTargetSetting, BackupTargetType, Setting, SettingError, SettingStatus};

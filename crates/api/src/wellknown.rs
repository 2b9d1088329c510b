//! Well-known names: API groups, versions, kinds, drivers, annotations,
//! labels, finalizers and settings used by Harvester, Longhorn, KubeVirt and
//! the CSI snapshot API.

// API groups and versions.

/// Harvester's API group.
pub const HARVESTER_GROUP: &str = "harvesterhci.io";
/// Harvester's API version.
pub const HARVESTER_VERSION: &str = "v1beta1";
/// `harvesterhci.io/v1beta1`.
pub const HARVESTER_API_VERSION: &str = "harvesterhci.io/v1beta1";
/// The CSI snapshot API group.
pub const SNAPSHOT_GROUP: &str = "snapshot.storage.k8s.io";
/// The CSI snapshot API version written.
pub const SNAPSHOT_VERSION: &str = "v1";
/// `snapshot.storage.k8s.io/v1`.
pub const SNAPSHOT_API_VERSION: &str = "snapshot.storage.k8s.io/v1";
/// Longhorn's API group.
pub const LONGHORN_GROUP: &str = "longhorn.io";
/// Longhorn's API version.
pub const LONGHORN_VERSION: &str = "v1beta2";
/// `longhorn.io/v1beta2`.
pub const LONGHORN_API_VERSION: &str = "longhorn.io/v1beta2";
/// KubeVirt's API group.
pub const KUBEVIRT_GROUP: &str = "kubevirt.io";
/// KubeVirt's API version.
pub const KUBEVIRT_VERSION: &str = "v1";
/// `kubevirt.io/v1`.
pub const KUBEVIRT_API_VERSION: &str = "kubevirt.io/v1";

// Kinds.

/// Harvester VM backup (and VM snapshot) kind.
pub const KIND_VIRTUAL_MACHINE_BACKUP: &str = "VirtualMachineBackup";
/// Harvester VM restore kind.
pub const KIND_VIRTUAL_MACHINE_RESTORE: &str = "VirtualMachineRestore";
/// Harvester setting kind.
pub const KIND_SETTING: &str = "Setting";
/// KubeVirt virtual machine kind.
pub const KIND_VIRTUAL_MACHINE: &str = "VirtualMachine";
/// CSI VolumeSnapshot kind.
pub const KIND_VOLUME_SNAPSHOT: &str = "VolumeSnapshot";
/// CSI VolumeSnapshotContent kind.
pub const KIND_VOLUME_SNAPSHOT_CONTENT: &str = "VolumeSnapshotContent";
/// CSI VolumeSnapshotClass kind.
pub const KIND_VOLUME_SNAPSHOT_CLASS: &str = "VolumeSnapshotClass";
/// Longhorn backup kind.
pub const KIND_LONGHORN_BACKUP: &str = "Backup";
/// Longhorn backup volume kind.
pub const KIND_LONGHORN_BACKUP_VOLUME: &str = "BackupVolume";
/// Longhorn backup target kind.
pub const KIND_LONGHORN_BACKUP_TARGET: &str = "BackupTarget";
/// Longhorn volume kind.
pub const KIND_LONGHORN_VOLUME: &str = "Volume";
/// Longhorn engine kind.
pub const KIND_LONGHORN_ENGINE: &str = "Engine";
/// Core PersistentVolumeClaim kind.
pub const KIND_PERSISTENT_VOLUME_CLAIM: &str = "PersistentVolumeClaim";

// Drivers, namespaces and fixed object names.

/// The Longhorn CSI driver name.
pub const LONGHORN_CSI_DRIVER: &str = "driver.longhorn.io";
/// Namespace of Longhorn's own objects.
pub const LONGHORN_NAMESPACE: &str = "longhorn-system";
/// Name of Longhorn's default BackupTarget.
pub const LONGHORN_DEFAULT_BACKUP_TARGET: &str = "default";
/// Secret Harvester writes the S3 credentials of the backup target into (in `longhorn-system`).
pub const HARVESTER_BACKUP_TARGET_SECRET: &str = "harvester-backup-target-secret";
/// Harvester setting holding the backup target.
pub const SETTING_BACKUP_TARGET: &str = "backup-target";
/// Harvester setting mapping CSI drivers to VolumeSnapshotClasses.
pub const SETTING_CSI_DRIVER_CONFIG: &str = "csi-driver-config";
/// Harvester setting naming the VolumeSnapshotClass for cross-namespace restores.
pub const SETTING_VOLUME_SNAPSHOT_CLASS: &str = "volume-snapshot-class";
/// Harvester's VolumeSnapshotClass for backups (snapshot plus backup to the target).
pub const VSCLASS_LONGHORN_BACKUP: &str = "longhorn";
/// Harvester's VolumeSnapshotClass for in-cluster VM snapshots.
pub const VSCLASS_LONGHORN_SNAPSHOT: &str = "longhorn-snapshot";

// Finalizers.

/// Finalizer of Harvester's VM backup controller.
pub const FINALIZER_VM_BACKUP_CONTROLLER: &str =
    "wrangler.cattle.io/harvester-vm-backup-controller";
/// Finalizer of Harvester's VM restore controller.
pub const FINALIZER_VM_RESTORE_CONTROLLER: &str =
    "wrangler.cattle.io/harvester-vm-restore-controller";
/// Finalizer Longhorn puts on its objects.
pub const FINALIZER_LONGHORN: &str = "longhorn.io";

// Condition types.

/// Condition `Ready`.
pub const CONDITION_READY: &str = "Ready";
/// Condition `InProgress`.
pub const CONDITION_IN_PROGRESS: &str = "InProgress";
/// Condition `MetadataReady` (VM backups).
pub const CONDITION_METADATA_READY: &str = "MetadataReady";
/// Longhorn volume condition `Restore`.
pub const LONGHORN_CONDITION_RESTORE: &str = "Restore";
/// Reason of a failed Longhorn restore.
pub const LONGHORN_REASON_RESTORE_FAILURE: &str = "RestoreFailure";
/// Reason of a Longhorn restore in progress.
pub const LONGHORN_REASON_RESTORE_IN_PROGRESS: &str = "RestoreInProgress";

// Annotations Harvester writes.

/// On a VM backup: whether the guest filesystem freeze was attempted (`"true"`/`"false"`).
pub const ANNOTATION_SNAPSHOT_FREEZE_FS: &str = "harvesterhci.io/snapshotFreezeFS";
/// On a VM backup: a volume backup was renamed to repair a bad VolumeSnapshotContent.
pub const ANNOTATION_SNAP_REVISE: &str = "harvesterhci.io/snapRevise";
/// On a VM backup: the `<namespace>/<name>` of the ScheduleVMBackup that made it.
pub const ANNOTATION_SCHEDULE_VM_BACKUP_ID: &str = "harvesterhci.io/svmbackupId";
/// Legacy (v0.3) VM backup annotation: target endpoint.
pub const ANNOTATION_LEGACY_BACKUP_TARGET: &str = "backup.harvesterhci.io/backup-target";
/// Legacy (v0.3) VM backup annotation: bucket name.
pub const ANNOTATION_LEGACY_BUCKET_NAME: &str = "backup.harvesterhci.io/bucket-name";
/// Legacy (v0.3) VM backup annotation: bucket region.
pub const ANNOTATION_LEGACY_BUCKET_REGION: &str = "backup.harvesterhci.io/bucket-region";
/// On a backup VolumeSnapshot: the source PVC's StorageClass.
pub const ANNOTATION_STORAGE_CLASS_NAME: &str = "harvesterhci.io/storageClassName";
/// On a PVC, VolumeSnapshot or BackingImage: the `<namespace>/<name>` of the VM image.
pub const ANNOTATION_IMAGE_ID: &str = "harvesterhci.io/imageId";
/// On a backup VolumeSnapshot: the source PVC's provisioner.
pub const ANNOTATION_STORAGE_PROVISIONER: &str = "harvesterhci.io/storageProvisioner";
/// On a VM: JSON list of the PVC templates of its disks.
pub const ANNOTATION_VOLUME_CLAIM_TEMPLATES: &str = "harvesterhci.io/volumeClaimTemplates";
/// On a VM: reserved memory.
pub const ANNOTATION_RESERVED_MEMORY: &str = "harvesterhci.io/reservedMemory";
/// On a VM: CPU and memory hot-plug switch.
pub const ANNOTATION_ENABLE_CPU_MEMORY_HOTPLUG: &str = "harvesterhci.io/enableCPUAndMemoryHotplug";
/// On a VM template: JSON `{secretName: [keyNames]}` of dynamic SSH keys.
pub const ANNOTATION_DYNAMIC_SSH_KEY_NAMES: &str = "harvesterhci.io/dynamic-ssh-key-names";
/// On a restored VM: `<restore name>-<restore uid>` of the last restore applied.
pub const ANNOTATION_LAST_RESTORE_UID: &str = "restore.harvesterhci.io/last-restore-uid";
/// On a restored VM, PVC or Longhorn volume: the VirtualMachineRestore name.
pub const ANNOTATION_RESTORE_NAME: &str = "restore.harvesterhci.io/name";
/// On the Longhorn volume of a restored PVC: the PVC namespace.
pub const ANNOTATION_PVC_NAMESPACE: &str = "pvc.harvesterhci.io/namespace";
/// On the Longhorn volume of a restored PVC: the PVC name.
pub const ANNOTATION_PVC_NAME: &str = "pvc.harvesterhci.io/name";
/// On the `backup-target` setting: SHA-224 of the value last synced.
pub const ANNOTATION_SETTING_HASH: &str = "harvesterhci.io/hash";
/// On the `backup-target` setting: time of the last successful sync.
pub const ANNOTATION_SETTING_LAST_REFRESH_TIME: &str = "harvesterhci.io/lastRefreshTime";

// Labels.

/// On a VM template: who created it (`harvester`).
pub const LABEL_CREATOR: &str = "harvesterhci.io/creator";
/// On a VM template: the VM name.
pub const LABEL_VM_NAME: &str = "harvesterhci.io/vmName";
/// On a VM image: its display name.
pub const LABEL_IMAGE_DISPLAY_NAME: &str = "harvesterhci.io/imageDisplayName";
/// On Longhorn Backup and BackupVolume objects: the Longhorn volume name (no prefix).
pub const LABEL_LONGHORN_BACKUP_VOLUME: &str = "backup-volume";
/// On Longhorn Backup and BackupVolume objects: the BackupTarget name (no prefix).
pub const LABEL_LONGHORN_BACKUP_TARGET: &str = "backup-target";
/// On Longhorn objects whose deletion must not delete data on the target.
pub const LABEL_LONGHORN_DELETE_CR_ONLY: &str = "longhorn.io/delete-custom-resource-only";
/// On engines, replicas and snapshots of a live Longhorn volume: the volume name.
pub const LABEL_LONGHORN_VOLUME: &str = "longhornvolume";

// Values.

/// VolumeSnapshotClass parameter selecting the Longhorn snapshot type.
pub const VSCLASS_PARAMETER_TYPE: &str = "type";
/// `VolumeSnapshotContent.spec.deletionPolicy` `Delete`.
pub const DELETION_POLICY_DELETE: &str = "Delete";
/// `VolumeSnapshotContent.spec.deletionPolicy` `Retain`.
pub const DELETION_POLICY_RETAIN: &str = "Retain";

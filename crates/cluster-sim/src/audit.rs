//! Questions asked of a cluster to check it is sound: which contents a
//! restore would work from, and which Longhorn backups exist.

use std::collections::BTreeMap;

use vmbackup_api::VolumeSnapshotContent;
use vmbackup_api::handle::longhorn as reading;
use vmbackup_api::longhorn::Backup;

use crate::cluster::Cluster;
use crate::longhorn;

/// A Longhorn backup: (volume, backup name).
pub type BackupId = (String, String);

impl Cluster {
    /// Contents a restore would work from with this cluster's Longhorn
    /// (the driver resolves the handle), not being deleted, grouped by
    /// (backup name, namespace of the VolumeSnapshot they are bound to).
    pub fn working_contents(&self) -> BTreeMap<(String, String), Vec<String>> {
        let mut out: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for c in self.store().list::<VolumeSnapshotContent>() {
            if c.metadata.deletion_timestamp.is_some() || !c.is_longhorn() {
                continue;
            }
            let Some(handle) = c.snapshot_handle() else {
                continue;
            };
            if self
                .longhorn()
                .resolve_backup_handle(self.store(), handle)
                .is_err()
            {
                continue;
            }
            let backup = reading::read(handle).id.to_owned();
            let ns = c
                .spec
                .volume_snapshot_ref
                .namespace
                .clone()
                .unwrap_or_default();
            out.entry((backup, ns))
                .or_default()
                .push(c.metadata.name.clone().unwrap_or_default());
        }
        out
    }

    /// Longhorn Backup objects that exist and are not being deleted, as
    /// (volume, backup).
    pub fn longhorn_backup_ids(&self) -> Vec<BackupId> {
        self.store()
            .list::<Backup>()
            .filter(|b| {
                b.metadata.deletion_timestamp.is_none()
                    && b.metadata.namespace.as_deref() == Some(longhorn::NAMESPACE)
            })
            .filter_map(|b| Some((b.volume_name()?.to_owned(), b.metadata.name.clone()?)))
            .collect()
    }
}

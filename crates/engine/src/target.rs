//! What the backup target holds, as plain data read by a shell: Longhorn
//! backup volumes and their backups, Harvester's VM backup metadata files,
//! and whether the target could be read at all.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::metadata::VmBackupMetadata;

/// Facts about the backup target, read by a shell before planning.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TargetFacts {
    /// The target the facts were read from, as the backup-target setting
    /// addresses it (`nfs://host:/export`, `s3://bucket@region/`). Facts for
    /// a different target than the one configured are ignored.
    pub url: String,
    /// What reading it gave.
    pub state: TargetState,
}

/// The outcome of reading the target.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum TargetState {
    /// The shell did not read the target for this plan.
    NotRead,
    /// The target could not be reached or listed.
    Unavailable {
        /// Why, as the shell saw it.
        reason: String,
    },
    /// The target was listed.
    Listed(TargetListing),
}

/// A listing of the target.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct TargetListing {
    /// `false` when any part of the listing failed (a directory that could
    /// not be listed, a timeout): absent entries then prove nothing.
    pub complete: bool,
    /// Backup volumes by Longhorn volume name.
    pub volumes: BTreeMap<String, TargetVolume>,
    /// Harvester VM backup metadata files that decoded, by (namespace, name).
    pub vm_backups: BTreeMap<(String, String), VmBackupMetadata>,
    /// Metadata files that could not be read or decoded.
    pub unreadable: Vec<UnreadableFile>,
}

/// One backup volume on the target.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TargetVolume {
    /// Backups by name.
    pub backups: BTreeMap<String, TargetBackup>,
}

/// One backup on the target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TargetBackup {
    /// `true` when the backup's config is complete (it has a creation time);
    /// an in-progress backup must never be restored from.
    pub complete: bool,
}

/// A file on the target that could not be used.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct UnreadableFile {
    /// Path from the target root.
    pub path: String,
    /// Why (the reader's error, naming the field where it can).
    pub reason: String,
}

impl TargetFacts {
    /// Facts that say nothing (the target was not read).
    pub fn not_read(url: impl Into<String>) -> Self {
        TargetFacts {
            url: url.into(),
            state: TargetState::NotRead,
        }
    }

    /// The listing, if the target was listed.
    pub fn listing(&self) -> Option<&TargetListing> {
        match &self.state {
            TargetState::Listed(listing) => Some(listing),
            _ => None,
        }
    }
}

impl TargetListing {
    /// Whether the target holds a complete backup `backup` of `volume`.
    pub fn has_complete_backup(&self, volume: &str, backup: &str) -> bool {
        self.volumes
            .get(volume)
            .and_then(|v| v.backups.get(backup))
            .is_some_and(|b| b.complete)
    }

    /// The volume that holds a backup named `backup`, searching every volume
    /// (backup names are unique per target in practice).
    pub fn volume_of_backup(&self, backup: &str) -> Option<&str> {
        self.volumes
            .iter()
            .find(|(_, v)| v.backups.contains_key(backup))
            .map(|(name, _)| name.as_str())
    }

    /// Whether the listing holds nothing at all.
    pub fn is_empty(&self) -> bool {
        self.volumes.is_empty() && self.vm_backups.is_empty() && self.unreadable.is_empty()
    }
}

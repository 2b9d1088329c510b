//! The backup target: a directory standing for an NFS export, shared by
//! every simulated cluster that is configured with it, read and written only
//! through the `backupstore` crate (the same code `vmbackup target` uses).
//! It can be disconnected and reconnected: while disconnected every
//! operation fails as an unreachable NFS server would.

use std::collections::BTreeMap;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use vmbackup_backupstore::{
    self as backupstore, BackupSummary, DeleteSummary, ExportOptions, ExportSummary, ImportOptions,
    ImportSummary, NoProgress, Target, TargetOptions, VolumeConfig,
};
use vmbackup_engine::metadata::VmBackupMetadata;
use vmbackup_engine::target::{
    TargetBackup, TargetFacts, TargetListing, TargetState, TargetVolume, UnreadableFile,
};

/// The NFS server name the simulated target is addressed by.
pub const NFS_SERVER: &str = "sim-nfs";
/// The export path on that server.
pub const NFS_EXPORT: &str = "/backups";

/// Why an operation on the target failed.
#[derive(Debug, thiserror::Error)]
pub enum TargetError {
    /// The target is disconnected.
    #[error(
        "cannot reach backup target {url}: connection timed out (the NFS server does not answer)"
    )]
    Unavailable {
        /// The target URL.
        url: String,
    },
    /// The backupstore library refused or failed.
    #[error(transparent)]
    Store(#[from] backupstore::Error),
    /// A file path the simulated target does not write.
    #[error("{path}: {reason}")]
    Path {
        /// The path as given.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The local runtime could not be started.
    #[error("cannot start the I/O runtime for the backup target: {0}")]
    Runtime(String),
}

/// The shared backup target.
#[derive(Debug)]
pub struct TargetServer {
    url: String,
    dir: PathBuf,
    target: Target,
    runtime: tokio::runtime::Runtime,
    available: AtomicBool,
}

impl TargetServer {
    /// A target stored in `dir` (created if missing), addressed as
    /// `nfs://sim-nfs:/backups`.
    pub fn new(dir: &Path) -> Result<Self, TargetError> {
        std::fs::create_dir_all(dir).map_err(|e| TargetError::Path {
            path: dir.display().to_string(),
            reason: e.to_string(),
        })?;
        let url = format!("nfs://{NFS_SERVER}:{NFS_EXPORT}");
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| TargetError::Runtime(e.to_string()))?;
        let options = TargetOptions {
            mount_point: Some(dir.to_owned()),
            ..TargetOptions::default()
        };
        // One process holds every lock here: no competitor can appear during
        // the settle time Longhorn waits for.
        let target = runtime
            .block_on(Target::open(&url, &options))?
            .with_lock_settle(Duration::ZERO);
        Ok(TargetServer {
            url,
            dir: dir.to_owned(),
            target,
            runtime,
            available: AtomicBool::new(true),
        })
    }

    /// A copy of this target in `dir`, with the same URL and availability
    /// (to explore several futures from one state).
    pub fn fork(&self, dir: &Path) -> Result<Self, crate::error::SimError> {
        crate::fsutil::copy_tree(&self.dir, dir)?;
        let copy = TargetServer::new(dir)?;
        copy.set_available(self.is_available());
        Ok(copy)
    }

    /// The target URL (`nfs://sim-nfs:/backups`).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The directory holding the export.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The backupstore handle, for reading the target with no cluster.
    pub fn store(&self) -> &Target {
        &self.target
    }

    /// Connects or disconnects the target.
    pub fn set_available(&self, available: bool) {
        self.available.store(available, Ordering::SeqCst);
    }

    /// Whether the target answers.
    pub fn is_available(&self) -> bool {
        self.available.load(Ordering::SeqCst)
    }

    fn unavailable(&self) -> TargetError {
        TargetError::Unavailable {
            url: self.url.clone(),
        }
    }

    /// Runs one backupstore operation to completion.
    pub fn run<T>(
        &self,
        op: impl Future<Output = backupstore::Result<T>>,
    ) -> Result<T, TargetError> {
        if !self.is_available() {
            return Err(self.unavailable());
        }
        Ok(self.runtime.block_on(op)?)
    }

    /// Backs up the raw image `image` as backup `backup` of `volume`.
    pub fn backup(
        &self,
        volume: &str,
        backup: &str,
        image: &Path,
        snapshot: &str,
        labels: BTreeMap<String, String>,
    ) -> Result<ImportSummary, TargetError> {
        let options = ImportOptions {
            backup_name: Some(backup.to_owned()),
            snapshot_name: Some(snapshot.to_owned()),
            labels,
            ..ImportOptions::default()
        };
        self.run(self.target.import_raw(volume, image, &options, &NoProgress))
    }

    /// Restores backup `backup` of `volume` into the file `dest`.
    pub fn restore(
        &self,
        volume: &str,
        backup: &str,
        dest: &Path,
    ) -> Result<ExportSummary, TargetError> {
        let options = ExportOptions {
            overwrite: true,
            ..ExportOptions::default()
        };
        self.run(
            self.target
                .export_raw(volume, backup, dest, &options, &NoProgress),
        )
    }

    /// Deletes a backup and the blocks only it used.
    pub fn delete_backup(&self, volume: &str, backup: &str) -> Result<DeleteSummary, TargetError> {
        self.run(self.target.delete_backup(volume, backup))
    }

    /// The backup volumes on the target.
    pub fn volumes(&self) -> Result<Vec<String>, TargetError> {
        Ok(self.run(self.target.list_volumes())?.volumes)
    }

    /// The backups of one volume with their configs.
    pub fn backups(&self, volume: &str) -> Result<Vec<BackupSummary>, TargetError> {
        self.run(self.target.backup_summaries(volume))
    }

    /// The config of one volume.
    pub fn volume_config(&self, volume: &str) -> Result<VolumeConfig, TargetError> {
        self.run(self.target.volume_config(volume))
    }

    /// Whether backup `backup` of `volume` is on the target and complete.
    pub fn has_backup(&self, volume: &str, backup: &str) -> Result<bool, TargetError> {
        match self.run(self.target.backup_config(volume, backup)) {
            Ok(c) => Ok(c.is_complete()),
            Err(TargetError::Store(e)) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// Writes a file the engine asked for. Only Harvester's VM backup
    /// metadata files are written, and only at the path their content
    /// belongs at.
    pub fn write_file(&self, path: &str, contents: &str) -> Result<(), TargetError> {
        let metadata = backupstore::VmBackupMetadata::from_json(contents.as_bytes(), path)?;
        let expected =
            backupstore::layout::vm_backup_metadata(&metadata.namespace, &metadata.name)?;
        if expected != path {
            return Err(TargetError::Path {
                path: path.to_owned(),
                reason: format!(
                    "the content describes {}/{}, which belongs at {expected}",
                    metadata.namespace, metadata.name
                ),
            });
        }
        self.run(self.target.write_vm_backup_metadata(&metadata))?;
        Ok(())
    }

    /// Deletes a VM backup metadata file the engine asked to delete.
    pub fn delete_file(&self, path: &str) -> Result<(), TargetError> {
        let bad = |reason: &str| TargetError::Path {
            path: path.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = path
            .strip_prefix(backupstore::layout::HARVESTER_VMBACKUPS_DIR)
            .and_then(|r| r.strip_prefix('/'))
            .ok_or_else(|| bad("only VM backup metadata files are deleted"))?;
        let (ns, file) = rest
            .split_once('/')
            .ok_or_else(|| bad("expected harvester/vmbackups/<namespace>/<name>.cfg"))?;
        let name = file
            .strip_suffix(".cfg")
            .ok_or_else(|| bad("expected a .cfg file"))?;
        self.run(self.target.delete_vm_backup_metadata(ns, name))
    }

    /// What the target holds, as the engine reads it: every backup volume
    /// with its backups (complete or not), and every VM backup metadata
    /// file, decoded or with the reason it could not be.
    pub fn facts(&self) -> TargetFacts {
        let state = match self.listing() {
            Ok(listing) => TargetState::Listed(listing),
            Err(e) => TargetState::Unavailable {
                reason: e.to_string(),
            },
        };
        TargetFacts {
            url: self.url.clone(),
            state,
        }
    }

    fn listing(&self) -> Result<TargetListing, TargetError> {
        let mut listing = TargetListing {
            complete: true,
            ..TargetListing::default()
        };
        for volume in self.volumes()? {
            let mut v = TargetVolume::default();
            for b in self.backups(&volume)? {
                let complete = b.config.as_ref().is_ok_and(|c| c.is_complete());
                v.backups.insert(b.name, TargetBackup { complete });
            }
            listing.volumes.insert(volume, v);
        }
        for file in self.run(self.target.list_vm_backup_metadata())?.files {
            let decoded = file.content.map_err(|e| e.to_string()).and_then(|m| {
                serde_json::to_value(&m)
                    .and_then(serde_json::from_value::<VmBackupMetadata>)
                    .map_err(|e| e.to_string())
            });
            match decoded {
                Ok(doc) => {
                    let key = (doc.namespace_or_default().to_owned(), doc.name.clone());
                    listing.vm_backups.insert(key, doc);
                }
                Err(reason) => listing.unreadable.push(UnreadableFile {
                    path: file.path,
                    reason,
                }),
            }
        }
        Ok(listing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn server() -> (tempfile::TempDir, TargetServer) {
        let dir = tempfile::tempdir().unwrap();
        let s = TargetServer::new(&dir.path().join("export")).unwrap();
        (dir, s)
    }

    #[test]
    fn facts_list_backups_and_metadata_and_say_when_the_target_is_down() {
        let (dir, s) = server();
        let image = dir.path().join("disk.img");
        let mut data = vec![0u8; 4 << 20];
        data[..5].copy_from_slice(b"hello");
        std::fs::write(&image, &data).unwrap();
        s.backup("pvc-1", "backup-1", &image, "snap-1", BTreeMap::new())
            .unwrap();
        s.write_file(
            "harvester/vmbackups/default/b1.cfg",
            r#"{"name":"b1","namespace":"default","backupSpec":{"source":{"apiGroup":"kubevirt.io","kind":"VirtualMachine","name":"vm1"},"type":"backup"},"volumeBackups":[],"secretBackups":[]}"#,
        )
        .unwrap();
        let facts = s.facts();
        assert_eq!(facts.url, "nfs://sim-nfs:/backups");
        let listing = facts.listing().unwrap();
        assert!(listing.complete);
        assert!(listing.has_complete_backup("pvc-1", "backup-1"));
        assert!(
            listing
                .vm_backups
                .contains_key(&("default".to_owned(), "b1".to_owned()))
        );

        s.set_available(false);
        assert!(matches!(s.facts().state, TargetState::Unavailable { .. }));
        assert!(matches!(
            s.has_backup("pvc-1", "backup-1"),
            Err(TargetError::Unavailable { .. })
        ));
        s.set_available(true);
        s.delete_file("harvester/vmbackups/default/b1.cfg").unwrap();
        assert!(s.facts().listing().unwrap().vm_backups.is_empty());
    }

    #[test]
    fn files_go_only_where_their_content_belongs() {
        let (_dir, s) = server();
        let doc = r#"{"name":"b1","namespace":"default"}"#;
        let e = s
            .write_file("harvester/vmbackups/other/b1.cfg", doc)
            .unwrap_err();
        assert!(e.to_string().contains("belongs at"), "{e}");
        assert!(
            s.write_file("harvester/vmbackups/default/b1.cfg", "{")
                .is_err()
        );
        assert!(s.delete_file("backupstore/volumes/x").is_err());
    }
}

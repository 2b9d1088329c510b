//! Listing volumes and backups and loading their configs.

use crate::block::Compression;
use crate::config::{BackupConfig, MAX_BACKUP_CFG_SIZE, MAX_VOLUME_CFG_SIZE, VolumeConfig};
use crate::error::{Error, Result};
use crate::layout;
use crate::name::is_valid_name;
use crate::target::{Listing, Target, printable};
use futures::StreamExt;

/// Listing requests kept in flight while walking the volume tree.
const LIST_CONCURRENCY: usize = 16;

/// Something a listing found but did not use, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ignored {
    /// Path relative to the target root.
    pub path: String,
    /// Why it was skipped.
    pub reason: String,
}

/// Result of [`Target::list_volumes`].
#[derive(Debug, Clone, Default)]
pub struct VolumeList {
    /// Volume names, sorted.
    pub volumes: Vec<String>,
    /// Entries that are not volumes (bad names, misplaced directories).
    pub ignored: Vec<Ignored>,
    /// Directories of the volume tree that could not be listed (one this
    /// process may not read, say), with the reason. When any is here, the
    /// listing is partial: a volume missing from it may still be on the
    /// target. (An entry whose name no target path can hold is only
    /// `ignored`: it cannot be a volume, and hides nothing.)
    pub unlisted: Vec<Ignored>,
}

/// Result of [`Target::list_backups`].
#[derive(Debug, Clone, Default)]
pub struct BackupList {
    /// Backup names, sorted.
    pub backups: Vec<String>,
    /// Files in `backups/` that are not usable backup configs.
    pub ignored: Vec<Ignored>,
}

/// The state of one backup as read from its config.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BackupState {
    /// Has a completion time.
    Complete,
    /// No completion time yet: being written, or abandoned.
    InProgress,
}

/// What [`Target::backup_summaries`] reports per backup.
#[derive(Debug)]
pub struct BackupSummary {
    /// Backup name.
    pub name: String,
    /// The config, or why it could not be loaded.
    pub config: Result<BackupConfig>,
}

impl BackupSummary {
    /// State of the backup, when its config loaded.
    pub fn state(&self) -> Option<BackupState> {
        self.config.as_ref().ok().map(|c| {
            if c.is_complete() {
                BackupState::Complete
            } else {
                BackupState::InProgress
            }
        })
    }
}

/// A directory that could not be listed, with the reason: control
/// characters in it are written as `\u{..}` escapes, so that a hostile file
/// name cannot reach a terminal as it is.
pub(crate) fn unlisted(path: String, error: &Error) -> Ignored {
    Ignored {
        reason: format!("cannot be listed: {}", printable(&error.to_string())),
        path,
    }
}

/// The entries of `listing`, a listing of `dir`, that no object key can
/// name. None of them can be a volume, a backup or a metadata file (their
/// names are plain ASCII), so they hide nothing: they are only reported.
pub(crate) fn unusable_entries<'a>(
    dir: &'a str,
    listing: &'a Listing,
) -> impl Iterator<Item = Ignored> + 'a {
    listing.unusable.iter().map(move |u| Ignored {
        path: format!("{dir}/{}", u.name),
        reason: u.reason.clone(),
    })
}

fn is_hash_dir(name: &str) -> bool {
    name.len() == 2 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

impl Target {
    /// Lists `dirs`; a directory that cannot be listed is put in `unlisted`
    /// with the reason, and does not stop the others.
    async fn list_dirs(
        &self,
        dirs: Vec<String>,
        unlisted: &mut Vec<Ignored>,
    ) -> Vec<(String, Listing)> {
        let results: Vec<(String, Result<Listing>)> = futures::stream::iter(dirs)
            .map(|dir| async move {
                let listed = self.list_dir(&dir).await;
                (dir, listed)
            })
            .buffer_unordered(LIST_CONCURRENCY)
            .collect()
            .await;
        let mut out = Vec::new();
        for (dir, listed) in results {
            match listed {
                Ok(listing) => out.push((dir, listing)),
                Err(e) => unlisted.push(self::unlisted(dir, &e)),
            }
        }
        out
    }

    /// Lists the backup volumes: every valid volume name found at its proper
    /// place `backupstore/volumes/<h[0:2]>/<h[2:4]>/<name>`. Longhorn's
    /// internal `BACKINGIMAGE` lock directory is not a volume.
    pub async fn list_volumes(&self) -> Result<VolumeList> {
        let mut out = VolumeList::default();
        let top = self.list_dir(layout::VOLUMES_DIR).await?;
        out.ignored
            .extend(unusable_entries(layout::VOLUMES_DIR, &top));
        let mut l1 = Vec::new();
        for d in top.dirs {
            if is_hash_dir(&d) {
                l1.push(format!("{}/{d}", layout::VOLUMES_DIR));
            } else {
                out.ignored.push(Ignored {
                    path: format!("{}/{d}", layout::VOLUMES_DIR),
                    reason: "not a two-hex-digit hash directory".into(),
                });
            }
        }
        let l2_listings = self.list_dirs(l1, &mut out.unlisted).await;
        let mut l2 = Vec::new();
        for (dir, listing) in l2_listings {
            out.ignored.extend(unusable_entries(&dir, &listing));
            for d in listing.dirs {
                if is_hash_dir(&d) {
                    l2.push(format!("{dir}/{d}"));
                } else {
                    out.ignored.push(Ignored {
                        path: format!("{dir}/{d}"),
                        reason: "not a two-hex-digit hash directory".into(),
                    });
                }
            }
        }
        let vol_listings = self.list_dirs(l2, &mut out.unlisted).await;
        for (dir, listing) in vol_listings {
            out.ignored.extend(unusable_entries(&dir, &listing));
            for name in listing.dirs {
                let path = format!("{dir}/{name}");
                if !is_valid_name(&name) {
                    out.ignored.push(Ignored {
                        path,
                        reason: "not a valid Longhorn volume name".into(),
                    });
                } else if name == "BACKINGIMAGE" {
                    out.ignored.push(Ignored {
                        path,
                        reason: "lock directory of backing-image backups".into(),
                    });
                } else if layout::volume_dir(&name)? != path {
                    out.ignored.push(Ignored {
                        path,
                        reason: "volume directory is not where its name hashes to".into(),
                    });
                } else {
                    out.volumes.push(name);
                }
            }
        }
        out.volumes.sort();
        out.ignored.sort_by(|a, b| a.path.cmp(&b.path));
        out.unlisted.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    /// True when the volume has a `volume.cfg`.
    pub async fn volume_exists(&self, volume: &str) -> Result<bool> {
        Ok(self.head(&layout::volume_cfg(volume)?).await?.is_some())
    }

    /// Lists the backup names of a volume (without reading the configs).
    pub async fn list_backups(&self, volume: &str) -> Result<BackupList> {
        let dir = layout::backups_dir(volume)?;
        let listing = self.list_dir(&dir).await?;
        if listing.files.is_empty() && listing.dirs.is_empty() && self.head(&dir).await?.is_some() {
            return Err(Error::NotADirectory { path: dir });
        }
        let mut out = BackupList::default();
        out.ignored.extend(unusable_entries(&dir, &listing));
        for (file, _) in listing.files {
            match layout::backup_name_from_file(&file) {
                Some(name) if is_valid_name(name) => out.backups.push(name.to_owned()),
                Some(_) => out.ignored.push(Ignored {
                    path: format!("{dir}/{file}"),
                    reason: "not a valid Longhorn backup name".into(),
                }),
                None => {}
            }
        }
        // A folder where a backup config should be is that backup, damaged:
        // it is listed, and reading it says what is wrong.
        for folder in &listing.dirs {
            if let Some(name) = layout::backup_name_from_file(folder)
                && is_valid_name(name)
            {
                out.backups.push(name.to_owned());
            }
        }
        out.backups.sort();
        Ok(out)
    }

    /// For a target that holds no backup store: what its URL may name
    /// instead, when that can be told (the `backupstore/` folder itself, a
    /// folder of Harvester's metadata, or nothing at all). `None` when the
    /// target holds a backup store or Harvester metadata.
    pub async fn misplaced_root_hint(&self) -> Result<Option<String>> {
        let root = self.list_dir("").await?;
        let has = |name: &str| root.dirs.iter().any(|d| d == name);
        if has(layout::PREFIX) || has("harvester") {
            return Ok(None);
        }
        let inner = ["volumes", "backing-images", "vmbackups", "vmimages"];
        Ok(if let Some(dir) = inner.into_iter().find(|d| has(d)) {
            Some(format!(
                "the target holds {dir}/ at its top: it looks like a folder inside a backup \
                 target; give the folder that holds backupstore/ (and harvester/)"
            ))
        } else if root.dirs.is_empty() && root.files.is_empty() && root.unusable.is_empty() {
            Some("the target is empty".into())
        } else {
            Some("the target holds no backupstore/ folder".into())
        })
    }

    /// Loads and checks `volume.cfg` ([`Error::NotFound`] when absent).
    pub async fn volume_config(&self, volume: &str) -> Result<VolumeConfig> {
        let path = layout::volume_cfg(volume)?;
        let bytes = self.get_bounded(&path, MAX_VOLUME_CFG_SIZE).await?;
        parse_volume_config(&bytes, &path, volume)
    }

    /// Like [`Self::volume_config`], `None` when the file does not exist.
    pub async fn volume_config_opt(&self, volume: &str) -> Result<Option<VolumeConfig>> {
        let path = layout::volume_cfg(volume)?;
        match self.get_optional(&path, MAX_VOLUME_CFG_SIZE).await? {
            Some(bytes) => parse_volume_config(&bytes, &path, volume).map(Some),
            None => Ok(None),
        }
    }

    /// Loads a backup config and checks it against its volume: the names
    /// match, the compression and block size are known, and every block
    /// offset is aligned, unique and inside the volume's size.
    pub async fn backup_config(&self, volume: &str, backup: &str) -> Result<BackupConfig> {
        let size = match self.volume_config_opt(volume).await? {
            Some(v) => Some(v.size.unsigned_abs()),
            None => None,
        };
        self.backup_config_checked(volume, backup, size).await
    }

    pub(crate) async fn backup_config_checked(
        &self,
        volume: &str,
        backup: &str,
        volume_size: Option<u64>,
    ) -> Result<BackupConfig> {
        let path = layout::backup_cfg(volume, backup)?;
        let bytes = self.get_bounded(&path, MAX_BACKUP_CFG_SIZE).await?;
        let cfg = BackupConfig::from_json(&bytes, &path)?;
        cfg.validate(&path, volume, backup, volume_size)?;
        Ok(cfg)
    }

    /// Loads every backup config of a volume (a few at a time); a config
    /// that fails to load is reported in its summary, not as an error. A
    /// damaged `volume.cfg` does not hide the backups: they are then loaded
    /// without the check against the volume size ([`Self::volume_config`]
    /// reports the damage).
    pub async fn backup_summaries(&self, volume: &str) -> Result<Vec<BackupSummary>> {
        let size = self
            .volume_config_opt(volume)
            .await
            .ok()
            .flatten()
            .map(|v| v.size.unsigned_abs());
        let list = self.list_backups(volume).await?;
        let mut out: Vec<BackupSummary> = futures::stream::iter(list.backups)
            .map(|name| async move {
                let config = self.backup_config_checked(volume, &name, size).await;
                BackupSummary { name, config }
            })
            .buffer_unordered(LIST_CONCURRENCY)
            .collect()
            .await;
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }
}

fn parse_volume_config(bytes: &[u8], path: &str, volume: &str) -> Result<VolumeConfig> {
    let cfg = VolumeConfig::from_json(bytes, path)?;
    if cfg.name != volume {
        return Err(Error::field(
            path,
            "Name",
            format!(
                "{:?} does not match the volume directory {volume}",
                cfg.name
            ),
        ));
    }
    if cfg.size < 0 {
        return Err(Error::field(
            path,
            "Size",
            format!("negative size {}", cfg.size),
        ));
    }
    Compression::from_config(&cfg.compression_method, path, "CompressionMethod")?;
    Ok(cfg)
}

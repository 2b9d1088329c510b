//! `--target`: read what the backup target holds into the engine's
//! [`TargetFacts`]: backup volumes and their backups (complete or not) and
//! Harvester's VM backup metadata files. A target that cannot be reached is
//! a fact too (`Unavailable`), not an error: the diagnosis says so.

use std::path::PathBuf;

use vmbackup_api::wellknown;
use vmbackup_backupstore::{Credentials, Target, TargetOptions, TargetUrl};
use vmbackup_engine::metadata::VmBackupMetadata;
use vmbackup_engine::target::{TargetBackup, TargetListing, UnreadableFile};
use vmbackup_engine::{TargetFacts, TargetState, View};

use super::notes::Note;
use super::progress::Counter;

/// Where the backup target is and how to reach it.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TargetArgs {
    /// Also read the backup target: its URL as in the backup-target setting
    /// (`nfs://server:/export` with --mount-point, `s3://bucket@region/path`,
    /// or a local directory).
    #[arg(long = "target", value_name = "URL")]
    pub url: Option<String>,
    /// Local directory where the NFS export or CIFS share is mounted.
    #[arg(long, value_name = "DIR", requires = "url")]
    pub mount_point: Option<PathBuf>,
    /// Secret manifest (YAML or JSON) with the target's credentials, as the
    /// one the backup target setting names (AWS_ACCESS_KEY_ID, ...).
    #[arg(long, value_name = "FILE", requires = "url")]
    pub credentials: Option<PathBuf>,
    /// Custom S3 or Azure Blob endpoint, e.g. `http://minio.local:9000`.
    #[arg(long, value_name = "URL", requires = "url")]
    pub endpoint: Option<String>,
}

/// The options given cannot be used (a bad URL, an unreadable credentials
/// file): nothing was read.
#[derive(Debug, thiserror::Error)]
pub enum TargetArgError {
    /// The backup target library refused the URL or the credentials.
    #[error("--target {url}: {source}")]
    Target {
        /// The URL given.
        url: String,
        /// The library's error.
        source: vmbackup_backupstore::Error,
    },
    /// An option that does not fit the URL.
    #[error("--target {url}: {message}")]
    Option {
        /// The URL given.
        url: String,
        /// What does not fit.
        message: String,
    },
}

/// The target URL the cluster is configured with, as the engine compares it.
pub fn configured_url(view: &View) -> Option<String> {
    view.setting(wellknown::SETTING_BACKUP_TARGET)
        .and_then(|s| s.backup_target().ok())
        .filter(|s| !s.is_unset())
        .map(|s| s.url())
}

/// Whether a URL given on the command line designates the configured target
/// (trailing slashes aside; for S3 the bucket and region).
pub fn same_target(given: &str, configured: &str) -> bool {
    if given.trim_end_matches('/') == configured.trim_end_matches('/') {
        return true;
    }
    match (
        given.strip_prefix("s3://"),
        configured.strip_prefix("s3://"),
    ) {
        (Some(g), Some(c)) => g.split('/').next() == c.split('/').next(),
        _ => false,
    }
}

/// Reads the target when `--target` was given; otherwise facts that say it
/// was not read.
pub fn read(args: &TargetArgs, view: &View) -> Result<(TargetFacts, Vec<Note>), TargetArgError> {
    let configured = configured_url(view);
    let Some(url) = args.url.clone() else {
        return Ok((
            TargetFacts::not_read(configured.unwrap_or_default()),
            Vec::new(),
        ));
    };
    let options = options(args, &url)?;
    let mut notes = Vec::new();
    let facts_url = match &configured {
        Some(c) if same_target(&url, c) => c.clone(),
        Some(c) => {
            notes.push(Note {
                message: format!(
                    "--target {url} is not the configured backup target {c}: what it holds is not compared with the cluster's backups"
                ),
            });
            url.clone()
        }
        None => {
            notes.push(Note {
                message: format!(
                    "the input has no backup-target setting, so what {url} holds cannot be compared with the cluster's backups (add `kubectl get settings.harvesterhci.io backup-target -o yaml`)"
                ),
            });
            url.clone()
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| TargetArgError::Option {
            url: url.clone(),
            message: format!("cannot start the I/O runtime: {e}"),
        })?;
    let state = runtime.block_on(list(&url, &options, &mut notes));
    Ok((
        TargetFacts {
            url: facts_url,
            state,
        },
        notes,
    ))
}

/// How to open the target `url` with the options given.
pub(crate) fn options(args: &TargetArgs, url: &str) -> Result<TargetOptions, TargetArgError> {
    let parsed = vmbackup_backupstore::target::parse_target_url(url).map_err(|source| {
        TargetArgError::Target {
            url: url.to_owned(),
            source,
        }
    })?;
    let misfit = |message: &str| TargetArgError::Option {
        url: url.to_owned(),
        message: message.to_owned(),
    };
    let (s3, azure, mounted) = match parsed {
        TargetUrl::S3 { .. } => (true, false, false),
        TargetUrl::Azure { .. } => (false, true, false),
        TargetUrl::Mounted { .. } => (false, false, true),
        _ => (false, false, false),
    };
    if args.mount_point.is_some() && !mounted {
        return Err(misfit(
            "--mount-point applies to nfs:// and cifs:// targets",
        ));
    }
    if args.endpoint.is_some() && !(s3 || azure) {
        return Err(misfit("--endpoint applies to s3:// and azblob:// targets"));
    }
    let mut credentials = Credentials::from_env();
    if let Some(file) = &args.credentials {
        credentials = credentials.merge(Credentials::from_secret_file(file).map_err(|source| {
            TargetArgError::Target {
                url: url.to_owned(),
                source,
            }
        })?);
    }
    if let Some(endpoint) = &args.endpoint {
        let key = if azure {
            "AZBLOB_ENDPOINT"
        } else {
            "AWS_ENDPOINTS"
        };
        credentials.set(key, endpoint.clone());
    }
    Ok(TargetOptions {
        mount_point: args.mount_point.clone(),
        credentials,
    })
}

/// Lists the target. Anything that fails below the top level makes the
/// listing partial (absent entries then prove nothing) and is noted.
async fn list(url: &str, options: &TargetOptions, notes: &mut Vec<Note>) -> TargetState {
    let target = match Target::open(url, options).await {
        Ok(t) => t,
        Err(e) => {
            return TargetState::Unavailable {
                reason: e.to_string(),
            };
        }
    };
    let volumes = match target.list_volumes().await {
        Ok(v) => v,
        Err(e) => {
            return TargetState::Unavailable {
                reason: e.to_string(),
            };
        }
    };
    // A volume directory that could not be listed makes the listing
    // partial: what it does not show proves nothing.
    let mut listing = TargetListing {
        complete: volumes.unlisted.is_empty(),
        ..TargetListing::default()
    };
    for u in &volumes.unlisted {
        notes.push(Note {
            message: format!(
                "the backup target's {} {}; the listing is partial",
                u.path, u.reason
            ),
        });
    }
    if !volumes.ignored.is_empty() {
        notes.push(Note {
            message: format!(
                "the backup target has {} entries that are not backup volumes, e.g. {}: {}",
                volumes.ignored.len(),
                volumes.ignored[0].path,
                volumes.ignored[0].reason
            ),
        });
    }
    let counter = Counter::new("reading the backup target", volumes.volumes.len() as u64);
    for volume in &volumes.volumes {
        counter.inc();
        let summaries = match target.backup_summaries(volume).await {
            Ok(s) => s,
            Err(e) => {
                listing.complete = false;
                notes.push(Note {
                    message: format!("backups of volume {volume} could not be listed: {e}"),
                });
                continue;
            }
        };
        let entry = listing.volumes.entry(volume.clone()).or_default();
        for summary in summaries {
            let complete = match &summary.config {
                Ok(cfg) => cfg.is_complete(),
                Err(e) => {
                    notes.push(Note {
                        message: format!(
                            "backup {} of volume {volume} cannot be read, counted as incomplete: {e}",
                            summary.name
                        ),
                    });
                    false
                }
            };
            entry
                .backups
                .insert(summary.name.clone(), TargetBackup { complete });
        }
    }
    counter.finish();
    match target.list_vm_backup_metadata().await {
        Ok(files) => {
            for file in files.files {
                let decoded = file.content.map_err(|e| e.to_string()).and_then(|m| {
                    serde_json::to_value(&m)
                        .and_then(serde_json::from_value::<VmBackupMetadata>)
                        .map_err(|e| format!("{}: {e}", file.path))
                });
                match decoded {
                    Ok(m) => {
                        let key = (m.namespace_or_default().to_owned(), m.name.clone());
                        listing.vm_backups.insert(key, m);
                    }
                    Err(reason) => listing.unreadable.push(UnreadableFile {
                        path: file.path,
                        reason,
                    }),
                }
            }
        }
        Err(e) => {
            listing.complete = false;
            notes.push(Note {
                message: format!("the VM backup metadata files could not be listed: {e}"),
            });
        }
    }
    TargetState::Listed(listing)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_name_the_same_target() {
        assert!(same_target(
            "nfs://10.0.0.1:/export",
            "nfs://10.0.0.1:/export/"
        ));
        assert!(same_target(
            "s3://bucket@us-east-1/backups/",
            "s3://bucket@us-east-1/"
        ));
        assert!(!same_target(
            "s3://other@us-east-1/",
            "s3://bucket@us-east-1/"
        ));
        assert!(!same_target(
            "nfs://10.0.0.2:/export",
            "nfs://10.0.0.1:/export"
        ));
    }
}

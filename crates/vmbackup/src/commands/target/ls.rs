//! `vmbackup target ls`: the volumes on a target with their backups, and
//! Harvester's VM backups with their volumes.

use std::collections::BTreeMap;

use futures::StreamExt;
use serde::Serialize;
use vmbackup_backupstore::{BackupState, MetadataLayout, Target, layout};

use super::table;
use crate::output::Format;
use crate::progress::human_bytes;

/// Arguments of `vmbackup target ls`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    pub target: super::connect::TargetArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub output: Format,
}

/// Everything `ls` reports.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Listing {
    pub target: String,
    pub volumes: Vec<VolumeEntry>,
    pub vm_backups: Vec<VmBackupEntry>,
    /// Entries found on the target that are not volumes or backups.
    pub ignored: Vec<IgnoredEntry>,
    /// When the target holds nothing to list: what its URL may name instead.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VolumeEntry {
    pub name: String,
    /// Volume size from `volume.cfg`.
    pub size: Option<u64>,
    pub created: Option<String>,
    pub last_backup: Option<String>,
    pub compression: Option<String>,
    /// Why `volume.cfg` could not be read.
    pub error: Option<String>,
    pub backups: Vec<BackupEntry>,
    /// Whether its backups could be listed (when not, the reason is in
    /// `error`, and what the volume holds is unknown, not missing).
    #[serde(skip)]
    pub backups_listed: bool,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupEntry {
    pub name: String,
    /// `complete`, `in-progress` or `unreadable`.
    pub state: &'static str,
    pub complete: bool,
    pub created: Option<String>,
    /// Size Longhorn reports for the backup (bytes of its stored blocks).
    pub size: Option<u64>,
    pub error: Option<String>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VmBackupEntry {
    pub namespace: Option<String>,
    pub name: Option<String>,
    /// Metadata file, relative to the target root.
    pub path: String,
    /// `namespaced` or `legacy` (Harvester 1.0 – 1.2 flat layout).
    pub layout: &'static str,
    pub error: Option<String>,
    pub volumes: Vec<VmVolumeEntry>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VmVolumeEntry {
    pub vm_volume: String,
    pub pvc: String,
    pub longhorn_volume: Option<String>,
    pub longhorn_backup: Option<String>,
    pub size: Option<i64>,
    /// State of that backup on this target: `complete`, `in-progress`,
    /// `unreadable`, `missing`, or `unknown` when the metadata names no
    /// Longhorn backup.
    pub on_target: &'static str,
}

#[derive(Debug, Serialize)]
pub struct IgnoredEntry {
    pub path: String,
    pub reason: String,
}

/// Volumes whose configs are loaded at the same time.
const VOLUME_CONCURRENCY: usize = 8;

/// Reads the listing from the target.
pub async fn collect(target: &Target) -> anyhow::Result<Listing> {
    let vols = target.list_volumes().await?;
    // Directories that could not be listed are shown with the reason; the
    // volumes in the others are still listed.
    let mut ignored: Vec<IgnoredEntry> = vols
        .ignored
        .into_iter()
        .chain(vols.unlisted)
        .map(|i| IgnoredEntry {
            path: i.path,
            reason: i.reason,
        })
        .collect();
    let loaded: Vec<(VolumeEntry, Vec<IgnoredEntry>)> = futures::stream::iter(vols.volumes)
        .map(|name| volume_entry(target, name))
        .buffered(VOLUME_CONCURRENCY)
        .collect()
        .await;
    let mut volumes = Vec::new();
    for (entry, more) in loaded {
        volumes.push(entry);
        ignored.extend(more);
    }

    let states: BTreeMap<(&str, &str), &'static str> = volumes
        .iter()
        .flat_map(|v| {
            v.backups
                .iter()
                .map(move |b| ((v.name.as_str(), b.name.as_str()), b.state))
        })
        .collect();
    let unlisted: std::collections::BTreeSet<&str> = volumes
        .iter()
        .filter(|v| !v.backups_listed)
        .map(|v| v.name.as_str())
        .collect();
    let mut vm_backups = Vec::new();
    let metadata = target.list_vm_backup_metadata().await?;
    ignored.extend(metadata.ignored.into_iter().map(|i| IgnoredEntry {
        path: i.path,
        reason: i.reason,
    }));
    for file in metadata.files {
        let layout = match file.layout {
            MetadataLayout::Namespaced => "namespaced",
            MetadataLayout::Legacy => "legacy",
        };
        let entry = match file.content {
            Ok(m) => VmBackupEntry {
                namespace: Some(m.namespace.clone()),
                name: Some(m.name.clone()),
                path: file.path,
                layout,
                error: None,
                volumes: m
                    .volumes()
                    .into_iter()
                    .map(|v| {
                        let on_target = match (&v.longhorn_volume, &v.longhorn_backup) {
                            (Some(vol), Some(b)) => match states.get(&(vol.as_str(), b.as_str())) {
                                Some(state) => state,
                                None if unlisted.contains(vol.as_str()) => "unreadable",
                                None => "missing",
                            },
                            _ => "unknown",
                        };
                        VmVolumeEntry {
                            vm_volume: v.vm_volume,
                            pvc: v.pvc,
                            longhorn_volume: v.longhorn_volume,
                            longhorn_backup: v.longhorn_backup,
                            size: v.size,
                            on_target,
                        }
                    })
                    .collect(),
            },
            Err(e) => VmBackupEntry {
                namespace: None,
                name: None,
                path: file.path,
                layout,
                error: Some(e.to_string()),
                volumes: Vec::new(),
            },
        };
        vm_backups.push(entry);
    }
    let hint = if volumes.is_empty() && vm_backups.is_empty() {
        target.misplaced_root_hint().await.unwrap_or(None)
    } else {
        None
    };
    Ok(Listing {
        hint,
        target: target.url().to_owned(),
        volumes,
        vm_backups,
        ignored,
    })
}

/// One volume with its backups. Never fails: whatever cannot be read is
/// reported in the entry's `error`.
async fn volume_entry(target: &Target, name: String) -> (VolumeEntry, Vec<IgnoredEntry>) {
    let mut entry = VolumeEntry {
        name: name.clone(),
        size: None,
        created: None,
        last_backup: None,
        compression: None,
        error: None,
        backups: Vec::new(),
        backups_listed: false,
    };
    match target.volume_config(&name).await {
        Ok(cfg) => {
            entry.size = Some(cfg.size.unsigned_abs());
            entry.created = non_empty(cfg.created_time);
            entry.last_backup = non_empty(cfg.last_backup_name);
            entry.compression = non_empty(cfg.compression_method);
        }
        Err(e) => entry.error = Some(e.to_string()),
    }
    let volume_error = entry.error.clone();
    // A volume whose backups cannot be listed is shown with the reason; it
    // never hides the other volumes.
    let listed = async {
        let list = target.list_backups(&name).await?;
        let summaries = target.backup_summaries(&name).await?;
        Ok::<_, vmbackup_backupstore::Error>((list, summaries))
    };
    let (list, summaries) = match listed.await {
        Ok(found) => {
            entry.backups_listed = true;
            found
        }
        Err(e) => {
            let why = format!("backups cannot be listed: {e}");
            entry.error = Some(match entry.error.take() {
                Some(cfg) => format!("{cfg}; {why}"),
                None => why,
            });
            return (entry, Vec::new());
        }
    };
    let ignored = list
        .ignored
        .into_iter()
        .map(|i| IgnoredEntry {
            path: i.path,
            reason: i.reason,
        })
        .collect();
    for summary in summaries {
        let mut state = match summary.state() {
            Some(BackupState::Complete) => "complete",
            Some(BackupState::InProgress) => "in-progress",
            None => "unreadable",
        };
        let (created, size, mut error) = match &summary.config {
            Ok(c) => (
                non_empty(c.created_time.clone()),
                Some(c.size.unsigned_abs()),
                None,
            ),
            Err(e) => (None, None, Some(e.to_string())),
        };
        // A complete backup an export would refuse is not usable: nor is
        // one whose volume has no usable volume.cfg, which gives the size
        // of the image.
        if let (Ok(c), "complete") = (&summary.config, state) {
            let checked = match (&volume_error, entry.size) {
                (Some(e), _) => Err(format!("volume.cfg cannot be used: {e}")),
                (None, size) => layout::backup_cfg(&name, &summary.name)
                    .and_then(|path| c.export_parameters(&path, size))
                    .map_err(|e| e.to_string()),
            };
            if let Err(e) = checked {
                state = "unreadable";
                error = Some(e);
            }
        }
        entry.backups.push(BackupEntry {
            name: summary.name,
            state,
            complete: state == "complete",
            created,
            size,
            error,
        });
    }
    (entry, ignored)
}

fn non_empty(s: String) -> Option<String> {
    (!s.is_empty()).then_some(s)
}

/// Renders the listing as tables.
pub fn render_table(l: &Listing) -> String {
    let mut out = String::new();
    if l.volumes.is_empty() {
        out.push_str("No backup volumes.\n");
        if let Some(hint) = &l.hint {
            out.push_str(&format!("({hint})\n"));
        }
    } else {
        let mut rows = Vec::new();
        for v in &l.volumes {
            let vol_size = v.size.map_or("?".to_owned(), human_bytes);
            if v.backups.is_empty() || v.error.is_some() {
                rows.push(vec![
                    v.name.clone(),
                    vol_size.clone(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    v.error
                        .clone()
                        .map_or("no backups".into(), |e| format!("damaged: {e}")),
                ]);
            }
            for b in &v.backups {
                let state = match &b.error {
                    Some(e) => format!("unreadable: {e}"),
                    None => b.state.to_owned(),
                };
                rows.push(vec![
                    v.name.clone(),
                    vol_size.clone(),
                    b.name.clone(),
                    b.created.clone().unwrap_or_else(|| "-".into()),
                    b.size.map_or("-".to_owned(), human_bytes),
                    state,
                ]);
            }
        }
        out.push_str(&table::render(
            &[
                "VOLUME",
                "VOLUME SIZE",
                "BACKUP",
                "CREATED",
                "SIZE",
                "STATE",
            ],
            &rows,
        ));
    }
    out.push('\n');
    if l.vm_backups.is_empty() {
        out.push_str("No Harvester VM backups.\n");
    } else {
        let mut rows = Vec::new();
        for b in &l.vm_backups {
            let name = match (&b.namespace, &b.name) {
                (Some(ns), Some(n)) => format!("{ns}/{n}"),
                _ => b.path.clone(),
            };
            if let Some(e) = &b.error {
                rows.push(vec![
                    name,
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    format!("unreadable: {e}"),
                ]);
                continue;
            }
            if b.volumes.is_empty() {
                rows.push(vec![
                    name.clone(),
                    "-".into(),
                    "-".into(),
                    "-".into(),
                    "no volumes".into(),
                ]);
            }
            for v in &b.volumes {
                rows.push(vec![
                    name.clone(),
                    v.vm_volume.clone(),
                    v.pvc.clone(),
                    format!(
                        "{}/{}",
                        v.longhorn_volume.as_deref().unwrap_or("?"),
                        v.longhorn_backup.as_deref().unwrap_or("?")
                    ),
                    v.on_target.to_owned(),
                ]);
            }
        }
        out.push_str(&table::render(
            &[
                "VM BACKUP",
                "VM VOLUME",
                "PVC",
                "LONGHORN VOLUME/BACKUP",
                "ON TARGET",
            ],
            &rows,
        ));
    }
    if !l.ignored.is_empty() {
        out.push('\n');
        let rows: Vec<Vec<String>> = l
            .ignored
            .iter()
            .map(|i| vec![i.path.clone(), i.reason.clone()])
            .collect();
        out.push_str(&table::render(&["IGNORED", "WHY"], &rows));
    }
    out
}

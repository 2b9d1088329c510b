//! The backup target controller: checks that the default BackupTarget is
//! reachable and, when a sync is due (first sight of a URL, a requested
//! sync, or every `pollInterval`), rebuilds BackupVolume and Backup objects
//! from what the target holds. Objects whose data left the target are
//! removed without touching any data.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, OwnerReference};
use vmbackup_api::longhorn::{
    Backup, BackupSpec, BackupStatus, BackupTarget, BackupVolume, LonghornCondition,
};
use vmbackup_api::wellknown;
use vmbackup_backupstore::encode_backup_url;
use vmbackup_engine::context::parse_duration;
use vmbackup_engine::{Kind, ObjectRef, Precondition};

use super::backups::ensure_backup_volume;
use super::{Longhorn, LonghornVersion, MANAGER, NAMESPACE, TARGET, backup_target};
use crate::env::Env;
use crate::error::SimError;
use crate::events::EventType;
use crate::target::TargetServer;

fn parse_time(text: Option<&str>) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(text?)
        .ok()
        .map(|t| t.with_timezone(&Utc))
}

/// Whether a sync is due now, and why.
fn due(lh: &Longhorn, env: &Env, bt: &BackupTarget, url: &str) -> Option<&'static str> {
    if lh.last_synced_url.as_deref() != Some(url) {
        return Some("the backup target URL changed");
    }
    let now = env.clock.now();
    let last_attempt = lh.last_target_attempt;
    let requested = parse_time(bt.spec.sync_requested_at.as_deref());
    if let (Some(r), Some(a)) = (requested, last_attempt)
        && r > a
    {
        return Some("a sync was requested");
    }
    let poll = bt
        .spec
        .poll_interval
        .as_deref()
        .and_then(parse_duration)
        .unwrap_or(Duration::from_secs(300));
    let poll = chrono::Duration::from_std(poll).ok()?;
    match last_attempt {
        None => Some("first poll"),
        Some(a) if !poll.is_zero() && now >= a + poll => Some("poll interval elapsed"),
        Some(_) => None,
    }
}

/// One pass of the backup target controller.
pub fn run(lh: &mut Longhorn, env: &mut Env) -> Result<(), SimError> {
    let Some(bt) = backup_target(env) else {
        return Ok(());
    };
    let url = bt.spec.backup_target_url.clone().unwrap_or_default();
    if url.is_empty() {
        return Ok(());
    }
    let Some(reason) = due(lh, env, &bt, &url) else {
        return Ok(());
    };
    lh.last_target_attempt = Some(env.clock.now());
    lh.last_synced_url = Some(url.clone());
    let server = super::reachable_target(env);
    let server = match server {
        Ok(s) => s,
        Err(why) => return set_available(env, false, &why),
    };
    let volumes = match server.volumes() {
        Ok(v) => v,
        Err(e) => return set_available(env, false, &e.to_string()),
    };
    set_available(env, true, "")?;
    sync_volumes(lh.version(), env, server, &volumes)?;
    let now = env.now();
    env.store.update::<BackupTarget>(NAMESPACE, TARGET, |t| {
        t.status.get_or_insert_with(Default::default).last_synced_at = Some(now);
    })?;
    tracing::debug!(reason, url, "longhorn synced the backup target");
    Ok(())
}

fn set_available(env: &mut Env, available: bool, why: &str) -> Result<(), SimError> {
    let now = env.now();
    let changed = env.store.update::<BackupTarget>(NAMESPACE, TARGET, |t| {
        let s = t.status.get_or_insert_with(Default::default);
        s.available = Some(available);
        s.conditions = if available {
            Some(Vec::new())
        } else {
            Some(vec![LonghornCondition {
                type_: Some("Unavailable".into()),
                status: Some("True".into()),
                reason: Some("Unavailable".into()),
                message: Some(why.to_owned()),
                last_transition_time: Some(now.clone()),
                ..LonghornCondition::default()
            }])
        };
    })?;
    if changed {
        let r = ObjectRef::namespaced(Kind::LonghornBackupTarget, NAMESPACE, TARGET);
        if available {
            env.event(
                MANAGER,
                r,
                EventType::Normal,
                "Available",
                "backup target is available",
            );
        } else {
            env.event(
                MANAGER,
                r,
                EventType::Warning,
                "Unavailable",
                why.to_owned(),
            );
        }
    }
    Ok(())
}

fn sync_volumes(
    version: LonghornVersion,
    env: &mut Env,
    server: &TargetServer,
    volumes: &[String],
) -> Result<(), SimError> {
    let on_target: BTreeSet<&str> = volumes.iter().map(String::as_str).collect();
    for volume in volumes {
        ensure_backup_volume(version, env, volume)?;
        let config = server.volume_config(volume).ok();
        let Some(bv) = find_backup_volume(version, env, volume) else {
            continue;
        };
        let bv_name = bv.metadata.name.clone().unwrap_or_default();
        if let Some(c) = &config {
            let now = env.now();
            env.store
                .update::<BackupVolume>(NAMESPACE, &bv_name, |bv| {
                    let s = bv.status.get_or_insert_with(Default::default);
                    s.size = Some(c.size.to_string());
                    s.created_at = Some(c.created_time.clone());
                    s.last_backup_name = Some(c.last_backup_name.clone());
                    s.last_backup_at = Some(c.last_backup_at.clone());
                    s.data_stored = Some(c.data_stored().to_string());
                    s.last_synced_at = Some(now);
                })?;
        }
        let summaries = server.backups(volume)?;
        let complete: BTreeMap<String, vmbackup_backupstore::BackupConfig> = summaries
            .into_iter()
            .filter_map(|s| match s.config {
                Ok(c) if c.is_complete() => Some((s.name, c)),
                _ => None,
            })
            .collect();
        for (name, config) in &complete {
            if env.store.get_as::<Backup>(NAMESPACE, name).is_some() {
                continue;
            }
            pull_backup(version, env, server, &bv, name, config)?;
        }
        // Backups of this volume whose data is gone from the target: the
        // objects go, the data (already gone) is not touched.
        let stale: Vec<String> = env
            .store
            .list::<Backup>()
            .filter(|b| b.backup_volume_label() == Some(volume.as_str()))
            .filter(|b| b.is_completed() && b.metadata.deletion_timestamp.is_none())
            .filter_map(|b| b.metadata.name.clone())
            .filter(|n| !complete.contains_key(n))
            .collect();
        for name in stale {
            drop_object_only(env, &name)?;
        }
    }
    // Backup volumes gone from the target.
    let gone: Vec<(String, String)> = env
        .store
        .list::<BackupVolume>()
        .filter_map(|bv| {
            let volume = bv
                .spec
                .volume_name
                .clone()
                .or_else(|| bv.metadata.name.clone())?;
            (!on_target.contains(volume.as_str()))
                .then(|| (bv.metadata.name.clone().unwrap_or_default(), volume))
        })
        .collect();
    for (bv_name, volume) in gone {
        let names: Vec<String> = env
            .store
            .list::<Backup>()
            .filter(|b| b.backup_volume_label() == Some(volume.as_str()))
            .filter_map(|b| b.metadata.name.clone())
            .collect();
        for name in names {
            drop_object_only(env, &name)?;
        }
        env.store.delete(
            &ObjectRef::namespaced(Kind::LonghornBackupVolume, NAMESPACE, &bv_name),
            &Precondition::none(),
        )?;
    }
    Ok(())
}

fn find_backup_volume(version: LonghornVersion, env: &Env, volume: &str) -> Option<BackupVolume> {
    env.store
        .list::<BackupVolume>()
        .find(|bv| match version {
            LonghornVersion::V1_7 => bv.metadata.name.as_deref() == Some(volume),
            LonghornVersion::V1_8 => bv.spec.volume_name.as_deref() == Some(volume),
        })
        .cloned()
}

/// Deletes a Backup object without deleting its data.
fn drop_object_only(env: &mut Env, name: &str) -> Result<(), SimError> {
    env.store.update::<Backup>(NAMESPACE, name, |b| {
        b.metadata.labels.get_or_insert_with(BTreeMap::new).insert(
            wellknown::LABEL_LONGHORN_DELETE_CR_ONLY.to_owned(),
            "true".to_owned(),
        );
    })?;
    env.store.delete(
        &ObjectRef::namespaced(Kind::LonghornBackup, NAMESPACE, name),
        &Precondition::none(),
    )?;
    Ok(())
}

fn pull_backup(
    version: LonghornVersion,
    env: &mut Env,
    server: &TargetServer,
    bv: &BackupVolume,
    name: &str,
    c: &vmbackup_backupstore::BackupConfig,
) -> Result<(), SimError> {
    let volume = c.volume_name.clone();
    let mut labels = BTreeMap::new();
    labels.insert(
        wellknown::LABEL_LONGHORN_BACKUP_VOLUME.to_owned(),
        volume.clone(),
    );
    if version == LonghornVersion::V1_8 {
        labels.insert(
            wellknown::LABEL_LONGHORN_BACKUP_TARGET.to_owned(),
            TARGET.to_owned(),
        );
    }
    let owner = match (&bv.metadata.name, &bv.metadata.uid) {
        (Some(n), Some(u)) => Some(vec![OwnerReference {
            api_version: wellknown::LONGHORN_API_VERSION.to_owned(),
            kind: wellknown::KIND_LONGHORN_BACKUP_VOLUME.to_owned(),
            name: n.clone(),
            uid: u.clone(),
            ..OwnerReference::default()
        }]),
        _ => None,
    };
    let volume_size = server
        .volume_config(&volume)
        .ok()
        .map(|v| v.size.to_string());
    let now = env.now();
    env.store.create_with_status(Backup {
        metadata: ObjectMeta {
            name: Some(name.to_owned()),
            namespace: Some(NAMESPACE.to_owned()),
            labels: Some(labels),
            finalizers: Some(vec![wellknown::FINALIZER_LONGHORN.to_owned()]),
            owner_references: owner,
            ..ObjectMeta::default()
        },
        spec: BackupSpec {
            snapshot_name: Some(c.snapshot_name.clone()),
            ..BackupSpec::default()
        },
        status: Some(BackupStatus {
            state: Some("Completed".into()),
            progress: Some(100),
            url: Some(encode_backup_url(name, &volume, server.url())),
            snapshot_name: Some(c.snapshot_name.clone()),
            snapshot_created_at: Some(c.snapshot_created_at.clone()),
            backup_created_at: Some(c.created_time.clone()),
            size: Some(c.size.to_string()),
            labels: c.labels.clone(),
            volume_name: Some(volume),
            volume_size,
            compression_method: Some(c.compression_method.clone()),
            backup_target_name: Some(TARGET.to_owned()),
            last_synced_at: Some(now),
            ..BackupStatus::default()
        }),
        ..Backup::default()
    })?;
    Ok(())
}

/// What Longhorn's upgrade to 1.8 does to existing BackupVolumes: they get
/// `spec.volumeName`, `spec.backupTargetName` and the two labels; their
/// names do not change.
pub fn upgrade_backup_volumes(env: &mut Env) -> Result<(), SimError> {
    let names: Vec<String> = env
        .store
        .list::<BackupVolume>()
        .filter_map(|bv| bv.metadata.name.clone())
        .collect();
    for name in names {
        env.store.update::<BackupVolume>(NAMESPACE, &name, |bv| {
            let volume = bv.spec.volume_name.clone().unwrap_or_else(|| name.clone());
            bv.spec.volume_name = Some(volume.clone());
            bv.spec.backup_target_name = Some(TARGET.to_owned());
            let labels = bv.metadata.labels.get_or_insert_with(BTreeMap::new);
            labels.insert(wellknown::LABEL_LONGHORN_BACKUP_VOLUME.to_owned(), volume);
            labels.insert(
                wellknown::LABEL_LONGHORN_BACKUP_TARGET.to_owned(),
                TARGET.to_owned(),
            );
        })?;
    }
    let backups: Vec<String> = env
        .store
        .list::<Backup>()
        .filter_map(|b| b.metadata.name.clone())
        .collect();
    for name in backups {
        env.store.update::<Backup>(NAMESPACE, &name, |b| {
            b.metadata.labels.get_or_insert_with(BTreeMap::new).insert(
                wellknown::LABEL_LONGHORN_BACKUP_TARGET.to_owned(),
                TARGET.to_owned(),
            );
            b.status
                .get_or_insert_with(Default::default)
                .backup_target_name = Some(TARGET.to_owned());
        })?;
    }
    Ok(())
}

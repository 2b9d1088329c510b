//! The backup controller: takes a new Backup through `InProgress` to
//! `Completed` by writing the snapshot's data to the target with the
//! `backupstore` crate, and on deletion removes the backup's data from the
//! target (unless only the object is to go).

use std::collections::BTreeMap;

use vmbackup_api::longhorn::{Backup, BackupVolume, BackupVolumeSpec};
use vmbackup_api::wellknown;
use vmbackup_backupstore::encode_backup_url;
use vmbackup_engine::{Kind, ObjectRef};

use super::{Longhorn, LonghornVersion, MANAGER, NAMESPACE, TARGET, names, reachable_target};
use crate::env::Env;
use crate::error::SimError;
use crate::events::EventType;

/// One pass over every Backup.
pub fn run(lh: &mut Longhorn, env: &mut Env) -> Result<(), SimError> {
    let backups: Vec<Backup> = env.store.list::<Backup>().cloned().collect();
    for b in backups {
        let name = b.metadata.name.clone().unwrap_or_default();
        if b.metadata.deletion_timestamp.is_some() {
            delete(env, &b, &name)?;
            continue;
        }
        match b.state() {
            "" | "Pending" => start(env, &name)?,
            "InProgress" => finish(lh, env, &b, &name)?,
            _ => {}
        }
    }
    Ok(())
}

fn start(env: &mut Env, name: &str) -> Result<(), SimError> {
    env.store.update::<Backup>(NAMESPACE, name, |b| {
        let s = b.status.get_or_insert_with(Default::default);
        s.state = Some("InProgress".into());
        s.progress = Some(0);
    })?;
    Ok(())
}

fn finish(lh: &mut Longhorn, env: &mut Env, b: &Backup, name: &str) -> Result<(), SimError> {
    let Some(volume) = b.volume_name().map(str::to_owned) else {
        return Ok(());
    };
    let snapshot = b.spec.snapshot_name.clone().unwrap_or_default();
    let image = lh.snapshot_path(&volume, &snapshot);
    if !image.exists() {
        // A Backup pulled from the target by another cluster's sync has no
        // local snapshot: nothing to upload here.
        return Ok(());
    }
    let server = match reachable_target(env) {
        Ok(s) => s,
        Err(why) => return fail(env, name, &why),
    };
    let mut labels = BTreeMap::new();
    labels.insert(
        "longhorn.io/volume-access-mode".to_owned(),
        "rwx".to_owned(),
    );
    let summary = match server.backup(&volume, name, &image, &snapshot, labels.clone()) {
        Ok(s) => s,
        Err(e) => return fail(env, name, &e.to_string()),
    };
    let config = server.volume_config(&volume).ok();
    let url = encode_backup_url(name, &volume, server.url());
    let now = env.now();
    env.store.update::<Backup>(NAMESPACE, name, |b| {
        let s = b.status.get_or_insert_with(Default::default);
        s.state = Some("Completed".into());
        s.progress = Some(100);
        s.url = Some(url);
        s.snapshot_created_at = Some(now.clone());
        s.backup_created_at = Some(now.clone());
        s.size = Some((summary.blocks * 2 * 1024 * 1024).to_string());
        s.volume_size = config.as_ref().map(|c| c.size.to_string());
        s.volume_created = config.as_ref().map(|c| c.created_time.clone());
        s.labels = Some(labels);
        s.compression_method = Some(summary.compression.as_str().to_owned());
        s.backup_target_name = Some(TARGET.to_owned());
        s.last_synced_at = Some(now.clone());
        s.error = None;
    })?;
    ensure_backup_volume(lh.version(), env, &volume)?;
    env.event(
        MANAGER,
        ObjectRef::namespaced(Kind::LonghornBackup, NAMESPACE, name),
        EventType::Normal,
        "Completed",
        format!(
            "backed up volume {volume} to the target ({} blocks, {} uploaded)",
            summary.blocks, summary.blocks_uploaded
        ),
    );
    Ok(())
}

fn fail(env: &mut Env, name: &str, why: &str) -> Result<(), SimError> {
    env.store.update::<Backup>(NAMESPACE, name, |b| {
        let s = b.status.get_or_insert_with(Default::default);
        s.state = Some("Error".into());
        s.error = Some(why.to_owned());
    })?;
    env.event(
        MANAGER,
        ObjectRef::namespaced(Kind::LonghornBackup, NAMESPACE, name),
        EventType::Warning,
        "BackupFailed",
        why.to_owned(),
    );
    Ok(())
}

/// Makes sure a BackupVolume object exists for `volume` once it has a
/// backup on the target.
pub fn ensure_backup_volume(
    version: LonghornVersion,
    env: &mut Env,
    volume: &str,
) -> Result<(), SimError> {
    let exists = env.store.list::<BackupVolume>().any(|bv| match version {
        LonghornVersion::V1_7 => bv.metadata.name.as_deref() == Some(volume),
        LonghornVersion::V1_8 => bv.spec.volume_name.as_deref() == Some(volume),
    });
    if exists {
        return Ok(());
    }
    let mut meta = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
        name: Some(names::backup_volume(version, volume, TARGET)),
        namespace: Some(NAMESPACE.to_owned()),
        ..Default::default()
    };
    let spec = match version {
        LonghornVersion::V1_7 => BackupVolumeSpec::default(),
        LonghornVersion::V1_8 => {
            let mut labels = BTreeMap::new();
            labels.insert(
                wellknown::LABEL_LONGHORN_BACKUP_VOLUME.to_owned(),
                volume.to_owned(),
            );
            labels.insert(
                wellknown::LABEL_LONGHORN_BACKUP_TARGET.to_owned(),
                TARGET.to_owned(),
            );
            meta.labels = Some(labels);
            BackupVolumeSpec {
                backup_target_name: Some(TARGET.to_owned()),
                volume_name: Some(volume.to_owned()),
                ..BackupVolumeSpec::default()
            }
        }
    };
    env.store.create(BackupVolume {
        metadata: meta,
        spec,
        ..BackupVolume::default()
    })?;
    Ok(())
}

/// A Backup being deleted: its data leaves the target, unless the object
/// alone is to go (`longhorn.io/delete-custom-resource-only`), then the
/// finalizer is released. While the target is unreachable the deletion
/// waits.
fn delete(env: &mut Env, b: &Backup, name: &str) -> Result<(), SimError> {
    let r = ObjectRef::namespaced(Kind::LonghornBackup, NAMESPACE, name);
    if !b
        .metadata
        .finalizers
        .iter()
        .flatten()
        .any(|f| f == wellknown::FINALIZER_LONGHORN)
    {
        return Ok(());
    }
    let cr_only = b
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(wellknown::LABEL_LONGHORN_DELETE_CR_ONLY))
        .is_some_and(|v| v == "true");
    let volume = b
        .volume_name()
        .or_else(|| b.backup_volume_label())
        .map(str::to_owned);
    if !cr_only && let Some(volume) = volume {
        let server = match reachable_target(env) {
            Ok(s) => s,
            Err(why) => {
                env.event(
                    MANAGER,
                    r,
                    EventType::Warning,
                    "DeletionPending",
                    format!("cannot delete the backup data yet: {why}"),
                );
                return Ok(());
            }
        };
        if server.has_backup(&volume, name)? {
            server.delete_backup(&volume, name)?;
            env.event(
                MANAGER,
                r.clone(),
                EventType::Normal,
                "Deleted",
                format!("deleted backup {name} of volume {volume} from the target"),
            );
        }
    }
    env.store
        .remove_finalizer(&r, wellknown::FINALIZER_LONGHORN)?;
    Ok(())
}

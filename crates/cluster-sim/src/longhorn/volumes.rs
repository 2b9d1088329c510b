//! The volume controller: restores a volume created from a backup (its
//! `spec.fromBackup` URL names the backup volume and backup, whatever the
//! handle said), reporting progress on the volume's engine as Longhorn does,
//! and records which PV and PVC use each volume.

use std::collections::BTreeMap;

use vmbackup_api::longhorn::{Engine, KubernetesStatus, LonghornCondition, RestoreStatus, Volume};
use vmbackup_api::wellknown;
use vmbackup_backupstore::decode_backup_url;
use vmbackup_engine::{Kind, ObjectRef};

use super::{Longhorn, MANAGER, NAMESPACE, names, reachable_target};
use crate::env::Env;
use crate::error::SimError;
use crate::events::EventType;
use crate::typed::Pv;

/// The replica address the simulated engine reports restore status under.
const REPLICA: &str = "tcp://10.52.0.10:10000";

/// One pass over every volume.
pub fn run(lh: &mut Longhorn, env: &mut Env) -> Result<(), SimError> {
    let volumes: Vec<Volume> = env.store.list::<Volume>().cloned().collect();
    for v in volumes {
        let name = v.metadata.name.clone().unwrap_or_default();
        kubernetes_status(env, &name)?;
        let status = v.status.clone().unwrap_or_default();
        let Some(url) = v.spec.from_backup.clone() else {
            continue;
        };
        if status.restore_required != Some(true) || v.restore_failed() {
            continue;
        }
        if status.restore_initiated != Some(true) {
            begin(env, &name, &url)?;
        } else {
            complete(lh, env, &v, &name, &url)?;
        }
    }
    Ok(())
}

fn restore_condition(reason: &str, message: &str, active: bool, now: &str) -> LonghornCondition {
    LonghornCondition {
        type_: Some(wellknown::LONGHORN_CONDITION_RESTORE.to_owned()),
        status: Some(if active { "True" } else { "False" }.to_owned()),
        reason: Some(reason.to_owned()),
        message: Some(message.to_owned()),
        last_transition_time: Some(now.to_owned()),
        ..LonghornCondition::default()
    }
}

fn set_condition(v: &mut Volume, c: LonghornCondition) {
    let conds = v
        .status
        .get_or_insert_with(Default::default)
        .conditions
        .get_or_insert_with(Vec::new);
    conds.retain(|x| x.type_ != c.type_);
    conds.push(c);
}

fn replica_status(
    backup: &str,
    restoring: bool,
    progress: i64,
) -> BTreeMap<String, Option<RestoreStatus>> {
    let mut map = BTreeMap::new();
    map.insert(
        REPLICA.to_owned(),
        Some(RestoreStatus {
            is_restoring: Some(restoring),
            current_restoring_backup: restoring.then(|| backup.to_owned()),
            last_restored: (!restoring).then(|| backup.to_owned()),
            progress: Some(progress),
            state: Some(if restoring { "in_progress" } else { "complete" }.to_owned()),
            ..RestoreStatus::default()
        }),
    );
    map
}

fn begin(env: &mut Env, name: &str, url: &str) -> Result<(), SimError> {
    let backup = decode_backup_url(url).map(|u| u.backup).unwrap_or_default();
    let now = env.now();
    env.store.update::<Volume>(NAMESPACE, name, |v| {
        v.status
            .get_or_insert_with(Default::default)
            .restore_initiated = Some(true);
        set_condition(
            v,
            restore_condition(
                wellknown::LONGHORN_REASON_RESTORE_IN_PROGRESS,
                "",
                true,
                &now,
            ),
        );
    })?;
    env.store
        .update::<Engine>(NAMESPACE, &names::engine(name), |e| {
            e.status.get_or_insert_with(Default::default).restore_status =
                Some(replica_status(&backup, true, 0));
        })?;
    Ok(())
}

fn complete(
    lh: &mut Longhorn,
    env: &mut Env,
    v: &Volume,
    name: &str,
    url: &str,
) -> Result<(), SimError> {
    let now = env.now();
    let result = decode_backup_url(url)
        .map_err(|e| e.to_string())
        .and_then(|u| {
            let server = reachable_target(env)?;
            let path = lh.volume_path(name);
            server
                .restore(&u.volume, &u.backup, &path)
                .map_err(|e| e.to_string())?;
            // The restored image is the size of the backed-up volume; the
            // volume keeps its own size.
            let size: u64 = v
                .spec
                .size
                .as_deref()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0);
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            let len = f
                .metadata()
                .map_err(|e| format!("{}: {e}", path.display()))?
                .len();
            if len < size {
                f.set_len(size)
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
            Ok(u.backup)
        });
    let r = ObjectRef::namespaced(Kind::LonghornVolume, NAMESPACE, name);
    match result {
        Ok(backup) => {
            env.store.update::<Volume>(NAMESPACE, name, |v| {
                let s = v.status.get_or_insert_with(Default::default);
                s.restore_required = Some(false);
                s.last_backup = Some(backup.clone());
                set_condition(v, restore_condition("", "", false, &now));
            })?;
            env.store
                .update::<Engine>(NAMESPACE, &names::engine(name), |e| {
                    let s = e.status.get_or_insert_with(Default::default);
                    s.restore_status = Some(replica_status(&backup, false, 100));
                    s.last_restored_backup = Some(backup.clone());
                })?;
            env.event(
                MANAGER,
                r,
                EventType::Normal,
                "Restored",
                format!("restored from backup {backup}"),
            );
        }
        Err(why) => {
            env.store.update::<Volume>(NAMESPACE, name, |v| {
                set_condition(
                    v,
                    restore_condition(wellknown::LONGHORN_REASON_RESTORE_FAILURE, &why, true, &now),
                );
            })?;
            env.event(MANAGER, r, EventType::Warning, "RestoreFailed", why);
        }
    }
    Ok(())
}

/// Records the PV and PVC that use the volume (`status.kubernetesStatus`).
fn kubernetes_status(env: &mut Env, name: &str) -> Result<(), SimError> {
    let pv = env
        .store
        .list::<Pv>()
        .find(|pv| {
            pv.spec
                .as_ref()
                .and_then(|s| s.csi.as_ref())
                .is_some_and(|c| c.volume_handle == name)
        })
        .cloned();
    let Some(pv) = pv else {
        return Ok(());
    };
    let claim = pv.spec.as_ref().and_then(|s| s.claim_ref.clone());
    let status = KubernetesStatus {
        pv_name: pv.metadata.name.clone(),
        pv_status: pv.status.as_ref().and_then(|s| s.phase.clone()),
        namespace: claim.as_ref().and_then(|c| c.namespace.clone()),
        pvc_name: claim.as_ref().and_then(|c| c.name.clone()),
        ..KubernetesStatus::default()
    };
    env.store.update::<Volume>(NAMESPACE, name, |v| {
        v.status
            .get_or_insert_with(Default::default)
            .kubernetes_status = Some(status);
    })?;
    Ok(())
}

//! Target sync (rediscovery): decide whether a sync is due, import VM
//! backups whose metadata, volumes and Longhorn backups are all present,
//! report every file that is skipped (as a finding and in the setting's
//! status), and record the sync on the setting as Harvester does.
//!
//! Triggers: the setting's value changed (its SHA-224 differs from the
//! recorded one), the target came back after being unavailable, a request
//! (option or annotation), and the periodic timer when
//! `refreshIntervalInSeconds` > 0. With 0 the first three still work.

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, Utc};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use sha2::{Digest, Sha224};
use vmbackup_api::harvester::{Setting, SettingStatus, VirtualMachineBackupStatus};
use vmbackup_api::wellknown;
use vmbackup_api::{VirtualMachineBackup, VolumeBackup};

use crate::conditions;
use crate::context::{
    ANNOTATION_SYNC_REQUESTED_AT, ANNOTATION_TARGET_UNAVAILABLE_SINCE,
    ANNOTATION_WAITING_FOR_LONGHORN, CONDITION_REDISCOVERY, Ctx, LONGHORN_DEFAULT_POLL, Out,
    TargetConfig, TargetRead, UNAVAILABLE_RETRY, create, deleting, parse_duration, patch_action,
    pinned,
};
use crate::finding::{Code, Finding, Severity};
use crate::metadata::VmBackupMetadata;
use crate::object::{Kind, ObjectRef};
use crate::plan::{Action, Reconciler};
use crate::reconcile::backup;
use crate::target::TargetListing;

const R: Reconciler = Reconciler::TargetSync;

/// Longest message written into the setting's status.
const MAX_STATUS_MESSAGE: usize = 2000;

/// Lowercase hex SHA-224 of a setting value (Harvester's `hash` annotation).
pub fn value_hash(value: &str) -> String {
    hex::encode(Sha224::digest(value.as_bytes()))
}

/// Why a sync runs now, if it does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Due {
    /// Not due; when the timer fires, if it is on.
    No(Option<Duration>),
    /// Due, for this reason.
    Yes(String),
}

/// Decides whether a rediscovery is due.
pub fn due(ctx: &Ctx, setting: &Setting, interval: i64) -> Due {
    let annotations = setting.metadata.annotations.clone().unwrap_or_default();
    let hash = value_hash(setting.effective_value());
    if annotations.get(wellknown::ANNOTATION_SETTING_HASH) != Some(&hash) {
        return Due::Yes("the backup-target setting changed".into());
    }
    if annotations.contains_key(ANNOTATION_TARGET_UNAVAILABLE_SINCE) {
        return Due::Yes("the backup target was unavailable: check whether it is back".into());
    }
    if ctx.options.sync_now {
        return Due::Yes("a rediscovery was requested".into());
    }
    let last = match annotations.get(wellknown::ANNOTATION_SETTING_LAST_REFRESH_TIME) {
        None => DateTime::<Utc>::UNIX_EPOCH,
        Some(text) => match DateTime::parse_from_rfc3339(text) {
            Ok(t) => t.with_timezone(&Utc),
            Err(_) => return Due::Yes("the last refresh time is unreadable".into()),
        },
    };
    if let Some(requested) = annotations
        .get(ANNOTATION_SYNC_REQUESTED_AT)
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        && requested.with_timezone(&Utc) > last
    {
        return Due::Yes("a rediscovery was requested".into());
    }
    if annotations.contains_key(ANNOTATION_WAITING_FOR_LONGHORN)
        && let Some(why) = waiting_for_longhorn(ctx, last)
    {
        return Due::Yes(why);
    }
    if interval <= 0 {
        return Due::No(None);
    }
    let next = last + chrono::Duration::seconds(interval);
    if ctx.now >= next {
        Due::Yes(format!("periodic rediscovery (every {interval} s)"))
    } else {
        Due::No((next - ctx.now).to_std().ok())
    }
}

/// Whether the last rediscovery, which skipped backups only because
/// Longhorn had not synced their Backup CRs, should run again: Longhorn's
/// BackupTarget synced since (or, when Longhorn does not say, a retry
/// interval passed).
fn waiting_for_longhorn(ctx: &Ctx, last: DateTime<Utc>) -> Option<String> {
    let synced = ctx
        .view
        .backup_targets()
        .get(wellknown::LONGHORN_DEFAULT_BACKUP_TARGET)
        .and_then(|bt| bt.status.as_ref())
        .and_then(|s| s.last_synced_at.as_deref())
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc));
    let ready = match synced {
        Some(synced) => synced > last,
        None => ctx.now >= last + chrono::Duration::from_std(UNAVAILABLE_RETRY).ok()?,
    };
    ready.then(|| "backups on the target waited for Longhorn to sync their Backup objects".into())
}

/// Plans the target sync.
pub fn reconcile(ctx: &Ctx, out: &mut Out) {
    let Some(setting) = ctx.view.setting(wellknown::SETTING_BACKUP_TARGET) else {
        return;
    };
    let setting_ref = ObjectRef::cluster(Kind::Setting, wellknown::SETTING_BACKUP_TARGET);
    let mut want = setting.clone();
    let config = match &ctx.target {
        TargetConfig::Configured(s) => s.clone(),
        TargetConfig::NotConfigured => {
            if let Some(a) = want.metadata.annotations.as_mut() {
                a.remove(wellknown::ANNOTATION_SETTING_HASH);
                a.remove(wellknown::ANNOTATION_SETTING_LAST_REFRESH_TIME);
                a.remove(ANNOTATION_TARGET_UNAVAILABLE_SINCE);
                a.remove(ANNOTATION_WAITING_FOR_LONGHORN);
            }
            if let Some(action) = patch_action(setting_ref, &setting.metadata, setting, &want) {
                out.step(R, action, "no backup target: forget the last rediscovery");
            }
            return;
        }
        TargetConfig::Invalid(_) | TargetConfig::Unknown => return,
    };
    let interval = config.refresh_interval_seconds();
    if interval <= 0 {
        out.finding(
            Finding::new(Code::RefreshDisabled, Severity::Info, setting_ref.clone())
                .message(format!(
                    "refreshIntervalInSeconds is {}: backups are rediscovered from {} only when the setting changes, when the target comes back, or on request",
                    config.refresh_interval_in_seconds.map_or("not set (0)".to_owned(), |i| i.to_string()),
                    config.url()
                ))
                .impact("backups another cluster writes to the target, or that Longhorn syncs after a rediscovery, do not appear here by themselves")
                .fix("set refreshIntervalInSeconds (for example 300) in the backup-target setting, or ask for one rediscovery now by setting the annotation `vmbackup.io/sync-requested-at` on the setting to the current time (RFC 3339)"),
        );
    }
    let lh_unavailable = ctx
        .view
        .backup_targets()
        .values()
        .any(|bt| bt.status.as_ref().and_then(|s| s.available) == Some(false));
    let unavailable = matches!(ctx.read, TargetRead::Unavailable(_))
        || (lh_unavailable && ctx.listing().is_none());
    let annotations = want.metadata.annotations.get_or_insert_with(BTreeMap::new);
    if unavailable {
        annotations
            .entry(ANNOTATION_TARGET_UNAVAILABLE_SINCE.to_owned())
            .or_insert_with(|| ctx.now_text.clone());
        out.requeue(UNAVAILABLE_RETRY);
        if let Some(action) = patch_action(setting_ref, &setting.metadata, setting, &want) {
            out.step(
                R,
                action,
                "record that the backup target is unavailable, to rediscover when it is back",
            );
        }
        return;
    }
    let reason = match due(ctx, setting, interval) {
        Due::No(next) => {
            if let Some(next) = next {
                out.requeue(next);
            }
            return;
        }
        Due::Yes(reason) => reason,
    };
    let Some(listing) = ctx.listing() else {
        out.wants_target_scan = true;
        return;
    };
    let summary = rediscover(ctx, listing, out);
    let annotations = want.metadata.annotations.get_or_insert_with(BTreeMap::new);
    annotations.insert(
        wellknown::ANNOTATION_SETTING_HASH.to_owned(),
        value_hash(setting.effective_value()),
    );
    annotations.insert(
        wellknown::ANNOTATION_SETTING_LAST_REFRESH_TIME.to_owned(),
        ctx.now_text.clone(),
    );
    annotations.remove(ANNOTATION_TARGET_UNAVAILABLE_SINCE);
    if summary.waits_for_longhorn {
        annotations.insert(
            ANNOTATION_WAITING_FOR_LONGHORN.to_owned(),
            "true".to_owned(),
        );
    } else {
        annotations.remove(ANNOTATION_WAITING_FOR_LONGHORN);
    }
    let status = want.status.get_or_insert_with(SettingStatus::default);
    conditions::set(
        &mut status.conditions,
        CONDITION_REDISCOVERY,
        summary.skipped.is_empty(),
        None,
        &summary.message(),
        &ctx.now_text,
    );
    if let Some(action) = patch_action(setting_ref, &setting.metadata, setting, &want) {
        out.step(R, action, format!("record the rediscovery ({reason})"));
    }
    if interval > 0 {
        out.requeue(Duration::from_secs(interval.unsigned_abs()));
    }
}

/// What a rediscovery did.
#[derive(Debug, Default)]
struct Summary {
    imported: Vec<String>,
    skipped: Vec<(String, String)>,
    waits_for_longhorn: bool,
}

impl Summary {
    fn message(&self) -> String {
        let mut text = format!(
            "imported {}, skipped {}",
            self.imported.len(),
            self.skipped.len()
        );
        for (path, why) in &self.skipped {
            let line = format!("; {path}: {why}");
            if text.len() + line.len() > MAX_STATUS_MESSAGE {
                text.push_str("; …");
                break;
            }
            text.push_str(&line);
        }
        text
    }
}

fn rediscover(ctx: &Ctx, listing: &TargetListing, out: &mut Out) -> Summary {
    let view = ctx.view;
    let mut summary = Summary::default();
    let mut wants_longhorn_sync = false;
    for bad in &listing.unreadable {
        out.finding(
            Finding::new(Code::UnreadableMetadata, Severity::Warning, ObjectRef::cluster(Kind::TargetFile, &bad.path))
                .message(format!("metadata file {} cannot be used: {}", bad.path, bad.reason))
                .impact("the VM backup it describes is not rediscovered; the other files are")
                .fix("inspect the file with `vmbackup target ls`; rewrite it from the cluster that owns the backup, or remove it"),
        );
        summary.skipped.push((bad.path.clone(), bad.reason.clone()));
    }
    for ((ns, name), doc) in &listing.vm_backups {
        if view.vmbackup(ns, name).is_some() {
            continue;
        }
        let path = crate::naming::vmbackup_metadata_path(ns, name);
        let file_ref = ObjectRef::cluster(Kind::TargetFile, &path);
        match skip_reason(ctx, listing, doc) {
            Some((code, why, longhorn_pending)) => {
                wants_longhorn_sync |= longhorn_pending;
                let (impact, fix) = match code {
                    Code::MissingStorageClass => (
                        "the backup is not imported, so it cannot be restored here",
                        "create the storage class (for VM images: restore the image first), then rediscovery imports the backup",
                    ),
                    Code::BackupNotOnTarget => (
                        "the backup is not imported: part of its data is not on the target",
                        "check the target; a backup whose data is gone cannot be restored",
                    ),
                    Code::MissingLonghornBackup => (
                        "the backup is imported once Longhorn has synced its Backup objects from the target",
                        "nothing: vmbackup asked Longhorn to sync and retries; check the Longhorn BackupTarget is available",
                    ),
                    _ => ("the backup is not imported", "see the message"),
                };
                out.finding(
                    Finding::new(code, Severity::Warning, file_ref)
                        .message(format!(
                            "VM backup {ns}/{name} on the target is skipped: {why}"
                        ))
                        .impact(impact)
                        .fix(fix),
                );
                summary.skipped.push((path, why));
            }
            None => {
                if view.is_listed(Kind::Namespace) && view.namespace(ns).is_none() {
                    if !ctx.options.create_namespaces {
                        let why = format!("namespace {ns} does not exist");
                        out.finding(
                            Finding::new(Code::BackupBlocked, Severity::Warning, file_ref)
                                .message(format!(
                                    "VM backup {ns}/{name} on the target is skipped: {why}"
                                ))
                                .impact("the backup is not imported")
                                .fix(format!(
                                    "create namespace {ns}, or allow vmbackup to create namespaces"
                                )),
                        );
                        summary.skipped.push((path, why));
                        continue;
                    }
                    let namespace = vmbackup_api::core::Namespace {
                        metadata: ObjectMeta {
                            name: Some(ns.clone()),
                            ..ObjectMeta::default()
                        },
                        ..Default::default()
                    };
                    out.step(
                        R,
                        create(namespace),
                        format!("namespace {ns} for rediscovered backup {name}"),
                    );
                }
                import(ctx, doc, out);
                summary.imported.push(format!("{ns}/{name}"));
            }
        }
    }
    if wants_longhorn_sync {
        request_longhorn_sync(ctx, out);
    }
    summary.waits_for_longhorn = wants_longhorn_sync;
    summary
}

/// Why a metadata document is not imported: (code, reason, waiting on Longhorn).
fn skip_reason(
    ctx: &Ctx,
    listing: &TargetListing,
    doc: &VmBackupMetadata,
) -> Option<(Code, String, bool)> {
    let view = ctx.view;
    if doc.volume_backups.is_empty() {
        return Some((
            Code::BackupBlocked,
            "it lists no volume backups".into(),
            false,
        ));
    }
    for vb in &doc.volume_backups {
        let vb_name = vb.name.as_deref().unwrap_or(&vb.volume_name);
        if let Some(sc) = vb
            .persistent_volume_claim
            .spec
            .as_ref()
            .and_then(|s| s.storage_class_name.as_deref())
            && view.is_listed(Kind::StorageClass)
            && view.storage_class(sc).is_none_or(|c| deleting(&c.metadata))
        {
            return Some((
                Code::MissingStorageClass,
                format!("storage class {sc} of volume backup {vb_name} does not exist"),
                false,
            ));
        }
        let Some(lhb) = vb.longhorn_backup_name.as_deref() else {
            return Some((
                Code::BackupBlocked,
                format!("volume backup {vb_name} is not a Longhorn backup"),
                false,
            ));
        };
        let volume = vb.pv_name().unwrap_or_default();
        if !listing.has_complete_backup(volume, lhb) {
            return Some((
                Code::BackupNotOnTarget,
                format!(
                    "Longhorn backup {lhb} of volume {volume} is not (completely) on the backup target"
                ),
                false,
            ));
        }
        match view.longhorn_backup(lhb) {
            Some(b) if deleting(&b.metadata) => {
                return Some((
                    Code::MissingLonghornBackup,
                    format!("Longhorn Backup {lhb} is being deleted"),
                    false,
                ));
            }
            Some(b) if b.volume_name().is_some() => {}
            Some(_) => {
                return Some((
                    Code::MissingLonghornBackup,
                    format!("Longhorn Backup {lhb} has no volume name yet"),
                    true,
                ));
            }
            None => {
                return Some((
                    Code::MissingLonghornBackup,
                    format!("Longhorn has not synced Backup {lhb} from the target yet"),
                    true,
                ));
            }
        }
    }
    None
}

/// Creates the VMBackup described by `doc`, with its VolumeSnapshots and
/// contents (correct `bak://` handles), in one go.
fn import(ctx: &Ctx, doc: &VmBackupMetadata, out: &mut Out) {
    let ns = doc.namespace_or_default().to_owned();
    let volume_backups: Vec<VolumeBackup> = doc
        .volume_backups
        .iter()
        .cloned()
        .map(|mut vb| {
            vb.ready_to_use = Some(false);
            vb
        })
        .collect();
    let vmb = VirtualMachineBackup {
        metadata: ObjectMeta {
            name: Some(doc.name.clone()),
            namespace: Some(ns.clone()),
            ..ObjectMeta::default()
        },
        spec: doc.backup_spec.clone(),
        status: Some(VirtualMachineBackupStatus {
            ready_to_use: Some(false),
            backup_target: ctx.target.target_ref(),
            source: doc.vm_source_spec.clone(),
            volume_backups: Some(volume_backups),
            secret_backups: Some(doc.secret_backups.clone()),
            ..VirtualMachineBackupStatus::default()
        }),
        ..VirtualMachineBackup::default()
    };
    let mut unit = backup::Unit::default();
    let mut scratch = Out::default();
    let vmb = backup::desire(ctx, &vmb, false, &mut unit, &mut scratch);
    out.requeue(crate::context::PROGRESS_REQUEUE);
    out.step(
        R,
        create(vmb),
        format!("rediscovered backup {ns}/{} from the target", doc.name),
    );
    for (action, reason, _) in unit.creates {
        out.step(R, action, reason);
    }
}

/// Asks Longhorn to sync its BackupTarget now (spec.syncRequestedAt), unless
/// a request newer than its last sync is pending.
fn request_longhorn_sync(ctx: &Ctx, out: &mut Out) {
    let Some(bt) = ctx
        .view
        .backup_targets()
        .get(wellknown::LONGHORN_DEFAULT_BACKUP_TARGET)
    else {
        out.requeue(LONGHORN_DEFAULT_POLL);
        return;
    };
    let poll = bt
        .spec
        .poll_interval
        .as_deref()
        .and_then(parse_duration)
        .filter(|d| !d.is_zero());
    out.requeue(poll.unwrap_or(LONGHORN_DEFAULT_POLL).min(UNAVAILABLE_RETRY));
    let requested = bt
        .spec
        .sync_requested_at
        .as_deref()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
    let synced = bt
        .status
        .as_ref()
        .and_then(|s| s.last_synced_at.as_deref())
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok());
    let pending = match (requested, synced) {
        (Some(r), Some(s)) => r > s,
        (Some(_), None) => true,
        (None, _) => false,
    };
    if pending {
        return;
    }
    out.step(
        R,
        Action::Patch {
            target: ObjectRef::new(Kind::LonghornBackupTarget, bt.metadata.namespace.as_deref(), wellknown::LONGHORN_DEFAULT_BACKUP_TARGET),
            precondition: pinned(&bt.metadata),
            patch: serde_json::json!({"spec": {"syncRequestedAt": ctx.now_text}}).into(),
        },
        "ask Longhorn to sync Backup objects from the target for backups waiting to be rediscovered",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sha224_of_the_value() {
        assert_eq!(
            value_hash(""),
            "d14a028c2a3a2bc9476102bb288234c415a2b01f828ea62ac5b3e42f"
        );
    }
}

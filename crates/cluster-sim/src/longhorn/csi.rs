//! Longhorn's CSI driver: CreateVolume (empty, from a backup or from a
//! snapshot handle), CreateSnapshot (a backup or an in-cluster snapshot),
//! DeleteSnapshot and DeleteVolume. Handles are read with the API crate's
//! reproduction of the driver's own reading, so malformed handles behave as
//! they do upstream, and the errors carry the driver's messages.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use vmbackup_api::handle::longhorn::{self as reading, LonghornAction};
use vmbackup_api::longhorn::{
    Backup, BackupSpec, BackupStatus, BackupVolume, Engine, EngineSpec, Volume, VolumeSpec,
    VolumeStatus,
};
use vmbackup_api::wellknown;
use vmbackup_engine::{Kind, ObjectRef, Precondition};

use super::{CSI_PLUGIN, Longhorn, LonghornVersion, NAMESPACE, TARGET, names, round_size};
use crate::env::Env;
use crate::store::{ApiError, Store};

/// A gRPC status code the driver answers with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CsiCode {
    /// `NotFound`.
    NotFound,
    /// `InvalidArgument`.
    InvalidArgument,
    /// `Internal`.
    Internal,
}

impl fmt::Display for CsiCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CsiCode::NotFound => "NotFound",
            CsiCode::InvalidArgument => "InvalidArgument",
            CsiCode::Internal => "Internal",
        })
    }
}

/// An error answered by the driver, displayed as the sidecars log it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rpc error: code = {code} desc = {message}")]
pub struct CsiError {
    /// The status code.
    pub code: CsiCode,
    /// The driver's message.
    pub message: String,
}

impl CsiError {
    fn new(code: CsiCode, message: impl Into<String>) -> Self {
        CsiError {
            code,
            message: message.into(),
        }
    }
}

impl From<ApiError> for CsiError {
    fn from(e: ApiError) -> Self {
        CsiError::new(CsiCode::Internal, e.to_string())
    }
}

/// A volume the driver created.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedVolume {
    /// The volume id (the Longhorn volume name).
    pub id: String,
    /// Its size in bytes.
    pub capacity: i64,
}

/// A snapshot the driver cut (or is still cutting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CreatedSnapshot {
    /// The snapshot handle (`bak://…` or `snap://…`).
    pub handle: String,
    /// Whether it can be restored from yet.
    pub ready: bool,
    /// Size of the source volume.
    pub size: i64,
}

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: Some(NAMESPACE.to_owned()),
        ..ObjectMeta::default()
    }
}

impl Longhorn {
    /// CreateVolume: a volume of at least `size` bytes, empty or restored
    /// from the snapshot handle `source`.
    pub fn create_volume(
        &mut self,
        env: &mut Env,
        name: &str,
        size: i64,
        source: Option<&str>,
    ) -> Result<CreatedVolume, CsiError> {
        let size = round_size(size);
        let mut from_backup = None;
        let mut from_snapshot = None;
        if let Some(handle) = source {
            let read = reading::read(handle);
            match read.action() {
                LonghornAction::UseBackingImage => {
                    return Err(CsiError::new(
                        CsiCode::InvalidArgument,
                        format!("invalid CSI snapshotHandle {handle} for backing image"),
                    ));
                }
                LonghornAction::InvalidArgument => {
                    return Err(CsiError::new(
                        CsiCode::InvalidArgument,
                        format!(
                            "invalid CSI snapshot type: {}. Must be snap, bak or bi",
                            read.csi_type
                        ),
                    ));
                }
                LonghornAction::NotFound => {
                    return Err(CsiError::new(
                        CsiCode::NotFound,
                        format!("volume source snapshot {handle} is not found"),
                    ));
                }
                LonghornAction::CloneSnapshot => {
                    let path = self.snapshot_path(read.volume, read.id);
                    if !path.exists() {
                        return Err(CsiError::new(
                            CsiCode::NotFound,
                            format!("volume source snapshot {handle} is not found"),
                        ));
                    }
                    from_snapshot = Some(path);
                }
                LonghornAction::RestoreBackup => {
                    let url = self.resolve_backup_handle(env.store, handle);
                    if let Err(e) = &url
                        && e.message.ends_with("there is no backup volume")
                    {
                        env.log(
                            CSI_PLUGIN,
                            "debug",
                            format!("cannot find backup volume for volume {}", read.volume),
                        );
                    }
                    from_backup = Some(url?);
                }
            }
        }
        if let Some(existing) = env.store.get_as::<Volume>(NAMESPACE, name) {
            let capacity = existing
                .spec
                .size
                .as_deref()
                .and_then(|s| s.parse().ok())
                .unwrap_or(size);
            return Ok(CreatedVolume {
                id: name.to_owned(),
                capacity,
            });
        }
        let path = self.volume_path(name);
        let io = |e: std::io::Error| {
            CsiError::new(CsiCode::Internal, format!("{}: {e}", path.display()))
        };
        match &from_snapshot {
            Some(snap) => {
                std::fs::copy(snap, &path).map_err(io)?;
            }
            None => {
                let f = std::fs::File::create(&path).map_err(io)?;
                f.set_len(u64::try_from(size).unwrap_or(0)).map_err(io)?;
            }
        }
        let restoring = from_backup.is_some();
        env.store.create_with_status(Volume {
            metadata: meta(name),
            spec: VolumeSpec {
                size: Some(size.to_string()),
                from_backup: from_backup.clone(),
                data_engine: Some("v1".into()),
                number_of_replicas: Some(3),
                backup_target_name: (self.version == LonghornVersion::V1_8)
                    .then(|| TARGET.to_owned()),
                ..VolumeSpec::default()
            },
            status: Some(VolumeStatus {
                state: Some("detached".into()),
                robustness: Some("unknown".into()),
                restore_required: Some(restoring),
                ..VolumeStatus::default()
            }),
            ..Volume::default()
        })?;
        env.store.create(Engine {
            metadata: meta(&names::engine(name)),
            spec: EngineSpec {
                volume_name: Some(name.to_owned()),
                ..EngineSpec::default()
            },
            ..Engine::default()
        })?;
        Ok(CreatedVolume {
            id: name.to_owned(),
            capacity: size,
        })
    }

    /// The URL of the backup a `bak://` handle names, found the way this
    /// Longhorn version finds it (nothing is created or logged): what a
    /// restore from that handle would restore, or the driver's error.
    pub fn resolve_backup_handle(&self, store: &Store, handle: &str) -> Result<String, CsiError> {
        let read = reading::read(handle);
        if read.csi_type != reading::TYPE_BACKUP {
            return Err(CsiError::new(
                CsiCode::InvalidArgument,
                format!("{handle} is not a backup handle"),
            ));
        }
        if read.id.is_empty() {
            return Err(CsiError::new(
                CsiCode::NotFound,
                format!("volume source snapshot {handle} is not found"),
            ));
        }
        let (volume, backup) = (read.volume, read.id);
        let found = match self.version {
            // Before 1.8 the BackupVolume is fetched by the handle's volume
            // part, and a missing one is answered with an empty stand-in:
            // only the backup name matters.
            LonghornVersion::V1_7 => store.get_as::<Backup>(NAMESPACE, backup).cloned(),
            LonghornVersion::V1_8 => {
                let any_backup_volume = store
                    .list::<BackupVolume>()
                    .any(|bv| bv.volume_name_spec() == Some(volume));
                if !any_backup_volume {
                    return Err(CsiError::new(
                        CsiCode::NotFound,
                        format!(
                            "failed to restore CSI snapshot {handle} of volume {volume}: there is no backup volume"
                        ),
                    ));
                }
                match store.get_as::<Backup>(NAMESPACE, backup) {
                    Some(b) => Some(b.clone()),
                    None => {
                        return Err(CsiError::new(
                            CsiCode::NotFound,
                            format!(
                                "failed to restore CSI snapshot {handle} : failed to get backup {backup}: backups.longhorn.io \"{backup}\" not found"
                            ),
                        ));
                    }
                }
            }
        };
        found
            .and_then(|b| b.status.and_then(|s| s.url))
            .filter(|u| !u.is_empty())
            .ok_or_else(|| {
                CsiError::new(
                    CsiCode::NotFound,
                    format!("failed to restore CSI snapshot {handle} backup {backup} unavailable"),
                )
            })
    }

    /// CreateSnapshot named `name` (the snapshot controller passes
    /// `snapshot-<VolumeSnapshot uid>`) of volume `volume`. Called again
    /// until the snapshot is ready; it answers from what exists.
    pub fn create_snapshot(
        &mut self,
        env: &mut Env,
        name: &str,
        volume: &str,
        parameters: &BTreeMap<String, String>,
    ) -> Result<CreatedSnapshot, CsiError> {
        let csi_type = parameters
            .get(wellknown::VSCLASS_PARAMETER_TYPE)
            .map(String::as_str)
            .unwrap_or_default();
        let Some(vol) = env.store.get_as::<Volume>(NAMESPACE, volume).cloned() else {
            return Err(CsiError::new(
                CsiCode::NotFound,
                format!("volume {volume} not found"),
            ));
        };
        let size = vol
            .spec
            .size
            .as_deref()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        let snapshot_file = self.snapshot_path(volume, name);
        match csi_type {
            "" | "bak" | "bs" => {}
            "snap" => {
                self.cut_snapshot(volume, &snapshot_file)?;
                return Ok(CreatedSnapshot {
                    handle: reading::write("snap", volume, name),
                    ready: true,
                    size,
                });
            }
            other => {
                return Err(CsiError::new(
                    CsiCode::InvalidArgument,
                    format!("invalid CSI snapshot type: {other}. Must be snap, bak or bi"),
                ));
            }
        }
        let existing = env
            .store
            .list::<Backup>()
            .find(|b| {
                b.spec.snapshot_name.as_deref() == Some(name)
                    && b.backup_volume_label() == Some(volume)
            })
            .cloned();
        let backup = match existing {
            Some(b) => b,
            None => {
                super::reachable_target(env).map_err(|e| {
                    CsiError::new(
                        CsiCode::Internal,
                        format!("failed to create backup of volume {volume}: {e}"),
                    )
                })?;
                self.cut_snapshot(volume, &snapshot_file)?;
                let backup_name = self.ids.generated_name("backup");
                let mut labels = BTreeMap::new();
                labels.insert(
                    wellknown::LABEL_LONGHORN_BACKUP_VOLUME.to_owned(),
                    volume.to_owned(),
                );
                if self.version == LonghornVersion::V1_8 {
                    labels.insert(
                        wellknown::LABEL_LONGHORN_BACKUP_TARGET.to_owned(),
                        TARGET.to_owned(),
                    );
                }
                let mut m = meta(&backup_name);
                m.labels = Some(labels);
                m.finalizers = Some(vec![wellknown::FINALIZER_LONGHORN.to_owned()]);
                let created = env.store.create_with_status(Backup {
                    metadata: m,
                    spec: BackupSpec {
                        snapshot_name: Some(name.to_owned()),
                        backup_mode: Some("incremental".into()),
                        ..BackupSpec::default()
                    },
                    status: Some(BackupStatus {
                        state: Some(String::new()),
                        snapshot_name: Some(name.to_owned()),
                        volume_name: Some(volume.to_owned()),
                        ..BackupStatus::default()
                    }),
                    ..Backup::default()
                })?;
                env.log(
                    CSI_PLUGIN,
                    "info",
                    format!("CreateSnapshot: backing up volume {volume} as {backup_name} from snapshot {name}"),
                );
                match created {
                    vmbackup_engine::Object::LonghornBackup(b) => *b,
                    _ => return Err(CsiError::new(CsiCode::Internal, "unexpected object")),
                }
            }
        };
        let backup_name = backup.metadata.name.clone().unwrap_or_default();
        if backup.state() == "Error" {
            let why = backup
                .status
                .as_ref()
                .and_then(|s| s.error.clone())
                .unwrap_or_default();
            return Err(CsiError::new(
                CsiCode::Internal,
                format!("backup {backup_name} of volume {volume} failed: {why}"),
            ));
        }
        Ok(CreatedSnapshot {
            handle: reading::write("bak", volume, &backup_name),
            ready: backup.is_completed(),
            size,
        })
    }

    fn cut_snapshot(&self, volume: &str, to: &std::path::Path) -> Result<(), CsiError> {
        if to.exists() {
            return Ok(());
        }
        let io =
            |e: std::io::Error| CsiError::new(CsiCode::Internal, format!("{}: {e}", to.display()));
        if let Some(dir) = to.parent() {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        std::fs::copy(self.volume_path(volume), to).map_err(io)?;
        Ok(())
    }

    /// DeleteSnapshot: for a backup handle, deletes the Longhorn Backup
    /// through a BackupVolume found as this version finds it; when 1.8 finds
    /// none (a handle whose volume part is not a backup volume) it succeeds
    /// without deleting anything, as upstream does.
    pub fn delete_snapshot(&mut self, env: &mut Env, handle: &str) -> Result<(), CsiError> {
        let read = reading::read(handle);
        match read.csi_type {
            "bak" => {
                if read.id.is_empty() {
                    return Err(CsiError::new(
                        CsiCode::NotFound,
                        format!("volume source snapshot {handle} is not found"),
                    ));
                }
                if self.version == LonghornVersion::V1_8
                    && !env
                        .store
                        .list::<BackupVolume>()
                        .any(|bv| bv.volume_name_spec() == Some(read.volume))
                {
                    env.log(
                        CSI_PLUGIN,
                        "debug",
                        format!("cannot find backup volume for volume {}", read.volume),
                    );
                    return Ok(());
                }
                let r = ObjectRef::namespaced(Kind::LonghornBackup, NAMESPACE, read.id);
                env.store.delete(&r, &Precondition::none())?;
                env.log(
                    CSI_PLUGIN,
                    "info",
                    format!("DeleteSnapshot: deleting backup {} of {handle}", read.id),
                );
                Ok(())
            }
            "snap" => {
                let path = self.snapshot_path(read.volume, read.id);
                if path.exists() {
                    std::fs::remove_file(&path).map_err(|e| {
                        CsiError::new(CsiCode::Internal, format!("{}: {e}", path.display()))
                    })?;
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// DeleteVolume: the volume, its engine and its data.
    pub fn delete_volume(&mut self, env: &mut Env, name: &str) -> Result<(), CsiError> {
        for r in [
            ObjectRef::namespaced(Kind::LonghornVolume, NAMESPACE, name),
            ObjectRef::namespaced(Kind::LonghornEngine, NAMESPACE, names::engine(name)),
        ] {
            env.store.delete(&r, &Precondition::none())?;
        }
        let path = self.volume_path(name);
        if path.exists() {
            std::fs::remove_file(&path).map_err(|e| {
                CsiError::new(CsiCode::Internal, format!("{}: {e}", path.display()))
            })?;
        }
        Ok(())
    }
}

/// `spec.volumeName` of a BackupVolume, which Longhorn 1.8 matches on (the
/// `backup-volume` label is not consulted by the driver).
trait SpecVolume {
    fn volume_name_spec(&self) -> Option<&str>;
}

impl SpecVolume for BackupVolume {
    fn volume_name_spec(&self) -> Option<&str> {
        self.spec.volume_name.as_deref().filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::Clock;
    use crate::events::Events;
    use serde_json::json;
    use vmbackup_engine::Object;

    const URL: &str = "nfs://sim-nfs:/backups?backup=backup-1&volume=pvc-1";

    fn store(version: LonghornVersion) -> Store {
        let mut s = Store::new("csi-test");
        s.create(
            Object::from_value(
                json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "longhorn-system"}}),
            )
            .unwrap(),
        )
        .unwrap();
        let bv = match version {
            LonghornVersion::V1_7 => {
                json!({"apiVersion": "longhorn.io/v1beta2", "kind": "BackupVolume",
                "metadata": {"name": "pvc-1", "namespace": "longhorn-system"}, "spec": {}})
            }
            LonghornVersion::V1_8 => {
                json!({"apiVersion": "longhorn.io/v1beta2", "kind": "BackupVolume",
                "metadata": {"name": "pvc-1-0fbc591a", "namespace": "longhorn-system"},
                "spec": {"volumeName": "pvc-1", "backupTargetName": "default"}})
            }
        };
        s.create(Object::from_value(bv).unwrap()).unwrap();
        s.create_with_status(
            Object::from_value(
                json!({"apiVersion": "longhorn.io/v1beta2", "kind": "Backup",
                "metadata": {"name": "backup-1", "namespace": "longhorn-system"},
                "spec": {}, "status": {"state": "Completed", "volumeName": "pvc-1", "url": URL}}),
            )
            .unwrap(),
        )
        .unwrap();
        s
    }

    fn longhorn(version: LonghornVersion, dir: &std::path::Path) -> Longhorn {
        Longhorn::new(version, dir, "csi-test").unwrap()
    }

    fn resolve(version: LonghornVersion, handle: &str) -> Result<String, CsiError> {
        let dir = tempfile::tempdir().unwrap();
        longhorn(version, dir.path()).resolve_backup_handle(&store(version), handle)
    }

    #[test]
    fn longhorn_1_7_ignores_the_volume_part() {
        for h in [
            "bak://pvc-1/backup-1",
            "bs://vm1-disk-0/backup-1",
            "bak:///backup-1",
        ] {
            assert_eq!(resolve(LonghornVersion::V1_7, h).unwrap(), URL, "{h}");
        }
        let e = resolve(LonghornVersion::V1_7, "bs://vm1-disk-0/backup-2").unwrap_err();
        assert_eq!(e.code, CsiCode::NotFound);
        assert!(e.message.ends_with("backup backup-2 unavailable"), "{e}");
    }

    #[test]
    fn longhorn_1_8_needs_a_backup_volume_for_the_volume_part() {
        assert_eq!(
            resolve(LonghornVersion::V1_8, "bak://pvc-1/backup-1").unwrap(),
            URL
        );
        assert_eq!(
            resolve(LonghornVersion::V1_8, "bs://pvc-1/backup-1").unwrap(),
            URL
        );
        // Parts after the id are dropped, as the driver drops them.
        assert_eq!(
            resolve(LonghornVersion::V1_8, "bak://pvc-1/backup-1/extra").unwrap(),
            URL
        );
        let e = resolve(LonghornVersion::V1_8, "bs://vm1-disk-0/backup-1").unwrap_err();
        assert_eq!(
            e.to_string(),
            "rpc error: code = NotFound desc = failed to restore CSI snapshot bs://vm1-disk-0/backup-1 of volume vm1-disk-0: there is no backup volume"
        );
        let e = resolve(LonghornVersion::V1_8, "bak://pvc-1/backup-9").unwrap_err();
        assert_eq!(e.code, CsiCode::NotFound);
        assert!(e.message.contains("failed to get backup backup-9"), "{e}");
        // The BackupVolume's name is never what is matched.
        let e = resolve(LonghornVersion::V1_8, "bak://pvc-1-0fbc591a/backup-1").unwrap_err();
        assert!(e.message.ends_with("there is no backup volume"), "{e}");
    }

    #[test]
    fn malformed_handles_are_answered_as_the_driver_answers_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut lh = longhorn(LonghornVersion::V1_8, dir.path());
        let mut s = store(LonghornVersion::V1_8);
        let mut events = Events::default();
        let mut env = Env {
            store: &mut s,
            events: &mut events,
            clock: Clock::default(),
            server: None,
        };
        let cases = [
            ("bak://pvc-1/", CsiCode::NotFound),
            ("bak://pvc-1", CsiCode::InvalidArgument),
            ("BAK://pvc-1/backup-1", CsiCode::InvalidArgument),
            ("backup-1", CsiCode::InvalidArgument),
            ("bi://anything", CsiCode::InvalidArgument),
            ("bak://pvc-1//backup-1", CsiCode::NotFound),
            ("snap://pvc-1/no-such-snapshot", CsiCode::NotFound),
        ];
        for (handle, code) in cases {
            let e = lh
                .create_volume(&mut env, "pvc-new", 2 << 20, Some(handle))
                .unwrap_err();
            assert_eq!(e.code, code, "{handle}: {e}");
        }
        assert!(
            env.store.get_as::<Volume>(NAMESPACE, "pvc-new").is_none(),
            "nothing created"
        );
        // A wrong volume part on 1.8 is logged as the plugin logs it.
        let e = lh
            .create_volume(&mut env, "pvc-new", 2 << 20, Some("bs://os-vol/backup-1"))
            .unwrap_err();
        assert_eq!(e.code, CsiCode::NotFound);
        assert_eq!(
            env.events.logs().last().unwrap().message,
            "cannot find backup volume for volume os-vol"
        );
    }

    #[test]
    fn a_restore_creates_a_volume_that_restores_from_the_backup_url() {
        let dir = tempfile::tempdir().unwrap();
        let mut lh = longhorn(LonghornVersion::V1_8, dir.path());
        let mut s = store(LonghornVersion::V1_8);
        let mut events = Events::default();
        let mut env = Env {
            store: &mut s,
            events: &mut events,
            clock: Clock::default(),
            server: None,
        };
        let v = lh
            .create_volume(&mut env, "pvc-new", 3 << 20, Some("bak://pvc-1/backup-1"))
            .unwrap();
        assert_eq!(v.capacity, 4 << 20, "rounded up to 2 MiB");
        let vol = env.store.get_as::<Volume>(NAMESPACE, "pvc-new").unwrap();
        assert_eq!(vol.spec.from_backup.as_deref(), Some(URL));
        assert_eq!(vol.status.as_ref().unwrap().restore_required, Some(true));
        assert!(lh.volume_path("pvc-new").exists());
        // Idempotent, as CreateVolume is.
        assert_eq!(
            lh.create_volume(&mut env, "pvc-new", 3 << 20, Some("bak://pvc-1/backup-1"))
                .unwrap(),
            v
        );
    }

    #[test]
    fn delete_snapshot_on_1_8_leaves_a_backup_its_handle_cannot_reach() {
        let dir = tempfile::tempdir().unwrap();
        for (version, handle, deleted) in [
            (LonghornVersion::V1_8, "bs://vm1-disk-0/backup-1", false),
            (LonghornVersion::V1_8, "bak://pvc-1/backup-1", true),
            (LonghornVersion::V1_7, "bs://vm1-disk-0/backup-1", true),
        ] {
            let mut lh = longhorn(version, dir.path());
            let mut s = store(version);
            let mut events = Events::default();
            let mut env = Env {
                store: &mut s,
                events: &mut events,
                clock: Clock::default(),
                server: None,
            };
            lh.delete_snapshot(&mut env, handle).unwrap();
            assert_eq!(
                env.store.get_as::<Backup>(NAMESPACE, "backup-1").is_none(),
                deleted,
                "{version:?} {handle}"
            );
        }
    }
}

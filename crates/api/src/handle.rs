//! Longhorn CSI snapshot handles: parse, format and classify.
//!
//! A VolumeSnapshotContent's `snapshotHandle` tells Longhorn's CSI driver
//! what to restore from:
//!
//! | handle | class |
//! | --- | --- |
//! | `bak://<volume>/<backup>` | [`HandleClass::Backup`] |
//! | `bs://<volume>/<backup>` (deprecated alias) | [`HandleClass::LegacyBs`] |
//! | `snap://<volume>/<snapshot>` | [`HandleClass::Snapshot`] |
//! | `bi://backing?backingImage=...&...` | [`HandleClass::BackingImage`] |
//! | anything else | [`HandleClass::Malformed`], with a [`MalformedReason`] |
//!
//! [`SnapshotHandle::parse`] is strict: it accepts only handles whose parts
//! can name real Longhorn objects ([`names`]), and every handle it accepts is
//! read by Longhorn's driver the same way ([`longhorn::read`] reproduces the
//! driver's own splitting, edge cases included). Formatting a parsed handle
//! gives back the same string.
//!
//! Whether a well-formed handle resolves needs the cluster's objects and is
//! not decided here: the codec exposes the volume part, the backup name,
//! whether the prefix is the legacy `bs://`, and the canonical `bak://` form.
//!
//! ```
//! use vmbackup_api::handle::{HandleClass, MalformedReason, SnapshotHandle};
//!
//! let handle = SnapshotHandle::parse("bs://pvc-0123abcd-test/backup-854f6ced7b4942d4")?;
//! assert_eq!(handle.class(), HandleClass::LegacyBs);
//! assert_eq!(handle.volume(), Some("pvc-0123abcd-test"));
//! let canonical = handle.to_canonical_bak().expect("a Longhorn volume name");
//! assert_eq!(canonical.to_string(), "bak://pvc-0123abcd-test/backup-854f6ced7b4942d4");
//!
//! let err = SnapshotHandle::parse("bak://vol/backup-1/extra").unwrap_err();
//! assert_eq!(err.reason(), &MalformedReason::ExtraSlash);
//! # Ok::<(), vmbackup_api::handle::HandleError>(())
//! ```

mod backing_image;
mod class;
mod error;
pub mod longhorn;
pub mod names;

#[cfg(test)]
mod proptests;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use backing_image::{BackingImageParams, ExportType};
pub use class::HandleClass;
pub use error::{HandleError, HandlePart, MalformedReason};
pub use names::{
    BackingImageName, BackupName, LegacyVolumePart, NameError, NameKind, NameProblem, SnapshotName,
    VolumeName,
};

use error::clip;

/// A well-formed Longhorn CSI snapshot handle.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SnapshotHandle {
    /// `snap://<volume>/<snapshot>`: an in-cluster Longhorn snapshot.
    Snapshot {
        /// The Longhorn volume the snapshot belongs to.
        volume: VolumeName,
        /// The snapshot's name.
        snapshot: SnapshotName,
    },
    /// `bak://<volume>/<backup>` or the deprecated `bs://<volume>/<backup>`.
    Backup(BackupHandle),
    /// `bi://backing?...`: a backing image.
    BackingImage(BackingImageParams),
}

/// A backup handle, `bak://<volume>/<backup>` or the legacy
/// `bs://<volume>/<backup>`.
///
/// For `bak://` the volume part is always a Longhorn volume name; for
/// `bs://` it may instead be the PVC name older Harvester releases wrote.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct BackupHandle {
    volume: BackupVolumePart,
    backup: BackupName,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum BackupVolumePart {
    Bak(VolumeName),
    Bs(LegacyVolumePart),
}

impl BackupHandle {
    /// `bak://<volume>/<backup>`, the form Longhorn writes. `volume` is the
    /// Longhorn volume name (the Backup CR's `status.volumeName`).
    pub fn new(volume: VolumeName, backup: BackupName) -> Self {
        BackupHandle {
            volume: BackupVolumePart::Bak(volume),
            backup,
        }
    }

    /// `bs://<volume>/<backup>`, the deprecated form.
    pub fn legacy(volume: LegacyVolumePart, backup: BackupName) -> Self {
        BackupHandle {
            volume: BackupVolumePart::Bs(volume),
            backup,
        }
    }

    /// The volume part as written.
    pub fn volume(&self) -> &str {
        match &self.volume {
            BackupVolumePart::Bak(v) => v.as_str(),
            BackupVolumePart::Bs(v) => v.as_str(),
        }
    }

    /// The volume part as a Longhorn volume name, if it is one (always for
    /// `bak://`). Longhorn 1.8.1 and later match it against BackupVolumes'
    /// `spec.volumeName`.
    pub fn volume_name(&self) -> Option<VolumeName> {
        match &self.volume {
            BackupVolumePart::Bak(v) => Some(v.clone()),
            BackupVolumePart::Bs(v) => v.as_volume_name(),
        }
    }

    /// The backup's name: the Backup CR's name, and the backup's name on the
    /// backup target.
    pub fn backup(&self) -> &BackupName {
        &self.backup
    }

    /// Whether the handle uses the deprecated `bs://` prefix.
    pub fn is_legacy_prefix(&self) -> bool {
        matches!(self.volume, BackupVolumePart::Bs(_))
    }

    /// The scheme as written, `bak` or `bs`.
    pub fn scheme(&self) -> &'static str {
        if self.is_legacy_prefix() {
            longhorn::TYPE_BACKUP_DEPRECATED
        } else {
            longhorn::TYPE_BACKUP
        }
    }

    /// The same volume part and backup under `bak://`, as Longhorn itself
    /// reads a `bs://` handle; `None` if the volume part is not a Longhorn
    /// volume name. This only respells the handle: a `bs://<PVC name>/...`
    /// handle whose PVC name happens to be a valid volume name still names
    /// the wrong volume. To repair, use [`BackupHandle::with_volume`] with the
    /// Backup CR's `status.volumeName`.
    pub fn to_canonical_bak(&self) -> Option<BackupHandle> {
        self.volume_name()
            .map(|volume| BackupHandle::new(volume, self.backup.clone()))
    }

    /// `bak://<volume>/<same backup>`: the handle Longhorn writes for this
    /// backup when `volume` is its source volume.
    pub fn with_volume(&self, volume: VolumeName) -> BackupHandle {
        BackupHandle::new(volume, self.backup.clone())
    }
}

impl fmt::Display for BackupHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://{}/{}", self.scheme(), self.volume(), self.backup)
    }
}

impl SnapshotHandle {
    /// Parse and validate a handle.
    pub fn parse(handle: &str) -> Result<Self, HandleError> {
        parse_reason(handle).map_err(|reason| HandleError::new(handle, reason))
    }

    /// Parse a handle given as bytes; bytes that are not UTF-8 are
    /// [`MalformedReason::NotUtf8`].
    pub fn parse_bytes(handle: &[u8]) -> Result<Self, HandleError> {
        match std::str::from_utf8(handle) {
            Ok(handle) => Self::parse(handle),
            Err(_) => Err(HandleError::new(
                String::from_utf8_lossy(handle),
                MalformedReason::NotUtf8,
            )),
        }
    }

    /// `bak://<volume>/<backup>`.
    pub fn backup_handle(volume: VolumeName, backup: BackupName) -> Self {
        SnapshotHandle::Backup(BackupHandle::new(volume, backup))
    }

    /// The handle's class (never [`HandleClass::Malformed`]).
    pub fn class(&self) -> HandleClass {
        match self {
            SnapshotHandle::Snapshot { .. } => HandleClass::Snapshot,
            SnapshotHandle::Backup(b) if b.is_legacy_prefix() => HandleClass::LegacyBs,
            SnapshotHandle::Backup(_) => HandleClass::Backup,
            SnapshotHandle::BackingImage(_) => HandleClass::BackingImage,
        }
    }

    /// The backup handle, for `bak://` and `bs://`.
    pub fn as_backup(&self) -> Option<&BackupHandle> {
        match self {
            SnapshotHandle::Backup(b) => Some(b),
            _ => None,
        }
    }

    /// The volume part of a backup or snapshot handle, as written.
    pub fn volume(&self) -> Option<&str> {
        match self {
            SnapshotHandle::Snapshot { volume, .. } => Some(volume.as_str()),
            SnapshotHandle::Backup(b) => Some(b.volume()),
            SnapshotHandle::BackingImage(_) => None,
        }
    }

    /// The backup name of a backup handle.
    pub fn backup(&self) -> Option<&BackupName> {
        self.as_backup().map(BackupHandle::backup)
    }

    /// Whether this is a backup handle with the deprecated `bs://` prefix.
    pub fn is_legacy_prefix(&self) -> bool {
        self.as_backup().is_some_and(BackupHandle::is_legacy_prefix)
    }

    /// For a backup handle, the same parts under `bak://`; see
    /// [`BackupHandle::to_canonical_bak`].
    pub fn to_canonical_bak(&self) -> Option<SnapshotHandle> {
        self.as_backup()
            .and_then(BackupHandle::to_canonical_bak)
            .map(SnapshotHandle::Backup)
    }
}

impl fmt::Display for SnapshotHandle {
    /// The handle as Longhorn writes it; `format(parse(h)) == h`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SnapshotHandle::Snapshot { volume, snapshot } => {
                write!(f, "{}://{volume}/{snapshot}", longhorn::TYPE_SNAPSHOT)
            }
            SnapshotHandle::Backup(b) => b.fmt(f),
            SnapshotHandle::BackingImage(p) => p.fmt(f),
        }
    }
}

impl FromStr for SnapshotHandle {
    type Err = HandleError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl From<BackupHandle> for SnapshotHandle {
    fn from(handle: BackupHandle) -> Self {
        SnapshotHandle::Backup(handle)
    }
}

impl Serialize for SnapshotHandle {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SnapshotHandle {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The class of any string: its handle's class, or
/// [`HandleClass::Malformed`].
pub fn classify(handle: &str) -> HandleClass {
    SnapshotHandle::parse(handle).map_or(HandleClass::Malformed, |h| h.class())
}

/// The schemes whose handles are `<scheme>://<volume>/<name>`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PathScheme {
    Bak,
    Bs,
    Snap,
}

fn parse_reason(handle: &str) -> Result<SnapshotHandle, MalformedReason> {
    if handle.is_empty() {
        return Err(MalformedReason::Empty);
    }
    let Some((scheme, rest)) = handle.split_once("://") else {
        return Err(MalformedReason::MissingScheme);
    };
    let scheme = match scheme {
        longhorn::TYPE_BACKUP => Some(PathScheme::Bak),
        longhorn::TYPE_BACKUP_DEPRECATED => Some(PathScheme::Bs),
        longhorn::TYPE_SNAPSHOT => Some(PathScheme::Snap),
        longhorn::TYPE_BACKING_IMAGE => None,
        "" => {
            return Err(MalformedReason::EmptyPart {
                part: HandlePart::Scheme,
            });
        }
        other => {
            return Err(MalformedReason::UnknownScheme {
                scheme: clip(other),
            });
        }
    };
    if rest.contains("://") {
        return Err(MalformedReason::ExtraSchemeSeparator);
    }
    let Some(scheme) = scheme else {
        return BackingImageParams::parse(rest).map(SnapshotHandle::BackingImage);
    };
    let mut pieces = rest.split('/');
    let volume = pieces.next().unwrap_or_default();
    let Some(name) = pieces.next() else {
        return Err(MalformedReason::MissingSlash);
    };
    if pieces.next().is_some() {
        return Err(MalformedReason::ExtraSlash);
    }
    Ok(match scheme {
        PathScheme::Snap => SnapshotHandle::Snapshot {
            volume: part::<VolumeName>(HandlePart::Volume, volume)?,
            snapshot: part::<SnapshotName>(HandlePart::Snapshot, name)?,
        },
        PathScheme::Bak => SnapshotHandle::Backup(BackupHandle::new(
            part::<VolumeName>(HandlePart::Volume, volume)?,
            part::<BackupName>(HandlePart::Backup, name)?,
        )),
        PathScheme::Bs => SnapshotHandle::Backup(BackupHandle::legacy(
            part::<LegacyVolumePart>(HandlePart::Volume, volume)?,
            part::<BackupName>(HandlePart::Backup, name)?,
        )),
    })
}

/// Validate one part of a handle with its name type's constructor.
fn part<'a, T>(which: HandlePart, value: &'a str) -> Result<T, MalformedReason>
where
    T: TryFrom<&'a str, Error = NameError>,
{
    T::try_from(value).map_err(|e| MalformedReason::from_name(which, e.kind, value, e.problem))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(handle: &str) -> MalformedReason {
        SnapshotHandle::parse(handle).unwrap_err().reason().clone()
    }

    /// Every handle Longhorn's driver was checked against: our class and,
    /// for malformed ones, the reason.
    #[test]
    fn every_longhorn_vector_classified() {
        let cases: &[(&str, HandleClass, Option<MalformedReason>)] = &[
            (
                "bak://pvc-0123abcd-test/backup-854f6ced7b4942d4",
                HandleClass::Backup,
                None,
            ),
            (
                "bs://pvc-0123abcd-test/backup-854f6ced7b4942d4",
                HandleClass::LegacyBs,
                None,
            ),
            (
                "snap://pvc-0123abcd-test/snapshot-2f0a5c1e-1b1e-4c1e-9a7e-0d6c8c1b9f11",
                HandleClass::Snapshot,
                None,
            ),
            (
                "bak://pvc-0123abcd-test/backup-854f6ced7b4942d4/extra",
                HandleClass::Malformed,
                Some(MalformedReason::ExtraSlash),
            ),
            (
                "bak://pvc-0123abcd-test/",
                HandleClass::Malformed,
                Some(MalformedReason::EmptyPart {
                    part: HandlePart::Backup,
                }),
            ),
            (
                "bak:///backup-1",
                HandleClass::Malformed,
                Some(MalformedReason::EmptyPart {
                    part: HandlePart::Volume,
                }),
            ),
            (
                "bak://pvc-0123abcd-test",
                HandleClass::Malformed,
                Some(MalformedReason::MissingSlash),
            ),
            (
                "bak://vol//backup-1",
                HandleClass::Malformed,
                Some(MalformedReason::ExtraSlash),
            ),
            (
                "bak://a://b/c",
                HandleClass::Malformed,
                Some(MalformedReason::ExtraSchemeSeparator),
            ),
            (
                "BAK://vol/backup-1",
                HandleClass::Malformed,
                Some(MalformedReason::UnknownScheme {
                    scheme: "BAK".into(),
                }),
            ),
            (
                "backup-1",
                HandleClass::Malformed,
                Some(MalformedReason::MissingScheme),
            ),
            (
                "://vol/backup-1",
                HandleClass::Malformed,
                Some(MalformedReason::EmptyPart {
                    part: HandlePart::Scheme,
                }),
            ),
            (
                "bk://vol/backup-1",
                HandleClass::Malformed,
                Some(MalformedReason::UnknownScheme {
                    scheme: "bk".into(),
                }),
            ),
            ("", HandleClass::Malformed, Some(MalformedReason::Empty)),
            (
                "bi://backing?backingImage=bi-1&backingImageDataSourceType=export-from-volume&export-type=raw&volume-name=pvc-0123abcd-test",
                HandleClass::BackingImage,
                None,
            ),
            (
                "bi://anything",
                HandleClass::Malformed,
                Some(MalformedReason::MissingParameter {
                    name: "backingImage".into(),
                }),
            ),
        ];
        for (handle, class, why) in cases {
            assert_eq!(classify(handle), *class, "{handle}");
            match SnapshotHandle::parse(handle) {
                Ok(parsed) => {
                    assert_eq!(why, &None, "{handle}");
                    assert_eq!(parsed.to_string(), *handle);
                }
                Err(err) => {
                    assert_eq!(Some(err.reason()), why.as_ref(), "{handle}");
                    assert_eq!(err.handle(), *handle);
                    assert_eq!(err.class(), HandleClass::Malformed);
                }
            }
        }
    }

    #[test]
    fn backup_handle_parts() {
        let h = SnapshotHandle::parse("bak://pvc-0123abcd-test/backup-854f6ced7b4942d4").unwrap();
        assert_eq!(h.class(), HandleClass::Backup);
        assert_eq!(h.volume(), Some("pvc-0123abcd-test"));
        assert_eq!(h.backup().unwrap(), "backup-854f6ced7b4942d4");
        assert!(!h.is_legacy_prefix());
        let b = h.as_backup().unwrap();
        assert_eq!(b.scheme(), "bak");
        assert_eq!(b.volume_name().unwrap(), "pvc-0123abcd-test");
        assert_eq!(h.to_canonical_bak().unwrap(), h);
        assert_eq!(
            h,
            SnapshotHandle::backup_handle(
                VolumeName::new("pvc-0123abcd-test").unwrap(),
                BackupName::new("backup-854f6ced7b4942d4").unwrap()
            )
        );
    }

    #[test]
    fn legacy_handles_with_pvc_names() {
        // The form older Harvester releases wrote: the PVC name, not the volume.
        let h = SnapshotHandle::parse("bs://os-vol/backup-b1").unwrap();
        assert_eq!(h.class(), HandleClass::LegacyBs);
        assert!(h.is_legacy_prefix());
        assert_eq!(h.volume(), Some("os-vol"));
        assert_eq!(h.backup().unwrap(), "backup-b1");
        // Respelling keeps the (wrong) volume part ...
        assert_eq!(
            h.to_canonical_bak().unwrap().to_string(),
            "bak://os-vol/backup-b1"
        );
        // ... the repair uses the Backup CR's status.volumeName.
        let volume = VolumeName::new("pvc-5c31c54c-4315-46d9-a0b2-2a1113db8ce4").unwrap();
        let fixed = h.as_backup().unwrap().with_volume(volume);
        assert_eq!(
            fixed.to_string(),
            "bak://pvc-5c31c54c-4315-46d9-a0b2-2a1113db8ce4/backup-b1"
        );
        assert!(!fixed.is_legacy_prefix());

        // A PVC name longer than any Longhorn volume name: legacy-bs, but no
        // bak:// spelling exists.
        let long_pvc = format!("{}-rootdisk-0", "win2022-server".repeat(3));
        let h = SnapshotHandle::parse(&format!("bs://{long_pvc}/backup-1")).unwrap();
        assert_eq!(h.class(), HandleClass::LegacyBs);
        assert_eq!(h.to_canonical_bak(), None);
        assert!(h.as_backup().unwrap().volume_name().is_none());
        // The same under bak:// is too long for a Longhorn volume.
        assert_eq!(
            reason(&format!("bak://{long_pvc}/backup-1")),
            MalformedReason::TooLong {
                part: HandlePart::Volume,
                len: long_pvc.len(),
                max: 40
            }
        );
    }

    #[test]
    fn snapshot_handle_parts() {
        let h = SnapshotHandle::parse("snap://vol/snapshot-abc").unwrap();
        assert_eq!(h.class(), HandleClass::Snapshot);
        assert_eq!(h.volume(), Some("vol"));
        assert_eq!(h.backup(), None);
        assert_eq!(h.to_canonical_bak(), None);
        assert!(!h.is_legacy_prefix());
    }

    #[test]
    fn backing_image_handle_parts() {
        let h = SnapshotHandle::parse(
            "bi://backing?backingImage=bi-1&backingImageDataSourceType=export-from-volume&export-type=qcow2&volume-name=vol",
        )
        .unwrap();
        assert_eq!(h.class(), HandleClass::BackingImage);
        assert_eq!(h.volume(), None);
        let SnapshotHandle::BackingImage(params) = &h else {
            panic!("not a backing image: {h:?}");
        };
        assert_eq!(params.backing_image(), "bi-1");
        assert_eq!(params.export_type(), Some("qcow2"));
    }

    #[test]
    fn structural_edge_cases() {
        let cases: &[(&str, MalformedReason)] = &[
            ("bak://", MalformedReason::MissingSlash),
            (
                "bak:///",
                MalformedReason::EmptyPart {
                    part: HandlePart::Volume,
                },
            ),
            ("bak:////", MalformedReason::ExtraSlash),
            ("bak://v/b/", MalformedReason::ExtraSlash),
            ("bak://a/b://c", MalformedReason::ExtraSchemeSeparator),
            ("bak:/vol/backup-1", MalformedReason::MissingScheme),
            ("bak//vol/backup-1", MalformedReason::MissingScheme),
            (
                "Bak://vol/backup-1",
                MalformedReason::UnknownScheme {
                    scheme: "Bak".into(),
                },
            ),
            (
                " bak://vol/backup-1",
                MalformedReason::UnknownScheme {
                    scheme: " bak".into(),
                },
            ),
            (
                "s3://bucket@region/backupstore",
                MalformedReason::UnknownScheme {
                    scheme: "s3".into(),
                },
            ),
            (
                "snap:///snapshot-1",
                MalformedReason::EmptyPart {
                    part: HandlePart::Volume,
                },
            ),
            (
                "snap://vol/",
                MalformedReason::EmptyPart {
                    part: HandlePart::Snapshot,
                },
            ),
            (
                "bs:///backup-1",
                MalformedReason::EmptyPart {
                    part: HandlePart::Volume,
                },
            ),
            (
                "bs://vol/",
                MalformedReason::EmptyPart {
                    part: HandlePart::Backup,
                },
            ),
        ];
        for (handle, why) in cases {
            assert_eq!(&reason(handle), why, "{handle}");
        }
    }

    /// Handles Longhorn would read as a backup (or whose volume part it would
    /// compare) that we reject because no Longhorn object can carry the name.
    #[test]
    fn stricter_than_longhorn_on_names() {
        let cases: &[(&str, MalformedReason)] = &[
            (
                "bak://Vol/backup-1",
                MalformedReason::BadCharacters {
                    part: HandlePart::Volume,
                    value: "Vol".into(),
                    kind: NameKind::Volume,
                    ch: 'V',
                    index: 0,
                },
            ),
            (
                "bak://vol 1/backup-1",
                MalformedReason::BadCharacters {
                    part: HandlePart::Volume,
                    value: "vol 1".into(),
                    kind: NameKind::Volume,
                    ch: ' ',
                    index: 3,
                },
            ),
            (
                "bak://v/backup-1",
                MalformedReason::TooShort {
                    part: HandlePart::Volume,
                    value: "v".into(),
                    len: 1,
                    min: 2,
                },
            ),
            (
                "bak://vol/my_backup.v2",
                MalformedReason::BadCharacters {
                    part: HandlePart::Backup,
                    value: "my_backup.v2".into(),
                    kind: NameKind::Backup,
                    ch: '_',
                    index: 2,
                },
            ),
            (
                "bak://vol/backup-1\n",
                MalformedReason::BadCharacters {
                    part: HandlePart::Backup,
                    value: "backup-1\n".into(),
                    kind: NameKind::Backup,
                    ch: '\n',
                    index: 8,
                },
            ),
            (
                "bak://vol/backup%2D1",
                MalformedReason::BadCharacters {
                    part: HandlePart::Backup,
                    value: "backup%2D1".into(),
                    kind: NameKind::Backup,
                    ch: '%',
                    index: 6,
                },
            ),
            (
                "snap://vol/Snap",
                MalformedReason::BadCharacters {
                    part: HandlePart::Snapshot,
                    value: "Snap".into(),
                    kind: NameKind::Snapshot,
                    ch: 'S',
                    index: 0,
                },
            ),
            (
                &format!("bak://{}/backup-1", "v".repeat(41)),
                MalformedReason::TooLong {
                    part: HandlePart::Volume,
                    len: 41,
                    max: 40,
                },
            ),
            (
                &format!("bak://vol/{}", "b".repeat(254)),
                MalformedReason::TooLong {
                    part: HandlePart::Backup,
                    len: 254,
                    max: 253,
                },
            ),
        ];
        for (handle, why) in cases {
            assert_eq!(&reason(handle), why, "{handle}");
            // Longhorn itself splits these without complaint.
            let reading = longhorn::read(handle);
            assert!(!reading.csi_type.is_empty(), "{handle}");
        }
    }

    #[test]
    fn legacy_volume_part_rules() {
        assert_eq!(classify("bs://a/backup-1"), HandleClass::LegacyBs);
        assert_eq!(classify("bs://my_vol/backup-1"), HandleClass::LegacyBs);
        assert_eq!(
            reason("bs://My-Vol/backup-1"),
            MalformedReason::BadCharacters {
                part: HandlePart::Volume,
                value: "My-Vol".into(),
                kind: NameKind::LegacyVolume,
                ch: 'M',
                index: 0,
            }
        );
        assert_eq!(
            reason(&format!("bs://{}/backup-1", "v".repeat(254))),
            MalformedReason::TooLong {
                part: HandlePart::Volume,
                len: 254,
                max: 253,
            }
        );
    }

    #[test]
    fn bytes() {
        assert_eq!(
            SnapshotHandle::parse_bytes(b"bak://vol/backup-1")
                .unwrap()
                .class(),
            HandleClass::Backup
        );
        let err = SnapshotHandle::parse_bytes(b"bak://vol/backup-\xff").unwrap_err();
        assert_eq!(err.reason(), &MalformedReason::NotUtf8);
        assert_eq!(err.handle(), "bak://vol/backup-\u{fffd}");
    }

    #[test]
    fn hostile_values_are_clipped_in_reasons() {
        let scheme = "x".repeat(10_000);
        let err = SnapshotHandle::parse(&format!("{scheme}://vol/backup-1")).unwrap_err();
        let MalformedReason::UnknownScheme { scheme: kept } = err.reason() else {
            panic!("{err:?}");
        };
        assert!(kept.len() < 100);
        assert!(err.to_string().len() < 1000);
    }

    #[test]
    fn serde_as_string() {
        let h: SnapshotHandle = serde_json::from_str("\"bs://os-vol/backup-1\"").unwrap();
        assert_eq!(h.class(), HandleClass::LegacyBs);
        assert_eq!(
            serde_json::to_string(&h).unwrap(),
            "\"bs://os-vol/backup-1\""
        );
        let err = serde_json::from_str::<SnapshotHandle>("\"bak://v/b/c\"").unwrap_err();
        assert!(err.to_string().contains("extra `/`"), "{err}");
    }

    #[test]
    fn errors_name_the_handle_and_the_part() {
        let err = SnapshotHandle::parse("bak://vol/Backup-1").unwrap_err();
        let text = err.to_string();
        assert!(text.starts_with("malformed snapshot handle \"bak://vol/Backup-1\": "));
        assert!(text.contains("backup name \"Backup-1\""), "{text}");
        assert!(text.contains("'B' at index 0"), "{text}");
    }
}

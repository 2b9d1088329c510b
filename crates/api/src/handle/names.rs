//! The names that appear inside snapshot handles, each a validated newtype.
//!
//! Every rule here is one Longhorn or Kubernetes applies to the object the
//! name refers to, so a name that fails it cannot name a real object:
//!
//! | type | rule | length |
//! | --- | --- | --- |
//! | [`VolumeName`] | Longhorn's name rule `^[a-z0-9][a-z0-9_.-]+$` | 2..=40 |
//! | [`LegacyVolumePart`] | a [`VolumeName`], or a PVC name (Kubernetes object name) | 1..=253 |
//! | [`BackupName`] | Longhorn's name rule and a Kubernetes object name | 2..=253 |
//! | [`SnapshotName`] | a Kubernetes object name | 1..=253 |
//! | [`BackingImageName`] | Longhorn's name rule and a Kubernetes object name | 2..=40 |
//!
//! A Kubernetes object name is a DNS-1123 subdomain: lowercase letters,
//! digits, `-` and `.`, starting and ending with a letter or digit, and no
//! `.` next to another `.` or a `-`.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Which naming rule a name is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NameKind {
    /// A Longhorn volume name (`bak://` and `snap://` volume parts).
    Volume,
    /// The volume part of a `bs://` handle: a Longhorn volume name or a PVC name.
    LegacyVolume,
    /// A Longhorn backup name (the Backup CR's name).
    Backup,
    /// A Longhorn snapshot name (the Snapshot CR's name).
    Snapshot,
    /// A Longhorn backing image name.
    BackingImage,
    /// A key or value in the query of a `bi://` handle.
    QueryToken,
}

impl NameKind {
    /// What the name refers to, for messages ("backup name").
    pub fn noun(self) -> &'static str {
        match self {
            NameKind::Volume => "Longhorn volume name",
            NameKind::LegacyVolume => "volume part",
            NameKind::Backup => "backup name",
            NameKind::Snapshot => "snapshot name",
            NameKind::BackingImage => "backing image name",
            NameKind::QueryToken => "query parameter",
        }
    }

    /// The rule in words, for messages.
    pub fn rule(self) -> &'static str {
        match self {
            NameKind::Volume => {
                "a Longhorn volume name: 2 to 40 characters from a-z 0-9 _ . -, \
                 starting with a letter or digit"
            }
            NameKind::LegacyVolume => {
                "a Longhorn volume name (2 to 40 characters from a-z 0-9 _ . -, starting \
                 with a letter or digit) or a PVC name (up to 253 characters from a-z 0-9 . -, \
                 starting and ending with a letter or digit)"
            }
            NameKind::Backup => {
                "a Longhorn backup name: 2 to 253 characters from a-z 0-9 . -, \
                 starting and ending with a letter or digit"
            }
            NameKind::Snapshot => {
                "a Kubernetes object name: up to 253 characters from a-z 0-9 . -, \
                 starting and ending with a letter or digit"
            }
            NameKind::BackingImage => {
                "a Longhorn backing image name: 2 to 40 characters from a-z 0-9 . -, \
                 starting and ending with a letter or digit"
            }
            NameKind::QueryToken => {
                "up to 253 characters, written unescaped, from A-Z a-z 0-9 _ . -"
            }
        }
    }

    /// Shortest allowed length in bytes.
    pub fn min_len(self) -> usize {
        match self {
            NameKind::Volume | NameKind::Backup | NameKind::BackingImage => 2,
            NameKind::LegacyVolume | NameKind::Snapshot | NameKind::QueryToken => 1,
        }
    }

    /// Longest allowed length in bytes.
    pub fn max_len(self) -> usize {
        match self {
            NameKind::Volume | NameKind::BackingImage => LONGHORN_NAME_MAX,
            NameKind::LegacyVolume
            | NameKind::Backup
            | NameKind::Snapshot
            | NameKind::QueryToken => KUBERNETES_NAME_MAX,
        }
    }

    /// Check `name` against this rule.
    pub fn check(self, name: &str) -> Result<(), NameProblem> {
        match self {
            NameKind::Volume => check_longhorn_volume(name),
            NameKind::LegacyVolume => check_legacy_volume(name),
            NameKind::Backup | NameKind::Snapshot | NameKind::BackingImage => {
                check_object_name(name, self.min_len(), self.max_len())
            }
            NameKind::QueryToken => check_query_token(name),
        }
    }
}

impl fmt::Display for NameKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.noun())
    }
}

/// Longhorn's limit on volume and backing image names.
pub const LONGHORN_NAME_MAX: usize = 40;
/// Kubernetes' limit on object names (DNS-1123 subdomain).
pub const KUBERNETES_NAME_MAX: usize = 253;

/// Why a name breaks its rule. Positions are character indexes, from 0.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum NameProblem {
    /// The name is empty.
    Empty,
    /// The name is shorter than the rule allows.
    TooShort {
        /// Length in bytes.
        len: usize,
        /// Shortest allowed.
        min: usize,
    },
    /// The name is longer than the rule allows.
    TooLong {
        /// Length in bytes.
        len: usize,
        /// Longest allowed.
        max: usize,
    },
    /// A character is not allowed, or not allowed where it stands.
    BadCharacter {
        /// The offending character.
        ch: char,
        /// Its position (in characters, from 0).
        index: usize,
    },
}

impl fmt::Display for NameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NameProblem::Empty => f.write_str("empty"),
            NameProblem::TooShort { len, min } => {
                write!(f, "too short ({len} characters, at least {min})")
            }
            NameProblem::TooLong { len, max } => {
                write!(f, "too long ({len} characters, at most {max})")
            }
            NameProblem::BadCharacter { ch, index } => {
                write!(f, "character {ch:?} at index {index} is not allowed there")
            }
        }
    }
}

/// A name that breaks its rule, with the name and the rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {name:?}: {problem}; expected {rule}", rule = kind.rule())]
pub struct NameError {
    /// The rule that was broken.
    pub kind: NameKind,
    /// The name as given.
    pub name: String,
    /// What is wrong with it.
    pub problem: NameProblem,
}

fn is_lower_alnum(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit()
}

fn check_length(name: &str, min: usize, max: usize) -> Result<(), NameProblem> {
    let len = name.len();
    if len == 0 {
        return Err(NameProblem::Empty);
    }
    if len > max {
        return Err(NameProblem::TooLong { len, max });
    }
    if len < min {
        return Err(NameProblem::TooShort { len, min });
    }
    Ok(())
}

/// Longhorn's `^[a-z0-9][a-z0-9_.-]+$` with its 40-character volume limit.
fn check_longhorn_volume(name: &str) -> Result<(), NameProblem> {
    check_length(name, 2, LONGHORN_NAME_MAX)?;
    for (index, ch) in name.chars().enumerate() {
        let ok = if index == 0 {
            is_lower_alnum(ch)
        } else {
            is_lower_alnum(ch) || matches!(ch, '_' | '.' | '-')
        };
        if !ok {
            return Err(NameProblem::BadCharacter { ch, index });
        }
    }
    Ok(())
}

/// A DNS-1123 subdomain of `min..=max` bytes.
fn check_object_name(name: &str, min: usize, max: usize) -> Result<(), NameProblem> {
    check_length(name, min, max)?;
    let chars: Vec<char> = name.chars().collect();
    let last = chars.len() - 1;
    for (index, &ch) in chars.iter().enumerate() {
        let prev = index.checked_sub(1).map(|i| chars[i]);
        let next = chars.get(index + 1).copied();
        let ok = match ch {
            c if is_lower_alnum(c) => true,
            '-' => index != 0 && index != last,
            '.' => prev.is_some_and(is_lower_alnum) && next.is_some_and(is_lower_alnum),
            _ => false,
        };
        if !ok {
            return Err(NameProblem::BadCharacter { ch, index });
        }
    }
    Ok(())
}

/// A Longhorn volume name or a PVC name; on failure, the problem under the
/// rule that fits the name's length (Longhorn's up to 40 bytes, the PVC rule
/// beyond).
fn check_legacy_volume(name: &str) -> Result<(), NameProblem> {
    let as_volume = check_longhorn_volume(name);
    if as_volume.is_ok() {
        return Ok(());
    }
    let as_pvc = check_object_name(name, 1, KUBERNETES_NAME_MAX);
    match (as_pvc, as_volume) {
        (Ok(()), _) => Ok(()),
        (Err(pvc), Err(volume)) => {
            if name.len() > LONGHORN_NAME_MAX {
                Err(pvc)
            } else {
                Err(volume)
            }
        }
        (Err(pvc), Ok(())) => Err(pvc),
    }
}

fn check_query_token(name: &str) -> Result<(), NameProblem> {
    check_length(name, 1, KUBERNETES_NAME_MAX)?;
    for (index, ch) in name.chars().enumerate() {
        if !(ch.is_ascii_alphanumeric() || matches!(ch, '_' | '.' | '-')) {
            return Err(NameProblem::BadCharacter { ch, index });
        }
    }
    Ok(())
}

macro_rules! name_type {
    ($(#[$doc:meta])* $name:ident, $kind:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(String);

        impl $name {
            /// The rule this name follows.
            pub const KIND: NameKind = $kind;

            /// Validate `name`.
            pub fn new(name: impl Into<String>) -> Result<Self, NameError> {
                let name = name.into();
                match Self::KIND.check(&name) {
                    Ok(()) => Ok(Self(name)),
                    Err(problem) => Err(NameError { kind: Self::KIND, name, problem }),
                }
            }

            /// The name as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }

            /// The name as an owned string.
            pub fn into_string(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = NameError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::new(s)
            }
        }

        impl TryFrom<String> for $name {
            type Error = NameError;
            fn try_from(s: String) -> Result<Self, Self::Error> {
                Self::new(s)
            }
        }

        impl TryFrom<&str> for $name {
            type Error = NameError;
            fn try_from(s: &str) -> Result<Self, Self::Error> {
                Self::new(s)
            }
        }

        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.0 == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.0 == *other
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(&self.0)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                let s = String::deserialize(deserializer)?;
                Self::new(s).map_err(serde::de::Error::custom)
            }
        }
    };
}

name_type!(
    /// A Longhorn volume name, e.g. `pvc-5c31c54c-4315-46d9-a0b2-2a1113db8ce4`:
    /// Longhorn's name rule `^[a-z0-9][a-z0-9_.-]+$`, at most 40 characters.
    VolumeName,
    NameKind::Volume
);

name_type!(
    /// The volume part of a deprecated `bs://` handle: a Longhorn volume name,
    /// or the PVC name older Harvester releases wrote there.
    LegacyVolumePart,
    NameKind::LegacyVolume
);

name_type!(
    /// A Longhorn backup name, e.g. `backup-854f6ced7b4942d4`: the name of the
    /// Backup CR and of the backup on the target.
    BackupName,
    NameKind::Backup
);

name_type!(
    /// A Longhorn snapshot name, e.g. `snapshot-2f0a5c1e-1b1e-4c1e-9a7e-0d6c8c1b9f11`.
    SnapshotName,
    NameKind::Snapshot
);

name_type!(
    /// A Longhorn backing image name.
    BackingImageName,
    NameKind::BackingImage
);

impl LegacyVolumePart {
    /// The volume part as a Longhorn volume name, if it is one. Only then can
    /// Longhorn 1.8 and later resolve a `bs://` handle carrying it.
    pub fn as_volume_name(&self) -> Option<VolumeName> {
        VolumeName::new(self.0.clone()).ok()
    }
}

impl From<VolumeName> for LegacyVolumePart {
    fn from(volume: VolumeName) -> Self {
        LegacyVolumePart(volume.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Longhorn's own name rule (`^[a-z0-9][a-z0-9_.-]+$`), written out for
    /// comparison with the stricter rules.
    fn longhorn_regex(name: &str) -> bool {
        let mut chars = name.chars();
        match chars.next() {
            Some(c) if is_lower_alnum(c) => {}
            _ => return false,
        }
        let rest: Vec<char> = chars.collect();
        !rest.is_empty()
            && rest
                .iter()
                .all(|&c| is_lower_alnum(c) || matches!(c, '_' | '.' | '-'))
    }

    #[test]
    fn longhorn_name_validation_vectors() {
        // (name, valid under Longhorn's manager rule)
        let vectors = [
            ("pvc-0123abcd-test", true),
            ("BACKINGIMAGE", false),
            ("BackupStoreTestVolume", false),
            ("a", false),
            ("ab", true),
            ("_x1", false),
            ("-3-vol", false),
            ("ubuntu14.04_v1", true),
            ("123/456.a", false),
            ("vol ", false),
            ("backup-854f6ced7b4942d4", true),
            ("x.", true),
            ("9lives", true),
        ];
        for (name, manager_valid) in vectors {
            assert_eq!(longhorn_regex(name), manager_valid, "{name}");
            assert_eq!(
                VolumeName::new(name).is_ok(),
                manager_valid,
                "volume {name}"
            );
        }
    }

    #[test]
    fn volume_names() {
        assert!(VolumeName::new("pvc-5c31c54c-4315-46d9-a0b2-2a1113db8ce4").is_ok());
        assert!(VolumeName::new("vol").is_ok());
        let err = VolumeName::new("a").unwrap_err();
        assert_eq!(err.problem, NameProblem::TooShort { len: 1, min: 2 });
        let err = VolumeName::new("Vol").unwrap_err();
        assert_eq!(err.problem, NameProblem::BadCharacter { ch: 'V', index: 0 });
        let err = VolumeName::new("-vol").unwrap_err();
        assert_eq!(err.problem, NameProblem::BadCharacter { ch: '-', index: 0 });
        let err = VolumeName::new("vol/x").unwrap_err();
        assert_eq!(err.problem, NameProblem::BadCharacter { ch: '/', index: 3 });
        assert_eq!(VolumeName::new("").unwrap_err().problem, NameProblem::Empty);
        assert!(VolumeName::new("a".repeat(40)).is_ok());
        assert_eq!(
            VolumeName::new("a".repeat(41)).unwrap_err().problem,
            NameProblem::TooLong { len: 41, max: 40 }
        );
    }

    #[test]
    fn backup_names_are_kubernetes_object_names() {
        assert!(BackupName::new("backup-854f6ced7b4942d4").is_ok());
        assert!(BackupName::new("backup-example").is_ok());
        assert!(BackupName::new("a.b-c").is_ok());
        // Valid on the backup target, but no Backup CR can carry these names.
        for (name, ch, index) in [
            ("my_backup.v2", '_', 2),
            ("x.", '.', 1),
            ("Backup-1", 'B', 0),
            ("a..b", '.', 1),
            ("a.-b", '.', 1),
            ("a-.b", '.', 2),
            ("b-", '-', 1),
        ] {
            assert_eq!(
                BackupName::new(name).unwrap_err().problem,
                NameProblem::BadCharacter { ch, index },
                "{name}"
            );
        }
        assert_eq!(
            BackupName::new("b").unwrap_err().problem,
            NameProblem::TooShort { len: 1, min: 2 }
        );
        assert!(BackupName::new("b".repeat(253)).is_ok());
        assert_eq!(
            BackupName::new("b".repeat(254)).unwrap_err().problem,
            NameProblem::TooLong { len: 254, max: 253 }
        );
    }

    #[test]
    fn legacy_volume_parts_take_longhorn_or_pvc_names() {
        // PVC names as older Harvester wrote them.
        assert!(LegacyVolumePart::new("os-vol").is_ok());
        assert!(LegacyVolumePart::new("vm1-disk-0-ab12c").is_ok());
        assert!(LegacyVolumePart::new("a").is_ok());
        let long_pvc = format!("{}-disk", "v".repeat(60));
        assert!(LegacyVolumePart::new(long_pvc.as_str()).is_ok());
        // Longhorn volume names that are not PVC names.
        assert!(LegacyVolumePart::new("my_vol").is_ok());
        assert!(LegacyVolumePart::new("x.").is_ok());
        // Neither: the problem is reported under the rule for its length.
        assert_eq!(
            LegacyVolumePart::new("Vol").unwrap_err().problem,
            NameProblem::BadCharacter { ch: 'V', index: 0 }
        );
        let long_underscore = format!("{}_x", "v".repeat(45));
        assert_eq!(
            LegacyVolumePart::new(long_underscore).unwrap_err().problem,
            NameProblem::BadCharacter { ch: '_', index: 45 }
        );
        assert_eq!(
            LegacyVolumePart::new("v".repeat(254)).unwrap_err().problem,
            NameProblem::TooLong { len: 254, max: 253 }
        );
        let part = LegacyVolumePart::new("pvc-0123abcd-test").unwrap();
        assert_eq!(part.as_volume_name().unwrap(), "pvc-0123abcd-test");
        let part = LegacyVolumePart::new("a").unwrap();
        assert_eq!(part.as_volume_name(), None);
    }

    #[test]
    fn non_ascii_is_reported_by_character_index() {
        let err = BackupName::new("bäckup").unwrap_err();
        assert_eq!(err.problem, NameProblem::BadCharacter { ch: 'ä', index: 1 });
        let err = VolumeName::new("vol\u{0}").unwrap_err();
        assert_eq!(
            err.problem,
            NameProblem::BadCharacter { ch: '\0', index: 3 }
        );
    }

    #[test]
    fn error_names_the_value_and_the_rule() {
        let err = BackupName::new("x.").unwrap_err();
        let text = err.to_string();
        assert!(text.contains("backup name \"x.\""), "{text}");
        assert!(text.contains("'.' at index 1"), "{text}");
        assert!(
            text.contains("starting and ending with a letter or digit"),
            "{text}"
        );
    }

    #[test]
    fn serde_validates() {
        let name: BackupName = serde_json::from_str("\"backup-1\"").unwrap();
        assert_eq!(serde_json::to_string(&name).unwrap(), "\"backup-1\"");
        assert!(serde_json::from_str::<BackupName>("\"Backup_1\"").is_err());
    }
}

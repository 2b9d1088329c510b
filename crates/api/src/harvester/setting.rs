//! Harvester `Setting` objects and the decoded value of `backup-target`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use super::condition::Condition;
use crate::{Extra, k8s_object, preserving_serde, wellknown};

/// A Harvester setting (`harvesterhci.io/v1beta1`, cluster scoped). The
/// value is a string; for `backup-target` it is JSON, decoded by
/// [`Setting::backup_target`].
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct Setting {
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// The configured value.
    pub value: Option<String>,
    /// The default value, used when `value` is empty.
    pub default: Option<String>,
    /// Whether the value was changed by a user.
    pub customized: Option<bool>,
    /// Where the value came from.
    pub source: Option<String>,
    /// Conditions (`configured`).
    pub status: Option<SettingStatus>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
k8s_object!(
    Setting,
    group = "harvesterhci.io",
    version = "v1beta1",
    kind = "Setting",
    plural = "settings",
    namespaced = false
);

/// `Setting.status`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct SettingStatus {
    /// Conditions.
    pub conditions: Option<Vec<Condition>>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(SettingStatus);

impl Setting {
    /// The value in effect: `value` if non-empty, else `default`.
    pub fn effective_value(&self) -> &str {
        match self.value.as_deref() {
            Some(value) if !value.is_empty() => value,
            _ => self.default.as_deref().unwrap_or_default(),
        }
    }

    /// The decoded `backup-target` value. An empty value decodes to the
    /// unset target ([`BackupTargetSetting::is_unset`]).
    pub fn backup_target(&self) -> Result<BackupTargetSetting, SettingError> {
        let name = self.metadata.name.as_deref().unwrap_or_default();
        if name != wellknown::SETTING_BACKUP_TARGET {
            return Err(SettingError::NotBackupTarget {
                name: name.to_owned(),
            });
        }
        BackupTargetSetting::parse(self.effective_value())
    }
}

/// Errors decoding a setting value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SettingError {
    /// The setting is not `backup-target`.
    #[error("setting {name:?} is not the backup-target setting")]
    NotBackupTarget {
        /// Name of the setting.
        name: String,
    },
    /// The value is not the expected JSON.
    #[error("setting backup-target: value is not valid backup target JSON at `{field}`: {message}")]
    InvalidJson {
        /// JSON path of the offending field (`.` for the whole value).
        field: String,
        /// What is wrong.
        message: String,
    },
}

/// The JSON value of the `backup-target` setting. All keys are optional
/// when reading (Harvester writes all of them); unknown keys are kept.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct BackupTargetSetting {
    /// `nfs`, `s3`, or empty when unset.
    #[serde(rename = "type")]
    pub type_: Option<BackupTargetType>,
    /// NFS: `nfs://host:/path`; S3: custom endpoint URL.
    pub endpoint: Option<String>,
    /// S3 access key (stripped by Harvester once stored in a Secret).
    #[serde(rename = "accessKeyId")]
    pub access_key_id: Option<String>,
    /// S3 secret key (stripped by Harvester once stored in a Secret).
    pub secret_access_key: Option<String>,
    /// S3 bucket.
    pub bucket_name: Option<String>,
    /// S3 region.
    pub bucket_region: Option<String>,
    /// PEM CA certificate for S3.
    pub cert: Option<String>,
    /// S3 virtual-hosted-style addressing.
    pub virtual_hosted_style: Option<bool>,
    /// Periodic rediscovery interval in seconds; 0 or absent means off.
    pub refresh_interval_in_seconds: Option<i64>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(BackupTargetSetting);

/// `type` of the backup target.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum BackupTargetType {
    /// Not configured (`""`).
    #[default]
    Unset,
    /// An NFS export.
    Nfs,
    /// An S3 bucket.
    S3,
    /// Anything else (Harvester rejects it).
    Other(String),
}

impl From<String> for BackupTargetType {
    fn from(value: String) -> Self {
        match value.as_str() {
            "" => BackupTargetType::Unset,
            "nfs" => BackupTargetType::Nfs,
            "s3" => BackupTargetType::S3,
            _ => BackupTargetType::Other(value),
        }
    }
}

impl From<BackupTargetType> for String {
    fn from(value: BackupTargetType) -> Self {
        match value {
            BackupTargetType::Unset => String::new(),
            BackupTargetType::Nfs => "nfs".into(),
            BackupTargetType::S3 => "s3".into(),
            BackupTargetType::Other(other) => other,
        }
    }
}

impl BackupTargetSetting {
    /// Decodes a setting value; `""` is the unset target.
    pub fn parse(value: &str) -> Result<Self, SettingError> {
        if value.trim().is_empty() {
            return Ok(BackupTargetSetting::default());
        }
        let mut de = serde_json::Deserializer::from_str(value);
        let parsed: Self = serde_path_to_error::deserialize(&mut de).map_err(|err| {
            let (field, message) = split_field(&err.path().to_string(), &err.inner().to_string());
            SettingError::InvalidJson { field, message }
        })?;
        de.end().map_err(|err| SettingError::InvalidJson {
            field: ".".into(),
            message: err.to_string(),
        })?;
        Ok(parsed)
    }

    /// The value as Harvester stores it (compact JSON).
    pub fn to_value_string(&self) -> String {
        // Serialising plain strings, numbers and maps to a string cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    /// The target type.
    pub fn target_type(&self) -> BackupTargetType {
        self.type_.clone().unwrap_or_default()
    }

    /// Harvester's "default (unset) target": empty type and every other
    /// field zero.
    pub fn is_unset(&self) -> bool {
        fn blank(v: &Option<String>) -> bool {
            v.as_deref().is_none_or(str::is_empty)
        }
        self.target_type() == BackupTargetType::Unset
            && blank(&self.endpoint)
            && blank(&self.access_key_id)
            && blank(&self.secret_access_key)
            && blank(&self.bucket_name)
            && blank(&self.bucket_region)
            && blank(&self.cert)
            && !self.virtual_hosted_style.unwrap_or(false)
            && self.refresh_interval_in_seconds.unwrap_or(0) == 0
    }

    /// The periodic refresh interval, `0` when off.
    pub fn refresh_interval_seconds(&self) -> i64 {
        self.refresh_interval_in_seconds.unwrap_or(0)
    }

    /// The backup store URL Harvester derives: `s3://<bucket>@<region>/`
    /// for S3, `nfs://<endpoint without nfs://>` for NFS, the endpoint
    /// itself otherwise.
    pub fn url(&self) -> String {
        let endpoint = self.endpoint.as_deref().unwrap_or_default();
        match self.target_type() {
            BackupTargetType::S3 => format!(
                "s3://{}@{}/",
                self.bucket_name.as_deref().unwrap_or_default(),
                self.bucket_region.as_deref().unwrap_or_default()
            ),
            BackupTargetType::Nfs => format!(
                "nfs://{}",
                endpoint.strip_prefix("nfs://").unwrap_or(endpoint)
            ),
            _ => endpoint.to_owned(),
        }
    }

    /// The `{endpoint, bucketName, bucketRegion}` Harvester records in a VM
    /// backup's `status.backupTarget`.
    pub fn target_ref(&self) -> super::BackupTargetRef {
        super::BackupTargetRef {
            endpoint: self.endpoint.clone().filter(|s| !s.is_empty()),
            bucket_name: self.bucket_name.clone().filter(|s| !s.is_empty()),
            bucket_region: self.bucket_region.clone().filter(|s| !s.is_empty()),
            extra: Extra::default(),
        }
    }
}

/// Field path and message of a decoding error; errors of nested values
/// already carry their path at the front of the message.
fn split_field(path: &str, message: &str) -> (String, String) {
    match message.split_once(": ") {
        Some((head, rest)) if path == "." && !head.contains(' ') => {
            (head.to_owned(), rest.to_owned())
        }
        _ => (path.to_owned(), message.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nfs_value_decodes() {
        let t = BackupTargetSetting::parse(
            r#"{"type":"nfs","endpoint":"nfs://192.168.122.159:/nfs_server/nfs_share/"}"#,
        )
        .unwrap();
        assert_eq!(t.target_type(), BackupTargetType::Nfs);
        assert_eq!(t.refresh_interval_seconds(), 0);
        assert_eq!(t.url(), "nfs://192.168.122.159:/nfs_server/nfs_share/");
        assert!(!t.is_unset());
    }

    #[test]
    fn s3_value_decodes_with_all_keys() {
        let value = r#"{"type":"s3","endpoint":"https://minio:9000","accessKeyId":"","secretAccessKey":"","bucketName":"b","bucketRegion":"us-east-1","cert":"","virtualHostedStyle":false,"refreshIntervalInSeconds":60}"#;
        let t = BackupTargetSetting::parse(value).unwrap();
        assert_eq!(t.url(), "s3://b@us-east-1/");
        assert_eq!(t.refresh_interval_seconds(), 60);
        let back: serde_json::Value = serde_json::from_str(&t.to_value_string()).unwrap();
        assert_eq!(
            back,
            serde_json::from_str::<serde_json::Value>(value).unwrap()
        );
    }

    #[test]
    fn nfs_endpoint_without_scheme_gets_one() {
        let t = BackupTargetSetting::parse(r#"{"type":"nfs","endpoint":"host:/export"}"#).unwrap();
        assert_eq!(t.url(), "nfs://host:/export");
    }

    #[test]
    fn empty_and_zero_values_are_unset() {
        assert!(BackupTargetSetting::parse("").unwrap().is_unset());
        let zero = r#"{"type":"","endpoint":"","accessKeyId":"","secretAccessKey":"","bucketName":"","bucketRegion":"","cert":"","virtualHostedStyle":false,"refreshIntervalInSeconds":0}"#;
        assert!(BackupTargetSetting::parse(zero).unwrap().is_unset());
        let not_default =
            BackupTargetSetting::parse(r#"{"type":"","refreshIntervalInSeconds":60}"#).unwrap();
        assert!(!not_default.is_unset());
    }

    #[test]
    fn bad_json_names_the_field() {
        let err = BackupTargetSetting::parse(r#"{"type":"s3","refreshIntervalInSeconds":"often"}"#)
            .unwrap_err();
        match &err {
            SettingError::InvalidJson { field, .. } => {
                assert_eq!(field, "refreshIntervalInSeconds")
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(
            err.to_string().contains("refreshIntervalInSeconds"),
            "{err}"
        );
        let err = BackupTargetSetting::parse(r#"{"type":"nfs""#).unwrap_err();
        assert!(matches!(err, SettingError::InvalidJson { .. }), "{err:?}");
        let err = BackupTargetSetting::parse(r#"["nfs"]"#).unwrap_err();
        assert!(matches!(err, SettingError::InvalidJson { .. }), "{err:?}");
        assert!(BackupTargetSetting::parse(r#"{"type":"nfs"} trailing"#).is_err());
    }

    #[test]
    fn unknown_types_are_kept() {
        let t = BackupTargetSetting::parse(r#"{"type":"azure"}"#).unwrap();
        assert_eq!(t.target_type(), BackupTargetType::Other("azure".into()));
        assert_eq!(t.to_value_string(), r#"{"type":"azure"}"#);
    }

    #[test]
    fn setting_object_decodes_value_or_default() {
        let setting: Setting = serde_json::from_value(serde_json::json!({
            "apiVersion": "harvesterhci.io/v1beta1", "kind": "Setting",
            "metadata": {"name": "backup-target"},
            "value": "", "default": "{\"type\":\"nfs\",\"endpoint\":\"nfs://h:/e\"}"
        }))
        .unwrap();
        assert_eq!(setting.backup_target().unwrap().url(), "nfs://h:/e");
        let other = Setting {
            metadata: ObjectMeta {
                name: Some("ui-index".into()),
                ..Default::default()
            },
            ..Default::default()
        };
        assert!(matches!(
            other.backup_target(),
            Err(SettingError::NotBackupTarget { .. })
        ));
    }
}

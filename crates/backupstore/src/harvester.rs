//! Harvester's metadata files on the backup target, beside `backupstore/`:
//!
//! * VM backups: `harvester/vmbackups/<namespace>/<name>.cfg` (Harvester ≥
//!   1.3), or `harvester/vmbackups/<namespace>-<name>.cfg` (the legacy flat
//!   layout of 1.0 – 1.2, ambiguous because names contain `-`);
//! * VM images: `harvester/vmimages/<namespace>/<name>.cfg`.
//!
//! The content is kept lossless: the name and namespace are typed, everything
//! else stays JSON, including keys this version does not know.

use crate::error::{Error, NameKind, Result};
use crate::json::to_go_json;
use crate::layout;
use crate::name::{is_valid_name, validate_k8s_name};
use crate::read::Ignored;
use crate::target::Target;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Largest metadata file accepted.
pub const MAX_METADATA_SIZE: u64 = 16 << 20;

/// A VM backup metadata file (Harvester's `VirtualMachineBackupMetadata`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmBackupMetadata {
    /// VirtualMachineBackup name.
    pub name: String,
    /// Its namespace ("" in old files means `default`).
    #[serde(default)]
    pub namespace: String,
    /// The VirtualMachineBackup `spec`.
    #[serde(
        rename = "backupSpec",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub backup_spec: Option<Value>,
    /// The VirtualMachineBackup `status.source` (the VM).
    #[serde(
        rename = "vmSourceSpec",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub vm_source_spec: Option<Value>,
    /// The VirtualMachineBackup `status.volumeBackups`.
    #[serde(
        rename = "volumeBackups",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub volume_backups: Option<Value>,
    /// The VirtualMachineBackup `status.secretBackups`.
    #[serde(
        rename = "secretBackups",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub secret_backups: Option<Value>,
    /// Keys this version does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// One volume of a VM backup, as far as the backup target is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeBackupRef {
    /// Volume backup (VolumeSnapshot) name.
    pub name: String,
    /// KubeVirt volume name in the VM.
    pub vm_volume: String,
    /// PVC name.
    pub pvc: String,
    /// Longhorn volume name (the PVC's `spec.volumeName`), the backup volume
    /// on the target.
    pub longhorn_volume: Option<String>,
    /// Longhorn backup name, when the backup was made through Longhorn.
    pub longhorn_backup: Option<String>,
    /// Volume size in bytes.
    pub size: Option<i64>,
}

fn value_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a Value> {
    path.iter().try_fold(v, |cur, p| cur.get(p))
}

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    value_at(v, path)?.as_str()
}

impl VmBackupMetadata {
    /// Decodes a metadata file; an empty namespace becomes `default`.
    pub fn from_json(bytes: &[u8], path: &str) -> Result<Self> {
        let mut m: VmBackupMetadata = serde_json::from_slice(bytes).map_err(|e| Error::Json {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        if m.namespace.is_empty() {
            m.namespace = "default".into();
        }
        check_names(path, &m.namespace, &m.name)?;
        check_volume_backups(path, m.volume_backups.as_ref())?;
        Ok(m)
    }

    /// Encodes the file as Harvester writes it (compact, Go escaping).
    pub fn to_json(&self) -> Vec<u8> {
        to_go_json(self)
    }

    /// The volumes of the backup with their Longhorn volume and backup names.
    pub fn volumes(&self) -> Vec<VolumeBackupRef> {
        let Some(Value::Array(list)) = &self.volume_backups else {
            return Vec::new();
        };
        list.iter()
            .map(|vb| VolumeBackupRef {
                name: str_at(vb, &["name"]).unwrap_or_default().to_owned(),
                vm_volume: str_at(vb, &["volumeName"]).unwrap_or_default().to_owned(),
                pvc: str_at(vb, &["persistentVolumeClaim", "metadata", "name"])
                    .unwrap_or_default()
                    .to_owned(),
                longhorn_volume: str_at(vb, &["persistentVolumeClaim", "spec", "volumeName"])
                    .filter(|v| !v.is_empty())
                    .map(str::to_owned),
                longhorn_backup: str_at(vb, &["longhornBackupName"])
                    .filter(|b| !b.is_empty())
                    .map(str::to_owned),
                size: vb.get("volumeSize").and_then(Value::as_i64),
            })
            .collect()
    }
}

/// A VM image metadata file (Harvester's `VirtualMachineImageMetadata`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VmImageMetadata {
    /// VirtualMachineImage name.
    pub name: String,
    /// Its namespace.
    #[serde(default)]
    pub namespace: String,
    /// Backing-image backup URL (`<target>?backingImage=<name>`).
    #[serde(default)]
    pub url: String,
    /// Display name.
    #[serde(
        rename = "displayName",
        default,
        skip_serializing_if = "String::is_empty"
    )]
    pub display_name: String,
    /// Description.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Checksum of the backing image.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub checksum: String,
    /// StorageClass parameters.
    #[serde(
        rename = "storageClassParameters",
        default,
        skip_serializing_if = "BTreeMap::is_empty"
    )]
    pub storage_class_parameters: BTreeMap<String, String>,
    /// Keys this version does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl VmImageMetadata {
    /// Decodes a metadata file; an empty namespace becomes `default`.
    pub fn from_json(bytes: &[u8], path: &str) -> Result<Self> {
        let mut m: VmImageMetadata = serde_json::from_slice(bytes).map_err(|e| Error::Json {
            path: path.to_owned(),
            reason: e.to_string(),
        })?;
        if m.namespace.is_empty() {
            m.namespace = "default".into();
        }
        check_names(path, &m.namespace, &m.name)?;
        Ok(m)
    }

    /// Encodes the file as Harvester writes it.
    pub fn to_json(&self) -> Vec<u8> {
        to_go_json(self)
    }
}

/// The fields of `volumeBackups` that name what a backup restores from have
/// the types Harvester writes, and the Longhorn volume and backup names are
/// names (never paths): a damaged or hostile file is reported, not read as
/// a backup of nothing.
fn check_volume_backups(path: &str, volume_backups: Option<&Value>) -> Result<()> {
    let list = match volume_backups {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Array(list)) => list,
        Some(_) => return Err(Error::field(path, "volumeBackups", "not a list")),
    };
    for (i, vb) in list.iter().enumerate() {
        let field = |name: &str| format!("volumeBackups[{i}].{name}");
        if !vb.is_object() {
            return Err(Error::field(
                path,
                format!("volumeBackups[{i}]"),
                "not an object",
            ));
        }
        let field_at = |keys: &[&str]| field(&keys.join("."));
        for keys in [
            &["persistentVolumeClaim"][..],
            &["persistentVolumeClaim", "metadata"],
            &["persistentVolumeClaim", "spec"],
        ] {
            if value_at(vb, keys).is_some_and(|v| !v.is_null() && !v.is_object()) {
                return Err(Error::field(path, field_at(keys), "not an object"));
            }
        }
        for keys in [
            &["name"][..],
            &["csiDriverName"],
            &["volumeName"],
            &["longhornBackupName"],
            &["persistentVolumeClaim", "metadata", "name"],
            &["persistentVolumeClaim", "spec", "volumeName"],
        ] {
            if value_at(vb, keys).is_some_and(|v| !v.is_null() && !v.is_string()) {
                return Err(Error::field(path, field_at(keys), "not a string"));
            }
        }
        for at in ["volumeSize", "progress"] {
            if vb.get(at).is_some_and(|v| !v.is_null() && !v.is_i64()) {
                return Err(Error::field(path, field(at), "not an integer"));
            }
        }
        if vb
            .get("readyToUse")
            .is_some_and(|v| !v.is_null() && !v.is_boolean())
        {
            return Err(Error::field(path, field("readyToUse"), "not true or false"));
        }
        for keys in [
            &["longhornBackupName"][..],
            &["persistentVolumeClaim", "spec", "volumeName"],
        ] {
            if let Some(name) = str_at(vb, keys).filter(|n| !n.is_empty() && !is_valid_name(n)) {
                return Err(Error::field(
                    path,
                    field_at(keys),
                    format!("{name:?} is not a Longhorn name (letters, digits, '_', '.' and '-')"),
                ));
            }
        }
    }
    Ok(())
}

fn check_names(path: &str, namespace: &str, name: &str) -> Result<()> {
    validate_k8s_name(NameKind::Namespace, namespace)
        .map_err(|e| Error::field(path, "namespace", e.to_string()))?;
    validate_k8s_name(NameKind::ObjectName, name)
        .map_err(|e| Error::field(path, "name", e.to_string()))
}

/// Which layout a metadata file was found in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataLayout {
    /// `<folder>/<namespace>/<name>.cfg`.
    Namespaced,
    /// `harvester/vmbackups/<namespace>-<name>.cfg`.
    Legacy,
}

/// A metadata file found on the target, with its content or why it could
/// not be read. One bad file does not hide the others.
#[derive(Debug)]
pub struct MetadataFile<T> {
    /// Path relative to the target root.
    pub path: String,
    /// Layout it was found in.
    pub layout: MetadataLayout,
    /// The decoded content.
    pub content: Result<T>,
}

/// What a metadata listing found: the files, and the folders it skipped.
#[derive(Debug)]
pub struct MetadataList<T> {
    /// Every metadata file, sorted by path.
    pub files: Vec<MetadataFile<T>>,
    /// Folders that cannot hold metadata (their name is not a namespace
    /// name), sorted by path.
    pub ignored: Vec<Ignored>,
}

trait Metadata: Sized {
    fn decode(bytes: &[u8], path: &str) -> Result<Self>;
    fn ns_name(&self) -> (&str, &str);
}

impl Metadata for VmBackupMetadata {
    fn decode(bytes: &[u8], path: &str) -> Result<Self> {
        Self::from_json(bytes, path)
    }
    fn ns_name(&self) -> (&str, &str) {
        (&self.namespace, &self.name)
    }
}

impl Metadata for VmImageMetadata {
    fn decode(bytes: &[u8], path: &str) -> Result<Self> {
        Self::from_json(bytes, path)
    }
    fn ns_name(&self) -> (&str, &str) {
        (&self.namespace, &self.name)
    }
}

impl Target {
    async fn read_metadata<T: Metadata>(&self, path: &str, layout: MetadataLayout) -> Result<T> {
        let bytes = self.get_bounded(path, MAX_METADATA_SIZE).await?;
        let m = T::decode(&bytes, path)?;
        let (ns, name) = m.ns_name();
        let expected = match layout {
            MetadataLayout::Namespaced => {
                let folder = path.rsplit_once('/').map_or("", |(d, _)| d);
                let folder = folder.rsplit_once('/').map_or("", |(d, _)| d);
                format!("{folder}/{ns}/{name}.cfg")
            }
            MetadataLayout::Legacy => layout::legacy_vm_backup_metadata(ns, name)?,
        };
        if expected != path {
            return Err(Error::field(
                path,
                "name",
                format!("the file describes {ns}/{name}, which belongs at {expected}"),
            ));
        }
        Ok(m)
    }

    async fn list_metadata<T: Metadata>(
        &self,
        folder: &str,
        legacy: bool,
    ) -> Result<MetadataList<T>> {
        let top = self.list_dir(folder).await?;
        let mut found = Vec::new();
        let mut ignored: Vec<Ignored> = crate::read::unusable_entries(folder, &top).collect();
        if legacy {
            for (file, _) in &top.files {
                if file.ends_with(".cfg") {
                    found.push((format!("{folder}/{file}"), MetadataLayout::Legacy));
                }
            }
        }
        for ns in &top.dirs {
            if let Err(e) = validate_k8s_name(NameKind::Namespace, ns) {
                ignored.push(Ignored {
                    path: format!("{folder}/{ns}"),
                    reason: format!("not a namespace folder: {e}"),
                });
                continue;
            }
            let dir = format!("{folder}/{ns}");
            // A namespace folder that cannot be listed (one this process
            // may not read, say) is reported; the others are read.
            let listing = match self.list_dir(&dir).await {
                Ok(listing) => listing,
                Err(e) => {
                    ignored.push(crate::read::unlisted(dir, &e));
                    continue;
                }
            };
            ignored.extend(crate::read::unusable_entries(&dir, &listing));
            for (file, _) in listing.files {
                if file.ends_with(".cfg") {
                    found.push((format!("{dir}/{file}"), MetadataLayout::Namespaced));
                }
            }
        }
        let mut out = Vec::with_capacity(found.len());
        for (path, layout) in found {
            let content = self.read_metadata(&path, layout).await;
            out.push(MetadataFile {
                path,
                layout,
                content,
            });
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        ignored.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(MetadataList {
            files: out,
            ignored,
        })
    }

    /// Lists every VM backup metadata file, in both layouts.
    pub async fn list_vm_backup_metadata(&self) -> Result<MetadataList<VmBackupMetadata>> {
        self.list_metadata(layout::HARVESTER_VMBACKUPS_DIR, true)
            .await
    }

    /// Reads the metadata of one VM backup: the namespaced file, else the
    /// legacy one. `None` when neither exists.
    pub async fn read_vm_backup_metadata(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<VmBackupMetadata>> {
        let path = layout::vm_backup_metadata(namespace, name)?;
        match self.read_metadata(&path, MetadataLayout::Namespaced).await {
            Err(e) if e.is_not_found() => {}
            other => return other.map(Some),
        }
        let legacy = layout::legacy_vm_backup_metadata(namespace, name)?;
        match self.read_metadata(&legacy, MetadataLayout::Legacy).await {
            Err(e) if e.is_not_found() => Ok(None),
            other => other.map(Some),
        }
    }

    /// Writes a VM backup's metadata at its namespaced path. Returns false
    /// (and writes nothing) when the file already holds the same content.
    pub async fn write_vm_backup_metadata(&self, metadata: &VmBackupMetadata) -> Result<bool> {
        let path = layout::vm_backup_metadata(&metadata.namespace, &metadata.name)?;
        if let Ok(existing) = self
            .read_metadata::<VmBackupMetadata>(&path, MetadataLayout::Namespaced)
            .await
            && existing == *metadata
        {
            return Ok(false);
        }
        self.put(&path, metadata.to_json()).await?;
        Ok(true)
    }

    /// Deletes a VM backup's metadata file, in both layouts.
    pub async fn delete_vm_backup_metadata(&self, namespace: &str, name: &str) -> Result<()> {
        self.delete(&layout::vm_backup_metadata(namespace, name)?)
            .await?;
        self.delete(&layout::legacy_vm_backup_metadata(namespace, name)?)
            .await
    }

    /// Moves readable legacy files to the namespaced layout (as Harvester ≥
    /// 1.3 does during its sync), keeping their content unchanged. Returns
    /// the paths written. Unreadable legacy files are left alone.
    pub async fn migrate_legacy_vm_backup_metadata(&self) -> Result<Vec<String>> {
        let mut moved = Vec::new();
        for file in self.list_vm_backup_metadata().await?.files {
            if file.layout != MetadataLayout::Legacy {
                continue;
            }
            let Ok(m) = file.content else { continue };
            let dest = layout::vm_backup_metadata(&m.namespace, &m.name)?;
            if self.head(&dest).await?.is_none() {
                self.put(&dest, m.to_json()).await?;
            }
            self.delete(&file.path).await?;
            moved.push(dest);
        }
        Ok(moved)
    }

    /// Lists every VM image metadata file.
    pub async fn list_vm_image_metadata(&self) -> Result<MetadataList<VmImageMetadata>> {
        self.list_metadata(layout::HARVESTER_VMIMAGES_DIR, false)
            .await
    }

    /// Reads one VM image's metadata; `None` when absent.
    pub async fn read_vm_image_metadata(
        &self,
        namespace: &str,
        name: &str,
    ) -> Result<Option<VmImageMetadata>> {
        let path = layout::vm_image_metadata(namespace, name)?;
        match self.read_metadata(&path, MetadataLayout::Namespaced).await {
            Err(e) if e.is_not_found() => Ok(None),
            other => other.map(Some),
        }
    }

    /// Writes a VM image's metadata; false when unchanged.
    pub async fn write_vm_image_metadata(&self, metadata: &VmImageMetadata) -> Result<bool> {
        let path = layout::vm_image_metadata(&metadata.namespace, &metadata.name)?;
        if let Ok(existing) = self
            .read_metadata::<VmImageMetadata>(&path, MetadataLayout::Namespaced)
            .await
            && existing == *metadata
        {
            return Ok(false);
        }
        self.put(&path, metadata.to_json()).await?;
        Ok(true)
    }

    /// Deletes a VM image's metadata file.
    pub async fn delete_vm_image_metadata(&self, namespace: &str, name: &str) -> Result<()> {
        self.delete(&layout::vm_image_metadata(namespace, name)?)
            .await
    }
}

//! Target-file steps: the only files a plan writes or deletes on the backup
//! target are Harvester's VM backup metadata files
//! (`harvester/vmbackups/<namespace>/<name>.cfg`), written through the
//! backup target library, which validates names and keeps every path
//! inside the target.

use vmbackup_backupstore::{Target, VmBackupMetadata};
use vmbackup_engine::naming::vmbackup_metadata_path;

/// Why a target-file step was not carried out.
#[derive(Debug)]
pub(crate) enum FileError {
    /// The path or contents are not a VM backup metadata file.
    Unsupported(String),
    /// The target refused.
    Target(vmbackup_backupstore::Error),
}

/// `(namespace, name)` of the VM backup whose metadata file `path` is.
fn metadata_key(path: &str) -> Result<(&str, &str), FileError> {
    let unsupported = || {
        FileError::Unsupported(
            "only VM backup metadata files (harvester/vmbackups/<namespace>/<name>.cfg) are written"
                .into(),
        )
    };
    let rest = path
        .strip_prefix("harvester/vmbackups/")
        .and_then(|r| r.strip_suffix(".cfg"))
        .ok_or_else(unsupported)?;
    let (ns, name) = rest.split_once('/').ok_or_else(unsupported)?;
    if ns.is_empty()
        || name.is_empty()
        || name.contains('/')
        || vmbackup_metadata_path(ns, name) != path
    {
        return Err(unsupported());
    }
    Ok((ns, name))
}

/// Writes a metadata file; `Ok(false)` when it already held the contents.
pub(crate) async fn write(target: &Target, path: &str, contents: &str) -> Result<bool, FileError> {
    let (ns, name) = metadata_key(path)?;
    let doc = VmBackupMetadata::from_json(contents.as_bytes(), path).map_err(FileError::Target)?;
    if doc.namespace != ns || doc.name != name {
        return Err(FileError::Unsupported(format!(
            "the contents describe VM backup {}/{}, not {ns}/{name}",
            doc.namespace, doc.name
        )));
    }
    target
        .write_vm_backup_metadata(&doc)
        .await
        .map_err(FileError::Target)
}

/// Deletes a metadata file (in both of Harvester's layouts).
pub(crate) async fn delete(target: &Target, path: &str) -> Result<(), FileError> {
    let (ns, name) = metadata_key(path)?;
    target
        .delete_vm_backup_metadata(ns, name)
        .await
        .map_err(FileError::Target)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_metadata_paths_are_accepted() {
        assert_eq!(
            metadata_key("harvester/vmbackups/default/b1.cfg").ok(),
            Some(("default", "b1"))
        );
        for bad in [
            "harvester/vmbackups/b1.cfg",
            "harvester/vmbackups/a/b/c.cfg",
            "harvester/vmbackups//b.cfg",
            "backupstore/volumes/x/volume.cfg",
            "harvester/vmbackups/default/b1.json",
        ] {
            assert!(
                matches!(metadata_key(bad), Err(FileError::Unsupported(_))),
                "{bad}"
            );
        }
    }

    #[tokio::test]
    async fn writes_and_deletes_through_the_target_library() {
        let dir = tempfile::tempdir().unwrap();
        let url = dir.path().display().to_string();
        let target = Target::open(&url, &Default::default()).await.unwrap();
        let contents = serde_json::json!({"name": "b1", "namespace": "default",
            "backupSpec": {"source": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": "vm1"}, "type": "backup"},
            "volumeBackups": [], "secretBackups": []})
        .to_string();
        let path = "harvester/vmbackups/default/b1.cfg";
        assert!(write(&target, path, &contents).await.unwrap());
        assert!(!write(&target, path, &contents).await.unwrap());
        assert!(dir.path().join(path).exists());
        let other = "harvester/vmbackups/other/b1.cfg";
        assert!(matches!(
            write(&target, other, &contents).await,
            Err(FileError::Unsupported(m)) if m.contains("default/b1")
        ));
        delete(&target, path).await.unwrap();
        assert!(!dir.path().join(path).exists());
    }
}

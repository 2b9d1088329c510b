//! Where a Harvester support bundle keeps the objects vmbackup reads.
//!
//! The bundle collector lists every API resource of the cluster and of a
//! set of namespaces, and writes each as one `List` in
//!
//! ```text
//! <bundle>/yamls/cluster/<group>/<version>/<resource>.yaml        (cluster scoped)
//! <bundle>/yamls/namespaced/<namespace>/<group>/<version>/<resource>.yaml
//! ```
//!
//! with `v1` alone for the core group (`yamls/namespaced/default/v1/persistentvolumeclaims.yaml`).
//! Older collectors grouped files by product instead
//! (`yamls/namespaced/default/harvester/virtualmachinebackups.yaml`,
//! `.../kubevirt/virtualmachines.yaml`, `.../kubernetes/...`). The zip holds
//! one top directory, `supportbundle_<cluster uuid>_<time>/`, with `yamls/`
//! inside. Secrets are not collected.

use vmbackup_engine::Kind;

/// One resource file in a bundle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceFile {
    /// The namespace, for the namespaced part.
    pub namespace: Option<String>,
    /// The kind the file lists.
    pub kind: Kind,
}

/// The kind behind an API group and resource (plural) name, for the kinds
/// vmbackup reads.
pub fn kind_of(group: &str, resource: &str) -> Option<Kind> {
    Some(match (group, resource) {
        ("harvesterhci.io", "virtualmachinebackups") => Kind::VirtualMachineBackup,
        ("harvesterhci.io", "virtualmachinerestores") => Kind::VirtualMachineRestore,
        ("harvesterhci.io", "settings") => Kind::Setting,
        ("snapshot.storage.k8s.io", "volumesnapshots") => Kind::VolumeSnapshot,
        ("snapshot.storage.k8s.io", "volumesnapshotcontents") => Kind::VolumeSnapshotContent,
        ("snapshot.storage.k8s.io", "volumesnapshotclasses") => Kind::VolumeSnapshotClass,
        ("longhorn.io", "backups") => Kind::LonghornBackup,
        ("longhorn.io", "backupvolumes") => Kind::LonghornBackupVolume,
        ("longhorn.io", "backuptargets") => Kind::LonghornBackupTarget,
        ("longhorn.io", "volumes") => Kind::LonghornVolume,
        ("longhorn.io", "engines") => Kind::LonghornEngine,
        ("kubevirt.io", "virtualmachines") => Kind::VirtualMachine,
        ("", "persistentvolumeclaims") => Kind::PersistentVolumeClaim,
        ("", "persistentvolumes") => Kind::PersistentVolume,
        ("", "namespaces") => Kind::Namespace,
        ("", "secrets") => Kind::Secret,
        ("storage.k8s.io", "storageclasses") => Kind::StorageClass,
        _ => return None,
    })
}

/// The group an older collector's product directory stands for.
fn legacy_group(dir: &str) -> Option<&'static str> {
    match dir {
        "harvester" => Some("harvesterhci.io"),
        "kubevirt" => Some("kubevirt.io"),
        "kubernetes" => Some(""),
        "longhorn" => Some("longhorn.io"),
        _ => None,
    }
}

fn is_version(part: &str) -> bool {
    let Some(rest) = part.strip_prefix('v') else {
        return false;
    };
    rest.chars().next().is_some_and(|c| c.is_ascii_digit())
        && rest.chars().all(|c| c.is_ascii_alphanumeric())
}

/// What the file at `path` (relative to the `yamls/` directory, `/`
/// separated) lists, if it is a kind vmbackup reads.
pub fn resource_file(path: &str) -> Option<ResourceFile> {
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let (namespace, rest) = match parts.split_first()? {
        (&"cluster", rest) => (None, rest),
        (&"namespaced", rest) => {
            let (ns, rest) = rest.split_first()?;
            (Some((*ns).to_owned()), rest)
        }
        _ => return None,
    };
    let (file, dirs) = rest.split_last()?;
    let resource = file
        .strip_suffix(".yaml")
        .or_else(|| file.strip_suffix(".yml"))?;
    let group = match dirs {
        [version] if is_version(version) => "",
        [group, version] if is_version(version) => group,
        [product] => legacy_group(product)?,
        _ => return None,
    };
    let kind = kind_of(group, resource)?;
    // A file in the wrong part of the tree is not what it claims to be.
    if kind.namespaced() != namespace.is_some() {
        return None;
    }
    Some(ResourceFile { namespace, kind })
}

/// The bundle root among archive entry names: the prefix (empty or one
/// directory, ending in `/`) under which `yamls/` lives. `Err` lists the
/// candidates when there is not exactly one.
pub fn archive_root<'a>(names: impl IntoIterator<Item = &'a str>) -> Result<String, Vec<String>> {
    let mut roots: Vec<String> = Vec::new();
    for name in names {
        let root = if name.starts_with("yamls/") {
            Some(String::new())
        } else {
            name.split_once('/')
                .filter(|(_, rest)| rest.starts_with("yamls/"))
                .map(|(top, _)| format!("{top}/"))
        };
        if let Some(root) = root
            && !roots.contains(&root)
        {
            roots.push(root);
        }
    }
    match roots.len() {
        1 => Ok(roots.remove(0)),
        _ => Err(roots),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(ns: Option<&str>, kind: Kind) -> Option<ResourceFile> {
        Some(ResourceFile {
            namespace: ns.map(str::to_owned),
            kind,
        })
    }

    #[test]
    fn discovered_layout() {
        assert_eq!(
            resource_file("namespaced/default/harvesterhci.io/v1beta1/virtualmachinebackups.yaml"),
            file(Some("default"), Kind::VirtualMachineBackup)
        );
        assert_eq!(
            resource_file("namespaced/longhorn-system/longhorn.io/v1beta2/backups.yaml"),
            file(Some("longhorn-system"), Kind::LonghornBackup)
        );
        assert_eq!(
            resource_file("cluster/snapshot.storage.k8s.io/v1/volumesnapshotcontents.yaml"),
            file(None, Kind::VolumeSnapshotContent)
        );
        assert_eq!(
            resource_file("namespaced/vms/v1/persistentvolumeclaims.yaml"),
            file(Some("vms"), Kind::PersistentVolumeClaim)
        );
        assert_eq!(
            resource_file("cluster/v1/persistentvolumes.yaml"),
            file(None, Kind::PersistentVolume)
        );
        assert_eq!(
            resource_file("cluster/harvesterhci.io/v1beta1/settings.yaml"),
            file(None, Kind::Setting)
        );
    }

    #[test]
    fn other_resources_and_misplaced_files_are_not_read() {
        assert_eq!(resource_file("namespaced/default/v1/pods.yaml"), None);
        assert_eq!(
            resource_file("cluster/longhorn.io/v1beta2/settings.yaml"),
            None
        );
        assert_eq!(
            resource_file("namespaced/velero/velero.io/v1/backups.yaml"),
            None
        );
        assert_eq!(
            resource_file("cluster/harvesterhci.io/v1beta1/virtualmachinebackups.yaml"),
            None
        );
        assert_eq!(
            resource_file("namespaced/default/v1/persistentvolumes.yaml"),
            None
        );
        assert_eq!(resource_file("logs/harvester-system/harvester/x.log"), None);
        assert_eq!(
            resource_file(
                "namespaced/default/harvesterhci.io/v1beta1/x/virtualmachinebackups.yaml"
            ),
            None
        );
    }

    #[test]
    fn older_product_layout() {
        assert_eq!(
            resource_file("namespaced/default/harvester/virtualmachinebackups.yaml"),
            file(Some("default"), Kind::VirtualMachineBackup)
        );
        assert_eq!(
            resource_file("namespaced/default/kubevirt/virtualmachines.yaml"),
            file(Some("default"), Kind::VirtualMachine)
        );
        assert_eq!(
            resource_file("cluster/harvester/settings.yaml"),
            file(None, Kind::Setting)
        );
        assert_eq!(resource_file("cluster/harvester/users.yaml"), None);
    }

    #[test]
    fn archive_roots() {
        assert_eq!(
            archive_root([
                "sb_1/metadata.yaml",
                "sb_1/yamls/cluster/v1/nodes.yaml",
                "sb_1/yamls/x"
            ]),
            Ok("sb_1/".to_owned())
        );
        assert_eq!(
            archive_root(["yamls/cluster/v1/nodes.yaml"]),
            Ok(String::new())
        );
        assert_eq!(archive_root(["a/b/yamls/x"]), Err(vec![]));
        assert_eq!(
            archive_root(["a/yamls/x", "b/yamls/y"]),
            Err(vec!["a/".to_owned(), "b/".to_owned()])
        );
    }
}

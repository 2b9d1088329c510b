//! What a user or an admin does on a simulated cluster: create namespaces
//! and VMs with disks, write and read the disks' bytes, ask for backups and
//! restores, and look at the results.

use std::collections::BTreeMap;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::PathBuf;

use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use vmbackup_api::kubevirt::VirtualMachine;
use vmbackup_api::{VirtualMachineBackup, VirtualMachineRestore};
use vmbackup_engine::{Object, ObjectRef};

use crate::cluster::Cluster;
use crate::error::SimError;
use crate::store::ApiError;
use crate::typed::{Pv, Pvc};

/// One disk of a VM to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Disk {
    /// KubeVirt volume (and disk) name, e.g. `disk-0`.
    pub name: String,
    /// Size in bytes (rounded up to 2 MiB by Longhorn).
    pub size: u64,
}

impl Disk {
    /// A disk named `name` of `mib` MiB.
    pub fn mib(name: &str, mib: u64) -> Self {
        Disk {
            name: name.to_owned(),
            size: mib << 20,
        }
    }
}

/// A VM to create.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmSpec {
    /// Namespace.
    pub namespace: String,
    /// VM name.
    pub name: String,
    /// Its disks, each on its own PVC `<vm>-<disk>`.
    pub disks: Vec<Disk>,
    /// Cloud-init user data, kept in the Secret `<vm>-cloudinit`.
    pub user_data: Option<String>,
}

fn obj(value: Value) -> Result<Object, SimError> {
    Object::from_value(value).map_err(|e| SimError::Invalid(e.to_string()))
}

/// `len` bytes of reproducible, incompressible data derived from `seed`
/// (xorshift64* seeded with the seed's SHA-256).
pub fn pattern(seed: &str, len: usize) -> Vec<u8> {
    let digest = Sha256::digest(seed.as_bytes());
    let mut state = u64::from_le_bytes(digest[..8].try_into().unwrap_or([1; 8])) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        out.extend_from_slice(&state.wrapping_mul(0x2545_f491_4f6c_dd1d).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Lowercase hex SHA-256 of a file's whole content.
pub fn file_sha256(path: &std::path::Path) -> Result<String, SimError> {
    let mut f = std::fs::File::open(path).map_err(|e| SimError::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| SimError::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(hex::encode(h.finalize()))
}

impl Cluster {
    /// Creates a namespace (nothing happens if it exists).
    pub fn create_namespace(&mut self, name: &str) -> Result<(), SimError> {
        match self.store_mut().create(obj(
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
        )?) {
            Ok(_) | Err(ApiError::AlreadyExists { .. }) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Creates a VM as Harvester's UI does: one PVC per disk on the
    /// `longhorn` storage class, a cloud-init Secret, and the VM (run
    /// strategy `RerunOnFailure`). Run the cluster to provision the disks.
    pub fn create_vm(&mut self, spec: &VmSpec) -> Result<(), SimError> {
        let ns = spec.namespace.as_str();
        let name = spec.name.as_str();
        let mut volumes = Vec::new();
        let mut disks = Vec::new();
        for d in &spec.disks {
            let claim = format!("{name}-{}", d.name);
            self.store_mut().create(obj(json!({
                "apiVersion": "v1", "kind": "PersistentVolumeClaim",
                "metadata": {"name": claim, "namespace": ns,
                    "annotations": {"volume.kubernetes.io/storage-provisioner": "driver.longhorn.io"}},
                "spec": {"accessModes": ["ReadWriteMany"], "volumeMode": "Block",
                    "storageClassName": "longhorn",
                    "resources": {"requests": {"storage": d.size.to_string()}}},
                "status": {"phase": "Pending"}
            }))?)?;
            volumes.push(json!({"name": d.name, "persistentVolumeClaim": {"claimName": claim}}));
            disks.push(json!({"name": d.name, "disk": {"bus": "virtio"}}));
        }
        if let Some(user_data) = &spec.user_data {
            let secret = format!("{name}-cloudinit");
            self.store_mut().create(obj(json!({
                "apiVersion": "v1", "kind": "Secret",
                "metadata": {"name": secret, "namespace": ns},
                "type": "secret",
                "data": {"userdata": base64(user_data.as_bytes())}
            }))?)?;
            volumes.push(json!({"name": "cloudinitdisk", "cloudInitNoCloud": {"secretRef": {"name": secret}}}));
            disks.push(json!({"name": "cloudinitdisk", "disk": {"bus": "virtio"}}));
        }
        self.store_mut().create(obj(json!({
            "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
            "metadata": {"name": name, "namespace": ns,
                "labels": {"harvesterhci.io/creator": "harvester"}},
            "spec": {"runStrategy": "RerunOnFailure",
                "template": {"metadata": {},
                    "spec": {"domain": {"cpu": {"cores": 1}, "resources": {"limits": {"memory": "1Gi"}},
                        "devices": {"disks": disks, "interfaces": [{"name": "default", "masquerade": {}, "macAddress": "52:54:00:12:34:56"}]}},
                    "networks": [{"name": "default", "pod": {}}],
                    "volumes": volumes}}}
        }))?)?;
        Ok(())
    }

    /// The data file behind a PVC (its Longhorn volume).
    pub fn volume_file(&self, ns: &str, pvc: &str) -> Result<PathBuf, SimError> {
        let claim = self
            .store()
            .get_as::<Pvc>(ns, pvc)
            .ok_or_else(|| SimError::NotFound(format!("PVC {ns}/{pvc}")))?;
        let pv = claim
            .spec
            .as_ref()
            .and_then(|s| s.volume_name.as_deref())
            .ok_or_else(|| SimError::Invalid(format!("PVC {ns}/{pvc} is not bound")))?;
        let handle = self
            .store()
            .get_as::<Pv>("", pv)
            .and_then(|p| p.spec.as_ref()?.csi.as_ref())
            .map(|c| c.volume_handle.clone())
            .ok_or_else(|| SimError::NotFound(format!("CSI volume of PV {pv}")))?;
        Ok(self.longhorn().volume_path(&handle))
    }

    /// Writes `data` at `offset` of the disk behind a PVC.
    pub fn write_disk(
        &mut self,
        ns: &str,
        pvc: &str,
        offset: u64,
        data: &[u8],
    ) -> Result<(), SimError> {
        let path = self.volume_file(ns, pvc)?;
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .map_err(|e| SimError::io(&path, e))?;
        let len = f.metadata().map_err(|e| SimError::io(&path, e))?.len();
        if offset + data.len() as u64 > len {
            return Err(SimError::Invalid(format!(
                "writing {} bytes at {offset} overflows PVC {ns}/{pvc} ({len} bytes)",
                data.len()
            )));
        }
        f.seek(SeekFrom::Start(offset))
            .and_then(|_| f.write_all(data))
            .map_err(|e| SimError::io(&path, e))
    }

    /// SHA-256 of the whole disk behind a PVC.
    pub fn disk_sha256(&self, ns: &str, pvc: &str) -> Result<String, SimError> {
        file_sha256(&self.volume_file(ns, pvc)?)
    }

    /// The VM's disks: KubeVirt volume name → PVC name.
    pub fn vm_claims(&self, ns: &str, vm: &str) -> Result<BTreeMap<String, String>, SimError> {
        let vm = self
            .vm(ns, vm)
            .ok_or_else(|| SimError::NotFound(format!("VirtualMachine {ns}/{vm}")))?;
        Ok(vm
            .volumes()
            .iter()
            .filter_map(|v| Some((v.name.clone(), v.claim_name()?.to_owned())))
            .collect())
    }

    /// SHA-256 of each disk of a VM, by KubeVirt volume name.
    pub fn vm_disk_sha256(&self, ns: &str, vm: &str) -> Result<BTreeMap<String, String>, SimError> {
        self.vm_claims(ns, vm)?
            .into_iter()
            .map(|(volume, claim)| Ok((volume, self.disk_sha256(ns, &claim)?)))
            .collect()
    }

    /// Asks for a backup of a VM (a VirtualMachineBackup of type backup).
    pub fn back_up_vm(&mut self, ns: &str, vm: &str, backup: &str) -> Result<(), SimError> {
        self.store_mut().create(obj(json!({
            "apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineBackup",
            "metadata": {"name": backup, "namespace": ns},
            "spec": {"source": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": vm},
                "type": "backup"}
        }))?)?;
        Ok(())
    }

    /// Asks for a restore (a VirtualMachineRestore in `ns`) of backup
    /// `backup_ns/backup` into VM `target_vm`, a new VM or the existing one.
    pub fn restore_vm(
        &mut self,
        ns: &str,
        name: &str,
        backup_ns: &str,
        backup: &str,
        target_vm: &str,
        new_vm: bool,
    ) -> Result<(), SimError> {
        self.store_mut().create(obj(json!({
            "apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineRestore",
            "metadata": {"name": name, "namespace": ns},
            "spec": {"target": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": target_vm},
                "virtualMachineBackupName": backup,
                "virtualMachineBackupNamespace": backup_ns,
                "newVM": new_vm,
                "deletionPolicy": "retain"}
        }))?)?;
        Ok(())
    }

    /// A VirtualMachineBackup.
    pub fn vmbackup(&self, ns: &str, name: &str) -> Option<&VirtualMachineBackup> {
        self.store().get_as(ns, name)
    }

    /// A VirtualMachineRestore.
    pub fn vmrestore(&self, ns: &str, name: &str) -> Option<&VirtualMachineRestore> {
        self.store().get_as(ns, name)
    }

    /// A VirtualMachine.
    pub fn vm(&self, ns: &str, name: &str) -> Option<&VirtualMachine> {
        self.store().get_as(ns, name)
    }

    /// Whether a VM is running.
    pub fn vm_running(&self, ns: &str, name: &str) -> bool {
        self.vm(ns, name).and_then(|v| v.status.as_ref()?.ready) == Some(true)
    }

    /// Messages of the events about an object, oldest first.
    pub fn event_messages(&self, object: &ObjectRef) -> Vec<String> {
        self.events()
            .about(object)
            .map(|e| format!("{}: {}", e.reason, e.message))
            .collect()
    }
}

fn base64(bytes: &[u8]) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_repeat_per_seed() {
        assert_eq!(pattern("a", 100), pattern("a", 100));
        assert_ne!(pattern("a", 100), pattern("b", 100));
        assert_eq!(pattern("a", 10).len(), 10);
        assert_eq!(base64(b"foo"), "Zm9v");
        assert_eq!(base64(b"fo"), "Zm8=");
    }
}

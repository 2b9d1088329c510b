//! What the operator asks to restore, and the VirtualMachineRestore that
//! asks Harvester's (or vmbackup's) controller for it.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use vmbackup_api::meta::TypedLocalObjectReference;
use vmbackup_api::{VirtualMachineRestore, VirtualMachineRestoreSpec};
use vmbackup_engine::naming::safe_concat_name;

/// A restore request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// Namespace of the VMBackup.
    pub backup_namespace: String,
    /// Name of the VMBackup.
    pub backup: String,
    /// Namespace the VM is restored into (the VMRestore's).
    pub namespace: String,
    /// Name of the VMRestore.
    pub name: String,
    /// The VM to create or replace.
    pub vm: String,
    /// Create a new VM (`true`) or replace `vm` (`false`).
    pub new_vm: bool,
    /// New VM: keep the backed-up MAC addresses.
    pub keep_mac_address: bool,
    /// Replace: delete the replaced VM's old volumes once restored.
    pub delete_old_volumes: bool,
}

impl Request {
    /// The default VMRestore name: `restore-<backup>-<vm>`, cut to 63
    /// characters as Harvester cuts names.
    pub fn default_name(backup: &str, vm: &str) -> String {
        safe_concat_name(&["restore", backup, vm])
    }

    /// Whether the VM lands in another namespace than the backup's.
    pub fn is_cross_namespace(&self) -> bool {
        self.namespace != self.backup_namespace
    }

    /// The deletion policy written: `retain` unless old volumes are to be
    /// deleted (Harvester deletes them for an empty policy, so it is always
    /// written out).
    pub fn deletion_policy(&self) -> &'static str {
        if self.delete_old_volumes {
            "delete"
        } else {
            "retain"
        }
    }

    /// The VirtualMachineRestore to create.
    pub fn object(&self) -> VirtualMachineRestore {
        VirtualMachineRestore {
            metadata: ObjectMeta {
                name: Some(self.name.clone()),
                namespace: Some(self.namespace.clone()),
                ..ObjectMeta::default()
            },
            spec: VirtualMachineRestoreSpec {
                target: TypedLocalObjectReference::virtual_machine(self.vm.clone()),
                virtual_machine_backup_name: self.backup.clone(),
                virtual_machine_backup_namespace: self.backup_namespace.clone(),
                new_vm: Some(self.new_vm),
                deletion_policy: (!self.new_vm).then(|| self.deletion_policy().to_owned()),
                keep_mac_address: self.new_vm.then_some(self.keep_mac_address),
                ..VirtualMachineRestoreSpec::default()
            },
            ..VirtualMachineRestore::default()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_object_is_harvesters_shape() {
        let request = Request {
            backup_namespace: "default".into(),
            backup: "b1".into(),
            namespace: "new-ns".into(),
            name: Request::default_name("b1", "vm2"),
            vm: "vm2".into(),
            new_vm: true,
            keep_mac_address: false,
            delete_old_volumes: false,
        };
        assert!(request.is_cross_namespace());
        let value = vmbackup_engine::Object::from(request.object()).to_value();
        assert_eq!(
            value,
            serde_json::json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineRestore",
                "metadata": {"name": "restore-b1-vm2", "namespace": "new-ns"},
                "spec": {"target": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": "vm2"},
                    "virtualMachineBackupName": "b1", "virtualMachineBackupNamespace": "default",
                    "newVM": true, "keepMacAddress": false}})
        );
    }

    #[test]
    fn replace_always_writes_its_deletion_policy() {
        let mut request = Request {
            backup_namespace: "default".into(),
            backup: "b1".into(),
            namespace: "default".into(),
            name: "r".into(),
            vm: "vm1".into(),
            new_vm: false,
            keep_mac_address: false,
            delete_old_volumes: false,
        };
        assert_eq!(
            request.object().spec.deletion_policy.as_deref(),
            Some("retain")
        );
        assert_eq!(request.object().spec.keep_mac_address, None);
        request.delete_old_volumes = true;
        assert_eq!(
            request.object().spec.deletion_policy.as_deref(),
            Some("delete")
        );
    }
}

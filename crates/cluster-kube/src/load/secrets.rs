//! The Secrets the engine may look at, read one by one: those the VMs use
//! (cloud-init user and network data, access credentials), which a backup
//! copies, and those a restore in progress would create in its namespace.

use std::collections::BTreeSet;

use kube::Client;
use vmbackup_api::kubevirt::VirtualMachine;
use vmbackup_engine::naming::new_vm_secret_name;
use vmbackup_engine::{Kind, Object, View};

use super::Listing;
use super::convert;
use crate::error::Error;
use crate::resources::api_in;
use crate::status::{Failure, failure, message};

/// `(namespace, name)` of every Secret the engine may look up in `view`.
pub(crate) fn referenced(view: &View) -> BTreeSet<(String, String)> {
    let mut out = BTreeSet::new();
    for ((ns, _), vm) in view.vms() {
        for name in vm_secrets(vm) {
            out.insert((ns.to_owned(), name));
        }
    }
    for ((ns, _), vmr) in view.vmrestores() {
        if vmr.is_complete() {
            continue;
        }
        let spec = &vmr.spec;
        let backup_ns = if spec.virtual_machine_backup_namespace.is_empty() {
            ns
        } else {
            spec.virtual_machine_backup_namespace.as_str()
        };
        let Some(vmb) = view.vmbackup(backup_ns, &spec.virtual_machine_backup_name) else {
            continue;
        };
        let new_vm = spec.new_vm.unwrap_or(false);
        for sb in vmb
            .status
            .as_ref()
            .and_then(|s| s.secret_backups.as_ref())
            .into_iter()
            .flatten()
        {
            let name = if new_vm {
                new_vm_secret_name(&spec.target.name, &sb.name)
            } else {
                sb.name.clone()
            };
            out.insert((ns.to_owned(), name));
        }
    }
    out
}

/// Names of the Secrets a VM's template refers to.
fn vm_secrets(vm: &VirtualMachine) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let Some(spec) = vm.spec.template.as_ref().and_then(|t| t.spec.as_ref()) else {
        return names;
    };
    for cred in spec.access_credentials.iter().flatten() {
        if let Some(n) = cred.secret_name().filter(|n| !n.is_empty()) {
            names.insert(n.to_owned());
        }
    }
    for volume in spec.volumes.iter().flatten() {
        for source in [&volume.cloud_init_no_cloud, &volume.cloud_init_config_drive]
            .into_iter()
            .flatten()
        {
            for r in [&source.secret_ref, &source.network_data_secret_ref]
                .into_iter()
                .flatten()
            {
                if let Some(n) = r.name.as_deref().filter(|n| !n.is_empty()) {
                    names.insert(n.to_owned());
                }
            }
        }
    }
    names
}

/// Reads each named Secret; a missing one is skipped. Stops asking (and
/// says so) at the first one that is not allowed.
pub(crate) async fn fetch(
    client: &Client,
    names: &BTreeSet<(String, String)>,
) -> Result<(Vec<Object>, Listing), Error> {
    let mut found = Vec::new();
    for (namespace, name) in names {
        let Some(api) = api_in(client, Kind::Secret, namespace) else {
            break;
        };
        match api.get(name).await {
            Ok(item) => match convert::object(Kind::Secret, item) {
                Ok(o) => found.push(o),
                Err(reason) => {
                    tracing::warn!(%namespace, %name, %reason, "Secret left out");
                }
            },
            Err(e) => match failure(&e) {
                Some(Failure::NotFound) => {}
                Some(Failure::Forbidden) => {
                    return Ok((
                        found,
                        Listing::Forbidden {
                            message: message(&e),
                        },
                    ));
                }
                _ => {
                    return Err(Error::Secret {
                        namespace: namespace.clone(),
                        name: name.clone(),
                        source: e,
                    });
                }
            },
        }
    }
    let listing = Listing::Fetched {
        objects: found.len(),
        asked: names.len(),
    };
    Ok((found, listing))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: serde_json::Value) -> Object {
        Object::from_value(v).unwrap()
    }

    #[test]
    fn secrets_of_vms_and_of_restores_in_progress_are_referenced() {
        let vm = obj(
            json!({"apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
            "metadata": {"name": "vm1", "namespace": "ns1"},
            "spec": {"template": {"spec": {
                "accessCredentials": [{"sshPublicKey": {"source": {"secret": {"secretName": "keys"}}}}],
                "volumes": [{"name": "ci", "cloudInitNoCloud": {
                    "secretRef": {"name": "ud"}, "networkDataSecretRef": {"name": "nd"}}}]}}}}),
        );
        let vmb = obj(
            json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineBackup",
            "metadata": {"name": "b1", "namespace": "ns1"},
            "spec": {"source": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": "vm1"}},
            "status": {"secretBackups": [{"name": "ud", "data": {}}]}}),
        );
        let restore = |name: &str, new_vm: bool, target: &str| {
            obj(
                json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineRestore",
                "metadata": {"name": name, "namespace": "ns2"},
                "spec": {"target": {"apiGroup": "kubevirt.io", "kind": "VirtualMachine", "name": target},
                    "virtualMachineBackupName": "b1", "virtualMachineBackupNamespace": "ns1", "newVM": new_vm}}),
            )
        };
        let view = View::from_objects([
            vm,
            vmb,
            restore("r-new", true, "copy"),
            restore("r-same", false, "vm1"),
        ]);
        let names: Vec<(String, String)> = referenced(&view).into_iter().collect();
        let pair = |ns: &str, n: &str| (ns.to_owned(), n.to_owned());
        assert_eq!(
            names,
            [
                pair("ns1", "keys"),
                pair("ns1", "nd"),
                pair("ns1", "ud"),
                pair("ns2", "ud"),
                pair("ns2", &new_vm_secret_name("copy", "ud")),
            ]
        );
    }
}

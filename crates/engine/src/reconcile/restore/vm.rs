//! The VirtualMachine a restore creates or rewrites, shaped as Harvester
//! shapes it: claims pointing at the restored PVCs, secrets renamed for a
//! new VM, MAC addresses blanked unless kept, the restore annotations, and
//! a run strategy that keeps the VM stopped until its volumes are ready.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use vmbackup_api::core::PvcTemplate;
use vmbackup_api::harvester::VirtualMachineSourceSpec;
use vmbackup_api::kubevirt::{VirtualMachine, VirtualMachineSpec};
use vmbackup_api::meta::EmbeddedObjectMeta;
use vmbackup_api::wellknown;

/// KubeVirt run strategy that keeps a VM stopped.
pub const HALTED: &str = "Halted";
/// The run strategy Harvester gives a restored VM whose source had none.
pub const DEFAULT_RUN_STRATEGY: &str = "RerunOnFailure";

/// What a restore writes into the VM it creates or replaces.
#[derive(Debug, Clone)]
pub struct VmRestoreInfo<'a> {
    /// The VM's name (`spec.target.name`).
    pub target: &'a str,
    /// The VMRestore's namespace (the VM's).
    pub namespace: &'a str,
    /// `<vmrestore>-<uid>`.
    pub restore_id: &'a str,
    /// The VMRestore's name.
    pub restore_name: &'a str,
    /// KubeVirt volume name → restored PVC name.
    pub claims: &'a BTreeMap<String, String>,
    /// Original secret name → name in the restored VM (identity for a replace).
    pub secrets: &'a BTreeMap<String, String>,
    /// Templates of the restored PVCs (`harvesterhci.io/volumeClaimTemplates`).
    pub claim_templates: &'a [PvcTemplate],
}

/// The run strategy a restored VM ends with: `Halted` when asked to stay
/// halted; otherwise the source's `Always` or `RerunOnFailure`; any other
/// source strategy (`Halted`, `Manual`, none, the legacy `running` flag) gives
/// `RerunOnFailure`, because a restore starts the VM and vmbackup starts VMs
/// through their run strategy.
pub fn final_run_strategy(source: Option<&VirtualMachineSpec>, halt_after_restore: bool) -> String {
    if halt_after_restore {
        return HALTED.to_owned();
    }
    match source.and_then(|s| s.run_strategy.as_deref()) {
        Some(s @ ("Always" | "RerunOnFailure")) => s.to_owned(),
        _ => DEFAULT_RUN_STRATEGY.to_owned(),
    }
}

/// Sets the run strategy, dropping the legacy `running` flag (KubeVirt
/// refuses a VM with both).
pub fn set_run_strategy(spec: &mut VirtualMachineSpec, strategy: &str) {
    spec.running = None;
    spec.run_strategy = Some(strategy.to_owned());
}

/// The run strategy as KubeVirt reads it (`running: true` is `Always`).
pub fn run_strategy(vm: &VirtualMachine) -> &str {
    match (vm.spec.run_strategy.as_deref(), vm.spec.running) {
        (Some(s), _) => s,
        (None, Some(true)) => "Always",
        (None, _) => HALTED,
    }
}

/// Whether the VM has no running instance.
pub fn is_stopped(vm: &VirtualMachine) -> bool {
    let Some(status) = vm.status.as_ref() else {
        return true;
    };
    status.printable_status.as_deref() == Some("Stopped")
        || (status.ready != Some(true) && status.created != Some(true))
}

/// Whether the VM's instance is ready.
pub fn is_ready(vm: &VirtualMachine) -> bool {
    vm.status.as_ref().and_then(|s| s.ready) == Some(true)
}

/// The restore id a VM carries, if a restore wrote it.
pub fn last_restore_id(vm: &VirtualMachine) -> Option<&str> {
    vm.metadata
        .annotations
        .as_ref()?
        .get(wellknown::ANNOTATION_LAST_RESTORE_UID)
        .map(String::as_str)
}

/// The claim names of the VM's PVC volumes.
pub fn claim_names(vm: &VirtualMachine) -> Vec<String> {
    vm.volumes()
        .iter()
        .filter_map(|v| v.claim_name())
        .filter(|c| !c.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Points every PVC volume named in `claims` at its restored PVC.
fn rename_claims(spec: &mut VirtualMachineSpec, claims: &BTreeMap<String, String>) {
    let instance = spec.instance_spec_mut();
    for volume in instance.volumes.iter_mut().flatten() {
        if let (Some(pvc), Some(new)) = (
            volume.persistent_volume_claim.as_mut(),
            claims.get(&volume.name),
        ) {
            pvc.claim_name = new.clone();
        }
    }
}

/// Renames the Secrets the VM references (access credentials, cloud-init
/// user and network data) and the keys of the dynamic SSH key annotation.
fn rename_secrets(spec: &mut VirtualMachineSpec, secrets: &BTreeMap<String, String>) {
    if secrets.iter().all(|(a, b)| a == b) {
        return;
    }
    let template = spec.template.get_or_insert_with(Default::default);
    if let Some(annotations) = template
        .metadata
        .as_mut()
        .and_then(|m| m.annotations.as_mut())
        && let Some(text) = annotations.get(wellknown::ANNOTATION_DYNAMIC_SSH_KEY_NAMES)
        && let Ok(map) = serde_json::from_str::<BTreeMap<String, serde_json::Value>>(text)
    {
        let renamed: BTreeMap<String, serde_json::Value> = map
            .into_iter()
            .map(|(k, v)| (secrets.get(&k).cloned().unwrap_or(k), v))
            .collect();
        if let Ok(text) = serde_json::to_string(&renamed) {
            annotations.insert(wellknown::ANNOTATION_DYNAMIC_SSH_KEY_NAMES.to_owned(), text);
        }
    }
    let instance = spec.instance_spec_mut();
    let rename = |name: &mut String| {
        if let Some(new) = secrets.get(name.as_str()) {
            *name = new.clone();
        }
    };
    for cred in instance.access_credentials.iter_mut().flatten() {
        for from in [&mut cred.ssh_public_key, &mut cred.user_password]
            .into_iter()
            .flatten()
        {
            if let Some(name) = from
                .source
                .as_mut()
                .and_then(|s| s.secret.as_mut())
                .and_then(|s| s.secret_name.as_mut())
            {
                rename(name);
            }
        }
    }
    for volume in instance.volumes.iter_mut().flatten() {
        for source in [
            &mut volume.cloud_init_no_cloud,
            &mut volume.cloud_init_config_drive,
        ]
        .into_iter()
        .flatten()
        {
            for r in [&mut source.secret_ref, &mut source.network_data_secret_ref]
                .into_iter()
                .flatten()
            {
                if let Some(name) = r.name.as_mut() {
                    rename(name);
                }
            }
        }
    }
}

/// Removes every interface's MAC address (KubeVirt assigns new ones).
fn blank_macs(spec: &mut VirtualMachineSpec) {
    for interface in spec.instance_spec_mut().interfaces_mut() {
        interface.mac_address = None;
    }
}

/// The restore annotations every restored VM carries.
fn restore_annotations(info: &VmRestoreInfo, annotations: &mut BTreeMap<String, String>) {
    annotations.insert(
        wellknown::ANNOTATION_LAST_RESTORE_UID.to_owned(),
        info.restore_id.to_owned(),
    );
    annotations.insert(
        wellknown::ANNOTATION_RESTORE_NAME.to_owned(),
        info.restore_name.to_owned(),
    );
    annotations.insert(
        wellknown::ANNOTATION_VOLUME_CLAIM_TEMPLATES.to_owned(),
        serde_json::to_string(info.claim_templates).unwrap_or_else(|_| "[]".into()),
    );
}

/// A new VM restored from `source` (Harvester's "new VM" flow): the
/// source's template spec with claims and secrets renamed, MACs blanked
/// unless kept, template labels naming the new VM, the restore annotations
/// and the source's reserved-memory and hot-plug annotations, no
/// DataVolume templates, and `Halted` until its volumes are ready.
pub fn new_vm(
    info: &VmRestoreInfo,
    source: &VirtualMachineSourceSpec,
    keep_mac_address: bool,
) -> VirtualMachine {
    let mut spec = source.spec.clone().unwrap_or_default();
    spec.data_volume_templates = None;
    set_run_strategy(&mut spec, HALTED);
    rename_claims(&mut spec, info.claims);
    rename_secrets(&mut spec, info.secrets);
    if !keep_mac_address {
        blank_macs(&mut spec);
    }
    let template = spec.template.get_or_insert_with(Default::default);
    let meta = template
        .metadata
        .get_or_insert_with(EmbeddedObjectMeta::default);
    meta.labels = Some(BTreeMap::from([
        (wellknown::LABEL_CREATOR.to_owned(), "harvester".to_owned()),
        (wellknown::LABEL_VM_NAME.to_owned(), info.target.to_owned()),
    ]));
    let mut annotations = BTreeMap::new();
    let source_annotations = source
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.as_ref());
    for key in [
        wellknown::ANNOTATION_RESERVED_MEMORY,
        wellknown::ANNOTATION_ENABLE_CPU_MEMORY_HOTPLUG,
    ] {
        if let Some(v) = source_annotations.and_then(|a| a.get(key)) {
            annotations.insert(key.to_owned(), v.clone());
        }
    }
    restore_annotations(info, &mut annotations);
    VirtualMachine {
        metadata: ObjectMeta {
            name: Some(info.target.to_owned()),
            namespace: Some(info.namespace.to_owned()),
            annotations: Some(annotations),
            ..ObjectMeta::default()
        },
        spec,
        ..VirtualMachine::default()
    }
}

/// `current` with its whole spec replaced by the backed-up one (Harvester's
/// "replace" flow): claims point at the restored PVCs, secret names and
/// MACs are kept, the VM stays `Halted` until its volumes are ready, and it
/// carries the restore annotations.
pub fn replaced_vm(
    current: &VirtualMachine,
    info: &VmRestoreInfo,
    source: &VirtualMachineSourceSpec,
) -> VirtualMachine {
    let mut vm = current.clone();
    let mut spec = source.spec.clone().unwrap_or_default();
    set_run_strategy(&mut spec, HALTED);
    rename_claims(&mut spec, info.claims);
    rename_secrets(&mut spec, info.secrets);
    vm.spec = spec;
    restore_annotations(
        info,
        vm.metadata.annotations.get_or_insert_with(BTreeMap::new),
    );
    vm
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn source() -> VirtualMachineSourceSpec {
        serde_json::from_value(json!({
            "metadata": {"name": "vm1", "namespace": "default",
                "annotations": {"harvesterhci.io/reservedMemory": "100Mi", "other": "x"}},
            "spec": {"running": true, "dataVolumeTemplates": [{"metadata": {"name": "dv"}}],
                "template": {"metadata": {"labels": {"harvesterhci.io/vmName": "vm1"},
                        "annotations": {"harvesterhci.io/dynamic-ssh-key-names": "{\"vm1-keys\":[\"k1\"]}"}},
                    "spec": {"domain": {"devices": {"interfaces": [{"name": "nic", "macAddress": "52:54:00:00:00:01", "bridge": {}}]}},
                        "accessCredentials": [{"sshPublicKey": {"source": {"secret": {"secretName": "vm1-keys"}}}}],
                        "volumes": [
                            {"name": "disk-0", "persistentVolumeClaim": {"claimName": "vm1-disk-0"}},
                            {"name": "cloudinit", "cloudInitNoCloud": {"secretRef": {"name": "vm1-ci"}, "networkDataSecretRef": {"name": "vm1-ci"}}}]}}}
        }))
        .unwrap()
    }

    fn info<'a>(
        claims: &'a BTreeMap<String, String>,
        secrets: &'a BTreeMap<String, String>,
    ) -> VmRestoreInfo<'a> {
        VmRestoreInfo {
            target: "vm2",
            namespace: "other",
            restore_id: "r1-u1",
            restore_name: "r1",
            claims,
            secrets,
            claim_templates: &[],
        }
    }

    #[test]
    fn a_new_vm_gets_new_claims_secrets_and_labels_and_starts_halted() {
        let claims = BTreeMap::from([("disk-0".to_owned(), "restore-b-u1-disk-0".to_owned())]);
        let secrets = BTreeMap::from([
            ("vm1-keys".to_owned(), "vm-vm2-aaaa-ref".to_owned()),
            ("vm1-ci".to_owned(), "vm-vm2-bbbb-ref".to_owned()),
        ]);
        let vm = new_vm(&info(&claims, &secrets), &source(), false);
        let v = serde_json::to_value(&vm).unwrap();
        assert_eq!(v["spec"]["runStrategy"], "Halted");
        assert!(v["spec"].get("running").is_none());
        assert!(v["spec"].get("dataVolumeTemplates").is_none());
        let t = &v["spec"]["template"];
        assert_eq!(t["metadata"]["labels"]["harvesterhci.io/vmName"], "vm2");
        assert_eq!(
            t["metadata"]["labels"]["harvesterhci.io/creator"],
            "harvester"
        );
        assert_eq!(
            t["metadata"]["annotations"]["harvesterhci.io/dynamic-ssh-key-names"],
            "{\"vm-vm2-aaaa-ref\":[\"k1\"]}"
        );
        assert_eq!(
            t["spec"]["volumes"][0]["persistentVolumeClaim"]["claimName"],
            "restore-b-u1-disk-0"
        );
        assert_eq!(
            t["spec"]["volumes"][1]["cloudInitNoCloud"]["secretRef"]["name"],
            "vm-vm2-bbbb-ref"
        );
        assert_eq!(
            t["spec"]["volumes"][1]["cloudInitNoCloud"]["networkDataSecretRef"]["name"],
            "vm-vm2-bbbb-ref"
        );
        assert_eq!(
            t["spec"]["accessCredentials"][0]["sshPublicKey"]["source"]["secret"]["secretName"],
            "vm-vm2-aaaa-ref"
        );
        let nic = &t["spec"]["domain"]["devices"]["interfaces"][0];
        assert!(nic.get("macAddress").is_none());
        assert_eq!(nic["bridge"], json!({}));
        let a = &v["metadata"]["annotations"];
        assert_eq!(a["restore.harvesterhci.io/last-restore-uid"], "r1-u1");
        assert_eq!(a["restore.harvesterhci.io/name"], "r1");
        assert_eq!(a["harvesterhci.io/reservedMemory"], "100Mi");
        assert!(a.get("other").is_none());
        assert!(v["metadata"].get("labels").is_none());
    }

    #[test]
    fn keep_mac_address_keeps_it() {
        let empty = BTreeMap::new();
        let vm = new_vm(&info(&empty, &empty), &source(), true);
        let v = serde_json::to_value(&vm).unwrap();
        assert_eq!(
            v["spec"]["template"]["spec"]["domain"]["devices"]["interfaces"][0]["macAddress"],
            "52:54:00:00:00:01"
        );
    }

    #[test]
    fn a_replaced_vm_keeps_its_identity_macs_and_secret_names() {
        let current: VirtualMachine = serde_json::from_value(json!({
            "apiVersion": "kubevirt.io/v1", "kind": "VirtualMachine",
            "metadata": {"name": "vm1", "namespace": "default", "uid": "u-vm1", "labels": {"a": "b"}},
            "spec": {"runStrategy": "Always", "template": {"spec": {"volumes": [
                {"name": "disk-0", "persistentVolumeClaim": {"claimName": "new-disk"}},
                {"name": "disk-1", "persistentVolumeClaim": {"claimName": "added-later"}}]}}},
            "status": {"ready": false}
        }))
        .unwrap();
        let claims = BTreeMap::from([("disk-0".to_owned(), "restore-b-u1-disk-0".to_owned())]);
        let secrets = BTreeMap::from([("vm1-keys".to_owned(), "vm1-keys".to_owned())]);
        let vm = replaced_vm(&current, &info(&claims, &secrets), &source());
        assert_eq!(vm.metadata.uid.as_deref(), Some("u-vm1"));
        assert_eq!(vm.metadata.labels, current.metadata.labels);
        assert_eq!(claim_names(&vm), ["restore-b-u1-disk-0"]);
        let v = serde_json::to_value(&vm).unwrap();
        assert_eq!(v["spec"]["runStrategy"], "Halted");
        assert_eq!(
            v["spec"]["template"]["spec"]["domain"]["devices"]["interfaces"][0]["macAddress"],
            "52:54:00:00:00:01"
        );
        assert_eq!(
            v["spec"]["template"]["spec"]["accessCredentials"][0]["sshPublicKey"]["source"]["secret"]
                ["secretName"],
            "vm1-keys"
        );
        assert_eq!(last_restore_id(&vm), Some("r1-u1"));
    }

    #[test]
    fn run_strategies() {
        let spec = |s: Option<&str>| VirtualMachineSpec {
            run_strategy: s.map(str::to_owned),
            ..VirtualMachineSpec::default()
        };
        assert_eq!(
            final_run_strategy(Some(&spec(Some("Always"))), false),
            "Always"
        );
        assert_eq!(
            final_run_strategy(Some(&spec(Some("Halted"))), false),
            "RerunOnFailure"
        );
        assert_eq!(
            final_run_strategy(Some(&spec(Some("Manual"))), false),
            "RerunOnFailure"
        );
        assert_eq!(final_run_strategy(None, false), "RerunOnFailure");
        assert_eq!(
            final_run_strategy(Some(&spec(Some("Always"))), true),
            "Halted"
        );
    }
}

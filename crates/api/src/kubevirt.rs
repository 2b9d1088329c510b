//! `kubevirt.io/v1` VirtualMachine: typed where vmbackup reads or writes
//! (volumes and their claims, disks, interface MACs, run strategy, secret
//! references, annotations), everything else kept as it was.

use std::borrow::Cow;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::{Deserialize, Serialize};

use crate::core::PvcTemplate;
use crate::meta::EmbeddedObjectMeta;
use crate::{Extra, k8s_object, preserving_serde, wellknown};

/// A KubeVirt virtual machine.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self")]
pub struct VirtualMachine {
    /// Standard object metadata.
    #[serde(default)]
    pub metadata: ObjectMeta,
    /// Desired state.
    pub spec: VirtualMachineSpec,
    /// Observed state.
    pub status: Option<VirtualMachineStatus>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
k8s_object!(
    VirtualMachine,
    group = "kubevirt.io",
    version = "v1",
    kind = "VirtualMachine",
    plural = "virtualmachines",
    namespaced = true
);

/// Errors reading typed values out of a VirtualMachine's annotations.
#[derive(Debug, thiserror::Error)]
pub enum VirtualMachineError {
    /// The `harvesterhci.io/volumeClaimTemplates` annotation is not the
    /// expected JSON list.
    #[error(
        "VirtualMachine {vm}: annotation {annotation} is not a JSON list of PVC templates: {message}"
    )]
    BadVolumeClaimTemplates {
        /// `<namespace>/<name>` of the VM.
        vm: String,
        /// The annotation key.
        annotation: &'static str,
        /// What is wrong, with the path inside the JSON.
        message: String,
    },
}

impl VirtualMachine {
    /// The PVC templates in the `harvesterhci.io/volumeClaimTemplates`
    /// annotation; empty when the annotation is absent.
    pub fn volume_claim_templates(&self) -> Result<Vec<PvcTemplate>, VirtualMachineError> {
        let annotation = wellknown::ANNOTATION_VOLUME_CLAIM_TEMPLATES;
        let Some(text) = self
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(annotation))
        else {
            return Ok(Vec::new());
        };
        let mut de = serde_json::Deserializer::from_str(text);
        serde_path_to_error::deserialize(&mut de).map_err(|err| {
            VirtualMachineError::BadVolumeClaimTemplates {
                vm: format!(
                    "{}/{}",
                    self.metadata.namespace.as_deref().unwrap_or_default(),
                    self.metadata.name.as_deref().unwrap_or_default()
                ),
                annotation,
                message: format!("{}: {}", err.path(), err.inner()),
            }
        })
    }

    /// The VM's volumes (`spec.template.spec.volumes`).
    pub fn volumes(&self) -> &[Volume] {
        self.spec.volumes()
    }
}

/// `VirtualMachine.spec`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct VirtualMachineSpec {
    /// Legacy on/off switch (mutually exclusive with `runStrategy`).
    pub running: Option<bool>,
    /// `Always`, `RerunOnFailure`, `Manual`, `Halted`, ...
    pub run_strategy: Option<String>,
    /// The VM instance template.
    pub template: Option<VirtualMachineInstanceTemplateSpec>,
    /// DataVolume templates (kept as written).
    pub data_volume_templates: Option<Vec<serde_json::Value>>,
    /// Fields not modelled here (`instancetype`, `preference`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(VirtualMachineSpec);

/// In a CRD (the VM copy inside a VM backup) the VM spec keeps every field:
/// the whole KubeVirt schema is not repeated here.
impl schemars::JsonSchema for VirtualMachineSpec {
    fn schema_name() -> Cow<'static, str> {
        "VirtualMachineSpec".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        crate::schema::preserved_object()
    }
}

impl VirtualMachineSpec {
    /// The volumes of the template, or none.
    pub fn volumes(&self) -> &[Volume] {
        self.template
            .as_ref()
            .and_then(|t| t.spec.as_ref())
            .and_then(|s| s.volumes.as_deref())
            .unwrap_or_default()
    }

    /// The template's instance spec, created empty if missing.
    pub fn instance_spec_mut(&mut self) -> &mut VirtualMachineInstanceSpec {
        self.template
            .get_or_insert_with(Default::default)
            .spec
            .get_or_insert_with(Default::default)
    }
}

/// `spec.template`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct VirtualMachineInstanceTemplateSpec {
    /// Template metadata (labels, annotations; `creationTimestamp: null` kept).
    pub metadata: Option<EmbeddedObjectMeta>,
    /// The instance spec.
    pub spec: Option<VirtualMachineInstanceSpec>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(VirtualMachineInstanceTemplateSpec);

/// `spec.template.spec`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct VirtualMachineInstanceSpec {
    /// CPU, memory, devices, ...
    pub domain: Option<DomainSpec>,
    /// Volumes backing the disks.
    pub volumes: Option<Vec<Volume>>,
    /// SSH keys and passwords injected from Secrets.
    pub access_credentials: Option<Vec<AccessCredential>>,
    /// Fields not modelled here (`networks`, `affinity`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(VirtualMachineInstanceSpec);

impl VirtualMachineInstanceSpec {
    /// The network interfaces, mutable (e.g. to blank MAC addresses).
    pub fn interfaces_mut(&mut self) -> &mut [Interface] {
        match self
            .domain
            .as_mut()
            .and_then(|d| d.devices.as_mut())
            .and_then(|d| d.interfaces.as_mut())
        {
            Some(interfaces) => interfaces,
            None => &mut [],
        }
    }
}

/// `domain`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct DomainSpec {
    /// Disks and interfaces.
    pub devices: Option<Devices>,
    /// Fields not modelled here (`cpu`, `memory`, `resources`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(DomainSpec);

/// `domain.devices`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct Devices {
    /// Disks, by volume name.
    pub disks: Option<Vec<Disk>>,
    /// Network interfaces.
    pub interfaces: Option<Vec<Interface>>,
    /// Fields not modelled here (`inputs`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(Devices);

/// A disk.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct Disk {
    /// Name of the volume backing this disk.
    #[serde(default, skip_serializing_if = "crate::extra::is_empty")]
    pub name: String,
    /// Boot order.
    pub boot_order: Option<i64>,
    /// Whether several VMs share the disk (such disks cannot be backed up).
    pub shareable: Option<bool>,
    /// Fields not modelled here (`disk`, `cdrom`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(Disk);

/// A network interface.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct Interface {
    /// Interface name (matches a network).
    #[serde(default, skip_serializing_if = "crate::extra::is_empty")]
    pub name: String,
    /// MAC address, e.g. `52:54:00:b6:df:da`.
    pub mac_address: Option<String>,
    /// Fields not modelled here (`model`, `masquerade`, `bridge`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(Interface);

/// A volume of the VM.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct Volume {
    /// Volume name (`disk-0`); disks refer to it.
    #[serde(default, skip_serializing_if = "crate::extra::is_empty")]
    pub name: String,
    /// A PVC-backed volume.
    pub persistent_volume_claim: Option<PersistentVolumeClaimVolumeSource>,
    /// A DataVolume-backed volume.
    pub data_volume: Option<DataVolumeSource>,
    /// A cloud-init NoCloud volume.
    pub cloud_init_no_cloud: Option<CloudInitSource>,
    /// A cloud-init ConfigDrive volume.
    pub cloud_init_config_drive: Option<CloudInitSource>,
    /// Fields not modelled here (`containerDisk`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(Volume);

impl Volume {
    /// The claim name of a PVC volume.
    pub fn claim_name(&self) -> Option<&str> {
        self.persistent_volume_claim
            .as_ref()
            .map(|p| p.claim_name.as_str())
    }
}

/// `volumes[].persistentVolumeClaim`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct PersistentVolumeClaimVolumeSource {
    /// The PVC name.
    #[serde(default, skip_serializing_if = "crate::extra::is_empty")]
    pub claim_name: String,
    /// Read-only attachment.
    pub read_only: Option<bool>,
    /// Hot-plugged volume.
    pub hotpluggable: Option<bool>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(PersistentVolumeClaimVolumeSource);

/// `volumes[].dataVolume`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct DataVolumeSource {
    /// The DataVolume (and PVC) name.
    #[serde(default, skip_serializing_if = "crate::extra::is_empty")]
    pub name: String,
    /// Hot-plugged volume.
    pub hotpluggable: Option<bool>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(DataVolumeSource);

/// A cloud-init volume: the Secret references are typed.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct CloudInitSource {
    /// Secret with the user data.
    pub secret_ref: Option<LocalObjectReference>,
    /// Secret with the network data.
    pub network_data_secret_ref: Option<LocalObjectReference>,
    /// Fields not modelled here (`userData`, `networkData`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(CloudInitSource);

/// `{name}`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct LocalObjectReference {
    /// Object name.
    pub name: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(LocalObjectReference);

/// `accessCredentials[]`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct AccessCredential {
    /// SSH public keys from a Secret.
    pub ssh_public_key: Option<CredentialFromSecret>,
    /// User passwords from a Secret.
    pub user_password: Option<CredentialFromSecret>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(AccessCredential);

impl AccessCredential {
    /// The Secret this credential reads, if any.
    pub fn secret_name(&self) -> Option<&str> {
        [&self.ssh_public_key, &self.user_password]
            .into_iter()
            .flatten()
            .find_map(CredentialFromSecret::secret_name)
    }
}

/// `{source: {secret: {secretName}}, ...}`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct CredentialFromSecret {
    /// Where the credential comes from.
    pub source: Option<CredentialSource>,
    /// Fields not modelled here (`propagationMethod`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(CredentialFromSecret);

impl CredentialFromSecret {
    /// The Secret name, if the source is a Secret.
    pub fn secret_name(&self) -> Option<&str> {
        self.source
            .as_ref()?
            .secret
            .as_ref()?
            .secret_name
            .as_deref()
    }
}

/// `source`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct CredentialSource {
    /// A Secret source.
    pub secret: Option<SecretSource>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(CredentialSource);

/// `{secretName}`.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct SecretSource {
    /// The Secret name.
    pub secret_name: Option<String>,
    /// Fields not modelled here.
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(SecretSource);

/// `VirtualMachine.status`: the fields vmbackup reads.
#[serde_with::skip_serializing_none]
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(remote = "Self", rename_all = "camelCase")]
pub struct VirtualMachineStatus {
    /// The VM instance exists.
    pub created: Option<bool>,
    /// The VM instance is ready.
    pub ready: Option<bool>,
    /// `Running`, `Stopped`, ...
    pub printable_status: Option<String>,
    /// Fields not modelled here (`conditions`, `volumeSnapshotStatuses`, ...).
    #[serde(flatten)]
    pub extra: Extra,
}
preserving_serde!(VirtualMachineStatus);

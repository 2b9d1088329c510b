//! Our CustomResourceDefinitions: `harvesterhci.io/v1beta1`
//! VirtualMachineBackup and VirtualMachineRestore, generated from the Rust
//! types, with Harvester's names, short names, printer columns and
//! subresources (none: status is written with ordinary updates, and a
//! backup may be created together with its status).

use std::borrow::Cow;

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceColumnDefinition, CustomResourceDefinition, CustomResourceDefinitionNames,
    CustomResourceDefinitionSpec, CustomResourceDefinitionVersion, CustomResourceSubresources,
    CustomResourceValidation, JSONSchemaProps,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use schemars::JsonSchema;
use serde_json::{Value, json};

use crate::harvester::{VirtualMachineBackup, VirtualMachineRestore};
use crate::object::TypeInfo;

/// Errors producing the CRDs.
#[derive(Debug, thiserror::Error)]
pub enum CrdError {
    /// The generated schema is not a valid `JSONSchemaProps`.
    #[error("schema of {kind} is not a valid CRD schema: {source}")]
    Schema {
        /// The kind whose schema failed.
        kind: &'static str,
        /// The conversion error.
        source: serde_json::Error,
    },
    /// The CRDs could not be written as YAML.
    #[error("cannot write CRDs as YAML: {0}")]
    Yaml(#[from] serde_yaml_ng::Error),
}

/// What distinguishes one of our CRDs.
struct Definition {
    singular: &'static str,
    short_names: &'static [&'static str],
    columns: &'static [(&'static str, &'static str, &'static str)],
}

const BACKUP: Definition = Definition {
    singular: "virtualmachinebackup",
    short_names: &["vmbackup", "vmbackups"],
    columns: &[
        ("SOURCE_KIND", "string", ".spec.source.kind"),
        ("SOURCE_NAME", "string", ".spec.source.name"),
        ("TYPE", "string", ".spec.type"),
        ("READY_TO_USE", "boolean", ".status.readyToUse"),
        ("AGE", "date", ".metadata.creationTimestamp"),
        ("ERROR", "string", ".status.error.message"),
    ],
};

// Harvester declares the restore's ERROR column as a date over a field the
// restore status does not have; kept identical so `kubectl get` prints the
// same table on either CRD.
const RESTORE: Definition = Definition {
    singular: "virtualmachinerestore",
    short_names: &["vmrestore", "vmrestores"],
    columns: &[
        ("TARGET_KIND", "string", ".spec.target.kind"),
        ("TARGET_NAME", "string", ".spec.target.name"),
        ("COMPLETE", "boolean", ".status.complete"),
        ("AGE", "date", ".metadata.creationTimestamp"),
        ("ERROR", "date", ".status.error.message"),
    ],
};

/// The VirtualMachineBackup CRD.
pub fn virtual_machine_backup() -> Result<CustomResourceDefinition, CrdError> {
    definition::<VirtualMachineBackup>(&BACKUP)
}

/// The VirtualMachineRestore CRD.
pub fn virtual_machine_restore() -> Result<CustomResourceDefinition, CrdError> {
    definition::<VirtualMachineRestore>(&RESTORE)
}

/// Both CRDs, backup first.
pub fn all() -> Result<Vec<CustomResourceDefinition>, CrdError> {
    Ok(vec![virtual_machine_backup()?, virtual_machine_restore()?])
}

/// CRDs as multi-document YAML (`---` before each), ready for
/// `kubectl apply -f -`.
pub fn to_yaml(crds: &[CustomResourceDefinition]) -> Result<String, CrdError> {
    let mut out = String::new();
    for crd in crds {
        out.push_str("---\n");
        out.push_str(&serde_yaml_ng::to_string(crd)?);
    }
    Ok(out)
}

/// The OpenAPI v3 schema of a type, as a structural Kubernetes schema with
/// `apiVersion`, `kind` and `metadata` added.
pub fn schema_of<T: JsonSchema + TypeInfo>() -> Result<JSONSchemaProps, CrdError> {
    let generator = schemars::generate::SchemaSettings::openapi3()
        .with(|s| {
            s.inline_subschemas = true;
            s.meta_schema = None;
        })
        .into_generator();
    let mut schema = generator.into_root_schema_for::<T>().to_value();
    crate::schema::structural(&mut schema);
    if let Value::Object(root) = &mut schema {
        root.remove("description");
        let properties = root.entry("properties").or_insert_with(|| json!({}));
        if let Value::Object(properties) = properties {
            properties.insert(
                "apiVersion".into(),
                json!({"type": "string", "description": "APIVersion defines the versioned schema of this representation of an object."}),
            );
            properties.insert(
                "kind".into(),
                json!({"type": "string", "description": "Kind is a string value representing the REST resource this object represents."}),
            );
            properties.insert("metadata".into(), json!({"type": "object"}));
        }
    }
    serde_json::from_value(schema).map_err(|source| CrdError::Schema {
        kind: T::KIND,
        source,
    })
}

fn definition<T: JsonSchema + TypeInfo>(
    def: &Definition,
) -> Result<CustomResourceDefinition, CrdError> {
    let columns = def
        .columns
        .iter()
        .map(|(name, type_, path)| CustomResourceColumnDefinition {
            name: (*name).into(),
            type_: (*type_).into(),
            json_path: (*path).into(),
            ..Default::default()
        })
        .collect();
    Ok(CustomResourceDefinition {
        metadata: ObjectMeta {
            name: Some(format!("{}.{}", T::PLURAL, T::GROUP)),
            ..Default::default()
        },
        spec: CustomResourceDefinitionSpec {
            group: T::GROUP.into(),
            names: CustomResourceDefinitionNames {
                kind: T::KIND.into(),
                list_kind: Some(format!("{}List", T::KIND)),
                plural: T::PLURAL.into(),
                singular: Some(def.singular.into()),
                short_names: Some(def.short_names.iter().map(|s| (*s).into()).collect()),
                categories: None,
            },
            scope: if T::NAMESPACED {
                "Namespaced"
            } else {
                "Cluster"
            }
            .into(),
            versions: vec![CustomResourceDefinitionVersion {
                name: T::VERSION.into(),
                served: true,
                storage: true,
                additional_printer_columns: Some(columns),
                schema: Some(CustomResourceValidation {
                    open_api_v3_schema: Some(schema_of::<T>()?),
                }),
                // Harvester's CRDs have `subresources: {}`: no status subresource.
                subresources: Some(CustomResourceSubresources::default()),
                ..Default::default()
            }],
            ..Default::default()
        },
        status: None,
    })
}

// The kube-rs trait, for code that installs or discovers CRDs generically.
// Generating a schema from our own types cannot fail at run time: the tests
// build both CRDs.
macro_rules! custom_resource_ext {
    ($ty:ty, $def:expr, $build:path, $name:literal) => {
        impl kube::core::crd::v1::CustomResourceExt for $ty {
            #[allow(clippy::expect_used)]
            fn crd() -> CustomResourceDefinition {
                $build().expect("CRD schema generated from the Rust types")
            }

            fn crd_name() -> &'static str {
                $name
            }

            fn api_resource() -> kube::core::ApiResource {
                kube::core::ApiResource::erase::<Self>(&())
            }

            fn shortnames() -> &'static [&'static str] {
                $def.short_names
            }
        }
    };
}

custom_resource_ext!(
    VirtualMachineBackup,
    BACKUP,
    virtual_machine_backup,
    "virtualmachinebackups.harvesterhci.io"
);
custom_resource_ext!(
    VirtualMachineRestore,
    RESTORE,
    virtual_machine_restore,
    "virtualmachinerestores.harvesterhci.io"
);

/// Name of a CRD (`<plural>.<group>`) for a type.
pub fn crd_name<T: TypeInfo>() -> Cow<'static, str> {
    format!("{}.{}", T::PLURAL, T::GROUP).into()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::crd::v1::CustomResourceExt;

    #[test]
    fn names_and_columns_are_harvesters() {
        let crd = virtual_machine_backup().unwrap();
        assert_eq!(
            crd.metadata.name.as_deref(),
            Some("virtualmachinebackups.harvesterhci.io")
        );
        assert_eq!(
            crd.spec.names.short_names,
            Some(vec!["vmbackup".into(), "vmbackups".into()])
        );
        assert_eq!(
            crd.spec.names.list_kind.as_deref(),
            Some("VirtualMachineBackupList")
        );
        let version = &crd.spec.versions[0];
        assert_eq!(version.name, "v1beta1");
        assert_eq!(
            serde_json::to_value(&version.subresources).unwrap(),
            json!({})
        );
        assert_eq!(
            VirtualMachineBackup::crd_name(),
            crd_name::<VirtualMachineBackup>()
        );
        assert_eq!(
            VirtualMachineRestore::crd_name(),
            crd_name::<VirtualMachineRestore>()
        );
        assert_eq!(
            VirtualMachineRestore::shortnames(),
            ["vmrestore", "vmrestores"]
        );
        assert_eq!(
            VirtualMachineRestore::crd().spec.names.kind,
            "VirtualMachineRestore"
        );
    }

    #[test]
    fn schema_has_no_nullable_or_refs() {
        let text = serde_json::to_string(&all().unwrap()).unwrap();
        for bad in ["nullable", "$ref", "anyOf", "oneOf", "\"null\""] {
            assert!(!text.contains(bad), "{bad} in generated CRDs");
        }
    }
}

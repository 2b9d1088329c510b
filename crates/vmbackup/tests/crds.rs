//! `vmbackup crds` prints CRDs a cluster accepts in place of Harvester's:
//! the same names, short names, printer columns and subresources, and a
//! schema that keeps every field real VM backups and restores carry.
//!
//! Real objects are found through `VMBACKUP_FIXTURES`, by default the
//! `shared/fixtures/real` directory beside the workspace; the test fails if
//! it is missing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use serde_json::{Value, json};

/// Places where the schema may keep unknown fields without describing them:
/// where Harvester's CRD does the same (embedded metadata), and the VM spec
/// copied into a backup (Harvester spells out KubeVirt's whole schema there).
const PRESERVED: &[&str] = &[
    ".status.source.metadata",
    ".status.source.spec",
    ".status.volumeBackups[].persistentVolumeClaim.metadata",
    ".status.restores[].persistentVolumeClaimSpec.metadata",
];

fn crds_from_cli() -> Vec<CustomResourceDefinition> {
    let output = Command::cargo_bin("vmbackup")
        .unwrap()
        .arg("crds")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "vmbackup crds failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        output.stderr.is_empty(),
        "unexpected stderr: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).unwrap();
    assert!(text.starts_with("---\n"), "each CRD is a YAML document");
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|doc| <CustomResourceDefinition as serde::Deserialize>::deserialize(doc).unwrap())
        .collect()
}

fn crd<'a>(crds: &'a [CustomResourceDefinition], kind: &str) -> &'a CustomResourceDefinition {
    crds.iter()
        .find(|c| c.spec.names.kind == kind)
        .unwrap_or_else(|| panic!("no CRD for {kind}"))
}

fn schema(crd: &CustomResourceDefinition) -> Value {
    let version = &crd.spec.versions[0];
    serde_json::to_value(
        version
            .schema
            .as_ref()
            .unwrap()
            .open_api_v3_schema
            .as_ref()
            .unwrap(),
    )
    .unwrap()
}

#[test]
fn crds_are_harvesters_by_name_columns_and_subresources() {
    let crds = crds_from_cli();
    assert_eq!(crds.len(), 2);
    for (kind, plural, singular, shorts, columns) in [
        (
            "VirtualMachineBackup",
            "virtualmachinebackups",
            "virtualmachinebackup",
            ["vmbackup", "vmbackups"],
            json!([
                {"name": "SOURCE_KIND", "type": "string", "jsonPath": ".spec.source.kind"},
                {"name": "SOURCE_NAME", "type": "string", "jsonPath": ".spec.source.name"},
                {"name": "TYPE", "type": "string", "jsonPath": ".spec.type"},
                {"name": "READY_TO_USE", "type": "boolean", "jsonPath": ".status.readyToUse"},
                {"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                {"name": "ERROR", "type": "string", "jsonPath": ".status.error.message"}
            ]),
        ),
        (
            "VirtualMachineRestore",
            "virtualmachinerestores",
            "virtualmachinerestore",
            ["vmrestore", "vmrestores"],
            json!([
                {"name": "TARGET_KIND", "type": "string", "jsonPath": ".spec.target.kind"},
                {"name": "TARGET_NAME", "type": "string", "jsonPath": ".spec.target.name"},
                {"name": "COMPLETE", "type": "boolean", "jsonPath": ".status.complete"},
                {"name": "AGE", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                {"name": "ERROR", "type": "date", "jsonPath": ".status.error.message"}
            ]),
        ),
    ] {
        let crd = crd(&crds, kind);
        assert_eq!(
            crd.metadata.name.as_deref(),
            Some(format!("{plural}.harvesterhci.io").as_str())
        );
        assert_eq!(crd.spec.group, "harvesterhci.io");
        assert_eq!(crd.spec.scope, "Namespaced");
        let names = &crd.spec.names;
        assert_eq!(names.plural, plural);
        assert_eq!(names.singular.as_deref(), Some(singular));
        assert_eq!(
            names.list_kind.as_deref(),
            Some(format!("{kind}List").as_str())
        );
        assert_eq!(
            names.short_names.as_deref(),
            Some(&shorts.map(String::from)[..])
        );
        assert_eq!(crd.spec.versions.len(), 1);
        let version = &crd.spec.versions[0];
        assert_eq!(
            (version.name.as_str(), version.served, version.storage),
            ("v1beta1", true, true)
        );
        assert_eq!(
            serde_json::to_value(&version.additional_printer_columns).unwrap(),
            columns
        );
        // No status subresource: status is written by ordinary updates.
        assert_eq!(
            serde_json::to_value(&version.subresources).unwrap(),
            json!({})
        );
    }
}

#[test]
fn schema_keeps_harvesters_required_fields_defaults_and_rules() {
    let crds = crds_from_cli();
    let vmb = schema(crd(&crds, "VirtualMachineBackup"));
    assert_eq!(vmb["required"], json!(["spec"]));
    let spec = &vmb["properties"]["spec"];
    assert_eq!(spec["required"], json!(["source"]));
    assert_eq!(
        spec["properties"]["source"]["required"],
        json!(["kind", "name"])
    );
    let type_ = &spec["properties"]["type"];
    assert_eq!(type_["default"], json!("backup"));
    assert_eq!(type_["enum"], json!(["backup", "snapshot"]));
    assert_eq!(
        type_["x-kubernetes-validations"][0]["rule"],
        json!("self == oldSelf")
    );
    let vb = &vmb["properties"]["status"]["properties"]["volumeBackups"]["items"];
    let mut required: Vec<&str> = vb["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    required.sort_unstable();
    assert_eq!(
        required,
        ["csiDriverName", "persistentVolumeClaim", "volumeName"]
    );
    assert_eq!(
        vb["properties"]["csiDriverName"]["default"],
        json!("driver.longhorn.io")
    );
    let data =
        &vmb["properties"]["status"]["properties"]["secretBackups"]["items"]["properties"]["data"];
    assert_eq!(data["additionalProperties"]["format"], json!("byte"));

    let vmr = schema(crd(&crds, "VirtualMachineRestore"));
    let mut required: Vec<&str> = vmr["properties"]["spec"]["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    required.sort_unstable();
    assert_eq!(
        required,
        [
            "target",
            "virtualMachineBackupName",
            "virtualMachineBackupNamespace"
        ]
    );
    let status = &vmr["properties"]["status"]["properties"];
    for key in [
        "restores",
        "restoreTime",
        "deletedVolumes",
        "complete",
        "conditions",
        "targetUID",
        "progress",
    ] {
        assert!(status.get(key).is_some(), "status.{key} missing");
    }
}

#[test]
fn schemas_are_structural() {
    for crd in crds_from_cli() {
        check_structural(&schema(&crd), "");
    }
}

/// Every node has a type (unless it is int-or-string or keeps unknown
/// fields), and `properties` never sits beside `additionalProperties`.
fn check_structural(node: &Value, path: &str) {
    let preserve = node.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true));
    let int_or_string = node.get("x-kubernetes-int-or-string") == Some(&json!(true));
    assert!(
        node.get("type").is_some() || preserve || int_or_string,
        "{path}: no type"
    );
    assert!(
        !(node.get("properties").is_some() && node.get("additionalProperties").is_some()),
        "{path}: properties beside additionalProperties"
    );
    for keyword in ["$ref", "anyOf", "oneOf", "nullable"] {
        assert!(node.get(keyword).is_none(), "{path}: {keyword}");
    }
    if let Some(Value::Object(properties)) = node.get("properties") {
        for (key, child) in properties {
            check_structural(child, &format!("{path}.{key}"));
        }
    }
    if let Some(items) = node.get("items") {
        check_structural(items, &format!("{path}[]"));
    }
    if let Some(additional) = node.get("additionalProperties").filter(|a| a.is_object()) {
        check_structural(additional, &format!("{path}{{*}}"));
    }
}

fn fixtures_dir() -> PathBuf {
    let dir = std::env::var_os("VMBACKUP_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/fixtures/real")
        });
    assert!(
        dir.is_dir(),
        "fixture directory {} is missing (set VMBACKUP_FIXTURES)",
        dir.display()
    );
    dir
}

/// Every VirtualMachineBackup and VirtualMachineRestore in the fixture files
/// that parse (lists expanded), and in this workspace's own examples (minus
/// the `future*` fields they carry to test preservation, which no CRD has).
fn harvester_objects() -> Vec<(String, Value)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(fixtures_dir())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            matches!(
                p.extension().and_then(|e| e.to_str()),
                Some("yaml" | "yml" | "json")
            )
        })
        .collect();
    files.sort();
    let own = Path::new(env!("CARGO_MANIFEST_DIR")).join("../api/tests/data");
    files.push(own.join("vmbackup-ready.yaml"));
    files.push(own.join("vmrestore-complete.yaml"));
    let mut out = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let Ok(values) = vmbackup_api::document::values_from_str(&text) else {
            continue; // not valid YAML/JSON: nothing a cluster could hold
        };
        for (location, value) in values {
            let kind = value
                .get("kind")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let group = value
                .get("apiVersion")
                .and_then(Value::as_str)
                .unwrap_or_default();
            if group.starts_with("harvesterhci.io/")
                && matches!(kind, "VirtualMachineBackup" | "VirtualMachineRestore")
            {
                let mut value = value;
                drop_future_fields(&mut value);
                out.push((format!("{} {location}", file.display()), value));
            }
        }
    }
    out
}

fn drop_future_fields(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|key, _| !key.starts_with("future"));
            map.values_mut().for_each(drop_future_fields);
        }
        Value::Array(items) => items.iter_mut().for_each(drop_future_fields),
        _ => {}
    }
}

#[test]
fn schema_covers_every_field_of_real_backups_and_restores() {
    let crds = crds_from_cli();
    let objects = harvester_objects();
    let fixtures = objects
        .iter()
        .filter(|(name, _)| !name.contains("tests/data"))
        .count();
    assert!(
        fixtures > 0,
        "no VirtualMachineBackup/Restore among the fixtures"
    );
    for kind in ["VirtualMachineBackup", "VirtualMachineRestore"] {
        assert!(
            objects.iter().any(|(_, v)| v["kind"] == kind),
            "no {kind} checked"
        );
    }
    for (name, object) in &objects {
        let kind = object["kind"].as_str().unwrap();
        let schema = schema(crd(&crds, kind));
        let mut uncovered = Vec::new();
        walk(object, &schema, "", &mut uncovered);
        assert!(
            uncovered.is_empty(),
            "{name}: fields the {kind} CRD does not cover: {uncovered:#?}"
        );
    }
}

#[test]
fn the_walk_notices_a_field_the_schema_lacks() {
    let crds = crds_from_cli();
    let schema = schema(crd(&crds, "VirtualMachineBackup"));
    let object = json!({"spec": {"source": {"kind": "VirtualMachine", "name": "vm"}, "sourceSpec": {}},
                        "status": {"volumeBackups": [{"volumeName": "disk-0", "size": 1}], "progress": "x"}});
    let mut uncovered = Vec::new();
    walk(&object, &schema, "", &mut uncovered);
    assert_eq!(uncovered.len(), 3, "{uncovered:#?}");
}

/// Walks a value and its schema together, collecting paths the schema does
/// not describe (or describes with another type).
fn walk(value: &Value, schema: &Value, path: &str, uncovered: &mut Vec<String>) {
    if value.is_null() {
        return; // the API server drops nulls of non-nullable fields
    }
    if schema.get("x-kubernetes-preserve-unknown-fields") == Some(&json!(true)) {
        if PRESERVED.contains(&path) {
            return;
        }
        if schema.get("properties").is_none() {
            uncovered.push(format!("{path} (kept but not described)"));
            return;
        }
    }
    if path.is_empty() && value.is_object() {
        // apiVersion, kind and metadata are the API server's own.
        for (key, child) in value.as_object().into_iter().flatten() {
            if !matches!(key.as_str(), "apiVersion" | "kind" | "metadata") {
                walk_property(child, schema, key, path, uncovered);
            }
        }
        return;
    }
    let type_ = schema
        .get("type")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let int_or_string = schema.get("x-kubernetes-int-or-string") == Some(&json!(true));
    match value {
        Value::Object(map) => {
            if type_ != "object" {
                uncovered.push(format!("{path} (object, schema says {type_:?})"));
                return;
            }
            for (key, child) in map {
                walk_property(child, schema, key, path, uncovered);
            }
        }
        Value::Array(items) => {
            if type_ != "array" {
                uncovered.push(format!("{path} (array, schema says {type_:?})"));
                return;
            }
            for item in items {
                walk(item, &schema["items"], &format!("{path}[]"), uncovered);
            }
        }
        Value::String(_) if type_ == "string" || int_or_string => {}
        Value::Number(n)
            if type_ == "number" || int_or_string || (type_ == "integer" && !n.is_f64()) => {}
        Value::Bool(_) if type_ == "boolean" => {}
        other => uncovered.push(format!("{path} ({other}, schema says {type_:?})")),
    }
}

fn walk_property(
    child: &Value,
    schema: &Value,
    key: &str,
    path: &str,
    uncovered: &mut Vec<String>,
) {
    let child_path = format!("{path}.{key}");
    if let Some(property) = schema.get("properties").and_then(|p| p.get(key)) {
        walk(child, property, &child_path, uncovered);
    } else if let Some(additional) = schema.get("additionalProperties").filter(|a| a.is_object()) {
        walk(child, additional, &child_path, uncovered);
    } else {
        uncovered.push(child_path);
    }
}

//! A plan as reviewable YAML an operator can apply with kubectl.
//!
//! * A create is the whole object.
//! * A merge patch of a custom resource (Harvester, CSI snapshot, Longhorn,
//!   KubeVirt objects) is a partial object: `kind`, name, namespace, the
//!   `uid` and `resourceVersion` the plan was computed from, and the fields
//!   that change (`null` removes a field). `kubectl apply` sends it as a JSON
//!   merge patch; if the object changed or was replaced since it was read,
//!   the API server answers with a conflict and nothing changes.
//! * What `kubectl apply` cannot do — deletes, status-subresource patches,
//!   patches of built-in objects (strategic merge would differ), files on
//!   the backup target — is written as comments with the exact command, in
//!   plan order, and listed again at the end.
//!
//! Every step carries its reason as a comment.

use serde_json::{Map, Value, json};
use vmbackup_engine::{Action, Kind, ObjectRef, Precondition, Step};

/// Plural resource name and API group of a kind, as kubectl names it.
pub fn resource(kind: Kind) -> (&'static str, &'static str) {
    match kind {
        Kind::VirtualMachineBackup => ("virtualmachinebackups", "harvesterhci.io"),
        Kind::VirtualMachineRestore => ("virtualmachinerestores", "harvesterhci.io"),
        Kind::Setting => ("settings", "harvesterhci.io"),
        Kind::VolumeSnapshot => ("volumesnapshots", "snapshot.storage.k8s.io"),
        Kind::VolumeSnapshotContent => ("volumesnapshotcontents", "snapshot.storage.k8s.io"),
        Kind::VolumeSnapshotClass => ("volumesnapshotclasses", "snapshot.storage.k8s.io"),
        Kind::LonghornBackup => ("backups", "longhorn.io"),
        Kind::LonghornBackupVolume => ("backupvolumes", "longhorn.io"),
        Kind::LonghornBackupTarget => ("backuptargets", "longhorn.io"),
        Kind::LonghornVolume => ("volumes", "longhorn.io"),
        Kind::LonghornEngine => ("engines", "longhorn.io"),
        Kind::VirtualMachine => ("virtualmachines", "kubevirt.io"),
        Kind::PersistentVolumeClaim => ("persistentvolumeclaims", ""),
        Kind::PersistentVolume => ("persistentvolumes", ""),
        Kind::StorageClass => ("storageclasses", "storage.k8s.io"),
        Kind::Namespace => ("namespaces", ""),
        Kind::Secret => ("secrets", ""),
        Kind::TargetFile => ("", ""),
    }
}

/// Whether the kind is a custom resource (patched by kubectl with a JSON
/// merge patch, as the plan's patches are).
pub fn is_custom_resource(kind: Kind) -> bool {
    !matches!(
        kind,
        Kind::PersistentVolumeClaim
            | Kind::PersistentVolume
            | Kind::StorageClass
            | Kind::Namespace
            | Kind::Secret
            | Kind::TargetFile
    )
}

/// `volumesnapshots.snapshot.storage.k8s.io name -n namespace`.
fn kubectl_target(target: &ObjectRef) -> String {
    let (plural, group) = resource(target.kind);
    let qualified = if group.is_empty() {
        plural.to_owned()
    } else {
        format!("{plural}.{group}")
    };
    match &target.namespace {
        Some(ns) => format!("{qualified} {} -n {ns}", target.name),
        None => format!("{qualified} {}", target.name),
    }
}

/// Quotes `text` for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// The partial object `kubectl apply` turns into the merge patch `patch`
/// of `target`, pinned to the object as it was read.
pub fn patch_document(target: &ObjectRef, precondition: &Precondition, patch: &Value) -> Value {
    let mut doc = match patch {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    let mut meta = match doc.remove("metadata") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    meta.insert("name".into(), json!(target.name));
    if let Some(ns) = &target.namespace {
        meta.insert("namespace".into(), json!(ns));
    }
    if let Some(uid) = &precondition.uid {
        meta.insert("uid".into(), json!(uid));
    }
    if let Some(rv) = &precondition.resource_version {
        meta.insert("resourceVersion".into(), json!(rv));
    }
    let mut out = Map::new();
    out.insert("apiVersion".into(), json!(target.api_version));
    out.insert("kind".into(), json!(target.kind.kind()));
    out.insert("metadata".into(), Value::Object(meta));
    out.extend(doc);
    Value::Object(out)
}

/// What a step becomes in the output.
#[derive(Debug, Clone, PartialEq)]
pub enum Rendered {
    /// A document for `kubectl apply`.
    Document(Value),
    /// A command to run after the apply (or a note for what kubectl cannot do).
    Command(String),
}

/// How one step is written.
pub fn render_step(step: &Step) -> Rendered {
    match &step.action {
        Action::Create { object } => Rendered::Document(object.to_value()),
        Action::Patch {
            target,
            precondition,
            patch,
        } if is_custom_resource(target.kind) => {
            Rendered::Document(patch_document(target, precondition, &patch.to_value()))
        }
        Action::PatchStatus {
            target,
            precondition,
            patch,
        } if is_custom_resource(target.kind) && !target.kind.has_status_subresource() => {
            Rendered::Document(patch_document(target, precondition, &patch.to_value()))
        }
        Action::Patch { target, patch, .. } => Rendered::Command(format!(
            "kubectl patch {} --type=merge -p {}",
            kubectl_target(target),
            shell_quote(&patch.to_string())
        )),
        Action::PatchStatus { target, patch, .. } => Rendered::Command(format!(
            "kubectl patch {} --subresource=status --type=merge -p {}",
            kubectl_target(target),
            shell_quote(&patch.to_string())
        )),
        Action::Delete {
            target,
            precondition,
        } => {
            let uid = precondition
                .uid
                .as_deref()
                .map(|u| format!("   # only if its uid is still {u}"))
                .unwrap_or_default();
            Rendered::Command(format!("kubectl delete {}{uid}", kubectl_target(target)))
        }
        Action::WriteTargetFile { path, contents } => Rendered::Command(format!(
            "(backup target) write {path} ({} bytes): kubectl cannot do this; `vmbackup repair --apply` on the cluster does",
            contents.len()
        )),
        Action::DeleteTargetFile { path } => Rendered::Command(format!(
            "(backup target) delete {path}: kubectl cannot do this; `vmbackup repair --apply` on the cluster does"
        )),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The plan as a YAML stream for `kubectl apply -f -`, with `header` lines
/// as comments on top.
pub fn kubectl_yaml(steps: &[Step], header: &[String]) -> Result<String, serde_json::Error> {
    let mut out = String::new();
    for line in header {
        out.push_str(&format!("# {}\n", one_line(line)));
    }
    if steps.is_empty() {
        out.push_str("# Nothing to do.\n");
        return Ok(out);
    }
    let rendered: Vec<Rendered> = steps.iter().map(render_step).collect();
    let documents = rendered
        .iter()
        .filter(|r| matches!(r, Rendered::Document(_)))
        .count();
    let commands: Vec<&str> = rendered
        .iter()
        .filter_map(|r| match r {
            Rendered::Command(c) => Some(c.as_str()),
            Rendered::Document(_) => None,
        })
        .collect();
    let last_document = rendered
        .iter()
        .rposition(|r| matches!(r, Rendered::Document(_)));
    let first_command = rendered
        .iter()
        .position(|r| matches!(r, Rendered::Command(_)));
    out.push_str(&format!(
        "# {} step(s): {documents} object(s) for `kubectl apply -f`, {} command(s) to run after it.\n",
        steps.len(),
        commands.len()
    ));
    out.push_str("# Patches carry the uid and resourceVersion read: if an object changed since, kubectl\n# reports a conflict and nothing is changed; read the cluster again and plan again.\n");
    if let (Some(first), Some(last)) = (first_command, last_document)
        && first < last
    {
        out.push_str("# CAUTION: a command comes before objects that follow it: apply the steps one at a\n# time, in order, or use `vmbackup repair --apply` on the cluster.\n");
    }
    let total = steps.len();
    for (index, (step, r)) in steps.iter().zip(&rendered).enumerate() {
        let target = step.action.target();
        let title = format!(
            "step {}/{total}: {} {target}: {}",
            index + 1,
            step.action.verb(),
            one_line(&step.reason)
        );
        match r {
            Rendered::Document(value) => {
                out.push_str("---\n");
                out.push_str(&format!("# {title}\n"));
                out.push_str(&crate::yaml::to_string(value)?);
            }
            Rendered::Command(command) => {
                out.push_str(&format!("# {title}\n#   run after the apply: {command}\n"));
            }
        }
    }
    if !commands.is_empty() {
        out.push_str("# After `kubectl apply -f` of the objects above, run in this order:\n");
        for command in commands {
            out.push_str(&format!("#   {command}\n"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmbackup_engine::{NewObject, Object, Reconciler};

    fn step(action: Action) -> Step {
        Step {
            action,
            reason: "because\nof this".into(),
            reconciler: Reconciler::HandleRepair,
        }
    }

    fn pinned() -> Precondition {
        Precondition {
            uid: Some("u1".into()),
            resource_version: Some("7".into()),
        }
    }

    #[test]
    fn a_patch_is_a_partial_object_pinned_to_what_was_read() {
        let target = ObjectRef::namespaced(Kind::VirtualMachineBackup, "default", "b1");
        let doc = patch_document(
            &target,
            &pinned(),
            &json!({"metadata": {"annotations": {"a": "1"}}, "status": {"x": null}}),
        );
        assert_eq!(
            doc,
            json!({"apiVersion": "harvesterhci.io/v1beta1", "kind": "VirtualMachineBackup",
                "metadata": {"name": "b1", "namespace": "default", "uid": "u1", "resourceVersion": "7",
                    "annotations": {"a": "1"}},
                "status": {"x": null}})
        );
    }

    #[test]
    fn deletes_and_status_patches_are_commands() {
        let vs = ObjectRef::namespaced(Kind::VolumeSnapshot, "default", "s1");
        let Rendered::Command(c) = render_step(&step(Action::Delete {
            target: vs.clone(),
            precondition: pinned(),
        })) else {
            panic!()
        };
        assert_eq!(
            c,
            "kubectl delete volumesnapshots.snapshot.storage.k8s.io s1 -n default   # only if its uid is still u1"
        );
        let Rendered::Command(c) = render_step(&step(Action::PatchStatus {
            target: vs,
            precondition: pinned(),
            patch: json!({"status": {"readyToUse": true}}).into(),
        })) else {
            panic!()
        };
        assert!(
            c.contains("--subresource=status --type=merge -p '{\"status\""),
            "{c}"
        );
        let pvc = ObjectRef::namespaced(Kind::PersistentVolumeClaim, "ns", "it's");
        let Rendered::Command(c) = render_step(&step(Action::Patch {
            target: pvc,
            precondition: pinned(),
            patch: json!({"metadata": {"labels": {"a": "it's"}}}).into(),
        })) else {
            panic!()
        };
        assert!(
            c.starts_with("kubectl patch persistentvolumeclaims it's -n ns --type=merge -p '"),
            "{c}"
        );
        assert!(c.contains(r"it'\''s"), "{c}");
    }

    #[test]
    fn the_stream_has_reasons_and_the_commands_at_the_end() {
        let content = Object::from_value(json!({"apiVersion": "snapshot.storage.k8s.io/v1",
            "kind": "VolumeSnapshotContent", "metadata": {"name": "c2"},
            "spec": {"driver": "driver.longhorn.io", "deletionPolicy": "Retain",
                "source": {"snapshotHandle": "bak://v/b"},
                "volumeSnapshotRef": {"name": "s2", "namespace": "default"}}}))
        .unwrap();
        let steps = [
            step(Action::Create {
                object: NewObject::from(&content),
            }),
            step(Action::Delete {
                target: ObjectRef::cluster(Kind::VolumeSnapshotContent, "c1"),
                precondition: Precondition::none(),
            }),
        ];
        let text = kubectl_yaml(&steps, &["title".into()]).unwrap();
        assert!(text.starts_with("# title\n"), "{text}");
        assert!(
            text.contains("# step 1/2: create VolumeSnapshotContent c2: because of this\n"),
            "{text}"
        );
        assert!(!text.contains("CAUTION"), "{text}");
        assert!(
            text.trim_end()
                .ends_with("#   kubectl delete volumesnapshotcontents.snapshot.storage.k8s.io c1"),
            "{text}"
        );
        let docs = vmbackup_api::document::values_from_str(&text).unwrap();
        assert_eq!(docs.len(), 1);
        assert_eq!(docs[0].1, content.to_value());
    }

    #[test]
    fn strings_yaml_1_1_reads_as_booleans_stay_strings_for_kubectl() {
        let target = ObjectRef::namespaced(Kind::VirtualMachineBackup, "default", "b1");
        let steps = [step(Action::Patch {
            target,
            precondition: pinned(),
            patch: json!({"status": {"volumeBackups": [{"persistentVolumeClaim": {"metadata":
                {"annotations": {"pv.kubernetes.io/bind-completed": "yes", "x": "off"}}}}]}})
            .into(),
        })];
        let text = kubectl_yaml(&steps, &[]).unwrap();
        assert!(
            text.contains("pv.kubernetes.io/bind-completed: \"yes\"\n"),
            "{text}"
        );
        assert!(text.contains("x: \"off\"\n"), "{text}");
    }

    #[test]
    fn a_command_before_an_object_is_flagged() {
        let steps = [
            step(Action::Delete {
                target: ObjectRef::cluster(Kind::VolumeSnapshotContent, "c1"),
                precondition: Precondition::none(),
            }),
            step(Action::Patch {
                target: ObjectRef::cluster(Kind::VolumeSnapshotContent, "c2"),
                precondition: Precondition::none(),
                patch: json!({"spec": {"deletionPolicy": "Retain"}}).into(),
            }),
        ];
        assert!(kubectl_yaml(&steps, &[]).unwrap().contains("CAUTION"));
    }
}

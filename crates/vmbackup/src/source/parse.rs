//! Reading the objects in one file's text: YAML (one or more documents) or
//! JSON, `List`s expanded, each object typed by its `apiVersion` and `kind`.
//! Objects of kinds vmbackup does not use are noted and skipped; an object
//! of a kind it uses but with the wrong shape is an error naming the file,
//! the document, the line it starts on and the field.

use std::path::Path;

use serde_json::Value;
use vmbackup_api::document::{DocumentError, Location, values_from_str};
use vmbackup_engine::object::ObjectError;
use vmbackup_engine::{Object, naming};

use super::error::SourceError;
use super::notes::Notes;

/// How the text was written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Dialect {
    /// `kubectl get -o yaml|json` output or hand-written manifests.
    #[default]
    Plain,
    /// A Harvester support bundle: its collector wrote the string `"null"`
    /// where the API server returned `null` or an empty string.
    SupportBundle,
}

/// The objects of the kinds vmbackup reads, in the order they appear.
pub fn objects_in(
    text: &str,
    path: &Path,
    dialect: Dialect,
    notes: &mut Notes,
) -> Result<Vec<Object>, SourceError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let values = values_from_str(text).map_err(|e| SourceError::Syntax {
        path: path.to_owned(),
        message: syntax_message(&e),
    })?;
    // A bare array of objects (as `jq` prints them) stands for its items.
    let values = values
        .into_iter()
        .flat_map(|(location, value)| match value {
            Value::Array(items) => items
                .into_iter()
                .enumerate()
                .map(|(i, v)| {
                    (
                        Location {
                            document: location.document,
                            item: Some(i),
                        },
                        v,
                    )
                })
                .collect::<Vec<_>>(),
            other => vec![(location, other)],
        });
    let starts = document_start_lines(text);
    let file = path.display().to_string();
    let mut out = Vec::new();
    for (location, mut value) in values {
        if dialect == Dialect::SupportBundle {
            restore_nulls(&mut value);
        }
        match Object::from_value(value) {
            Ok(object) => {
                if let Err(message) = check_names(&object) {
                    return Err(SourceError::Object {
                        path: path.to_owned(),
                        location: describe(location, &starts),
                        kind: object.kind().to_string(),
                        name: object.meta().name.clone().unwrap_or_default(),
                        message,
                    });
                }
                out.push(object);
            }
            Err(ObjectError::UnknownKind {
                api_version, kind, ..
            }) => notes.ignored_kind(&api_version, &kind),
            Err(ObjectError::NotAnObject(_)) => notes.not_an_object(&file),
            Err(ObjectError::Invalid {
                kind,
                name,
                message,
            }) => {
                return Err(SourceError::Object {
                    path: path.to_owned(),
                    location: describe(location, &starts),
                    kind,
                    name,
                    message,
                });
            }
        }
    }
    Ok(out)
}

/// An object read from a file names itself as the API server would have
/// it: a `metadata.name` that is a DNS-1123 subdomain, and a namespace, if
/// any, that is a DNS-1123 label. Anything else is no object of a cluster,
/// and a name such as `../x` must never reach a plan or a path.
fn check_names(object: &Object) -> Result<(), String> {
    let meta = object.meta();
    match meta.name.as_deref() {
        None | Some("") => return Err("metadata.name: missing".into()),
        Some(name) => {
            naming::check_object_name(name).map_err(|e| format!("metadata.name: {e}"))?;
        }
    }
    match meta.namespace.as_deref() {
        Some(ns) if !ns.is_empty() => {
            naming::check_namespace_name(ns).map_err(|e| format!("metadata.namespace: {e}"))
        }
        _ => Ok(()),
    }
}

fn syntax_message(error: &DocumentError) -> String {
    match error {
        DocumentError::Json { message } => format!("not valid JSON: {message}"),
        // The YAML parser's positions count from the start of the file.
        DocumentError::Yaml { message, .. } => format!("not valid YAML: {message}"),
        other => other.to_string(),
    }
}

/// `document 2 (from line 14), items[3]`.
fn describe(location: Location, starts: &[usize]) -> String {
    let mut text = format!("document {}", location.document + 1);
    if let Some(line) = starts.get(location.document) {
        text.push_str(&format!(" (from line {line})"));
    }
    if let Some(item) = location.item {
        text.push_str(&format!(", items[{item}]"));
    }
    text
}

/// The 1-based line each YAML document starts on, in document order (as
/// the YAML reader numbers documents: a leading `---` opens the first).
fn document_start_lines(text: &str) -> Vec<usize> {
    if text.trim_start().starts_with(['{', '[']) {
        return vec![1];
    }
    let mut starts = Vec::new();
    let mut open = false;
    for (index, line) in text.lines().enumerate() {
        let number = index + 1;
        let line = line.trim_end_matches('\r');
        let is_marker = line == "---" || line.starts_with("--- ") || line.starts_with("---\t");
        if is_marker {
            starts.push(number + 1);
            open = true;
            continue;
        }
        let content = !line.trim().is_empty() && !line.trim_start().starts_with('#');
        if content && !open {
            starts.push(number);
            open = true;
        }
    }
    starts
}

/// Keys whose value is a map of strings (`map[string]string`): there an
/// empty string is the only value that can have become `"null"`.
const STRING_MAPS: &[&str] = &[
    "labels",
    "annotations",
    "data",
    "stringData",
    "parameters",
    "nodeSelector",
    "matchLabels",
    "csiDriverVolumeSnapshotClassNames",
];

/// Undoes the support bundle collector's rewrite: the string `"null"` is
/// `null` again, or `""` inside a map of strings.
fn restore_nulls(value: &mut Value) {
    match value {
        Value::String(s) if s == "null" => *value = Value::Null,
        Value::Array(items) => items.iter_mut().for_each(restore_nulls),
        Value::Object(map) => {
            for (key, child) in map.iter_mut() {
                match child {
                    Value::Object(strings) if STRING_MAPS.contains(&key.as_str()) => {
                        for v in strings.values_mut() {
                            if v.as_str() == Some("null") {
                                *v = Value::String(String::new());
                            }
                        }
                    }
                    _ => restore_nulls(child),
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<(Vec<Object>, Vec<String>), SourceError> {
        let mut notes = Notes::default();
        let objects = objects_in(text, Path::new("dir/f.yaml"), Dialect::Plain, &mut notes)?;
        Ok((
            objects,
            notes.finish().into_iter().map(|n| n.message).collect(),
        ))
    }

    const CLASS: &str = "apiVersion: snapshot.storage.k8s.io/v1\nkind: VolumeSnapshotClass\nmetadata: {name: longhorn}\ndriver: driver.longhorn.io\ndeletionPolicy: Delete\n";

    #[test]
    fn other_kinds_and_non_objects_are_noted_not_fatal() {
        let text = format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: d}}\n---\n{CLASS}---\nfoo: bar\n"
        );
        let (objects, notes) = read(&text).unwrap();
        assert_eq!(objects.len(), 1);
        assert!(
            notes.iter().any(|n| n.contains("apps/v1 Deployment (1)")),
            "{notes:?}"
        );
        assert!(notes.iter().any(|n| n.contains("dir/f.yaml")), "{notes:?}");
    }

    #[test]
    fn a_wrong_shape_names_file_document_line_and_field() {
        let text = format!(
            "{CLASS}---\n# a backup\napiVersion: longhorn.io/v1beta2\nkind: Backup\nmetadata: {{name: b1}}\nstatus:\n  volumeName: 5\n"
        );
        let err = read(&text).unwrap_err().to_string();
        assert!(
            err.starts_with("dir/f.yaml: document 2 (from line 7)"),
            "{err}"
        );
        assert!(err.contains("b1") && err.contains("volumeName"), "{err}");
    }

    #[test]
    fn syntax_errors_name_file_and_line() {
        let err = read("a: b\n  c: d: e\n").unwrap_err().to_string();
        assert!(err.starts_with("dir/f.yaml: not valid YAML"), "{err}");
        assert!(err.contains("line 2"), "{err}");
        let err = read("{\"a\": [1,\n").unwrap_err().to_string();
        assert!(
            err.contains("not valid JSON") && err.contains("line"),
            "{err}"
        );
    }

    #[test]
    fn bare_arrays_crlf_and_a_byte_order_mark_are_read() {
        let json = format!(
            "\u{feff}[{}, {}]",
            serde_json::to_string(&serde_yaml_ng::from_str::<Value>(CLASS).unwrap()).unwrap(),
            "{\"a\": 1}"
        );
        let (objects, notes) = read(&json).unwrap();
        assert_eq!(objects.len(), 1);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(document_start_lines("a: 1\r\n---\r\nb: 2\r\n"), [1, 3]);
    }

    #[test]
    fn document_lines_follow_markers() {
        assert_eq!(document_start_lines("a: 1\n---\nb: 2\n"), [1, 3]);
        assert_eq!(document_start_lines("# c\n---\na: 1\n---\nb: 2\n"), [3, 5]);
        assert_eq!(document_start_lines("{\"a\": 1}"), [1]);
    }

    #[test]
    fn support_bundle_null_strings_become_null() {
        let text = "apiVersion: snapshot.storage.k8s.io/v1\nkind: VolumeSnapshot\nmetadata:\n  name: s\n  namespace: default\n  creationTimestamp: \"null\"\n  annotations: {a: \"null\"}\nspec:\n  source: {volumeSnapshotContentName: c}\n  volumeSnapshotClassName: \"null\"\n";
        let mut notes = Notes::default();
        let plain = objects_in(text, Path::new("f"), Dialect::Plain, &mut notes);
        assert!(
            plain.is_err(),
            "a timestamp of \"null\" does not parse as is"
        );
        let objects = objects_in(text, Path::new("f"), Dialect::SupportBundle, &mut notes).unwrap();
        let Object::VolumeSnapshot(vs) = &objects[0] else {
            panic!("{objects:?}")
        };
        assert_eq!(vs.spec.volume_snapshot_class_name, None);
        assert_eq!(vs.metadata.annotations.as_ref().unwrap()["a"], "");
    }
}

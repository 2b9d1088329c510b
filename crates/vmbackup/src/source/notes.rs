//! Notes about the input: things that were read but not used, said once
//! each (objects of other kinds are counted, not listed one by one).

use std::collections::BTreeMap;
use std::fmt;

use serde::Serialize;

/// Something about the input an operator should know, that is not a problem
/// in the cluster.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Note {
    /// What was noticed.
    pub message: String,
}

impl fmt::Display for Note {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Collects notes while an input is read.
#[derive(Debug, Default)]
pub struct Notes {
    /// Objects of kinds vmbackup does not read, by `apiVersion kind`.
    ignored_kinds: BTreeMap<String, usize>,
    /// Documents without `apiVersion`/`kind`, by file.
    not_objects: BTreeMap<String, usize>,
    /// Files skipped for their name.
    skipped_files: Vec<String>,
    /// Anything else, in order.
    other: Vec<String>,
}

impl Notes {
    /// An object of a kind vmbackup does not read.
    pub fn ignored_kind(&mut self, api_version: &str, kind: &str) {
        let key = if api_version.is_empty() {
            kind.to_owned()
        } else {
            format!("{api_version} {kind}")
        };
        *self.ignored_kinds.entry(key).or_default() += 1;
    }

    /// A document in `file` that is not a Kubernetes object.
    pub fn not_an_object(&mut self, file: &str) {
        *self.not_objects.entry(file.to_owned()).or_default() += 1;
    }

    /// A file that was not read because of its name.
    pub fn skipped_file(&mut self, file: &str) {
        self.skipped_files.push(file.to_owned());
    }

    /// Any other note.
    pub fn note(&mut self, text: impl Into<String>) {
        self.other.push(text.into());
    }

    /// The notes, one line each.
    pub fn finish(self) -> Vec<Note> {
        let mut out: Vec<Note> = self
            .other
            .into_iter()
            .map(|m| Note { message: m })
            .collect();
        if !self.ignored_kinds.is_empty() {
            let total: usize = self.ignored_kinds.values().sum();
            let kinds: Vec<String> = self
                .ignored_kinds
                .iter()
                .map(|(k, n)| format!("{k} ({n})"))
                .collect();
            out.push(Note {
                message: format!(
                    "ignored {total} object(s) of kinds vmbackup does not use: {}",
                    kinds.join(", ")
                ),
            });
        }
        for (file, n) in self.not_objects {
            out.push(Note {
                message: format!(
                    "{file}: ignored {n} document(s) that are not Kubernetes objects (no apiVersion and kind)"
                ),
            });
        }
        if !self.skipped_files.is_empty() {
            let shown: Vec<&str> = self
                .skipped_files
                .iter()
                .take(5)
                .map(String::as_str)
                .collect();
            let more = self.skipped_files.len().saturating_sub(shown.len());
            out.push(Note {
                message: format!(
                    "skipped {} file(s) that are not .yaml, .yml or .json: {}{}",
                    self.skipped_files.len(),
                    shown.join(", "),
                    if more > 0 {
                        format!(" and {more} more")
                    } else {
                        String::new()
                    }
                ),
            });
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignored_kinds_are_counted_once_per_kind() {
        let mut notes = Notes::default();
        notes.ignored_kind("apps/v1", "Deployment");
        notes.ignored_kind("apps/v1", "Deployment");
        notes.ignored_kind("v1", "ConfigMap");
        notes.not_an_object("a.json");
        notes.skipped_file("x.log");
        let out = notes.finish();
        assert_eq!(out.len(), 3, "{out:?}");
        assert!(out[0].message.contains("3 object(s)"), "{}", out[0]);
        assert!(
            out[0].message.contains("apps/v1 Deployment (2)"),
            "{}",
            out[0]
        );
        assert!(out[1].message.starts_with("a.json"), "{}", out[1]);
        assert!(out[2].message.contains("x.log"), "{}", out[2]);
    }
}

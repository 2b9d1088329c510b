//! Findings as an operator reads them (a table) or a script does (JSON,
//! YAML): most severe first, each with its code, the object, what is wrong,
//! what fails because of it, and the fix.

use std::collections::BTreeMap;

use serde::Serialize;
use vmbackup_engine::{Finding, Severity, View};

use crate::source::Note;

/// One finding, flat.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct FindingRow {
    /// Stable code, e.g. `legacy-handle`.
    pub code: String,
    /// `error`, `warning` or `info`.
    pub severity: Severity,
    /// Kind of the object.
    pub kind: String,
    /// Its `apiVersion`.
    pub api_version: String,
    /// Its namespace (`null` for cluster-scoped objects).
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
    /// What is wrong.
    pub message: String,
    /// What will fail because of it.
    pub impact: String,
    /// How to fix it.
    pub fix: String,
}

impl From<&Finding> for FindingRow {
    fn from(f: &Finding) -> Self {
        FindingRow {
            code: f.code.as_str().to_owned(),
            severity: f.severity,
            kind: f.object.kind.kind().to_owned(),
            api_version: f.object.api_version.to_owned(),
            namespace: f.object.namespace.clone(),
            name: f.object.name.clone(),
            message: f.message.clone(),
            impact: f.impact.to_string(),
            fix: f.fix.clone(),
        }
    }
}

/// Counts by severity.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Findings of severity error.
    pub errors: usize,
    /// Findings of severity warning.
    pub warnings: usize,
    /// Findings of severity info.
    pub info: usize,
}

impl Summary {
    /// Counts `findings`.
    pub fn of(findings: &[Finding]) -> Self {
        let mut s = Summary::default();
        for f in findings {
            match f.severity {
                Severity::Error => s.errors += 1,
                Severity::Warning => s.warnings += 1,
                Severity::Info => s.info += 1,
            }
        }
        s
    }

    /// `2 errors, 1 warning, 0 info`.
    pub fn text(&self) -> String {
        let plural = |n: usize, word: &str| {
            if n == 1 {
                format!("{n} {word}")
            } else {
                format!("{n} {word}s")
            }
        };
        format!(
            "{}, {}, {} info",
            plural(self.errors, "error"),
            plural(self.warnings, "warning"),
            self.info
        )
    }
}

/// The whole report of `vmbackup doctor`.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// Where the objects came from.
    pub source: String,
    /// Objects read, by kind.
    pub objects: BTreeMap<String, usize>,
    /// Counts by severity.
    pub summary: Summary,
    /// The findings, most severe first.
    pub findings: Vec<FindingRow>,
    /// Notes about the input.
    pub notes: Vec<String>,
}

impl Report {
    /// The report of `findings` (already in order) about `view`.
    pub fn new(source: String, view: &View, findings: &[Finding], notes: &[Note]) -> Self {
        let mut objects = BTreeMap::new();
        for object in view.objects() {
            *objects.entry(object.kind().kind().to_owned()).or_default() += 1;
        }
        Report {
            source,
            objects,
            summary: Summary::of(findings),
            findings: findings.iter().map(FindingRow::from).collect(),
            notes: notes.iter().map(|n| n.message.clone()).collect(),
        }
    }

    /// The human-readable report.
    pub fn table(&self) -> String {
        let mut out = String::new();
        out.push_str(&findings_table(&self.findings));
        let total: usize = self.objects.values().sum();
        out.push_str(&format!(
            "{} in {total} object(s) read from {}\n",
            self.summary.text(),
            self.source
        ));
        for note in &self.notes {
            out.push_str(&format!("note: {note}\n"));
        }
        out
    }
}

/// Findings as text blocks, one per finding.
pub fn findings_table(findings: &[FindingRow]) -> String {
    let mut out = String::new();
    for f in findings {
        let object = match &f.namespace {
            Some(ns) => format!("{} {ns}/{}", f.kind, f.name),
            None => format!("{} {}", f.kind, f.name),
        };
        out.push_str(&format!(
            "{:<8} {}  {object}\n",
            f.severity.to_string().to_uppercase(),
            f.code
        ));
        for (label, text) in [
            ("problem", &f.message),
            ("impact", &f.impact),
            ("fix", &f.fix),
        ] {
            if !text.is_empty() {
                out.push_str(&format!("  {label:<8} {text}\n"));
            }
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmbackup_engine::{Code, Kind, ObjectRef};

    fn finding(severity: Severity, ns: Option<&str>) -> Finding {
        Finding::new(
            Code::LegacyHandle,
            severity,
            ObjectRef::new(Kind::VolumeSnapshotContent, ns, "c1"),
        )
        .message("m")
        .impact("i")
        .fix("x")
    }

    #[test]
    fn rows_carry_the_object_flat() {
        let row = FindingRow::from(&finding(Severity::Error, None));
        let json = serde_json::to_value(&row).unwrap();
        assert_eq!(json["code"], "legacy-handle");
        assert_eq!(json["severity"], "error");
        assert_eq!(json["kind"], "VolumeSnapshotContent");
        assert_eq!(json["namespace"], serde_json::Value::Null);
        assert_eq!(json["name"], "c1");
        assert_eq!(json["fix"], "x");
    }

    #[test]
    fn summary_counts_by_severity() {
        let s = Summary::of(&[
            finding(Severity::Error, None),
            finding(Severity::Warning, None),
            finding(Severity::Warning, None),
        ]);
        assert_eq!(s.text(), "1 error, 2 warnings, 0 info");
    }

    #[test]
    fn table_shows_each_part() {
        let text = findings_table(&[FindingRow::from(&finding(Severity::Warning, None))]);
        assert!(
            text.starts_with("WARNING  legacy-handle  VolumeSnapshotContent c1\n"),
            "{text}"
        );
        assert!(
            text.contains("  problem  m\n  impact   i\n  fix      x\n"),
            "{text}"
        );
    }
}

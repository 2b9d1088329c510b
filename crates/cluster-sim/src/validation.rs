//! What the API server refuses on create and update: object names, label
//! keys and values, and fields that may not change once set.

use vmbackup_engine::{Kind, Object};

/// Longest DNS-1123 label (namespace names, label values, label key names).
pub const MAX_LABEL: usize = 63;
/// Longest DNS-1123 subdomain (most object names, label key prefixes).
pub const MAX_SUBDOMAIN: usize = 253;

/// A DNS-1123 label without the length limit (a part of a subdomain name:
/// Kubernetes limits only the whole name).
fn is_label_part(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
}

fn is_label(s: &str) -> bool {
    s.len() <= MAX_LABEL && is_label_part(s)
}

fn is_subdomain(s: &str) -> bool {
    !s.is_empty() && s.len() <= MAX_SUBDOMAIN && s.split('.').all(is_label_part)
}

/// Why `name` is not a valid name for an object of `kind`, if it is not.
pub fn name_problem(kind: Kind, name: &str) -> Option<String> {
    if kind == Kind::Namespace {
        return (!is_label(name)).then(|| {
            format!(
                "metadata.name {name:?}: a namespace name must be a DNS-1123 label (lowercase letters, digits and '-', at most {MAX_LABEL} characters)"
            )
        });
    }
    (!is_subdomain(name)).then(|| {
        format!(
            "metadata.name {name:?}: must be a DNS-1123 subdomain (lowercase letters, digits, '-' and '.', at most {MAX_SUBDOMAIN} characters)"
        )
    })
}

fn label_value_ok(v: &str) -> bool {
    let b = v.as_bytes();
    if b.is_empty() {
        return true;
    }
    b.len() <= MAX_LABEL
        && b[0].is_ascii_alphanumeric()
        && b[b.len() - 1].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'-' | b'_' | b'.'))
}

fn label_key_ok(k: &str) -> bool {
    let (prefix, name) = match k.rsplit_once('/') {
        Some((p, n)) => (Some(p), n),
        None => (None, k),
    };
    prefix.is_none_or(is_subdomain) && !name.is_empty() && label_value_ok(name)
}

/// Every problem with the object's metadata, as the API server words it.
pub fn problems(object: &Object) -> Vec<String> {
    let meta = object.meta();
    let mut out = Vec::new();
    if let Some(p) = name_problem(object.kind(), meta.name.as_deref().unwrap_or_default()) {
        out.push(p);
    }
    for (k, v) in meta.labels.iter().flatten() {
        if !label_key_ok(k) {
            out.push(format!("metadata.labels: invalid label key {k:?}"));
        }
        if !label_value_ok(v) {
            out.push(format!(
                "metadata.labels[{k:?}]: invalid value {v:?}: a label value must be at most {MAX_LABEL} characters of letters, digits, '-', '_' and '.', starting and ending with a letter or digit"
            ));
        }
    }
    for o in meta.owner_references.iter().flatten() {
        if o.uid.is_empty() || o.name.is_empty() {
            out.push(format!(
                "metadata.ownerReferences: reference to {} {:?} needs a name and a uid",
                o.kind, o.name
            ));
        }
    }
    out
}

/// Fields that may not change from `old` to `new`, by kind.
pub fn immutable_problem(old: &Object, new: &Object) -> Option<String> {
    match (old, new) {
        (Object::VolumeSnapshot(a), Object::VolumeSnapshot(b))
            if a.spec.source != b.spec.source =>
        {
            Some("spec.source is immutable".into())
        }
        (Object::VolumeSnapshotContent(a), Object::VolumeSnapshotContent(b))
            if a.spec.source != b.spec.source =>
        {
            Some("spec.source is immutable".into())
        }
        (Object::VirtualMachineRestore(a), Object::VirtualMachineRestore(b))
            if a.spec != b.spec =>
        {
            Some("VirtualMachineRestore spec is immutable".into())
        }
        (Object::PersistentVolumeClaim(a), Object::PersistentVolumeClaim(b)) => {
            let (Some(sa), Some(sb)) = (a.spec.as_ref(), b.spec.as_ref()) else {
                return None;
            };
            let mut sa = sa.clone();
            sa.resources = sb.resources.clone();
            // The binder fills volumeName once.
            if sa.volume_name.is_none() {
                sa.volume_name = sb.volume_name.clone();
            }
            (sa != *sb).then(|| {
                "spec: forbidden: spec is immutable after creation except resources.requests".into()
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(name_problem(Kind::VolumeSnapshot, "vm1-b1-volume-disk-0").is_none());
        assert!(name_problem(Kind::VolumeSnapshot, &"a".repeat(200)).is_none());
        assert!(name_problem(Kind::VolumeSnapshot, &"a".repeat(254)).is_some());
        assert!(name_problem(Kind::VolumeSnapshot, "Upper").is_some());
        assert!(name_problem(Kind::VolumeSnapshot, "").is_some());
        assert!(name_problem(Kind::Namespace, &"n".repeat(64)).is_some());
        assert!(name_problem(Kind::Namespace, "team-b").is_none());
    }

    #[test]
    fn label_values() {
        assert!(label_value_ok(""));
        assert!(label_value_ok("vm-1"));
        assert!(!label_value_ok(&"v".repeat(64)));
        assert!(!label_value_ok("-x"));
        assert!(label_key_ok("harvesterhci.io/vmName"));
        assert!(!label_key_ok("bad key"));
    }
}

//! Backup URLs as Longhorn builds them: `<target>?backup=<b>&volume=<v>`,
//! with the query re-encoded the way Go's `url.Values.Encode` does (keys
//! sorted, values in order, space as `+`, other bytes as uppercase `%XX`
//! except `A-Z a-z 0-9 - _ . ~`).

use crate::error::{Error, NameKind, Result};
use crate::name::validate_name;

type Query = Vec<(String, Vec<String>)>;

fn query_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

fn query_unescape(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let h = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(h, 16).ok()?);
                i += 2;
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8(out).ok()
}

/// Go's `url.ParseQuery`: the values, and whether any pair was malformed.
fn parse_query(raw: &str) -> (Query, bool) {
    let mut q: Query = Vec::new();
    let mut bad = false;
    for pair in raw.split('&') {
        if pair.is_empty() {
            continue;
        }
        if pair.contains(';') {
            bad = true;
            continue;
        }
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        match (query_unescape(k), query_unescape(v)) {
            (Some(k), Some(v)) => add(&mut q, &k, v),
            _ => bad = true,
        }
    }
    (q, bad)
}

fn add(q: &mut Query, key: &str, value: String) {
    match q.iter_mut().find(|(k, _)| k == key) {
        Some((_, vs)) => vs.push(value),
        None => q.push((key.to_owned(), vec![value])),
    }
}

fn encode_query(q: &Query) -> String {
    let mut keys: Vec<&(String, Vec<String>)> = q.iter().collect();
    keys.sort_by(|a, b| a.0.cmp(&b.0));
    let mut parts = Vec::new();
    for (k, vs) in keys {
        for v in vs {
            parts.push(format!("{}={}", query_escape(k), query_escape(v)));
        }
    }
    parts.join("&")
}

fn split_url(url: &str) -> (&str, &str) {
    let without_fragment = url.split('#').next().unwrap_or(url);
    without_fragment
        .split_once('?')
        .unwrap_or((without_fragment, ""))
}

fn join(base: &str, query: &str) -> String {
    if query.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{query}")
    }
}

/// Longhorn's `EncodeBackupURL`: the URL of a backup (or, with an empty
/// backup name, of a backup volume) on a target.
pub fn encode_backup_url(backup: &str, volume: &str, target_url: &str) -> String {
    let (base, raw) = split_url(target_url);
    let (mut q, bad) = parse_query(raw);
    if bad {
        q.clear();
    }
    add(&mut q, "volume", volume.to_owned());
    if !backup.is_empty() {
        add(&mut q, "backup", backup.to_owned());
    }
    join(base, &encode_query(&q))
}

/// A decoded backup URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupUrl {
    /// Backup name ("" for a backup volume URL).
    pub backup: String,
    /// Volume name.
    pub volume: String,
    /// The target URL with the remaining options.
    pub target_url: String,
}

/// Longhorn's `DecodeBackupURL`: takes the first `volume` and `backup`
/// values, validates them, and returns the target URL with the other
/// options re-encoded.
pub fn decode_backup_url(url: &str) -> Result<BackupUrl> {
    let (base, raw) = split_url(url);
    let (mut q, _) = parse_query(raw);
    let mut take = |key: &str| -> String {
        match q.iter().position(|(k, _)| k == key) {
            Some(i) => q.remove(i).1.into_iter().next().unwrap_or_default(),
            None => String::new(),
        }
    };
    let volume = take("volume");
    let backup = take("backup");
    validate_name(NameKind::Volume, &volume).map_err(|e| Error::InvalidUrl {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    if !backup.is_empty() {
        validate_name(NameKind::Backup, &backup).map_err(|e| Error::InvalidUrl {
            url: url.to_owned(),
            reason: e.to_string(),
        })?;
    }
    Ok(BackupUrl {
        backup,
        volume,
        target_url: join(base, &encode_query(&q)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_query_escaping() {
        assert_eq!(query_escape("a b*~/,="), "a+b%2A~%2F%2C%3D");
        assert_eq!(query_unescape("a+b%2a"), Some("a b*".into()));
        assert_eq!(query_unescape("%zz"), None);
    }

    #[test]
    fn malformed_queries() {
        assert_eq!(
            encode_backup_url("b1", "v1", "s3://b@r/?x=1;y=2"),
            "s3://b@r/?backup=b1&volume=v1"
        );
        assert!(decode_backup_url("s3://b@r/?volume=a").is_err());
        assert!(decode_backup_url("s3://b@r/?volume=vol&backup=../x").is_err());
    }
}

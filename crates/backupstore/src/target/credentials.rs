//! Target credentials: the variables Longhorn's drivers read, taken from the
//! environment or from a file shaped like the Kubernetes Secret a Longhorn
//! BackupTarget names (YAML or JSON, values in base64 `data` or plain
//! `stringData`).

use crate::error::{Error, Result};
use base64::Engine;
use std::collections::BTreeMap;
use std::path::Path;

/// Variables Longhorn's S3, Azure and CIFS drivers read.
pub const KNOWN_KEYS: &[&str] = &[
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINTS",
    "AWS_CERT",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "VIRTUAL_HOSTED_STYLE",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "AZBLOB_ACCOUNT_NAME",
    "AZBLOB_ACCOUNT_KEY",
    "AZBLOB_ENDPOINT",
    "AZBLOB_CERT",
];

const SECRET_KEYS: &[&str] = &[
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AZBLOB_ACCOUNT_KEY",
];

/// Largest secret file accepted.
const MAX_SECRET_FILE: u64 = 1 << 20;

/// A set of credential variables. `Debug` hides secret values.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct Credentials {
    values: BTreeMap<String, String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut m = f.debug_map();
        for (k, v) in &self.values {
            if SECRET_KEYS.contains(&k.as_str()) {
                m.entry(k, &"<redacted>");
            } else {
                m.entry(k, v);
            }
        }
        m.finish()
    }
}

impl Credentials {
    /// No credentials.
    pub fn new() -> Self {
        Self::default()
    }

    /// The [`KNOWN_KEYS`] present in the process environment (lowercase
    /// proxy variables are honoured too).
    pub fn from_env() -> Self {
        let mut c = Credentials::new();
        for key in KNOWN_KEYS {
            let value = std::env::var(key).ok().or_else(|| {
                key.ends_with("_PROXY")
                    .then(|| std::env::var(key.to_ascii_lowercase()).ok())
                    .flatten()
            });
            if let Some(v) = value {
                c.set(key, v);
            }
        }
        c
    }

    /// Reads a Kubernetes Secret manifest (YAML or JSON). `stringData`
    /// entries win over `data` entries, as the API server merges them.
    pub fn from_secret_file(path: &Path) -> Result<Self> {
        let source = path.display().to_string();
        let meta = std::fs::metadata(path).map_err(|e| Error::Credentials {
            source_name: source.clone(),
            reason: e.to_string(),
        })?;
        if meta.len() > MAX_SECRET_FILE {
            return Err(Error::Credentials {
                source_name: source,
                reason: format!("file is larger than {MAX_SECRET_FILE} bytes"),
            });
        }
        let text = std::fs::read_to_string(path).map_err(|e| Error::Credentials {
            source_name: source.clone(),
            reason: e.to_string(),
        })?;
        Self::from_secret_str(&text, &source)
    }

    /// Parses a Secret manifest from text; `source_name` names it in errors.
    pub fn from_secret_str(text: &str, source_name: &str) -> Result<Self> {
        let err = |reason: String| Error::Credentials {
            source_name: source_name.to_owned(),
            reason,
        };
        let doc: serde_json::Value = match serde_json::from_str(text) {
            Ok(v) => v,
            Err(_) => serde_yaml_ng::from_str(text)
                .map_err(|e| err(format!("neither JSON nor YAML: {e}")))?,
        };
        let obj = doc
            .as_object()
            .ok_or_else(|| err("expected a Secret object with data or stringData".into()))?;
        let mut c = Credentials::new();
        let mut found = false;
        if let Some(data) = obj.get("data").filter(|v| !v.is_null()) {
            let data = data
                .as_object()
                .ok_or_else(|| err("data: expected a map".into()))?;
            found = true;
            for (k, v) in data {
                let encoded = v
                    .as_str()
                    .ok_or_else(|| err(format!("data.{k}: expected a base64 string")))?;
                let compact: String = encoded.split_whitespace().collect();
                let bytes = base64::engine::general_purpose::STANDARD
                    .decode(compact.as_bytes())
                    .map_err(|e| err(format!("data.{k}: invalid base64: {e}")))?;
                let value = String::from_utf8(bytes)
                    .map_err(|_| err(format!("data.{k}: not UTF-8 text")))?;
                c.set(k, value);
            }
        }
        if let Some(data) = obj.get("stringData").filter(|v| !v.is_null()) {
            let data = data
                .as_object()
                .ok_or_else(|| err("stringData: expected a map".into()))?;
            found = true;
            for (k, v) in data {
                let value = match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Bool(b) => b.to_string(),
                    serde_json::Value::Number(n) => n.to_string(),
                    _ => return Err(err(format!("stringData.{k}: expected a string"))),
                };
                c.set(k, value);
            }
        }
        if !found {
            return Err(err("the Secret has neither data nor stringData".into()));
        }
        Ok(c)
    }

    /// Sets one variable.
    pub fn set(&mut self, key: &str, value: impl Into<String>) {
        self.values.insert(key.to_owned(), value.into());
    }

    /// Adds every variable of `other`, replacing ones already set.
    pub fn merge(mut self, other: Credentials) -> Self {
        self.values.extend(other.values);
        self
    }

    /// A variable's value, whitespace-trimmed; `None` when absent or blank.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.values
            .get(key)
            .map(|v| v.trim())
            .filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_secret_with_data_and_string_data() {
        let yaml = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  AWS_ACCESS_KEY_ID: QUtJQQ==\n  AWS_SECRET_ACCESS_KEY: c2VjcmV0\nstringData:\n  AWS_ENDPOINTS: http://minio:9000\n  VIRTUAL_HOSTED_STYLE: \"false\"\n";
        let c = Credentials::from_secret_str(yaml, "s.yaml").unwrap();
        assert_eq!(c.get("AWS_ACCESS_KEY_ID"), Some("AKIA"));
        assert_eq!(c.get("AWS_SECRET_ACCESS_KEY"), Some("secret"));
        assert_eq!(c.get("AWS_ENDPOINTS"), Some("http://minio:9000"));
        assert!(!format!("{c:?}").contains("secret\""));
    }

    #[test]
    fn json_secret() {
        let json = r#"{"apiVersion":"v1","kind":"Secret","data":{"AWS_ACCESS_KEY_ID":"QUtJQQ=="},"stringData":{"AWS_ACCESS_KEY_ID":"OVERRIDE"}}"#;
        let c = Credentials::from_secret_str(json, "s.json").unwrap();
        assert_eq!(c.get("AWS_ACCESS_KEY_ID"), Some("OVERRIDE"));
    }

    #[test]
    fn secret_files() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secret.yaml");
        std::fs::write(&path, "stringData:\n  AZBLOB_ACCOUNT_NAME: acct\n").unwrap();
        let c = Credentials::from_secret_file(&path).unwrap();
        assert_eq!(c.get("AZBLOB_ACCOUNT_NAME"), Some("acct"));
        std::fs::File::create(&path)
            .unwrap()
            .set_len(2 << 20)
            .unwrap();
        assert!(Credentials::from_secret_file(&path).is_err());
        let e = Credentials::from_secret_file(&dir.path().join("missing")).unwrap_err();
        assert!(e.to_string().contains("missing"), "{e}");
    }

    #[test]
    fn bad_secrets() {
        for bad in ["[]", "kind: Secret\n", "data:\n  K: '***'\n", "data: 5\n"] {
            let e = Credentials::from_secret_str(bad, "s.yaml").unwrap_err();
            assert!(e.to_string().contains("s.yaml"), "{e}");
        }
    }
}

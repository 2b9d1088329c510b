//! `locks/lock-<16 hex>.lck`.

use crate::error::Result;
use crate::json::{ObjectWriter, parse_object};

/// Content of a lock file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LockFile {
    pub(crate) name: String,
    pub(crate) kind: i64,
    pub(crate) acquired: bool,
}

impl LockFile {
    pub(crate) fn from_json(bytes: &[u8], path: &str) -> Result<Self> {
        let f = parse_object(bytes, path)?;
        Ok(LockFile {
            name: f.string("Name")?,
            kind: f.int("Type")?,
            acquired: f.bool("Acquired")?,
        })
    }

    pub(crate) fn to_json(&self) -> Vec<u8> {
        let mut w = ObjectWriter::new();
        w.string("Name", &self.name)
            .int("Type", self.kind)
            .bool("Acquired", self.acquired);
        w.finish()
    }
}

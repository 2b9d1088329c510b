//! Copying the directories that hold a simulation's data (for forks).

use std::path::Path;

use crate::error::SimError;

/// Copies the directory tree `from` into `to` (created if missing).
pub fn copy_tree(from: &Path, to: &Path) -> Result<(), SimError> {
    std::fs::create_dir_all(to).map_err(|e| SimError::io(to, e))?;
    for entry in std::fs::read_dir(from).map_err(|e| SimError::io(from, e))? {
        let entry = entry.map_err(|e| SimError::io(from, e))?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        let kind = entry.file_type().map_err(|e| SimError::io(&src, e))?;
        if kind.is_dir() {
            copy_tree(&src, &dst)?;
        } else if kind.is_file() {
            std::fs::copy(&src, &dst).map_err(|e| SimError::io(&src, e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_nested_files() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a");
        std::fs::create_dir_all(a.join("x/y")).unwrap();
        std::fs::write(a.join("x/y/f"), b"data").unwrap();
        copy_tree(&a, &dir.path().join("b")).unwrap();
        assert_eq!(std::fs::read(dir.path().join("b/x/y/f")).unwrap(), b"data");
    }
}

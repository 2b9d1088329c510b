//! A file written under a temporary name beside its destination and renamed
//! into place only when complete, so that nothing partial is ever found
//! under the final name.

use std::fs::File;
use std::path::{Path, PathBuf};

use anyhow::Context;

/// The temporary file; removed when dropped unless committed.
#[derive(Debug)]
pub struct PartialFile {
    path: PathBuf,
    committed: bool,
}

impl PartialFile {
    /// Creates `.<name>.partial-<pid>` in the destination's directory and
    /// returns it with the open file.
    pub fn create(dest: &Path) -> anyhow::Result<(Self, File)> {
        let name = dest
            .file_name()
            .with_context(|| format!("{}: not a file name", dest.display()))?;
        let path = dest.with_file_name(format!(
            ".{}.partial-{}",
            name.to_string_lossy(),
            std::process::id()
        ));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .with_context(|| format!("creating {}", path.display()))?;
        Ok((
            PartialFile {
                path,
                committed: false,
            },
            file,
        ))
    }

    /// Renames the file to its destination.
    pub fn commit(mut self, dest: &Path) -> anyhow::Result<()> {
        std::fs::rename(&self.path, dest)
            .with_context(|| format!("renaming {} to {}", self.path.display(), dest.display()))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for PartialFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn removed_unless_committed() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("out.img");
        let (p, mut f) = PartialFile::create(&dest).unwrap();
        f.write_all(b"x").unwrap();
        drop(p);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        let (p, mut f) = PartialFile::create(&dest).unwrap();
        f.write_all(b"y").unwrap();
        p.commit(&dest).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"y");
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }
}

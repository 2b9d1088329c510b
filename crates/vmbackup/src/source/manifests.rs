//! `--from`: objects from manifest files — `kubectl get -o yaml|json`
//! output, multi-document YAML, `List`s — in files, in directories (walked
//! recursively, in name order) or on standard input (`-`).

use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use vmbackup_engine::{Object, View};

use super::error::SourceError;
use super::notes::Notes;
use super::parse::{Dialect, objects_in};
use super::{Loaded, MAX_FILE_SIZE, Origin};

/// Reads every manifest under `paths`. The View treats every kind that
/// occurs as listed in full (absent objects of that kind do not exist).
pub fn load(paths: &[PathBuf]) -> Result<Loaded, SourceError> {
    let mut notes = Notes::default();
    let mut objects: Vec<Object> = Vec::new();
    let mut files = 0usize;
    let mut errors = Vec::new();
    for path in paths {
        if path.as_os_str() == "-" {
            let mut text = String::new();
            std::io::stdin()
                .lock()
                .take(MAX_FILE_SIZE + 1)
                .read_to_string(&mut text)
                .map_err(|e| SourceError::io("<standard input>", e))?;
            check_size(Path::new("<standard input>"), text.len() as u64)?;
            objects.extend(objects_in(
                &text,
                Path::new("<standard input>"),
                Dialect::Plain,
                &mut notes,
            )?);
            files += 1;
            continue;
        }
        let meta = fs::metadata(path).map_err(|e| SourceError::io(path, e))?;
        let list = if meta.is_dir() {
            let mut found = Vec::new();
            walk(path, &mut found, &mut notes)?;
            found
        } else {
            vec![path.clone()]
        };
        for file in list {
            // Every unreadable file is reported, not only the first.
            match read_file(&file, &mut notes) {
                Ok(found) => objects.extend(found),
                Err(e) => errors.push(e),
            }
            files += 1;
        }
    }
    if let Some(error) = SourceError::combine(errors) {
        return Err(error);
    }
    if objects.is_empty() {
        let shown = paths
            .iter()
            .map(|p| p.display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        let hint = match files {
            0 => " (no .yaml, .yml or .json file)".to_owned(),
            n => format!(" of the kinds vmbackup reads in {n} file(s)"),
        };
        return Err(SourceError::Empty {
            path: PathBuf::from(shown),
            hint,
        });
    }
    Ok(Loaded {
        view: View::from_objects(objects),
        origin: Origin::Manifests {
            paths: paths.to_vec(),
            files,
        },
        notes: notes.finish(),
    })
}

fn check_size(path: &Path, size: u64) -> Result<(), SourceError> {
    if size > MAX_FILE_SIZE {
        return Err(SourceError::TooLarge {
            path: path.to_owned(),
            size,
            limit: MAX_FILE_SIZE,
        });
    }
    Ok(())
}

fn read_file(path: &Path, notes: &mut Notes) -> Result<Vec<Object>, SourceError> {
    let size = fs::metadata(path)
        .map_err(|e| SourceError::io(path, e))?
        .len();
    check_size(path, size)?;
    let bytes = fs::read(path).map_err(|e| SourceError::io(path, e))?;
    let text = String::from_utf8(bytes).map_err(|e| SourceError::Syntax {
        path: path.to_owned(),
        message: format!(
            "not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ),
    })?;
    objects_in(&text, path, Dialect::Plain, notes)
}

/// Whether a file name is one vmbackup reads.
pub fn is_manifest_name(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".yaml", ".yml", ".json"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

/// Collects manifest files under `dir`, sorted by path. Hidden entries
/// (`.git`, editor files) are skipped; symbolic links to directories are not
/// followed, so a link loop cannot hang the walk.
fn walk(dir: &Path, found: &mut Vec<PathBuf>, notes: &mut Notes) -> Result<(), SourceError> {
    let mut entries: Vec<_> = fs::read_dir(dir)
        .map_err(|e| SourceError::io(dir, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| SourceError::io(dir, e))?;
    entries.sort_by_key(|e| e.file_name());
    for entry in entries {
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with('.') {
            continue;
        }
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| SourceError::io(&path, e))?;
        if kind.is_dir() {
            walk(&path, found, notes)?;
        } else if kind.is_symlink() && path.is_dir() {
            notes.note(format!(
                "{}: not followed (a symbolic link to a directory)",
                path.display()
            ));
        } else if is_manifest_name(&name) {
            found.push(path);
        } else {
            notes.skipped_file(&path.display().to_string());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manifest_names() {
        assert!(is_manifest_name("a.yaml"));
        assert!(is_manifest_name("B.YML"));
        assert!(is_manifest_name("c.json"));
        assert!(!is_manifest_name("d.log"));
        assert!(!is_manifest_name("yaml"));
    }
}

//! `--bundle`: objects from a Harvester support bundle, the zip file as
//! downloaded or the directory it unpacks to (see [`layout`]).

pub mod layout;

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use vmbackup_engine::{Kind, Object, View};

use super::error::SourceError;
use super::notes::Notes;
use super::parse::{Dialect, objects_in};
use super::progress::Counter;
use super::{Loaded, MAX_FILE_SIZE, Origin};

/// Most bytes read from one bundle in all (the resource files vmbackup
/// reads; logs and other resources are not read at all).
pub const MAX_BUNDLE_BYTES: u64 = 4 << 30;

/// Fails once more than [`MAX_BUNDLE_BYTES`] were read.
fn count(total: &mut u64, more: u64, path: &Path) -> Result<(), SourceError> {
    *total = total.saturating_add(more);
    if *total > MAX_BUNDLE_BYTES {
        return Err(SourceError::TooLarge {
            path: path.to_owned(),
            size: *total,
            limit: MAX_BUNDLE_BYTES,
        });
    }
    Ok(())
}
use layout::{ResourceFile, archive_root, resource_file};

/// Reads the objects of the kinds vmbackup uses from a bundle. Kinds whose
/// file is in the bundle count as listed (an empty list proves absence);
/// namespaced kinds only cover the namespaces the bundle collected, which a
/// note names.
pub fn load(path: &Path) -> Result<Loaded, SourceError> {
    let meta = fs::metadata(path).map_err(|e| SourceError::io(path, e))?;
    let files = if meta.is_dir() {
        from_directory(path)?
    } else {
        from_zip(path)?
    };
    let mut notes = Notes::default();
    let mut listed: BTreeSet<Kind> = BTreeSet::new();
    let mut namespaces: BTreeSet<String> = BTreeSet::new();
    let mut objects: Vec<Object> = Vec::new();
    let counter = Counter::new("reading the support bundle", files.len() as u64);
    for file in &files {
        listed.insert(file.resource.kind);
        if let Some(ns) = &file.resource.namespace {
            namespaces.insert(ns.clone());
        }
        let text = std::str::from_utf8(&file.bytes).map_err(|e| SourceError::Syntax {
            path: file.path.clone(),
            message: format!(
                "not UTF-8 text (invalid byte at offset {})",
                e.valid_up_to()
            ),
        })?;
        objects.extend(objects_in(
            text,
            &file.path,
            Dialect::SupportBundle,
            &mut notes,
        )?);
        counter.inc();
    }
    counter.finish();
    if files.is_empty() {
        return Err(SourceError::NotABundle {
            path: path.to_owned(),
            reason: "its yamls/ directory holds none of the resources vmbackup reads (virtualmachinebackups, volumesnapshotcontents, backups.longhorn.io, ...)".into(),
        });
    }
    if !namespaces.is_empty() {
        notes.note(format!(
            "the bundle collected namespaced objects from {} only: objects in other namespaces are not seen",
            namespaces.iter().cloned().collect::<Vec<_>>().join(", ")
        ));
    }
    if !listed.contains(&Kind::LonghornBackup) {
        notes.note(
            "the bundle holds no Longhorn Backups (namespace longhorn-system was not collected): handles cannot be checked against them",
        );
    }
    let view = listed
        .iter()
        .fold(View::builder().objects(objects), |b, kind| b.listed(*kind))
        .build();
    Ok(Loaded {
        view,
        origin: Origin::Bundle {
            path: path.to_owned(),
            files: files.len(),
        },
        notes: notes.finish(),
    })
}

/// One resource file read from the bundle.
struct BundleFile {
    /// For messages: the file, or `archive.zip!entry`.
    path: PathBuf,
    resource: ResourceFile,
    bytes: Vec<u8>,
}

fn from_directory(path: &Path) -> Result<Vec<BundleFile>, SourceError> {
    let root = if path.join("yamls").is_dir() {
        path.to_owned()
    } else {
        let mut candidates = Vec::new();
        for entry in fs::read_dir(path).map_err(|e| SourceError::io(path, e))? {
            let entry = entry.map_err(|e| SourceError::io(path, e))?;
            if entry.path().join("yamls").is_dir() {
                candidates.push(entry.path());
            }
        }
        candidates.sort();
        match candidates.len() {
            1 => candidates.remove(0),
            0 => {
                return Err(SourceError::NotABundle {
                    path: path.to_owned(),
                    reason: "no yamls/ directory in it or in a directory directly below".into(),
                });
            }
            _ => {
                return Err(SourceError::NotABundle {
                    path: path.to_owned(),
                    reason: format!(
                        "it holds several bundles ({}): give one",
                        candidates
                            .iter()
                            .map(|c| c.display().to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                });
            }
        }
    };
    let yamls = root.join("yamls");
    let mut found = Vec::new();
    collect(&yamls, "", &mut found)?;
    found.sort_by(|a, b| a.0.cmp(&b.0));
    let mut out = Vec::with_capacity(found.len());
    let mut total = 0u64;
    for (_, file, resource) in found {
        let size = fs::metadata(&file)
            .map_err(|e| SourceError::io(&file, e))?
            .len();
        if size > MAX_FILE_SIZE {
            return Err(SourceError::TooLarge {
                path: file,
                size,
                limit: MAX_FILE_SIZE,
            });
        }
        count(&mut total, size, &root)?;
        let bytes = fs::read(&file).map_err(|e| SourceError::io(&file, e))?;
        out.push(BundleFile {
            path: file,
            resource,
            bytes,
        });
    }
    Ok(out)
}

/// Resource files under `dir`, with their path relative to `yamls/`.
fn collect(
    dir: &Path,
    rel: &str,
    found: &mut Vec<(String, PathBuf, ResourceFile)>,
) -> Result<(), SourceError> {
    for entry in fs::read_dir(dir).map_err(|e| SourceError::io(dir, e))? {
        let entry = entry.map_err(|e| SourceError::io(dir, e))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let rel = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let kind = entry
            .file_type()
            .map_err(|e| SourceError::io(entry.path(), e))?;
        if kind.is_dir() {
            collect(&entry.path(), &rel, found)?;
        } else if kind.is_file()
            && let Some(resource) = resource_file(&rel)
        {
            found.push((rel, entry.path(), resource));
        }
    }
    Ok(())
}

fn zip_error(path: &Path, e: zip::result::ZipError) -> SourceError {
    SourceError::NotABundle {
        path: path.to_owned(),
        reason: format!("not a readable zip file: {e}"),
    }
}

fn from_zip(path: &Path) -> Result<Vec<BundleFile>, SourceError> {
    let file = fs::File::open(path).map_err(|e| SourceError::io(path, e))?;
    let mut archive = zip::ZipArchive::new(file).map_err(|e| zip_error(path, e))?;
    let names: Vec<String> = archive
        .file_names()
        .map(|n| n.map(|n| n.into_owned()))
        .collect::<Result<_, _>>()
        .map_err(|e| zip_error(path, e))?;
    let root = archive_root(names.iter().map(String::as_str)).map_err(|roots| {
        SourceError::NotABundle {
            path: path.to_owned(),
            reason: if roots.is_empty() {
                "no yamls/ directory at its top or in its top directory".into()
            } else {
                format!("it holds several bundles: {}", roots.join(", "))
            },
        }
    })?;
    let prefix = format!("{root}yamls/");
    let mut wanted: Vec<(usize, String, ResourceFile)> = Vec::new();
    for index in 0..archive.len() {
        let entry = archive
            .by_index_raw(index)
            .map_err(|e| zip_error(path, e))?;
        if entry.is_dir() {
            continue;
        }
        let name = entry.name().map_err(|e| zip_error(path, e))?.into_owned();
        if let Some(rel) = name.strip_prefix(&prefix)
            && let Some(resource) = resource_file(rel)
        {
            wanted.push((index, name, resource));
        }
    }
    wanted.sort_by(|a, b| a.1.cmp(&b.1));
    let mut out = Vec::with_capacity(wanted.len());
    let mut total = 0u64;
    for (index, name, resource) in wanted {
        let shown = PathBuf::from(format!("{}!{name}", path.display()));
        let entry = archive.by_index(index).map_err(|e| zip_error(path, e))?;
        if entry.size() > MAX_FILE_SIZE {
            return Err(SourceError::TooLarge {
                path: shown,
                size: entry.size(),
                limit: MAX_FILE_SIZE,
            });
        }
        // The declared size may lie: read at most one byte past the limit.
        let mut bytes = Vec::new();
        entry
            .take(MAX_FILE_SIZE + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| SourceError::io(&shown, e))?;
        if bytes.len() as u64 > MAX_FILE_SIZE {
            return Err(SourceError::TooLarge {
                path: shown,
                size: bytes.len() as u64,
                limit: MAX_FILE_SIZE,
            });
        }
        count(&mut total, bytes.len() as u64, path)?;
        out.push(BundleFile {
            path: shown,
            resource,
            bytes,
        });
    }
    Ok(out)
}

//! Listing a directory of a local target entry by entry, for when the object
//! store refuses to list it as a whole.
//!
//! The object store cannot name an entry whose name is not UTF-8 or holds a
//! control character, nor one that is a symbolic link leading nowhere, and
//! one such entry fails the listing of its whole directory. Another tool
//! may leave such entries on a share; they must not hide the entries beside
//! them. This listing reads the directory itself, keeps every entry the
//! object store could have listed, with the same rules, and reports the
//! others.

use super::Listing;
use chrono::{DateTime, Utc};
use object_store::ObjectMeta;
use object_store::path::{Path, PathPart};
use std::path::Path as FsPath;

/// An entry no object key can name, with its name made printable (control
/// characters escaped, bytes that are not UTF-8 replaced) and the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Unusable {
    pub(crate) name: String,
    pub(crate) reason: String,
}

/// Lists `dir`, whose object key is `prefix`. `None` when the directory
/// cannot be read, or when every entry could be named: then the object
/// store's own error stands.
pub(crate) fn list(dir: &FsPath, prefix: &Path) -> Option<Listing> {
    let entries = std::fs::read_dir(dir).ok()?;
    let mut listing = Listing::default();
    for entry in entries {
        let entry = entry.ok()?;
        let raw = entry.file_name();
        let shown = printable(&raw.to_string_lossy());
        let Some(name) = raw.to_str().filter(|n| PathPart::parse(n).is_ok()) else {
            listing.unusable.push(Unusable {
                name: shown,
                reason: "the name is not UTF-8 or holds a control character, which no object \
                         key can hold"
                    .into(),
            });
            continue;
        };
        // Followed, as the object store follows links when it lists.
        let meta = match std::fs::metadata(entry.path()) {
            Ok(meta) => meta,
            Err(e) => {
                listing.unusable.push(Unusable {
                    name: shown,
                    reason: format!("cannot be read: {e}"),
                });
                continue;
            }
        };
        if meta.is_dir() {
            listing.dirs.push(name.to_owned());
        } else if !is_staging_file(name) {
            let location = prefix.clone().join(PathPart::from(name));
            listing.files.push((
                name.to_owned(),
                ObjectMeta {
                    location,
                    last_modified: meta
                        .modified()
                        .map(DateTime::<Utc>::from)
                        .unwrap_or_default(),
                    size: meta.len(),
                    e_tag: None,
                    version: None,
                },
            ));
        }
    }
    if listing.unusable.is_empty() {
        return None;
    }
    listing.dirs.sort();
    listing.files.sort_by(|a, b| a.0.cmp(&b.0));
    listing.unusable.sort_by(|a, b| a.name.cmp(&b.name));
    Some(listing)
}

/// The object store's local files being written: `<name>#<digits>`. It
/// leaves them out of listings, and so does this one.
fn is_staging_file(name: &str) -> bool {
    name.rsplit_once('#')
        .is_some_and(|(_, n)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
}

/// `text` with control characters written as `\u{..}` escapes, so that a
/// hostile file name cannot reach a terminal as it is.
pub(crate) fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::ffi::OsStrExt;

    #[test]
    fn keeps_what_the_object_store_could_name_and_reports_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        std::fs::create_dir(d.join("good-dir")).unwrap();
        std::fs::write(d.join("good.cfg"), b"{}").unwrap();
        std::fs::write(d.join("upload#12"), b"").unwrap();
        std::fs::create_dir(d.join("bad\u{7f}dir")).unwrap();
        std::fs::write(
            d.join(std::ffi::OsStr::from_bytes(b"not-utf8-\xff.cfg")),
            b"",
        )
        .unwrap();
        std::os::unix::fs::symlink(d.join("nowhere"), d.join("dangling")).unwrap();

        let listing = list(d, &Path::from("root/dir")).unwrap();
        assert_eq!(listing.dirs, vec!["good-dir".to_string()]);
        let files: Vec<&str> = listing.files.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(files, vec!["good.cfg"]);
        assert_eq!(listing.files[0].1.size, 2);
        assert_eq!(listing.files[0].1.location.as_ref(), "root/dir/good.cfg");
        let unusable: Vec<&str> = listing.unusable.iter().map(|u| u.name.as_str()).collect();
        assert_eq!(
            unusable,
            vec!["bad\\u{7f}dir", "dangling", "not-utf8-\u{fffd}.cfg"]
        );
    }

    #[test]
    fn leaves_a_directory_without_such_entries_to_the_object_store() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"").unwrap();
        assert!(list(dir.path(), &Path::from("x")).is_none());
        assert!(list(&dir.path().join("missing"), &Path::from("x")).is_none());
    }
}

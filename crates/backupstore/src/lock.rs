//! Longhorn's volume lock protocol, so that vmbackup and a running Longhorn
//! never delete blocks another is writing or reading.
//!
//! A lock is a file `locks/lock-<16 hex>.lck` in the volume directory. To
//! acquire, a process writes its file unacquired, waits two seconds, then
//! reads every lock file: if a lock of another type has priority (acquired
//! beats unacquired, then the older file, then the smaller name) and is not
//! expired (its file was rewritten less than 150 s ago), it removes its file
//! and fails. Otherwise it marks its file acquired and rewrites it every 60 s
//! until released. Backups and restores share type 1; deletions use type 2.

use crate::config::{LockFile, MAX_LOCK_FILE_SIZE};
use crate::error::{Error, Result};
use crate::layout;
use crate::name::{generate_name, is_valid_name};
use crate::target::Target;
use chrono::{DateTime, Utc};
use std::time::Duration;
use tokio::task::JoinHandle;

/// A lock file older than this (by its modification time) no longer counts.
pub const LOCK_EXPIRY: Duration = Duration::from_secs(150);

/// How often a held lock's file is rewritten.
pub const LOCK_REFRESH: Duration = Duration::from_secs(60);

/// The kind of a volume lock. Locks of one kind never conflict with each
/// other; locks of different kinds exclude each other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockKind {
    /// Creating a backup or reading one (restore, export, verify): type 1.
    BackupOrRestore,
    /// Deleting backups or blocks: type 2.
    Deletion,
}

impl LockKind {
    fn type_value(self) -> i64 {
        match self {
            LockKind::BackupOrRestore => 1,
            LockKind::Deletion => 2,
        }
    }

    fn operation(self) -> &'static str {
        match self {
            LockKind::BackupOrRestore => "backup create/restore",
            LockKind::Deletion => "backup delete",
        }
    }
}

/// A held lock. Call [`VolumeLock::release`]; dropping it stops the refresh
/// and removes the file in the background.
#[derive(Debug)]
pub struct VolumeLock {
    target: Target,
    path: String,
    refresher: Option<JoinHandle<()>>,
}

#[derive(Debug)]
struct Seen {
    name: String,
    kind: i64,
    acquired: bool,
    time: DateTime<Utc>,
    path: String,
}

/// True when `a` wins over `b`.
fn has_priority(a: &Seen, b: &Seen) -> bool {
    if a.acquired != b.acquired {
        return a.acquired;
    }
    if a.time != b.time {
        return a.time < b.time;
    }
    a.name < b.name
}

impl Target {
    /// Acquires a lock on a volume following Longhorn's protocol. Fails with
    /// [`Error::Locked`] (without waiting) when a conflicting lock wins.
    pub async fn lock(&self, volume: &str, kind: LockKind) -> Result<VolumeLock> {
        let name = generate_name("lock");
        let path = layout::lock_path(volume, &name)?;
        let mut file = LockFile {
            name: name.clone(),
            kind: kind.type_value(),
            acquired: false,
        };
        self.put(&path, file.to_json()).await?;
        let mut guard = VolumeLock {
            target: self.clone(),
            path: path.clone(),
            refresher: None,
        };
        // Every failure from here on removes the lock file before
        // returning, so that no error leaves a lock behind on the target.
        if let Err(e) = self
            .settle_and_acquire(volume, kind, &name, &path, &mut file)
            .await
        {
            let _ = guard.release().await;
            return Err(e);
        }
        let target = self.clone();
        let refresh_path = path.clone();
        let body = file.to_json();
        let refresher = tokio::spawn(async move {
            loop {
                tokio::time::sleep(LOCK_REFRESH).await;
                if let Err(e) = target.put(&refresh_path, body.clone()).await {
                    tracing::warn!(path = %refresh_path, error = %e, "cannot refresh lock");
                }
            }
        });
        guard.refresher = Some(refresher);
        Ok(guard)
    }

    /// Waits for the settle time, checks the other locks, and marks ours
    /// acquired; fails with [`Error::Locked`] when a conflicting lock wins.
    async fn settle_and_acquire(
        &self,
        volume: &str,
        kind: LockKind,
        name: &str,
        path: &str,
        file: &mut LockFile,
    ) -> Result<()> {
        let ours_time = self
            .head(path)
            .await?
            .map_or_else(Utc::now, |m| m.last_modified);
        tokio::time::sleep(self.lock_settle).await;

        let ours = Seen {
            name: name.to_owned(),
            kind: file.kind,
            acquired: false,
            time: ours_time,
            path: path.to_owned(),
        };
        let locks_dir = layout::locks_dir(volume)?;
        let listing = self.list_dir(&locks_dir).await?;
        let now = Utc::now();
        for (file_name, meta) in listing.files {
            let Some(lock_name) = layout::lock_name_from_file(&file_name) else {
                continue;
            };
            if lock_name == name || !is_valid_name(lock_name) {
                continue;
            }
            let other_path = format!("{locks_dir}/{file_name}");
            // Unreadable lock files are skipped, as Longhorn skips them.
            let Ok(Some(bytes)) = self.get_optional(&other_path, MAX_LOCK_FILE_SIZE).await else {
                continue;
            };
            let Ok(content) = LockFile::from_json(&bytes, &other_path) else {
                continue;
            };
            let other = Seen {
                name: if content.name.is_empty() {
                    lock_name.to_owned()
                } else {
                    content.name
                },
                kind: content.kind,
                acquired: content.acquired,
                time: meta.last_modified,
                path: other_path,
            };
            let expired = (now - other.time)
                .to_std()
                .is_ok_and(|age| age > LOCK_EXPIRY);
            if other.kind != ours.kind && !expired && has_priority(&other, &ours) {
                let holder = other.path.clone();
                return Err(Error::Locked {
                    volume: volume.to_owned(),
                    operation: kind.operation(),
                    holder,
                });
            }
        }

        file.acquired = true;
        self.put(path, file.to_json()).await?;
        Ok(())
    }
}

impl VolumeLock {
    /// Path of the lock file relative to the target root.
    pub fn path(&self) -> &str {
        &self.path
    }

    /// Stops refreshing and removes the lock file.
    pub async fn release(mut self) -> Result<()> {
        if let Some(r) = self.refresher.take() {
            r.abort();
        }
        let path = std::mem::take(&mut self.path);
        self.target.delete(&path).await
    }
}

impl Drop for VolumeLock {
    fn drop(&mut self) {
        if let Some(r) = self.refresher.take() {
            r.abort();
        }
        if self.path.is_empty() {
            return;
        }
        if let Ok(handle) = tokio::runtime::Handle::try_current() {
            let target = self.target.clone();
            let path = std::mem::take(&mut self.path);
            handle.spawn(async move {
                let _ = target.delete(&path).await;
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn target() -> Target {
        Target::from_store(
            Arc::new(object_store::memory::InMemory::new()),
            "",
            "memory://",
        )
        .unwrap()
        .with_lock_settle(Duration::from_millis(5))
    }

    #[test]
    fn priority_order() {
        let t = Utc::now();
        let seen = |name: &str, acquired, secs| Seen {
            name: name.into(),
            kind: 1,
            acquired,
            time: t + chrono::Duration::seconds(secs),
            path: String::new(),
        };
        assert!(has_priority(
            &seen("lock-b", true, 10),
            &seen("lock-a", false, 0)
        ));
        assert!(has_priority(
            &seen("lock-b", false, 0),
            &seen("lock-a", false, 10)
        ));
        assert!(has_priority(
            &seen("lock-a", false, 0),
            &seen("lock-b", false, 0)
        ));
    }

    #[tokio::test]
    async fn same_kind_shares_other_kind_excludes() {
        let t = target();
        let a = t.lock("vol", LockKind::BackupOrRestore).await.unwrap();
        let b = t.lock("vol", LockKind::BackupOrRestore).await.unwrap();
        let e = t.lock("vol", LockKind::Deletion).await.unwrap_err();
        assert!(matches!(e, Error::Locked { .. }), "{e}");
        // The refused lock removed its own file.
        let listing = t
            .list_dir(&layout::locks_dir("vol").unwrap())
            .await
            .unwrap();
        assert_eq!(listing.files.len(), 2);
        a.release().await.unwrap();
        b.release().await.unwrap();
        let d = t.lock("vol", LockKind::Deletion).await.unwrap();
        d.release().await.unwrap();
        let listing = t
            .list_dir(&layout::locks_dir("vol").unwrap())
            .await
            .unwrap();
        assert!(listing.files.is_empty());
    }

    #[tokio::test]
    async fn longhorn_lock_file_is_respected_until_it_expires() {
        let t = target();
        let path = layout::lock_path("vol", "lock-0123456789ab4def").unwrap();
        t.put(
            &path,
            r#"{"Name":"lock-0123456789ab4def","Type":2,"Acquired":true}"#
                .as_bytes()
                .to_vec(),
        )
        .await
        .unwrap();
        assert!(t.lock("vol", LockKind::BackupOrRestore).await.is_err());
        // The same kind does not conflict.
        t.lock("vol", LockKind::Deletion)
            .await
            .unwrap()
            .release()
            .await
            .unwrap();
    }

    #[test]
    fn lock_file_bytes() {
        let f = LockFile {
            name: "lock-0123456789ab4def".into(),
            kind: 1,
            acquired: false,
        };
        assert_eq!(
            String::from_utf8(f.to_json()).unwrap(),
            r#"{"Name":"lock-0123456789ab4def","Type":1,"Acquired":false}"#
        );
    }
}

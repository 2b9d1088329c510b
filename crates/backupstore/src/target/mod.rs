//! Opening a backup target and the small set of object operations the rest of
//! the crate uses. Every key is built below the target root from paths made
//! by [`crate::layout`], so nothing outside the root is ever addressed.

mod credentials;
mod local_listing;
mod url;

pub use credentials::{Credentials, KNOWN_KEYS};
pub(crate) use local_listing::{Unusable, printable};
pub use url::{TargetUrl, parse_target_url};

use crate::error::{Error, Result};
use bytes::Bytes;
use futures::TryStreamExt;
use object_store::path::{Path, PathPart};
use object_store::{ObjectMeta, ObjectStore, ObjectStoreExt, PutPayload};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How to reach a target beyond what its URL says.
#[derive(Debug, Clone, Default)]
pub struct TargetOptions {
    /// Local directory where the NFS export or CIFS share of an `nfs://` or
    /// `cifs://` URL is mounted.
    pub mount_point: Option<PathBuf>,
    /// Credentials and driver settings (see [`Credentials`]).
    pub credentials: Credentials,
}

impl TargetOptions {
    /// Options with credentials from the environment.
    pub fn from_env() -> Self {
        TargetOptions {
            mount_point: None,
            credentials: Credentials::from_env(),
        }
    }
}

/// An open backup target.
#[derive(Debug, Clone)]
pub struct Target {
    store: Arc<dyn ObjectStore>,
    root: Vec<String>,
    url: String,
    pub(crate) lock_settle: Duration,
    /// For local directories and mounts: the resolved root, so that no
    /// symbolic link inside the target can lead reads or writes elsewhere.
    local_root: Option<PathBuf>,
}

/// One level of a directory listing.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    /// Files: name within the directory and metadata.
    pub(crate) files: Vec<(String, ObjectMeta)>,
    /// Sub-directory names.
    pub(crate) dirs: Vec<String>,
    /// Entries of a local directory that no object key can name; the
    /// others are listed all the same.
    pub(crate) unusable: Vec<Unusable>,
}

impl Target {
    /// Opens the target a URL designates. Local directories must exist;
    /// remote stores are not contacted until the first operation.
    pub async fn open(url: &str, options: &TargetOptions) -> Result<Self> {
        let parsed = parse_target_url(url)?;
        let mut local_root = None;
        let (store, root): (Arc<dyn ObjectStore>, String) = match parsed {
            TargetUrl::Local { path } => {
                return Target::local(&path).map(|mut t| {
                    url.clone_into(&mut t.url);
                    t
                });
            }
            TargetUrl::Mounted { scheme, source } => {
                let Some(mount) = &options.mount_point else {
                    return Err(Error::InvalidUrl {
                        url: url.to_owned(),
                        reason: format!(
                            "a {scheme} target is read through its mount: give the local mount point of {source}"
                        ),
                    });
                };
                local_root = Some(resolve_dir(url, mount)?);
                (open_local(url, mount)?, String::new())
            }
            TargetUrl::S3 {
                bucket,
                region,
                prefix,
            } => (
                open_s3(url, &bucket, region.as_deref(), &options.credentials)?,
                prefix,
            ),
            TargetUrl::Azure {
                container,
                suffix,
                prefix,
            } => (
                open_azure(url, &container, suffix.as_deref(), &options.credentials)?,
                prefix,
            ),
        };
        let mut target = Target::from_store(store, &root, url)?;
        target.local_root = local_root;
        Ok(target)
    }

    /// Opens a local directory (a plain path; an NFS or CIFS share through
    /// its mount point) as a target. Its files are read directly, and no
    /// path below it may be a symbolic link.
    pub fn local(dir: &std::path::Path) -> Result<Self> {
        let url = dir.display().to_string();
        let local_root = resolve_dir(&url, dir)?;
        let mut target = Target::from_store(open_local(&url, dir)?, "", &url)?;
        target.local_root = Some(local_root);
        Ok(target)
    }

    /// Wraps an existing object store. `root` is the key prefix under which
    /// `backupstore/` lives ("" for the store root); `url` is only used for
    /// display.
    pub fn from_store(store: Arc<dyn ObjectStore>, root: &str, url: &str) -> Result<Self> {
        let mut segments = Vec::new();
        for seg in root.split('/').filter(|s| !s.is_empty()) {
            if seg == "." || seg == ".." {
                return Err(Error::InvalidUrl {
                    url: url.to_owned(),
                    reason: format!("root segment {seg:?} is not allowed"),
                });
            }
            segments.push(seg.to_owned());
        }
        Ok(Target {
            store,
            root: segments,
            url: url.to_owned(),
            lock_settle: Duration::from_secs(2),
            local_root: None,
        })
    }

    /// The URL the target was opened with.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// What names this target however its URL was spelled: a local
    /// directory by its resolved path (`T`, `./T/` and `file:///abs/T` are
    /// one target), any other by its URL without a trailing `/`.
    pub fn identity(&self) -> String {
        match &self.local_root {
            Some(root) => format!("file://{}", root.display()),
            None => self.url.trim_end_matches('/').to_owned(),
        }
    }

    /// Changes how long lock acquisition waits between writing its lock file
    /// and checking for competitors (Longhorn waits 2 s; tests may shorten it).
    pub fn with_lock_settle(mut self, settle: Duration) -> Self {
        self.lock_settle = settle;
        self
    }

    /// The underlying object store.
    pub fn store(&self) -> &Arc<dyn ObjectStore> {
        &self.store
    }

    /// The full object key (or path below the mount or directory) of a path
    /// relative to the target root.
    pub fn object_key(&self, rel: &str) -> String {
        self.key(rel).to_string()
    }

    /// The object key of a path relative to the target root.
    pub(crate) fn key(&self, rel: &str) -> Path {
        self.root
            .iter()
            .map(String::as_str)
            .chain(rel.split('/').filter(|s| !s.is_empty()))
            .map(PathPart::from)
            .collect()
    }

    /// On a local target, refuses paths that pass through a symbolic link
    /// (a hostile target could otherwise point a volume or block directory
    /// anywhere on the machine).
    fn confine(&self, rel: &str) -> Result<()> {
        let Some(root) = &self.local_root else {
            return Ok(());
        };
        let mut path = root.clone();
        for part in rel.split('/').filter(|s| !s.is_empty()) {
            path.push(part);
            match std::fs::symlink_metadata(&path) {
                Ok(m) if m.file_type().is_symlink() => {
                    return Err(Error::OutsideTarget {
                        path: rel.to_owned(),
                        reason: format!("{} is a symbolic link", path.display()),
                    });
                }
                Ok(_) => {}
                Err(_) => break,
            }
        }
        Ok(())
    }

    /// The root directory of a local target; `None` for a target behind an
    /// object store API.
    pub(crate) fn local_root(&self) -> Option<&std::path::Path> {
        self.local_root.as_deref()
    }

    /// The local path of a file of a local target (after the same checks
    /// as every other access), `None` for a target behind an object store
    /// API.
    pub(crate) fn local_file(&self, rel: &str) -> Result<Option<PathBuf>> {
        let Some(root) = &self.local_root else {
            return Ok(None);
        };
        self.confine(rel)?;
        let mut path = root.clone();
        path.extend(rel.split('/').filter(|s| !s.is_empty()));
        Ok(Some(path))
    }

    /// Reads a whole file, refusing files larger than `limit`.
    pub(crate) async fn get_bounded(&self, rel: &str, limit: u64) -> Result<Bytes> {
        self.confine(rel)?;
        let result = match self.store.get(&self.key(rel)).await {
            Ok(r) => r,
            // A local store reports a folder where a file is asked for as
            // absent; it is damage, and says so.
            Err(e @ object_store::Error::NotFound { .. }) => {
                return Err(match self.local_file(rel)? {
                    Some(p) if p.is_dir() => Error::NotAFile {
                        path: rel.to_owned(),
                    },
                    _ => Error::store(rel, e),
                });
            }
            Err(e) => return Err(Error::store(rel, e)),
        };
        if result.meta.size > limit {
            return Err(Error::TooLarge {
                path: rel.to_owned(),
                size: result.meta.size,
                limit,
            });
        }
        result.bytes().await.map_err(|e| Error::store(rel, e))
    }

    /// Like [`Self::get_bounded`], `None` when the file does not exist.
    pub(crate) async fn get_optional(&self, rel: &str, limit: u64) -> Result<Option<Bytes>> {
        match self.get_bounded(rel, limit).await {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Writes a whole file in one request.
    pub(crate) async fn put(&self, rel: &str, data: impl Into<PutPayload>) -> Result<()> {
        self.confine(rel)?;
        self.store
            .put(&self.key(rel), data.into())
            .await
            .map(|_| ())
            .map_err(|e| Error::store(rel, e))
    }

    /// Metadata of a file, `None` when it does not exist.
    pub(crate) async fn head(&self, rel: &str) -> Result<Option<ObjectMeta>> {
        self.confine(rel)?;
        match self.store.head(&self.key(rel)).await {
            Ok(m) => Ok(Some(m)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(Error::store(rel, e)),
        }
    }

    /// Deletes a file; a missing file is not an error.
    pub(crate) async fn delete(&self, rel: &str) -> Result<()> {
        self.confine(rel)?;
        match self.store.delete(&self.key(rel)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(Error::store(rel, e)),
        }
    }

    /// Lists one directory level. A missing directory lists as empty. In a
    /// local directory, entries no object key can name are listed in
    /// [`Listing::unusable`] and do not hide the others.
    pub(crate) async fn list_dir(&self, rel: &str) -> Result<Listing> {
        self.confine(rel)?;
        let prefix = self.key(rel);
        let result = match self.store.list_with_delimiter(Some(&prefix)).await {
            Ok(r) => r,
            Err(object_store::Error::NotFound { .. }) => return Ok(Listing::default()),
            Err(e) => {
                let Some(dir) = self.local_file(rel)? else {
                    return Err(Error::store(rel, e));
                };
                return match tokio::task::spawn_blocking(move || local_listing::list(&dir, &prefix))
                    .await
                {
                    Ok(Some(listing)) => Ok(listing),
                    _ => Err(Error::store(rel, e)),
                };
            }
        };
        let depth = prefix.parts().count();
        let name_at = |p: &Path| p.parts().nth(depth).map(|part| part.as_ref().to_owned());
        Ok(Listing {
            files: result
                .objects
                .into_iter()
                .filter_map(|m| Some((name_at(&m.location)?, m)))
                .collect(),
            dirs: result.common_prefixes.iter().filter_map(name_at).collect(),
            unusable: Vec::new(),
        })
    }

    /// Lists every file below a directory, with paths relative to it.
    pub(crate) async fn list_recursive(&self, rel: &str) -> Result<Vec<(String, ObjectMeta)>> {
        self.confine(rel)?;
        let prefix = self.key(rel);
        let depth = prefix.parts().count();
        let items: Vec<ObjectMeta> = match self.store.list(Some(&prefix)).try_collect().await {
            Ok(v) => v,
            Err(object_store::Error::NotFound { .. }) => Vec::new(),
            Err(e) if self.local_file(rel)?.is_some() => {
                return self.walk_local(rel).await.map_err(|_| Error::store(rel, e));
            }
            Err(e) => return Err(Error::store(rel, e)),
        };
        Ok(items
            .into_iter()
            .map(|m| {
                let sub: Vec<String> = m
                    .location
                    .parts()
                    .skip(depth)
                    .map(|p| p.as_ref().to_owned())
                    .collect();
                (sub.join("/"), m)
            })
            .collect())
    }

    /// [`Self::list_recursive`] of a local directory, folder by folder, for
    /// when the object store refuses to list it whole: entries no object
    /// key can name are left out (with a warning) instead of failing the
    /// listing. Nesting deeper than a Longhorn target has (a link loop) is
    /// an error.
    async fn walk_local(&self, rel: &str) -> Result<Vec<(String, ObjectMeta)>> {
        const MAX_DEPTH: usize = 16;
        let mut out = Vec::new();
        let mut pending = vec![(String::new(), 0usize)];
        while let Some((sub, depth)) = pending.pop() {
            let dir = if sub.is_empty() {
                rel.to_owned()
            } else {
                format!("{rel}/{sub}")
            };
            if depth > MAX_DEPTH {
                return Err(Error::Unsupported(format!(
                    "{dir}: folders nested deeper than {MAX_DEPTH} levels"
                )));
            }
            let listing = self.list_dir(&dir).await?;
            for entry in &listing.unusable {
                tracing::warn!(dir = %dir, name = %entry.name, reason = %entry.reason, "entry ignored");
            }
            let join = |name: &str| {
                if sub.is_empty() {
                    name.to_owned()
                } else {
                    format!("{sub}/{name}")
                }
            };
            pending.extend(listing.dirs.iter().map(|d| (join(d), depth + 1)));
            out.extend(
                listing
                    .files
                    .into_iter()
                    .map(|(name, meta)| (join(&name), meta)),
            );
        }
        Ok(out)
    }
}

fn resolve_dir(url: &str, dir: &std::path::Path) -> Result<PathBuf> {
    std::fs::canonicalize(dir).map_err(|e| Error::InvalidUrl {
        url: url.to_owned(),
        reason: format!("{}: {e}", printable(&dir.display().to_string())),
    })
}

fn open_local(url: &str, dir: &std::path::Path) -> Result<Arc<dyn ObjectStore>> {
    if !dir.is_dir() {
        return Err(Error::InvalidUrl {
            url: url.to_owned(),
            reason: format!("{} is not an existing directory", dir.display()),
        });
    }
    let fs = object_store::local::LocalFileSystem::new_with_prefix(dir)
        .map_err(|e| Error::InvalidUrl {
            url: url.to_owned(),
            reason: e.to_string(),
        })?
        .with_automatic_cleanup(true);
    Ok(Arc::new(fs))
}

/// The endpoint to use for virtual-hosted-style requests against a custom
/// endpoint: the bucket becomes the first label of the host.
pub(crate) fn virtual_hosted_endpoint(endpoint: &str, bucket: &str) -> String {
    match endpoint.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{bucket}.{rest}"),
        None => format!("{bucket}.{endpoint}"),
    }
}

fn client_options(
    url: &str,
    creds: &Credentials,
    cert_key: &str,
) -> Result<object_store::ClientOptions> {
    let mut opts = object_store::ClientOptions::new().with_timeout(Duration::from_secs(300));
    if let Some(pem) = creds.get(cert_key) {
        let certs = object_store::Certificate::from_pem_bundle(pem.as_bytes()).map_err(|e| {
            Error::Credentials {
                source_name: cert_key.to_owned(),
                reason: format!("invalid PEM certificate for {url}: {e}"),
            }
        })?;
        for c in certs {
            opts = opts.with_root_certificate(c);
        }
    }
    if let Some(proxy) = creds.get("HTTPS_PROXY").or_else(|| creds.get("HTTP_PROXY")) {
        opts = opts.with_proxy_url(proxy);
        if let Some(no_proxy) = creds.get("NO_PROXY") {
            opts = opts.with_proxy_excludes(no_proxy);
        }
    }
    Ok(opts)
}

/// Environment variables through which AWS hands out role credentials
/// (web identity, containers), which object_store reads itself.
const AWS_ROLE_VARIABLES: [&str; 3] = [
    "AWS_WEB_IDENTITY_TOKEN_FILE",
    "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    "AWS_CONTAINER_CREDENTIALS_FULL_URI",
];

fn open_s3(
    url: &str,
    bucket: &str,
    region: Option<&str>,
    creds: &Credentials,
) -> Result<Arc<dyn ObjectStore>> {
    use object_store::aws::AmazonS3Builder;
    let region = region
        .or_else(|| creds.get("AWS_REGION"))
        .or_else(|| creds.get("AWS_DEFAULT_REGION"))
        .unwrap_or("us-east-1");
    let virtual_hosted = creds
        .get("VIRTUAL_HOSTED_STYLE")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let endpoint = creds.get("AWS_ENDPOINTS").map(|e| e.trim_end_matches('/'));
    if let Some(endpoint) = endpoint {
        let host = endpoint
            .strip_prefix("http://")
            .or_else(|| endpoint.strip_prefix("https://"));
        if host.is_none_or(|h| h.is_empty() || h.starts_with('/')) {
            return Err(Error::InvalidUrl {
                url: url.to_owned(),
                reason: format!(
                    "the S3 endpoint {endpoint:?} (AWS_ENDPOINTS or --endpoint) is not an http:// or https:// URL"
                ),
            });
        }
    }
    let static_keys =
        creds.get("AWS_ACCESS_KEY_ID").is_some() && creds.get("AWS_SECRET_ACCESS_KEY").is_some();
    // Off AWS, no credentials can come from instance metadata or a role:
    // say what is missing instead of failing on the first request.
    if let Some(endpoint) = endpoint
        && !static_keys
        && !AWS_ROLE_VARIABLES
            .iter()
            .any(|v| std::env::var_os(v).is_some())
    {
        return Err(Error::Credentials {
            source_name: "the environment and --credentials".into(),
            reason: format!(
                "an S3 target on the endpoint {endpoint} needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, from the environment or from --credentials (the secret Longhorn's backup target names)"
            ),
        });
    }
    let mut b = AmazonS3Builder::new()
        .with_bucket_name(bucket)
        .with_region(region)
        .with_client_options(client_options(url, creds, "AWS_CERT")?);
    match endpoint {
        Some(endpoint) => {
            b = b.with_allow_http(endpoint.starts_with("http://"));
            if virtual_hosted {
                b = b
                    .with_endpoint(virtual_hosted_endpoint(endpoint, bucket))
                    .with_virtual_hosted_style_request(true);
            } else {
                b = b.with_endpoint(endpoint);
            }
        }
        None => b = b.with_virtual_hosted_style_request(true),
    }
    if let (Some(id), Some(secret)) = (
        creds.get("AWS_ACCESS_KEY_ID"),
        creds.get("AWS_SECRET_ACCESS_KEY"),
    ) {
        b = b.with_access_key_id(id).with_secret_access_key(secret);
        if let Some(token) = creds.get("AWS_SESSION_TOKEN") {
            b = b.with_token(token);
        }
    }
    let store = b.build().map_err(|e| Error::InvalidUrl {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(Arc::new(store))
}

fn open_azure(
    url: &str,
    container: &str,
    suffix: Option<&str>,
    creds: &Credentials,
) -> Result<Arc<dyn ObjectStore>> {
    use object_store::azure::MicrosoftAzureBuilder;
    let account = creds
        .get("AZBLOB_ACCOUNT_NAME")
        .ok_or_else(|| Error::Credentials {
            source_name: "AZBLOB_ACCOUNT_NAME".into(),
            reason: format!("an Azure Blob target ({url}) needs the storage account name"),
        })?;
    let mut b = MicrosoftAzureBuilder::new()
        .with_account(account)
        .with_container_name(container)
        .with_client_options(client_options(url, creds, "AZBLOB_CERT")?);
    if let Some(key) = creds.get("AZBLOB_ACCOUNT_KEY") {
        b = b.with_access_key(key);
    }
    if let Some(endpoint) = creds.get("AZBLOB_ENDPOINT") {
        b = b
            .with_allow_http(endpoint.starts_with("http://"))
            .with_endpoint(endpoint.trim_end_matches('/').to_owned());
    } else if let Some(suffix) = suffix.filter(|s| *s != "core.windows.net") {
        b = b.with_endpoint(format!("https://{account}.blob.{suffix}"));
    }
    let store = b.build().map_err(|e| Error::InvalidUrl {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    Ok(Arc::new(store))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_hosted() {
        assert_eq!(
            virtual_hosted_endpoint("https://minio.example:9000", "b"),
            "https://b.minio.example:9000"
        );
    }

    #[test]
    fn a_custom_s3_endpoint_must_be_a_url_and_needs_keys() {
        let mut creds = Credentials::new();
        creds.set("AWS_ENDPOINTS", "not a url");
        creds.set("AWS_ACCESS_KEY_ID", "id");
        creds.set("AWS_SECRET_ACCESS_KEY", "secret");
        let e = open_s3("s3://b@us-east-1/", "b", None, &creds).unwrap_err();
        assert!(
            e.to_string().contains("not an http:// or https:// URL"),
            "{e}"
        );

        let mut creds = Credentials::new();
        creds.set("AWS_ENDPOINTS", "http://127.0.0.1:9000");
        let e = open_s3("s3://b@us-east-1/", "b", None, &creds).unwrap_err();
        assert!(
            e.to_string()
                .contains("needs AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"),
            "{e}"
        );
        creds.set("AWS_ACCESS_KEY_ID", "id");
        creds.set("AWS_SECRET_ACCESS_KEY", "secret");
        open_s3("s3://b@us-east-1/", "b", None, &creds).unwrap();
    }

    #[tokio::test]
    async fn opening() {
        let dir = tempfile::tempdir().unwrap();
        let t = Target::open(dir.path().to_str().unwrap(), &TargetOptions::default())
            .await
            .unwrap();
        assert_eq!(t.key("backupstore/volumes").as_ref(), "backupstore/volumes");
        let url = format!("file://{}", dir.path().display());
        Target::open(&url, &TargetOptions::default()).await.unwrap();
        let e = Target::open("nfs://server:/export", &TargetOptions::default())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("mount point"), "{e}");
        let opts = TargetOptions {
            mount_point: Some(dir.path().into()),
            ..Default::default()
        };
        Target::open("nfs://server:/export", &opts).await.unwrap();
        assert!(
            Target::open("/nonexistent/dir/x", &TargetOptions::default())
                .await
                .is_err()
        );
        let mut creds = Credentials::new();
        creds.set("AWS_ACCESS_KEY_ID", "a");
        creds.set("AWS_SECRET_ACCESS_KEY", "b");
        creds.set("AWS_ENDPOINTS", "http://127.0.0.1:9");
        let s3 = Target::open(
            "s3://bucket@us-east-1/some/prefix",
            &TargetOptions {
                credentials: creds,
                ..Default::default()
            },
        )
        .await
        .unwrap();
        assert_eq!(
            s3.key("backupstore/x").as_ref(),
            "some/prefix/backupstore/x"
        );
        let e = Target::open("azblob://c@core.windows.net/", &TargetOptions::default())
            .await
            .unwrap_err();
        assert!(e.to_string().contains("AZBLOB_ACCOUNT_NAME"), "{e}");
        let mut az = Credentials::new();
        az.set("AZBLOB_ACCOUNT_NAME", "acct");
        az.set("AZBLOB_ACCOUNT_KEY", "a2V5");
        Target::open(
            "azblob://c@core.windows.net/p",
            &TargetOptions {
                credentials: az,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    }
}

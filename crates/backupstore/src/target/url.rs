//! Backup target URLs, split the way Go's `net/url` splits them (so that
//! `nfs://server:/export` keeps its empty port, which WHATWG parsers drop).

use crate::error::{Error, Result};
use std::path::PathBuf;

/// Where a target URL points.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TargetUrl {
    /// A local directory: a plain path, `file:///dir` or `vfs:///dir`.
    Local {
        /// The directory.
        path: PathBuf,
    },
    /// An NFS export (`nfs://server:/export`) or CIFS share
    /// (`cifs://server/share`), read through its local mount point.
    Mounted {
        /// `nfs` or `cifs`.
        scheme: String,
        /// Mount source: `server:/export` or `//server/share/path`.
        source: String,
    },
    /// S3: `s3://bucket@region/path` or `s3://bucket/path`.
    S3 {
        /// Bucket name.
        bucket: String,
        /// Region, when the URL names one.
        region: Option<String>,
        /// Key prefix under which `backupstore/` lives ("" for the bucket root).
        prefix: String,
    },
    /// Azure Blob: `azblob://container@endpoint-suffix/path`.
    Azure {
        /// Container name.
        container: String,
        /// Endpoint suffix such as `core.windows.net`, when given.
        suffix: Option<String>,
        /// Blob name prefix ("" for the container root).
        prefix: String,
    },
}

struct Parts<'a> {
    scheme: String,
    userinfo: Option<&'a str>,
    host: &'a str,
    path: &'a str,
    /// Whether a `?query` or `#fragment` followed the path (Longhorn reads
    /// `nfsOptions` from an NFS URL's query; other schemes have none).
    has_query: bool,
}

fn split(url: &str) -> Option<Parts<'_>> {
    let (scheme, rest) = url.split_once("://")?;
    let has_query = rest.contains(['?', '#']);
    let rest = rest.split(['?', '#']).next().unwrap_or("");
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], &rest[i..]),
        None => (rest, ""),
    };
    let (userinfo, host) = match authority.rfind('@') {
        Some(i) => (Some(&authority[..i]), &authority[i + 1..]),
        None => (None, authority),
    };
    Some(Parts {
        scheme: scheme.to_ascii_lowercase(),
        userinfo,
        host,
        path,
        has_query,
    })
}

/// Checks an S3 bucket name against S3's rules: 3 to 63 characters,
/// lowercase letters, digits, `.` and `-`, starting and ending with a letter
/// or digit, with no `..`, not shaped like an IP address, and without the
/// prefixes and suffixes S3 reserves.
fn check_bucket(url: &str, bucket: &str) -> Result<()> {
    let ok = (3..=63).contains(&bucket.len())
        && bucket
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'-')
        && bucket.starts_with(|c: char| c.is_ascii_alphanumeric())
        && bucket.ends_with(|c: char| c.is_ascii_alphanumeric())
        && !bucket.contains("..")
        && bucket.parse::<std::net::Ipv4Addr>().is_err()
        && !["xn--", "sthree-", "amzn-s3-demo-"]
            .iter()
            .any(|p| bucket.starts_with(p))
        && !["-s3alias", "--ol-s3", "--x-s3", "--table-s3", ".mrap"]
            .iter()
            .any(|s| bucket.ends_with(s));
    if ok {
        Ok(())
    } else {
        Err(bad(
            url,
            format!(
                "bucket {bucket:?} is not a valid S3 bucket name (3 to 63 lowercase letters, digits, '.' and '-', starting and ending with a letter or digit)"
            ),
        ))
    }
}

/// Checks an S3 region: letters, digits, `-` and `_` (`us-east-1`, or a
/// custom endpoint's own name).
fn check_region(url: &str, region: &str) -> Result<()> {
    if region.is_empty() {
        return Err(bad(
            url,
            "empty region after '@': use s3://bucket@region/path, or s3://bucket/path for no region",
        ));
    }
    if region.len() > 64
        || !region
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(bad(
            url,
            format!("region {region:?} is not a region name (letters, digits, '-' and '_')"),
        ));
    }
    Ok(())
}

fn bad(url: &str, reason: impl Into<String>) -> Error {
    Error::InvalidUrl {
        url: url.to_owned(),
        reason: reason.into(),
    }
}

/// Decodes `%XX` escapes as Go's URL parser does for paths.
fn percent_decode(url: &str, s: &str) -> Result<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
                .ok_or_else(|| bad(url, format!("invalid escape in path {s:?}")))?;
            out.push(hex);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| bad(url, "path is not UTF-8"))
}

/// Turns a URL path into an object key prefix: no empty, `.` or `..`
/// segments, no leading or trailing `/`.
fn key_prefix(url: &str, path: &str) -> Result<String> {
    let decoded = percent_decode(url, path)?;
    let trimmed = decoded.trim_matches('/');
    if trimmed.is_empty() {
        return Ok(String::new());
    }
    for seg in trimmed.split('/') {
        if seg.is_empty() || seg == "." || seg == ".." {
            return Err(bad(url, format!("path segment {seg:?} is not allowed")));
        }
    }
    Ok(trimmed.to_owned())
}

/// Parses a backup target URL.
pub fn parse_target_url(url: &str) -> Result<TargetUrl> {
    if url.is_empty() {
        return Err(bad(url, "empty URL"));
    }
    let Some(p) = split(url) else {
        return Ok(TargetUrl::Local {
            path: PathBuf::from(url),
        });
    };
    match p.scheme.as_str() {
        "file" | "vfs" => {
            if p.userinfo.is_some()
                || !(p.host.is_empty() || (p.scheme == "file" && p.host == "localhost"))
            {
                return Err(bad(
                    url,
                    "a local target URL has no host: use file:///absolute/path",
                ));
            }
            if p.path.is_empty() {
                return Err(bad(url, "missing directory path"));
            }
            Ok(TargetUrl::Local {
                path: PathBuf::from(percent_decode(url, p.path)?),
            })
        }
        "nfs" => {
            // `server:` (Longhorn's form, an empty port) or `server:2049`.
            let server = p.host.split(':').next().unwrap_or_default();
            if server.is_empty() {
                return Err(bad(url, "missing NFS server: use nfs://server:/export"));
            }
            if p.path.trim_matches('/').is_empty() {
                return Err(bad(url, "missing export path: use nfs://server:/export"));
            }
            let host = p
                .userinfo
                .map_or(p.host.to_owned(), |u| format!("{u}@{}", p.host));
            Ok(TargetUrl::Mounted {
                scheme: "nfs".into(),
                source: format!("{host}{}", p.path),
            })
        }
        "cifs" => {
            if p.host.is_empty() || p.path.trim_matches('/').is_empty() {
                return Err(bad(url, "use cifs://server/share[/path]"));
            }
            Ok(TargetUrl::Mounted {
                scheme: "cifs".into(),
                source: format!("//{}{}", p.host, p.path),
            })
        }
        "s3" => {
            if p.has_query {
                return Err(bad(
                    url,
                    "an s3:// target URL has no query or fragment ('?' or '#')",
                ));
            }
            let (bucket, region) = match p.userinfo {
                Some(u) => {
                    check_region(url, p.host)?;
                    (u, Some(p.host.to_owned()))
                }
                None => (p.host, None),
            };
            if bucket.is_empty() {
                return Err(bad(url, "missing bucket: use s3://bucket@region/path"));
            }
            check_bucket(url, bucket)?;
            if p.path.is_empty() {
                return Err(bad(
                    url,
                    "missing path: use s3://bucket@region/ for the bucket root",
                ));
            }
            Ok(TargetUrl::S3 {
                bucket: bucket.to_owned(),
                region,
                prefix: key_prefix(url, p.path)?,
            })
        }
        "azblob" => {
            if p.has_query {
                return Err(bad(
                    url,
                    "an azblob:// target URL has no query or fragment ('?' or '#')",
                ));
            }
            let (container, suffix) = match p.userinfo {
                Some(u) => (u, (!p.host.is_empty()).then(|| p.host.to_owned())),
                None => (p.host, None),
            };
            if container.is_empty() {
                return Err(bad(
                    url,
                    "missing container: use azblob://container@core.windows.net/",
                ));
            }
            Ok(TargetUrl::Azure {
                container: container.to_owned(),
                suffix,
                prefix: key_prefix(url, p.path)?,
            })
        }
        other => Err(bad(
            url,
            format!(
                "scheme {other:?} is not supported (use a directory, file://, nfs:// or cifs:// with its mount point, s3:// or azblob://)"
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_forms() {
        assert_eq!(
            parse_target_url("/srv/backups").unwrap(),
            TargetUrl::Local {
                path: "/srv/backups".into()
            }
        );
        assert_eq!(
            parse_target_url("file:///srv/backups").unwrap(),
            TargetUrl::Local {
                path: "/srv/backups".into()
            }
        );
        assert!(parse_target_url("file://host/srv").is_err());
    }

    #[test]
    fn nfs_keeps_empty_port() {
        assert_eq!(
            parse_target_url(
                "nfs://longhorn-test-nfs-svc.default:/opt/backupstore?nfsOptions=soft"
            )
            .unwrap(),
            TargetUrl::Mounted {
                scheme: "nfs".into(),
                source: "longhorn-test-nfs-svc.default:/opt/backupstore".into()
            }
        );
        assert_eq!(
            parse_target_url("cifs://10.43.35.102/backupstore").unwrap(),
            TargetUrl::Mounted {
                scheme: "cifs".into(),
                source: "//10.43.35.102/backupstore".into()
            }
        );
    }

    #[test]
    fn s3_forms() {
        let cases = [
            (
                "s3://backupbucket@us-east-1/",
                "backupbucket",
                Some("us-east-1"),
                "",
            ),
            (
                "s3://backupbucket@us-east-1/backupstore",
                "backupbucket",
                Some("us-east-1"),
                "backupstore",
            ),
            ("s3://backupbucket/path", "backupbucket", None, "path"),
            ("s3://bkt@r/a/b/", "bkt", Some("r"), "a/b"),
        ];
        for (url, bucket, region, prefix) in cases {
            assert_eq!(
                parse_target_url(url).unwrap(),
                TargetUrl::S3 {
                    bucket: bucket.into(),
                    region: region.map(Into::into),
                    prefix: prefix.into()
                },
                "{url}"
            );
        }
        for bad in [
            "s3://bucket@region",
            "s3:///x",
            "s3://bkt@r/../x",
            "s3://bkt@r/a//b",
            "s3://bkt@r/%zz",
            "s3://b@/p",
            "s3://bu ck@x/",
            "s3://Bad_Bucket..x@us-east-1/",
            "s3://bucket..x@us-east-1/",
            "s3://ab@us-east-1/",
            "s3://192.168.1.1@us-east-1/",
            "s3://xn--abc@us-east-1/",
            "s3://abc-s3alias@us-east-1/",
            "s3://-bucket@us-east-1/",
            "s3://bucket@us east/",
            "s3://bucket@us-east-1/p?x=1",
            "s3://bucket@us-east-1/p#frag",
            "azblob://container@core.windows.net/p?x",
        ] {
            assert!(parse_target_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nfs_needs_a_server_and_an_export_path() {
        for (url, says) in [
            ("nfs://", "missing NFS server"),
            ("nfs://:/export", "missing NFS server"),
            ("nfs://server", "missing export path"),
            ("nfs://server:", "missing export path"),
            ("nfs://server:export", "missing export path"),
            ("nfs://server:/", "missing export path"),
        ] {
            let e = parse_target_url(url).unwrap_err();
            assert!(e.to_string().contains(says), "{url}: {e}");
        }
    }

    #[test]
    fn azure_and_unknown() {
        assert_eq!(
            parse_target_url("azblob://longhorn-test-azurite@core.windows.net/").unwrap(),
            TargetUrl::Azure {
                container: "longhorn-test-azurite".into(),
                suffix: Some("core.windows.net".into()),
                prefix: String::new()
            }
        );
        let e = parse_target_url("gs://bucket/x").unwrap_err();
        assert!(e.to_string().contains("not supported"), "{e}");
        assert!(parse_target_url("").is_err());
    }
}

//! Reading the engine's [`View`] from a live cluster: every kind the engine
//! reasons about, listed page by page (`limit` + `continue`), tolerating
//! kinds the cluster does not serve (a CRD that is not installed) or does
//! not let us read. Only kinds read in full count as *listed*: for the
//! others, absence proves nothing and the engine says what it would need.

pub(crate) mod convert;
mod secrets;

use std::fmt;

use kube::Client;
use kube::api::{Api, DynamicObject, ListParams};
use serde::Serialize;
use vmbackup_engine::{Kind, Object, View};

use crate::error::Error;
use crate::progress::Progress;
use crate::resources::{LISTED_KINDS, api_all};
use crate::status::{Failure, failure, message};

pub use convert::InvalidObject;

/// Objects per list request, as kubectl asks for.
pub const DEFAULT_PAGE_SIZE: u32 = 500;

/// How often a listing starts over after its continue token expired
/// (410 Gone) before giving up.
const MAX_RESTARTS: usize = 3;

/// Which Secrets are read. Secrets hold credentials, so by default only
/// those the engine may look at are read, one by one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SecretReads {
    /// No Secret is read.
    None,
    /// The Secrets the VMs refer to (cloud-init, access credentials) and
    /// those restores in progress would create, each read by name. Secrets
    /// are then not *listed*: a missing one proves nothing.
    #[default]
    Referenced,
    /// Every Secret, listed in full.
    All,
}

/// How to read a cluster.
#[derive(Debug, Clone)]
pub struct LoadOptions {
    /// Objects per list request.
    pub page_size: u32,
    /// Which Secrets to read.
    pub secrets: SecretReads,
}

impl Default for LoadOptions {
    fn default() -> Self {
        LoadOptions {
            page_size: DEFAULT_PAGE_SIZE,
            secrets: SecretReads::default(),
        }
    }
}

/// How reading one kind went.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum Listing {
    /// Every object was read.
    Complete {
        /// Objects read.
        objects: usize,
        /// List requests made.
        pages: usize,
    },
    /// Read, but some objects do not have their kind's shape: they are
    /// left out and the kind does not count as listed.
    Partial {
        /// Objects read.
        objects: usize,
        /// Objects left out.
        invalid: usize,
    },
    /// Objects read one by one by name (Secrets): not a listing.
    Fetched {
        /// Objects found.
        objects: usize,
        /// Names asked for.
        asked: usize,
    },
    /// The cluster does not serve this kind (its CRD is not installed).
    NotServed,
    /// Reading this kind is not allowed.
    Forbidden {
        /// The API server's message.
        message: String,
    },
    /// Not read, by choice.
    Skipped,
}

impl Listing {
    /// Whether the kind was read in full.
    pub fn is_complete(&self) -> bool {
        matches!(self, Listing::Complete { .. })
    }
}

/// What was read from the cluster.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The objects, indexed; the kinds read in full are marked listed.
    pub view: View,
    /// How each kind was read, in reading order.
    pub kinds: Vec<(Kind, Listing)>,
    /// Objects left out because they do not have their kind's shape.
    pub invalid: Vec<InvalidObject>,
}

impl Loaded {
    /// One line for each kind not read in full and each object left out,
    /// for the operator.
    pub fn notes(&self) -> Vec<String> {
        let mut out = Vec::new();
        for (kind, listing) in &self.kinds {
            let what = format!("{} ({})", kind, kind.api_version());
            match listing {
                Listing::Complete { .. } | Listing::Skipped => {}
                Listing::NotServed => out.push(format!(
                    "{what} is not served by this cluster (its CRD is not installed): none read"
                )),
                Listing::Forbidden { message } => out.push(format!(
                    "{what} could not be read ({message}): what needs it is not checked"
                )),
                Listing::Partial { invalid, .. } => out.push(format!(
                    "{what}: {invalid} object(s) left out because they could not be read, so absent {kind}s prove nothing"
                )),
                Listing::Fetched { objects, asked } if objects < asked => out.push(format!(
                    "{} of the {asked} {kind}s the VMs and restores refer to were not found",
                    asked - objects
                )),
                Listing::Fetched { .. } => {}
            }
        }
        out.extend(self.invalid.iter().map(ToString::to_string));
        out
    }
}

impl fmt::Display for Listing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Listing::Complete { objects, pages } => {
                write!(f, "{objects} object(s) in {pages} page(s)")
            }
            Listing::Partial { objects, invalid } => {
                write!(f, "{objects} object(s), {invalid} left out")
            }
            Listing::Fetched { objects, asked } => write!(f, "{objects} of {asked} found"),
            Listing::NotServed => f.write_str("not served"),
            Listing::Forbidden { message } => write!(f, "forbidden: {message}"),
            Listing::Skipped => f.write_str("not read"),
        }
    }
}

/// Reads every kind the engine needs from the cluster.
///
/// # Errors
///
/// A list request that fails for another reason than the kind not being
/// served or not allowed (the API server unreachable, a server error), or
/// a Secret read that fails likewise.
pub async fn load(
    client: &Client,
    options: &LoadOptions,
    progress: &dyn Progress,
) -> Result<Loaded, Error> {
    let mut objects: Vec<Object> = Vec::new();
    let mut kinds = Vec::new();
    let mut invalid = Vec::new();
    let mut listed = Vec::new();
    let page_size = options.page_size.max(1);
    let mut to_list: Vec<Kind> = LISTED_KINDS.to_vec();
    if options.secrets == SecretReads::All {
        to_list.push(Kind::Secret);
    }
    for kind in to_list {
        let Some(api) = api_all(client, kind) else {
            continue;
        };
        let listing = match list_all(&api, kind, page_size).await? {
            Read::Items { items, pages } => {
                let total = items.len();
                let (good, bad) = convert::objects(kind, items);
                objects.extend(good);
                let listing = if bad.is_empty() {
                    listed.push(kind);
                    Listing::Complete {
                        objects: total,
                        pages,
                    }
                } else {
                    Listing::Partial {
                        objects: total - bad.len(),
                        invalid: bad.len(),
                    }
                };
                invalid.extend(bad);
                listing
            }
            Read::NotServed => Listing::NotServed,
            Read::Forbidden(message) => Listing::Forbidden { message },
        };
        progress.listed(kind, &listing);
        kinds.push((kind, listing));
    }
    if options.secrets == SecretReads::Referenced {
        let partial = View::from_objects(objects.iter().cloned());
        let names = secrets::referenced(&partial);
        let (found, listing) = secrets::fetch(client, &names).await?;
        objects.extend(found);
        progress.listed(Kind::Secret, &listing);
        kinds.push((Kind::Secret, listing));
    } else if options.secrets == SecretReads::None {
        progress.listed(Kind::Secret, &Listing::Skipped);
        kinds.push((Kind::Secret, Listing::Skipped));
    }
    let view = listed
        .into_iter()
        .fold(View::builder().objects(objects), |b, k| b.listed(k))
        .build();
    Ok(Loaded {
        view,
        kinds,
        invalid,
    })
}

/// Whether `error` means no answer came from the API server at all
/// (connection refused, TLS or DNS failure), as opposed to an answer that
/// refused the request.
fn unreachable(error: &kube::Error) -> bool {
    matches!(error, kube::Error::Service(_) | kube::Error::HyperError(_))
}

/// The result of listing one kind.
enum Read {
    Items {
        items: Vec<DynamicObject>,
        pages: usize,
    },
    NotServed,
    Forbidden(String),
}

/// Lists every object of `kind`, following continue tokens. An expired
/// token (410) starts the listing over, a few times at most.
async fn list_all(api: &Api<DynamicObject>, kind: Kind, page_size: u32) -> Result<Read, Error> {
    let mut restarts = 0;
    'listing: loop {
        let mut items = Vec::new();
        let mut pages = 0;
        let mut token: Option<String> = None;
        loop {
            let mut params = ListParams::default().limit(page_size);
            if let Some(t) = &token {
                params = params.continue_token(t);
            }
            let list = match api.list(&params).await {
                Ok(list) => list,
                Err(e) => {
                    return match failure(&e) {
                        Some(Failure::NotFound) if token.is_none() => Ok(Read::NotServed),
                        Some(Failure::Forbidden) => Ok(Read::Forbidden(message(&e))),
                        Some(Failure::Expired) if token.is_some() && restarts < MAX_RESTARTS => {
                            restarts += 1;
                            tracing::debug!(%kind, restarts, "continue token expired; listing again");
                            continue 'listing;
                        }
                        _ if unreachable(&e) => Err(Error::Unreachable { kind, source: e }),
                        _ => Err(Error::List { kind, source: e }),
                    };
                }
            };
            pages += 1;
            items.extend(list.items);
            let next = list.metadata.continue_.filter(|t| !t.is_empty());
            match next {
                None => return Ok(Read::Items { items, pages }),
                Some(t) if token.as_deref() == Some(t.as_str()) => {
                    return Err(Error::Paging { kind, token: t });
                }
                Some(t) => token = Some(t),
            }
        }
    }
}

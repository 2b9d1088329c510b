//! A fake Kubernetes API server for tests of code that talks to a cluster
//! (this crate's, the CLI's, a controller's). It keeps objects in memory
//! and answers as the API server does where vmbackup relies on it: lists
//! with `limit`/`continue`, get, create (`AlreadyExists`), JSON merge patch
//! with `resourceVersion` (409) and `uid` (422) checks, the `status`
//! subresource, delete with preconditions and finalizers, 404 for kinds it
//! does not serve. Every request is recorded, and faults can be injected: a
//! write that fails (a run cut off), an object changed by someone else
//! just before a write.
//!
//! Reach it through kube's client over tower-test's mock service
//! ([`FakeApi::client`]) or over real HTTP on a local port
//! ([`FakeApi::serve_http`], for a process given a kubeconfig).

mod http;
mod mock;
mod server;

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex, MutexGuard};

use serde_json::{Value, json};
use vmbackup_engine::Kind;

use crate::resources::api_resource;

/// One request as the fake saw it, with the status it answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    /// HTTP method.
    pub method: String,
    /// URL path.
    pub path: String,
    /// Query string, without `?`.
    pub query: String,
    /// JSON body, if any.
    pub body: Option<Value>,
    /// Status code answered.
    pub status: u16,
}

impl Recorded {
    /// `METHOD path`, for compact assertions.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    /// Whether the request changes something.
    pub fn is_write(&self) -> bool {
        matches!(self.method.as_str(), "POST" | "PATCH" | "PUT" | "DELETE")
    }
}

/// A shared fake API server: clones and every client of it see the same
/// objects.
#[derive(Debug, Clone, Default)]
pub struct FakeApi {
    state: Arc<Mutex<server::State>>,
}

impl FakeApi {
    /// A server that serves every kind the engine knows, except those in
    /// `missing` (as a cluster without those CRDs).
    pub fn serving_all_but(missing: &[Kind]) -> Self {
        let api = FakeApi::default();
        {
            let mut s = api.lock();
            for kind in Kind::ALL {
                if missing.contains(kind) {
                    continue;
                }
                if let Some(path) = collection(*kind) {
                    s.served.insert(path, *kind);
                }
            }
            s.version = 100;
        }
        api
    }

    fn lock(&self) -> MutexGuard<'_, server::State> {
        // A test that panicked while holding the lock has failed already;
        // the state is still worth reading.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Puts an object in place as it is (uid and resourceVersion
    /// included). Objects without a name or of a kind not served are
    /// ignored.
    pub fn insert(&self, kind: Kind, object: Value) {
        let ns = object["metadata"]["namespace"].as_str();
        let Some(name) = object["metadata"]["name"].as_str() else {
            return;
        };
        if let Some(path) = object_path(kind, ns, name) {
            self.lock().objects.insert(path, object);
        }
    }

    /// The object of `kind` named `namespace`/`name`, if any.
    pub fn get(&self, kind: Kind, namespace: Option<&str>, name: &str) -> Option<Value> {
        let path = object_path(kind, namespace, name)?;
        self.lock().objects.get(&path).cloned()
    }

    /// Paths of every object held.
    pub fn paths(&self) -> BTreeSet<String> {
        self.lock().objects.keys().cloned().collect()
    }

    /// Every object held, by path.
    pub fn objects(&self) -> BTreeMap<String, Value> {
        self.lock().objects.clone()
    }

    /// Writes from number `n` on (0-based, counted over the server's life)
    /// fail with 503, as if the run was cut off.
    pub fn fail_writes_from(&self, n: usize) {
        self.lock().fail_writes_from = Some(n);
    }

    /// Writes succeed again.
    pub fn heal(&self) {
        self.lock().fail_writes_from = None;
    }

    /// Just before write number `n`, someone else updates the object at
    /// `path` (its resourceVersion changes, an annotation is added).
    pub fn touch_before_write(&self, n: usize, path: String) {
        self.lock().touch_before_write.insert(n, path);
    }

    /// Every request so far.
    pub fn log(&self) -> Vec<Recorded> {
        self.lock().log.clone()
    }

    /// Forgets the requests seen so far.
    pub fn clear_log(&self) {
        self.lock().log.clear();
    }

    /// Answers one request (what both transports call).
    fn handle(&self, method: &str, path: &str, query: &str, body: Option<Value>) -> (u16, Value) {
        self.lock().handle(method, path, query, body)
    }
}

/// A `Status` body as the API server sends with failures.
pub fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code})
}

fn base_path(kind: Kind) -> Option<(String, String)> {
    let ar = api_resource(kind)?;
    let base = if ar.group.is_empty() {
        format!("/api/{}", ar.version)
    } else {
        format!("/apis/{}/{}", ar.group, ar.version)
    };
    Some((base, ar.plural))
}

/// The URL path of the collection of `kind` across all namespaces.
pub fn collection(kind: Kind) -> Option<String> {
    base_path(kind).map(|(base, plural)| format!("{base}/{plural}"))
}

/// The URL path of one object.
pub fn object_path(kind: Kind, namespace: Option<&str>, name: &str) -> Option<String> {
    let (base, plural) = base_path(kind)?;
    Some(match namespace {
        Some(ns) if kind.namespaced() => format!("{base}/namespaces/{ns}/{plural}/{name}"),
        None if kind.namespaced() => format!("{base}/namespaces/default/{plural}/{name}"),
        _ => format!("{base}/{plural}/{name}"),
    })
}

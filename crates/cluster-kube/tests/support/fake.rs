//! A small in-memory API server behind kube's client, at the HTTP layer
//! (tower-test's mock service): lists with `limit`/`continue`, get, create
//! (`AlreadyExists`), JSON merge patch with `resourceVersion`/`uid`
//! checks (409 / 422), the `status` subresource, delete with preconditions
//! and finalizers. Every request is recorded. Faults can be injected: a
//! write that fails (an interrupted run), an object changed by someone
//! else just before a write.

use std::collections::{BTreeMap, BTreeSet};
use std::pin::pin;
use std::sync::{Arc, Mutex};

use http::{Request, Response};
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};
use vmbackup_engine::Kind;

use super::cluster::{collection, object_path};

/// One request as the server saw it, with the status it answered.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub method: String,
    pub path: String,
    pub query: String,
    pub body: Option<Value>,
    pub status: u16,
}

impl Recorded {
    /// `METHOD path` for compact assertions.
    pub fn line(&self) -> String {
        format!("{} {}", self.method, self.path)
    }

    pub fn is_write(&self) -> bool {
        matches!(self.method.as_str(), "POST" | "PATCH" | "PUT" | "DELETE")
    }
}

#[derive(Default)]
struct State {
    /// Served collections (URL path) and their kind.
    served: BTreeMap<String, Kind>,
    /// Objects by URL path.
    objects: BTreeMap<String, Value>,
    /// Last resourceVersion handed out.
    version: u64,
    /// Requests seen.
    log: Vec<Recorded>,
    /// Writes handled so far.
    writes: usize,
    /// Writes numbered at or after this fail with 503 (0-based).
    fail_writes_from: Option<usize>,
    /// Before write number n, someone else changes the object at this path.
    touch_before_write: BTreeMap<usize, String>,
}

/// A shared fake API server; every [`FakeApi::client`] talks to it.
#[derive(Clone, Default)]
pub struct FakeApi {
    state: Arc<Mutex<State>>,
}

impl FakeApi {
    /// A server that serves every kind the engine knows, except those in
    /// `missing` (as a cluster without those CRDs).
    pub fn serving_all_but(missing: &[Kind]) -> Self {
        let api = FakeApi::default();
        {
            let mut s = api.state.lock().unwrap();
            for kind in Kind::ALL {
                if *kind == Kind::TargetFile || missing.contains(kind) {
                    continue;
                }
                s.served.insert(collection(*kind), *kind);
            }
            s.version = 100;
        }
        api
    }

    /// Puts an object in place as it is (uid and resourceVersion included).
    pub fn insert(&self, kind: Kind, object: Value) {
        let ns = object["metadata"]["namespace"].as_str().map(str::to_owned);
        let name = object["metadata"]["name"].as_str().unwrap().to_owned();
        let path = object_path(kind, ns.as_deref(), &name);
        self.state.lock().unwrap().objects.insert(path, object);
    }

    /// The object at `kind`/`namespace`/`name`, if any.
    pub fn get(&self, kind: Kind, namespace: Option<&str>, name: &str) -> Option<Value> {
        let path = object_path(kind, namespace, name);
        self.state.lock().unwrap().objects.get(&path).cloned()
    }

    /// Paths of every object held.
    pub fn paths(&self) -> BTreeSet<String> {
        self.state.lock().unwrap().objects.keys().cloned().collect()
    }

    /// Writes from number `n` on (0-based, counted over the server's life)
    /// fail with 503, as if the run was cut off.
    pub fn fail_writes_from(&self, n: usize) {
        self.state.lock().unwrap().fail_writes_from = Some(n);
    }

    /// Writes succeed again.
    pub fn heal(&self) {
        self.state.lock().unwrap().fail_writes_from = None;
    }

    /// Just before write number `n`, someone else updates the object at
    /// `path` (its resourceVersion changes).
    pub fn touch_before_write(&self, n: usize, path: String) {
        self.state
            .lock()
            .unwrap()
            .touch_before_write
            .insert(n, path);
    }

    /// Every request so far.
    pub fn log(&self) -> Vec<Recorded> {
        self.state.lock().unwrap().log.clone()
    }

    /// Forgets the requests seen so far.
    pub fn clear_log(&self) {
        self.state.lock().unwrap().log.clear();
    }

    /// A kube client talking to this server.
    pub fn client(&self) -> Client {
        let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let state = self.state.clone();
        tokio::spawn(async move {
            let mut handle = pin!(handle);
            while let Some((request, send)) = handle.next_request().await {
                let (parts, body) = request.into_parts();
                let bytes = body.collect_bytes().await.unwrap();
                let body: Option<Value> = if bytes.is_empty() {
                    None
                } else {
                    Some(serde_json::from_slice(&bytes).unwrap())
                };
                let (status, reply) = state.lock().unwrap().handle(
                    parts.method.as_str(),
                    parts.uri.path(),
                    parts.uri.query().unwrap_or_default(),
                    body,
                );
                let response = Response::builder()
                    .status(status)
                    .body(Body::from(serde_json::to_vec(&reply).unwrap()))
                    .unwrap();
                send.send_response(response);
            }
        });
        Client::new(service, "default")
    }
}

/// A `Status` body as the API server sends with failures.
pub fn status(code: u16, reason: &str, message: &str) -> Value {
    json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code})
}

struct Route {
    collection: String,
    namespace: Option<String>,
    name: Option<String>,
    subresource: Option<String>,
}

fn route(path: &str) -> Option<Route> {
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let (prefix, rest) = match *segs.first()? {
        "api" => (format!("/api/{}", segs.get(1)?), &segs[2..]),
        "apis" => (
            format!("/apis/{}/{}", segs.get(1)?, segs.get(2)?),
            &segs[3..],
        ),
        _ => return None,
    };
    let (namespace, rest) = if rest.first() == Some(&"namespaces") && rest.len() >= 3 {
        (Some(rest[1].to_owned()), &rest[2..])
    } else {
        (None, rest)
    };
    Some(Route {
        collection: format!("{prefix}/{}", rest.first()?),
        namespace,
        name: rest.get(1).map(|s| (*s).to_owned()),
        subresource: rest.get(2).map(|s| (*s).to_owned()),
    })
}

fn query_param<'a>(query: &'a str, key: &str) -> Option<&'a str> {
    query
        .split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

impl State {
    fn handle(
        &mut self,
        method: &str,
        path: &str,
        query: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let (status, reply) = self.answer(method, path, query, body.clone());
        self.log.push(Recorded {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            body,
            status,
        });
        (status, reply)
    }

    fn bump(&mut self) -> String {
        self.version += 1;
        self.version.to_string()
    }

    fn answer(
        &mut self,
        method: &str,
        path: &str,
        query: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let Some(r) = route(path) else {
            return (
                404,
                status(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                ),
            );
        };
        let Some(kind) = self.served.get(&r.collection).copied() else {
            return (
                404,
                status(
                    404,
                    "NotFound",
                    "the server could not find the requested resource",
                ),
            );
        };
        if method != "GET" {
            let n = self.writes;
            self.writes += 1;
            if let Some(touched) = self.touch_before_write.remove(&n) {
                let v = self.bump();
                if let Some(o) = self.objects.get_mut(&touched) {
                    o["metadata"]["resourceVersion"] = json!(v);
                    o["metadata"]["annotations"]["touched-by"] = json!("someone-else");
                }
            }
            if self.fail_writes_from.is_some_and(|from| n >= from) {
                return (503, status(503, "ServiceUnavailable", "connection lost"));
            }
        }
        match (method, &r.name) {
            ("GET", None) => self.list(kind, &r, query),
            ("GET", Some(_)) => match self.objects.get(path.trim_end_matches("/status")) {
                Some(o) => (200, o.clone()),
                None => (404, status(404, "NotFound", "not found")),
            },
            ("POST", None) => self.create(kind, &r, body.unwrap_or(Value::Null)),
            ("PATCH", Some(name)) => {
                let key = object_path(kind, r.namespace.as_deref(), name);
                self.patch(
                    kind,
                    &key,
                    r.subresource.as_deref(),
                    body.unwrap_or(Value::Null),
                )
            }
            ("DELETE", Some(name)) => {
                let key = object_path(kind, r.namespace.as_deref(), name);
                self.delete(&key, body.unwrap_or(Value::Null))
            }
            _ => (
                405,
                status(405, "MethodNotAllowed", "not supported by the fake"),
            ),
        }
    }

    fn list(&self, kind: Kind, r: &Route, query: &str) -> (u16, Value) {
        let limit: usize = query_param(query, "limit")
            .and_then(|l| l.parse().ok())
            .unwrap_or(usize::MAX);
        let start: usize = query_param(query, "continue")
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let mut items: Vec<Value> = self
            .objects
            .iter()
            .filter(|(path, _)| route(path).is_some_and(|o| o.collection == r.collection))
            .filter(|(_, o)| {
                r.namespace.is_none()
                    || o["metadata"]["namespace"].as_str() == r.namespace.as_deref()
            })
            .map(|(_, o)| o.clone())
            .collect();
        let total = items.len();
        items = items.into_iter().skip(start).take(limit).collect();
        // Core and storage.k8s.io lists come without apiVersion/kind on items.
        if !kind.api_version().contains(".io/") || kind.api_version().starts_with("storage.k8s.io")
        {
            for item in &mut items {
                if let Value::Object(m) = item {
                    m.remove("apiVersion");
                    m.remove("kind");
                }
            }
        }
        let mut metadata = json!({"resourceVersion": self.version.to_string()});
        if start + items.len() < total {
            metadata["continue"] = json!((start + items.len()).to_string());
        }
        (
            200,
            json!({"apiVersion": "v1", "kind": "List", "metadata": metadata, "items": items}),
        )
    }

    fn create(&mut self, kind: Kind, r: &Route, mut object: Value) -> (u16, Value) {
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let key = object_path(kind, r.namespace.as_deref(), &name);
        if self.objects.contains_key(&key) {
            return (
                409,
                status(
                    409,
                    "AlreadyExists",
                    &format!("{} \"{name}\" already exists", kind),
                ),
            );
        }
        if object["metadata"].get("resourceVersion").is_some() {
            return (
                400,
                status(
                    400,
                    "BadRequest",
                    "resourceVersion should not be set on objects to be created",
                ),
            );
        }
        let v = self.bump();
        object["metadata"]["uid"] = json!(format!("uid-created-{name}"));
        object["metadata"]["resourceVersion"] = json!(v);
        if let Some(ns) = &r.namespace {
            object["metadata"]["namespace"] = json!(ns);
        }
        if kind.has_status_subresource() {
            strip_status(&mut object);
        }
        self.objects.insert(key, object.clone());
        (201, object)
    }

    fn patch(&mut self, kind: Kind, key: &str, sub: Option<&str>, patch: Value) -> (u16, Value) {
        let Some(current) = self.objects.get(key).cloned() else {
            return (404, status(404, "NotFound", "not found"));
        };
        let meta = &patch["metadata"];
        if mismatch(meta, &current, "resourceVersion").is_some() {
            return (
                409,
                status(
                    409,
                    "Conflict",
                    "Operation cannot be fulfilled: the object has been modified; please apply your changes to the latest version and try again",
                ),
            );
        }
        if mismatch(meta, &current, "uid").is_some() {
            return (
                422,
                status(
                    422,
                    "Invalid",
                    "metadata.uid: Invalid value: field is immutable",
                ),
            );
        }
        let mut next = current.clone();
        match sub {
            Some("status") => {
                if let Some(s) = patch.get("status") {
                    let mut holder =
                        json!({"status": next.get("status").cloned().unwrap_or(Value::Null)});
                    vmbackup_engine::merge_patch::apply(&mut holder, &json!({"status": s}));
                    next["status"] = holder["status"].take();
                }
            }
            _ => {
                let mut p = patch.clone();
                if kind.has_status_subresource() {
                    strip_status(&mut p);
                }
                vmbackup_engine::merge_patch::apply(&mut next, &p);
            }
        }
        next["metadata"]["uid"] = current["metadata"]["uid"].clone();
        let v = self.bump();
        next["metadata"]["resourceVersion"] = json!(v);
        let finalizers_empty = next["metadata"]["finalizers"]
            .as_array()
            .is_none_or(Vec::is_empty);
        if next["metadata"].get("deletionTimestamp").is_some() && finalizers_empty {
            self.objects.remove(key);
        } else {
            self.objects.insert(key.to_owned(), next.clone());
        }
        (200, next)
    }

    fn delete(&mut self, key: &str, options: Value) -> (u16, Value) {
        let Some(current) = self.objects.get(key).cloned() else {
            return (404, status(404, "NotFound", "not found"));
        };
        let pre = &options["preconditions"];
        if let Some(uid) = mismatch(pre, &current, "uid") {
            return (
                409,
                status(
                    409,
                    "Conflict",
                    &format!(
                        "Precondition failed: UID in precondition: {uid}, UID in object meta: {}",
                        current["metadata"]["uid"].as_str().unwrap_or_default()
                    ),
                ),
            );
        }
        if mismatch(pre, &current, "resourceVersion").is_some() {
            return (
                409,
                status(409, "Conflict", "Precondition failed: ResourceVersion"),
            );
        }
        let has_finalizers = current["metadata"]["finalizers"]
            .as_array()
            .is_some_and(|f| !f.is_empty());
        if has_finalizers {
            let mut next = current;
            if next["metadata"].get("deletionTimestamp").is_none() {
                next["metadata"]["deletionTimestamp"] = json!("2025-06-01T12:00:00Z");
                let v = self.bump();
                next["metadata"]["resourceVersion"] = json!(v);
            }
            self.objects.insert(key.to_owned(), next.clone());
            (200, next)
        } else {
            self.objects.remove(key);
            (200, current)
        }
    }
}

/// `pre[field]` when it is set and differs from `current.metadata[field]`.
fn mismatch<'a>(pre: &'a Value, current: &Value, field: &str) -> Option<&'a str> {
    let wanted = pre.get(field).and_then(Value::as_str)?;
    (current["metadata"][field].as_str() != Some(wanted)).then_some(wanted)
}

/// Drops `status` (ignored outside the status subresource).
fn strip_status(object: &mut Value) {
    if let Value::Object(m) = object {
        m.remove("status");
    }
}

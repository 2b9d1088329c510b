//! What the fake API server holds and how it answers.

use std::collections::BTreeMap;

use serde_json::{Value, json};
use vmbackup_engine::Kind;

use super::{Recorded, object_path, status};

/// Objects, versions, the request log and the faults to inject.
#[derive(Debug, Default)]
pub(super) struct State {
    /// Served collections (URL path) and their kind.
    pub(super) served: BTreeMap<String, Kind>,
    /// Objects by URL path.
    pub(super) objects: BTreeMap<String, Value>,
    /// Last resourceVersion handed out.
    pub(super) version: u64,
    /// Requests seen.
    pub(super) log: Vec<Recorded>,
    /// Writes handled so far.
    writes: usize,
    /// Writes numbered at or after this fail with 503 (0-based).
    pub(super) fail_writes_from: Option<usize>,
    /// Before write number n, someone else changes the object at this path.
    pub(super) touch_before_write: BTreeMap<usize, String>,
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
        "api" => (format!("/api/{}", segs.get(1)?), segs.get(2..)?),
        "apis" => (
            format!("/apis/{}/{}", segs.get(1)?, segs.get(2)?),
            segs.get(3..)?,
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

fn not_found(what: &str) -> (u16, Value) {
    (404, status(404, "NotFound", what))
}

impl State {
    pub(super) fn handle(
        &mut self,
        method: &str,
        path: &str,
        query: &str,
        body: Option<Value>,
    ) -> (u16, Value) {
        let (code, reply) = self.answer(method, path, query, body.clone());
        self.log.push(Recorded {
            method: method.to_owned(),
            path: path.to_owned(),
            query: query.to_owned(),
            body,
            status: code,
        });
        (code, reply)
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
        let unknown = "the server could not find the requested resource";
        let Some(r) = route(path) else {
            return not_found(unknown);
        };
        let Some(kind) = self.served.get(&r.collection).copied() else {
            return not_found(unknown);
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
        let key = r
            .name
            .as_deref()
            .and_then(|name| object_path(kind, r.namespace.as_deref(), name));
        match (method, key) {
            ("GET", None) => self.list(kind, &r, query),
            ("GET", Some(key)) => match self.objects.get(&key) {
                Some(o) => (200, o.clone()),
                None => not_found("not found"),
            },
            ("POST", None) => self.create(kind, &r, body.unwrap_or(Value::Null)),
            ("PATCH", Some(key)) => self.patch(
                kind,
                &key,
                r.subresource.as_deref(),
                body.unwrap_or(Value::Null),
            ),
            ("DELETE", Some(key)) => self.delete(&key, body.unwrap_or(Value::Null)),
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
        // Lists of built-in kinds come without apiVersion/kind on items.
        let version = kind.api_version();
        if version == "v1" || version.starts_with("storage.k8s.io/") {
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
        let Some(key) = object_path(kind, r.namespace.as_deref(), &name) else {
            return not_found("not found");
        };
        if name.is_empty() {
            return (422, status(422, "Invalid", "metadata.name: Required value"));
        }
        if self.objects.contains_key(&key) {
            return (
                409,
                status(
                    409,
                    "AlreadyExists",
                    &format!("{kind} \"{name}\" already exists"),
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
            return not_found("not found");
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
            return not_found("not found");
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

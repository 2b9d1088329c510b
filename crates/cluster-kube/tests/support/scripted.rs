//! A scripted API server in the style of kube-rs's reference controller:
//! each test lists the exact requests it expects (method, path, query,
//! body) in order, with the answer to give. A request that differs, comes
//! out of order or is not in the script fails the test.

use std::pin::pin;
use std::time::Duration;

use http::{Request, Response};
use kube::Client;
use kube::client::Body;
use serde_json::{Value, json};
use tokio::task::JoinHandle;
use vmbackup_engine::Kind;
use vmbackup_kube::resources::LISTED_KINDS;

use super::cluster::collection;
use super::fake::status;

/// One expected request and the answer to it.
#[derive(Debug, Clone)]
pub struct Exchange {
    pub method: &'static str,
    pub path: String,
    /// The exact query string ("" for none).
    pub query: String,
    /// The exact JSON body, when the request must carry one.
    pub body: Option<Value>,
    pub status: u16,
    pub reply: Value,
}

impl Exchange {
    pub fn new(method: &'static str, path: impl Into<String>, query: &str) -> Self {
        Exchange {
            method,
            path: path.into(),
            query: query.to_owned(),
            body: None,
            status: 200,
            reply: json!({}),
        }
    }

    /// The request must carry exactly this body.
    pub fn body(mut self, body: Value) -> Self {
        self.body = Some(body);
        self
    }

    /// The answer.
    pub fn reply(mut self, status: u16, reply: Value) -> Self {
        self.status = status;
        self.reply = reply;
        self
    }
}

/// A list answer with `items`, and a continue token when given.
pub fn list(items: Vec<Value>, continue_token: Option<&str>) -> Value {
    let mut metadata = json!({"resourceVersion": "500"});
    if let Some(t) = continue_token {
        metadata["continue"] = json!(t);
    }
    json!({"apiVersion": "v1", "kind": "List", "metadata": metadata, "items": items})
}

/// The list requests of one read of the cluster (page size 500, which
/// kube writes as the query `&limit=500`; no Secret to read), each answered
/// with the objects of its kind in `objects`, or 404 for kinds in
/// `not_served`.
pub fn read_cluster(objects: &[(Kind, Value)], not_served: &[Kind]) -> Vec<Exchange> {
    LISTED_KINDS
        .iter()
        .map(|kind| {
            let ex = Exchange::new("GET", collection(*kind), "&limit=500");
            if not_served.contains(kind) {
                ex.reply(
                    404,
                    status(
                        404,
                        "NotFound",
                        "the server could not find the requested resource",
                    ),
                )
            } else {
                let items = objects
                    .iter()
                    .filter(|(k, _)| k == kind)
                    .map(|(_, v)| v.clone())
                    .collect();
                ex.reply(200, list(items, None))
            }
        })
        .collect()
}

/// Starts a server that expects `script`, in order. Join the handle after
/// dropping every clone of the client: it fails if a request differed, was
/// missing, or came in excess.
pub fn serve(script: Vec<Exchange>) -> (Client, JoinHandle<()>) {
    let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let task = tokio::spawn(async move {
        let mut handle = pin!(handle);
        for (i, ex) in script.into_iter().enumerate() {
            let next = tokio::time::timeout(Duration::from_secs(5), handle.next_request()).await;
            let Ok(Some((request, send))) = next else {
                panic!(
                    "request {i} never came: expected {} {}?{}",
                    ex.method, ex.path, ex.query
                );
            };
            let (parts, body) = request.into_parts();
            let got = format!(
                "{} {}?{}",
                parts.method,
                parts.uri.path(),
                parts.uri.query().unwrap_or_default()
            );
            let want = format!("{} {}?{}", ex.method, ex.path, ex.query);
            assert_eq!(got, want, "request {i}");
            let bytes = body.collect_bytes().await.unwrap();
            if let Some(expected) = &ex.body {
                let sent: Value = serde_json::from_slice(&bytes).unwrap();
                assert_eq!(&sent, expected, "body of request {i}: {want}");
            }
            let response = Response::builder()
                .status(ex.status)
                .body(Body::from(serde_json::to_vec(&ex.reply).unwrap()))
                .unwrap();
            send.send_response(response);
        }
        if let Ok(Some((request, _))) =
            tokio::time::timeout(Duration::from_secs(5), handle.next_request()).await
        {
            panic!("unscripted request: {} {}", request.method(), request.uri());
        }
    });
    (Client::new(service, "default"), task)
}

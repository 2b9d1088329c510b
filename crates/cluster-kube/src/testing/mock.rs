//! The fake behind kube's client, through tower-test's mock service.

use std::pin::pin;

use http::{Request, Response};
use kube::Client;
use kube::client::Body;
use serde_json::Value;

use super::{FakeApi, status};

impl FakeApi {
    /// A kube client talking to this server in-process. Needs a tokio
    /// runtime (the server runs as a task on it).
    pub fn client(&self) -> Client {
        let (service, handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
        let api = self.clone();
        tokio::spawn(async move {
            let mut handle = pin!(handle);
            while let Some((request, send)) = handle.next_request().await {
                let (parts, body) = request.into_parts();
                let (code, reply) = match body.collect_bytes().await {
                    Ok(bytes) if bytes.is_empty() => api.handle(
                        parts.method.as_str(),
                        parts.uri.path(),
                        parts.uri.query().unwrap_or_default(),
                        None,
                    ),
                    Ok(bytes) => match serde_json::from_slice::<Value>(&bytes) {
                        Ok(body) => api.handle(
                            parts.method.as_str(),
                            parts.uri.path(),
                            parts.uri.query().unwrap_or_default(),
                            Some(body),
                        ),
                        Err(e) => (400, status(400, "BadRequest", &e.to_string())),
                    },
                    Err(e) => (400, status(400, "BadRequest", &e.to_string())),
                };
                let bytes = serde_json::to_vec(&reply).unwrap_or_default();
                match Response::builder().status(code).body(Body::from(bytes)) {
                    Ok(response) => send.send_response(response),
                    Err(e) => send.send_error(e),
                }
            }
        });
        Client::new(service, "default")
    }
}

//! Reaching a cluster: a kubeconfig file and context, or kube's usual
//! defaults (`KUBECONFIG`, `~/.kube/config`, then the in-cluster service
//! account).

use std::path::Path;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use crate::error::Error;

/// A client for the cluster `kubeconfig` and `context` name; either may be
/// left to the defaults.
///
/// # Errors
///
/// The kubeconfig cannot be read or has no such context, no configuration
/// is found at all, or the client cannot be built (TLS, proxy settings).
pub async fn connect(kubeconfig: Option<&Path>, context: Option<&str>) -> Result<Client, Error> {
    install_crypto_provider();
    let options = KubeConfigOptions {
        context: context.map(str::to_owned),
        ..KubeConfigOptions::default()
    };
    let kubeconfig_error = |source| Error::Kubeconfig {
        path: kubeconfig.map(Path::to_path_buf),
        context: context.map(str::to_owned),
        source,
    };
    let config = match (kubeconfig, context) {
        (Some(path), _) => {
            let file = Kubeconfig::read_from(path).map_err(kubeconfig_error)?;
            Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(kubeconfig_error)?
        }
        (None, Some(_)) => Config::from_kubeconfig(&options)
            .await
            .map_err(kubeconfig_error)?,
        (None, None) => Config::infer()
            .await
            .map_err(|source| Error::NoConfig { source })?,
    };
    Client::try_from(config).map_err(|source| Error::Client { source })
}

/// Selects *ring* as the TLS crypto provider of the process. Several TLS
/// users share rustls here (the Kubernetes client asks for *ring*, the
/// object-store client for aws-lc-rs), and rustls then picks neither on its
/// own. Installing is first-come: a provider installed before is kept.
fn install_crypto_provider() {
    // An error only means a provider is installed already, which is fine.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

#[cfg(test)]
mod tests {
    use super::*;

    const KUBECONFIG: &str = "apiVersion: v1
kind: Config
clusters:
- name: c1
  cluster: {server: 'https://127.0.0.1:6443', insecure-skip-tls-verify: true}
users:
- name: u1
  user: {token: abc}
contexts:
- name: ctx1
  context: {cluster: c1, user: u1, namespace: ns1}
current-context: ctx1
";

    #[tokio::test]
    async fn a_kubeconfig_file_and_context_give_a_client() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, KUBECONFIG).unwrap();
        let client = connect(Some(&path), Some("ctx1")).await.unwrap();
        assert_eq!(client.default_namespace(), "ns1");
    }

    #[tokio::test]
    async fn an_unknown_context_or_file_is_an_error_naming_them() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("config");
        std::fs::write(&path, KUBECONFIG).unwrap();
        let err = connect(Some(&path), Some("nope")).await.err().unwrap();
        let text = err.to_string();
        assert!(text.contains("context nope"), "{text}");
        assert!(text.contains(&path.display().to_string()), "{text}");
        let missing = dir.path().join("missing");
        let err = connect(Some(&missing), None).await.err().unwrap();
        assert!(matches!(err, Error::Kubeconfig { .. }), "{err}");
    }
}

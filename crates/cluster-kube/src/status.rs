//! Reading the API server's answer out of a [`kube::Error`]: which failures
//! the shell handles (not found, already exists, conflict, forbidden,
//! expired continue token) and which it reports.

/// A failure the shell handles by itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// 404: the object, or the whole resource type, does not exist.
    NotFound,
    /// 409 `AlreadyExists`: a create found the name taken.
    AlreadyExists,
    /// 409 (any other reason): a precondition or optimistic-concurrency
    /// check failed.
    Conflict,
    /// 403: not allowed.
    Forbidden,
    /// 410: a continue token expired.
    Expired,
}

/// The handled failure `error` is, if any.
pub(crate) fn failure(error: &kube::Error) -> Option<Failure> {
    let kube::Error::Api(status) = error else {
        return None;
    };
    match status.code {
        404 => Some(Failure::NotFound),
        409 if status.reason == "AlreadyExists" => Some(Failure::AlreadyExists),
        409 => Some(Failure::Conflict),
        403 => Some(Failure::Forbidden),
        410 => Some(Failure::Expired),
        _ => None,
    }
}

/// The API server's message, or kube's description of the error.
pub(crate) fn message(error: &kube::Error) -> String {
    match error {
        kube::Error::Api(status) if !status.message.is_empty() => status.message.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kube::core::Status;

    fn api(code: u16, reason: &str) -> kube::Error {
        kube::Error::Api(Status::failure("m", reason).with_code(code).boxed())
    }

    #[test]
    fn conflicts_and_already_exists_are_told_apart_by_reason() {
        assert_eq!(
            failure(&api(409, "AlreadyExists")),
            Some(Failure::AlreadyExists)
        );
        assert_eq!(failure(&api(409, "Conflict")), Some(Failure::Conflict));
        assert_eq!(failure(&api(404, "NotFound")), Some(Failure::NotFound));
        assert_eq!(failure(&api(403, "Forbidden")), Some(Failure::Forbidden));
        assert_eq!(failure(&api(410, "Expired")), Some(Failure::Expired));
        assert_eq!(failure(&api(500, "InternalError")), None);
        assert_eq!(message(&api(500, "InternalError")), "m");
    }
}

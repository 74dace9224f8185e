//! Classifying SDK errors: transient (retry: throttling, 5xx, timeouts, no connection) or
//! permanent, and describing them without dumping request details.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
pub use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

/// Error codes AWS services use for conditions worth retrying.
const TRANSIENT_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ThrottledException",
    "RequestLimitExceeded",
    "ProvisionedThroughputExceededException",
    "TransactionConflictException",
    "TransactionInProgressException",
    "InternalServerError",
    "InternalFailure",
    "ServiceUnavailable",
    "SlowDown",
    "RequestTimeout",
    "RequestTimeoutException",
];

/// True when the call may succeed if retried later: throttling and capacity codes, timeouts,
/// no connection, and any 5xx answer (an emulator or a service failing without an error code).
pub fn is_transient<E: ProvideErrorMetadata>(e: &SdkError<E, HttpResponse>) -> bool {
    match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(s) => {
            s.err().code().is_some_and(|c| TRANSIENT_CODES.contains(&c))
                || s.raw().status().is_server_error()
        }
        _ => false,
    }
}

/// `code: message` of a service error, else the error's own description.
pub fn describe<E: ProvideErrorMetadata + std::error::Error>(
    e: &SdkError<E, HttpResponse>,
) -> String {
    match e {
        SdkError::ServiceError(s) => {
            let err = s.err();
            match err.code() {
                Some(code) => format!("{code}: {}", err.message().unwrap_or("no message")),
                // No error code (a bare 5xx from a proxy or an emulator): say what came back.
                None => format!(
                    "HTTP {} without an error code: {err}",
                    s.raw().status().as_u16()
                ),
            }
        }
        SdkError::DispatchFailure(d) => {
            // The cause chain ("tcp connect error: Connection refused"), not a debug dump.
            let mut parts = Vec::new();
            let mut cause = d
                .as_connector_error()
                .map(|c| c as &(dyn std::error::Error + 'static));
            while let Some(c) = cause {
                let text = c.to_string();
                if !parts.contains(&text) {
                    parts.push(text);
                }
                cause = c.source();
            }
            format!("could not reach the service: {}", parts.join(": "))
        }
        SdkError::TimeoutError(_) => "the request timed out".to_string(),
        other => other.to_string(),
    }
}

//! Classifying SDK errors: transient (retry: throttling, 5xx, timeouts, no connection) or
//! permanent, and describing them without dumping request details.

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};

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

/// True when the call may succeed if retried later.
pub fn is_transient<E: ProvideErrorMetadata, R>(e: &SdkError<E, R>) -> bool {
    match e {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(s) => s.err().code().is_some_and(|c| TRANSIENT_CODES.contains(&c)),
        _ => false,
    }
}

/// `code: message` of a service error, else the error's own description.
pub fn describe<E: ProvideErrorMetadata + std::error::Error, R: std::fmt::Debug>(
    e: &SdkError<E, R>,
) -> String {
    match e {
        SdkError::ServiceError(s) => {
            let err = s.err();
            format!(
                "{}: {}",
                err.code().unwrap_or("ServiceError"),
                err.message().unwrap_or("no message")
            )
        }
        SdkError::DispatchFailure(d) => format!("could not reach the service: {d:?}"),
        SdkError::TimeoutError(_) => "the request timed out".to_string(),
        other => other.to_string(),
    }
}

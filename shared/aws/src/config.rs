//! SDK configuration (one lean HTTP client for every AWS client) and settings from the
//! environment, naming any variable that is missing.

use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_http_client::tls::{rustls_provider::CryptoMode, Provider};

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// Loads the shared SDK configuration (region, credentials, `AWS_ENDPOINT_URL`) with a single
/// rustls/ring HTTPS client; every client must be built from it. `endpoint_url` overrides
/// the endpoint (emulators, e.g. moto on 127.0.0.1).
pub async fn sdk_config(endpoint_url: Option<&str>) -> SdkConfig {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(Provider::Rustls(CryptoMode::Ring))
        .build_https();
    let mut loader = aws_config::defaults(BehaviorVersion::latest()).http_client(http);
    if let Some(url) = endpoint_url {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// A required environment variable.
pub fn required(name: &'static str) -> Result<String, ConfigError> {
    match std::env::var(name) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        _ => Err(ConfigError::Missing(name)),
    }
}

/// An optional environment variable (unset or empty is `None`).
pub fn optional(name: &'static str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// An optional number with a default.
pub fn number(name: &'static str, default: u64) -> Result<u64, ConfigError> {
    match optional(name) {
        None => Ok(default),
        Some(v) => v.trim().parse().map_err(|e| ConfigError::Invalid {
            name,
            reason: format!("'{v}' is not a whole number ({e})"),
        }),
    }
}

/// JSON logs for CloudWatch, level from `RUST_LOG` (default info), no ANSI, no local time.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::builder()
        .with_default_directive(tracing_subscriber::filter::LevelFilter::INFO.into())
        .from_env_lossy();
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .without_time()
        .init();
}

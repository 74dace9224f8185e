//! Lambda: the scheduled inventory sweep (EventBridge schedule) -> IAM discovery ->
//! reconciliation with the identities table -> findings in DynamoDB -> alerts on SNS.
//! Returns (and logs) how many identities, keys and findings it saw.

use chrono::Utc;
use govtrail_aws::sweep::{options_from_env, run, SweepTarget};
use lambda_runtime::{run as run_lambda, service_fn, Diagnostic, Error, LambdaEvent};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    govtrail_aws::config::init_tracing();
    let target = Arc::new(SweepTarget::from_env()?);
    let opts = Arc::new(options_from_env()?);
    let sdk = Arc::new(govtrail_aws::config::sdk_config(None).await);
    run_lambda(service_fn(move |_event: LambdaEvent<serde_json::Value>| {
        let (target, opts, sdk) = (target.clone(), opts.clone(), sdk.clone());
        async move {
            let out = run(&sdk, &target, &opts, Utc::now()).await.map_err(|e| {
                tracing::error!(error = %e, transient = e.is_transient(), "sweep failed");
                Diagnostic {
                    error_type: if e.is_transient() {
                        "govtrail.SweepError.Transient"
                    } else {
                        "govtrail.SweepError"
                    }
                    .to_string(),
                    error_message: e.to_string(),
                }
            })?;
            serde_json::to_value(&out).map_err(|e| Diagnostic {
                error_type: "govtrail.OutputError".to_string(),
                error_message: e.to_string(),
            })
        }
    }))
    .await
}

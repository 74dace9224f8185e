//! Lambda: CloudTrail events from EventBridge -> evaluate -> DynamoDB -> SNS.

use govtrail_aws::service::{handle_eventbridge, Service};
use lambda_runtime::{run, service_fn, Diagnostic, Error, LambdaEvent};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    govtrail_aws::config::init_tracing();
    let service = Arc::new(Service::from_env().await?);
    run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let service = service.clone();
        async move {
            handle_eventbridge(service, event.payload)
                .await
                .map(|_| ())
                .map_err(|e| Diagnostic {
                    // Transient: Lambda's retries may succeed; otherwise the event is kept in
                    // the dead-letter queue for a person.
                    error_type: if e.is_transient() {
                        "govtrail.ProcessError.Transient"
                    } else {
                        "govtrail.ProcessError"
                    }
                    .to_string(),
                    error_message: e.to_string(),
                })
        }
    }))
    .await
}

//! Lambda: CloudTrail events from EventBridge -> evaluate -> DynamoDB -> SNS.

use govtrail_aws::service::{handle_eventbridge, Service};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
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
                .map_err(Error::from)
        }
    }))
    .await
}

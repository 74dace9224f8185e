//! Lambda: SQS batches of CloudTrail log-file notifications -> stream each object from S3 ->
//! evaluate every record -> DynamoDB -> SNS; failed files are reported back for retry.

use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use govtrail_aws::service::{handle_sqs, Service};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    govtrail_aws::config::init_tracing();
    let service = Arc::new(Service::from_env().await?);
    run(service_fn(move |event: LambdaEvent<SqsEvent>| {
        let service = service.clone();
        async move { Ok::<SqsBatchResponse, Error>(handle_sqs(service, event.payload).await) }
    }))
    .await
}

//! Lambda: govtrail alerts from SNS -> Slack Block Kit messages via an incoming webhook.

use govtrail_aws::secrets::SlackWebhook;
use govtrail_aws::slack::SlackClient;
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use slack_notifier::{handle, Config, Notifier};
use std::sync::Arc;

#[tokio::main]
async fn main() -> Result<(), Error> {
    govtrail_aws::config::init_tracing();
    let config = Config::from_env()?;
    let sdk = govtrail_aws::config::sdk_config(None).await;
    let secrets = aws_sdk_secretsmanager::Client::new(&sdk);
    let slack = SlackClient::new(SlackWebhook::new(secrets, config.secret_arn))?;
    let notifier = Arc::new(Notifier {
        slack,
        default_channel: config.default_channel,
    });
    run(service_fn(move |event: LambdaEvent<_>| {
        let notifier = notifier.clone();
        async move {
            handle(event, &notifier)
                .await
                .map(|_| ())
                .map_err(Error::from)
        }
    }))
    .await
}

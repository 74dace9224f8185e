//! IAM action names from CloudTrail's eventSource and eventName.

/// Event sources whose IAM service prefix differs from the host name's label.
const PREFIX_FIXES: &[(&str, &str)] = &[
    ("monitoring", "cloudwatch"),
    ("email", "ses"),
    ("tagging", "tag"),
    ("bedrock-agent", "bedrock"),
    ("bedrock-agent-runtime", "bedrock"),
    ("bedrock-runtime", "bedrock"),
    ("bedrock-agentcore-control", "bedrock-agentcore"),
    ("streams.dynamodb", "dynamodb"),
    ("appstream2", "appstream"),
    ("iotdata", "iot"),
    ("data-ats.iot", "iot"),
    ("elasticmapreduce", "elasticmapreduce"),
    ("sso-directory", "sso-directory"),
];

/// The IAM service prefix for an eventSource: `s3.amazonaws.com` -> `s3`,
/// `runtime.sagemaker.amazonaws.com` -> `sagemaker`, `monitoring.amazonaws.com` -> `cloudwatch`.
pub fn service_prefix(event_source: &str) -> String {
    let host = event_source
        .strip_suffix(".amazonaws.com.cn")
        .or_else(|| event_source.strip_suffix(".amazonaws.com"))
        .or_else(|| event_source.strip_suffix(".api.aws"))
        .unwrap_or(event_source);
    if let Some((_, fixed)) = PREFIX_FIXES.iter().find(|(k, _)| *k == host) {
        return (*fixed).to_string();
    }
    let last = host.rsplit('.').next().unwrap_or(host);
    if let Some((_, fixed)) = PREFIX_FIXES.iter().find(|(k, _)| *k == last) {
        return (*fixed).to_string();
    }
    last.to_ascii_lowercase()
}

/// Removes an API-version suffix from an eventName:
/// `UpdateFunctionConfiguration20150331v2` -> `UpdateFunctionConfiguration`,
/// `CreateDistribution2020_05_31` -> `CreateDistribution`.
pub fn strip_version_suffix(name: &str) -> &str {
    let b = name.as_bytes();
    let mut end = b.len();
    // Optional trailing `v<digits>`.
    let mut j = end;
    while j > 0 && b[j - 1].is_ascii_digit() {
        j -= 1;
    }
    if j < end && j > 0 && b[j - 1] == b'v' {
        end = j - 1;
    }
    let body = &b[..end];
    // YYYYMMDD
    if body.len() > 8 {
        let tail = &body[body.len() - 8..];
        if tail.iter().all(u8::is_ascii_digit) && looks_like_date(tail) {
            let stem = &name[..body.len() - 8];
            if stem.chars().last().is_some_and(|c| c.is_ascii_alphabetic()) {
                return stem;
            }
        }
    }
    // YYYY_MM_DD
    if body.len() > 10 {
        let tail = &body[body.len() - 10..];
        let shape = tail.iter().enumerate().all(|(i, c)| {
            if i == 4 || i == 7 {
                *c == b'_'
            } else {
                c.is_ascii_digit()
            }
        });
        if shape {
            let stem = &name[..body.len() - 10];
            if stem.chars().last().is_some_and(|c| c.is_ascii_alphabetic()) {
                return stem;
            }
        }
    }
    name
}

fn looks_like_date(d: &[u8]) -> bool {
    let year = &d[0..4];
    (year.starts_with(b"19") || year.starts_with(b"20"))
        && matches!(&d[4..6], [b'0', b'1'..=b'9'] | [b'1', b'0'..=b'2'])
}

/// The parts of an ARN: (service, region, account, resource); `None` if it is not one.
pub fn arn_parts(arn: &str) -> Option<(&str, &str, &str, &str)> {
    let mut parts = arn.splitn(6, ':');
    if parts.next()? != "arn" {
        return None;
    }
    let _partition = parts.next()?;
    Some((parts.next()?, parts.next()?, parts.next()?, parts.next()?))
}

/// `prefix:EventName` for a record.
pub fn action(event_source: &str, event_name: &str) -> String {
    let mut s = service_prefix(event_source);
    s.push(':');
    s.push_str(strip_version_suffix(event_name));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(service_prefix("s3.amazonaws.com"), "s3");
        assert_eq!(
            service_prefix("runtime.sagemaker.amazonaws.com"),
            "sagemaker"
        );
        assert_eq!(service_prefix("monitoring.amazonaws.com"), "cloudwatch");
        assert_eq!(service_prefix("email.amazonaws.com"), "ses");
        assert_eq!(service_prefix("api.ecr.amazonaws.com"), "ecr");
        assert_eq!(service_prefix("tagging.amazonaws.com"), "tag");
        assert_eq!(service_prefix("streams.dynamodb.amazonaws.com"), "dynamodb");
        assert_eq!(service_prefix("s3.amazonaws.com.cn"), "s3");
    }

    #[test]
    fn version_suffixes() {
        assert_eq!(
            action(
                "lambda.amazonaws.com",
                "UpdateFunctionConfiguration20150331v2"
            ),
            "lambda:UpdateFunctionConfiguration"
        );
        assert_eq!(
            action("lambda.amazonaws.com", "ListFunctions20150331"),
            "lambda:ListFunctions"
        );
        assert_eq!(
            action("cloudfront.amazonaws.com", "CreateDistribution2020_05_31"),
            "cloudfront:CreateDistribution"
        );
        assert_eq!(
            action("ec2.amazonaws.com", "RunInstances"),
            "ec2:RunInstances"
        );
        assert_eq!(action("s3.amazonaws.com", "PutObjectV2"), "s3:PutObjectV2");
        assert_eq!(action("iam.amazonaws.com", "CreateUser"), "iam:CreateUser");
        assert_eq!(strip_version_suffix("Get20150331"), "Get");
        assert_eq!(strip_version_suffix("20150331"), "20150331");
        assert_eq!(strip_version_suffix("Ec2v2"), "Ec2v2");
    }
}

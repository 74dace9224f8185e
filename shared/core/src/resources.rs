//! Resource ARNs of an activity: `resources[]` plus the obvious request parameters of IAM,
//! STS, S3, Lambda, KMS, Secrets Manager and SSM.

use crate::activity::Activity;
use crate::record::RawRecord;
use serde_json::Value;

/// Upper bound on resources kept per activity (GetParameters can name dozens).
pub const MAX_RESOURCES: usize = 32;

const PARSED_SERVICES: [&str; 7] = ["iam", "sts", "s3", "lambda", "kms", "secretsmanager", "ssm"];

fn push(out: &mut Vec<String>, arn: String) {
    if out.len() < MAX_RESOURCES && !arn.is_empty() && !out.contains(&arn) {
        out.push(arn);
    }
}

fn s<'a>(v: &'a Value, key: &str) -> Option<&'a str> {
    v.get(key)?.as_str().filter(|x| !x.is_empty())
}

fn strs<'a>(v: &'a Value, key: &str) -> Vec<&'a str> {
    match v.get(key) {
        Some(Value::String(x)) if !x.is_empty() => vec![x.as_str()],
        Some(Value::Array(a)) => a.iter().filter_map(|e| e.as_str()).collect(),
        _ => Vec::new(),
    }
}

pub fn extract(rec: &RawRecord, act: &mut Activity) {
    let mut out: Vec<String> = Vec::new();
    for r in &rec.resources {
        if let Some(a) = &r.arn {
            push(&mut out, a.clone());
        }
    }
    let prefix = act.action.split(':').next().unwrap_or("");
    if PARSED_SERVICES.contains(&prefix) {
        let params = rec
            .request_parameters
            .as_ref()
            .and_then(|r| serde_json::from_str::<Value>(r.get()).ok())
            .unwrap_or(Value::Null);
        let response = if prefix == "iam" && act.is_success() {
            rec.response_elements
                .as_ref()
                .and_then(|r| serde_json::from_str::<Value>(r.get()).ok())
                .unwrap_or(Value::Null)
        } else {
            Value::Null
        };
        let ctx = Ctx {
            partition: if act.principal.starts_with("arn:aws-cn:") {
                "aws-cn"
            } else if act.principal.starts_with("arn:aws-us-gov:") {
                "aws-us-gov"
            } else {
                "aws"
            },
            account: act
                .account_id
                .clone()
                .unwrap_or_else(|| "unknown".to_string()),
            region: act.region.clone().unwrap_or_else(|| "unknown".to_string()),
        };
        match prefix {
            "iam" => iam(&ctx, &params, &response, act, &mut out),
            "sts" => {
                for k in ["roleArn", "principalArn"] {
                    if let Some(a) = s(&params, k) {
                        push(&mut out, a.to_string());
                    }
                }
            }
            "s3" => {
                if let Some(b) = s(&params, "bucketName") {
                    match s(&params, "key") {
                        Some(k) => push(&mut out, format!("arn:{}:s3:::{b}/{k}", ctx.partition)),
                        None => push(&mut out, format!("arn:{}:s3:::{b}", ctx.partition)),
                    }
                }
            }
            "lambda" => {
                if let Some(f) = s(&params, "functionName") {
                    push(&mut out, ctx.arn_or("lambda", "function:", f));
                }
                if let Some(r) = s(&params, "role") {
                    push(&mut out, r.to_string());
                }
            }
            "kms" => {
                if let Some(k) = s(&params, "keyId") {
                    let arn = if k.starts_with("arn:") {
                        k.to_string()
                    } else if k.starts_with("alias/") {
                        ctx.regional("kms", k)
                    } else {
                        ctx.regional("kms", &format!("key/{k}"))
                    };
                    push(&mut out, arn);
                }
            }
            "secretsmanager" => {
                for k in ["secretId", "name"] {
                    if let Some(id) = s(&params, k) {
                        push(&mut out, ctx.arn_or("secretsmanager", "secret:", id));
                    }
                }
            }
            "ssm" => {
                let mut names = strs(&params, "name");
                names.extend(strs(&params, "names"));
                let is_parameter_call = act
                    .event_name
                    .as_deref()
                    .is_some_and(|n| n.contains("Parameter"));
                if is_parameter_call {
                    for n in names {
                        let arn = if n.starts_with("arn:") {
                            n.to_string()
                        } else if n.starts_with('/') {
                            ctx.regional("ssm", &format!("parameter{n}"))
                        } else {
                            ctx.regional("ssm", &format!("parameter/{n}"))
                        };
                        push(&mut out, arn);
                    }
                }
            }
            _ => {}
        }
    }
    act.resources = out;
}

struct Ctx {
    partition: &'static str,
    account: String,
    region: String,
}

impl Ctx {
    fn regional(&self, svc: &str, res: &str) -> String {
        format!(
            "arn:{}:{svc}:{}:{}:{res}",
            self.partition, self.region, self.account
        )
    }
    fn arn_or(&self, svc: &str, kind: &str, id: &str) -> String {
        if id.starts_with("arn:") {
            id.to_string()
        } else {
            self.regional(svc, &format!("{kind}{id}"))
        }
    }
    fn iam(&self, res: &str) -> String {
        format!("arn:{}:iam::{}:{res}", self.partition, self.account)
    }
}

fn iam_path(params: &Value) -> String {
    match s(params, "path") {
        Some(p) if p.starts_with('/') && p.ends_with('/') => p[1..].to_string(),
        _ => String::new(),
    }
}

fn iam(ctx: &Ctx, params: &Value, response: &Value, act: &mut Activity, out: &mut Vec<String>) {
    let path = iam_path(params);
    let user_arn = response
        .get("user")
        .and_then(|u| s(u, "arn"))
        .map(str::to_owned)
        .or_else(|| s(params, "userName").map(|n| ctx.iam(&format!("user/{path}{n}"))));
    let role_arn = response
        .get("role")
        .and_then(|r| s(r, "arn"))
        .map(str::to_owned)
        .or_else(|| s(params, "roleName").map(|n| ctx.iam(&format!("role/{path}{n}"))));
    if let Some(u) = &user_arn {
        push(out, u.clone());
    }
    if let Some(r) = &role_arn {
        push(out, r.clone());
    }
    if let Some(g) = s(params, "groupName") {
        push(out, ctx.iam(&format!("group/{path}{g}")));
    }
    if let Some(p) = s(params, "policyArn") {
        push(out, p.to_string());
    }
    if let Some(p) = response.get("policy").and_then(|p| s(p, "arn")) {
        push(out, p.to_string());
    }
    if let Some(ip) = s(params, "instanceProfileName") {
        push(out, ctx.iam(&format!("instance-profile/{path}{ip}")));
    }
    if !act.is_success() {
        return;
    }
    act.created_principal = match act.event_name.as_deref() {
        Some("CreateUser") => user_arn,
        Some("CreateRole") => role_arn,
        // Keys and console passwords belong to the named user, or to the caller itself.
        Some("CreateAccessKey" | "CreateLoginProfile") => {
            user_arn.or_else(|| Some(act.principal.clone()))
        }
        _ => None,
    };
}

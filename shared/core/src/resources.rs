//! Resource ARNs of an activity: `resources[]` plus the obvious request parameters of IAM,
//! STS, S3, Lambda, KMS, Secrets Manager and SSM.

use crate::activity::Activity;
use crate::lenient;
use crate::lifecycle::LifecycleEvent;
use crate::record::RawRecord;
use serde::Deserialize;
use std::borrow::Cow;

/// Upper bound on resources kept per activity (GetParameters can name dozens).
pub const MAX_RESOURCES: usize = 32;

const PARSED_SERVICES: [&str; 7] = ["iam", "sts", "s3", "lambda", "kms", "secretsmanager", "ssm"];

fn push(out: &mut Vec<String>, arn: String) {
    if out.len() < MAX_RESOURCES && !arn.is_empty() && !out.contains(&arn) {
        out.push(arn);
    }
}

/// The request parameters this module reads, parsed without building a JSON tree.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "'de: 'a"))]
struct Params<'a> {
    #[serde(default, deserialize_with = "lenient::string")]
    bucket_name: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    key: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    user_name: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    role_name: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    group_name: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    policy_arn: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    instance_profile_name: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    path: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    role_arn: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    principal_arn: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    function_name: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    role: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    key_id: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    secret_id: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::strings")]
    name: Vec<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::strings")]
    names: Vec<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    access_key_id: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    status: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::objects")]
    tags: Vec<Tag<'a>>,
    #[serde(default, deserialize_with = "lenient::strings")]
    tag_keys: Vec<Cow<'a, str>>,
}

/// An IAM tag of `TagUser`/`TagRole` (`{"key": ..., "value": ...}`).
#[derive(Debug, Default, Deserialize)]
#[serde(bound(deserialize = "'de: 'a"))]
struct Tag<'a> {
    #[serde(default, alias = "Key", deserialize_with = "lenient::string")]
    key: Option<Cow<'a, str>>,
    #[serde(default, alias = "Value", deserialize_with = "lenient::string")]
    value: Option<Cow<'a, str>>,
}

/// The `accessKey` a `CreateAccessKey` response names (its secret is never logged).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase", bound(deserialize = "'de: 'a"))]
struct KeyResponse<'a> {
    #[serde(default, deserialize_with = "lenient::string")]
    access_key_id: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    status: Option<Cow<'a, str>>,
    #[serde(default, deserialize_with = "lenient::string")]
    user_name: Option<Cow<'a, str>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(bound(deserialize = "'de: 'a"))]
struct WithArn<'a> {
    #[serde(default, deserialize_with = "lenient::string")]
    arn: Option<Cow<'a, str>>,
}

/// The IAM response elements that name what a call created.
#[derive(Debug, Default, Deserialize)]
#[serde(bound(deserialize = "'de: 'a"))]
struct Response<'a> {
    #[serde(default, deserialize_with = "lenient::object")]
    user: Option<WithArn<'a>>,
    #[serde(default, deserialize_with = "lenient::object")]
    role: Option<WithArn<'a>>,
    #[serde(default, deserialize_with = "lenient::object")]
    policy: Option<WithArn<'a>>,
    #[serde(default, rename = "accessKey", deserialize_with = "lenient::object")]
    access_key: Option<KeyResponse<'a>>,
}

fn arn_of<'x>(w: &'x Option<WithArn<'_>>) -> Option<&'x str> {
    w.as_ref().and_then(|w| w.arn.as_deref())
}

pub fn extract(rec: &RawRecord<'_>, act: &mut Activity) {
    let mut out: Vec<String> = Vec::new();
    for r in &rec.resources {
        if let Some(a) = &r.arn {
            push(&mut out, a.to_string());
        }
    }
    let prefix = act.action.split(':').next().unwrap_or("");
    if PARSED_SERVICES.contains(&prefix) {
        let params: Params<'_> = rec
            .request_parameters
            .and_then(|r| serde_json::from_str(r.get()).ok())
            .unwrap_or_default();
        let response: Response<'_> = if prefix == "iam" && act.is_success() {
            rec.response_elements
                .and_then(|r| serde_json::from_str(r.get()).ok())
                .unwrap_or_default()
        } else {
            Response::default()
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
                for a in [&params.role_arn, &params.principal_arn]
                    .into_iter()
                    .flatten()
                {
                    push(&mut out, a.to_string());
                }
            }
            "s3" => {
                if let Some(b) = params.bucket_name.as_deref() {
                    match params.key.as_deref() {
                        Some(k) => push(&mut out, format!("arn:{}:s3:::{b}/{k}", ctx.partition)),
                        None => push(&mut out, format!("arn:{}:s3:::{b}", ctx.partition)),
                    }
                }
            }
            "lambda" => {
                if let Some(f) = params.function_name.as_deref() {
                    push(&mut out, ctx.arn_or("lambda", "function:", f));
                }
                if let Some(r) = params.role.as_deref() {
                    push(&mut out, r.to_string());
                }
            }
            "kms" => {
                if let Some(k) = params.key_id.as_deref() {
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
                let ids = params.secret_id.iter().chain(params.name.first());
                for id in ids {
                    push(&mut out, ctx.arn_or("secretsmanager", "secret:", id));
                }
            }
            "ssm" => {
                let names = params.name.iter().chain(params.names.iter());
                let is_parameter_call = act
                    .event_name
                    .as_deref()
                    .is_some_and(|n| n.contains("Parameter"));
                if is_parameter_call {
                    for n in names {
                        let n: &str = n;
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

fn iam_path(params: &Params<'_>) -> String {
    match params.path.as_deref() {
        Some(p) if p.starts_with('/') && p.ends_with('/') => p[1..].to_string(),
        _ => String::new(),
    }
}

fn iam(
    ctx: &Ctx,
    params: &Params<'_>,
    response: &Response<'_>,
    act: &mut Activity,
    out: &mut Vec<String>,
) {
    let path = iam_path(params);
    let user_arn = arn_of(&response.user).map(str::to_owned).or_else(|| {
        params
            .user_name
            .as_deref()
            .map(|n| ctx.iam(&format!("user/{path}{n}")))
    });
    let role_arn = arn_of(&response.role).map(str::to_owned).or_else(|| {
        params
            .role_name
            .as_deref()
            .map(|n| ctx.iam(&format!("role/{path}{n}")))
    });
    if let Some(u) = &user_arn {
        push(out, u.clone());
    }
    if let Some(r) = &role_arn {
        push(out, r.clone());
    }
    if let Some(g) = params.group_name.as_deref() {
        push(out, ctx.iam(&format!("group/{path}{g}")));
    }
    if let Some(p) = params.policy_arn.as_deref() {
        push(out, p.to_string());
    }
    if let Some(p) = arn_of(&response.policy) {
        push(out, p.to_string());
    }
    if let Some(ip) = params.instance_profile_name.as_deref() {
        push(out, ctx.iam(&format!("instance-profile/{path}{ip}")));
    }
    if !act.is_success() {
        return;
    }
    act.lifecycle = lifecycle(
        ctx,
        params,
        response,
        act,
        user_arn.as_deref(),
        role_arn.as_deref(),
    );
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

/// "Active" / "Inactive" (any case), the status of an access key.
fn key_status(s: Option<&str>) -> Option<bool> {
    match s? {
        s if s.eq_ignore_ascii_case("Active") => Some(true),
        s if s.eq_ignore_ascii_case("Inactive") => Some(false),
        _ => None,
    }
}

/// The lifecycle event of a successful IAM call; `None` when the call is not one or the
/// record lacks what it needs.
fn lifecycle(
    ctx: &Ctx,
    params: &Params<'_>,
    response: &Response<'_>,
    act: &Activity,
    user_arn: Option<&str>,
    role_arn: Option<&str>,
) -> Option<LifecycleEvent> {
    let owned = |s: Option<&str>| s.map(str::to_owned);
    // A key belongs to the named user; without one, to the caller when it is an IAM user or
    // the root user (acting on its own keys), else to the user the response names.
    let key_owner = || -> String {
        if let Some(u) = user_arn {
            return u.to_string();
        }
        let caller_owns = matches!(act.identity_type.as_str(), "IAMUser" | "Root");
        response
            .access_key
            .as_ref()
            .and_then(|k| k.user_name.as_deref())
            .filter(|_| !caller_owns)
            .map(|n| ctx.iam(&format!("user/{n}")))
            .unwrap_or_else(|| act.principal.clone())
    };
    let request_key = || owned(params.access_key_id.as_deref());
    let name = act.event_name.as_deref()?;
    // The user or role a `...User` / `...Role` call names.
    let target = || {
        owned(if name.ends_with("User") {
            user_arn
        } else {
            role_arn
        })
    };
    Some(match name {
        "CreateUser" | "CreateRole" => LifecycleEvent::IdentityCreated {
            principal: target()?,
        },
        "DeleteUser" | "DeleteRole" => LifecycleEvent::IdentityDeleted {
            principal: target()?,
        },
        "CreateAccessKey" => {
            let key = response.access_key.as_ref()?;
            LifecycleEvent::KeyCreated {
                key_id: owned(key.access_key_id.as_deref())?,
                // Keys are created active; a response without a status says nothing else.
                active: key_status(key.status.as_deref()).unwrap_or(true),
                principal: key_owner(),
            }
        }
        "UpdateAccessKey" => LifecycleEvent::KeyStatus {
            key_id: request_key()?,
            active: key_status(params.status.as_deref())?,
            principal: key_owner(),
        },
        "DeleteAccessKey" => LifecycleEvent::KeyDeleted {
            key_id: request_key()?,
            principal: key_owner(),
        },
        "TagUser" | "TagRole" => {
            let tags: std::collections::BTreeMap<String, String> = params
                .tags
                .iter()
                .filter_map(|t| {
                    let k = t.key.as_deref()?;
                    Some((k.to_string(), t.value.as_deref().unwrap_or("").to_string()))
                })
                .collect();
            if tags.is_empty() {
                return None;
            }
            LifecycleEvent::Tagged {
                principal: target()?,
                tags,
            }
        }
        "UntagUser" | "UntagRole" => {
            if params.tag_keys.is_empty() {
                return None;
            }
            LifecycleEvent::Untagged {
                principal: target()?,
                keys: params.tag_keys.iter().map(|k| k.to_string()).collect(),
            }
        }
        _ => return None,
    })
}

#!/usr/bin/env python3
"""Lint checks of template.yaml against docs/aws-design.md.

  .venv/bin/python scripts/check_template.py [TEMPLATE] [DESIGN_DOC]

Checks:
  1. tables: every DynamoDB table, key schema, attribute definition, GSI (name, keys,
     projection), TTL attribute and deletion policy equals EXPECTED_TABLES below (which must
     agree with the tables section of docs/aws-design.md), with on-demand billing, PITR and
     SSE;
  2. environment: every GOVTRAIL_* variable docs/aws-design.md names for a function is set on
     it, and no function sets a variable the doc does not name for it (RUST_LOG excepted);
  3. IAM: no Allow statement uses Resource '*' unless all its actions are in
     RESOURCE_STAR_ALLOWED; no NotAction/NotResource allows, no service-wide action wildcards
     and no managed policies or SAM policy templates on the functions; each function's
     DynamoDB actions, per table and per table/index, equal EXPECTED_DYNAMODB_ACCESS;
  4. functions: Runtime provided.al2023, Architectures [arm64], Handler bootstrap, CodeUri .,
     BuildMethod rust-cargolambda with the expected binary; each has an Errors alarm
     notifying the alarm topic.
plus a few wiring checks (queue visibility vs. timeout, redrive, async retries, the sweep's
schedule, timeout and reserved concurrency).

Loads the template with cfn-lint's loader (short-form tags !Sub, !Ref, !If, !GetAtt ...) when
cfn-lint is installed, else with PyYAML and constructors for those tags. Prints each failure,
and '<N> passed, <M> failed' as its last line; exits 1 when anything failed.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# ---------------------------------------------------------------------------- expectations

# docs/aws-design.md, "Tables". Keys are the suffix after `PREFIX-`.
EXPECTED_TABLES = {
    "identities": {
        "key": [("principal", "HASH")],
        "attributes": {"principal": "S", "is_pattern": "S", "iam_name": "S"},
        "gsis": {
            "patterns": {"key": [("is_pattern", "HASH")], "projection": "ALL"},
            "by_iam_name": {"key": [("iam_name", "HASH")], "projection": "ALL"},
        },
        "ttl": None,
        "deletion": "Retain",
    },
    "findings": {
        "key": [("id", "HASH")],
        "attributes": {
            "id": "S",
            "owner": "S",
            "last_seen": "S",
            "status_severity": "S",
            "principal": "S",
        },
        "gsis": {
            "by_owner": {"key": [("owner", "HASH"), ("last_seen", "RANGE")], "projection": "ALL"},
            "by_status": {
                "key": [("status_severity", "HASH"), ("last_seen", "RANGE")],
                "projection": "ALL",
            },
            "by_principal": {
                "key": [("principal", "HASH"), ("last_seen", "RANGE")],
                "projection": "ALL",
            },
        },
        "ttl": None,
        "deletion": "Retain",
    },
    "seen": {
        "key": [("k", "HASH")],
        "attributes": {"k": "S"},
        "gsis": {},
        "ttl": "expires_at",
        # Markers expire after 14 days: nothing worth keeping.
        "deletion": "Delete",
    },
    "lifecycle": {
        "key": [("k", "HASH")],
        "attributes": {"k": "S"},
        "gsis": {},
        "ttl": "expires_at",
        # Each sweep's IAM listing is authoritative: losing the log costs only freshness.
        "deletion": "Delete",
    },
}

# Function logical id -> cargo-lambda binary (the names docs/aws-design.md's "used by" uses).
EXPECTED_FUNCTIONS = {
    "CloudTrailEventsFunction": "cloudtrail-events",
    "CloudTrailLogsFunction": "cloudtrail-logs",
    "SlackNotifierFunction": "slack-notifier",
    "InventorySweepFunction": "inventory-sweep",
}

# Function -> table suffix -> the DynamoDB actions its policies allow on the table ("" key)
# and on its indexes ("/index/*" key). Least privilege made explicit: a new action on a
# table is a deliberate change here.
_EVENT_PATH_ACCESS = {
    "identities": {
        "": {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"},
        "/index/*": {"dynamodb:GetItem", "dynamodb:BatchGetItem", "dynamodb:Query"},
    },
    "findings": {
        "": {
            "dynamodb:GetItem",
            "dynamodb:BatchGetItem",
            "dynamodb:PutItem",
            "dynamodb:UpdateItem",
            "dynamodb:Query",
            "dynamodb:ConditionCheckItem",
        },
        "/index/*": {"dynamodb:Query"},
    },
    "seen": {"": {"dynamodb:PutItem", "dynamodb:ConditionCheckItem"}},
    # Append only (attribute_not_exists(k)): never read, updated or deleted here.
    "lifecycle": {"": {"dynamodb:PutItem"}},
}
EXPECTED_DYNAMODB_ACCESS = {
    "CloudTrailEventsFunction": _EVENT_PATH_ACCESS,
    "CloudTrailLogsFunction": _EVENT_PATH_ACCESS,
    "SlackNotifierFunction": {},
    "InventorySweepFunction": {
        # Reconciles every record: one scan, no index.
        "identities": {"": {"dynamodb:Scan"}},
        "findings": _EVENT_PATH_ACCESS["findings"],
        "seen": _EVENT_PATH_ACCESS["seen"],
        # Reads the recent window of lifecycle changes; the event path writes them.
        "lifecycle": {"": {"dynamodb:Scan"}},
    },
}

# Variables any function may set although the design doc does not list them.
EXTRA_ENV_ALLOWED = {"RUST_LOG"}

# Allow statements whose Resource is '*' are accepted only when every action is listed here,
# with the reason the service needs '*'.
RESOURCE_STAR_ALLOWED = {
    # X-Ray has no resource-level permissions (SAM attaches these for Tracing: Active).
    "xray:PutTraceSegments": "X-Ray supports no resource-level permissions",
    "xray:PutTelemetryRecords": "X-Ray supports no resource-level permissions",
    "xray:GetSamplingRules": "X-Ray supports no resource-level permissions",
    "xray:GetSamplingTargets": "X-Ray supports no resource-level permissions",
    "xray:GetSamplingStatisticSummaries": "X-Ray supports no resource-level permissions",
    # InventorySweepFunction, Sid DiscoverIdentities. The Service Authorization Reference
    # lists no resource type for these three IAM actions; all are read-only
    # (GenerateCredentialReport only asks IAM to refresh the account's report).
    "iam:GetAccountAuthorizationDetails": "IAM lists no resource type for it (read-only, whole account)",
    "iam:GenerateCredentialReport": "IAM lists no resource type for it (account-wide report)",
    "iam:GetCredentialReport": "IAM lists no resource type for it (read-only, account-wide report)",
}
# In a KMS key policy the only valid Resource is '*' (it means the key itself).
RESOURCE_STAR_POLICY_KINDS = {"AWS::KMS::Key"}

# ---------------------------------------------------------------------------- loading


def load_template(path: Path):
    try:
        from cfnlint.decode import cfn_yaml  # type: ignore

        return cfn_yaml.load(str(path))
    except ImportError:
        pass
    import yaml  # type: ignore

    class Loader(yaml.SafeLoader):
        pass

    def construct(tag):
        name = "Ref" if tag == "Ref" else f"Fn::{tag}"

        def build(loader, node):
            if isinstance(node, yaml.ScalarNode):
                value = loader.construct_scalar(node)
                if tag == "GetAtt":
                    value = value.split(".", 1)
            elif isinstance(node, yaml.SequenceNode):
                value = loader.construct_sequence(node, deep=True)
            else:
                value = loader.construct_mapping(node, deep=True)
            return {name: value}

        return build

    for tag in (
        "Ref Sub GetAtt If Not Equals And Or Join Select Split FindInMap "
        "ImportValue Base64 Cidr GetAZs Condition Transform ToJsonString Length"
    ).split():
        Loader.add_constructor(f"!{tag}", construct(tag))
    with open(path, encoding="utf-8") as f:
        return yaml.load(f, Loader=Loader)  # noqa: S506 - SafeLoader subclass


# ---------------------------------------------------------------------------- reporting


class Report:
    def __init__(self) -> None:
        self.passed = 0
        self.failed = 0

    def check(self, ok: bool, what: str) -> bool:
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAIL: {what}")
        return ok


# ---------------------------------------------------------------------------- helpers


def resources(template, *types):
    return {
        name: res
        for name, res in (template.get("Resources") or {}).items()
        if isinstance(res, dict) and res.get("Type") in types
    }


def as_list(value):
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def branches(value):
    """Yields the concrete values of a possibly Fn::If-wrapped value (AWS::NoValue dropped)."""
    if isinstance(value, dict) and list(value) == ["Fn::If"]:
        args = value["Fn::If"]
        if isinstance(args, list) and len(args) == 3:
            for branch in args[1:]:
                yield from branches(branch)
            return
    if isinstance(value, dict) and value == {"Ref": "AWS::NoValue"}:
        return
    yield value


def table_suffix(table_name):
    """'${TablePrefix}-identities' (Fn::Sub) -> 'identities'."""
    if isinstance(table_name, dict) and "Fn::Sub" in table_name:
        text = table_name["Fn::Sub"]
        text = text[0] if isinstance(text, list) else text
        m = re.fullmatch(r"\$\{TablePrefix\}-([a-z_]+)", str(text))
        if m:
            return m.group(1)
    return None


def doc_tables(doc: str):
    """The rows of the tables section: suffix -> (key cell, other cell, indexes cell)."""
    rows = {}
    for line in doc.splitlines():
        m = re.match(r"\|\s*`PREFIX-([a-z_]+)`\s*\|(.*)(?<!\\)\|\s*$", line)
        if m:
            # `\|` is a literal '|' inside a cell (Markdown tables), not a cell boundary.
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", m.group(2))]
            if len(cells) >= 3:
                rows[m.group(1)] = (cells[0], cells[1], cells[-1])
    return rows


def doc_env(doc: str):
    """The environment table: variable -> (set of users, tests_only)."""
    env = {}
    section = doc.split("## Environment variables", 1)
    if len(section) < 2:
        return env
    for line in section[1].splitlines():
        if line.startswith("## "):
            break
        m = re.match(r"\|([^|]*`[A-Z_]+`[^|]*)\|([^|]*)\|", line)
        if not m:
            continue
        names = re.findall(r"`([A-Z][A-Z0-9_]+)`", m.group(1))
        used = m.group(2)
        users = set(re.findall(r"[a-z][a-z0-9-]+", used.split("(")[0]))
        tests_only = "tests only" in used
        for name in names:
            env[name] = (users, tests_only)
    return env


# ---------------------------------------------------------------------------- 1. tables


def check_tables(template, doc, r: Report):
    tables = resources(template, "AWS::DynamoDB::Table")
    by_suffix = {}
    for name, res in tables.items():
        suffix = table_suffix((res.get("Properties") or {}).get("TableName"))
        r.check(suffix is not None, f"table {name}: TableName is not !Sub '${{TablePrefix}}-NAME'")
        if suffix is not None:
            r.check(suffix not in by_suffix, f"two tables named PREFIX-{suffix}")
            by_suffix[suffix] = (name, res.get("Properties") or {})
    r.check(
        set(by_suffix) == set(EXPECTED_TABLES),
        f"tables {sorted(by_suffix)} != expected {sorted(EXPECTED_TABLES)}",
    )

    # The expectations above must be the doc's: a changed doc fails here until both agree.
    rows = doc_tables(doc)
    r.check(set(rows) == set(EXPECTED_TABLES), f"doc tables {sorted(rows)} != script's")
    for suffix, want in EXPECTED_TABLES.items():
        key_cell, other_cell, index_cell = rows.get(suffix, ("", "", ""))
        for attr, _ in want["key"]:
            typ = want["attributes"][attr]
            r.check(
                re.search(rf"`{attr}` \({typ}[,)]", key_cell) is not None,
                f"doc PREFIX-{suffix}: key `{attr}` ({typ})",
            )
        doc_gsis = {}
        for part in index_cell.split("GSI ")[1:]:
            names = re.findall(r"`([^`]+)`", part)
            if len(names) >= 2:
                hash_key = names[1]
                rng = re.search(r"range `([^`]+)`", part)
                key = [(hash_key, "HASH")] + ([(rng.group(1), "RANGE")] if rng else [])
                doc_gsis[names[0]] = key
        r.check(
            doc_gsis == {g: v["key"] for g, v in want["gsis"].items()},
            f"doc PREFIX-{suffix}: indexes {doc_gsis} != script's",
        )
        if want["ttl"]:
            r.check(
                re.search(rf"`{want['ttl']}`[^|]*TTL attribute", other_cell) is not None,
                f"doc PREFIX-{suffix}: TTL attribute `{want['ttl']}`",
            )
        else:
            r.check("TTL" not in other_cell, f"doc PREFIX-{suffix} names a TTL")

    for suffix, want in EXPECTED_TABLES.items():
        if suffix not in by_suffix:
            continue
        name, props = by_suffix[suffix]
        where = f"table {name} (PREFIX-{suffix})"
        res = tables[name]
        for policy in ("DeletionPolicy", "UpdateReplacePolicy"):
            r.check(
                res.get(policy) == want["deletion"],
                f"{where}: {policy} {res.get(policy)!r} != {want['deletion']!r}",
            )
        key = [(k.get("AttributeName"), k.get("KeyType")) for k in as_list(props.get("KeySchema"))]
        r.check(key == want["key"], f"{where}: KeySchema {key} != {want['key']}")
        attrs = {
            a.get("AttributeName"): a.get("AttributeType")
            for a in as_list(props.get("AttributeDefinitions"))
        }
        r.check(attrs == want["attributes"], f"{where}: AttributeDefinitions {attrs} != {want['attributes']}")
        gsis = {}
        for g in as_list(props.get("GlobalSecondaryIndexes")):
            gsis[g.get("IndexName")] = {
                "key": [(k.get("AttributeName"), k.get("KeyType")) for k in as_list(g.get("KeySchema"))],
                "projection": (g.get("Projection") or {}).get("ProjectionType"),
            }
        r.check(gsis == want["gsis"], f"{where}: GSIs {gsis} != {want['gsis']}")
        r.check(not props.get("LocalSecondaryIndexes"), f"{where}: unexpected LSIs")
        ttl = props.get("TimeToLiveSpecification")
        if want["ttl"]:
            r.check(
                isinstance(ttl, dict)
                and ttl.get("AttributeName") == want["ttl"]
                and ttl.get("Enabled") is True,
                f"{where}: TTL {ttl} != {{AttributeName: {want['ttl']}, Enabled: true}}",
            )
        else:
            r.check(not ttl, f"{where}: unexpected TTL {ttl}")
        r.check(props.get("BillingMode") == "PAY_PER_REQUEST", f"{where}: BillingMode is not PAY_PER_REQUEST")
        pitr = props.get("PointInTimeRecoverySpecification") or {}
        r.check(pitr.get("PointInTimeRecoveryEnabled") is True, f"{where}: point-in-time recovery off")
        sse = props.get("SSESpecification") or {}
        r.check(sse.get("SSEEnabled") is True, f"{where}: SSE off")


# ---------------------------------------------------------------------------- 2. environment


def function_env(template, props):
    glob = ((template.get("Globals") or {}).get("Function") or {}).get("Environment") or {}
    env = dict(glob.get("Variables") or {})
    env.update(((props.get("Environment") or {}).get("Variables")) or {})
    return env


def check_environment(template, doc, r: Report):
    documented = doc_env(doc)
    r.check(
        any(n.startswith("GOVTRAIL_") for n in documented),
        "no GOVTRAIL_* variables found in the doc's environment table",
    )
    tables = {
        table_suffix((res.get("Properties") or {}).get("TableName")): name
        for name, res in resources(template, "AWS::DynamoDB::Table").items()
    }
    topics = set(resources(template, "AWS::SNS::Topic"))
    # What a variable's value must be, where the template decides it.
    want_value = {
        "GOVTRAIL_IDENTITIES_TABLE": {"Ref": tables.get("identities")},
        "GOVTRAIL_FINDINGS_TABLE": {"Ref": tables.get("findings")},
        "GOVTRAIL_SEEN_TABLE": {"Ref": tables.get("seen")},
        "GOVTRAIL_LIFECYCLE_TABLE": {"Ref": tables.get("lifecycle")},
        "GOVTRAIL_ACCOUNT_ID": {"Ref": "AWS::AccountId"},
        "GOVTRAIL_CACHE_TTL_SECONDS": {"Ref": "CacheTtlSeconds"},
        "GOVTRAIL_SLACK_SECRET_ARN": {"Ref": "SlackSecretArn"},
        "GOVTRAIL_SLACK_DEFAULT_CHANNEL": {"Ref": "SlackDefaultChannel"},
    }
    functions = resources(template, "AWS::Serverless::Function", "AWS::Lambda::Function")
    for name, res in functions.items():
        props = res.get("Properties") or {}
        binary = ((res.get("Metadata") or {}).get("BuildProperties") or {}).get("Binary")
        env = function_env(template, props)
        expected = {
            var
            for var, (users, tests_only) in documented.items()
            if not tests_only and (binary in users or "all" in users)
        }
        r.check(
            any(binary in users for users, _ in documented.values()),
            f"function {name}: binary {binary!r} is named by no variable of the doc",
        )
        for var in sorted(v for v in expected if v.startswith("GOVTRAIL_")):
            r.check(var in env, f"function {name} ({binary}): {var} is not set")
        for var in sorted(env):
            if var in EXTRA_ENV_ALLOWED:
                continue
            r.check(var in expected, f"function {name} ({binary}): sets {var}, which the doc does not name for it")
        for var, value in want_value.items():
            if var in env:
                r.check(env[var] == value, f"function {name}: {var} = {env[var]} != {value}")
        if "GOVTRAIL_ALERT_TOPIC_ARN" in env:
            r.check(
                isinstance(env["GOVTRAIL_ALERT_TOPIC_ARN"], dict)
                and env["GOVTRAIL_ALERT_TOPIC_ARN"].get("Ref") in topics,
                f"function {name}: GOVTRAIL_ALERT_TOPIC_ARN is not a Ref to an SNS topic",
            )


# ---------------------------------------------------------------------------- 3. IAM


def policy_documents(template, r: Report):
    """(where, kind, statement) for every statement of every policy in the template."""
    found = []

    def add_document(where, kind, document):
        for doc in branches(document):
            if not isinstance(doc, dict):
                continue
            for stmt_list in branches(doc.get("Statement")):
                for stmt in as_list(stmt_list):
                    for concrete in branches(stmt):
                        found.append((where, kind, concrete))

    for name, res in resources(template, "AWS::Serverless::Function").items():
        for i, policy in enumerate(as_list((res.get("Properties") or {}).get("Policies"))):
            for p in branches(policy):
                inline = isinstance(p, dict) and "Statement" in p
                r.check(
                    inline,
                    f"function {name}: policy #{i} is not an inline statement list "
                    f"(managed policy or SAM policy template): {p}",
                )
                if inline:
                    add_document(f"function {name} policy #{i}", "function", p)
    for name, res in resources(template, "AWS::IAM::Role", "AWS::IAM::User", "AWS::IAM::Group").items():
        props = res.get("Properties") or {}
        for p in as_list(props.get("Policies")):
            add_document(f"{name} {p.get('PolicyName')}", "iam", p.get("PolicyDocument"))
        r.check(not props.get("ManagedPolicyArns"), f"{name}: managed policies {props.get('ManagedPolicyArns')}")
    for name, res in resources(template, "AWS::IAM::Policy", "AWS::IAM::ManagedPolicy").items():
        add_document(name, "iam", (res.get("Properties") or {}).get("PolicyDocument"))
    for name, res in resources(
        template, "AWS::SQS::QueuePolicy", "AWS::SNS::TopicPolicy", "AWS::S3::BucketPolicy"
    ).items():
        add_document(name, res["Type"], (res.get("Properties") or {}).get("PolicyDocument"))
    for name, res in resources(template, "AWS::KMS::Key").items():
        add_document(name, res["Type"], (res.get("Properties") or {}).get("KeyPolicy"))
    return found


def check_iam(template, r: Report):
    statements = policy_documents(template, r)
    r.check(bool(statements), "no policy statements found")
    for where, kind, stmt in statements:
        if not isinstance(stmt, dict):
            r.check(False, f"{where}: statement is not a mapping: {stmt}")
            continue
        label = f"{where} {stmt.get('Sid', '')}".strip()
        if stmt.get("Effect") != "Allow":
            continue
        r.check("NotResource" not in stmt, f"{label}: Allow with NotResource")
        r.check("NotAction" not in stmt, f"{label}: Allow with NotAction")
        actions = [a for a in as_list(stmt.get("Action")) if isinstance(a, str)]
        star = any(res == "*" for res in as_list(stmt.get("Resource")))
        if star and kind not in RESOURCE_STAR_POLICY_KINDS:
            bad = [a for a in actions if a not in RESOURCE_STAR_ALLOWED]
            r.check(not bad, f"{label}: Resource '*' for {bad} (not in RESOURCE_STAR_ALLOWED)")
        if kind == "function":
            wild = [a for a in actions if a == "*" or a.endswith(":*")]
            r.check(not wild, f"{label}: service-wide action wildcard {wild}")
    check_dynamodb_access(template, r)


def table_resource(value, table_names):
    """(table logical id, "" or "/index/*") of a policy Resource naming a table, else None."""
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        att = value["Fn::GetAtt"]
        att = att.split(".", 1) if isinstance(att, str) else att
        if isinstance(att, list) and len(att) == 2 and att[0] in table_names and att[1] == "Arn":
            return att[0], ""
    if isinstance(value, dict) and "Fn::Sub" in value:
        text = value["Fn::Sub"]
        text = text[0] if isinstance(text, list) else text
        m = re.fullmatch(r"\$\{([A-Za-z0-9]+)\.Arn\}(/index/\*)?", str(text))
        if m and m.group(1) in table_names:
            return m.group(1), m.group(2) or ""
    return None


def check_dynamodb_access(template, r: Report):
    """Each function's DynamoDB actions per table (and index) equal EXPECTED_DYNAMODB_ACCESS."""
    tables = resources(template, "AWS::DynamoDB::Table")
    suffix_of = {
        name: table_suffix((res.get("Properties") or {}).get("TableName")) for name, res in tables.items()
    }
    functions = resources(template, "AWS::Serverless::Function")
    r.check(
        set(functions) == set(EXPECTED_DYNAMODB_ACCESS),
        f"functions {sorted(functions)} != EXPECTED_DYNAMODB_ACCESS's {sorted(EXPECTED_DYNAMODB_ACCESS)}",
    )
    for fname, res in functions.items():
        granted: dict = {}
        for policy in as_list((res.get("Properties") or {}).get("Policies")):
            for p in branches(policy):
                if not isinstance(p, dict):
                    continue
                for stmt_list in branches(p.get("Statement")):
                    for stmt in as_list(stmt_list):
                        for s in branches(stmt):
                            if not isinstance(s, dict) or s.get("Effect") != "Allow":
                                continue
                            actions = {
                                a for a in as_list(s.get("Action"))
                                if isinstance(a, str) and a.startswith("dynamodb:")
                            }
                            if not actions:
                                continue
                            for value in as_list(s.get("Resource")):
                                found = table_resource(value, tables)
                                if not r.check(
                                    found is not None,
                                    f"function {fname} {s.get('Sid', '')}: DynamoDB actions on "
                                    f"{value}, not a table of this template or its indexes",
                                ):
                                    continue
                                table, part = found
                                per_table = granted.setdefault(suffix_of[table], {})
                                per_table.setdefault(part, set()).update(actions)
        want = EXPECTED_DYNAMODB_ACCESS.get(fname, {})
        for suffix in sorted(set(granted) | set(want)):
            got = {k: sorted(v) for k, v in granted.get(suffix, {}).items()}
            exp = {k: sorted(v) for k, v in want.get(suffix, {}).items()}
            r.check(got == exp, f"function {fname}: DynamoDB access to PREFIX-{suffix} {got} != {exp}")


# ---------------------------------------------------------------------------- 4. functions


def check_functions(template, r: Report):
    glob = (template.get("Globals") or {}).get("Function") or {}
    functions = resources(template, "AWS::Serverless::Function", "AWS::Lambda::Function")
    r.check(
        set(functions) == set(EXPECTED_FUNCTIONS),
        f"functions {sorted(functions)} != expected {sorted(EXPECTED_FUNCTIONS)}",
    )
    for name, res in functions.items():
        props = res.get("Properties") or {}

        def prop(key):
            return props.get(key, glob.get(key))

        meta = res.get("Metadata") or {}
        r.check(res.get("Type") == "AWS::Serverless::Function", f"{name}: not an AWS::Serverless::Function")
        r.check(prop("Runtime") == "provided.al2023", f"{name}: Runtime {prop('Runtime')!r} != 'provided.al2023'")
        r.check(prop("Architectures") == ["arm64"], f"{name}: Architectures {prop('Architectures')!r} != ['arm64']")
        r.check(prop("Handler") == "bootstrap", f"{name}: Handler {prop('Handler')!r} != 'bootstrap'")
        r.check(prop("CodeUri") == ".", f"{name}: CodeUri {prop('CodeUri')!r} != '.'")
        r.check(
            meta.get("BuildMethod") == "rust-cargolambda",
            f"{name}: Metadata.BuildMethod {meta.get('BuildMethod')!r} != 'rust-cargolambda'",
        )
        binary = (meta.get("BuildProperties") or {}).get("Binary")
        r.check(
            binary == EXPECTED_FUNCTIONS.get(name),
            f"{name}: BuildProperties.Binary {binary!r} != {EXPECTED_FUNCTIONS.get(name)!r}",
        )
    # Every function's errors reach the alarm topic (same condition as the function).
    alarm_topic = {"Ref": "AlarmTopic"}
    for name, res in functions.items():
        alarms = [
            (aname, a)
            for aname, a in resources(template, "AWS::CloudWatch::Alarm").items()
            if (a.get("Properties") or {}).get("MetricName") == "Errors"
            and (a.get("Properties") or {}).get("Namespace") == "AWS/Lambda"
            and {"Name": "FunctionName", "Value": {"Ref": name}}
            in as_list((a.get("Properties") or {}).get("Dimensions"))
        ]
        if not r.check(bool(alarms), f"{name}: no AWS/Lambda Errors alarm"):
            continue
        for aname, a in alarms:
            props = a.get("Properties") or {}
            r.check(
                alarm_topic in as_list(props.get("AlarmActions"))
                and alarm_topic in as_list(props.get("OKActions")),
                f"{aname}: AlarmActions/OKActions do not notify AlarmTopic",
            )
            r.check(
                a.get("Condition") == res.get("Condition"),
                f"{aname}: Condition {a.get('Condition')!r} != {name}'s {res.get('Condition')!r}",
            )


# ---------------------------------------------------------------------------- wiring


def check_wiring(template, r: Report):
    glob = (template.get("Globals") or {}).get("Function") or {}
    functions = resources(template, "AWS::Serverless::Function")
    queues = resources(template, "AWS::SQS::Queue")
    logs = (functions.get("CloudTrailLogsFunction") or {}).get("Properties") or {}
    logs_timeout = logs.get("Timeout", glob.get("Timeout"))
    q = (queues.get("LogNotificationsQueue") or {}).get("Properties") or {}
    r.check(
        isinstance(logs_timeout, int) and q.get("VisibilityTimeout") == 6 * logs_timeout,
        f"LogNotificationsQueue VisibilityTimeout {q.get('VisibilityTimeout')} != 6 x {logs_timeout}",
    )
    redrive = q.get("RedrivePolicy") or {}
    r.check(
        redrive.get("maxReceiveCount") == 5
        and redrive.get("deadLetterTargetArn") == {"Fn::GetAtt": ["LogNotificationsDeadLetterQueue", "Arn"]},
        f"LogNotificationsQueue RedrivePolicy {redrive}",
    )
    for name, res in queues.items():
        r.check((res.get("Properties") or {}).get("SqsManagedSseEnabled") is True, f"queue {name}: SSE off")
    events = (functions.get("CloudTrailEventsFunction") or {}).get("Properties") or {}
    invoke = events.get("EventInvokeConfig") or {}
    on_failure = (invoke.get("DestinationConfig") or {}).get("OnFailure") or {}
    r.check(
        invoke.get("MaximumRetryAttempts") == 2
        and invoke.get("MaximumEventAgeInSeconds") == 3600
        and on_failure.get("Destination") == {"Fn::GetAtt": ["EventsDeadLetterQueue", "Arn"]},
        f"CloudTrailEventsFunction EventInvokeConfig {invoke}",
    )
    mappings = [
        res.get("Properties") or {}
        for res in resources(template, "AWS::Lambda::EventSourceMapping").values()
    ]
    sqs_events = [
        (e.get("Properties") or {})
        for e in (logs.get("Events") or {}).values()
        if isinstance(e, dict) and e.get("Type") == "SQS"
    ]
    sources = [
        m for m in mappings if m.get("FunctionName") == {"Ref": "CloudTrailLogsFunction"}
    ] + sqs_events
    r.check(
        any(
            s.get("BatchSize") == 10
            and s.get("MaximumBatchingWindowInSeconds") == 5
            and s.get("FunctionResponseTypes") == ["ReportBatchItemFailures"]
            for s in sources
        ),
        "CloudTrailLogsFunction has no SQS source with BatchSize 10, window 5 s, ReportBatchItemFailures",
    )
    check_sweep_wiring(template, r)


def check_sweep_wiring(template, r: Report):
    """InventorySweepFunction: scheduled, one at a time, time for IAM throttling."""
    glob = (template.get("Globals") or {}).get("Function") or {}
    sweep = resources(template, "AWS::Serverless::Function").get("InventorySweepFunction") or {}
    props = sweep.get("Properties") or {}
    r.check(sweep.get("Condition") is None, "InventorySweepFunction is conditional")
    timeout = props.get("Timeout", glob.get("Timeout"))
    # Lambda's maximum: the credential report wait (GOVTRAIL_REPORT_WAIT_SECONDS) comes first.
    r.check(timeout == 900, f"InventorySweepFunction Timeout {timeout} != 900")
    env = ((props.get("Environment") or {}).get("Variables")) or {}
    wait = env.get("GOVTRAIL_REPORT_WAIT_SECONDS")
    r.check(
        isinstance(wait, str) and wait.isdigit() and isinstance(timeout, int) and int(wait) < timeout,
        f"InventorySweepFunction GOVTRAIL_REPORT_WAIT_SECONDS {wait!r} is not a number below the timeout",
    )
    # Two sweeps must not overlap.
    r.check(
        props.get("ReservedConcurrentExecutions") == 1,
        f"InventorySweepFunction ReservedConcurrentExecutions {props.get('ReservedConcurrentExecutions')} != 1",
    )
    invoke = props.get("EventInvokeConfig") or {}
    r.check(
        invoke.get("MaximumRetryAttempts") == 1 and invoke.get("MaximumEventAgeInSeconds") == 3600,
        f"InventorySweepFunction EventInvokeConfig {invoke}",
    )
    events = [e for e in (props.get("Events") or {}).values() if isinstance(e, dict)]
    schedules = [(e.get("Properties") or {}) for e in events if e.get("Type") == "Schedule"]
    r.check(
        len(events) == 1
        and len(schedules) == 1
        and schedules[0].get("Schedule") == {"Ref": "SweepSchedule"}
        and schedules[0].get("Enabled") is True,
        f"InventorySweepFunction events {props.get('Events')}: want one enabled Schedule of SweepSchedule",
    )
    param = (template.get("Parameters") or {}).get("SweepSchedule") or {}
    pattern = param.get("AllowedPattern")
    default = param.get("Default")
    r.check(
        param.get("Type") == "String"
        and isinstance(pattern, str)
        and isinstance(default, str)
        and re.search(pattern, default) is not None
        and re.search(pattern, "every 6 hours") is None,
        f"parameter SweepSchedule {param}: want a String whose AllowedPattern admits its Default only",
    )
    outputs = template.get("Outputs") or {}
    for output, value in (
        ("InventorySweepFunctionArn", {"Fn::GetAtt": ["InventorySweepFunction", "Arn"]}),
        ("LifecycleTableName", {"Ref": "LifecycleTable"}),
    ):
        got = (outputs.get(output) or {}).get("Value")
        r.check(got == value, f"output {output} {got} != {value}")


def main(argv):
    template_path = Path(argv[1]) if len(argv) > 1 else ROOT / "template.yaml"
    doc_path = Path(argv[2]) if len(argv) > 2 else ROOT / "docs" / "aws-design.md"
    r = Report()
    try:
        template = load_template(template_path)
        doc = doc_path.read_text(encoding="utf-8")
    except Exception as e:  # noqa: BLE001 - any load error is one failure
        r.check(False, f"cannot load {template_path} / {doc_path}: {e}")
        print(f"{r.passed} passed, {r.failed} failed")
        return 1
    for section in (check_tables, check_environment):
        section(template, doc, r)
    for section in (check_iam, check_functions, check_wiring):
        section(template, r)
    print(f"{r.passed} passed, {r.failed} failed")
    return 1 if r.failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""Rules shared by the per-format extractors: who is a person, which names and clients are software, what is
privileged, and how identities are written canonically.

Everything here works on what a record states (names, user agents, role and policy names); nothing names a
particular organisation or system.
"""

from __future__ import annotations

import re
from functools import lru_cache

# ------------------------------------------------------------------------------------------------------------
# Names: people versus software

# Name tokens (split at - _ . @ : /) that mark an account as software's.
SERVICE_TOKENS = frozenset((
    "svc", "srv", "service", "services", "sa", "bot", "bots", "robot", "ci", "cd", "cicd", "deploy", "deployer",
    "deployment", "deployments", "automation", "automated", "ansible", "jenkins", "terraform", "tf", "gitlab",
    "github", "actions", "runner", "runners", "agent", "pipeline", "pipelines", "batch", "cron", "job", "jobs",
    "worker", "workers", "scheduler", "daemon", "etl", "elt", "sync", "backup", "backups", "export", "exporter",
    "import", "importer", "ingest", "ingestion", "push", "pull", "sftp", "ftp", "api", "app", "apps",
    "integration", "integrations", "monitor", "monitoring", "metrics", "rotator", "rotation", "operator",
    "controller", "scanner", "reader", "writer", "loader", "uploader", "downloader", "collector", "forwarder",
    "gateway", "proxy", "webhook", "lambda", "function", "task", "tasks", "system", "machine", "nhi", "partner",
    "feed", "drop", "replication", "replicator", "mirror", "crawler", "scraper", "indexer", "trainer", "serving",
    "inference", "scorer", "eval", "evaluator", "notebook", "airflow", "argo", "argocd", "flux", "spinnaker",
    "circleci", "buildkite", "teamcity", "bamboo", "octopus", "puppet", "chef", "salt", "nagios", "zabbix",
    "prometheus", "grafana", "datadog", "splunk", "fluentd", "filebeat", "logstash", "postgres", "mysql",
    "redis", "kafka", "mongodb", "elasticsearch", "www", "nginx", "apache", "httpd", "legacy", "test",
))
# Default and built-in accounts that people log in with (or attackers try): never inventoried as NHIs.
BUILTIN_ACCOUNTS = frozenset(("root", "admin", "administrator", "ubuntu", "ec2-user", "centos", "debian",
                              "fedora", "user", "guest", "oracle", "pi", "toor", "support", "operator", "nobody"))
_TOKEN_SPLIT = re.compile(r"[-_.@:/+\s]+")
_EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_SERVICE_DOMAINS = ("gserviceaccount.com", "svc.id.goog", "iam.gserviceaccount.com", "noreply.github.com")


def tokens(name: str) -> list[str]:
    return [t for t in _TOKEN_SPLIT.split(name.lower()) if t]


@lru_cache(maxsize=4096)
def service_like(name: str) -> bool:
    """The name itself says software: svc-, -bot, ci, deploy, automation, backup, ... or `name[bot]`."""
    if not name:
        return False
    low = name.lower()
    if low.endswith("[bot]") or low.startswith(("svc", "sa-", "sa_")):
        return True
    local = low.split("@", 1)[0]
    return any(t in SERVICE_TOKENS or t.endswith(("bot", "svc")) for t in tokens(local))


@lru_cache(maxsize=4096)
def person_like(name: str) -> bool:
    """A person's account name: an e-mail address, first.last, first_last(_domain), or a single word (jdoe).

    A name with a service marker is never person-like; a hyphenated multi-part name without one (a partner or
    system account such as `acme-drop`) is not person-like either."""
    if not name or service_like(name):
        return False
    low = name.lower().strip()
    if low in BUILTIN_ACCOUNTS:
        return False
    if _EMAIL_RE.match(low):
        return not low.endswith(_SERVICE_DOMAINS)
    if "-" in low:
        return False
    return bool(re.fullmatch(r"[a-z][a-z0-9]*(?:[._][a-z][a-z0-9]*)*", low))


# Words that make a display name an integration's ("Grafana Alerting", "Automation for Jira", "Backup Bot").
_INTEGRATION_WORDS = frozenset(("bot", "automation", "alerting", "alerts", "alertmanager", "integration",
                                "monitoring", "webhook", "notifications", "noreply", "no-reply", "scanner", "system"))


@lru_cache(maxsize=1024)
def integration_name(display: str) -> bool:
    """A display name (of a ticket's reporter, a caller) that is software's: it starts with a tool or service word,
    or holds an integration word anywhere. A surname that is also a tool's ("Tom Jenkins") does not count."""
    words = [w for w in re.split(r"[\s()\[\],:]+", display.lower()) if w]
    if not words or display.strip().lower() in BUILTIN_ACCOUNTS:
        return False
    return (display.lower().endswith("[bot]") or words[0] in SERVICE_TOKENS or words[0].endswith("bot")
            or any(w in _INTEGRATION_WORDS for w in words))


def software_account(name: str) -> bool:
    """An account name that belongs to software rather than to a person (and is not a built-in account)."""
    if not name or name.lower() in BUILTIN_ACCOUNTS:
        return False
    return service_like(name) or not person_like(name)


@lru_cache(maxsize=4096)
def person_from_session(session: str) -> str | None:
    """A person named by a role-session name or display name (`alice@acme.example`, `oidc-alice@acme.example`)."""
    s = session.split("-", 1)[1] if session.startswith(("oidc-", "userpass-", "ldap-", "okta-", "saml-")) \
        else session
    return s if _EMAIL_RE.match(s) and person_like(s) else None


# ------------------------------------------------------------------------------------------------------------
# Clients (user agents)

_BROWSER_RE = re.compile(r"^Mozilla/|\b(?:Chrome|Firefox|Safari|Edg)/\d")
_DESKTOP_RE = re.compile(r"\((?:darwin|windows)[/;)]|Macintosh|Windows NT", re.I)
_CONSOLE_UA = ("console.amazonaws.com", "signin.amazonaws.com", "console.aws.amazon.com")
_TOOL_RE = re.compile(r"(Terraform/[\w.-]+|kubectl/[\w.+-]+(?: \([\w/]+\))?|Pulumi/[\w.-]+|aws-cli/[\w.-]+)")


@lru_cache(maxsize=1024)
def ua_tool(ua: str | None) -> str | None:
    """The client a user agent names, compactly: 'Boto3/1.35.93', 'Terraform/1.9.8',
    'kubectl/v1.31.3 (darwin/arm64)'; 'browser' for a web browser."""
    if not ua or not isinstance(ua, str):
        return None
    ua = ua.strip()
    if _BROWSER_RE.search(ua):
        return "browser"
    m = _TOOL_RE.search(ua)
    if m:
        return m.group(1)
    first = ua.lstrip("[").split()[0] if ua.split() else ua
    return first.rstrip("]")[:80] or None


@lru_cache(maxsize=4096)
def browser_ua(ua: str | None) -> bool:
    return bool(ua) and isinstance(ua, str) and (bool(_BROWSER_RE.search(ua)) or ua in _CONSOLE_UA)


@lru_cache(maxsize=4096)
def desktop_ua(ua: str | None) -> bool:
    """A client running on a workstation (macOS, Windows) rather than in a cluster or a pipeline."""
    return bool(ua) and isinstance(ua, str) and bool(_DESKTOP_RE.search(ua))


# ------------------------------------------------------------------------------------------------------------
# Privilege

_PRIV_ROLE_RE = re.compile(
    r"(?:^|[/:\s\"'])(?:AdministratorAccess|IAMFullAccess|cluster-admin|system:masters|roles/owner|roles/editor|"
    r"Owner|User Access Administrator|[\w.]*[Aa]dmin(?:istrator)?\b[\w.]*)(?:$|[\s\"',;)/])")
_WILDCARD_ACTION_RE = re.compile(r"\"Action\"\s*:\s*(?:\"\*\"|\[[^\]]*\"\*\"[^\]]*\]|\"iam:\*\")")


@lru_cache(maxsize=4096)
def privileged_role(name: str | None) -> bool:
    """A role, policy or permission set that grants administration: AdministratorAccess, cluster-admin,
    roles/owner, roles/editor, *Admin roles, Owner, User Access Administrator, a `*` grant."""
    if not name or not isinstance(name, str):
        return False
    if name.strip() in ("*", "*:*"):
        return True
    return bool(_PRIV_ROLE_RE.search(name))


def wildcard_policy(doc: str | None) -> bool:
    """An IAM policy document that allows every action ("Action": "*") or all of IAM."""
    return bool(doc) and isinstance(doc, str) and bool(_WILDCARD_ACTION_RE.search(doc))


# ------------------------------------------------------------------------------------------------------------
# Canonical identities

ARN_ROLE_RE = re.compile(r"arn:aws[\w-]*:iam::(\d{12}):role/([\w+=,.@/-]+)")
ARN_USER_RE = re.compile(r"arn:aws[\w-]*:iam::(\d{12}):user/([\w+=,.@/-]+)")
ARN_ASSUMED_RE = re.compile(r"arn:aws[\w-]*:sts::(\d{12}):assumed-role/([\w+=,.@-]+)/([\w+=,.@-]+)")
ACCESS_KEY_RE = re.compile(r"\b((?:AKIA|ASIA)[A-Z0-9]{16})\b")
K8S_SA_RE = re.compile(r"system:serviceaccount:([a-z0-9][a-z0-9.-]{0,252}):([a-z0-9][a-z0-9.-]{0,252})")


def k8s_sa(namespace: str, name: str) -> str:
    return f"system:serviceaccount:{namespace}:{name}"


def role_arn(account: str, name: str, partition: str = "aws") -> str:
    return f"arn:{partition}:iam::{account}:role/{name}"


@lru_cache(maxsize=4096)
def assumed_to_role(arn: str) -> tuple[str, str, str] | None:
    """'arn:aws:sts::ACCT:assumed-role/NAME/SESSION' -> (role ARN, role name, session name)."""
    m = ARN_ASSUMED_RE.fullmatch(arn)
    if not m:
        return None
    part = arn.split(":", 2)[1]
    return role_arn(m.group(1), m.group(2), part), m.group(2), m.group(3)


def human_sso_role(role_name: str) -> bool:
    """AWS IAM Identity Center permission-set roles: their sessions are people signed in through SSO."""
    return role_name.startswith("AWSReservedSSO_")


def key_kind(key_id: str) -> str:
    """'long-lived' for AKIA user keys, 'temporary' for ASIA session keys."""
    return "temporary" if key_id.startswith("ASIA") else "long-lived"

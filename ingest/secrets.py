"""Find and mask secrets in evidence text before it is chunked, embedded and stored.

Pure and in-memory: no files, no global detect-secrets settings or baseline, no verification calls, no logging.
Two kinds of detector run on the same text:

* detect-secrets' format plugins (GitHub, GitLab, Slack, Stripe, JWT, URL passwords, Azure storage keys, npm, PyPI,
  SendGrid, OpenAI, Square, Mailchimp, IBM, Cloudant, SoftLayer, and AWS secret keys in quotes): plugin instances
  whose own `denylist` regexes run on the line, without detect-secrets' settings singleton, baseline, filters or
  (network) verification. Left out: the entropy and keyword plugins (they flag digests, ids and prose in audit logs;
  our key/value rule replaces the keyword one), PrivateKeyDetector (it matches only the BEGIN line; our PEM rule
  masks the whole block), Twilio (its "AC"/"SK" values are account and key *ids*), Artifactory (its "AP..." password
  shape matches ordinary upper-case words), Discord and Telegram (no anchor: slow and noisy on logs), public IPs.
* our own rules (`clausewise:<rule>`) for what the plugins miss or must be precise about: the value only (never the
  key name), AWS secret access keys and session tokens by their key names, whole multi-line PEM blocks, complete JWTs,
  Vault and Azure formats, Authorization headers, and `password=`/`secret:`/`token=`/`api_key=` pairs with a value.

Identifiers are not secrets: AWS access key ids (AKIA/ASIA...), Vault accessors and HMAC'd values, sha256 digests,
UUIDs, ARNs and names are left alone; an AWS key id right next to an AWS secret is reported on its finding
(`Finding.key_id`) for the non-human-identity inventory. Already-masked values and placeholders are left alone too,
so masking is idempotent.

Speed: one trie-shaped regex of the lowercase needles (keywords and prefixes) that every line detector needs runs
once over the ASCII-lowercased bytes; each detector then runs only on the lines holding one of its own needles (on
a very long line, only on windows around them). PEM blocks, PuTTY keys and legacy Vault tokens are matched on the
whole text from their literal anchors. About 10 MB/s on realistic evidence on 2 cores.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable
from dataclasses import dataclass

from detect_secrets.filters.heuristic import is_prefixed_with_dollar_sign, is_templated_secret
from detect_secrets.plugins.aws import AWSKeyDetector
from detect_secrets.plugins.azure_storage_key import AzureStorageKeyDetector
from detect_secrets.plugins.base import RegexBasedDetector
from detect_secrets.plugins.basic_auth import BasicAuthDetector
from detect_secrets.plugins.cloudant import CloudantDetector
from detect_secrets.plugins.github_token import GitHubTokenDetector
from detect_secrets.plugins.gitlab_token import GitLabTokenDetector
from detect_secrets.plugins.ibm_cloud_iam import IbmCloudIamDetector
from detect_secrets.plugins.ibm_cos_hmac import IbmCosHmacDetector
from detect_secrets.plugins.jwt import JwtTokenDetector
from detect_secrets.plugins.mailchimp import MailchimpDetector
from detect_secrets.plugins.npm import NpmDetector
from detect_secrets.plugins.openai import OpenAIDetector
from detect_secrets.plugins.pypi_token import PypiTokenDetector
from detect_secrets.plugins.sendgrid import SendGridDetector
from detect_secrets.plugins.slack import SlackDetector
from detect_secrets.plugins.softlayer import SoftlayerDetector
from detect_secrets.plugins.square_oauth import SquareOAuthDetector
from detect_secrets.plugins.stripe import StripeDetector

__all__ = ["MASK_RE", "Finding", "find_secrets", "mask"]

MASK_RE = re.compile(r"\[REDACTED:[a-z0-9_]+\]")


@dataclass(frozen=True)
class Finding:
    """Where a secret value is: offsets of the value only (not its key name) in the input text. Never the value."""

    type: str        # stable short type: "aws_secret_key", "github_token", "password", "generic_secret", ...
    start: int
    end: int
    line: int        # 1-based line of `start`
    detector: str    # "detect-secrets:<PluginName>" or "clausewise:<rule>"
    key_id: str | None = None   # an AWS access key id (an identifier, not a secret) found right next to an AWS secret


def _marker(kind: str) -> str:
    return f"[REDACTED:{kind}]"


# ---------------------------------------------------------------------------------------------------------------
# Value checks shared by the rules

_KEY_ID_RE = re.compile(r"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])")
_STOPWORDS = frozenset({
    "true", "false", "null", "none", "nil", "undefined", "yes", "no", "on", "off", "empty", "n/a", "na", "tbd",
    "required", "optional", "unset", "unknown", "string", "value", "secret", "password", "token", "example",
    "hidden", "masked", "removed", "omitted", "sanitized", "scrubbed", "obfuscated", "censored", "elided",
    "changed", "rotated", "revoked", "expired", "valid", "invalid", "service", "batch", "default",
})
_PLACEHOLDER_CHARS = frozenset("*xX•#.-_?·")
_REFERENCE_PREFIXES = ("hmac-sha256:", "hmac-sha512:", "sha256:", "sha512:", "arn:", "system:", "vault:",
                       "secretsmanager:", "ref+", "env:", "file:", "keyvault:", "projects/", "kv/", "secret/")
_PATH_LIKE = re.compile(r"[a-z0-9_.-]+(?:/[a-z0-9_.-]+)+/?")
_DNS_NAME = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+){2,}(?:\.[a-z0-9-]+)*")   # k8s names, "90-day-expiry"
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_ELLIPSIS = ("...", "…")


def _is_placeholder(value: str) -> bool:
    """Masked, templated, elided or referenced values: nothing secret to mask."""
    v = value.strip()
    low = v.lower()
    if len(v) < 4 or low in _STOPWORDS:
        return True
    if MASK_RE.search(v) or "redact" in low or "***" in v or "<" in v or "${" in v or "{{" in v:
        return True
    if set(v) <= _PLACEHOLDER_CHARS:
        return True
    if is_templated_secret(v) or is_prefixed_with_dollar_sign(v) or v.startswith("%(") or v == "%s":
        return True
    for dots in _ELLIPSIS:       # "IQoJb3JpZ2luX2VjE..." is a truncated, public prefix, not a secret
        if v.endswith(dots) and len(v) - len(dots) < 24:
            return True
    return False


def _is_identifier(value: str) -> bool:
    """Key ids, hashed values, ARNs, paths and names that sit under secret-sounding keys in audit logs."""
    low = value.lower()
    if low.startswith(_REFERENCE_PREFIXES) or _KEY_ID_RE.fullmatch(value):
        return True
    if value.startswith(("/", "~/")) or (value.isdigit() and len(value) < 12):   # a path, a count
        return True
    if _UUID.fullmatch(value):      # under a secret-named key, a UUID is a credential (npm, Heroku, old Vault)
        return False
    return bool(_PATH_LIKE.fullmatch(value) or _DNS_NAME.fullmatch(value))


def _looks_like_credential(value: str) -> bool:
    """For bare `key: value` (which prose also has): the value must be shaped like a credential, not a word."""
    if len(value) < 8:
        return False
    if any(c.isdigit() for c in value):
        return True
    if any(not c.isalnum() and c not in "-_." for c in value):
        return True
    return any(a.islower() and b.isupper() for a, b in zip(value, value[1:]))


def _no_placeholder(m: re.Match) -> bool:
    return not _is_placeholder(m.group("value"))


def _mixed_base64(m: re.Match) -> bool:
    """A 40-character AWS secret has mixed characters; a run of one case or only letters is something else."""
    v = m.group("value")
    return any(c.isupper() for c in v) and any(c.islower() for c in v) and any(c.isdigit() or c in "/+" for c in v)


def _has_upper_and_digit(m: re.Match) -> bool:
    v = m.group("value")
    return any(c.isupper() for c in v) and any(c.isdigit() for c in v)


def _bearer_ok(m: re.Match) -> bool:
    v = m.group("value")
    if _is_placeholder(v) or _is_identifier(v):
        return False
    return len(v) >= 16 and any(c.isdigit() for c in v) and any(c.isalpha() for c in v)


def _basic_auth_ok(m: re.Match) -> bool:
    """`Basic <base64 of user:password>`: decodes to printable text with a colon (so 'Basic Competence' is not)."""
    v = m.group("value")
    try:
        raw = base64.b64decode(v + "=" * (-len(v) % 4), validate=True)
        decoded = raw.decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return False
    return ":" in decoded and decoded.isprintable()


def _jwt_ok(m: re.Match) -> bool:
    head = m.group("value").split(".", 1)[0]
    try:
        header = json.loads(base64.urlsafe_b64decode(head + "=" * (-len(head) % 4)))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return False
    return isinstance(header, dict) and bool({"alg", "typ", "kid", "enc"} & set(header))


# ---------------------------------------------------------------------------------------------------------------
# Our rules: each a regex whose named group "value" is what gets masked. Line rules run only on lines that hold
# one of their needles (lowercase literals); text rules run on the whole text (they span lines or are cheap).

@dataclass(frozen=True)
class _Rule:
    name: str
    kind: str
    priority: int
    pattern: re.Pattern
    needles: tuple[str, ...]
    check: Callable[[re.Match], bool] | None = None


def _variants(*parts: str) -> tuple[str, ...]:
    """All lowercase spellings of a key made of parts joined by "", "_" or "-": ("secret", "access", "key")."""
    out = [parts[0]]
    for part in parts[1:]:
        out = [f"{a}{sep}{part}" for a in out for sep in ("", "_", "-")]
    return tuple(out)


# between a key and its value: an optional (JSON-escaped) closing quote or bracket, an assignment, an opening quote
_GLUE = r"""(?:\\?["'`]|\])?\s*(?P<op>=>|:=|::|[:=])\s*"""
_GLUE_TABLE = r"""(?:\\?["'`]|\])?\s*(?P<op>=>|:=|::|[:=|])\s*(?:\\?["'`])?"""
_KEY_START = r"(?<![\w.:/-])"
_B64 = r"A-Za-z0-9/+"

# a secret-sounding key ends in one of these; "key" only after secret/api/auth/private (checked in _key_value)
_SECRET_KEYWORDS = r"pass(?:word|wd|phrase)?|pwd|secret|token|key"
_SECRET_KEY_SUFFIX = re.compile(r"(?:secret|api|auth|private)[_-]?key$", re.I)
_SECRET_NEEDLES = ("pass", "pwd", "secret", "token") + _variants("secret", "key") + _variants("api", "key") \
    + _variants("auth", "key") + _variants("private", "key")

_LINE_RULES: tuple[_Rule, ...] = (
    _Rule(
        "aws_secret_access_key", "aws_secret_key", 90,
        re.compile(_KEY_START + r"(?:aws[_-]?secret[_-]?(?:access[_-]?)?key|secret[_-]?access[_-]?key)(?!\w)"
                   + _GLUE_TABLE + rf"(?P<value>[{_B64}]{{40}})(?![{_B64}=])", re.I),
        _variants("secret", "access", "key") + _variants("aws", "secret", "key"),
        _mixed_base64,
    ),
    _Rule(
        "aws_key_pair", "aws_secret_key", 90,   # AKIA...,<secret> as in the console's credentials CSV
        re.compile(rf"(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{{16}}[\s,;:|\"'\\]{{1,6}}(?P<value>[{_B64}]{{40}})"
                   rf"(?![{_B64}=])"),
        ("akia", "asia"),
        _mixed_base64,
    ),
    _Rule(
        "aws_session_token", "aws_session_token", 90,
        re.compile(_KEY_START + r"(?:aws[_-]?session[_-]?token|session[_-]?token|aws[_-]?security[_-]?token"
                   r"|security[_-]?token|x-amz-security-token)(?!\w)" + _GLUE_TABLE
                   + r"(?P<value>[A-Za-z0-9/+%]{100,}={0,2})", re.I),
        _variants("session", "token") + _variants("security", "token"),
    ),
    _Rule(
        "aws_session_token_prefix", "aws_session_token", 90,   # STS tokens start with these, key or not
        re.compile(r"(?<![A-Za-z0-9/+])(?P<value>(?:IQoJb3JpZ2luX2|FwoGZXIvYXdz|FQoGZXIvYXdz)"
                   r"[A-Za-z0-9/+%]{80,}={0,2})"),
        ("iqojb3jpz2lux2", "fwogzxivyxdz", "fqogzxivyxdz"),
    ),
    _Rule(
        "github_token", "github_token", 80,
        re.compile(r"(?<![A-Za-z0-9_])(?P<value>gh[pousr]_[A-Za-z0-9]{36,251}|github_pat_[A-Za-z0-9_]{22,250})"
                   r"(?![A-Za-z0-9_])"),
        ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
    ),
    _Rule(
        "slack_token", "slack_token", 80,
        re.compile(r"(?<![A-Za-z0-9])(?P<value>xox[abposre]-[A-Za-z0-9-]{10,250}|xapp-\d-[A-Za-z0-9-]{10,250})"),
        ("xox", "xapp-"),
    ),
    _Rule(
        "slack_webhook", "slack_webhook", 80,
        re.compile(r"https://hooks\.slack\.com/(?P<value>(?:services|workflows|triggers)/[A-Za-z0-9_/-]{16,})"),
        ("hooks.slack.com",),
    ),
    _Rule(
        "stripe_key", "stripe_key", 80,
        re.compile(r"(?<![A-Za-z0-9])(?P<value>(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,247}|whsec_[A-Za-z0-9]{24,})"),
        ("sk_live_", "rk_live_", "sk_test_", "rk_test_", "whsec_"),
    ),
    _Rule(
        "vault_token", "vault_token", 80,
        re.compile(r"(?<![A-Za-z0-9.])(?P<value>hv[sbr]\.[A-Za-z0-9_-]{20,})"),
        ("hvs.", "hvb.", "hvr."),
    ),
    _Rule(
        "jwt", "jwt", 80,
        re.compile(r"(?<![A-Za-z0-9_-])(?P<value>eyJ[A-Za-z0-9_-]{8,}={0,2}\.[A-Za-z0-9_-]{8,}={0,2}"
                   r"\.[A-Za-z0-9_-]*)"),
        ("eyj",),
        _jwt_ok,
    ),
    _Rule(
        "azure_storage_key", "azure_key", 80,
        re.compile(r"(?:AccountKey|SharedAccessKey)\s*=\s*(?P<value>[A-Za-z0-9+/]{20,}={0,2})", re.I),
        ("accountkey", "sharedaccesskey"),
    ),
    _Rule(
        "azure_sas_signature", "azure_key", 80,
        re.compile(r"[?&;\s\"']sig=(?P<value>[A-Za-z0-9%+/]{20,}(?:%3D|=){0,2})", re.I),
        ("sig=",),
    ),
    _Rule(
        "azure_client_secret", "azure_key", 80,   # the Entra ID client secret format: 3 chars, a digit, "Q~", ...
        re.compile(r"(?<![\w~.-])(?P<value>[A-Za-z0-9_~.-]{3}\dQ~[A-Za-z0-9_~.-]{31,34})(?![\w~.-])"),
        ("q~",),
    ),
    _Rule(
        "gcp_api_key", "gcp_api_key", 80,
        re.compile(r"(?<![A-Za-z0-9_-])(?P<value>AIza[0-9A-Za-z_-]{35})(?![A-Za-z0-9_-])"),
        ("aiza",),
    ),
    _Rule(
        "llm_api_key", "llm_api_key", 80,
        re.compile(r"(?<![A-Za-z0-9_-])(?P<value>sk-(?:proj-|svcacct-|admin-|ant-(?:api|admin)\d\d-)?"
                   r"[A-Za-z0-9_-]{32,})"),
        ("sk-",),
        _has_upper_and_digit,
    ),
    _Rule(
        "url_password", "url_password", 70,
        re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]{1,20}://[^:/?#@\s\"'<>\[\]]*:(?P<value>[^@/?#\s\"'<>\[\]]+)@"),
        ("://",),
        _no_placeholder,
    ),
    _Rule(
        "bearer_token", "bearer_token", 60,
        re.compile(r"\bBearer\s+(?P<value>[A-Za-z0-9._~+/-]+=*)", re.I),
        ("bearer",),
        _bearer_ok,
    ),
    _Rule(
        "basic_auth", "basic_auth", 60,
        re.compile(r"\bBasic\s+(?P<value>[A-Za-z0-9+/]{8,}={0,2})(?![A-Za-z0-9+/=])", re.I),
        ("basic",),
        _basic_auth_ok,
    ),
    _Rule(
        "xml_element", "password", 50,   # <password>...</password> in Maven settings, web.config and the like
        re.compile(r"<(?P<tag>[\w.:-]{0,40}?(?:password|passwd|secret|token|api[_-]?key|apikey))>"
                   r"(?P<value>[^<>\s]{4,256})</(?P=tag)>", re.I),
        _SECRET_NEEDLES,
    ),
    _Rule(
        "key_value", "password", 50,    # the type comes from the key name (_generic_kind); checks in _key_value
        re.compile(
            rf"(?P<kw>{_SECRET_KEYWORDS})(?!\w)" + _GLUE
            + r"""(?:(?P<vq>\\?["'`])(?P<qv>[^"'`\\\r\n]{1,256})(?=\\?["'`])"""
            + r"""|(?P<bv>[^\s"'`,;&<>(){}\[\]|\\]{1,256}(?<![.:])))""",
            re.I,
        ),
        _SECRET_NEEDLES,
    ),
)

_PASSWORD_KEY = re.compile(r"pass|pwd", re.I)
_AZURE_KEY = re.compile(r"azure|client[_-]?secret", re.I)
# keys that end like a secret but hold none: AWS idempotency and pagination tokens, CSRF nonces, GitHub's audit-log
# `hashed_token` (a digest that identifies a token)
_NON_SECRET_KEY = re.compile(
    r"(?:request|next|page|continuation|idempotency|sync|pagination|cursor|resume|resumption|csrf|xsrf|hashed)"
    r"[_-]?token$", re.I)
# "issued_token: display_name=..." (a summarised record): the value is another field, not the secret
_NESTED_FIELD = re.compile(r"[A-Za-z_][\w.-]*=[^=]")


def _generic_kind(key: str) -> str:
    if _PASSWORD_KEY.search(key):
        return "password"
    if _AZURE_KEY.search(key):
        return "azure_key"
    return "generic_secret"


def _key_value(m: re.Match, line: str) -> tuple[str, str] | None:
    """(value group, type) of a `key = value` match whose value is a secret, else None.

    The regex starts at the key's last word (fast); the whole key is the run of word characters, dots and dashes
    before it, and must not follow ':' or '/' (an ARN's or a path's "secret" segment)."""
    start = m.start("kw")
    while start and (line[start - 1].isalnum() or line[start - 1] in "_.-"):
        start -= 1
    if start and line[start - 1] in ":/":
        return None
    key, kw = line[start:m.end("kw")], m.group("kw").lower()
    if kw == "key" and not _SECRET_KEY_SUFFIX.search(key):
        return None
    if kw == "pass" and len(key) > 4 and key[-5].isalpha():    # "bypass", "compass"
        return None
    if key in ("PWD", "OLDPWD"):     # the shell's working directory (sudo and env dumps), not a password
        return None
    group = "qv" if m.group("qv") is not None else "bv"
    value = m.group(group)
    if _NON_SECRET_KEY.search(key) or _NESTED_FIELD.match(value) or _is_placeholder(value) or _is_identifier(value):
        return None
    if m.group("vq") is None and ":" in m.group("op") and not _looks_like_credential(value):
        return None
    return group, _generic_kind(key)


# Multi-line PEM private keys (also inside JSON strings with \n escapes, as in a GCP service-account key file);
# without an END line (a truncated paste) the BEGIN line and the base64 lines after it.
_PEM = re.compile(
    r"-{4,5} ?BEGIN (?P<label>[A-Z0-9 ]{0,40}?PRIVATE KEY(?: BLOCK)?) ?-{4,5}"
    r"(?:.{0,20000}?-{4,5} ?END (?P=label) ?-{4,5}"
    r"|(?:(?:\r?\n|\\r?\\n)(?:Proc-Type|DEK-Info|Comment|Version|Hash): [^\r\n\\]*)*"
    r"(?:(?:\r?\n|\\r?\\n)[A-Za-z0-9+/=]{8,}(?=\r?\n|\\[rn]|[\"']|$))*)",
    re.S,
)
_GCP_KEY_BEFORE = re.compile(r"""["']private_key\\?["']\s*:\s*\\?["']$""")
_PUTTY = re.compile(r"Private-Lines:\s*\d+\s*\r?\n(?P<value>(?:[A-Za-z0-9+/=]+\r?\n)*[A-Za-z0-9+/=]+)")
# Vault's legacy service tokens: "s." and 24 characters. Matched from the literal (fast), its left edge checked after.
_VAULT_LEGACY = re.compile(r"s\.[A-Za-z0-9]{24}(?![A-Za-z0-9.])")


# ---------------------------------------------------------------------------------------------------------------
# detect-secrets plugins. All are RegexBasedDetectors: we run each one's `denylist` regexes (its documented extension
# point; `analyze_string` runs the same regexes but returns bare strings) with finditer, which gives offsets. GROUPS:
# the secret is the regex's capture group(s), as detect-secrets reads them; otherwise it is the whole match (GitHub's
# and GitLab's groups are only the prefix, so `analyze_string` would yield "ghp" for them).
_MATCH, _GROUPS = False, True
_PLUGINS: tuple[tuple[RegexBasedDetector, str, tuple[str, ...], bool], ...] = (
    (AWSKeyDetector(), "aws_secret_key", ("aws",), _GROUPS),     # the key ids it also matches are dropped
    (AzureStorageKeyDetector(), "azure_key", ("accountkey=",), _MATCH),
    (BasicAuthDetector(), "url_password", ("://",), _GROUPS),
    (GitHubTokenDetector(), "github_token", ("ghp_", "gho_", "ghu_", "ghs_", "ghr_"), _MATCH),
    (GitLabTokenDetector(), "gitlab_token",
     ("glpat-", "gldt-", "glft-", "glsoat-", "glrt-", "gr1348941", "glcbt-", "glimt-", "glptt-", "glagent-", "gloas-"),
     _MATCH),
    (JwtTokenDetector(), "jwt", ("eyj",), _MATCH),
    (SlackDetector(), "slack_token", ("xox", "hooks.slack.com"), _MATCH),
    (StripeDetector(), "stripe_key", ("sk_live_", "rk_live_"), _MATCH),
    (OpenAIDetector(), "llm_api_key", ("t3blbkfj",), _MATCH),
    (SendGridDetector(), "sendgrid_key", ("sg.",), _MATCH),
    (NpmDetector(), "npm_token", ("_authtoken",), _GROUPS),
    (PypiTokenDetector(), "pypi_token", ("pypi-age",), _MATCH),
    (SquareOAuthDetector(), "square_secret", ("sq0csp-",), _MATCH),
    (MailchimpDetector(), "mailchimp_key", ("-us",), _MATCH),
    (IbmCloudIamDetector(), "generic_secret", ("ibm",) + _variants("iam", "key") + _variants("iam", "api")
     + _variants("cloud", "key") + _variants("cloud", "api"), _GROUPS),
    (IbmCosHmacDetector(), "generic_secret", _variants("secret", "key") + _variants("secret", "access", "key"),
     _GROUPS),
    (CloudantDetector(), "generic_secret", ("cloudant",) + _variants("cl", "key") + _variants("cl", "pw")
     + _variants("cl", "pass") + _variants("cl", "token") + _variants("cl", "api"), _GROUPS),
    (SoftlayerDetector(), "generic_secret", ("softlayer",) + _variants("sl", "key") + _variants("sl", "pwd")
     + _variants("sl", "pass") + _variants("sl", "token") + _variants("sl", "api"), _GROUPS),
)
_PLUGIN_PRIORITY = 75
_PLUGIN_NAMES = tuple(f"detect-secrets:{type(plugin).__name__}" for plugin, *_ in _PLUGINS)
# where a plugin's match starts with a key or a public URL, the value is what follows
_VALUE_PREFIX = re.compile(r"(?:AccountKey=|https://hooks\.slack\.com/)", re.I)
_VALUE_EDGE = " \t\r\n\"'=:`"


# ---------------------------------------------------------------------------------------------------------------
# The prefilter: every needle of every line detector in one trie-shaped regex over the ASCII-lowercased bytes.

def _trie_regex(words: list[str]) -> str:
    root: dict = {}
    for word in words:
        node = root
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def emit(node: dict) -> str:
        alts = [re.escape(ch) + emit(child) for ch, child in sorted(node.items()) if ch]
        if not alts:
            return ""
        body = alts[0] if len(alts) == 1 else "(?:" + "|".join(alts) + ")"
        if "" in node:
            return f"(?:{body})?" if len(alts) == 1 else body + "?"
        return body

    return emit(root)


def _build_prefilter() -> tuple[re.Pattern, dict[bytes, frozenset[int]]]:
    """Detector ids: 0..len(_LINE_RULES)-1 for our rules, then one per plugin."""
    direct: dict[str, set[int]] = {}
    for i, rule in enumerate(_LINE_RULES):
        for needle in rule.needles:
            direct.setdefault(needle, set()).add(i)
    for j, (_, _, needles, _) in enumerate(_PLUGINS):
        for needle in needles:
            direct.setdefault(needle, set()).add(len(_LINE_RULES) + j)
    # a matched needle also stands for every needle inside it (the regex takes the longest at a position)
    targets = {
        needle.encode(): frozenset(i for other, ids in direct.items() if other in needle for i in ids)
        for needle in direct
    }
    return re.compile(_trie_regex(sorted(direct)).encode()), targets


_PREFILTER, _NEEDLE_TARGETS = _build_prefilter()


# ---------------------------------------------------------------------------------------------------------------

@dataclass
class _Hit:
    start: int
    end: int
    kind: str
    detector: str
    priority: int


def _run_rule(rule: _Rule, line: str, base: int, hits: list[_Hit]) -> None:
    for m in rule.pattern.finditer(line):
        if rule.name == "xml_element":
            tag, value = m.group("tag"), m.group("value")
            if not (_NON_SECRET_KEY.search(tag) or _is_placeholder(value) or _is_identifier(value)):
                hits.append(_Hit(base + m.start("value"), base + m.end("value"), _generic_kind(tag),
                                 "clausewise:xml_element", rule.priority))
        elif rule.name == "key_value":
            found = _key_value(m, line)
            if found is not None:
                group, kind = found
                hits.append(_Hit(base + m.start(group), base + m.end(group), kind, "clausewise:key_value",
                                 rule.priority))
        elif rule.check is None or rule.check(m):
            hits.append(_Hit(base + m.start("value"), base + m.end("value"), rule.kind, f"clausewise:{rule.name}",
                             rule.priority))


def _run_plugin(j: int, line: str, base: int, hits: list[_Hit]) -> None:
    plugin, kind, _, use_groups = _PLUGINS[j]
    for regex in plugin.denylist:
        for m in regex.finditer(line):
            if use_groups and regex.groups:
                spans = [m.span(g) for g in range(1, regex.groups + 1) if m.group(g)]
            else:
                spans = [m.span()]
            for a, b in spans:
                prefix = _VALUE_PREFIX.match(line, a, b)
                if prefix:
                    a = prefix.end()
                while a < b and line[a] in _VALUE_EDGE:
                    a += 1
                cut = next((k for k in range(a, b) if line[k] in _VALUE_EDGE), b)   # npm's ".+" runs to the end
                value = line[a:cut]
                if len(value) < 8 or _KEY_ID_RE.fullmatch(value) or _is_placeholder(value):
                    continue
                if kind == "jwt" and not JwtTokenDetector.is_formally_valid(value):
                    continue
                kind_here = "slack_webhook" if prefix and kind == "slack_token" else kind
                hits.append(_Hit(base + a, base + cut, kind_here, _PLUGIN_NAMES[j], _PLUGIN_PRIORITY))


# A very long line (minified JSON, a whole log on one line) is not scanned whole by every detector: only windows
# around its needles, widened to the nearest delimiter so that no token is cut.
_LONG_LINE = 16_384
_BEFORE, _AFTER, _WIDEN = 512, 8_192, 1_024
_DELIMITERS = tuple(bytes([c]) for c in b" \t\"',;{}[]()<>|")


def _widen_left(low: bytes, a: int, floor: int) -> int:
    if a <= floor:
        return floor
    cut = max(low.rfind(d, max(floor, a - _WIDEN), a) for d in _DELIMITERS)
    a = cut + 1 if cut != -1 else a
    while a > floor and low[a] & 0xC0 == 0x80:     # never inside a UTF-8 character
        a -= 1
    return a


def _widen_right(low: bytes, b: int, ceiling: int) -> int:
    if b >= ceiling:
        return ceiling
    found = [i for i in (low.find(d, b, min(ceiling, b + _WIDEN)) for d in _DELIMITERS) if i != -1]
    b = min(found) if found else b
    while b < ceiling and low[b] & 0xC0 == 0x80:
        b += 1
    return b


def _candidate_spans(low: bytes) -> list[list]:
    """[start, end, detector ids] byte spans: each line holding a needle, or windows of a very long one."""
    spans: list[list] = []
    line_start = line_end = -1
    long_line = False
    for m in _PREFILTER.finditer(low):
        pos, targets = m.start(), _NEEDLE_TARGETS[m.group()]
        if pos >= line_end:                                 # the first needle of a new line
            line_start = low.rfind(b"\n", 0, pos) + 1
            line_end = low.find(b"\n", m.end())
            line_end = len(low) if line_end == -1 else line_end
            long_line = line_end - line_start > _LONG_LINE
            if not long_line:
                spans.append([line_start, line_end, set(targets)])
                continue
        if not long_line:
            spans[-1][2].update(targets)
            continue
        a, b = max(line_start, pos - _BEFORE), min(line_end, m.end() + _AFTER)
        last = spans[-1] if spans else None
        if last is not None and len(last) == 5 and last[1] >= a:      # the same window goes on
            last[1] = max(last[1], b)
            last[2].update(targets)
        else:
            spans.append([a, b, set(targets), line_start, line_end])  # a window: widened below
    out: list[list] = []
    for span in spans:
        if len(span) == 5:
            a, b, ids, floor, ceiling = span
            span = [_widen_left(low, a, floor), _widen_right(low, b, ceiling), ids]
            if out and out[-1][1] >= span[0] and out[-1][0] >= floor:    # widening made two windows meet
                out[-1][1] = max(out[-1][1], span[1])
                out[-1][2].update(ids)
                continue
        out.append(span)
    return out


def _candidate_lines(text: str) -> list[tuple[int, str, frozenset[int]]]:
    """(char offset, the line or window, detector ids) for each line holding a needle."""
    raw = text.encode("utf-8", "surrogatepass")
    spans = _candidate_spans(raw.lower())           # bytes.lower() changes ASCII only: offsets stay put
    if len(raw) == len(text):                       # ASCII: byte offsets are character offsets
        return [(a, text[a:b], frozenset(ids)) for a, b, ids in spans]
    out = []
    byte_pos = char_pos = 0
    for a, b, ids in spans:
        char_pos += len(raw[byte_pos:a].decode("utf-8", "surrogatepass"))
        part = raw[a:b].decode("utf-8", "surrogatepass")
        out.append((char_pos, part, frozenset(ids)))
        byte_pos, char_pos = b, char_pos + len(part)
    return out


def _text_rules(text: str, hits: list[_Hit]) -> None:
    if "PRIVATE KEY" in text:
        for m in _PEM.finditer(text):
            gcp = _GCP_KEY_BEFORE.search(text, max(0, m.start() - 40), m.start())
            detector = "clausewise:gcp_service_account_key" if gcp else "clausewise:pem_private_key"
            hits.append(_Hit(m.start(), m.end(), "private_key", detector, 100))
    if "Private-Lines" in text:
        for m in _PUTTY.finditer(text):
            hits.append(_Hit(m.start("value"), m.end("value"), "private_key", "clausewise:putty_private_key", 100))
    for m in _VAULT_LEGACY.finditer(text):
        before = text[m.start() - 1] if m.start() else " "
        body = m.group()[2:]
        if (before.isalnum() or before in "._/-" or not any(c.isdigit() for c in body)
                or not any(c.isupper() for c in body) or not any(c.islower() for c in body)):
            continue
        hits.append(_Hit(m.start(), m.end(), "vault_token", "clausewise:vault_token_legacy", 80))


def _merge(hits: list[_Hit]) -> list[_Hit]:
    """Overlapping hits become one span; its type comes from the most specific detector (highest priority)."""
    hits.sort(key=lambda h: (h.start, -h.end))
    merged: list[_Hit] = []
    for h in hits:
        if merged and h.start < merged[-1].end:
            cur = merged[-1]
            if (h.priority, h.end - h.start) > (cur.priority, cur.end - cur.start):
                cur.kind, cur.detector, cur.priority = h.kind, h.detector, h.priority
            cur.end = max(cur.end, h.end)
        else:
            merged.append(_Hit(h.start, h.end, h.kind, h.detector, h.priority))
    return merged


def _nearby_key_id(text: str, start: int, end: int, reach: int = 200) -> str | None:
    """The AWS access key id closest to a secret, within `reach` characters of it (same or adjacent lines)."""
    best, best_dist = None, reach + 1
    for m in _KEY_ID_RE.finditer(text, max(0, start - reach), min(len(text), end + reach)):
        if m.end() <= start:
            dist = start - m.end()
        elif m.start() >= end:
            dist = m.start() - end
        else:
            continue
        if dist < best_dist:
            best, best_dist = m.group(), dist
    return best


def find_secrets(text: str) -> list[Finding]:
    """Secret values in text, sorted by start and non-overlapping. Offsets and 1-based lines refer to `text`."""
    hits: list[_Hit] = []
    _text_rules(text, hits)
    n_rules = len(_LINE_RULES)
    for base, line, ids in _candidate_lines(text):
        for i in sorted(ids):
            if i < n_rules:
                _run_rule(_LINE_RULES[i], line, base, hits)
            else:
                _run_plugin(i - n_rules, line, base, hits)
    if not hits:
        return []
    findings: list[Finding] = []
    line_no, counted_to = 1, 0
    for h in _merge(hits):
        line_no += text.count("\n", counted_to, h.start)
        counted_to = h.start
        key_id = _nearby_key_id(text, h.start, h.end) if h.kind.startswith("aws_") else None
        findings.append(Finding(h.kind, h.start, h.end, line_no, h.detector, key_id))
    return findings


def mask(text: str) -> tuple[str, list[Finding]]:
    """Text with every secret value replaced by "[REDACTED:<type>]", and the findings (offsets in the ORIGINAL)."""
    findings = find_secrets(text)
    if not findings:
        return text, findings
    parts, last = [], 0
    for f in findings:
        parts.append(text[last:f.start])
        parts.append(_marker(f.type))
        last = f.end
    parts.append(text[last:])
    return "".join(parts), findings

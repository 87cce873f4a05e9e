"""Structural mentions of machine identities in free text: log lines of formats without their own extractor,
ticket descriptions and comments, policy documents inside audit events.

Only identifiers with a fixed shape count — IAM role and user ARNs, assumed-role session ARNs, AKIA/ASIA access
key ids, `system:serviceaccount:NS:NAME`, GKE workload identities (`PROJECT.svc.id.goog[NS/NAME]`), GCP service
account e-mails, `name[bot]`, GitHub Actions OIDC subjects (`repo:ORG/REPO:...`) and workload-identity principal
sets, Vault `auth/approle/role/NAME` paths. A name in prose ("the svc-etl user") is not a sighting: telling it
from a person's or a product's name would be a guess.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from contextvars import ContextVar, Token
from functools import lru_cache
from typing import Any

from . import rules as R
from .model import Sighting

# Which identity shapes a text may hold, by substring (a pattern alternating over them is slower than the
# substring searches): each shape's patterns run only when its marker is present.
_MARKERS = (("arn", "arn:aws"), ("akia", "AKIA"), ("asia", "ASIA"), ("gsa", "gserviceaccount"),
            ("k8s", "serviceaccount:"), ("bot", "[bot]"), ("repo", "repo:"), ("approle", "approle/role/"),
            ("gke", "svc.id.goog"), ("pset", "attribute.repository"))
_GCP_SA_RE = re.compile(r"\b([a-z][a-z0-9-]{1,62}@[a-z][a-z0-9-]{1,62}\.iam\.gserviceaccount\.com|"
                        r"[0-9]{6,}-compute@developer\.gserviceaccount\.com|"
                        r"[a-z][a-z0-9-]{1,62}@appspot\.gserviceaccount\.com)\b")
_GKE_WI_RE = re.compile(r"\b([a-z][a-z0-9-]{1,62})\.svc\.id\.goog\[([a-z0-9][a-z0-9.-]*)/([a-z0-9][a-z0-9.-]*)\]")
_BOT_RE = re.compile(r"(?<![\w-])([A-Za-z0-9][A-Za-z0-9-]{0,38})\[bot\]")
_OIDC_SUB_RE = re.compile(r"(?<![\w/])repo:([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)(:[^\s\"'`,;)\]}]+)?")
_PRINCIPAL_SET_RE = re.compile(r"principalSet://iam\.googleapis\.com/[\w./-]+?/attribute\.repository/"
                               r"([A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+)")
_APPROLE_RE = re.compile(r"\bauth/approle/role/([A-Za-z0-9_.-]+)")
_TRAILING = ".,;:)]}>'\"`"


def _clean(s: str) -> str:
    return s.rstrip(_TRAILING)


def scan(text: str, **fields: Any) -> list[Sighting]:
    """Sightings of every structural identity mention in text, each identity once (first mention wins).

    fields are Sighting fields every sighting gets (at, action, actor, source, workload, human, privileged, ...).
    """
    if not text or not may_mention(text) or (len(text) > _CACHED_CHARS and not in_scope()):
        return []
    found = _mentions(text) if len(text) <= _CACHED_CHARS else _find(text)
    if not found:
        return []
    action = fields.get("action")
    out = []
    for identity, kind, provider, aliases, extra in found:
        kw = {**fields, **extra}
        if kind == "aws_access_key":
            kw["action"] = f"{action or 'access key mentioned'} [{R.key_kind(identity)} key]"
        out.append(Sighting(identity, kind, provider, aliases, **kw))
    return out


# The document being split (set per document by the dispatcher): whether it mentions any identity shape at all
# is worked out on first need, for long texts only (tickets, whole records), and remembered.
_DOCUMENT: ContextVar[list | None] = ContextVar("nhi_document", default=None)


def in_scope() -> bool:
    """False while splitting a document that mentions no identity shape at all."""
    doc = _DOCUMENT.get()
    if doc is None:
        return True
    if doc[1] is None:
        doc[1] = may_mention(doc[0])
    return doc[1]


def document_scope(text: str) -> Token:
    """Mark the document being split (see in_scope); reset with end_document_scope(token)."""
    return _DOCUMENT.set([text, None])


def end_document_scope(token: Token) -> None:
    _DOCUMENT.reset(token)


def may_mention(text: str) -> bool:
    """Cheap test (substring searches) that text may hold a structural identity mention."""
    return ("serviceaccount" in text or "arn:aws" in text or "AKIA" in text or "ASIA" in text or "[bot]" in text
            or "repo:" in text or "approle/role/" in text or "svc.id.goog" in text
            or "attribute.repository" in text)


_CACHED_CHARS = 512       # short texts (actor names, policy subjects, log lines) repeat: their matches are cached
Found = tuple[tuple[str, str, str, tuple[str, ...], dict], ...]


@lru_cache(maxsize=4096)
def _mentions(text: str) -> Found:
    return _find(text)


def _find(text: str) -> Found:
    """(identity, kind, provider, aliases, extra fields) of each structural mention, each identity once."""
    present = {name for name, marker in _MARKERS if marker in text}
    if not present:
        return ()
    out: dict[tuple[str, str], tuple] = {}

    def add(identity: str, kind: str, provider: str, aliases: Iterable[str] = (), **extra: Any) -> None:
        key = (kind, identity)
        if key not in out:
            out[key] = (identity, kind, provider, tuple(a for a in aliases if a and a != identity), extra)

    if "arn" in present:
        for m in R.ARN_ASSUMED_RE.finditer(text):
            arn = _clean(m.group(0))
            conv = R.assumed_to_role(arn)
            if conv and not R.human_sso_role(conv[1]):
                add(conv[0], "aws_iam_role", "aws", (arn,))
        for m in R.ARN_ROLE_RE.finditer(text):
            name = _clean(m.group(2))
            if not R.human_sso_role(name.rsplit("/", 1)[-1]):
                add(_clean(m.group(0)), "aws_iam_role", "aws")
        for m in R.ARN_USER_RE.finditer(text):
            name = _clean(m.group(2)).rsplit("/", 1)[-1]
            if R.software_account(name):
                add(_clean(m.group(0)), "aws_iam_user", "aws")
    if "akia" in present or "asia" in present:
        for m in R.ACCESS_KEY_RE.finditer(text):
            add(m.group(1), "aws_access_key", "aws", credential=m.group(1))
    if "k8s" in present:
        for m in R.K8S_SA_RE.finditer(text):
            add(R.k8s_sa(_clean(m.group(1)), _clean(m.group(2))), "k8s_service_account", "kubernetes")
    if "gke" in present:
        for m in _GKE_WI_RE.finditer(text):
            add(R.k8s_sa(m.group(2), m.group(3)), "k8s_service_account", "kubernetes", (m.group(0),))
    if "gsa" in present:
        for m in _GCP_SA_RE.finditer(text):
            add(m.group(1), "gcp_service_account", "gcp")
    if "bot" in present:
        for m in _BOT_RE.finditer(text):
            add(f"{m.group(1)}[bot]", "github_app", "github")
    if "repo" in present:
        for m in _OIDC_SUB_RE.finditer(text):
            add(_clean(m.group(0)), "github_actions_oidc", "github", (f"repo:{m.group(1)}",))
    if "pset" in present:
        for m in _PRINCIPAL_SET_RE.finditer(text):
            add(_clean(m.group(0)), "github_actions_oidc", "github", (f"repo:{m.group(1)}",))
    if "approle" in present:
        for m in _APPROLE_RE.finditer(text):
            name = _clean(m.group(1))
            add(name, "vault_role", "vault", (f"auth/approle/role/{name}",))
    return tuple(out.values())


def strings(obj: Any, out: list[str] | None = None, depth: int = 0) -> list[str]:
    """Every string value of a JSON value, depth first (bounded)."""
    if out is None:
        out = []
    if isinstance(obj, str):
        out.append(obj)
    elif depth <= 40:
        if isinstance(obj, dict):
            for v in obj.values():
                if isinstance(v, str):
                    out.append(v)
                elif isinstance(v, (dict, list)):
                    strings(v, out, depth + 1)
        elif isinstance(obj, list):
            for v in obj:
                if isinstance(v, str):
                    out.append(v)
                elif isinstance(v, (dict, list)):
                    strings(v, out, depth + 1)
    return out


def scan_object(obj: Any, *, prose: bool = False, **kw: Any) -> list[Sighting]:
    """scan() over every string value of a JSON object (a ticket, an event's request parameters); with `prose`
    (tickets) also the names a ticket gives with their kind (see `named`)."""
    if not in_scope():
        return []
    text = "\n".join(strings(obj))
    return scan(text, **kw) + (named(text, **kw) if prose else [])


# A ticket names a machine identity with what it is: "IAM user svc-etl", "app registration {{sp-x}}", "the
# `eval-runner` role", "AppRole etl-loader". The kind word is the structure: a bare name in prose stays
# unread. The name must look like a machine's (a hyphen, an underscore or a digit in it, no spaces), and ticket
# keys, dates, versions and ids are not names.
_NAME = r"[`'\"{(\[*]*([A-Za-z0-9][A-Za-z0-9._-]{2,63})[`'\"})\]*]*"
_KIND_BEFORE = (
    (r"IAM\s+users?", "aws_iam_user", "aws"),
    (r"(?:IAM|IRSA|execution|task|instance)\s+roles?", "aws_iam_role", "aws"),
    (r"(?:app\s+registrations?|service\s+principals?|managed\s+identit(?:y|ies)|enterprise\s+apps?)",
     "azure_service_principal", "azure"),
    (r"(?:AppRoles?|Vault\s+roles?)", "vault_role", "vault"),
    (r"GitHub\s+Apps?", "github_app", "github"),
    (r"(?:deploy\s+keys?|(?:fine-grained\s+|classic\s+)?(?:PATs?|personal\s+access\s+tokens?))",
     "github_pat_or_deploy_key", "github"),
    (r"(?:GCP\s+service\s+accounts?|Google\s+service\s+accounts?)", "gcp_service_account", "gcp"),
    (r"(?:Kubernetes|k8s|K8s)\s+service\s+accounts?", "k8s_service_account", "kubernetes"),
    (r"(?:service\s+accounts?|machine\s+users?|bot\s+(?:users?|accounts?)|technical\s+accounts?|"
     r"system\s+accounts?|(?:upload-only|sftp|chroot(?:ed)?(?:\s+upload-only)?)\s+accounts?|"
     r"pipeline\s+identit(?:y|ies)|API\s+clients?|client\s+ids?)", "other", "other"),
)
_BEFORE_RES = tuple((re.compile(rf"\b{p}\s+(?:(?:called|named|is|was|for|of)\s+)?{_NAME}", re.I), kind, prov)
                    for p, kind, prov in _KIND_BEFORE)
_ROLE_AFTER_RE = re.compile(rf"{_NAME}\s+(?:IAM\s+|IRSA\s+)?role\b", re.I)
_NOT_A_NAME = re.compile(r"^(?:[A-Z][A-Z0-9]+-\d+|\d{4}-\d{2}(?:-\d{2})?.*|v?\d+(?:\.\d+)+|[0-9a-f-]{16,}|"
                         r"\d+(?:\.\d+){3}|[A-Z]{2,}\d{5,}|the|this|that|with|and|for|from|was|has|had)$", re.I)


def _machine_name(name: str) -> bool:
    name = name.rstrip("._-")
    return (len(name) >= 3 and any(c in name for c in "-_0123456789") and not _NOT_A_NAME.match(name)
            and not name.lower().startswith(("http", "www.", "arn:", "system:", "repo:")))


# Where a kind phrase can start: the first words of the phrases above (every match of a phrase pattern starts at
# one), found in one pass; and where a "<name> role" can end. Running the phrase patterns only there gives the same
# matches as running each over the whole text, at a fraction of the cost on long tickets.
_KIND_START_WORDS = ("iam", "irsa", "execution", "task", "instance", "app", "service", "managed", "enterprise",
                     "vault", "github", "deploy", "fine-grained", "classic", "pat", "personal", "gcp", "google",
                     "kubernetes", "k8s", "machine", "bot", "technical", "system", "upload-only", "sftp", "chroot",
                     "pipeline", "api", "client")
_KIND_START_RE = re.compile(r"\b(?:" + "|".join(map(re.escape, _KIND_START_WORDS)) + ")", re.I)
_ROLE_WORD_RE = re.compile(r"\s+(?:IAM\s+|IRSA\s+)?role\b", re.I)
_NAME_AT_END_RE = re.compile(_NAME + r"\Z")
_NAME_SPAN = 80          # a name and its quotes or brackets before " role" fit in this many characters


def _kind_starts(text: str) -> list[int]:
    """The positions _KIND_START_RE matches, by substring search on the lower-cased text (the pattern, case-
    insensitive over thirty alternatives, is slow on long tickets)."""
    low = text.lower()
    if len(low) != len(text):         # lower-casing moved offsets (rare characters): use the pattern
        return [m.start() for m in _KIND_START_RE.finditer(text)]
    found = set()
    for w in _KIND_START_WORDS:
        i = low.find(w)
        while i >= 0:
            if i == 0 or not (low[i - 1].isalnum() or low[i - 1] == "_"):
                found.add(i)
            i = low.find(w, i + 1)
    return sorted(found)


def named(text: str, **fields: Any) -> list[Sighting]:
    """Machine identities a ticket names together with their kind, each once (see the note above)."""
    if not text:
        return []
    out: dict[str, Sighting] = {}
    starts = _kind_starts(text)
    for rx, kind, provider in _BEFORE_RES:
        end = 0
        for pos in starts:            # leftmost, non-overlapping: as rx.finditer(text) would find them
            if pos < end:
                continue
            m = rx.match(text, pos)
            if m is None:
                continue
            end = m.end()
            name = m.group(1).rstrip("._-")
            if _machine_name(name) and name.lower() not in out:
                out[name.lower()] = Sighting(name, kind, provider, **fields)
    end = 0
    for m in _ROLE_WORD_RE.finditer(text):
        before = _NAME_AT_END_RE.search(text, max(end, m.start() - _NAME_SPAN), m.start())
        end = m.end()
        if before is None:
            continue
        name = before.group(1).rstrip("._-")
        if _machine_name(name) and name.lower() not in out:
            out[name.lower()] = Sighting(name, "aws_iam_role", "aws", **fields)
    return list(out.values())

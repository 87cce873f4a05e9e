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
    (r"(?:app\s+registrations?|service\s+principals?|managed\s+identit(?:y|ies)|enterprise\s+apps?|"
     r"client\s+secrets?\s+(?:for|of))", "azure_service_principal", "azure"),
    (r"(?:AppRoles?|Vault\s+roles?)", "vault_role", "vault"),
    (r"GitHub\s+Apps?", "github_app", "github"),
    (r"(?:deploy\s+keys?|(?:fine-grained\s+|classic\s+)?(?:PATs?|personal\s+access\s+tokens?))",
     "github_pat_or_deploy_key", "github"),
    (r"(?:GCP\s+service\s+accounts?|Google\s+service\s+accounts?|GCP\s+SAs?|Google\s+SAs?)",
     "gcp_service_account", "gcp"),
    (r"(?:Kubernetes|k8s|K8s|EKS|AKS|GKE|OpenShift)\s+service\s+accounts?", "k8s_service_account", "kubernetes"),
    # host accounts: a local user, an SFTP account, the account whose SSH keys a ticket moves
    (r"(?:local\s+(?:service\s+)?(?:users?|accounts?)|(?:Unix|Linux|host|OS)\s+(?:service\s+)?(?:users?|accounts?)|"
     r"(?:upload-only|sftp|chroot(?:ed)?(?:\s+upload-only)?)(?:\s+sftp)?\s+accounts?|"
     r"SSH\s+keys?\s+(?:in|from|of|on|to)(?:\s+the)?)", "unix_service_account", "unix"),
    (r"(?:API\s+(?:clients?|keys?)|integration\s+(?:users?|accounts?))", "api_client", "other"),
    (r"(?:service\s+accounts?|machine\s+users?|bot\s+(?:users?|accounts?)|technical\s+accounts?|"
     r"system\s+accounts?|pipeline\s+identit(?:y|ies)|client\s+ids?)", "other", "other"),
)
_BEFORE_RES = tuple((re.compile(rf"\b{p}\s+(?:(?:called|named|is|was|for|of)\s+)?{_NAME}", re.I), kind, prov)
                    for p, kind, prov in _KIND_BEFORE)
_NOT_A_NAME = re.compile(r"^(?:\d{4}-\d{2}(?:-\d{2})?.*|v?\d+(?:\.\d+)+|[0-9a-f-]{16,}|\d+(?:\.\d+){3}|"
                         r"secret[-_]ids?|role[-_]ids?|the|this|that|with|and|for|from|was|has|had)$", re.I)
_RECORD_KEY = re.compile(r"^(?:[A-Z][A-Z0-9]+-\d+|[A-Z]{2,}\d{5,})$")   # OPS-123, CHG0031877 (case matters)


# A long run of letters and digits of mixed classes is a secret or a random id, not a name a person gave: a ticket
# that pastes a key ("Acme API key sk_live_51HxAbC...") must not make the value an identity.
_RANDOM_RUN_RE = re.compile(r"[A-Za-z0-9]{16,}")


def _looks_random(name: str) -> bool:
    for m in _RANDOM_RUN_RE.finditer(name):
        run = m.group(0)
        if sum((any(c.islower() for c in run), any(c.isupper() for c in run), any(c.isdigit() for c in run))) >= 2:
            return True
    return False


def _machine_name(name: str) -> bool:
    name = name.rstrip("._-")
    return (len(name) >= 3 and any(c in name for c in "-_0123456789") and any(c.isalpha() for c in name)
            and not _NOT_A_NAME.match(name) and not _RECORD_KEY.match(name) and not _looks_random(name)
            and not name.lower().startswith(("http", "www.", "arn:", "system:", "repo:")))


# Where a kind phrase can start: the first words of the phrases above (every match of a phrase pattern starts at
# one), found in one pass; and where a "<name> role" can end. Running the phrase patterns only there gives the same
# matches as running each over the whole text, at a fraction of the cost on long tickets.
_KIND_START_WORDS = ("iam", "irsa", "execution", "task", "instance", "app", "service", "managed", "enterprise",
                     "client", "vault", "github", "deploy", "fine-grained", "classic", "pat", "personal", "gcp",
                     "google", "kubernetes", "k8s", "eks", "aks", "gke", "openshift", "local", "unix", "linux",
                     "host", "os", "upload-only", "sftp", "chroot", "ssh", "api", "integration", "machine", "bot",
                     "technical", "system", "pipeline")
_KIND_START_RE = re.compile(r"\b(?:" + "|".join(map(re.escape, _KIND_START_WORDS)) + ")", re.I)
_ROLE_WORD_RE = re.compile(r"\s+(?:IAM\s+|IRSA\s+)?role\b")   # lower case: "Role of the ..." starts a heading
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


def prose(text: str, known: list[Sighting], **fields: Any) -> list[Sighting]:
    """The identities a ticket's text names with their kind (`named`) that are not already among `known`."""
    seen = {s.identity.lower() for s in known} | {a.lower() for s in known for a in s.aliases}
    fields.setdefault("actor", False)
    fields.setdefault("action", "named in a ticket")
    return [s for s in named(text, **fields)
            if s.identity.lower() not in seen and not any(a.lower() in seen for a in s.aliases)]


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
    for m in _K8S_NS_NAME_RE.finditer(text):
        ns, name = m.group(1), m.group(2).rstrip("._-")
        ident = R.k8s_sa(ns, name)
        out.setdefault(ident.lower(), Sighting(ident, "k8s_service_account", "kubernetes", (f"{ns}/{name}",),
                                               **fields))
        out.pop(ns.lower(), None)           # "service account NS/NAME": NS alone was read as the name above
    for ident, kind, provider, aliases in (*_masked(text), *_vendor_keys(text), *_table_identities(text)):
        if ident.lower() not in out and not any(a.lower() in out for a in aliases):
            out[ident.lower()] = Sighting(ident, kind, provider, aliases, **fields)
    end = 0
    for m in _ROLE_WORD_RE.finditer(text):
        before = _NAME_AT_END_RE.search(text, max(end, m.start() - _NAME_SPAN), m.start())
        end = m.end()
        if before is None:
            continue
        name = before.group(1).rstrip("._-")
        if _machine_name(name) and name.lower() not in out:
            out[name.lower()] = Sighting(name, "aws_iam_role", "aws", **fields)
    if "credential_event" in fields:
        return list(out.values())
    return [_with_lifecycle(text, s, fields) for s in out.values()]


# What a sentence says happened to a credential: the verbs of its lifecycle (disabling or deactivating is not an
# event of its own). The sentence is the one that names the identity.
_LIFECYCLE = (("deleted", re.compile(r"\b(?:revok|delet|destroy|remov|purg|decommission)\w*", re.I)),
              ("rotated", re.compile(r"\b(?:rotat|regenerat|re-?issu|renew)\w*|\breplac\w*\s+(?:the\s+)?(?:old\s+)?"
                                     r"(?:client\s+)?(?:secret|key|token|password)", re.I)),
              ("created", re.compile(r"\b(?:creat|mint|generat|issu)\w*", re.I)))
_SENTENCE_END = re.compile(r"[.;!?](?=\s|$)|\n")


def _with_lifecycle(text: str, s: Sighting, fields: dict) -> Sighting:
    i = text.find(s.identity)
    if i < 0:
        i = next((j for j in (text.find(a) for a in s.aliases) if j >= 0), -1)
    if i < 0:
        return s
    start = max((m.end() for m in _SENTENCE_END.finditer(text, max(0, i - 300), i)), default=max(0, i - 300))
    m = _SENTENCE_END.search(text, i + len(s.identity))
    sentence = text[start:m.start() if m else min(len(text), i + 300)]
    event = next((e for e, rx in _LIFECYCLE if rx.search(sentence)), None)
    if event is None:
        return s
    return Sighting(s.identity, s.kind, s.provider, s.aliases, **{**fields, "credential_event": event})


# "EKS service account NS/NAME", "federated credential for NS/NAME": a Kubernetes service account written as
# namespace/name (DNS-label characters), canonical as system:serviceaccount:NS:NAME.
_K8S_NS_NAME_RE = re.compile(
    r"\b(?:(?:(?:Kubernetes|k8s|EKS|AKS|GKE|OpenShift)\s+)?service\s+accounts?|federated\s+(?:identity\s+)?"
    r"credentials?\s+for|workload\s+identity\s+for)\s+[`'\"]?([a-z0-9][a-z0-9-]{0,62})/([a-z0-9][a-z0-9.-]{0,252})\b",
    re.I)

# A credential written masked: a key id or token with its middle replaced ("AKIA...Q7MX", "lw-proj-••••Q7vT",
# "ghp_****9fQx"). The visible prefix must be a known key prefix or end with - or _ (a token's type prefix), so an
# ellipsis in prose is not a key.
_MASK = r"(?:•{2,}|\*{3,}|\.{3}|…|x{4,}|X{4,})"
_MASKED_RE = re.compile(rf"(?<![\w-])((?:AKIA|ASIA|AIza|[A-Za-z][A-Za-z0-9]*[-_](?:[A-Za-z0-9]+[-_])*){_MASK}"
                        rf"([A-Za-z0-9]{{2,8}}))(?![\w-])")
_MASK_KINDS = (("AKIA", "aws_access_key", "aws"), ("ASIA", "aws_access_key", "aws"),
               ("github_pat_", "github_pat_or_deploy_key", "github"), ("ghp_", "github_pat_or_deploy_key", "github"),
               ("gho_", "github_pat_or_deploy_key", "github"), ("ghs_", "github_app", "github"),
               ("glpat-", "github_pat_or_deploy_key", "gitlab"))


def _masked(text: str) -> list[tuple[str, str, str, tuple]]:
    if not any(m in text for m in ("••", "***", "...", "…", "xxxx", "XXXX")):
        return []
    out = []
    for m in _MASKED_RE.finditer(text):
        token, tail = m.group(1), m.group(2)
        kind, provider = next(((k, p) for pre, k, p in _MASK_KINDS if token.startswith(pre)), ("api_client", "other"))
        if kind == "api_client" and not _near_key_word(text, m.start()):
            continue                  # an unknown prefix counts only where the text says it is a key or token
        if "..." in token and not any(c.isdigit() or c.isupper() for c in tail):
            continue
        out.append((token, kind, provider, ()))
    return out


_KEY_WORD_RE = re.compile(r"\b(?:keys?|tokens?|secrets?|credentials?)\b", re.I)


def _near_key_word(text: str, pos: int, span: int = 60) -> bool:
    return _KEY_WORD_RE.search(text, max(0, pos - span), pos) is not None


# "Acme API key report-eval", "revoke Globex key etl-nightly": a vendor's API key named by its label. The word before
# "key" is a capitalised product name; words that make "X key" something else are not vendors.
_VENDOR_KEY_RE = re.compile(rf"\b([A-Z][A-Za-z0-9]+)\s+(?:API\s+)?keys?\s+(?:(?:called|named|labelled)\s+)?{_NAME}")
_NOT_VENDOR = frozenset((
    "the", "this", "that", "a", "an", "its", "their", "our", "new", "old", "ssh", "gpg", "pgp", "access", "private",
    "public", "deploy", "signing", "encryption", "kms", "master", "root", "host", "secret", "service", "account",
    "client", "session", "primary", "secondary", "user", "api", "aws", "iam", "rsa", "ed25519", "ecdsa", "license",
    "licence", "partition", "sort", "foreign", "row", "hash", "cache", "idempotency", "routing", "one",
    "each", "every", "same", "static", "temporary", "personal", "shared", "leaked", "exposed", "compromised",
    "rotate", "rotated", "revoke", "revoked", "delete", "deleted", "create", "created", "add", "added", "remove",
    "removed", "disable", "disabled", "replace", "replaced", "use", "used", "which", "what", "no", "any", "second",
))


def _vendor_keys(text: str) -> list[tuple[str, str, str, tuple]]:
    if " key" not in text and " Key" not in text:
        return []
    out = []
    for m in _VENDOR_KEY_RE.finditer(text):
        vendor, name = m.group(1), m.group(2).rstrip("._-")
        if vendor.lower() in _NOT_VENDOR or not _machine_name(name):
            continue
        out.append((name, "api_client", "other", ()))
    return out


# Inventory tables: an inventory script's output, `kubectl get sa -A`, a Markdown table in a ticket, a CSV export's
# row ("column: value" lines). Columns named for what they hold make the identity: project + account id make the
# GCP service account e-mail; namespace + name of service accounts the Kubernetes one; an app (client) id beside a
# display name an Azure service principal. Each rule needs its column names in the header.
_SA_COLS = ("sa", "service_account", "serviceaccount", "account_id", "account")
_PROJECT_COLS = ("project", "project_id", "gcp_project")
_NS_COLS = ("namespace", "ns")
_APP_ID_COLS = ("appid", "app_id", "application_client_id", "application_id", "client_id")
_DISPLAY_COLS = ("displayname", "display_name", "name", "app_name", "application_name")
_GCP_ID_RE = re.compile(r"^[a-z][a-z0-9-]{4,28}[a-z0-9]$")
_DNS_LABEL_RE = re.compile(r"^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$")
_UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)
_KV_LINE_RE = re.compile(r"^([A-Za-z][\w ()/.-]{0,40}):\s+(\S.*)$")


def _col(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().strip("`*").lower()).strip("_")


def _cells(line: str) -> list[str]:
    if line.count("|") >= 2:
        return [c.strip().strip("`") for c in line.strip().strip("|").split("|")]
    return line.split()


def _table_rows(text: str):
    """Rows (column -> value) of the whitespace or Markdown tables in text whose header names a known column,
    and of a "column: value" record."""
    lines = text.split("\n")
    kv = [m for m in (_KV_LINE_RE.match(ln) for ln in lines if ln.strip()) if m]
    if len(kv) >= 2 and len(kv) * 2 >= len([ln for ln in lines if ln.strip()]):
        yield {_col(m.group(1)): m.group(2).strip() for m in kv}
    for i, line in enumerate(lines):
        low = line.lower()
        if not any(w in low for w in ("project", "namespace", "appid", "app_id", "app id", "client id")):
            continue
        head = [_col(c) for c in _cells(line)]
        if len(head) < 2 or len(head) > 30:
            continue
        for row in lines[i + 1:i + 2000]:
            if not row.strip() or row.lstrip().startswith("```"):
                break
            if set(row.strip()) <= set("|-:+ "):
                continue
            cells = _cells(row)
            if len(cells) >= len(head) - 1:          # a last empty column may be dropped
                yield dict(zip(head, cells, strict=False))


def _row_identities(row: dict[str, str]) -> list[tuple[str, str, str, tuple]]:
    def get(cols: tuple[str, ...]) -> str | None:
        return next((row[c].strip("`") for c in cols if row.get(c)), None)

    out = []
    account, project = get(_SA_COLS), get(_PROJECT_COLS)
    if account and project:
        if "@" in account and account.endswith(".gserviceaccount.com"):
            out.append((account, "gcp_service_account", "gcp", (account.split("@", 1)[0],)))
        elif _GCP_ID_RE.match(account) and _GCP_ID_RE.match(project):
            out.append((f"{account}@{project}.iam.gserviceaccount.com", "gcp_service_account", "gcp", (account,)))
    ns, name = get(_NS_COLS), row.get("name")
    is_sa = "secrets" in row or any(c in row for c in ("serviceaccount", "service_account")) or \
        (row.get("kind") or "").lower() == "serviceaccount"
    if ns and is_sa:
        sa = get(("serviceaccount", "service_account")) or name
        if sa and _DNS_LABEL_RE.match(ns) and _DNS_LABEL_RE.match(sa):
            out.append((R.k8s_sa(ns, sa), "k8s_service_account", "kubernetes", (f"{ns}/{sa}",)))
    app_id = get(_APP_ID_COLS)
    if app_id and _UUID_RE.match(app_id) and any(c in row for c in ("appid", "app_id", "application_client_id")):
        display = get(_DISPLAY_COLS)
        out.append((display or app_id, "azure_service_principal", "azure", (app_id,) if display else ()))
    return out


def _table_identities(text: str) -> list[tuple[str, str, str, tuple]]:
    out: list[tuple[str, str, str, tuple]] = []
    for row in _table_rows(text):
        out += _row_identities(row)
    return out

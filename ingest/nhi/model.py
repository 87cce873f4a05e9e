"""The sighting: one record's evidence that a non-human identity (NHI) exists, acted, or was acted upon.

A sighting is a fact with provenance, not an inventory entry: the same identity is sighted once per record that
shows it, and a later stage merges sightings into the inventory. Every value is copied from the record (or
derived from it by a rule in `rules.py`), never guessed from names in prose, and never a secret value: key ids,
token accessors, key fingerprints and secret-id accessors are identifiers; secret keys, session tokens,
passwords and client tokens are never read into a sighting.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from typing import Any

KINDS = ("aws_iam_role", "aws_iam_user", "aws_access_key", "k8s_service_account", "vault_role", "vault_token",
         "github_app", "github_actions_oidc", "github_pat_or_deploy_key", "gcp_service_account",
         "azure_service_principal", "unix_service_account", "api_client", "other")
PROVIDERS = ("aws", "kubernetes", "vault", "github", "gcp", "azure", "unix", "app", "other")
CREDENTIAL_EVENTS = ("created", "rotated", "deleted", "used_after_expiry", "used")

# An identity the record names only indirectly (a pod, a Vault role_id, a token accessor): the extractor writes
# PENDING + a lookup key into `identity`, and `extract.collect` replaces it with the identity another sighting of
# the same document ties to that key, or drops the sighting when none does.
PENDING = "?"


_KINDS, _PROVIDERS, _EVENTS = frozenset(KINDS), frozenset(PROVIDERS), frozenset(CREDENTIAL_EVENTS)


@dataclass(frozen=True, init=False)
class Sighting:
    """One record's evidence about one machine identity.

    identity          canonical id as written in the evidence (an ARN, `system:serviceaccount:NS:NAME`, an SA
                      e-mail, `auth/approle/role/NAME`, a unix user name, ...)
    kind, provider    one of KINDS / PROVIDERS
    aliases           other names the same record gives the identity (session ARN, Vault display name, ...)
    at                ISO-8601 UTC time of the event; None = the record's own timestamp (filled in by collect)
    action            what happened: eventName, "verb resource", "vault <op> <path>", "sshd Accepted publickey", ...
    credential_event  None, or "created" / "rotated" / "deleted" / "used_after_expiry" / "used" for credential
                      lifecycle events only
    credential        the credential's id when shown (access key id, key id, accessor, fingerprint): never a secret
    owner             only when the record states one (an owner tag or field)
    workload          the workload the record names (k8s pod or namespace, host, repository, client tool)
    source            where it was used from (source IP, host, user agent)
    privileged        admin / owner / wildcard / cluster-admin grants or roles used by or granted to it
    human_use         a person used it (console or browser session, interactive shell, TTY, password login,
                      kubectl from a workstation, a token minted by a person)
    human             the person who used or administered it, when the record shows one
    actor             True when the identity performed the event; False when the event acted on it (a key created
                      for it, a role bound to it, a ticket naming it): "last used" counts actor sightings only
    record_index, line_start, line_end   provenance, filled from the record's Block
    """
    identity: str
    kind: str
    provider: str
    aliases: tuple[str, ...] = ()
    at: str | None = None
    action: str | None = None
    credential_event: str | None = None
    credential: str | None = None
    owner: str | None = None
    workload: str | None = None
    source: str | None = None
    privileged: bool = False
    human_use: bool = False
    human: str | None = None
    actor: bool = True
    record_index: int | None = None
    line_start: int | None = None
    line_end: int | None = None

    # A hand-written __init__: the generated one of a frozen dataclass sets every field through
    # object.__setattr__, and building sightings was a third of the cost of splitting an audit log. Fields left
    # at their default are not stored on the instance (the class attribute answers), which keeps the per-record
    # dicts attached to blocks small.
    def __init__(self, identity: str, kind: str, provider: str, aliases: tuple[str, ...] = (),
                 at: str | None = None, action: str | None = None, credential_event: str | None = None,
                 credential: str | None = None, owner: str | None = None, workload: str | None = None,
                 source: str | None = None, privileged: bool = False, human_use: bool = False,
                 human: str | None = None, actor: bool = True, record_index: int | None = None,
                 line_start: int | None = None, line_end: int | None = None) -> None:
        if kind not in _KINDS:
            raise ValueError(f"unknown NHI kind {kind!r}")
        if provider not in _PROVIDERS:
            raise ValueError(f"unknown NHI provider {provider!r}")
        if credential_event is not None and credential_event not in _EVENTS:
            raise ValueError(f"unknown credential event {credential_event!r}")
        d = self.__dict__
        d["identity"], d["kind"], d["provider"] = identity, kind, provider
        if aliases:
            d["aliases"] = aliases if type(aliases) is tuple else tuple(aliases)
        if at is not None:
            d["at"] = at
        if action is not None:
            d["action"] = action
        if credential_event is not None:
            d["credential_event"] = credential_event
        if credential is not None:
            d["credential"] = credential
        if owner is not None:
            d["owner"] = owner
        if workload is not None:
            d["workload"] = workload
        if source is not None:
            d["source"] = source
        if privileged:
            d["privileged"] = True
        if human_use:
            d["human_use"] = True
        if human is not None:
            d["human"] = human
        if not actor:
            d["actor"] = False
        if record_index is not None:
            d["record_index"] = record_index
        if line_start is not None:
            d["line_start"] = line_start
        if line_end is not None:
            d["line_end"] = line_end

    @property
    def pending(self) -> bool:
        return self.identity.startswith(PENDING)

    def to_dict(self) -> dict:
        """A JSON-safe dict of every field (aliases as a list)."""
        d = {**DEFAULTS, **self.__dict__}
        d["aliases"] = list(self.aliases)
        return d

    def compact(self) -> dict:
        """A JSON-safe dict of the fields that differ from their defaults (what blocks carry; see full())."""
        d = dict(self.__dict__)
        if "aliases" in d:
            d["aliases"] = list(d["aliases"])
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Sighting:
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        kw["aliases"] = tuple(kw.get("aliases") or ())
        return cls(**kw)

    def with_(self, **changes: Any) -> Sighting:
        return replace(self, **changes)


FIELDS = tuple(f.name for f in fields(Sighting))
DEFAULTS: dict[str, Any] = {f.name: f.default for f in fields(Sighting) if f.name not in ("identity", "kind",
                                                                                          "provider")}
DEFAULTS["aliases"] = []


def full(d: dict) -> dict:
    """A compact sighting dict with every field (a fresh dict; aliases a fresh list)."""
    out = {**DEFAULTS, **d}
    out["aliases"] = list(out["aliases"])
    return out

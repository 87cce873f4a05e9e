"""The AWS IAM credential report (`aws iam get-credential-report`, decoded; or downloaded from the console): one
row per IAM user with its password, MFA, access-key and certificate state. An access review's usual evidence.

Columns as AWS documents them: user, arn, user_creation_time, password_enabled, password_last_used,
password_last_changed, password_next_rotation, mfa_active, access_key_{1,2}_active,
access_key_{1,2}_last_rotated, access_key_{1,2}_last_used_date, access_key_{1,2}_last_used_region,
access_key_{1,2}_last_used_service, cert_{1,2}_active, cert_{1,2}_last_rotated. Values that do not apply are
`N/A`, `not_supported` or `no_information`.
"""

from __future__ import annotations

from dataclasses import dataclass

from ingest.nhi import rules as R
from ingest.nhi.extract import iso
from ingest.nhi.model import Sighting

from ..base import Block, Container, CsvTable, Example, RecordFormat, RecordKind
from ..timestamps import fmt_ts, parse_ts, span

_REQUIRED = ("user", "arn", "user_creation_time", "password_enabled", "access_key_1_active",
             "access_key_1_last_rotated")
_NOT_A_VALUE = ("", "n/a", "not_supported", "no_information")


@dataclass(frozen=True)
class _Columns:
    header: list[str]
    at: dict[str, int]             # column name (lower case) -> position


def detect(table: CsvTable) -> _Columns | None:
    at = {h.strip().lower(): i for i, h in enumerate(table.header)}
    return _Columns(table.header, at) if all(c in at for c in _REQUIRED) else None


def _cell(row: list[str], cols: _Columns, name: str) -> str | None:
    i = cols.at.get(name)
    if i is None or i >= len(row):
        return None
    v = row[i].strip()
    return None if v.lower() in _NOT_A_VALUE else v


def _yes(row: list[str], cols: _Columns, name: str) -> bool:
    return (_cell(row, cols, name) or "").lower() == "true"


def render(row: list[str], cols: _Columns) -> Block:
    """One user: password and MFA, each access key (active, last rotated, last used where and for what)."""
    user = _cell(row, cols, "user") or "?"
    lines = [f"IAM user {user}" + (f" ({_cell(row, cols, 'arn')})" if _cell(row, cols, "arn") else "")]
    stamps = [parse_ts(_cell(row, cols, "user_creation_time"))]
    created = stamps[0]
    lines.append(f"created {fmt_ts(created) if created else 'unknown'}; console password "
                 f"{'enabled' if _yes(row, cols, 'password_enabled') else 'disabled'}"
                 + (f", last used {_cell(row, cols, 'password_last_used')}"
                    if _cell(row, cols, "password_last_used") else "")
                 + f"; MFA {'active' if _yes(row, cols, 'mfa_active') else 'not active'}")
    for n in (1, 2):
        rotated = parse_ts(_cell(row, cols, f"access_key_{n}_last_rotated"))
        used = parse_ts(_cell(row, cols, f"access_key_{n}_last_used_date"))
        if rotated is None and not _yes(row, cols, f"access_key_{n}_active"):
            continue
        stamps += [rotated, used]
        where = " ".join(x for x in (_cell(row, cols, f"access_key_{n}_last_used_service"),
                                     _cell(row, cols, f"access_key_{n}_last_used_region")) if x)
        lines.append(f"access key {n}: {'active' if _yes(row, cols, f'access_key_{n}_active') else 'inactive'}, "
                     f"last rotated {fmt_ts(rotated) if rotated else 'unknown'}, last used "
                     f"{fmt_ts(used) if used else 'never'}" + (f" ({where})" if where else ""))
    for n in (1, 2):
        if _yes(row, cols, f"cert_{n}_active"):
            lines.append(f"signing certificate {n}: active, last rotated {_cell(row, cols, f'cert_{n}_last_rotated')}")
    ts_start, ts_end = span(stamps)
    return Block(text="\n".join(lines), kind="record", ts_start=ts_start, ts_end=ts_end, section=user,
                 meta={"principal": user})


def identities(row: list[str], cols: _Columns) -> list[Sighting]:
    """A user with an access key and no console password, or with a software name, is a machine identity: its
    keys' creation (last rotation) and last use. People (console password, a person's name) and the root
    account are not."""
    user, arn = _cell(row, cols, "user"), _cell(row, cols, "arn")
    if not user or user.startswith("<root") or not arn or ":user/" not in arn:
        return []
    has_key = any(_yes(row, cols, f"access_key_{n}_active") or _cell(row, cols, f"access_key_{n}_last_rotated")
                  for n in (1, 2))
    password = _yes(row, cols, "password_enabled")
    if not (R.service_like(user) or (has_key and not password and not R.person_like(user))):
        return []
    out = [Sighting(arn, "aws_iam_user", "aws", (user,), at=iso(parse_ts(_cell(row, cols, "user_creation_time"))),
                    action="IAM user created", actor=False)]
    for n in (1, 2):
        rotated = parse_ts(_cell(row, cols, f"access_key_{n}_last_rotated"))
        used = parse_ts(_cell(row, cols, f"access_key_{n}_last_used_date"))
        active = _yes(row, cols, f"access_key_{n}_active")
        if rotated is not None:
            out.append(Sighting(arn, "aws_iam_user", "aws", (user,), at=iso(rotated), credential_event="created",
                                credential=f"access key {n}", actor=False,
                                action=f"access key {n} created or last rotated "
                                       f"({'active' if active else 'inactive'})"))
        if used is not None:
            where = " ".join(x for x in (_cell(row, cols, f"access_key_{n}_last_used_service"),
                                         _cell(row, cols, f"access_key_{n}_last_used_region")) if x)
            out.append(Sighting(arn, "aws_iam_user", "aws", (user,), at=iso(used), credential=f"access key {n}",
                                action=f"access key {n} last used" + (f" ({where})" if where else "")))
    if password:
        out[0] = Sighting(arn, "aws_iam_user", "aws", (user,), at=out[0].at, actor=False, human_use=True,
                          action="IAM user created; console password enabled on a machine identity")
    return out


_EXAMPLE = (
    "user,arn,user_creation_time,password_enabled,password_last_used,password_last_changed,"
    "password_next_rotation,mfa_active,access_key_1_active,access_key_1_last_rotated,access_key_1_last_used_date,"
    "access_key_1_last_used_region,access_key_1_last_used_service,access_key_2_active,access_key_2_last_rotated,"
    "access_key_2_last_used_date,access_key_2_last_used_region,access_key_2_last_used_service,cert_1_active,"
    "cert_1_last_rotated,cert_2_active,cert_2_last_rotated\n"
    "<root_account>,arn:aws:iam::111122223333:root,2019-01-01T00:00:00+00:00,not_supported,"
    "2025-10-01T10:00:00+00:00,not_supported,not_supported,true,false,N/A,N/A,N/A,N/A,false,N/A,N/A,N/A,N/A,false,"
    "N/A,false,N/A\n"
    "report-export,arn:aws:iam::111122223333:user/report-export,2022-02-01T00:00:00+00:00,false,N/A,N/A,N/A,false,"
    "true,2022-02-01T00:00:00+00:00,2025-11-29T02:00:00+00:00,eu-west-1,s3,false,N/A,N/A,N/A,N/A,false,N/A,false,"
    "N/A\n"
)

FORMAT = RecordFormat(
    name="aws_credential_report", kind=RecordKind.AWS_CREDENTIAL_REPORT, container=Container.CSV,
    detect=detect, render=render, identities=identities,
    example=Example("text/csv", _EXAMPLE))

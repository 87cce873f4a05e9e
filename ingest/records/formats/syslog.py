"""Syslog files (auth.log, secure, messages): RFC 3164 and RFC 5424 lines, and ISO-timestamped
`host program[pid]: message` lines (rsyslog high-precision format)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from ingest.nhi import rules as R
from ingest.nhi.model import Sighting

from ..base import Block, Container, Example, LogEvent, RecordFormat, RecordKind
from ..logline import LEVEL_RE, iso_prefix
from ..timestamps import parse_ts

_MONTHS = {m: i for i, m in enumerate(("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
                                       "Nov", "Dec"), 1)}
_RFC3164_RE = re.compile(r"^(?:<\d{1,3}>)?(Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s+(\d{1,2})\s+"
                         r"(\d{2}):(\d{2}):(\d{2})(?:\.\d+)?\s+(\S+)\s+(\S.*)$")
_RFC5424_RE = re.compile(r"^<(\d{1,3})>1\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*(.*)$")
_ISO_SYSLOG_REST_RE = re.compile(r"^(\S+)\s+([\w./@-]+)(?:\[(\d+)\])?:\s")
_TAG_RE = re.compile(r"^([\w./@-]+)(?:\[(\d+)\])?:")


def detect(line: str) -> dict | None:
    """The parts of a syslog line that starts an event, or None."""
    m = _RFC3164_RE.match(line)
    if m:
        mon, day, hh, mi, ss, host, rest = m.groups()
        tag = _TAG_RE.match(rest)
        return {"md": (_MONTHS[mon], int(day), int(hh), int(mi), int(ss)), "host": host,
                "program": tag.group(1) if tag else None, "pid": tag.group(2) if tag else None}
    m = _RFC5424_RE.match(line)
    if m:
        _, ts, host, app, procid, _, _ = m.groups()
        return {"ts": parse_ts(ts) if ts != "-" else None,
                "host": None if host == "-" else host, "program": None if app == "-" else app,
                "pid": None if procid == "-" else procid}
    iso = iso_prefix(line)
    if iso:
        ts, rest = iso
        sm = _ISO_SYSLOG_REST_RE.match(rest)
        if sm and not LEVEL_RE.fullmatch(sm.group(1)):
            return {"ts": ts, "host": sm.group(1), "program": sm.group(2), "pid": sm.group(3)}
    return None


def _utcnow() -> datetime:
    """The package's clock, looked up when called so that tests can pin `ingest.records._utcnow`."""
    from ingest import records
    return records._utcnow()


def infer_years(events: list[LogEvent]) -> None:
    """RFC 3164 has no year: assume the current one, step across Dec->Jan rollovers, and go back a year if the
    newest event would otherwise lie in the future."""
    dated = [ev for ev in events if "md" in ev.info]
    if not dated:
        return
    offsets, offset, prev_month = [], 0, None
    for ev in dated:
        month = ev.info["md"][0]
        if prev_month is not None and month < prev_month - 6:
            offset += 1
        prev_month = month
        offsets.append(offset)
    now = _utcnow()
    base = now.year - offsets[-1]

    def build(ev: LogEvent, year: int) -> datetime | None:
        mo, d, hh, mi, ss = ev.info["md"]
        try:
            return datetime(year, mo, d, hh, mi, ss, tzinfo=UTC)
        except ValueError:
            return None

    last = build(dated[-1], base + offsets[-1])
    if last is not None and last > now + timedelta(days=1):
        base -= 1
    for ev, off in zip(dated, offsets, strict=True):
        ev.ts = build(ev, base + off)


def render(text: str, event: LogEvent) -> Block:
    info = event.info
    meta = {k: info[k] for k in ("host", "program", "pid") if info.get(k)}
    return Block(text=text, kind="event", ts_start=event.ts, ts_end=event.ts, section=info.get("program"),
                 meta=meta)


_EXAMPLE = (
    "Jan 19 06:25:01 mlp-train-gpu-04 CRON[40211]: pam_unix(cron:session): session opened for user root\n"
    "Jan 19 09:14:22 mlp-train-gpu-04 sshd[51877]: Accepted publickey for jdoe from 10.8.0.12 port 52144\n"
    "Jan 19 09:15:03 mlp-train-gpu-04 sudo:     jdoe : TTY=pts/0 ; PWD=/home/jdoe ; USER=svc-train-sync ; "
    "COMMAND=/bin/bash -i\n"
)


# ------------------------------------------------------------------------------------------------------------
# Machine identities (ingest/nhi): unix service accounts in auth logs

_MSG_RE = re.compile(r"^\S*?(?:\[\d+\])?:\s*")     # "program[pid]: " before the message
_USER = r"([A-Za-z0-9_][A-Za-z0-9_.@-]*\$?)"
_SSHD_OK_RE = re.compile(rf"^Accepted (publickey|password|keyboard-interactive(?:/pam)?|gssapi-with-mic|hostbased) "
                         rf"for {_USER} from (\S+)(?: port \d+)?(?: ssh2)?(?::\s*(\S+)\s+(\S+))?")
_SSHD_FAIL_RE = re.compile(rf"^Failed (password|publickey|keyboard-interactive(?:/pam)?) for (invalid user )?"
                           rf"{_USER} from (\S+)")
_SSHD_EXPIRED_RE = re.compile(rf"^User {_USER} from (\S+) not allowed because account has expired")
_SSHD_INVALID_RE = re.compile(rf"^Invalid user {_USER} from (\S+)")
_CRON_RE = re.compile(rf"^pam_unix\(cron:session\): session opened for user {_USER}")
_SUDO_RE = re.compile(rf"^\s*{_USER} : (?:.*?TTY=(\S+) ; )?(?:.*?)USER={_USER} ; COMMAND=(.*)$")
_SU_RE = re.compile(rf"^(?:\(to {_USER}\) {_USER} on (\S+)|Successful su for {_USER} by {_USER})")
_SFTP_RE = re.compile(rf"^session opened for local user {_USER} from \[?([^\]\s]+)\]?")
_ACCOUNT_RE = re.compile(rf"^(?:delete user|lock user|unlock user|change user|new user: name=|"
                         rf"password for|removed group|new group: name=)\s*'?{_USER}'?(.*)$")
_AUTH_KEYS_RE = re.compile(r"/home/([A-Za-z0-9_][A-Za-z0-9_.-]*)/\.ssh/authorized_keys")
_ACCOUNT_CMD_RE = re.compile(r"\b(?:userdel|usermod|passwd|chage|pkill -\S+ -u|pkill -u|deluser|chsh)\s+(?:-\S+\s+)*"
                             r"(?:\S+\s+)?([A-Za-z0-9_][A-Za-z0-9_.-]*)\s*$")


# Per program, a cheap test (substrings) that a line is worth parsing.
def _account_change(t: str) -> bool:
    return "user" in t or "password" in t


_GUARDS = {
    "sshd": lambda t: "Accepted " in t or "Failed " in t or "expired" in t or "Invalid user" in t,
    "cron": lambda t: "session opened" in t,
    "sudo": lambda t: "COMMAND=" in t,
    "internal-sftp": lambda t: "session opened" in t,
    "su": lambda t: "(to " in t or "Successful su" in t,
    "su-l": lambda t: "(to " in t or "Successful su" in t,
    **{p: _account_change for p in ("userdel", "usermod", "useradd", "passwd", "chage", "groupdel")},
}


def _svc(name: str | None) -> bool:
    return bool(name) and R.software_account(name)


def _key_cmd(cmd: str) -> tuple[str | None, str | None]:
    """(account, credential event) of a command that edits an account's authorized_keys."""
    m = _AUTH_KEYS_RE.search(cmd)
    if not m:
        return None, None
    if re.search(r"\btee -a\b|>>|\bssh-copy-id\b", cmd):
        return m.group(1), "created"
    if re.search(r"\bsed -i\b.*/d\b|\brm\b|\bmv\b.*authorized_keys\S*\s+\S|\btruncate\b|>\s*/home", cmd):
        return m.group(1), "deleted"
    return m.group(1), None


def identities(text: str, event: LogEvent) -> list[Sighting]:
    """Unix service accounts: public-key and password logins (a password or keyboard-interactive login to a
    service account is a person's), cron sessions, sudo by a service account (to root: privileged), a person's
    sudo or su to a service account (human use), changes to service accounts and their authorized keys, and
    logins refused because the account expired. People's own logins are not sightings."""
    info = event.info
    program = (info.get("program") or "").lower()
    guard = _GUARDS.get(program)
    if guard is None or not guard(text):
        return []                          # most auth-log lines: sessions closing, disconnects, other daemons
    host = info.get("host")
    line = text.split("\n", 1)[0]
    cut = line.find(f"{info.get('program')}") if info.get("program") else -1
    msg = _MSG_RE.sub("", line[cut:], count=1) if cut >= 0 else line
    kw = {"workload": host}
    if program == "sshd":
        m = _SSHD_OK_RE.match(msg)
        if m:
            method, user, ip, _, fp = m.groups()
            if not _svc(user):
                return []
            interactive = method.startswith(("password", "keyboard"))
            return [Sighting(user, "unix_service_account", "unix", action=f"sshd Accepted {method}",
                             credential=fp if fp and fp.startswith(("SHA256:", "MD5:")) else None, source=ip,
                             human_use=interactive, **kw)]
        m = _SSHD_EXPIRED_RE.match(msg)
        if m and _svc(m.group(1)):
            return [Sighting(m.group(1), "unix_service_account", "unix", action="sshd login refused: account expired",
                             credential_event="used_after_expiry", source=m.group(2), **kw)]
        m = _SSHD_FAIL_RE.match(msg)
        if m and not m.group(2) and _svc(m.group(3)):
            return [Sighting(m.group(3), "unix_service_account", "unix", action=f"sshd Failed {m.group(1)}",
                             source=m.group(4), **kw)]
        m = _SSHD_INVALID_RE.match(msg)
        if m and R.service_like(m.group(1)):
            return [Sighting(m.group(1), "unix_service_account", "unix", action="sshd Invalid user (no such account)",
                             source=m.group(2), **kw)]
        return []
    if program == "cron":
        m = _CRON_RE.match(msg)
        if m and (_svc(m.group(1)) or m.group(1) == "root"):   # root's crontab is a scheduled job's identity too
            return [Sighting(m.group(1), "unix_service_account", "unix", action="cron session", source=host, **kw)]
        return []
    if program == "sudo":
        m = _SUDO_RE.match(msg)
        if not m:
            return []
        who, tty, target, cmd = m.groups()
        out: list[Sighting] = []
        if _svc(who):                          # a service account's own sudo
            out.append(Sighting(who, "unix_service_account", "unix", action=f"sudo {cmd.strip()[:160]}",
                                privileged=target == "root", human_use=tty not in (None, "unknown"),
                                source=host, **kw))
            return out
        person = who if R.person_like(who) else None
        if _svc(target):                       # a person running commands as a service account
            out.append(Sighting(target, "unix_service_account", "unix", action=f"sudo -u {target} {cmd.strip()[:160]}",
                                human_use=True, human=person or who, source=host, **kw))
        acct, event = _key_cmd(cmd)
        if acct and _svc(acct):
            out.append(Sighting(acct, "unix_service_account", "unix", action=f"sudo {cmd.strip()[:160]}",
                                credential_event=event, actor=False, human=person or who, source=host, **kw))
        else:
            am = _ACCOUNT_CMD_RE.search(cmd)
            if am and _svc(am.group(1)) and am.group(1) != target:
                out.append(Sighting(am.group(1), "unix_service_account", "unix", action=f"sudo {cmd.strip()[:160]}",
                                    actor=False, human=person or who, source=host, **kw))
        return out
    if program in ("su", "su-l"):
        m = _SU_RE.match(msg)
        if m:
            target, who, tty = (m.group(1), m.group(2), m.group(3)) if m.group(1) else (m.group(4), m.group(5), None)
            if _svc(target) and not _svc(who):
                return [Sighting(target, "unix_service_account", "unix", action=f"su to {target}" +
                                 (f" on {tty}" if tty else ""), human_use=True, human=who, source=host, **kw)]
        return []
    if program == "internal-sftp":
        m = _SFTP_RE.match(msg)
        if m and _svc(m.group(1)):
            return [Sighting(m.group(1), "unix_service_account", "unix", action="sftp session", source=m.group(2),
                             **kw)]
        return []
    if program in ("userdel", "usermod", "useradd", "passwd", "chage", "groupdel"):
        m = _ACCOUNT_RE.match(msg)
        if m and _svc(m.group(1)) and not msg.startswith("removed group"):
            event = "rotated" if msg.startswith("password for") and "changed" in msg else None
            return [Sighting(m.group(1), "unix_service_account", "unix", action=f"{program}: {msg[:160]}",
                             credential_event=event, actor=False, source=host, **kw)]
    return []


FORMAT = RecordFormat(
    name="syslog", kind=RecordKind.SYSLOG, container=Container.LOG_LINES,
    detect=detect, render=render, finish=infer_years, identities=identities,
    example=Example("text/plain", _EXAMPLE))

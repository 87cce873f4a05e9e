"""The date a document states it is from: what freshness counts from when the evidence says so.

A log or export is as recent as its last event (the record splitters read event times). A policy, procedure or
record states its date near the top: "Approved: 14 March 2025", "Effective date 2025-03-14", "Last reviewed
March 14, 2025", a minutes' "Meeting date", an email's Date header. Only labelled dates count (a date in running
text could be anything); the latest labelled date in the head of the document is taken, never one in the future.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime

HEAD_CHARS = 6000
MONTHS = {m: i for i, m in enumerate(
    ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
     "november", "december"), start=1)}
MONTHS.update({m[:3]: i for m, i in list(MONTHS.items())})
_MON = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_LABEL = (r"(?:approved(?:\s+on)?|approval\s+date|effective(?:\s+date|\s+from)?|date\s+of\s+(?:issue|approval|"
          r"meeting|review)|issue\s+date|issued(?:\s+on)?|last\s+(?:reviewed|updated|revised)|reviewed(?:\s+on)?|"
          r"review\s+date|revised(?:\s+on)?|signed(?:\s+on)?|meeting\s+date|version\s+date|dated|date|as\s+of|"
          r"prepared(?:\s+on)?|completed(?:\s+on)?|published)")
_DATE = (rf"(?P<iso>\d{{4}}-\d{{2}}-\d{{2}})|(?P<dmy>\d{{1,2}}(?:st|nd|rd|th)?\s+{_MON},?\s+\d{{4}})|"
         rf"(?P<mdy>{_MON}\s+\d{{1,2}}(?:st|nd|rd|th)?,?\s+\d{{4}})")
LABELLED = re.compile(rf"\b{_LABEL}\b\s*(?:[:\-–—|]|\bon\b)?\s*(?:{_DATE})", re.I)
EMAIL_DATE = re.compile(r"^date:\s*(?P<v>[A-Za-z]{3},\s*\d{1,2}\s+[A-Za-z]{3}\s+\d{4}\s+[\d:]+(?:\s*[+-]\d{4})?)",
                        re.I | re.M)


def _parse(m: re.Match) -> datetime | None:
    try:
        if m.group("iso"):
            return datetime.fromisoformat(m.group("iso")).replace(tzinfo=UTC)
        raw = m.group("dmy") or m.group("mdy")
        parts = re.findall(r"[A-Za-z]+|\d+", raw)
        nums = [int(p) for p in parts if p.isdigit()]
        word = next(p for p in parts if not p.isdigit() and p.lower() not in ("st", "nd", "rd", "th")).lower()
        month = MONTHS.get(word) or MONTHS[word[:3]]
        day, year = nums[0], nums[-1]
        return datetime(year, month, day, tzinfo=UTC)
    except (ValueError, KeyError, StopIteration):
        return None


def stated_date(text: str, *, now: datetime | None = None) -> datetime | None:
    """The latest labelled date in the head of a document's text (an email's Date header counts), or None."""
    now = now or datetime.now(UTC)
    head = text[:HEAD_CHARS]
    found: list[datetime] = []
    for m in LABELLED.finditer(head):
        d = _parse(m)
        if d is not None:
            found.append(d)
    for m in EMAIL_DATE.finditer(head):
        try:
            d = parsedate_to_datetime(m.group("v"))
            found.append(d if d.tzinfo else d.replace(tzinfo=UTC))
        except (TypeError, ValueError):
            pass
    found = [d.astimezone(UTC) for d in found if datetime(1990, 1, 1, tzinfo=UTC) <= d <= now + timedelta(days=1)]
    return max(found) if found else None

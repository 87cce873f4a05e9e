"""Decide what an upload really is from its bytes (libmagic plus structure checks), never from its name."""

from __future__ import annotations

import csv
import io
import json
import mimetypes
import re
import threading
import unicodedata
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath

import magic

from core.errors import ClausewiseError, ErrorCode

PDF = "application/pdf"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
HTML = "text/html"
MARKDOWN = "text/markdown"
TEXT = "text/plain"
EML = "message/rfc822"
CSV = "text/csv"
JSON = "application/json"
JSONL = "application/x-ndjson"
LOG = "text/x-log"
ALLOWED = (PDF, DOCX, XLSX, HTML, MARKDOWN, TEXT, EML, CSV, JSON, JSONL, LOG)
TEXT_FAMILY = {HTML, MARKDOWN, TEXT, EML, CSV, JSON, JSONL, LOG}
EXTENSIONS = {
    ".pdf": PDF, ".docx": DOCX, ".xlsx": XLSX, ".html": HTML, ".htm": HTML, ".md": MARKDOWN, ".markdown": MARKDOWN,
    ".txt": TEXT, ".text": TEXT, ".eml": EML, ".csv": CSV, ".json": JSON, ".jsonl": JSONL, ".ndjson": JSONL,
    ".log": LOG,
}
SNIFF_BYTES = 64 * 1024
CSV_SNIFF_CHARS = 8 * 1024
_TS_LINE = re.compile(
    r"^(\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}|[A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2}|<\d+>\d? ?\d{4}-|\[\d{4}-\d{2}-\d{2})")
_MD = re.compile(r"^(#{1,6} |\* |- |\d+\. |\|.*\|$|```)", re.M)
_EMAIL_HEADERS = re.compile(r"^(From|To|Subject|Date|Received|MIME-Version|Message-ID):", re.M | re.I)

# DOCX / XLSX (zip) limits checked before anything is extracted.
MAX_UNZIPPED_BYTES = 256 * 1024 * 1024
MAX_ZIP_RATIO = 150
MAX_ZIP_MEMBERS = 5000


@dataclass(frozen=True)
class Sniffed:
    media_type: str
    encoding: str | None  # for text: the encoding to decode with


def sanitize_filename(name: str | None) -> str:
    """A display-only file name: no directories, control characters or NUL, at most 255 bytes, extension kept."""
    raw = unicodedata.normalize("NFC", name or "")
    raw = raw.replace("\\", "/").split("/")[-1]
    raw = "".join(ch for ch in raw if unicodedata.category(ch)[0] != "C")
    raw = raw.strip().lstrip(".").strip()
    if not raw:
        return "upload"
    suffix = PurePosixPath(raw).suffix
    if len(suffix) > 16:   # `auth.log_host_2025-06-09_to_06-11`: not an extension to keep whole; cut from the end
        suffix = ""        # (it was once cut to 16 characters and glued on again: `auth.log_host_202.log_host_2025-0`)
    stem = raw[: len(raw) - len(suffix)] if suffix else raw
    while len((stem + suffix).encode()) > 255:
        stem = stem[:-1]
    return (stem or "upload") + suffix


_ROTATION = re.compile(r"\.\d{1,4}$")


def extension(filename: str) -> str:
    """The extension that names the type: `auth.log.1`, `app.log.12` (logrotate's numbering) count as `.log`."""
    name = filename.lower()
    unrotated = _ROTATION.sub("", name)
    if unrotated != name and PurePosixPath(unrotated).suffix in EXTENSIONS:
        return PurePosixPath(unrotated).suffix
    return PurePosixPath(name).suffix


_KNOWN = mimetypes.MimeTypes(filenames=())   # Python's built-in table only, the same on every machine


def names_other_type(ext: str) -> bool:
    """The extension names a type or encoding we do not accept (`.exe`, `.png`, `.zip`, `.gz`, `.py`)."""
    kind, encoding = _KNOWN.guess_type("f" + ext, strict=False)
    return kind is not None or encoding is not None


def claimed_type(filename: str) -> str | None:
    """The media type the file name claims, or None for no or unknown extension."""
    return EXTENSIONS.get(extension(filename))


def _decode_sample(sample: bytes, encoding: str | None) -> str:
    return sample.decode(encoding or "utf-8", errors="replace")


def text_encoding(sample: bytes, magic_encoding: str) -> str | None:
    """The codec to read a text upload with, or None if it is not text in a known encoding."""
    if sample.startswith(b"\xef\xbb\xbf"):
        return "utf-8-sig"
    if sample.startswith((b"\xff\xfe", b"\xfe\xff")):
        return "utf-16"
    enc = magic_encoding.lower()
    if enc in ("us-ascii", "utf-8"):
        return "utf-8"
    if enc in ("iso-8859-1", "unknown-8bit") and b"\x00" not in sample:
        # libmagic says iso-8859-1 for Latin-1 text; Windows-1252 is its superset in practice.
        return "cp1252"
    if enc.startswith("utf-16"):
        return enc
    return None


def _looks_jsonl(lines: list[str]) -> bool:
    body = [ln for ln in lines if ln.strip()][:20]
    if len(body) < 2:
        return False
    ok = 0
    for ln in body:
        if ln.lstrip(" \t\r\n")[:1] != "{":   # JSON's whitespace, then an object: else json.loads gives no dict
            continue
        try:
            ok += isinstance(json.loads(ln), dict)
        except (ValueError, RecursionError):   # a deeply nested line is not a record either
            pass
    return ok >= max(2, int(0.8 * len(body)))


def _looks_csv(text: str) -> bool:
    lines = [ln for ln in text.splitlines() if ln.strip()][:15]
    if len(lines) < 2:
        return False
    try:
        # csv.Sniffer's quote-guessing regex is quadratic in its sample: ten 6 KB lines of `x,"` took 5 s of the
        # upload request. The first 8 KB of the first lines tell the delimiter as well.
        dialect = csv.Sniffer().sniff("\n".join(lines[:10])[:CSV_SNIFF_CHARS], delimiters=",;\t|")
    except csv.Error:
        return False
    rows = list(csv.reader(io.StringIO("\n".join(lines)), dialect))
    widths = {len(r) for r in rows[:-1]}  # the last sampled line may be cut mid-record
    return len(widths) == 1 and widths.pop() >= 2


def _text_kind(text: str, claimed: str | None, complete: bool) -> str:
    head = text.lstrip("\ufeff \r\n\t")
    if head[:1] in "{[":
        if complete:
            try:
                json.loads(head)
                return JSON
            except (ValueError, RecursionError):
                pass
        elif claimed == JSON:
            return JSON
        if _looks_jsonl(head.splitlines()):
            return JSONL
    elif _looks_jsonl(head.splitlines()):
        return JSONL
    lower = head[:2000].lower()
    if lower.startswith(("<!doctype html", "<html")) or ("<body" in lower and "</" in lower):
        return HTML
    if len(_EMAIL_HEADERS.findall(head[:4000])) >= 3:
        return EML
    lines = [ln for ln in head.splitlines() if ln.strip()][:200]
    if lines and sum(bool(_TS_LINE.match(ln)) for ln in lines) >= 0.6 * len(lines):
        return LOG
    if claimed == CSV and _looks_csv(head):
        return CSV
    # a .txt stays plain text even with list markers; an unnamed or .log file with Markdown structure is Markdown
    if claimed in (MARKDOWN, LOG, None) and len(_MD.findall(head[:20000])) >= 3:
        return MARKDOWN
    if claimed is None and _looks_csv(head):
        return CSV
    return claimed if claimed in (MARKDOWN, TEXT, LOG, CSV) else TEXT


def check_ooxml(path, media_type: str = DOCX) -> None:
    """Refuse an Office file that is not the zip package it claims or would inflate beyond the caps (a zip bomb)."""
    name, main = ("DOCX", "word/document.xml") if media_type == DOCX else ("XLSX", "xl/workbook.xml")
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_ZIP_MEMBERS:
                raise ClausewiseError(ErrorCode.archive_bomb,
                                      f"{name} has {len(infos)} members (limit {MAX_ZIP_MEMBERS})")
            total = sum(i.file_size for i in infos)
            packed = sum(i.compress_size for i in infos) or 1
            if total > MAX_UNZIPPED_BYTES:
                raise ClausewiseError(ErrorCode.archive_bomb,
                                      f"{name} would inflate to {total} bytes (limit {MAX_UNZIPPED_BYTES})")
            if total > 10 * 1024 * 1024 and total / packed > MAX_ZIP_RATIO:
                raise ClausewiseError(ErrorCode.archive_bomb,
                                      f"{name} compression ratio {total / packed:.0f}:1 exceeds {MAX_ZIP_RATIO}:1")
            if main not in {i.filename for i in infos}:
                kind = "a Word document" if media_type == DOCX else "an Excel workbook"
                raise ClausewiseError(ErrorCode.corrupt_file, f"zip file is not {kind} (no {main})")
    except zipfile.BadZipFile as e:
        raise ClausewiseError(ErrorCode.corrupt_file, f"{name} is not a readable zip file: {e}") from e


def check_docx(path) -> None:
    check_ooxml(path, DOCX)


_MAGIC = threading.local()   # a libmagic handle per thread: loading its database took as long as the lookup
MAGIC_HEAD_BYTES = 4096       # what the type is decided from: every allowed format shows itself in its head


def _magic(kind: str, **flags) -> magic.Magic:
    m = getattr(_MAGIC, kind, None)
    if m is None:
        m = magic.Magic(**flags)
        setattr(_MAGIC, kind, m)
    return m


def _encoding_of(sample: bytes) -> str:
    return _magic("encoding", mime_encoding=True).from_buffer(sample)


def _utf8_text(sample: bytes, complete: bool) -> bool:
    """The sample is UTF-8 (ASCII included) without NUL bytes; an incomplete sample may end mid-character."""
    if b"\x00" in sample:
        return False
    try:
        sample.decode("utf-8")
        return True
    except UnicodeDecodeError as e:
        return not complete and e.start >= len(sample) - 3 and e.reason == "unexpected end of data"


def sniff(sample: bytes, *, claimed: str | None, complete: bool) -> Sniffed:
    """Detect the media type of an upload from its first bytes (`complete` when the sample is the whole file).

    libmagic reads the type from the head of the sample (its cost grows with the bytes it is given: the whole 64 KB
    sample twice, type then encoding, was most of an upload's CPU). The encoding of text is UTF-8 when the whole
    sample decodes as UTF-8 without NUL bytes; anything else is handed to libmagic whole, as before.
    """
    head = sample[:MAGIC_HEAD_BYTES]
    mime, _, charset = _magic("mime", mime=True, mime_encoding=True).from_buffer(head).partition("; charset=")
    if mime == PDF or sample.startswith(b"%PDF-"):
        return Sniffed(PDF, None)
    if mime == DOCX or (mime == "application/zip" and b"word/" in sample[:SNIFF_BYTES]):
        return Sniffed(DOCX, None)
    if mime == XLSX or (mime == "application/zip" and b"xl/" in sample[:SNIFF_BYTES]):
        return Sniffed(XLSX, None)
    textual = mime.startswith("text/") or mime in ("application/json", "application/x-ndjson", "application/csv",
                                                    EML)
    if textual and len(sample) > len(head):
        if not _utf8_text(sample, complete):    # the rest may not be text at all: libmagic decides on the whole
            mime = _magic("whole", mime=True).from_buffer(sample)
            textual = mime.startswith("text/") or mime in ("application/json", "application/x-ndjson",
                                                            "application/csv", EML)
            charset = _encoding_of(sample)
        else:
            charset = "utf-8"
    if mime == EML:
        return Sniffed(EML, text_encoding(sample, charset) or "utf-8")
    enc = text_encoding(sample, charset or _encoding_of(sample))
    if textual or (enc and mime == "application/octet-stream" and sample[:2] in (b"\xff\xfe", b"\xfe\xff")):
        if enc is None:
            return Sniffed(mime, None)
        return Sniffed(_text_kind(_decode_sample(sample, enc), claimed, complete), enc)
    return Sniffed(mime, None)


def check_allowed(detected: Sniffed, claimed: str | None, filename: str) -> None:
    """415 unless the detected type is allowed and agrees with what the name claims."""
    ext = extension(filename) or "(none)"
    if detected.media_type not in ALLOWED:
        raise ClausewiseError(ErrorCode.unsupported_media_type,
                              f"{detected.media_type} is not an accepted evidence type",
                              claimed_type=claimed or ext, detected_type=detected.media_type)
    if claimed is None:
        # No extension, or one that names no type (`auth.log_host_2025-06-09_to_06-11`, `syslog.2025-06-09`,
        # `messages-20250609`): the content decides, but only text is taken this way. An extension that names a
        # type we do not accept (`.exe`, `.png`, `.gz`, `.sh`) is refused whatever the bytes.
        if extension(filename) and (detected.media_type not in TEXT_FAMILY or names_other_type(extension(filename))):
            raise ClausewiseError(ErrorCode.unsupported_media_type, f"extension {ext} is not accepted",
                                  claimed_type=ext, detected_type=detected.media_type)
        return
    same_family = claimed in TEXT_FAMILY and detected.media_type in TEXT_FAMILY
    if claimed != detected.media_type and not same_family:
        raise ClausewiseError(ErrorCode.type_mismatch,
                              f"file name says {claimed} but the content is {detected.media_type}",
                              claimed_type=claimed, detected_type=detected.media_type)

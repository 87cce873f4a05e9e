"""Parser fuzzing: mutated and generated inputs through the front half of ingestion, never an unexpected error.

The front half is what the worker runs before embedding: sniffing and the allowlist (ingest.intake.inspect_file,
the same checks as an upload), the partition sandbox with its time and memory limits, record splitting and
chunking (ingest.pipeline.partition_and_chunk, the database-free middle of prepare_document). Every input must
come out as chunks that can be stored, or as a ClausewiseError with a stable processing/intake code. A parser
exception that only the sandbox's last-resort handler caught counts as a failure too: it is a bug hidden behind
`corrupt_file`.

Inputs: realistic fixtures of every format (eval/datasets/files*) mutated by hypothesis (truncation, bit flips,
byte replacements, huge fields, deep JSON nesting, wrong encodings, NULs), records of every registered format with
members of the wrong type, size or depth, fully generated text, JSON, JSON Lines, CSV, logs, e-mails, workbooks
and Word documents, and explicit bombs against the sandbox's limits. The end of the file holds the minimal inputs
of the bugs this found.

The default run is bounded (derandomized; under a minute on two cores). Longer and randomized (`make fuzz`):
    CLAUSEWISE_FUZZ_EXAMPLES=500 python -m pytest -q -p no:cacheprovider tests/service/test_fuzz_parsers.py
runs 500 examples of each sandboxed test and 5-20 times as many of the in-process ones.
"""

from __future__ import annotations

import io
import json
import os
import string
import time
import zlib
from datetime import datetime
from pathlib import Path

import factories as F
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context

from core.errors import ClausewiseError, ErrorCode
from ingest.chunking import MAX_CHARS, ChunkSpec, chunk_blocks
from ingest.intake import inspect_file
from ingest.partition import block_from_dict, block_to_dict, partition, warm_up
from ingest.pipeline import Limits, partition_and_chunk
from ingest.records import FORMATS, split_records

os.environ.setdefault("UNSTRUCTURED_DISABLE_NOTICE", "1")

ROOT = Path(__file__).resolve().parents[2] / "eval" / "datasets"
_LONG = os.environ.get("CLAUSEWISE_FUZZ_EXAMPLES")
EXAMPLES = int(_LONG or 0) or None


def fuzz_settings(default: int, scale: int = 1):
    """Bounded and reproducible by default; CLAUSEWISE_FUZZ_EXAMPLES=N runs randomized examples instead: N for a
    test that forks the sandbox per example, `scale` times N for the in-process ones (never fewer than default)."""
    n = max(default, EXAMPLES * scale) if EXAMPLES else default
    return settings(max_examples=n, deadline=None, derandomize=not _LONG, database=None,
                    print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.large_base_example, HealthCheck.filter_too_much])


# A fuzz example gets less than production (120 s, 2 GiB): nothing here should come near either.
LIMITS = Limits(partition_timeout_s=60.0, partition_memory_bytes=2 * 1024**3)
MAX_CHUNKS = 5000   # core.settings.Settings.max_chunks_per_document's default
# Codes the front half may end in: refused at intake or failed while processing.
STABLE = {ErrorCode.empty_file, ErrorCode.file_too_large, ErrorCode.unsupported_media_type, ErrorCode.type_mismatch,
          ErrorCode.corrupt_file, ErrorCode.encrypted_pdf, ErrorCode.no_text_layer, ErrorCode.no_text,
          ErrorCode.archive_bomb, ErrorCode.undecodable_text, ErrorCode.partition_timeout,
          ErrorCode.partition_memory, ErrorCode.too_many_chunks}
SECTION_MAX = 500   # core.models.Chunk.section is String(500)

SEEDS = {  # a few realistic files of every format and record shape
    "pdf": ["files/CS-MERLIN-SCR-003_Clinical_Safety_Case_v3.3_excerpt.pdf",
            "files/NC-2025-011_nonconformity_corrective_action_record.pdf",
            "files3/RG-2026-041_RouteWise-3.4.0_release-gate-record.pdf"],
    "docx": ["files2/AIA-2025-07_Sentry_v5_AI_impact_assessment.docx",
             "files3/Minutes_Leadership-Review_ML-Programme_2026-10-20.docx"],
    "xlsx": ["files2/AIMS_corrective_action_and_improvement_register.xlsx",
             "files3/NC-CAR-log_ML-programme_2026.xlsx"],
    "html": ["files/KHA-PRO-AI-009_AI_Incident_Escalation_Procedure.html",
             "files3/relay-assistant_what-it-does-and-doesnt.html"],
    "md": ["files3/PRC-AIR-01_model-risk-scoring-method.md", "files2/model-change-control.md"],
    "txt": ["files/KHA-AIMS-DOC-001_AIMS_scope_statement_v1.2.txt"],
    "eml": ["files3/FW_Lumenwright-notice_model-retirement-and-subprocessor.eml",
            "files/email_ESCALATION_AI-INC-2026-004_scribe_anticoagulant.eml"],
    "csv": ["files/servicenow_change_request_export_2025-08_2026-02.csv",
            "files3/sn_ritm_export_ai-concern_2026Q3.csv",
            "files2/learninghub_AI_curriculum_completions_2026-01-31.csv",
            "files2/github-audit-log_tidewater-mutual_2025-12_2026-01.csv"],
    "json": ["files3/cloudtrail_nfs-ml-prod_ca-central-1_20260925-27.json",
             "files2/cloudtrail_lookup-events_tm-keel-prod_iam-secretsmanager_2026-01-12_16.json",
             "files/azure_activity_log_rg-scribe-prod-uks_2025-10-14.json",
             "files/gcp_audit_iam_kha-mlp-prod_2025-11.json",
             "files/jira_KHA-1187_scribe-asr_group_retest.json", "files/jira_search_MLP_drift_triage_2026Q1.json",
             "files3/MLOPS-482.json", "files/github_aerie-infra_issue_318_stale_workload_identity.json",
             "files2/github_docintake_issues_engine-upgrade_2025Q4-2026Q1.json"],
    "jsonl": ["files3/k8s-audit_nfs-ml-prod-eks_2026-10-08.jsonl", "files/vault_audit_kha-vault-prod_2026-01-19.jsonl",
              "files/aerie_model_registry_events_2025-08_2026-02.jsonl"],
    "log": ["files3/rw-batch-01_auth.log", "files2/keel-batch-03_auth.log.1",
            "files3/relay-prompt-service_2026-10-14.log"],
}
SEED_FILES = [p for paths in SEEDS.values() for p in paths]
SEED_CAP = 96 * 1024   # text seeds are cut at a line end near this size: the mutations matter, not the bulk


def _seed_bytes(rel: str) -> bytes:
    data = (ROOT / rel).read_bytes()
    if rel.endswith((".pdf", ".docx", ".xlsx")) or len(data) <= SEED_CAP:
        return data
    cut = data.rfind(b"\n", 0, SEED_CAP)
    return data[: cut + 1 if cut > 0 else SEED_CAP]


_SEED_CACHE: dict[str, bytes] = {}


def seed(rel: str) -> bytes:
    if rel not in _SEED_CACHE:
        _SEED_CACHE[rel] = _seed_bytes(rel)
    return _SEED_CACHE[rel]


@pytest.fixture(scope="module", autouse=True)
def _nlp_loaded():
    """Forked partition children inherit unstructured's sentence model, as in the worker."""
    warm_up()


# ------------------------------------------------------------------------------------------------------------
# The property


def check_chunks(specs: list[ChunkSpec]) -> None:
    """Chunks the pipeline would store: non-empty bounded exact text, storable section, aware times, JSON meta."""
    assert specs
    for c in specs:
        assert isinstance(c.text, str) and c.text.strip()
        c.text.encode("utf-8")   # no lone surrogates: the database stores UTF-8
        assert c.char_end - c.char_start == len(c.text) and len(c.text) <= 2 * MAX_CHARS
        assert c.section is None or (isinstance(c.section, str) and len(c.section) <= SECTION_MAX), c.section
        (c.section or "").encode("utf-8")
        for ts in (c.ts_start, c.ts_end):
            assert ts is None or (isinstance(ts, datetime) and ts.utcoffset() is not None)
        for v in (c.page, c.record_start, c.record_end, c.line_start, c.line_end):
            assert v is None or (isinstance(v, int) and not isinstance(v, bool))
        json.dumps(c.meta)


def check_error(e: ClausewiseError) -> None:
    assert isinstance(e.code, ErrorCode) and e.code in STABLE, e
    assert 400 <= e.status < 500, e
    # A fuzz input is at most a few MB: needing LIMITS' 60 s or 2 GiB to parse it is a bug (only bombs may)
    assert e.code not in (ErrorCode.partition_timeout, ErrorCode.partition_memory), e
    # The sandbox's last resort names the exception it caught: any such one is a parser bug, not a bad file.
    assert "exception" not in e.extra, f"parser raised {e.extra['exception']}: {e.detail}"


SNIFF_BUDGET_S = 2.0   # sniffing runs in the upload request itself, outside the sandbox


def inspect(path: Path, name: str | None):
    t = time.monotonic()
    try:
        return inspect_file(path, name)
    finally:
        assert time.monotonic() - t < SNIFF_BUDGET_S, f"sniffing took {time.monotonic() - t:.1f}s"


def front_half(path: Path, name: str | None = None, limits: Limits = LIMITS):
    """Exactly the worker's path up to embedding: intake checks, sandboxed partition, records, chunks."""
    _, sniffed, _ = inspect(path, name)
    part, specs = partition_and_chunk(path, sniffed.media_type, sniffed.encoding, limits, max_chunks=MAX_CHUNKS)
    return part, specs


def front_half_in_process(path: Path, name: str | None = None):
    """The same without the fork (fast; a parser exception surfaces with its traceback)."""
    _, sniffed, _ = inspect(path, name)
    part = partition(path, sniffed.media_type, sniffed.encoding)
    blocks = [block_from_dict(json.loads(json.dumps(block_to_dict(b)))) for b in part.blocks]  # as over the pipe
    _, specs = chunk_blocks(blocks)
    if not specs:
        raise ClausewiseError(ErrorCode.no_text, "the document produced no chunks")
    return part, specs


def outcome(run, path: Path, name: str | None = None, budget_s: float | None = None) -> str:
    """Run the front half; return the chunk kind or the error code, failing on anything else."""
    t = time.monotonic()
    try:
        part, specs = run(path, name)
    except ClausewiseError as e:
        check_error(e)
        result = e.code.value
    else:
        check_chunks(specs)
        result = part.kind
    if budget_s is not None:
        assert time.monotonic() - t < budget_s, f"front half took {time.monotonic() - t:.1f}s (budget {budget_s}s)"
    if currently_in_test_context():
        event(f"outcome: {result}")   # --hypothesis-show-statistics shows what the examples exercised
    return result


# ------------------------------------------------------------------------------------------------------------
# Byte-level mutations of fixture files

JUNK = [b"\x00", b"\xff", b"\xfe\xff", b"\xff\xfe", b"\xe9", b"\xc3", b"\xef\xbb\xbf", b"\r", b"\r\n", b'"', b"'",
        b",", b"{", b"}", b"[", b"]", b":", b"\\", b"\\u", b"\\ud800", b"<", b"</", b"%PDF-", b"PK\x03\x04", b"\t",
        b"\n\n", b"stream", b"endobj", b"obj", b"9999999999999999999999", b"-1", b"NaN", b"null", b"\x1b[2J"]


def _at(data: bytes, frac: float) -> int:
    return min(len(data), int(frac * len(data)))


def _json_value_offsets(data: bytes) -> list[int]:
    """Offsets just after `": "` (inside a string value) in a JSON-ish file."""
    out, i = [], data.find(b'": "')
    while i >= 0 and len(out) < 2000:
        out.append(i + 4)
        i = data.find(b'": "', i + 4)
    return out


def _line_starts(data: bytes) -> list[int]:
    out, i = [0], data.find(b"\n")
    while i >= 0 and len(out) < 5000:
        out.append(i + 1)
        i = data.find(b"\n", i + 1)
    return out


def apply(data: bytes, op: tuple) -> bytes:
    kind = op[0]
    if kind == "truncate":
        return data[: _at(data, op[1])]
    if kind == "flip":
        if not data:
            return data
        i = min(len(data) - 1, _at(data, op[1]))
        return data[:i] + bytes([data[i] ^ (1 << op[2])]) + data[i + 1:]
    if kind == "replace":
        i = _at(data, op[1])
        return data[:i] + op[2] + data[i + len(op[2]):]
    if kind == "insert":
        i = _at(data, op[1])
        return data[:i] + op[2] + data[i:]
    if kind == "delete":
        i = _at(data, op[1])
        return data[:i] + data[i + op[2]:]
    if kind == "duplicate":
        i, j = sorted((_at(data, op[1]), _at(data, op[2])))
        return data[:j] + data[i:j] + data[j:]
    if kind == "huge":   # one field of 1-5 MB: inside a JSON string value if there is one, else a whole line
        filler = (op[3] * (op[2] // len(op[3]) + 1))[: op[2]]
        spots = _json_value_offsets(data) or _line_starts(data)
        i = spots[min(len(spots) - 1, int(op[1] * len(spots)))]
        return data[:i] + filler + data[i:]
    if kind == "nest":   # a deeply nested array as a JSON value, or at a line start
        spots = [s - 1 for s in _json_value_offsets(data)] or _line_starts(data)
        i = spots[min(len(spots) - 1, int(op[1] * len(spots)))]
        return data[:i] + b"[" * op[2] + b"1" + b"]" * op[2] + (b"," if spots and data[i:i + 1] == b'"' else b"") \
            + data[i:]
    if kind == "encode":   # the text re-encoded wrongly
        text = data.decode("utf-8", errors="replace")
        return text.encode(op[1], errors="replace")
    if kind == "latin1_in_utf8":
        i = _at(data, op[1])
        return data[:i] + "évalué à ½".encode("latin-1") + data[i:]
    if kind == "nuls":
        step = max(1, op[1])
        return b"\x00".join(data[k:k + step] for k in range(0, len(data), step))
    raise AssertionError(kind)


frac = st.floats(0, 1, allow_nan=False)
small_ops = st.one_of(
    st.tuples(st.just("truncate"), frac),
    st.tuples(st.just("flip"), frac, st.integers(0, 7)),
    st.tuples(st.just("replace"), frac, st.one_of(st.sampled_from(JUNK), st.binary(min_size=1, max_size=16))),
    st.tuples(st.just("insert"), frac, st.one_of(st.sampled_from(JUNK), st.binary(min_size=1, max_size=16))),
    st.tuples(st.just("delete"), frac, st.integers(1, 4096)),
    st.tuples(st.just("duplicate"), frac, frac),
    st.tuples(st.just("latin1_in_utf8"), frac),
)
big_ops = st.one_of(
    st.tuples(st.just("huge"), frac, st.integers(1 << 20, 5 << 20),
              st.sampled_from([b"A", b"x ", b"ab", b"0", b"\\n", b"word, ", b"-", b"\xc3\xa9"])),
    st.tuples(st.just("nest"), frac, st.sampled_from([50, 990, 2000, 10_000, 100_000])),
    st.tuples(st.just("encode"), st.sampled_from(["utf-16-le", "utf-16-be", "utf-32", "latin-1", "cp1252",
                                                  "utf-16"])),
    st.tuples(st.just("nuls"), st.sampled_from([1, 2, 7, 64, 4096])),
)
mutations = st.lists(small_ops, min_size=1, max_size=6) | st.tuples(
    st.lists(small_ops, max_size=2), big_ops).map(lambda t: [*t[0], t[1]])

NAMES = ["evidence", "evidence.txt", "evidence.json", "evidence.csv", "evidence.log", "evidence.pdf",
         "evidence.docx", "evidence.md", "auth.log.1", "evidence.exe"]


@fuzz_settings(default=45)
@given(rel=st.sampled_from(SEED_FILES), ops=mutations, rename=st.sampled_from([None] * len(NAMES) * 3 + NAMES))
def test_mutated_fixtures_come_out_as_chunks_or_a_stable_code(tmp_path_factory, rel, ops, rename):
    data = seed(rel)
    for op in ops:
        data = apply(data, op)
    name = rename or Path(rel).name
    path = tmp_path_factory.mktemp("fz") / "original"
    path.write_bytes(data)
    outcome(front_half, path, name, budget_s=LIMITS.partition_timeout_s + 15)


# ------------------------------------------------------------------------------------------------------------
# Structured mutations: records whose fields have the wrong type, are huge, missing or deeply nested

json_scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.integers(min_value=10**30),
                         st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=40),
                         st.sampled_from(["", "2026-01-05T10:00:00Z", "0001-01-01T00:00:00+05:00",
                                          "9999-12-31T23:59:59-05:00", "Mon, 5 Jan 2026 10:00:00 +0000",
                                          "1767607200", "1767607200000", "{}", "[1,2]", '{"a": 1}',
                                          "h1. *bold* [text|url] {{mono}}", "Event", "request", "doc"]),
                         st.integers(2001, 6000).map(lambda n: "x" * n))   # beyond SKIP_VALUE_CHARS
json_values = st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(st.text(max_size=12) | st.sampled_from(
                               ["type", "content", "text", "attrs", "name", "key", "fields", "value"]), inner,
                               max_size=4), max_leaves=12)


def _paths(obj, prefix=()):
    yield prefix
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:8]):
            yield from _paths(v, (*prefix, i))


def _set(obj, path, value):
    if not path:
        return value
    *head, last = path
    target = obj
    for p in head:
        target = target[p]
    if value is _DELETE:
        if isinstance(target, dict):
            del target[last]
        else:
            target.pop(last)
    else:
        target[last] = value
    return obj


_DELETE = object()


def _record_seeds() -> list[tuple[str, str, object]]:
    """(media type, container shape, document) from every registered format's example and JSON fixtures."""
    out = []
    for fmt in FORMATS:
        ex = fmt.example
        if ex.media in ("application/json", "application/x-ndjson"):
            text = ex.text
            doc = json.loads(text) if ex.media == "application/json" else [json.loads(ln) for ln in
                                                                            text.splitlines() if ln.strip()]
            out.append((ex.media, fmt.name, doc))
    for rel in SEEDS["json"]:
        doc = json.loads((ROOT / rel).read_text())
        if isinstance(doc, list):
            doc = doc[:3]
        elif isinstance(doc, dict):
            doc = {k: (v[:3] if isinstance(v, list) else v) for k, v in doc.items()}
        out.append(("application/json", rel, doc))
    for rel in SEEDS["jsonl"]:
        lines = (ROOT / rel).read_text().splitlines()[:3]
        out.append(("application/x-ndjson", rel, [json.loads(ln) for ln in lines]))
    return out


RECORD_SEEDS = _record_seeds()


@st.composite
def mutated_records(draw):
    import copy

    media, origin, doc = draw(st.sampled_from(RECORD_SEEDS))
    doc = copy.deepcopy(doc)
    for _ in range(draw(st.integers(1, 6))):
        paths = list(_paths(doc))
        path = draw(st.sampled_from(paths[1:] or paths))
        value = draw(st.one_of(json_values, st.just(_DELETE))) if path else draw(json_values)
        doc = _set(doc, path, value)
    if media == "application/x-ndjson" and isinstance(doc, list):
        text = "".join(json.dumps(o) + "\n" for o in doc)
    else:
        text = json.dumps(doc, indent=draw(st.sampled_from([None, 2])))
    return media, origin, text


@fuzz_settings(default=300, scale=20)
@given(case=mutated_records())
def test_records_with_wrong_types_split_or_fail_with_a_stable_code(case):
    """split_records on type-confused records: a stream or None, or ValueError for unparseable JSON only."""
    media, _, text = case
    try:
        stream = split_records(text, media)
    except ValueError:
        return   # the caller maps it to corrupt_file (ingest.partition._text_like)
    if stream is not None:
        for b in stream.blocks:
            json.dumps(block_to_dict(b))
        _, specs = chunk_blocks(stream.blocks)
        if specs:
            check_chunks(specs)


@fuzz_settings(default=150, scale=5)
@given(case=mutated_records(), as_name=st.sampled_from(["records.json", "records.jsonl", "records.log", "records"]))
def test_records_with_wrong_types_through_partition(tmp_path_factory, case, as_name):
    _, _, text = case
    path = tmp_path_factory.mktemp("rec") / "original"
    path.write_text(text, encoding="utf-8")
    outcome(front_half_in_process, path, as_name)


# ------------------------------------------------------------------------------------------------------------
# Fully generated text, JSON, CSV and logs

printable = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=200)
words = st.text(alphabet=string.ascii_letters + string.digits + " .,:;-_/[]()=\"'{}|#*", max_size=80)
log_prefix = st.sampled_from(["Jan  5 10:00:00 host sshd[1]: ", "2026-01-05T10:00:00Z INFO [svc] ",
                              "<34>1 2026-01-05T10:00:00Z host app 1 - - ", "[2026-01-05 10:00:00] ",
                              "Feb 30 25:61:61 h p: ", "9999-99-99T99:99:99 ", "2026-01-05 10:00:00,123 ERROR ",
                              "Dec 31 23:59:59 h CRON[2]: ", "  at com.example.Foo(Foo.java:1)", ""])


HEADER_VALUES = ["=?utf-8?q?=E9t=E9?=", "=?bogus?x?abc?=", "=?utf-8?b?!!!?=", "<>", '"unterminated', "a@b, , ,",
                 "Undisclosed recipients:;", "group: a@b, c@d;", "(comment", "@", "a@", "<a@b", "x <y@z> <w@v>",
                 "Mon, 32 Jan 2026 25:61:00 +0000", "Fri, 31 Dec 9999 23:59:59 -1200", "Sat, 1 Jan 0001 00:00:00 +1400",
                 "1 Jan 2026", "text/html; charset=x-unknown", "multipart/mixed; boundary=b",
                 "multipart/mixed", "base64", "quoted-printable", "8bit", "\t", "a" * 2000, ""]


@st.composite
def generated_file(draw) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["text", "json", "jsonl", "csv", "log", "md", "html", "eml"]))
    if kind == "eml":
        headers = draw(st.lists(st.tuples(st.sampled_from(["From", "To", "Cc", "Subject", "Date", "Message-ID",
                                                           "Content-Type", "Content-Transfer-Encoding",
                                                           "MIME-Version", "Received"]),
                                          st.sampled_from(HEADER_VALUES) | words), min_size=3, max_size=10))
        body = draw(st.sampled_from(["", "Hello.\n\nThe review is done.", "--b\nContent-Type: text/html\n\n<p>x",
                                     "=E9=\n=ZZ", "PGh0bWw+", "<html><body><p>Approved.</p></body></html>"]) | words)
        text = "".join(f"{k}: {v}\n" for k, v in headers) + "\n" + body
        return draw(st.sampled_from(["a.eml", "a"])), text.encode("utf-8", "surrogateescape")
    if kind == "text":
        return draw(st.sampled_from(["a.txt", "a"])), draw(printable).encode("utf-8", "surrogatepass")
    if kind == "json":
        return draw(st.sampled_from(["a.json", "a.txt"])), json.dumps(draw(json_values)).encode()
    if kind == "jsonl":
        objs = draw(st.lists(json_values, min_size=1, max_size=8))
        return "a.jsonl", "\n".join(json.dumps(o) for o in objs).encode()
    if kind == "csv":
        delim = draw(st.sampled_from([",", ";", "\t", "|"]))
        header = draw(st.lists(st.sampled_from(["number", "sys_id", "opened_at", "state", "short_description",
                                                "Date", ""]) | words, min_size=1, max_size=6))
        rows = draw(st.lists(st.lists(words | st.sampled_from(["CHG0001234", "2026-01-05 10:00:00", '"a\nb"',
                                                               '"unterminated']), max_size=8), max_size=8))
        text = "\n".join(delim.join(r) for r in [header, *rows])
        return draw(st.sampled_from(["a.csv", "a.txt"])), text.encode()
    if kind == "log":
        lines = draw(st.lists(st.tuples(log_prefix, words), min_size=1, max_size=20))
        return draw(st.sampled_from(["a.log", "auth.log.3", "a"])), "\n".join(p + w for p, w in lines).encode()
    if kind == "md":
        lines = draw(st.lists(st.tuples(st.sampled_from(["# ", "## ", "- ", "1. ", "| ", "```", "> ", ""]), words),
                              min_size=1, max_size=20))
        return "a.md", "\n".join(p + w for p, w in lines).encode()
    tags = draw(st.lists(st.tuples(st.sampled_from(["p", "div", "table", "tr", "td", "h1", "li", "script",
                                                    "style", "br", "b"]), words), max_size=15))
    body = "".join(f"<{t}>{w}" + (f"</{t}>" if i % 2 else "") for i, (t, w) in enumerate(tags))
    return "a.html", f"<!DOCTYPE html><html><body>{body}</body></html>".encode()


@fuzz_settings(default=200, scale=5)
@given(case=generated_file())
def test_generated_files_come_out_as_chunks_or_a_stable_code(tmp_path_factory, case):
    name, data = case
    path = tmp_path_factory.mktemp("gen") / "original"
    path.write_bytes(data)
    outcome(front_half_in_process, path, name)


@st.composite
def generated_office(draw) -> tuple[str, bytes]:
    """A valid workbook or Word document with odd contents: empty sheets, sparse rows, huge, unicode and typed
    cells, formulas, servicenow-like headers, long paragraphs."""
    from datetime import date

    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    text = st.text(max_size=60).map(lambda t: ILLEGAL_CHARACTERS_RE.sub("", t))
    cell = st.one_of(st.none(), text, words, st.integers(-10**15, 10**15), st.floats(allow_nan=False,
                     allow_infinity=False), st.booleans(), st.dates(date(1900, 3, 1), date(9999, 12, 31)),
                     st.sampled_from(["=SUM(A1:A2)", "=1/0", "CHG0001234", "number", "sys_id", "opened_at"]),
                     st.integers(1000, 32000).map(lambda n: "long cell " * (n // 10)))
    if draw(st.booleans()):
        from openpyxl import Workbook

        wb = Workbook()
        for n in range(draw(st.integers(1, 3))):
            ws = wb.active if n == 0 else wb.create_sheet()
            ws.title = draw(st.text(alphabet=string.ascii_letters + " -_", min_size=1, max_size=20)) + str(n)
            for row in draw(st.lists(st.lists(cell, max_size=6), max_size=12)):
                ws.append(row)
        out = io.BytesIO()
        wb.save(out)
        return "book.xlsx", out.getvalue()
    from docx import Document

    d = Document()
    for kind, t in draw(st.lists(st.tuples(st.sampled_from(["heading", "para", "table"]), text | words),
                                 max_size=12)):
        if kind == "heading":
            d.add_heading(t, level=draw(st.integers(0, 9)))
        elif kind == "para":
            d.add_paragraph(t * draw(st.integers(1, 200)))
        else:
            table = d.add_table(rows=2, cols=2)
            table.cell(0, 0).text, table.cell(1, 1).text = t, t[::-1]
    out = io.BytesIO()
    d.save(out)
    return "doc.docx", out.getvalue()


@fuzz_settings(default=25, scale=2)
@given(case=generated_office())
def test_generated_office_files_are_never_corrupt(tmp_path_factory, case):
    """A valid package the parsers failed on would come back as corrupt_file: that is a bug for these."""
    name, data = case
    path = tmp_path_factory.mktemp("office") / name
    path.write_bytes(data)
    assert outcome(front_half_in_process, path, name) in ("xlsx", "servicenow", "docx", "no_text")


# ------------------------------------------------------------------------------------------------------------
# Bombs and limits: they end in a stable code, within the sandbox's limits, and the test process lives on


def _pdf_with_stream(content: bytes) -> bytes:
    """A one-page PDF whose content stream is `content`, Flate-compressed."""
    packed = zlib.compress(content, 9)
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R >>",
            b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(packed) + packed + b"\nendstream"]
    out, offsets = io.BytesIO(), []
    out.write(b"%PDF-1.4\n")
    for n, body in enumerate(objs, 1):
        offsets.append(out.tell())
        out.write(b"%d 0 obj\n" % n + body + b"\nendobj\n")
    xref = out.tell()
    out.write(b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1))
    for off in offsets:
        out.write(b"%010d 00000 n \n" % off)
    out.write(b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref))
    return out.getvalue()


def test_a_pdf_decompression_bomb_stays_inside_the_sandbox_limits(tmp_path):
    """A 1 MB PDF whose content stream inflates to 1 GiB: stopped by the child's memory or time limit."""
    path = F.write(tmp_path, "bomb.pdf", _pdf_with_stream(b"0 " * (512 * 2**20)))
    limits = Limits(partition_timeout_s=10.0, partition_memory_bytes=512 * 2**20)
    t = time.monotonic()
    with pytest.raises(ClausewiseError) as e:
        front_half(path, limits=limits)
    assert e.value.code in (ErrorCode.partition_memory, ErrorCode.partition_timeout), e.value
    assert time.monotonic() - t < limits.partition_timeout_s + 10


@pytest.mark.parametrize("bomb", ["docx", "xlsx"])
def test_office_zip_bombs_are_refused_before_partitioning(tmp_path, bomb):
    data = F.docx_zip_bomb(300) if bomb == "docx" else F.xlsx_zip_bomb(300)
    with pytest.raises(ClausewiseError) as e:
        front_half(F.write(tmp_path, f"bomb.{bomb}", data))
    assert e.value.code is ErrorCode.archive_bomb


def test_a_tight_time_limit_stops_a_real_parse(tmp_path):
    """The limits hold on real parsers too: 50k log lines under 0.05 s come back as partition_timeout."""
    line = b"2026-01-05T10:00:00Z INFO [svc] user alice did a thing to resource r-%d\n"
    path = F.write(tmp_path, "big.log", b"".join(line % i for i in range(50_000)))
    with pytest.raises(ClausewiseError) as e:
        front_half(path, limits=Limits(partition_timeout_s=0.05, partition_memory_bytes=2 * 1024**3))
    assert e.value.code is ErrorCode.partition_timeout


def test_a_tight_memory_limit_stops_a_real_parse(tmp_path):
    path = F.write(tmp_path, "big.log", b"2026-01-05T10:00:00Z INFO [svc] " + b"x" * (64 * 2**20) + b"\n")
    with pytest.raises(ClausewiseError) as e:
        front_half(path, limits=Limits(partition_timeout_s=60, partition_memory_bytes=32 * 2**20))
    assert e.value.code is ErrorCode.partition_memory


@pytest.mark.parametrize("name", ["deep.json", "deep.jsonl", "deep.txt", "deep.log", "deep"])
@pytest.mark.parametrize("depth", [990, 10_000, 100_000])
def test_deeply_nested_json_is_a_stable_outcome(tmp_path, name, depth):
    data = b"[" * depth + b"1" + b"]" * depth
    if name.endswith(".jsonl"):
        data = b'{"a": ' + data + b'}\n{"b": 2}\n{"c": 3}\n'
    outcome(front_half, F.write(tmp_path, name, data), budget_s=LIMITS.partition_timeout_s + 15)


@pytest.mark.parametrize("name,field", [("huge.txt", b"x" * (5 << 20)), ("huge.log", b"word " * (1 << 20)),
                                        ("huge.csv", b'"' + b"a," * (2 << 20) + b'"'),
                                        ("huge.json", b'"' + b"v" * (5 << 20) + b'"'),
                                        ("huge.md", b"# " + b"t" * (3 << 20))])
def test_one_huge_field_is_a_stable_outcome(tmp_path, name, field):
    heads = {".txt": b"Policy.\n\n", ".log": b"2026-01-05T10:00:00Z INFO [a] ", ".csv": b"number,note\nCHG0001234,",
             ".json": b'{"key": "A-1", "fields": {"summary": "s", "description": ', ".md": b""}
    tails = {".json": b"}}"}
    ext = Path(name).suffix
    outcome(front_half, F.write(tmp_path, name, heads[ext] + field + tails.get(ext, b"\n")),
            budget_s=LIMITS.partition_timeout_s + 15)


# ------------------------------------------------------------------------------------------------------------
# Regressions: the minimal inputs of the bugs the fuzzing found


@pytest.mark.parametrize("name,data", [
    ("deep.jsonl", (b'{"a": ' + b"[" * 3000 + b"]" * 3000 + b"}\n") * 3),
    ("deep.json", b"[" * 3000 + b"]" * 3000),
])
def test_sniffing_deeply_nested_json_is_no_recursion_error(tmp_path, name, data):
    """json.loads raised RecursionError out of sniff (a 500 at upload); now the sample is simply not JSON."""
    _, sniffed, _ = inspect_file(F.write(tmp_path, name, data))
    assert sniffed.media_type == "text/plain"


@pytest.mark.parametrize("media,record,kind", [
    ("application/x-ndjson", {"kind": "Event", "auditID": "1", "verb": "get", "annotations": True}, "k8s_audit"),
    ("application/json", {"eventTime": "2026-01-05T10:00:00Z", "eventName": "X", "eventSource": "s",
                          "userIdentity": "root"}, "cloudtrail"),
    ("application/json", {"protoPayload": {"status": [7], "requestMetadata": "x"}, "insertId": "a", "logName": "l"},
     "gcp_audit"),
    ("application/json", {"protoPayload": {"status": {"code": 7, "details": 5}, "authenticationInfo": {
        "serviceAccountDelegationInfo": [{"principalSubject": 7}]}}, "insertId": "a"}, "gcp_audit"),
    ("application/json", {"key": "A-1", "fields": {"project": "OPS", "issuelinks": 3, "subtasks": 1,
                                                   "attachment": [{"filename": 5}]}, "changelog": {"histories": 2}},
     "jira"),
    ("application/json", {"key": "A-1", "fields": {"description": {"type": "doc", "content": [{"type": ["text"]}]}}},
     "jira"),
    ("application/json", {"title": "t", "body": "b", "number": 1, "url": 5, "labels": 3}, "github_issue"),
])
def test_a_record_member_of_the_wrong_type_reads_as_absent(media, record, kind):
    """AttributeError / TypeError in the renderers: the whole export failed as corrupt_file for one odd member."""
    stream = split_records(json.dumps(record), media)
    assert stream.kind == kind and len(stream.blocks) == 1 and stream.blocks[0].text


def test_timestamps_beyond_the_datetime_range_are_no_timestamp():
    """OverflowError out of parse_ts: an epoch beyond float range, an offset past year 1 or 9999."""
    from ingest.records.timestamps import parse_ts

    assert parse_ts(10**400) is None
    assert parse_ts("0001-01-01T00:00:00+05:00") is None and parse_ts("9999-12-31T23:59:59-05:00") is None
    stream = split_records('{"ts": 1' + "0" * 400 + ', "a": 1}\n{"ts": 2, "b": 1}\n', "application/x-ndjson")
    assert stream.kind == "jsonl" and stream.blocks[0].ts_start is None
    assert split_records("0001-01-01T00:00:00+05:00 INFO [a] x\n" * 2, "text/plain") is None


def _nested(depth: int) -> str:
    return '{"a": ' * depth + "1" + "}" * depth


@pytest.mark.parametrize("record", [
    '{"eventTimestamp": "2025-10-14T09:12:03Z", "operationName": "x", "caller": "c", "properties": {"p": %s}}',
    '{"protoPayload": {"request": %s}, "insertId": "a", "logName": "l"}',
])
def test_json_nested_past_the_limit_is_corrupt_not_a_recursion_error(tmp_path, record):
    """600 levels parse, but the Azure/GCP renderers recursed (two frames a level) into RecursionError."""
    with pytest.raises(ValueError, match="deeper than"):
        split_records(record % _nested(600), "application/json")
    assert split_records(record % _nested(20), "application/json").blocks     # real exports nest < 20
    with pytest.raises(ClausewiseError) as e:
        front_half(F.write(tmp_path, "deep.json", (record % _nested(600)).encode()))
    assert e.value.code is ErrorCode.corrupt_file and "exception" not in e.value.extra


def test_a_csv_cell_longer_than_the_csv_modules_default_limit(tmp_path):
    """A one-column CSV with a 200 KB cell: csv.Error (field larger than field limit) in the generic reader."""
    part, specs = front_half_in_process(F.write(tmp_path, "notes.csv", b"note\n" + b"word " * 40_000 + b"\n"))
    assert part.kind == "csv" and specs


def test_a_csv_field_past_the_field_limit_is_corrupt_file(monkeypatch):
    import csv

    from ingest import partition as P

    old = csv.field_size_limit()
    monkeypatch.setattr(P, "CSV_FIELD_LIMIT", 1000)
    csv.field_size_limit(1000)
    try:
        with pytest.raises(ClausewiseError) as e:
            P._generic_csv('note\n"' + "x" * 5000 + "\n")
    finally:
        csv.field_size_limit(old)
    assert e.value.code is ErrorCode.corrupt_file


@pytest.mark.parametrize("header", ["From: a@", "To: <a@b", "Date: Fri, 31 Dec 9999 23:59:59 -1200",
                                    "Subject: =?bogus?x?abc?=", "Content-Type: text/plain; charset=x-unknown"])
def test_an_email_with_a_malformed_header_keeps_its_body(tmp_path, header):
    """IndexError / OverflowError from the default policy's header parsing failed the whole email."""
    data = f"From: ann@example.org\nTo: bob@example.org\nSubject: Access review\n{header}\n\n" \
           "The quarterly access review was completed and signed off.\n"
    part, specs = front_half_in_process(F.write(tmp_path, "a.eml", data.encode()))
    assert part.kind == "email" and "signed off" in " ".join(c.text for c in specs)


def test_long_punctuation_runs_do_not_stall_the_sentence_model(tmp_path):
    """spaCy's affix splitting is quadratic in a run of brackets: a 20 KB file timed out the sandbox."""
    from ingest.partition import _light_nlp

    t = time.monotonic()
    _light_nlp()("=" * 20_000 + " and [" + "(" * 20_000)
    assert time.monotonic() - t < 2
    part, specs = front_half(F.write(tmp_path, "deep.txt", b"[" * 10_000 + b"1" + b"]" * 10_000),
                             limits=Limits(partition_timeout_s=10, partition_memory_bytes=2 * 1024**3))
    assert part.kind == "text" and "[" * 10_000 in "".join(c.text for c in specs), "the text itself is kept"


def test_a_pdf_with_deeply_nested_arrays_is_corrupt_file(tmp_path):
    """pdfminer's parser nests `[[[…` and raised RecursionError (reached the sandbox's last resort)."""
    data = apply(seed("files/CS-MERLIN-SCR-003_Clinical_Safety_Case_v3.3_excerpt.pdf"), ("nest", 0.5, 2000))
    with pytest.raises(ClausewiseError) as e:
        front_half_in_process(F.write(tmp_path, "nested.pdf", data))
    assert e.value.code is ErrorCode.corrupt_file


def test_a_long_paragraph_of_short_words_stays_within_the_memory_limit(tmp_path):
    """The sentence model's tagger holds ~15 KB a token for a whole element: one 1 MB paragraph of words needed
    4 GiB and 17 s (partition_memory at the production limit of 2 GiB); it is classified on its start now."""
    path = F.write(tmp_path, "notes.txt", b"x " * (1 << 19))
    part, specs = front_half(path, limits=Limits(partition_timeout_s=20, partition_memory_bytes=1024**3))
    assert part.kind == "text" and sum(len(c.text) for c in specs) >= (1 << 20) - 1, "all of the text is kept"


@pytest.mark.parametrize("name", [{"op": "Create"}, ["a", 1], 7, "E" * 1000])
def test_a_chunk_section_is_a_short_string(name):
    """An event name of any JSON type or length became the section: Chunk.section is String(500)."""
    event = {"eventTime": "2026-01-05T10:00:00Z", "eventName": name, "eventSource": "s"}
    _, specs = chunk_blocks(split_records(json.dumps(event), "application/json").blocks)
    check_chunks(specs)
    assert isinstance(specs[0].section, str) and len(specs[0].section) <= 200


def test_sniffing_a_csv_of_quotes_is_not_quadratic(tmp_path):
    """csv.Sniffer on ten 6 KB lines of `x,"` took 5 s inside the upload request."""
    inspect(F.write(tmp_path, "q.csv", b"\n".join([b'x,"' * 2000] * 10)), None)


def test_the_sandbox_names_an_unexpected_parser_exception():
    """What the property above relies on: a last-resort corrupt_file says which exception it was."""
    from ingest.sandbox import run_limited

    with pytest.raises(ClausewiseError) as e:
        run_limited(lambda: 1 / 0, timeout_s=10, memory_bytes=256 * 2**20)
    assert e.value.code is ErrorCode.corrupt_file and e.value.extra == {"exception": "ZeroDivisionError"}

"""Type sniffing from bytes, the allowlist, claim/content mismatches, DOCX bomb caps and file-name sanitizing."""

import json
from pathlib import Path

import factories as F
import pytest

from core.errors import ClausewiseError
from ingest import sniff as S

FIX = Path(__file__).parents[2] / "eval" / "datasets" / "files"
MANIFEST = [json.loads(line) for line in (FIX / "manifest.jsonl").read_text().splitlines()]
EXPECTED = {"pdf": S.PDF, "docx": S.DOCX, "html": S.HTML, "md": S.MARKDOWN, "txt": S.TEXT, "eml": S.EML,
            "csv": S.CSV, "json": S.JSON, "jsonl": S.JSONL, "log": S.LOG}


def detect(name: str, data: bytes) -> S.Sniffed:
    claimed = S.claimed_type(name)
    got = S.sniff(data[: S.SNIFF_BYTES], claimed=claimed, complete=len(data) <= S.SNIFF_BYTES)
    S.check_allowed(got, claimed, name)
    return got


@pytest.mark.parametrize("item", [m for m in MANIFEST if m["expect"] == "suggestions"], ids=lambda m: m["file"])
def test_every_realistic_format_is_detected_from_its_bytes(item):
    assert detect(item["file"], (FIX / item["file"]).read_bytes()).media_type == EXPECTED[item["format"]]


def test_random_bytes_named_txt_are_refused_with_both_types():
    with pytest.raises(ClausewiseError) as e:
        name = "vendor_questionnaire_answers_Halcyon.txt"
        detect(name, (FIX / name).read_bytes())
    assert e.value.code.value == "unsupported_media_type" and e.value.status == 415
    assert e.value.extra == {"claimed_type": S.TEXT, "detected_type": "application/octet-stream"}


def test_binary_renamed_pdf_is_refused():
    with pytest.raises(ClausewiseError) as e:
        detect("report.pdf", bytes(range(256)) * 64)
    assert e.value.status == 415 and e.value.extra["claimed_type"] == S.PDF


def test_text_renamed_pdf_is_a_mismatch():
    with pytest.raises(ClausewiseError) as e:
        detect("policy.pdf", b"This is a plain text policy.\n" * 20)
    assert e.value.code.value == "type_mismatch"
    assert e.value.extra == {"claimed_type": S.PDF, "detected_type": S.TEXT}


def test_pdf_renamed_txt_is_a_mismatch():
    with pytest.raises(ClausewiseError) as e:
        detect("notes.txt", F.text_pdf(["hello"]))
    assert e.value.code.value == "type_mismatch" and e.value.extra["detected_type"] == S.PDF


def test_json_named_txt_is_accepted_as_json():
    assert detect("export.txt", json.dumps({"a": 1, "b": [1, 2]}).encode()).media_type == S.JSON


def test_an_extension_naming_a_type_we_do_not_accept_is_refused_whatever_the_bytes():
    for name in ("payload.exe", "photo.png", "archive.zip", "auth.log.2.gz", "run.sh", "tool.py"):
        with pytest.raises(ClausewiseError) as e:
            detect(name, b"plain words here\n" * 10)
        assert e.value.code.value == "unsupported_media_type", name


SYSLOG = (b"Jun  9 04:12:09 gpu-04 sshd[4121]: Accepted publickey for svc-train-sync from 10.0.3.4 port 50122 ssh2\n"
          b"Jun  9 04:13:11 gpu-04 sshd[4188]: pam_unix(sshd:session): session opened for user svc-deploy\n") * 10


@pytest.mark.parametrize("name", ["auth.log_host_2025-06-09_to_06-11", "messages-20250609", "syslog.2025-06-09",
                                  "secure.7", "kern.log.bak"])
def test_a_date_suffixed_or_unknown_extension_is_read_by_its_content(name):
    assert detect(name, SYSLOG).media_type == S.LOG


@pytest.mark.parametrize("name", ["auth.log_host_2025-06-09_to_06-11", "messages-20250609", "syslog.2025-06-09"])
def test_binary_bytes_under_such_a_name_are_refused(name):
    with pytest.raises(ClausewiseError) as e:
        detect(name, bytes(range(256)) * 40)
    assert e.value.code.value == "unsupported_media_type"
    if not S.extension(name):   # no extension at all: the content decides for every type, as before
        assert detect(name, F.text_pdf(["hello"])).media_type == S.PDF
        return
    with pytest.raises(ClausewiseError) as e:   # an unknown extension: an accepted binary type needs its own name
        detect(name, F.text_pdf(["hello"]))
    assert e.value.code.value == "unsupported_media_type" and e.value.extra["detected_type"] == S.PDF


@pytest.mark.parametrize("name", ["auth.log.1", "gateway.log.12", "notes.txt.3"])
def test_rotated_log_names_are_read_by_their_base_extension(name):
    line = b"Dec  3 04:12:09 gpu-04 sshd[4121]: Accepted publickey for svc-train-sync from 10.0.3.4 port 50122 ssh2\n"
    got = detect(name, line * 20)
    assert got.media_type in S.TEXT_FAMILY and S.extension(name) in (".log", ".txt")
    with pytest.raises(ClausewiseError) as e:
        detect("scan.pdf.1", line * 20)  # rotation does not make text a PDF
    assert e.value.code.value == "type_mismatch"


def test_utf16_and_latin1_text_are_read_with_the_right_codec():
    text = "Politique d'accès: les clés sont changées chaque trimestre. Überprüfung jährlich.\n" * 5
    u16 = detect("policy.txt", text.encode("utf-16"))
    assert u16.media_type == S.TEXT and text.encode("utf-16").decode(u16.encoding) == text
    lat = detect("policy.txt", text.encode("latin-1"))
    assert lat.media_type == S.TEXT and text.encode("latin-1").decode(lat.encoding) == text


def test_docx_bomb_is_refused_before_extraction(tmp_path):
    path = F.write(tmp_path, "bomb.docx", F.docx_zip_bomb(300))
    assert path.stat().st_size < 2 * 1024 * 1024
    with pytest.raises(ClausewiseError) as e:
        S.check_docx(path)
    assert e.value.code.value == "archive_bomb"


def test_real_docx_passes_the_bomb_check(tmp_path):
    S.check_docx(F.write(tmp_path, "ok.docx", F.docx(F.PARAS)))


def test_xlsx_is_detected_from_its_bytes_and_office_files_cannot_swap_names(tmp_path):
    data = F.access_review_xlsx()
    assert detect("review.xlsx", data).media_type == S.XLSX
    assert detect("review", data).media_type == S.XLSX
    for name, payload, real in (("review.docx", data, S.XLSX), ("proc.xlsx", F.docx(F.PARAS), S.DOCX)):
        with pytest.raises(ClausewiseError) as e:
            S.check_allowed(detect(name, payload), S.claimed_type(name), name)
        assert e.value.code.value == "type_mismatch" and e.value.extra["detected_type"] == real
    S.check_ooxml(F.write(tmp_path, "ok.xlsx", data), S.XLSX)
    with pytest.raises(ClausewiseError) as e:   # a Word package is not a workbook, whatever its name
        S.check_ooxml(F.write(tmp_path, "word.xlsx", F.docx(F.PARAS)), S.XLSX)
    assert e.value.code.value == "corrupt_file"
    with pytest.raises(ClausewiseError) as e:
        S.check_ooxml(F.write(tmp_path, "bomb.xlsx", F.xlsx_zip_bomb(300)), S.XLSX)
    assert e.value.code.value == "archive_bomb"


@pytest.mark.parametrize("raw,expected", [
    ("../../etc/passwd", "passwd"),
    ("..\\..\\windows\\system.ini", "system.ini"),
    ("evil\x00name.pdf", "evilname.pdf"),
    ("tab\there\nnewline\x1b[31m.txt", "tabherenewline[31m.txt"),
    ("", "upload"),
    ("....", "upload"),
    (".hidden.md", "hidden.md"),
])
def test_file_names_are_sanitized(raw, expected):
    assert S.sanitize_filename(raw) == expected


def test_long_file_names_are_cut_to_255_bytes_keeping_the_extension():
    name = S.sanitize_filename("é" * 300 + ".pdf")
    assert len(name.encode()) <= 255 and name.endswith(".pdf")
    assert S.sanitize_filename("a" * 300 + ".docx") == "a" * 250 + ".docx"


def test_a_long_suffix_survives_sanitizing_unchanged_and_a_too_long_name_is_cut_from_the_end():
    assert S.sanitize_filename("auth.log_host_2025-06-09_to_06-11") == "auth.log_host_2025-06-09_to_06-11"
    long = "a" * 300 + ".log_host_2025-06-09_to_06-11"
    assert S.sanitize_filename(long) == long[:255]
    assert S.sanitize_filename("b" * 300 + ".pdf") == "b" * 251 + ".pdf"

"""Fixture files the tests generate: text PDFs, encrypted and image-only PDFs, DOCX and XLSX (and zip bombs)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

PARAS = [
    "The AI policy is approved by the executive board and reviewed every year.",
    "Model releases require a validation report signed by the model risk owner before deployment.",
    "Service account keys are rotated every 90 days and unused identities are disabled after 30 days.",
    "Inference requests are logged with a trace id and retained for twelve months in the SIEM.",
]


def text_pdf(pages: list[str]) -> bytes:
    from eval.corpus import make_pdf

    return make_pdf(pages)


def image_only_pdf(n_pages: int = 2) -> bytes:
    """Pages that carry only a drawn shape: what a scan without OCR looks like to a text extractor."""
    from fpdf import FPDF

    pdf = FPDF()
    for _ in range(n_pages):
        pdf.add_page()
        pdf.set_fill_color(90, 90, 90)
        pdf.rect(20, 20, 150, 200, style="F")
    return bytes(pdf.output())


def encrypted_pdf(password: str = "s3cret") -> bytes:
    from pypdf import PdfReader, PdfWriter

    writer = PdfWriter()
    for page in PdfReader(io.BytesIO(text_pdf(PARAS))).pages:
        writer.add_page(page)
    writer.encrypt(user_password=password, owner_password=password + "-owner", algorithm="RC4-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def docx(paragraphs: list[str], heading: str = "Access control procedure") -> bytes:
    from docx import Document

    d = Document()
    d.add_heading(heading, level=1)
    for p in paragraphs:
        d.add_paragraph(p)
    out = io.BytesIO()
    d.save(out)
    return out.getvalue()


def _zip_bomb(members: dict[str, str], big: str, inflated_mib: int) -> bytes:
    """A package-shaped zip with one member that inflates to `inflated_mib` MiB of highly compressible zeros."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in members.items():
            zf.writestr(name, text)
        with zf.open(big, "w", force_zip64=True) as member:
            block = b"0" * (1 << 20)
            for _ in range(inflated_mib):
                member.write(block)
    return out.getvalue()


def docx_zip_bomb(inflated_mib: int = 300) -> bytes:
    """A valid-looking DOCX whose document.xml inflates to hundreds of MiB."""
    return _zip_bomb({"[Content_Types].xml": "<Types/>"}, "word/document.xml", inflated_mib)


def access_review_xlsx() -> bytes:
    """A workbook as compliance teams keep them: a title above the header, dates, a multi-line cell, two sheets."""
    from datetime import date, datetime

    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "Q4 review"
    ws.append(["Quarterly access review of machine identities - Q4 2025"])
    ws.append([])
    ws.append(["Identity", "Type", "Owner", "Last used", "Decision", "Reviewer", "Notes"])
    ws.append(["sa-scribe-transcribe", "service principal", "team-scribe", datetime(2025, 12, 1), "keep",
               "K. O'Donnell", "Client secret rotated; 90-day expiry, stored in Key Vault"])
    ws.append(["merlin-batch-scorer", "GCP service account", "team-merlin", datetime(2025, 9, 1), "revoke",
               "K. O'Donnell", "Stale for 97 days,\nwrite access to PHI: disabled, deleted after 30 days"])
    ws.append(["mlflow-legacy-sync", "GCP service account", None, datetime(2025, 6, 30), "revoke", "R. Menon",
               "No owner; user-managed key deleted"])
    sign = wb.create_sheet("Sign-off")
    sign.append(["Reviewer", "Date", "Statement"])
    sign.append(["Kat O'Donnell", date(2026, 1, 5),
                 "All machine identities with access to production AI systems were reviewed; two were revoked."])
    out = io.BytesIO()
    wb.save(out)
    return out.getvalue()


def xlsx_zip_bomb(inflated_mib: int = 300) -> bytes:
    """A workbook-shaped zip whose sheet XML inflates to hundreds of MiB."""
    return _zip_bomb({"[Content_Types].xml": "<Types/>", "xl/workbook.xml": "<workbook/>"},
                     "xl/worksheets/sheet1.xml", inflated_mib)


def write(tmp: Path, name: str, data: bytes) -> Path:
    p = tmp / name
    p.write_bytes(data)
    return p

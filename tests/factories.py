"""Fixture files the tests generate: text PDFs, encrypted and image-only PDFs, DOCX (and a DOCX zip bomb)."""

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


def docx_zip_bomb(inflated_mib: int = 300) -> bytes:
    """A valid-looking DOCX whose document.xml inflates to hundreds of MiB (highly compressible zeros)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("[Content_Types].xml", "<Types/>")
        with zf.open("word/document.xml", "w", force_zip64=True) as member:
            block = b"0" * (1 << 20)
            for _ in range(inflated_mib):
                member.write(block)
    return out.getvalue()


def write(tmp: Path, name: str, data: bytes) -> Path:
    p = tmp / name
    p.write_bytes(data)
    return p

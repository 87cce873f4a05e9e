"""Rows of one tenant: the only way handlers and services look a document up by id.

Another tenant's document answers exactly like a missing one (404 `document_not_found`), so ids reveal nothing.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from core.errors import ClausewiseError, ErrorCode
from core.models import Document


def tenant_document(s: Session, tenant_id: str, document_id: str) -> Document:
    """This tenant's document, or `document_not_found`."""
    doc = s.scalar(select(Document).where(Document.id == document_id, Document.tenant_id == tenant_id))
    if doc is None:
        raise ClausewiseError(ErrorCode.document_not_found, f"no document {document_id}")
    return doc

"""Control frameworks and crosswalks as versioned data, with their loader. Imports nothing of ours."""

from catalog.loader import (
    FRAMEWORKS,
    RELATIONSHIPS,
    Catalog,
    CatalogError,
    Control,
    Edge,
    Framework,
    FrameworkId,
    Hop,
    load_catalog,
)

__all__ = [
    "FRAMEWORKS", "RELATIONSHIPS", "Catalog", "CatalogError", "Control", "Edge", "Framework", "FrameworkId", "Hop",
    "load_catalog",
]

"""Non-human identities (machine identities) seen in evidence: the extraction stage of the NHI inventory.

    model.py     Sighting (one record's evidence about one identity), KINDS, PROVIDERS, CREDENTIAL_EVENTS
    rules.py     people versus software, clients, privilege, canonical identity forms
    text.py      structural identity mentions in free text (log lines, tickets, policy documents)
    extract.py   attach (per record, called by the record dispatcher) and collect (per document, by the
                 partitioner: provenance, PENDING identities, a person's use of a credential)

Each record format declares what it sees: `RecordFormat.identities`, a function over the same raw input as the
format's `render` (ingest/records/formats/*.py). Formats without one are read by text.scan.
"""

from .model import CREDENTIAL_EVENTS, KINDS, PROVIDERS, Sighting

__all__ = ["CREDENTIAL_EVENTS", "KINDS", "PROVIDERS", "Sighting"]

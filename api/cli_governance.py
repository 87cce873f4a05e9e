"""`clausewise soa|applicability|owner|interval|actions|expiring`: the management system from the command line.

Changes are recorded on the tenant's governance chain with the actor `cli:<user>` (or `--actor`), as the API
records the key's name.
"""

from __future__ import annotations

import getpass
import json
import sys
from pathlib import Path

import typer

_TYPER = {"no_args_is_help": True, "pretty_exceptions_show_locals": False}
soa_app = typer.Typer(help="Statement of Applicability (ISO/IEC 42001 6.1.3).", **_TYPER)
applicability_app = typer.Typer(help="Applicability of Annex A controls.", **_TYPER)
owner_app = typer.Typer(help="Owners of controls and documents.", **_TYPER)
actions_app = typer.Typer(help="Corrective actions (ISO/IEC 42001 10.2).", **_TYPER)
ISO = "ISO-IEC-42001-2023"


def register(app: typer.Typer, runtime_settings) -> None:
    global _settings
    _settings = runtime_settings
    app.add_typer(soa_app, name="soa")
    app.add_typer(applicability_app, name="applicability")
    app.add_typer(owner_app, name="owner")
    app.add_typer(actions_app, name="actions")
    app.command("expiring")(expiring_cmd)
    app.command("review-interval")(interval_cmd)


_settings = None


class _Ctx:
    """A database, the catalog and a principal acting for one tenant; closed on exit."""

    def __init__(self, tenant: str, actor: str | None = None) -> None:
        from catalog import load_catalog
        from core.auth import Principal, ensure_tenant
        from core.db import Database
        from core.models import Role

        self.db = Database.from_settings(_settings())
        try:
            self.tenant_id = ensure_tenant(self.db, tenant, create=False).id
        except BaseException:
            self.db.dispose()
            raise
        self.catalog = load_catalog()
        self.principal = Principal(key_id=None, name=actor or f"cli:{getpass.getuser()}", role=Role.admin,
                                   tenant_id=self.tenant_id)

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.db.dispose()


def _out(value) -> None:
    typer.echo(json.dumps(value, indent=2, default=str))


TENANT = typer.Option("default", "--tenant", help="Tenant slug or id")
ACTOR = typer.Option(None, "--actor", help="Who is making the change (default cli:<user>)")


@soa_app.command("export")
def soa_export(fmt: str = typer.Option("xlsx", "--format", help="xlsx, csv, json or oscal"),
               out: Path = typer.Option(None, "--out", help="File to write (default: standard output for text)"),
               tenant: str = TENANT) -> None:
    """Write the Statement of Applicability: one row per Annex A control."""
    from review import soa

    if fmt not in ("xlsx", "csv", "json", "oscal"):
        raise typer.BadParameter("format must be xlsx, csv, json or oscal", param_hint="--format")
    with _Ctx(tenant) as c:
        body, _, name = soa.export(db=c.db, catalog=c.catalog, tenant_id=c.tenant_id, fmt=fmt)
    if out is None and fmt == "xlsx":
        out = Path(name)
    if out is None:
        sys.stdout.write(body.decode("utf-8"))
        return
    out.write_bytes(body)
    typer.echo(f"wrote {out} ({len(body)} bytes)", err=True)


@applicability_app.command("list")
def applicability_list(tenant: str = TENANT) -> None:
    """Every ISO/IEC 42001 requirement with its applicability."""
    from review import governance

    with _Ctx(tenant) as c:
        _out(governance.applicability(db=c.db, catalog=c.catalog, tenant_id=c.tenant_id))


@applicability_app.command("set")
def applicability_set(control_id: str,
                      exclude: bool = typer.Option(False, "--exclude", help="Exclude the control"),
                      justification: str = typer.Option(None, "--justification", help="Required with --exclude"),
                      status: str = typer.Option(None, "--status",
                                                 help="planned, partially_implemented or implemented"),
                      reason: str = typer.Option(None, "--reason"), tenant: str = TENANT,
                      actor: str = ACTOR) -> None:
    """Declare an Annex A control applicable (with a status) or excluded (with a justification)."""
    from review import governance

    with _Ctx(tenant, actor) as c:
        _out(governance.set_applicability(db=c.db, catalog=c.catalog, principal=c.principal, control_id=control_id,
                                          applicable=not exclude, justification=justification, status=status,
                                          reason=reason))


@owner_app.command("set")
def owner_set(owner: str = typer.Argument(..., help="Person or team; '' clears"),
              control: str = typer.Option(None, "--control", help="Control id"),
              framework: str = typer.Option(ISO, "--framework"),
              document: str = typer.Option(None, "--document", help="Document id"),
              key_id: str = typer.Option(None, "--key-id", help="The owner's API key id"),
              tenant: str = TENANT, actor: str = ACTOR) -> None:
    """Name who answers for a control (--control) or a document (--document)."""
    from review import governance

    if bool(control) == bool(document):
        raise typer.BadParameter("give one of --control or --document")
    with _Ctx(tenant, actor) as c:
        if control:
            _out(governance.set_control_owner(db=c.db, catalog=c.catalog, principal=c.principal,
                                              framework=framework, control_id=control, owner=owner or None,
                                              owner_key_id=key_id))
        else:
            _out(governance.set_document_owner(db=c.db, principal=c.principal, document_id=document,
                                               owner=owner or None, owner_key_id=key_id))


@owner_app.command("show")
def owner_show(owner: str, tenant: str = TENANT) -> None:
    """What one owner answers for: controls (gaps first), documents, corrective actions."""
    from review import governance

    with _Ctx(tenant) as c:
        _out(governance.owner_items(db=c.db, catalog=c.catalog, tenant_id=c.tenant_id, owner=owner))


def interval_cmd(control_id: str, days: int = typer.Option(None, "--days", help="Omit to return to the default"),
                 framework: str = typer.Option(ISO, "--framework"), reason: str = typer.Option(None, "--reason"),
                 tenant: str = TENANT, actor: str = ACTOR) -> None:
    """Override a control's review interval in days (omit --days to return to the catalog default)."""
    from review import governance

    with _Ctx(tenant, actor) as c:
        _out(governance.set_review_interval(db=c.db, catalog=c.catalog, principal=c.principal, framework=framework,
                                            control_id=control_id, days=days, reason=reason))


def expiring_cmd(within_days: int = typer.Option(30, "--within-days"),
                 framework: str = typer.Option(None, "--framework"), tenant: str = TENANT) -> None:
    """Controls whose confirmed evidence has expired or expires soon, by owner and date."""
    from review import governance

    with _Ctx(tenant) as c:
        _out(governance.expiring(db=c.db, catalog=c.catalog, tenant_id=c.tenant_id, within_days=within_days,
                                 framework=framework))


@actions_app.command("list")
def actions_list(state: str = typer.Option(None, "--state"), owner: str = typer.Option(None, "--owner"),
                 overdue: bool = typer.Option(None, "--overdue/--not-overdue"), tenant: str = TENANT) -> None:
    """Corrective actions, overdue first."""
    from review import governance

    with _Ctx(tenant) as c:
        _out(governance.list_actions(db=c.db, tenant_id=c.tenant_id, state=state, owner=owner, overdue=overdue))


@actions_app.command("open")
def actions_open(statement: str = typer.Option(..., "--statement", help="The nonconformity"),
                 control: list[str] = typer.Option([], "--control", help="Control id (repeat); ISO unless "
                                                                         "FRAMEWORK:ID"),
                 source: str = typer.Option(..., "--source", help="gap, expired or rejected_mapping"),
                 suggestion: str = typer.Option(None, "--suggestion", help="The rejected mapping"),
                 owner: str = typer.Option(None, "--owner"), due: str = typer.Option(None, "--due"),
                 root_cause: str = typer.Option(None, "--root-cause"), action: str = typer.Option(None, "--action"),
                 tenant: str = TENANT, actor: str = ACTOR) -> None:
    """Open a corrective action."""
    from review import governance

    controls = [{"framework": x.rsplit(":", 1)[0], "control_id": x.rsplit(":", 1)[1]} if ":" in x
                else {"framework": ISO, "control_id": x} for x in control]
    with _Ctx(tenant, actor) as c:
        _out(governance.open_action(db=c.db, catalog=c.catalog, principal=c.principal, statement=statement,
                                    controls=controls, source={"type": source, "suggestion_id": suggestion},
                                    owner=owner, due_date=due, root_cause=root_cause, action=action))


@actions_app.command("move")
def actions_move(action_id: str, to: str = typer.Argument(..., help="in_progress, resolved, verified, cancelled"),
                 reason: str = typer.Option(None, "--reason"), comment: str = typer.Option(None, "--comment"),
                 tenant: str = TENANT, actor: str = ACTOR) -> None:
    """Move a corrective action to its next state."""
    from review import governance

    with _Ctx(tenant, actor) as c:
        _out(governance.move_action(db=c.db, catalog=c.catalog, principal=c.principal, action_id=action_id, to=to,
                                    reason=reason, comment=comment))

"""The `clausewise` command line."""

from __future__ import annotations

import json
import sys

import typer

from catalog import FRAMEWORKS, load_catalog
from core.settings import Settings

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Clausewise: evidence to controls.")
catalog_app = typer.Typer(no_args_is_help=True, help="Inspect the control catalog and crosswalks.")
db_app = typer.Typer(no_args_is_help=True, help="Database migrations.")
app.add_typer(catalog_app, name="catalog")
app.add_typer(db_app, name="db")


@catalog_app.command("stats")
def catalog_stats(as_json: bool = typer.Option(False, "--json", help="Print JSON only.")) -> None:
    """Print framework and crosswalk counts."""
    cat = load_catalog()
    stats = cat.stats()
    if as_json:
        typer.echo(json.dumps(stats))
        return
    typer.echo(f"catalog version {cat.version}")
    for key, counts in stats.items():
        typer.echo(f"{key}: " + ", ".join(f"{k}={v}" for k, v in counts.items()))


@catalog_app.command("show")
def catalog_show(
    control_id: str,
    framework: str = typer.Option(None, "--framework", "-f", help=f"One of {', '.join(FRAMEWORKS)}"),
    max_hops: int = typer.Option(1, "--hops", min=1, max=3),
) -> None:
    """Print one control with its crosswalk neighbours."""
    cat = load_catalog()
    if framework:
        fw = cat.frameworks.get(framework)
        found = [fw.controls[control_id]] if fw and control_id in fw.controls else []
    else:
        found = cat.find(control_id)
    if not found:
        typer.echo(f"error: no control {control_id!r}" + (f" in {framework}" if framework else ""), err=True)
        raise typer.Exit(2)
    if len(found) > 1:
        typer.echo(f"error: {control_id!r} is in several frameworks; pass --framework", err=True)
        raise typer.Exit(2)
    c = found[0]
    typer.echo(f"{c.framework} {c.id}  {c.title}")
    typer.echo(f"  type: {c.type}{'  (requirement)' if c.requirement else ''}   parent: {c.parent or '-'}")
    typer.echo(f"  {c.text}")
    if c.evidence:
        typer.echo(f"  evidence: {c.evidence}")
    for ex in c.examples:
        typer.echo(f"  - {ex}")
    paths = cat.neighbours(c.framework, c.id, max_hops=max_hops)
    typer.echo(f"neighbours ({len(paths)}):")
    for p in paths:
        end = p[-1]
        chain = " -> ".join(f"{h.relationship} {h.to_framework} {h.to_id}" for h in p)
        typer.echo(f"  {end.to_framework} {end.to_id}  [{chain}]  ({p[-1].provenance[:80]})")
    attribution = cat.frameworks[c.framework].attribution
    if attribution:
        typer.echo(f"source: {attribution}")


@db_app.command("upgrade")
def db_upgrade(revision: str = "head") -> None:
    """Apply migrations to the configured database."""
    from core.db import upgrade

    settings = Settings()
    settings.ensure_dirs()
    upgrade(settings.resolved_database_url, revision)
    typer.echo(f"database at {revision}: {settings.public_summary()['database']}")


@db_app.command("downgrade")
def db_downgrade(revision: str) -> None:
    """Revert migrations to a revision (`base` empties the database)."""
    from core.db import downgrade

    settings = Settings()
    downgrade(settings.resolved_database_url, revision)
    typer.echo(f"database at {revision}")


@app.command("serve")
def serve(
    host: str = typer.Option(None, help="Bind address (default from settings)"),
    port: int = typer.Option(None, help="Port (default from settings)"),
) -> None:
    """Run the API on the configured stores (embedded defaults: SQLite, Chroma on disk)."""
    import uvicorn

    from api.app import create_app
    from core.db import upgrade

    settings = Settings()
    settings.ensure_dirs()
    upgrade(settings.resolved_database_url)
    typer.echo(f"clausewise: {settings.public_summary()}", err=True)
    uvicorn.run(create_app(settings), host=host or settings.host, port=port or settings.port,
                log_level=settings.log_level.lower())


def main() -> None:
    try:
        app()
    except Exception as exc:  # configuration errors should read as one line, not a traceback
        from pydantic import ValidationError

        if isinstance(exc, ValidationError):
            typer.echo(f"error: invalid settings: {exc}", err=True)
            sys.exit(2)
        raise

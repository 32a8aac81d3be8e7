"""``marketd content …``: check a file now, see and refresh the data models, re-check a brand."""
from __future__ import annotations

import json
from pathlib import Path

import click

from marketd.sdk import ConfigError, build_app, inbox_settings_for, process_file


def content_commands(cli) -> None:
    @cli.group("content")
    def content():
        """Product content: completeness checks, data models, GPSR, images (docs/plugins/content.md)."""

    @content.command("check")
    @click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
    @click.pass_context
    def check(ctx, file: Path):
        """Check FILE now, exactly as if it were dropped into inbox/content/ (the same bytes give the
        same CSVs)."""
        app = build_app(ctx)
        try:
            row = process_file(app, "content", file)
        finally:
            app.close()
        if row["state"] != "done" and not row.get("duplicate_of"):
            err = row.get("error") or {}
            raise click.ClickException(f"{row['name']}: {err.get('reason')}: {err.get('message')}"
                                       + (f" ({err['where']})" if err.get("where") else ""))
        summary = row.get("summary") or {}
        for r in summary.get("runs", []):
            click.echo(f"{r['brand']}: run {r['run']}, {r['errors']} error(s), {r['warnings']} warning(s), "
                       f"{r['new']} new, {r['fixed']} fixed -> {app.outbox_dir / r['report_dir']}")
        if not summary.get("runs"):
            click.echo(json.dumps(summary, sort_keys=True))

    @content.group("models")
    def models():
        """The data models in the models folder."""

    @models.command("list")
    @click.pass_context
    def list_models(ctx):
        """Every model file with its version stamp."""
        from .registry import Registry, models_root

        app = build_app(ctx)
        try:
            settings = inbox_settings_for(app, "content")
            root = models_root(app, settings)
            reg = Registry(root, settings)
            if reg.mapping_error:
                click.echo(f"mapping.toml: {reg.mapping_error}", err=True)
            click.echo(f"models folder: {root}")
            for name, ps in sorted(settings.platforms.items()):
                folder = root / ps.model_folder(name)
                refs = []
                if ps.type == "amazon":
                    refs = [p.parent.name for p in sorted((folder / (ps.marketplace or name)).glob("*/schema.json"))]
                elif ps.type == "ebay":
                    refs = [p.name.split(".")[0] for p in sorted((folder / (ps.marketplace or name)).glob("*/*.aspects.json"))]
                else:
                    refs = sorted({p.stem for p in folder.glob("*.toml")} | {p.stem for p in folder.glob("*.json")})
                for ref in refs:
                    m = reg.model(name, ps, ref)
                    if m is not None:
                        click.echo(f"{name}\t{m.key}\t{m.stamp}" + (f"\tUNREADABLE: {m.error}" if m.error else ""))
        finally:
            app.close()

    @models.command("refresh")
    @click.option("--platform", "platforms", multiple=True, help="only this platform (repeatable)")
    @click.pass_context
    def refresh(ctx, platforms):
        """Fetch every model in use again through the channels now, and re-check what changed."""
        from . import modelsync

        app = build_app(ctx)
        try:
            out = modelsync.refresh(app, full=True, only=set(platforms) or None)
            for plat, ref in out["changed"]:
                click.echo(f"changed: {plat} {ref}")
            for e in out["errors"]:
                click.echo(f"error: {e}", err=True)
            result = modelsync.models_job(app, None)
            for r in result["rechecked"]:
                click.echo(f"re-checked {r['skus']} SKU(s) of {r['brand']} (run {r['run']}, {r['new']} new issue(s))")
            click.echo(f"{out['fetched']} model(s) fetched, {len(out['changed'])} changed")
        finally:
            app.close()

    @models.command("search")
    @click.argument("words", nargs=-1, required=True)
    @click.option("--platform", required=True, help="a platform of [inbox.content.platforms] with a channel")
    @click.pass_context
    def search(ctx, words, platform):
        """Find product types (Amazon) or leaf categories (eBay's suggestions) by keywords."""
        app = build_app(ctx)
        try:
            settings = inbox_settings_for(app, "content")
            ps = settings.platforms.get(platform)
            if ps is None or not ps.channel:
                raise click.ClickException(f"platform {platform!r} has no channel in [inbox.content.platforms]")
            ch = app.channel(ps.channel)
            if not hasattr(ch, "search_data_models"):
                raise click.ClickException(f"channel {ps.channel} cannot search data models")
            for item in ch.search_data_models(list(words)):
                click.echo(f"{item['name']}\t{item.get('displayName', '')}")
        except ConfigError as exc:
            raise click.ClickException(str(exc))
        finally:
            app.close()

    @content.command("recheck")
    @click.argument("brand")
    @click.option("--sku", "skus", multiple=True, help="only these SKUs (repeatable); default: all of the brand")
    @click.pass_context
    def recheck_cmd(ctx, brand, skus):
        """Check BRAND's stored content again (after editing mapping.toml, say)."""
        from . import recheck as rc

        app = build_app(ctx)
        try:
            wanted = set(skus) or set(rc.stored_products(app.store.db, brand))
            s = rc.recheck(app, brand, wanted, "recheck")
            if s is None:
                raise click.ClickException(f"no stored content for brand {brand!r}")
            click.echo(f"{brand}: run {s['run']}, {s['errors']} error(s), {s['new']} new, {s['fixed']} fixed -> "
                       f"{app.outbox_dir / s['report_dir']}")
        finally:
            app.close()

"""Load `catalog/services.yaml`: parse, validate whole, resolve inheritance, or list every error.

The steps, in order: YAML with line numbers (checks/yamlsource.py), the schema (schema.py), the
rules across entries (references.py, locations.py), then resolution into the model
(resolution.py).
"""

from __future__ import annotations

import gc
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

from pydantic import ValidationError

from agent.catalog.errors import CatalogError, Problem
from agent.catalog.locations import check_locations
from agent.catalog.model import LOCAL, Catalog
from agent.catalog.probe_options import EnvironmentProxyError
from agent.catalog.references import check_references, check_scenarios
from agent.catalog.resolution import resolve
from agent.catalog.schema import RawCatalog
from checks.yamlsource import Source, parse


def load(
    path: str | Path,
    environ: Mapping[str, str] | None = None,
    locations: Sequence[str] | None = None,
) -> Catalog:
    file = Path(path)
    try:
        text = file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CatalogError(
            [Problem("", f"cannot read the catalogue: {exc}", str(file), None)]
        ) from None
    return load_text(text, str(file), environ, source_path=file, locations=locations)


def load_text(
    text: str,
    file: str = "services.yaml",
    environ: Mapping[str, str] | None = None,
    source_path: Path | None = None,
    locations: Sequence[str] | None = None,
) -> Catalog:
    """A valid Catalog, or CatalogError with every problem found (sorted by line).

    `locations` are the configured probe locations (settings `locations:`, with or without
    `local`); None: the core's own probes only.
    """
    with _gc_paused():
        return _load_text(text, file, environ, source_path, _known_locations(locations))


@contextmanager
def _gc_paused() -> Iterator[None]:
    """A catalogue load allocates millions of objects (YAML nodes, dicts, models) and frees
    them in bulk, with no reference cycles to collect: the cyclic GC, triggered every 700
    allocations, would walk the ever-growing heap again and again, about half of a
    50,000-service load (bench/RESULTS.md "Catalogue load"). Process-wide for the few seconds
    of a load, a reload's included: probes running meanwhile only keep their cycles longer."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load_text(
    text: str,
    file: str,
    environ: Mapping[str, str] | None,
    source_path: Path | None,
    known: tuple[str, ...],
) -> Catalog:
    source = parse(text, file, environ)
    if source.problems and source.data is None:
        raise CatalogError(source.problems)
    if not isinstance(source.data, dict):
        source.problem(
            (), "the catalogue must be a mapping with version, defaults, tiers, services"
        )
        raise CatalogError(source.problems)
    raw = _validate(source)
    check_references(source)
    if raw is not None:
        check_locations(source, raw, known)
        check_scenarios(source, raw)
    if source.problems or raw is None:
        raise CatalogError(sorted(source.problems, key=lambda p: (p.line or 0, p.path)))
    try:
        return resolve(raw, source_path, known, environ)
    except EnvironmentProxyError as bad:  # the environment, not a line of the file, is wrong
        raise CatalogError([Problem("", str(bad), file, None)]) from None


def _known_locations(locations: Sequence[str] | None) -> tuple[str, ...]:
    """The configured locations then `local`, each once."""
    return (*(n for n in (locations or ()) if n != LOCAL), LOCAL)


# ---- schema -----------------------------------------------------------------------------


def _validate(source: Source) -> RawCatalog | None:
    try:
        return RawCatalog.model_validate(source.data)
    except ValidationError as exc:
        source.add_validation_errors(exc)
        return None

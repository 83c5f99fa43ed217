"""PDF output through WeasyPrint, installed with the optional extra: `pip install vigia[pdf]`.

WeasyPrint lays out the same HTML with its A4 print CSS; it needs the Pango libraries of the
system (Debian: libpango-1.0-0, libpangoft2-1.0-0).
"""

from __future__ import annotations

from pathlib import Path


class PdfUnavailableError(RuntimeError):
    """The PDF extra (WeasyPrint and its system libraries) is not installed."""


def write_pdf(html: str, path: Path) -> Path:
    path.write_bytes(pdf_bytes(html))
    return path


def pdf_bytes(html: str) -> bytes:
    try:
        from weasyprint import HTML  # type: ignore[import-untyped,unused-ignore]
    except (ImportError, OSError) as exc:  # OSError: Python package there, Pango missing
        raise PdfUnavailableError(
            "PDF output needs the optional extra: pip install 'vigia[pdf]' "
            f"(WeasyPrint and the Pango libraries) — {exc}"
        ) from None
    return bytes(HTML(string=html).write_pdf())

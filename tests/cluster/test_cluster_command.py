"""`vigia cluster forget NODE`: a node gone for good is removed (its ClusterNodeDown ends); a live
node or an unknown name is refused with exit code 2 and a clear message."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from agent.cli import main

pytestmark = pytest.mark.postgres

NOW = "(extract(epoch from clock_timestamp()) * 1000000)::bigint"


def test_forget_removes_a_dead_node_and_refuses_a_live_one(
    cluster_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    engine = create_engine(cluster_url)
    with engine.begin() as conn:
        for name, silent in (("gone", 600), ("alive", 1)):
            conn.execute(
                text(
                    "INSERT INTO cluster_nodes (node, started_at, last_seen, version) "
                    f"VALUES (:n, {NOW} - 3600000000, {NOW} - :s * 1000000, '')"
                ),
                {"n": name, "s": silent},
            )
    catalog = tmp_path / "services.yaml"
    catalog.write_text("version: 1\nservices: []\n")
    options = ["--catalog", str(catalog), "--db", cluster_url]
    assert main(["cluster", "forget", "gone", *options]) == 0
    assert "forgotten" in capsys.readouterr().out
    assert main(["cluster", "forget", "alive", *options]) == 2
    assert "is live" in capsys.readouterr().err
    assert main(["cluster", "forget", "nobody", *options]) == 2
    assert "no node 'nobody'" in capsys.readouterr().err
    with engine.begin() as conn:
        left = conn.execute(text("SELECT node FROM cluster_nodes ORDER BY node")).scalars().all()
    engine.dispose()
    assert left == ["alive"]


def test_forget_on_sqlite_says_clustering_needs_postgresql(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    catalog = tmp_path / "services.yaml"
    catalog.write_text("version: 1\nservices: []\n")
    db = tmp_path / "vigia.db"
    assert main(["cluster", "forget", "x", "--catalog", str(catalog), "--db", str(db)]) == 2
    assert "needs PostgreSQL" in capsys.readouterr().err

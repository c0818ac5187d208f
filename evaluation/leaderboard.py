"""The leaderboard: every evaluation as a row in a real database, addressed by a SQLAlchemy URL.

Default: SQLite at OMNITUNE_HOME/leaderboard.db in WAL mode with a busy timeout, so several processes (a
training run, an evaluation, the leaderboard app) can write and read at once without losing a row. A team
points OMNITUNE_LEADERBOARD_URL (or --db) at a server database (e.g. postgresql://...) instead.
"""

from __future__ import annotations

import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, DateTime, Float, Integer, String, create_engine, event, inspect, select, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError, ProgrammingError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from evaluation.metrics import higher_is_better
from shared.errors import OmnituneError
from shared.paths import omnitune_home

COLUMNS = (
    "id",
    "task",
    "model",
    "base_model",
    "dataset",
    "split",
    "primary_metric",
    "score",
    "metrics",
    "size_mb",
    "parameters",
    "latency_p50_ms",
    "latency_p95_ms",
    "throughput",
    "runtime",
    "bias_metric",
    "bias_score",
    "created_at",
    "run_id",
)
# What people compare first comes first; the full run path and the metric breakdown come last.
DISPLAY_COLUMNS = (
    "task",
    "model",
    "dataset",
    "split",
    "primary_metric",
    "score",
    "size_mb",
    "latency_p50_ms",
    "latency_p95_ms",
    "throughput",
    "runtime",
    "bias_metric",
    "bias_score",
    "parameters",
    "base_model",
    "created_at",
    "metrics",
    "run_id",
    "id",
)


class Base(DeclarativeBase):
    pass


class Evaluation(Base):
    __tablename__ = "evaluations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    task: Mapped[str] = mapped_column(String(64), index=True)
    model: Mapped[str] = mapped_column(String(512))
    base_model: Mapped[str | None] = mapped_column(String(512), nullable=True)
    dataset: Mapped[str] = mapped_column(String(512), index=True)
    split: Mapped[str] = mapped_column(String(64))
    primary_metric: Mapped[str] = mapped_column(String(64))
    score: Mapped[float | None] = mapped_column(Float, nullable=True)
    metrics: Mapped[dict[str, Any]] = mapped_column(JSON)
    size_mb: Mapped[float | None] = mapped_column(Float, nullable=True)
    parameters: Mapped[int | None] = mapped_column(Integer, nullable=True)
    latency_p50_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    latency_p95_ms: Mapped[float | None] = mapped_column(Float, nullable=True)
    throughput: Mapped[float | None] = mapped_column(Float, nullable=True)  # examples per second, best batch
    runtime: Mapped[str | None] = mapped_column(String(32), nullable=True)  # pytorch | onnxruntime
    # the bias probe's headline figure (`--probes bias`): a gap or failure rate, lower is better
    bias_metric: Mapped[str | None] = mapped_column(String(64), nullable=True)
    bias_score: Mapped[float | None] = mapped_column(Float, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=lambda: datetime.now(timezone.utc))
    run_id: Mapped[str | None] = mapped_column(String(512), nullable=True)


def default_url() -> str:
    return os.environ.get("OMNITUNE_LEADERBOARD_URL") or f"sqlite:///{omnitune_home() / 'leaderboard.db'}"


def _sqlite_pragmas(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer, and the other way round
    cursor.execute("PRAGMA busy_timeout=30000")  # writers queue instead of failing with "database is locked"
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def database_url(value: str | None) -> str:
    """A SQLAlchemy URL; a plain file path (what users type after --db) means a SQLite database there."""
    if not value:
        return default_url()
    return value if "://" in value else f"sqlite:///{Path(value).expanduser().resolve()}"


def shown(url: str) -> str:
    """The URL as it may be printed or shown in a page: the password masked."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"//[^/@]*@", "//***@", url)


class Leaderboard:
    def __init__(self, url: str | None = None):
        self.url = database_url(url)
        self.shown_url = shown(self.url)
        if self.url.startswith("sqlite:///"):
            os.makedirs(os.path.dirname(os.path.abspath(self.url[len("sqlite:///") :])), exist_ok=True)
        try:
            self.engine: Engine = create_engine(self.url, connect_args={"timeout": 30} if "sqlite" in self.url else {})
        except ArgumentError:
            raise OmnituneError(
                f"{self.shown_url!r} is not a database URL",
                "give a SQLite file path (--db runs/leaderboard.db) or a SQLAlchemy URL such as "
                "postgresql://user@host/omnitune",
            ) from None
        except ModuleNotFoundError as error:
            raise OmnituneError(
                f"the database driver {error.name!r} for {self.shown_url} is not installed",
                f"pip install {error.name}, or name an installed driver in the URL (postgresql+psycopg2://...)",
            ) from None
        except NoSuchModuleError:
            raise OmnituneError(
                f"SQLAlchemy knows no database kind {self.shown_url.split(':', 1)[0]!r}",
                "use sqlite, postgresql, mysql, ... (SQLAlchemy's dialect names), or a SQLite file path",
            ) from None
        if self.engine.dialect.name == "sqlite":
            event.listen(self.engine, "connect", _sqlite_pragmas)
        _create_schema(self.engine)

    def record(self, **fields: Any) -> int:
        row = Evaluation(**{k: v for k, v in fields.items() if k in COLUMNS and k != "id"})
        with Session(self.engine) as session, session.begin():
            session.add(row)
            session.flush()
            return row.id

    def rows(
        self,
        task: str | None = None,
        dataset: str | None = None,
        sort_by: str = "score",
        descending: bool = True,
        split: str | None = None,
    ) -> list[dict[str, Any]]:
        if sort_by not in COLUMNS:
            sort_by = "score"
        query = select(Evaluation)
        if task:
            query = query.where(Evaluation.task == task)
        if dataset:
            query = query.where(Evaluation.dataset == dataset)
        if split:
            query = query.where(Evaluation.split == split)
        if sort_by == "score":  # best first when descending, whichever way the metric goes (WER: lower)
            query = query.order_by(Evaluation.id.desc())
        else:
            column = getattr(Evaluation, sort_by)
            query = query.order_by(column.desc() if descending else column.asc(), Evaluation.id.desc())
        with Session(self.engine) as session:
            rows = [{c: getattr(row, c) for c in COLUMNS} for row in session.scalars(query)]
        if sort_by == "score":
            rows.sort(key=lambda r: (r["score"] is None, -_goodness(r) if descending else _goodness(r)))
        return rows

    def move_run(self, old: Path, new: Path) -> int:
        """A run folder was renamed: its rows follow it (run_id, and model where the model was the run or in it)."""
        old_text, new_text = str(old.resolve()), str(new.resolve())
        moved = 0
        with Session(self.engine) as session, session.begin():
            for row in session.scalars(select(Evaluation).where(Evaluation.run_id == old_text)):
                row.run_id = new_text
                if row.model == old_text or row.model.startswith(old_text + os.sep):
                    row.model = new_text + row.model[len(old_text) :]
                moved += 1
        return moved

    def forget_run(self, run: Path) -> int:
        """A run folder was deleted: its rows go too (they would name a model nobody can load)."""
        with Session(self.engine) as session, session.begin():
            rows = list(session.scalars(select(Evaluation).where(Evaluation.run_id == str(run.resolve()))))
            for row in rows:
                session.delete(row)
        return len(rows)

    def dispose(self) -> None:
        self.engine.dispose()


_ALREADY_THERE = ("already exists", "duplicate column")


def _create_schema(engine: Engine, attempts: int = 5) -> None:
    """Create the table, or add the columns an older omnitune's table lacks. Safe when several processes open a
    new database at once: each may try to create what another has just created, which is what it wanted."""
    for attempt in range(attempts):
        try:
            Base.metadata.create_all(engine)
            _add_missing_columns(engine)
            return
        except (OperationalError, ProgrammingError) as error:
            if attempt == attempts - 1 or not any(word in str(error).lower() for word in _ALREADY_THERE):
                raise


def _add_missing_columns(engine: Engine) -> None:
    """Additive migration: every column the model has and the table does not (all new columns are nullable)."""
    present = {column["name"] for column in inspect(engine).get_columns(Evaluation.__tablename__)}
    for column in Evaluation.__table__.columns:
        if column.name not in present:
            kind = column.type.compile(dialect=engine.dialect)
            with engine.begin() as connection:
                connection.execute(text(f"ALTER TABLE {Evaluation.__tablename__} ADD COLUMN {column.name} {kind}"))


def _goodness(row: dict) -> float:
    """The score turned so that larger is better (an error rate is negated)."""
    if row["score"] is None:
        return 0.0
    return row["score"] if higher_is_better(row["primary_metric"] or "") else -row["score"]


def as_table(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows flattened for display: metrics as compact text, times rounded."""
    table = []
    for row in rows:
        flat = {column: row[column] for column in DISPLAY_COLUMNS}
        if row["run_id"] and row["model"] == row["run_id"]:
            flat["model"] = Path(row["run_id"]).name  # the run's name; run_id keeps the full path
        flat["metrics"] = json.dumps(
            {k: round(v, 2) if isinstance(v, float) else v for k, v in (row["metrics"] or {}).items()}
        )
        flat["created_at"] = row["created_at"].strftime("%Y-%m-%d %H:%M") if row["created_at"] else ""
        for key in ("score", "size_mb", "latency_p50_ms", "latency_p95_ms", "throughput"):
            if isinstance(flat[key], float):
                flat[key] = round(flat[key], 2)
        table.append(flat)
    return table

"""Every verb's table at 80 and 120 columns: run ids, statuses and sweep values whole, columns
left out by priority with a line that says so, `--wide` and pipes the whole table."""

from __future__ import annotations

import io
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from rich.cells import cell_len
from rich.console import Console

from cli import tables
from cli.app import App
from cli.commands import _ui
from cli.main import cli
from cli.targets.base import Execution, ExecutionStatus
from contract.layout import ENVS_DIR
from testkit.fakes.targets import FakeTarget

WIDTHS = [80, 120]


def ftk(target, args: list[str], columns: int | None, project: Path | None = None):
    """`ftk ARGS` with COLUMNS set (None: unset, as in a pipe to a file)."""
    app = App.with_target(target, project or Path.cwd())
    env = {"COLUMNS": None if columns is None else str(columns)}
    return CliRunner(env=env).invoke(cli, args, obj=app, catch_exceptions=False)


def assert_fits(text: str, columns: int) -> None:
    """No line of a table is wider than the terminal (prose under it, such as ps's note on
    estimates, is the terminal's to wrap)."""
    lines = [line for line in text.splitlines() if not line.startswith("estimates:")]
    wide = [line for line in lines if cell_len(line.rstrip()) > columns]
    assert not wide, f"lines wider than {columns}: {wide}"


def row_line(text: str, ident: str) -> str:
    """The (first) line of the row whose identifying cell is `ident`, read as whole words."""
    found = [line for line in text.splitlines() if ident in line.split()]
    assert found, f"{ident!r} is not whole in:\n{text}"
    return found[0]


# -- ps ---------------------------------------------------------------------------------------

PS_ROWS = [
    # run, execution, status, started minutes ago, minutes run
    ("quickstart-20261127-235009", "quickstart-20261127-235009-20261127235009-7de7", "succeeded",
     3, 2),
    ("tonesweep-04", "tonesweep-04-20261205225431-0a3c", "running", 2, None),
    (None, "ftk-dev-job-k3j4l5m", "queued", None, None),
    ("phi3-a100-20260101-120000", "ftk-dev-job-a1b2c3d", "failed", 60 * 24 * 30, 95),
]  # fmt: skip


@pytest.fixture
def ps_target() -> FakeTarget:
    target = FakeTarget()
    target.now = now = datetime.now(UTC)  # type: ignore[attr-defined]
    for run, name, status, ago, minutes in PS_ROWS:
        start = None if ago is None else now - timedelta(minutes=ago)
        end = None if minutes is None or start is None else start + timedelta(minutes=minutes)
        target._executions.append(Execution(name, run, ExecutionStatus(status), start, end))
    target.logs["tonesweep-04-20261205225431-0a3c"] = [
        "2026-12-05T22:55:00Z ftk-phase: preparing-environment (requirements-train.lock)"
    ]
    return target


@pytest.mark.parametrize("columns", WIDTHS)
def test_ps_shows_every_run_id_and_status_whole(ps_target, columns):
    result = ftk(ps_target, ["ps"], columns)
    assert result.exit_code == 0, result.output
    assert_fits(result.stderr, columns)
    for run, name, status, _, _ in PS_ROWS:
        line = row_line(result.stderr, run or name)
        assert status in line.split(), line
    assert row_line(result.stderr, "tonesweep-04").split()[1] == "…0a3c", "the run names it"
    assert "ftk-dev-job-k3j4l5m" in result.stderr, "an execution not named after its run: whole"
    assert "2m ago" in row_line(result.stderr, "tonesweep-04")


def test_ps_at_80_columns_leaves_out_the_least_needed_columns_and_says_so(ps_target):
    narrow = ftk(ps_target, ["ps"], 80).stderr
    header = narrow.splitlines()[0].split()
    assert header[:4] == ["RUN", "EXECUTION", "STATUS", "STARTED"]
    assert "EST." not in header and "PHASE" not in header
    assert "PHASE, EST. USD left out at 80 columns; --wide shows all" in narrow
    assert "estimates:" not in narrow, "no note on a column that is not shown"

    roomy = ftk(ps_target, ["ps"], 120).stderr
    assert "left out" not in roomy and "preparing environment" in roomy
    assert "estimates: GPU + vCPU + memory seconds" in roomy
    assert "EST. USD" in roomy.splitlines()[0]
    assert re.fullmatch(r"\d+\.\d\d", row_line(roomy, "quickstart-20261127-235009").split()[-1])


@pytest.mark.parametrize("args", [["ps", "--wide"], ["ps"]])
def test_ps_wide_or_piped_prints_the_whole_table(ps_target, args):
    """`--wide` at 80 columns, or a pipe without COLUMNS: every column, full names and times."""
    result = ftk(ps_target, args, 80 if "--wide" in args else None)
    assert "left out" not in result.stderr
    assert "quickstart-20261127-235009-20261127235009-7de7" in result.stderr
    assert "…" not in result.stderr and " ago" not in result.stderr
    started = ps_target.now - timedelta(minutes=2)
    assert f"{started.astimezone():%Y-%m-%d %H:%M:%S}" in result.stderr


def test_ps_json_is_the_same_whatever_the_width(ps_target):
    outputs = {ftk(ps_target, ["ps", "--json"], c).stdout for c in (40, 80, None)}
    assert len(outputs) == 1
    rows = json.loads(outputs.pop())
    assert rows[0]["name"] == "quickstart-20261127-235009-20261127235009-7de7"
    assert set(rows[0]) >= {"started_at", "duration_s", "estimated_cost", "currency", "phase"}


# -- sweep status ------------------------------------------------------------------------------


@pytest.fixture
def swept(project: Path) -> FakeTarget:
    """A finished 2x2 sweep (learning rate x LoRA rank) whose runs left their final losses."""
    target = FakeTarget()
    args = ["sweep", "finetuning/tiny.yaml", "--set", "train.learning_rate=5e-4,1e-4"]
    args += ["--set", "lora.r=8,32", "--parallel", "4", "--name", "tone-sweep-20261205-225431"]
    result = ftk(target, [*args, "--no-sync", "--no-wait", "--json"], None, project)
    assert result.exit_code == 0, result.output
    losses = {"01": 0.91, "02": 0.42, "03": 1.37, "04": 0.77}
    for i, e in enumerate(target._executions):
        target._executions[i] = replace(e, status=ExecutionStatus.SUCCEEDED)
    for n, loss in losses.items():
        summary = {"train_loss": loss + 0.1, "eval_loss": loss}
        target.share().write_bytes(
            f"runs/tone-sweep-20261205-225431-{n}/summary.json", json.dumps(summary).encode()
        )
    return target


@pytest.mark.parametrize("columns", WIDTHS)
def test_sweep_status_shows_every_points_values_best_first(swept, project, columns):
    result = ftk(swept, ["sweep", "status", "tone-sweep-20261205-225431"], columns, project)
    assert result.exit_code == 0, result.output
    assert_fits(result.stderr, columns)
    values = {"01": "lr=5e-4 r=8", "02": "lr=5e-4 r=32", "03": "lr=1e-4 r=8", "04": "lr=1e-4 r=32"}
    lines = []
    for n, shown in values.items():
        line = row_line(result.stderr, f"tone-sweep-20261205-225431-{n}")
        assert "succeeded" in line.split() and shown in line, line
        lines.append((result.stderr.splitlines().index(line), n))
    assert [n for _, n in sorted(lines)] == ["02", "04", "01", "03"], "lowest eval loss first"
    assert "★" in row_line(result.stderr, "tone-sweep-20261205-225431-02")
    assert result.stderr.count("★") == 1
    assert "lr = train.learning_rate, r = lora.r" in result.stderr
    assert "…" not in result.stderr


def test_sweep_status_at_80_columns_drops_a_loss_column_not_the_values(swept, project):
    narrow = ftk(swept, ["sweep", "status", "tone-sweep-20261205-225431"], 80, project).stderr
    assert "TRAIN LOSS left out at 80 columns; --wide shows all" in narrow
    wide = ftk(swept, ["sweep", "status", "tone-sweep-20261205-225431", "--wide"], 80, project)
    assert "TRAIN LOSS" in wide.stderr and "train.learning_rate=0.0005 lora.r=32" in wide.stderr
    assert "lr = train.learning_rate" not in wide.stderr, "full keys need no legend"


def test_sweep_values_wrap_whole_when_the_terminal_is_narrow(swept, project):
    out = ftk(swept, ["sweep", "status", "tone-sweep-20261205-225431"], 60, project).stderr
    words = out.split()
    assert all(pair in words for pair in ("lr=5e-4", "lr=1e-4", "r=8", "r=32")), out
    assert "…" not in out


def test_short_names_are_last_parts_unique_within_the_sweep():
    from cli.ops.sweep_board import short_names, value_text

    names = short_names(["train.learning_rate", "lora.r", "lora.dropout", "train.dropout"])
    assert names == {
        "train.learning_rate": "lr",
        "lora.r": "r",
        "lora.dropout": "lora.dropout",
        "train.dropout": "train.dropout",
    }
    shown = [value_text(v) for v in (5e-4, 2.35e-5, 0.05, 1.0, 32, True, "cosine", "a b")]
    assert shown == ["5e-4", "2.35e-5", "0.05", "1", "32", "true", "cosine", '"a b"']


# -- cache ls, outputs, eval, doctor ------------------------------------------------------------

SETS = ["requirements-train-0123456789abcdef0123", "requirements-serve-fedcba9876543210fedc"]


@pytest.mark.parametrize("columns", WIDTHS)
def test_cache_ls_shows_every_set_whole(project, columns):
    target = FakeTarget()
    for name in SETS:
        target.share().write_bytes(f"{ENVS_DIR}/{name}/.complete", b"")
        target.share().write_bytes(f"{ENVS_DIR}/{name}/lock.txt", b"x" * 2**20)
    target.share().write_bytes(f"{ENVS_DIR}/.build-{SETS[0]}-0a1b2c3d4e5f/x", b"")
    result = ftk(target, ["cache", "ls"], columns, project)
    assert result.exit_code == 0, result.output
    assert_fits(result.stderr, columns)
    for name in SETS:
        assert "complete" in row_line(result.stderr, name)
    assert "building" in row_line(result.stderr, f".build-{SETS[0]}-0a1b2c3d4e5f")


@pytest.mark.parametrize("columns", WIDTHS)
def test_outputs_keys_whole_and_long_values_wrapped_not_cut(columns):
    target = FakeTarget()
    url = "https://ftk-dev-inference.kindplant-0a1b2c3d.swedencentral.azurecontainerapps.io"
    target.describe = lambda: {"ACA_APP_ENDPOINT": url, "COMMANDS": '["bash", "-c", "x"]'}
    result = ftk(target, ["outputs"], columns)
    assert_fits(result.stderr, columns)
    assert "ACA_APP_ENDPOINT" in result.stderr.split() and "…" not in result.stderr
    assert url in "".join(result.stderr.split()), "folded over lines, every character kept"
    assert '["bash", "-c", "x"]' in result.stderr, "markup in a value is printed as it is"


@pytest.mark.parametrize("columns", WIDTHS)
def test_eval_scores_table(columns, monkeypatch, capsys):
    from cli.commands.eval import render_report
    from training.evaluate import EvalReport, ModelScore

    monkeypatch.setenv("COLUMNS", str(columns))
    monkeypatch.setattr(_ui, "_console", None)
    report = EvalReport(
        Path("eval.jsonl"),
        "messages",
        "base-model",
        "adapter",
        ModelScore("base", 40, 0, 6.2331, 13.2),
        ModelScore("fine-tuned", 40, 38, 0.0641, 9.4),
    )
    render_report(report, samples=0)
    err = capsys.readouterr().err
    assert_fits(err, columns)
    assert row_line(err, "base").split() == ["base", "0%", "0/40", "6.233", "13s"]
    assert row_line(err, "fine-tuned").split() == ["fine-tuned", "95%", "38/40", "0.064", "9s"]


@pytest.mark.parametrize("columns", [60, *WIDTHS])
def test_doctor_rows_keep_status_and_check_whole_and_wrap_the_evidence(columns, monkeypatch):
    from cli.commands.doctor import render
    from cli.doctor.report import Report, Row, Status

    monkeypatch.setenv("COLUMNS", str(columns))
    evidence = "quota NCA100 in swedencentral: 24 of 24 GPUs in use " * 3
    report = Report(
        "stack dev",
        [
            Row(Status.OK, "credentials", "az login as someone@example.com"),
            Row(Status.FAIL, "gpu quota", evidence.strip(), fix="ask for more: https://aka.ms/x"),
        ],
    )
    out = io.StringIO()
    render(report, Console(file=out, highlight=False, soft_wrap=True))
    text = out.getvalue()
    assert_fits(text, columns)
    assert "credentials" in text and "gpu quota" in text and "…" not in text
    assert " ".join(text.split()).count("24 of 24 GPUs in use") == 3


# -- the helper ---------------------------------------------------------------------------------


def test_fit_keeps_required_columns_and_drops_the_rest_by_priority():
    cols = [
        tables.Column("ID", required=True),
        tables.Column("A", priority=2),
        tables.Column("B", priority=1),
        tables.Column("NOTE", priority=3, wrap="words"),
    ]
    # ID 10, A 10, B 10, NOTE 30 (words of at most 8); gaps of 2
    natural, minimum = [10, 10, 10, 30], [10, 10, 10, 8]
    assert tables.fit(cols, natural, minimum, 200) == ([0, 1, 2, 3], [10, 10, 10, 30])
    assert tables.fit(cols, natural, minimum, 50) == ([0, 1, 2, 3], [10, 10, 10, 14])
    assert tables.fit(cols, natural, minimum, 44) == ([0, 1, 2, 3], [10, 10, 10, 8])
    assert tables.fit(cols, natural, minimum, 43) == ([0, 1, 2], [10, 10, 10])
    assert tables.fit(cols, natural, minimum, 25) == ([0, 2], [10, 10]), "B before A"
    assert tables.fit(cols, natural, minimum, 5) == ([0], [10]), "an id is never cut"


def test_fit_gives_required_values_their_width_before_any_optional_column():
    cols = [
        tables.Column("ID", required=True),
        tables.Column("VALUES", required=True, wrap="words"),
        tables.Column("LOSS", priority=1),
    ]
    natural, minimum = [10, 20, 10], [10, 6, 10]
    assert tables.fit(cols, natural, minimum, 40) == ([0, 1], [10, 20]), "no wrap for LOSS"
    assert tables.fit(cols, natural, minimum, 44) == ([0, 1, 2], [10, 20, 10])
    assert tables.fit(cols, natural, minimum, 25) == ([0, 1], [10, 13]), "wraps when it must"


def test_relative_times_when_recent():
    now = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
    ago = [timedelta(seconds=5), timedelta(minutes=3), timedelta(hours=5), timedelta(days=2)]
    shown = [tables.when(now - d, now) for d in [*ago, timedelta(days=30)]]
    assert [s.short for s in shown] == ["5s ago", "3m ago", "5h ago", "2d ago", "2026-11-05"]
    assert all(s.full.count(":") == 2 for s in shown)
    assert tables.when(None) == "-"

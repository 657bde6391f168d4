from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from convokit_core._cli import cli

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

MSG = '{"id":"%s","platform":"t","conversation":"c","author":"a","direction":"inbound","sent_at":"2024-01-01T00:00:00Z"}\n'


def run(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


def test_import_from_stdin_then_export_to_stdout() -> None:
    code, out, _ = run("import", "-", input=MSG % "1" + MSG % "2")
    assert code == 0
    assert "Imported 2 messages into sqlite:///convokit.db" in out
    assert Path("convokit.db").exists()
    code, out, _ = run("export")
    assert code == 0
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["1", "2"]


def test_bad_input_is_one_clear_error_exit_2_and_nothing_written() -> None:
    code, out, err = run(
        "--store", "sqlite:///s.db", "import", "-", input=MSG % "1" + '{"id": 2}\n'
    )
    assert code == 2
    assert "Traceback" not in err
    assert "<stdin>, line 2, field 'platform': is required" in err
    assert err.startswith("Error: 1 invalid record(s); nothing was written")
    code, out, _ = run("--store", "sqlite:///s.db", "export")
    assert out == ""


def test_skip_invalid_reports_each_bad_line() -> None:
    code, out, err = run(
        "--store", "memory:", "import", "--skip-invalid", "-", input=MSG % "1" + "nope\n"
    )
    assert code == 0
    assert "skipped: <stdin>, line 2: invalid JSON" in err
    assert "Imported 1 message " in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["import", "missing.jsonl"], "missing.jsonl: no such file"),
        (["import", "x.csv"], "--format csv needs --mapping"),
        (["--store", "nosuch://x", "store", "info"], "no storage backend for nosuch: URLs"),
        (["--store", "sqlite:///no/such/dir/x.db", "store", "info"], "does not exist"),
        (["--config", "absent.toml", "store", "info"], "absent.toml: config file not found"),
    ],
)
def test_usage_and_config_errors_exit_2(args: list[str], message: str) -> None:
    code, _, err = run(*args)
    assert code == 2
    assert message in err
    assert "Traceback" not in err


def test_verbose_shows_the_traceback() -> None:
    code, _, err = run("-v", "import", "missing.jsonl")
    assert code == 2
    assert "Traceback" in err


def test_store_from_config_file(tmp_path: Path) -> None:
    Path("convokit.toml").write_text('store = "sqlite:///from-config.db"\n', encoding="utf-8")
    code, out, _ = run("import", "-", input=MSG % "1")
    assert code == 0
    assert "from-config.db" in out
    Path("bad.toml").write_text("store = [1,2\n", encoding="utf-8")
    code, _, err = run("--config", "bad.toml", "store", "info")
    assert code == 2
    assert "bad.toml: invalid TOML" in err


def test_export_to_a_file_is_atomic(tmp_path: Path) -> None:
    run("import", "-", input=MSG % "1")
    code, _, _ = run("export", "-o", "out.jsonl")
    assert code == 0
    assert Path("out.jsonl").read_text(encoding="utf-8").count("\n") == 1
    assert [p.name for p in Path().iterdir() if p.name.startswith(".out")] == []


def test_import_csv_with_the_documented_mapping() -> None:
    Path("t.csv").write_text(
        ",tweet_id,author_id,inbound,created_at,text,response_tweet_id,in_response_to_tweet_id\n"
        "0,1,501,True,Mon Mar 04 10:00:00 +0000 2024,hi,,\n",
        encoding="utf-8",
    )
    code, out, _ = run("import", "t.csv", "--mapping", str(EXAMPLES / "twcs-mapping.toml"))
    assert code == 0
    assert "1 message (1 conversations derived" in out


def test_plugins_json_lists_builtins_with_all() -> None:
    code, out, _ = run("plugins", "--all", "--format", "json")
    assert code == 0
    payload = json.loads(out)
    storage = {name for p in payload["plugins"] for name in p["registered"].get("storage", [])}
    assert {"memory", "sqlite"} <= storage
    assert all(
        p["builtin"]
        for p in payload["plugins"]
        if "storage" in p["registered"] and set(p["registered"]["storage"]) <= {"memory", "sqlite"}
    )
    code, out, _ = run("plugins", "--format", "json")
    assert all(not p["builtin"] for p in json.loads(out)["plugins"])


def test_quiet_silences_progress_lines() -> None:
    code, out, _ = run("-q", "import", "-", input=MSG % "1")
    assert code == 0
    assert out == ""


def test_import_summary_names_each_kind_in_plain_english() -> None:
    records = (
        MSG % "1"
        + '{"type":"status","conversation":"c","status":"resolved","at":"2024-01-02T00:00:00Z"}\n'
        + '{"type":"status","conversation":"c","status":"open","at":"2024-01-03T00:00:00Z"}\n'
        + '{"type":"team_member","id":"kim"}\n'
    )
    code, out, _ = run("--store", "memory:", "import", "-", input=records)
    assert code == 0
    assert "Imported 1 message, 2 status changes, 1 team member into memory:" in out


def test_global_options_are_accepted_after_the_sub_command(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'late.db'}"
    code, out, _ = run("import", "-", "--store", store, "-q", input=MSG % "1")
    assert code == 0
    assert out == ""  # -q after the sub-command silences the summary
    code, out, _ = run("store", "info", "--store", store)
    assert code == 0
    assert out.splitlines()[0] == store
    assert "messages        1" in out
    code, out, _ = run("export", "--store", store)
    assert [json.loads(line)["id"] for line in out.splitlines()] == ["1"]


def test_config_after_the_sub_command_is_read(tmp_path: Path) -> None:
    config = tmp_path / "convokit.toml"
    config.write_text(f'store = "sqlite:///{tmp_path / "from-config.db"}"\n', encoding="utf-8")
    code, out, _ = run("import", "-", "--config", str(config), input=MSG % "1")
    assert code == 0
    assert "from-config.db" in out


def test_cli_module_defines_no_command_and_imports_none() -> None:
    """Every sub-command comes from a plugin's register_commands (DESIGN §2)."""
    import ast

    import convokit_core._cli as cli_module

    tree = ast.parse(Path(cli_module.__file__).read_text(encoding="utf-8"))
    decorators = [
        ast.unparse(d)
        for node in ast.walk(tree)
        if isinstance(node, ast.FunctionDef)
        for d in node.decorator_list
    ]
    commands = [d for d in decorators if ".command(" in d or ".group(" in d]
    assert commands == [d for d in decorators if d.startswith("click.group(")]  # the group only
    imported = [node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)]
    feature_modules = ("_commands", "_io", "_policy", "_sync", "_storage", "_demo", "_report")
    assert not [m for m in imported if m.startswith(feature_modules)]

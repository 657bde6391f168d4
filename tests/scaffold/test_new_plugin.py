"""``convokit new-plugin``: a ready distribution from the template, or one clear error."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from click.testing import CliRunner

from convokit_core._cli import cli
from convokit_core._scaffold import generate, rename, template_root

from .conftest import REPO, FreshVenv


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("name", "why"),
    [
        ("my plugin", "only lowercase letters a-z, digits and _ are allowed; e.g. 'my_plugin'"),
        ("my-plugin", "only lowercase letters a-z, digits and _ are allowed; e.g. 'my_plugin'"),
        ("1abc", "it must start with a letter a-z"),
        ("_abc", "it must start with a letter a-z"),
        ("class", "it is a Python keyword"),
        ("Forumly", "it has upper-case letters (package names are lowercase: use 'forumly')"),
        ("core", "convokit_core is taken by convokit itself"),
        ("föo", "only lowercase letters a-z, digits and _ are allowed; e.g. 'f_o'"),
        ("", "it is empty"),
    ],
)
def test_invalid_names_are_refused_with_exit_2(name: str, why: str) -> None:
    code, out, err = invoke("new-plugin", name)
    assert code == 2
    assert out == ""
    assert err == f"Error: invalid plugin name {name!r}: {why}\n"
    assert list(Path().iterdir()) == []


def test_an_existing_folder_is_refused_and_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "taken"
    target.mkdir()
    (target / "mine.txt").write_text("keep me", encoding="utf-8")
    code, _, err = invoke("new-plugin", "forumly", "--dir", str(target))
    assert code == 2
    assert err == f"Error: {target}: already exists; choose another --dir or remove it\n"
    assert [p.name for p in target.iterdir()] == ["mine.txt"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["taken"]  # no staging left


def test_the_default_folder_is_convokit_name() -> None:
    code, out, err = invoke("new-plugin", "forumly")
    assert code == 0, err
    assert out.startswith("created convokit-forumly/ (distribution convokit-forumly")
    assert Path("convokit-forumly/pyproject.toml").is_file()
    assert sorted(p.name for p in Path().iterdir()) == ["convokit-forumly"]


def test_the_distribution_is_renamed_throughout(tmp_path: Path) -> None:
    target = generate("lemmy_fed", tmp_path / "out")
    meta = tomllib.loads((target / "pyproject.toml").read_text(encoding="utf-8"))
    assert meta["project"]["name"] == "convokit-lemmy_fed"
    assert meta["project"]["entry-points"]["convokit"] == {"lemmy_fed": "convokit_lemmy_fed"}
    assert meta["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"] == [
        "src/convokit_lemmy_fed"
    ]
    package = target / "src" / "convokit_lemmy_fed"
    assert (package / "__init__.py").is_file()
    assert (package / "py.typed").is_file()
    init = (package / "__init__.py").read_text(encoding="utf-8")
    assert '"lemmy_fed"' in init
    texts = {
        p.relative_to(target).as_posix(): p.read_text(encoding="utf-8")
        for p in target.rglob("*")
        if p.is_file()
    }
    for path, text in texts.items():
        assert "convokit_example" not in text, path
        assert "convokit-example" not in text, path
        assert '"example"' not in text, path
        assert "example" not in path
    assert any(p.startswith("tests/") and "AdapterConformance" in t for p, t in texts.items())
    readme = texts["README.md"]
    assert readme.startswith("# convokit-lemmy_fed\n")
    assert 'platform = "lemmy_fed"' in readme
    # Every file of the template has its counterpart (nothing dropped but its README).
    template = {
        rename(p.relative_to(template_root()).as_posix(), "lemmy_fed").replace(
            "example", "lemmy_fed"
        )
        for p in template_root().rglob("*")
        if p.is_file() and not _generated_by_tools(p.relative_to(template_root()))
    }
    assert template == set(texts)


def test_the_checkout_template_is_plugins_template() -> None:
    assert template_root() == REPO / "plugins" / "TEMPLATE"


def test_generated_plugin_installs_and_passes_its_own_tests(
    fresh_venv: FreshVenv, tmp_path: Path
) -> None:
    # The wheel's copy of the template, as a user of the installed package gets it.
    made = fresh_venv.run(
        fresh_venv.bin("convokit"), "new-plugin", "forumly", "--dir", "plug", cwd=tmp_path
    )
    assert made.returncode == 0, made.stderr
    target = tmp_path / "plug"
    installed = fresh_venv.run(
        fresh_venv.bin("python"),
        "-m",
        "pip",
        "install",
        "-q",
        "--no-build-isolation",  # hatchling is in the venv; convokit-core is the wheel's
        "-e",
        f"{target}[test]",
        cwd=tmp_path,
    )
    assert installed.returncode == 0, installed.stdout + installed.stderr
    listed = fresh_venv.run(fresh_venv.bin("convokit"), "plugins", cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    assert "forumly" in listed.stdout
    tested = fresh_venv.run(
        fresh_venv.bin("python"),
        "-m",
        "pytest",
        "-q",
        "-p",
        "no:cacheprovider",
        target,
        cwd=tmp_path,
    )
    assert tested.returncode == 0, tested.stdout[-3000:] + tested.stderr[-2000:]
    assert " passed" in tested.stdout
    assert " failed" not in tested.stdout
    typed = fresh_venv.run(
        fresh_venv.bin("mypy"), "--strict", "--no-incremental", target / "src", cwd=tmp_path
    )
    assert typed.returncode == 0, typed.stdout + typed.stderr


def test_any_text_file_is_renamed_and_binary_files_are_copied(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from convokit_core import _scaffold

    template = tmp_path / "template"
    (template / "tests" / "fixtures").mkdir(parents=True)
    (template / "tests" / "__pycache__").mkdir()
    (template / "pyproject.toml").write_text(
        'name = "convokit-example"\ndescription = "the template"\n', encoding="utf-8"
    )
    (template / "README.md").write_text("how to copy the template", encoding="utf-8")
    (template / "tests" / "fixtures" / "rows.jsonl").write_text(
        '{"id": "example:1", "host": "inbox.example.test"}\n', encoding="utf-8"
    )
    (template / "tests" / "fixtures" / "logo.bin").write_bytes(b"\xff\xfeexample\x00")
    (template / "tests" / "__pycache__" / "x.pyc").write_bytes(b"\x00")
    script = template / "run-example.sh"
    script.write_text("#!/bin/sh\nexec convokit_example\n", encoding="utf-8")
    script.chmod(0o755)
    monkeypatch.setattr(_scaffold, "template_root", lambda: template)

    target = generate("zeta", tmp_path / "out")

    assert sorted(p.relative_to(target).as_posix() for p in target.rglob("*") if p.is_file()) == [
        "README.md",
        "pyproject.toml",
        "run-zeta.sh",
        "tests/fixtures/logo.bin",
        "tests/fixtures/rows.jsonl",
    ]
    assert (target / "pyproject.toml").read_text(encoding="utf-8") == (
        'name = "convokit-zeta"\ndescription = "A convokit platform adapter for zeta."\n'
    )
    assert (target / "tests/fixtures/rows.jsonl").read_text(encoding="utf-8") == (
        '{"id": "zeta:1", "host": "inbox.example.test"}\n'
    )
    assert (target / "tests/fixtures/logo.bin").read_bytes() == b"\xff\xfeexample\x00"
    assert (target / "run-zeta.sh").read_text(encoding="utf-8").endswith("exec convokit_zeta\n")
    assert (target / "run-zeta.sh").stat().st_mode & 0o111
    assert (target / "README.md").read_text(encoding="utf-8").startswith("# convokit-zeta\n")


def _generated_by_tools(path: Path) -> bool:
    """Caches and build output that tools leave in a checkout (never part of the template)."""
    import fnmatch

    from convokit_core._scaffold import _IGNORED

    return any(fnmatch.fnmatch(part, pattern) for part in path.parts for pattern in _IGNORED)

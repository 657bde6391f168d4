"""``convokit new-plugin NAME``: a ready platform plugin distribution from the template.

The template is ``plugins/TEMPLATE`` of the convokit repository. The wheel ships it as
package data (``convokit_core/_scaffold/template``, put there by hatch's
``force-include`` at build time), so the command works from an installed wheel; in a
source checkout (an editable install) the repository's ``plugins/TEMPLATE`` is read
directly. Either way the generated plugin is whatever the template is at that moment.

Generation is mechanical (:func:`rename`): ``convokit_example`` becomes
``convokit_NAME``, ``convokit-example`` ``convokit-NAME``, the platform name
``"example"`` (and the ``convokit.example`` logger, the entry point) ``NAME``,
``Example…`` class names ``Name…``, and ``example`` in file names ``NAME``. The
template's own README (how to copy the template) is replaced by a README for the new
plugin. Everything is written to a temporary folder first and renamed into place, so a
failure leaves no half-written plugin.
"""

from __future__ import annotations

import keyword
import os
import re
import shutil
import tempfile
from pathlib import Path
from typing import Final

from convokit_core._errors import ConfigError

__all__ = ["check_name", "generate", "rename", "template_root"]

_NAME: Final = re.compile(r"[a-z][a-z0-9_]*")
_RESERVED: Final = frozenset({"core", "example", "testing"})
_IGNORED: Final = (
    "__pycache__",
    "*.pyc",
    "*.pyo",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    "*.egg-info",
    ".venv",
    "build",
    "dist",
)
_TEXT_SUFFIXES: Final = frozenset(
    {".py", ".toml", ".md", ".json", ".txt", ".cfg", ".ini", ".typed"}
)


def check_name(name: str) -> str:
    """Return ``name`` if it can name a plugin (``convokit_NAME``, ``platform = NAME``).

    A name is lowercase ASCII letters, digits and ``_``, starts with a letter, is not a
    Python keyword and is not ``core``, ``example`` or ``testing``. Raises
    :class:`~convokit_core.ConfigError` saying why and, where there is one, what would do.
    """
    if _NAME.fullmatch(name) and not keyword.iskeyword(name) and name not in _RESERVED:
        return name
    shown = repr(name)
    if not name:
        why = "it is empty"
    elif keyword.iskeyword(name):
        why = "it is a Python keyword"
    elif name in _RESERVED:
        why = f"convokit_{name} is taken by convokit itself"
    elif name.lower() != name and _NAME.fullmatch(name.lower()):
        why = f"it has upper-case letters (package names are lowercase: use {name.lower()!r})"
    elif not name[0].isascii() or not name[0].isalpha():
        why = "it must start with a letter a-z"
    else:
        suggestion = re.sub(r"[^a-z0-9_]+", "_", name.lower()).strip("_")
        hint = (
            f"; e.g. {suggestion!r}"
            if suggestion and _NAME.fullmatch(suggestion) and not keyword.iskeyword(suggestion)
            else ""
        )
        why = f"only lowercase letters a-z, digits and _ are allowed{hint}"
    raise ConfigError(f"invalid plugin name {shown}: {why}")


def template_root() -> Path:
    """The template folder: shipped package data, else the checkout's plugins/TEMPLATE."""
    shipped = Path(__file__).with_name("template")
    if (shipped / "pyproject.toml").is_file():
        return shipped
    checkout = Path(__file__).resolve().parents[3] / "plugins" / "TEMPLATE"
    if (checkout / "pyproject.toml").is_file():
        return checkout
    raise ConfigError(
        f"the plugin template is missing from this installation (looked in {shipped} and "
        f"{checkout}); reinstall convokit-core"
    )


def rename(text: str, name: str) -> str:
    """The template's ``text`` with the example plugin's names replaced by ``name``'s.

    ``convokit_example``/``convokit-example`` become ``convokit_NAME``/``convokit-NAME``,
    ``ExampleConfig``-style class names ``NameConfig``, and the word ``example`` (the
    platform name, the entry point, the logger ``convokit.example``, ids like
    ``example:u_ana``) ``NAME`` — except inside host names (``inbox.example.test``,
    ``example.com``), which stay reserved example domains.
    """
    camel = "".join(part[:1].upper() + part[1:] for part in name.split("_"))
    text = text.replace("convokit_example", f"convokit_{name}")
    text = text.replace("convokit-example", f"convokit-{name}")
    text = re.sub(r"\bconvokit\.example\b", f"convokit.{name}", text)  # the logger
    text = re.sub(r"\btest_example\b", f"test_{name}", text)
    text = re.sub(r"\bExample(?=[A-Z_])", camel, text)  # ExampleConfig, ExampleAdapter
    text = re.sub(r"\bTestExample", f"Test{camel}", text)
    return re.sub(r"(?<![.@/\w-])example(?![\w-]|\.[a-z]{2,}\b)", name, text)


def _readme(name: str) -> str:
    camel = "".join(part[:1].upper() + part[1:] for part in name.split("_"))
    return f"""# convokit-{name}

A [convokit](https://pypi.org/project/convokit-core/) platform plugin: it syncs the
conversations of a {name} account into a convokit store (`platform = "{name}"`).

Generated by `convokit new-plugin {name}` from convokit's plugin template. The adapter
still speaks the template's imaginary API: replace its requests and mapping in
`src/convokit_{name}/`, and the fixtures and fake server in `tests/`, with your
platform's real shapes, keeping the conformance test green.

## Install

```console
pip install -e '.[test]'
convokit plugins                  # lists "{name}"
```

## Configure

```toml
# convokit.toml
[[source]]
name = "{name}-main"
platform = "{name}"
# ... the fields of {camel}Config; secrets from the environment, e.g.
# token = "${{{name.upper()}_TOKEN}}"   (at least 8 characters, never shown)
```

Then `convokit sync`. URLs must be `https://` (plain `http://` only on a loopback
host).

## Test

```console
pytest                            # the conformance kit against a fake server, and more
mypy --strict src
```
"""


def _render_tree(source: Path, target: Path, name: str) -> None:
    ignore = shutil.ignore_patterns(*_IGNORED)
    for root, dirs, files in os.walk(source):
        here = Path(root)
        skipped = ignore(root, [*dirs, *files])
        dirs[:] = sorted(d for d in dirs if d not in skipped)
        relative = here.relative_to(source)
        out_dir = target / Path(
            *(rename(part, name).replace("example", name) for part in relative.parts)
        )
        out_dir.mkdir(parents=True, exist_ok=True)
        for file_name in sorted(files):
            if file_name in skipped or (relative == Path() and file_name == "README.md"):
                continue
            out_name = file_name.replace("example", name)
            path = here / file_name
            if path.suffix in _TEXT_SUFFIXES:
                text = path.read_text(encoding="utf-8")
                if relative == Path() and file_name == "pyproject.toml":
                    text = re.sub(
                        r'(?m)^description = ".*"$',
                        f'description = "A convokit platform adapter for {name}."',
                        text,
                    )
                (out_dir / out_name).write_text(rename(text, name), encoding="utf-8")
            else:
                shutil.copyfile(path, out_dir / out_name)
    (target / "README.md").write_text(_readme(name), encoding="utf-8")


def generate(name: str, directory: Path | None = None) -> Path:
    """Write the distribution ``convokit-NAME`` into ``directory`` (default
    ``./convokit-NAME``) and return it.

    Raises :class:`~convokit_core.ConfigError` for an invalid name or when
    ``directory`` already exists (nothing is written then).
    """
    check_name(name)
    target = Path(directory) if directory is not None else Path(f"convokit-{name}")
    if target.exists() or target.is_symlink():
        raise ConfigError(f"{target}: already exists; choose another --dir or remove it")
    parent = target.absolute().parent
    if not parent.is_dir():
        raise ConfigError(f"{target}: the parent folder {parent} does not exist")
    source = template_root()
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".convokit-{name}-", dir=parent))
    except OSError as exc:
        raise ConfigError(f"{target}: cannot write there: {exc.strerror or exc}") from None
    try:
        _render_tree(source, staging, name)
        staging.chmod(0o777 & ~_umask())
        try:
            staging.rename(target)
        except OSError as exc:
            if target.exists():
                raise ConfigError(
                    f"{target}: already exists; choose another --dir or remove it"
                ) from None
            raise ConfigError(f"{target}: cannot create it: {exc.strerror or exc}") from None
    finally:
        if staging.exists():
            shutil.rmtree(staging, ignore_errors=True)
    return target


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask

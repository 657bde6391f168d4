"""`convokit report --html`: a self-contained page, escaped, drill-downs that resolve,
and drawn by a real browser."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from convokit_core import import_jsonl, open_store
from convokit_core._cli import cli
from convokit_core._report._html import build_report, render_html
from convokit_core.testing import DEMO_POLICY, generate_history

AS_OF = datetime(2024, 3, 31, tzinfo=UTC)
HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)>'


class _Page(HTMLParser):
    """Collects ids, fragment links, tags and attributes of a page."""

    def __init__(self) -> None:
        super().__init__()
        self.ids: set[str] = set()
        self.links: list[str] = []
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str, str | None]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        for name, value in attrs:
            self.attrs.append((tag, name, value))
            if name == "id" and value:
                self.ids.add(value)
            if tag == "a" and name == "href" and value:
                self.links.append(value)


def _page(html: str) -> _Page:
    page = _Page()
    page.feed(html)
    return page


@pytest.fixture(scope="module")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    directory = tmp_path_factory.mktemp("report")
    url = f"sqlite:///{directory / 'demo.db'}"
    with open_store(url) as store, store.transaction() as tx:
        for batch in generate_history(300, seed=11):
            tx.write(batch)
    policy = directory / "policy.toml"
    policy.write_text(DEMO_POLICY, encoding="utf-8")
    return url, policy


def _render(url: str, policy: Path, **options: object) -> str:
    out = io.StringIO()
    with open_store(url) as store:
        render_html(build_report(store, policy, as_of=AS_OF, **options), out)  # type: ignore[arg-type]
    return out.getvalue()


def test_every_number_drills_down_to_an_existing_list(demo_store: tuple[str, Path]) -> None:
    html = _render(*demo_store)
    page = _page(html)
    fragments = [link[1:] for link in page.links if link.startswith("#")]
    assert len(fragments) > 50
    assert not [f for f in fragments if f not in page.ids]
    for section in (
        "compliance",
        "trend",
        "response-times",
        "queue",
        "abandoned",
        "orphaned",
        "waiting",
    ):
        assert section in page.ids
    assert page.tags.count("svg") >= 4  # the trend and three distributions
    assert len([i for i in page.ids if i.startswith("d")]) > 20  # the drill-down lists


def test_the_page_needs_no_network_and_runs_no_script(demo_store: tuple[str, Path]) -> None:
    html = _render(*demo_store)
    page = _page(html)
    assert "script" not in page.tags
    assert "link" not in page.tags
    external = [
        (tag, name, value)
        for tag, name, value in page.attrs
        if name in ("src", "href") and value and not value.startswith("#")
    ]
    assert external == []
    # no fonts or images fetched by the styles (the SVGs' clip paths are in-page: url(#id))
    assert not re.findall(r"url\((?!#)", html)


def test_hostile_text_shows_as_text(tmp_path: Path) -> None:
    start = AS_OF - timedelta(days=3)
    rows = [
        {
            "id": "1",
            "platform": "t",
            "conversation": "c1",
            "channel": HOSTILE,
            "author": HOSTILE,
            "direction": "inbound",
            "sent_at": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "text": HOSTILE,
        },
        {
            "id": "2",
            "platform": "t",
            "conversation": "c2",
            "channel": HOSTILE,
            "author": "us",
            "direction": "outbound",
            "sent_at": (start - timedelta(days=20)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "text": HOSTILE,
        },
    ]
    url = f"sqlite:///{tmp_path / 'h.db'}"
    with open_store(url) as store:
        import_jsonl(store, [json.dumps(r) for r in rows])
    policy = tmp_path / "p.toml"
    policy.write_text(
        '[[commitment]]\nname = "answer"\nrule = "first_reply"\nwithin = "1h"\n'
        '[[commitment]]\nname = "alive"\nrule = "channel_activity"\nmax_gap = "7d"\n',
        encoding="utf-8",
    )
    html = _render(url, policy)
    page = _page(html)
    assert "script" not in page.tags
    assert "img" not in page.tags
    assert not [a for a in page.attrs if a[1].startswith("on")]
    assert "&lt;script&gt;" in html  # the text is there, as text


def test_redact_pseudonymises_handles_ids_and_texts(tmp_path: Path) -> None:
    start = AS_OF - timedelta(days=2)
    rows = [
        {
            "id": "m1",
            "platform": "t",
            "conversation": "secret-thread-42",
            "author": "alice.customer",
            "direction": "inbound",
            "sent_at": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "text": "my card number is 4111",
        }
    ]
    url = f"sqlite:///{tmp_path / 'r.db'}"
    with open_store(url) as store:
        import_jsonl(store, [json.dumps(r) for r in rows])
    policy = tmp_path / "p.toml"
    policy.write_text(
        '[[commitment]]\nname = "answer"\nrule = "first_reply"\nwithin = "1h"\n', encoding="utf-8"
    )
    plain = _render(url, policy)
    assert "alice.customer" in plain
    assert "my card number" in plain
    redacted = _render(url, policy, redact=True)
    for secret in ("alice.customer", "my card number", "secret-thread-42"):
        assert secret not in redacted
    assert "stakeholder-" in redacted
    assert "pseudonymised" in redacted


def test_the_same_history_gives_the_same_page_byte_for_byte(
    demo_store: tuple[str, Path],
) -> None:
    url, policy = demo_store
    first = _render(url, policy)
    assert "<svg" in first
    assert _render(url, policy) == first  # no dates, no random ids in the charts


def test_findings_in_a_plain_list_give_the_same_page(
    demo_store: tuple[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    # An engine may hand back any sequence of findings, not only the compact FindingList
    # the report reads without building a Finding per finding.
    import attrs

    from convokit_core._report import _html

    url, policy = demo_store
    expected = _render(url, policy)
    real_check = _html.check

    def listed(*args: object, **kwargs: object) -> object:
        report = real_check(*args, **kwargs)  # type: ignore[arg-type]
        return attrs.evolve(report, findings=list(report.findings))

    monkeypatch.setattr(_html, "check", listed)
    assert _render(url, policy) == expected


def test_report_command_writes_the_file(demo_store: tuple[str, Path], tmp_path: Path) -> None:
    url, policy = demo_store
    out = tmp_path / "report.html"
    runner = CliRunner()
    result = runner.invoke(
        cli,
        [
            "--store",
            url,
            "report",
            "--html",
            str(out),
            "--policy",
            str(policy),
            "--as-of",
            "2024-03-31T00:00:00Z",
        ],
    )
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert f"Wrote the report to {out}" in result.stderr
    bad = runner.invoke(
        cli,
        [
            "--store",
            url,
            "report",
            "--html",
            str(out),
            "--policy",
            str(policy),
            "--since",
            "2024-03-01T00:00:00Z",
            "--until",
            "2024-02-01T00:00:00Z",
        ],
    )
    assert bad.exit_code == 2
    assert "--since must be before --until" in bad.stderr


def _chromium() -> tuple[str, str] | None:
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    if browser and driver:
        return browser, driver
    if os.environ.get("CI"):
        pytest.fail("Chromium and chromedriver are required in CI (.ci/run installs them)")
    return None


def test_chromium_draws_the_charts_and_tables_without_console_errors(
    demo_store: tuple[str, Path], tmp_path: Path
) -> None:
    found = _chromium()
    if found is None:
        pytest.skip(
            "chromium and chromedriver not installed (apt-get install chromium chromium-driver)"
        )
    browser, driver_path = found
    webdriver = pytest.importorskip("selenium.webdriver")
    from selenium.webdriver.chrome.service import Service

    page = tmp_path / "report.html"
    page.write_text(_render(*demo_store), encoding="utf-8")
    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--window-size=1200,900"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
    try:
        driver.get(page.as_uri())
        charts = driver.execute_script(
            "return [...document.querySelectorAll('.chart svg')].map(s => {"
            "const r = s.getBoundingClientRect(); return [r.width, r.height,"
            " s.querySelectorAll('path').length]; })"
        )
        assert len(charts) >= 4
        assert all(w > 200 and h > 50 and paths > 5 for w, h, paths in charts), charts
        rows = driver.execute_script(
            "return document.querySelectorAll('#compliance tbody tr').length"
        )
        assert rows == len(re.findall(r"^\[\[commitment\]\]", DEMO_POLICY, re.M))
        # a drill-down opens when its number is followed
        link = driver.execute_script(
            "return document.querySelector('#compliance tbody a').getAttribute('href')"
        )
        hidden = driver.execute_script(f"return document.getElementById('{link[1:]}').offsetHeight")
        assert hidden == 0  # the lists stay out of the way until asked for
        driver.get(page.as_uri() + link)
        shown = driver.execute_script(f"return document.getElementById('{link[1:]}').offsetHeight")
        assert shown > 50, "following a number did not show its findings"
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        assert errors == []
    finally:
        driver.quit()

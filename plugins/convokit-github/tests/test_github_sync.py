"""Link paging, the since-incremental walk and its cursor: resume, ties, garbage."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import httpx
import pytest
from convokit_github import GitHubCursor, RepoPosition, StreamPosition
from github_fake import FakeGitHub, RepoData, comment, issue, repository, user
from github_runner import Runner

from convokit_core import MalformedPayload, Page

ANA = user("ana", 101)
KC = user("kc", 102)
REPO = "acme/widgets"


def ids(pages: list[Page]) -> list[str]:
    return [m.id for p in pages for m in p.all_messages()]


def tied(count: int, *, at: str = "2026-03-02T10:00:00Z") -> FakeGitHub:
    """``count`` issues updated in the same second, plus one later issue."""
    items = [
        issue(REPO, n, ANA, f"Bulk {n}", created="2026-03-01T09:00:00Z", updated=at)
        for n in range(1, count + 1)
    ]
    items.append(
        issue(
            REPO,
            count + 1,
            ANA,
            "Later",
            created="2026-03-01T09:00:00Z",
            updated="2026-03-02T11:00:00Z",
        )
    )
    return FakeGitHub(
        [RepoData(repository(REPO, 424242, created="2019-01-01T00:00:00Z"), items, [])]
    )


def test_link_rel_next_is_followed_past_a_run_of_ties_larger_than_a_page(
    runner: Runner,
) -> None:
    fake = tied(5)
    pages = runner.run(fake.handler, page_size=2)
    assert sorted(ids(pages)) == sorted(fake.expected_ids())
    assert max(Counter(ids(pages)).values()) == 1  # no duplicates in one sync
    # Re-asking since=<the tied second> answers the stored items first: the adapter
    # follows the Link header (GitHub's /repositories/{id}/… URLs) to get past them.
    followed = [r for r in runner.requests if r.url.path == "/repositories/424242/issues"]
    assert followed
    assert all(r.url.params["since"] == "2026-03-02T10:00:00Z" for r in followed)
    assert all(r.url.params["state"] == "all" for r in followed)
    # Every page's cursor: the newest second stored and the ids stored in it.
    first = json.loads(pages[0].cursor)["repos"][REPO]["issues"]
    assert first == {"since": "2026-03-02T10:00:00Z", "seen": ["1", "2"]}
    last = json.loads(pages[-1].cursor)["repos"][REPO]["issues"]
    assert last == {"since": "2026-03-02T11:00:00Z", "seen": ["6"]}


def test_resume_inside_a_tie_yields_only_what_follows(runner: Runner) -> None:
    fake = tied(5)
    pages = Runner().run(fake.handler, page_size=2)
    seen: list[str] = []
    for index, page in enumerate(pages):
        seen += [m.id for m in page.all_messages()]
        rest = Runner().run(fake.handler, page.cursor, page_size=2)
        # Nothing stored is yielded again; nothing is lost.
        assert not set(ids(rest)) & set(seen), index
        assert sorted(seen + ids(rest)) == sorted(fake.expected_ids()), index


def test_the_stream_ends_where_link_has_no_next(runner: Runner) -> None:
    fake = FakeGitHub.scenario()
    runner.run(fake.handler, page_size=100)
    lists = [r for r in runner.requests if r.url.path.endswith(("/issues", "/issues/comments"))]
    # One request per list: the answer had no rel="next", so the adapter stopped.
    assert len(lists) == 2


def test_since_incremental_sync_reads_only_what_changed(runner: Runner) -> None:
    fake = FakeGitHub.scenario()
    first = Runner().run(fake.handler, page_size=3)
    final = first[-1].cursor
    position = GitHubCursor.decode(final).repos[REPO]
    assert position.issues == StreamPosition(
        since=datetime(2026, 3, 6, 10, 30, tzinfo=UTC), seen=frozenset({"7"})
    )
    assert position.comments == StreamPosition(
        since=datetime(2026, 3, 6, 10, 30, tzinfo=UTC), seen=frozenset({"101007"})
    )

    # Resuming from the final cursor yields nothing, and asks only from the watermark.
    again = Runner()
    assert again.run(fake.handler, final, page_size=3) == []
    lists = [r for r in again.requests if "/issues" in r.url.path]
    assert [r.url.params["since"] for r in lists] == ["2026-03-06T10:30:00Z"] * 2
    assert not [r for r in again.requests if r.url.path == "/repos/acme/widgets"]

    # New activity: a comment on #1 (which bumps the issue's updated_at), and an edit.
    data = fake.repos[REPO]
    data.issues[0] = {**data.issues[0], "updated_at": "2026-03-07T08:00:00Z", "comments": 4}
    data.comments.append(
        comment(REPO, 101008, 1, ANA, "Still broken in 2.2", created="2026-03-07T08:00:00Z")
    )
    data.comments[1] = {**data.comments[1], "updated_at": "2026-03-07T08:05:00Z"}
    pages = runner.run(fake.handler, final, page_size=3)
    assert sorted(ids(pages)) == [
        "acme/widgets#1",
        "acme/widgets#1/comments/101002",
        "acme/widgets#1/comments/101008",
    ]
    # And from that cursor, nothing again.
    assert Runner().run(fake.handler, pages[-1].cursor, page_size=3) == []


def test_configured_since_bounds_the_first_sync(runner: Runner) -> None:
    fake = FakeGitHub.scenario()
    pages = runner.run(fake.handler, since="2026-03-05T00:00:00Z")
    assert sorted(ids(pages)) == [
        "acme/widgets#5",
        "acme/widgets#6",
        "acme/widgets#6/comments/101006",
        "acme/widgets#7",
        "acme/widgets#7/comments/101007",
    ]
    lists = [r for r in runner.requests if r.url.path.endswith(("/issues", "/issues/comments"))]
    assert all(r.url.params["since"] == "2026-03-05T00:00:00Z" for r in lists)


def test_a_repository_without_issues_still_records_its_channel(runner: Runner) -> None:
    empty = repository("acme/empty", 77, created="2024-02-02T00:00:00Z")
    fake = FakeGitHub([RepoData(empty, [], [])])
    pages = runner.run(fake.handler, repositories=["acme/empty"])
    assert len(pages) == 1
    assert [c.id for c in pages[0].channels] == ["acme/empty"]
    assert not pages[0].messages
    # The channel is stored once: resuming yields nothing.
    assert Runner().run(fake.handler, pages[0].cursor, repositories=["acme/empty"]) == []


def test_excluded_pull_requests_at_the_end_still_advance_the_cursor(runner: Runner) -> None:
    bot = user("dependabot[bot]", 5, bot=True)
    items = [
        issue(REPO, 1, ANA, "Bug", created="2026-03-01T09:00:00Z", updated="2026-03-01T09:00:00Z"),
        issue(
            REPO,
            2,
            bot,
            "Bump",
            created="2026-03-01T10:00:00Z",
            updated="2026-03-01T10:00:00Z",
            pull=True,
        ),
    ]
    fake = FakeGitHub([RepoData(repository(REPO, 9, created="2019-01-01T00:00:00Z"), items, [])])
    pages = runner.run(fake.handler, page_size=1, include_pull_requests=False)
    assert ids(pages) == ["acme/widgets#1"]
    # The last page only moves the cursor past the excluded pull request.
    assert not pages[-1].messages
    issues = GitHubCursor.decode(pages[-1].cursor).repos[REPO].issues
    assert issues.seen == frozenset({"2"})
    assert all(p.messages or p is pages[-1] for p in pages)  # no empty page mid-stream
    assert Runner().run(fake.handler, pages[-1].cursor, include_pull_requests=False) == []


def test_a_repeating_link_header_is_an_error_not_a_loop(runner: Runner) -> None:
    item = issue(
        REPO, 1, ANA, "Bug", created="2026-03-01T09:00:00Z", updated="2026-03-01T09:00:00Z"
    )
    loop = '<https://api.github.com/repositories/9/issues?page=2>; rel="next"'

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/repos/acme/widgets":
            return httpx.Response(200, json=repository(REPO, 9, created="2019-01-01T00:00:00Z"))
        return httpx.Response(200, json=[item], headers={"link": loop})

    cursor = GitHubCursor(
        repos={
            REPO: RepoPosition(
                issues=StreamPosition(
                    since=datetime(2026, 3, 1, 9, tzinfo=UTC), seen=frozenset({"1"})
                )
            )
        }
    ).encode()
    with pytest.raises(MalformedPayload, match="repeats"):
        runner.run(handler, cursor)


@pytest.mark.parametrize(
    ("cursor", "why"),
    [
        ("garbage", "not JSON"),
        ('{"v": 2, "repos": {}}', '"v": 1'),
        ('{"v": 1}', "'repos'"),
        ('{"v": 1, "repos": {"acme/widgets": {"issues": {}}}}', "exactly issues and comments"),
        (
            '{"v":1,"repos":{"a/b":{"issues":{"since":"yesterday","seen":[]},'
            '"comments":{"since":null,"seen":[]}}}}',
            "a/b.issues.since",
        ),
        (
            '{"v":1,"repos":{"a/b":{"issues":{"since":null,"seen":["1"]},'
            '"comments":{"since":null,"seen":[]}}}}',
            "must be empty",
        ),
        (
            '{"v":1,"repos":{"a/b":{"issues":{"since":"2026-03-01T00:00:00Z","seen":[1]},'
            '"comments":{"since":null,"seen":[]}}}}',
            "list of ids",
        ),
    ],
)
def test_a_garbage_cursor_is_a_clear_error(runner: Runner, cursor: str, why: str) -> None:
    with pytest.raises(MalformedPayload, match="not a GitHub cursor") as caught:
        runner.run(FakeGitHub.scenario().handler, cursor)
    assert why in str(caught.value)
    assert runner.requests == []  # never silently restarted from the beginning


def test_cursor_round_trips() -> None:
    cursor = GitHubCursor(
        repos={
            REPO: RepoPosition(
                issues=StreamPosition(
                    since=datetime(2026, 3, 1, 9, tzinfo=UTC), seen=frozenset({"3", "1"})
                )
            )
        }
    )
    text = cursor.encode()
    assert GitHubCursor.decode(text) == cursor
    assert json.loads(text) == {
        "v": 1,
        "repos": {
            REPO: {
                "issues": {"since": "2026-03-01T09:00:00Z", "seen": ["1", "3"]},
                "comments": {"since": None, "seen": []},
            }
        },
    }

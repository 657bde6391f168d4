"""Property: whatever the ties and the page size, the since walk yields every item
exactly once, resumes from any cursor without loss or repeat, and ends idle."""

from __future__ import annotations

from collections import Counter

from github_fake import FakeGitHub, RepoData, comment, issue, repository, stamp, user
from github_runner import Runner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ANA = user("ana", 101)
REPO = "acme/widgets"


def world(issue_minutes: list[int], comment_minutes: list[int]) -> FakeGitHub:
    items = [
        issue(REPO, n, ANA, f"Issue {n}", created=stamp(0), updated=stamp(m))
        for n, m in enumerate(issue_minutes, start=1)
    ]
    notes = [
        comment(
            REPO, 900 + k, 1 + k % len(items), ANA, f"Note {k}", created=stamp(0), updated=stamp(m)
        )
        for k, m in enumerate(comment_minutes)
    ]
    return FakeGitHub(
        [RepoData(repository(REPO, 42, created="2019-01-01T00:00:00Z"), items, notes)]
    )


@settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    issues=st.lists(st.integers(0, 3), min_size=1, max_size=9),
    comments=st.lists(st.integers(0, 3), max_size=9),
    page_size=st.integers(1, 4),
)
def test_walk_is_exact_under_ties(issues: list[int], comments: list[int], page_size: int) -> None:
    fake = world(issues, comments)
    expected = fake.expected_ids()
    pages = Runner().run(fake.handler, page_size=page_size)
    yielded = [m.id for p in pages for m in p.all_messages()]
    assert Counter(yielded) == Counter(expected)  # each exactly once
    stored: set[str] = set()
    for page in pages:
        stored |= {m.id for m in page.all_messages()}
        rest = [
            m.id
            for p in Runner().run(fake.handler, page.cursor, page_size=page_size)
            for m in p.all_messages()
        ]
        assert not stored & set(rest)  # nothing stored comes again
        assert stored | set(rest) == expected  # nothing is lost
    assert Runner().run(fake.handler, pages[-1].cursor, page_size=page_size) == []

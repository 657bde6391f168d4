"""Issues, pull requests and comments of the hand-written fixtures, as records."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

from github_fake import FakeGitHub
from github_runner import Runner

from convokit_core import ConversationStatus, Direction, Message, Page


def t(day: int, hm: str) -> datetime:
    hour, minute = hm.split(":")
    return datetime(2026, 3, day, int(hour), int(minute), tzinfo=UTC)


def messages(pages: list[Page]) -> dict[str, Message]:
    ids = Counter(m.id for p in pages for m in p.all_messages())
    assert all(n == 1 for n in ids.values()), ids  # nothing yielded twice in one sync
    return {m.id: m for p in pages for m in p.all_messages()}


def test_issues_and_comments_map_to_conversations(runner: Runner) -> None:
    fake = FakeGitHub.scenario()
    pages = runner.run(fake.handler)
    found = messages(pages)
    assert set(found) == fake.expected_ids()
    assert len(found) == 14

    crash = found["acme/widgets#1"]
    assert crash.conversation_id == "acme/widgets#1"
    assert crash.channel_id == "acme/widgets"
    assert crash.author_id == "github:ana"
    assert crash.direction is Direction.INBOUND
    assert crash.sent_at == t(2, "09:00")
    assert crash.in_reply_to is None
    assert (
        crash.text == "Widget crashes on start\n\nIt crashes when I press start.\r\n\r\nVersion 2.1"
    )
    assert crash.url == "https://github.com/acme/widgets/issues/1"
    assert crash.edited_at is None
    assert not crash.automated
    assert not crash.deleted

    reply = found["acme/widgets#1/comments/101001"]
    assert reply.conversation_id == "acme/widgets#1"
    assert reply.in_reply_to == "acme/widgets#1"
    assert reply.direction is Direction.OUTBOUND  # MEMBER
    assert reply.author_id == "github:kc"
    assert reply.url == "https://github.com/acme/widgets/issues/1#issuecomment-101001"

    edited = found["acme/widgets#1/comments/101002"]
    assert edited.direction is Direction.INBOUND
    assert edited.edited_at == datetime(2026, 3, 2, 10, 45, tzinfo=UTC)
    assert edited.text == "Any news?"

    # COLLABORATOR is a maintainer; sam (CONTRIBUTOR) is ours through [[team]] handles.
    assert found["acme/widgets#1/comments/101005"].direction is Direction.OUTBOUND
    assert found["acme/widgets#2/comments/101003"].direction is Direction.OUTBOUND
    # Bots: the type, or a login ending in [bot].
    assert found["acme/widgets#3"].automated
    assert found["acme/widgets#3"].direction is Direction.INBOUND
    assert found["acme/widgets#3/comments/101004"].automated
    assert not found["acme/widgets#6/comments/101006"].automated  # ghost: a deleted user
    assert found["acme/widgets#6/comments/101006"].author_id == "github:ghost"
    # An issue opened by a maintainer is our own post in the repository's channel.
    roadmap = found["acme/widgets#4"]
    assert roadmap.direction is Direction.OUTBOUND
    assert roadmap.text == "Roadmap for 3.0"  # body null

    channels = [c for p in pages for c in p.channels]
    assert len(channels) == 1
    assert channels[0].id == "acme/widgets"
    assert channels[0].handle == "acme/widgets"
    assert channels[0].created_at == datetime(2019, 5, 1, 8, 0, tzinfo=UTC)

    people = {s.id: s for p in pages for s in p.stakeholders}
    assert set(people) == {
        "github:ana",
        "github:dependabot[bot]",
        "github:github-actions[bot]",
        "github:ghost",
    }
    assert people["github:ana"].identities == {"github": "ana"}


def test_issue_state_becomes_a_status_history(runner: Runner) -> None:
    pages = runner.run(FakeGitHub.scenario().handler)
    conversations = {c.id: c for p in pages for c in p.conversations}
    assert len(conversations) == 7

    def history(number: int) -> list[tuple[str, datetime]]:
        return [
            (s.status.value, s.at) for s in conversations[f"acme/widgets#{number}"].status_history
        ]

    one = conversations["acme/widgets#1"]
    assert one.status is ConversationStatus.OPEN
    assert one.stakeholder_id == "github:ana"
    assert one.channel_id == "acme/widgets"
    assert one.tags == ("bug",)
    assert history(1) == [("open", t(2, "09:00"))]
    # closed as completed: resolved; closed as not planned: closed.
    assert conversations["acme/widgets#2"].status is ConversationStatus.RESOLVED
    assert history(2) == [("open", t(2, "10:00")), ("resolved", t(3, "10:00"))]
    assert conversations["acme/widgets#5"].status is ConversationStatus.CLOSED
    assert history(5) == [("open", t(4, "12:00")), ("closed", t(5, "09:00"))]
    # A merged pull request is resolved, and tagged as a pull request.
    three = conversations["acme/widgets#3"]
    assert three.status is ConversationStatus.RESOLVED
    assert three.tags == ("dependencies", "pull_request")
    # A reopened issue: its events give the exact history (labeled events ignored).
    assert conversations["acme/widgets#6"].status is ConversationStatus.OPEN
    assert history(6) == [
        ("open", t(5, "10:00")),
        ("resolved", t(5, "12:00")),
        ("open", t(6, "09:00")),
    ]
    assert any(r.url.path == "/repos/acme/widgets/issues/6/events" for r in runner.requests)
    # An issue opened by us has no stakeholder.
    assert conversations["acme/widgets#4"].stakeholder_id is None


def test_pull_requests_can_be_excluded(runner: Runner) -> None:
    fake = FakeGitHub.scenario()
    pages = runner.run(fake.handler, include_pull_requests=False)
    found = messages(pages)
    assert set(found) == fake.expected_ids(pulls=False)
    assert not {"acme/widgets#3", "acme/widgets#7"} & set(found)
    # Their conversation comments go too (a comment on a PR links to /pull/N).
    assert "acme/widgets#3/comments/101004" not in found
    assert "acme/widgets#7/comments/101007" not in found
    assert "acme/widgets#1/comments/101001" in found
    assert all("pull_request" not in c.tags for p in pages for c in p.conversations)
    # Included, they are there.
    assert {"acme/widgets#3", "acme/widgets#7"} <= set(messages(Runner().run(fake.handler)))


def test_requests_carry_githubs_headers_and_parameters(runner: Runner) -> None:
    runner.run(FakeGitHub.scenario().handler)
    assert runner.requests
    for request in runner.requests:
        assert request.headers["authorization"].startswith("Bearer ghp_")
        assert request.headers["accept"] == "application/vnd.github+json"
        assert request.headers["x-github-api-version"] == "2022-11-28"
        assert request.headers["user-agent"].startswith("convokit-github/")
    lists = [r for r in runner.requests if r.url.path.endswith(("/issues", "/issues/comments"))]
    assert lists
    for request in lists:
        assert request.url.params["sort"] == "updated"
        assert request.url.params["direction"] == "asc"
        assert request.url.params["per_page"] == "100"
    issues = [r for r in lists if r.url.path.endswith("/issues")]
    assert all(r.url.params["state"] == "all" for r in issues)


def test_enterprise_server_ids_are_qualified_with_the_host(runner: Runner) -> None:
    fake = FakeGitHub.scenario(api="https://ghe.example.com/api/v3")
    pages = runner.run(fake.handler, api_url="https://ghe.example.com/api/v3")
    found = messages(pages)
    assert set(found) == fake.expected_ids(host="ghe.example.com")
    assert found["ghe.example.com/acme/widgets#1"].channel_id == "ghe.example.com/acme/widgets"
    assert all(r.url.path.startswith("/api/v3/repos/") for r in runner.requests)


def test_account_and_team_handles_are_outbound(runner: Runner) -> None:
    fake = FakeGitHub.scenario()
    # Only team handles count: no maintainer associations; ana is "our" account.
    pages = runner.run(fake.handler, team=("sam",), maintainer_associations=[], account="ana")
    found = messages(pages)
    assert found["acme/widgets#1"].direction is Direction.OUTBOUND  # ana: account
    assert found["acme/widgets#2/comments/101003"].direction is Direction.OUTBOUND  # sam: team
    assert found["acme/widgets#1/comments/101001"].direction is Direction.INBOUND  # kc, MEMBER


def test_times_without_an_offset_are_read_as_utc(runner: Runner) -> None:
    fake = FakeGitHub.scenario()
    data = fake.repos["acme/widgets"]
    data.issues[0] = {**data.issues[0], "created_at": "2026-03-02T09:00:00"}
    data.comments[0] = {**data.comments[0], "created_at": "2026-03-02T10:30:00+01:00"}
    found = messages(runner.run(fake.handler))
    assert found["acme/widgets#1"].sent_at == t(2, "09:00")
    assert found["acme/widgets#1/comments/101001"].sent_at == t(2, "09:30")

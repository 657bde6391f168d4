"""Check commitments from Python, as an embedding application would.

    python examples/check_api.py

Builds a small history in an in-memory store, states three commitments (one on a
business calendar, one composed), checks them as of a fixed instant and prints the
findings and the verdict. The same commitments could come from a policy file:
``convokit_core.check(store, "policy.toml")``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from convokit_core import (
    Batch,
    Calendar,
    Commitment,
    Conversation,
    Message,
    StatusChange,
    TeamMember,
    check,
    first_reply,
    follow_up,
    max_silence,
    open_store,
    owner_assigned,
)

MONDAY = datetime(2024, 3, 4, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return MONDAY + timedelta(minutes=minutes)


def message(cid: str, mid: str, minutes: int, direction: str, **kw: object) -> Message:
    author = "acme" if direction == "outbound" else f"customer-{cid}"
    return Message(
        id=mid,
        platform="mastodon",
        conversation_id=cid,
        channel_id="acme@social.example",
        author_id=author,
        direction=direction,
        sent_at=at(minutes),
        **kw,  # type: ignore[arg-type]
    )


def history() -> Batch:
    return Batch(
        team_members=[TeamMember(id="ana", name="Ana"), TeamMember(id="bo", active_until=at(60))],
        conversations=[
            # answered in 20 minutes, resolved the next day
            Conversation(
                id="1",
                platform="mastodon",
                owner_id="ana",
                messages=[
                    message("1", "1a", 0, "inbound", tags=["complaint"]),
                    message("1", "1b", 20, "outbound"),
                ],
                status_history=[
                    StatusChange(
                        platform="mastodon", conversation_id="1", status="resolved", at=at(1500)
                    )
                ],
            ),
            # a question left unanswered; its owner left the team
            Conversation(
                id="2",
                platform="mastodon",
                owner_id="bo",
                messages=[message("2", "2a", 30, "inbound", text="how do I export my data?")],
            ),
            # answered fast, but the follow-up waited all afternoon
            Conversation(
                id="3",
                platform="mastodon",
                owner_id="ana",
                messages=[
                    message("3", "3a", 60, "inbound"),
                    message("3", "3b", 65, "outbound"),
                    message("3", "3c", 120, "inbound"),
                    message("3", "3d", 480, "outbound"),
                ],
            ),
        ],
    )


def main() -> int:
    store = open_store("memory:")
    store.write(history())

    support_hours = Calendar(
        name="support",
        timezone="Europe/Paris",
        hours={"mon-fri": ["09:00-12:30", "13:30-18:00"]},
        holidays_country="FR",
    )
    commitments = [
        Commitment(
            name="customers-hear-back",
            promise="Every customer hears back within 2 business hours.",
            rule=max_silence("2h"),
            calendar=support_hours,
            warn_before="30m",
        ),
        Commitment(
            name="complaints-are-closed",
            promise="Complaints are acknowledged within an hour and closed within three days.",
            rule=follow_up(["complaint"], acknowledge_within="1h", resolve_within="3d")
            & owner_assigned(),
        ),
        Commitment(
            name="quick-first-answer",
            promise="A first answer within 30 minutes.",
            rule=first_reply("30m"),
            severity="warning",
        ),
    ]

    report = check(store, commitments, as_of=at(24 * 60))
    for summary in report.commitments:
        ratio = "n/a" if summary.compliance is None else f"{summary.compliance:.0%}"
        print(f"{summary.name}: {dict(summary.counts)} compliance {ratio}")
    for finding in report.findings:
        if finding.status != "met":
            print(f"  [{finding.status}] {finding.commitment}: {finding.message}")
    failed = report.failed("breached")
    print("verdict:", "a promise was broken" if failed else "all promises kept")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())

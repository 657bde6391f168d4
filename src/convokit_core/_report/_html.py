"""``convokit report --html``: one self-contained HTML page for the people who keep
the promises.

The page needs no network: styles are inline, charts are SVG drawn by matplotlib and
embedded inline, and there is no script at all (a drill-down list is shown when its
number is followed, through CSS ``:target``). Every text from the store goes through
Jinja2's autoescaping. Listed findings are capped (:data:`LIST_CAP` per table) and the
rest aggregated, so the file stays small on a store of millions of messages.
"""

from __future__ import annotations

import hashlib
import heapq
import io
import os
import re
import secrets
from collections import defaultdict
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import IO, Any, NamedTuple, TextIO

import attrs

from .._policy._evaluate import Commitment
from .._policy._findings import (
    STATUSES,
    CheckReport,
    Finding,
    FindingList,
    FindingMeta,
    RawOutcome,
    Status,
    format_duration,
)
from .._policy._policyfile import Policy, load_policy
from .._policy._run import check
from .._timeutil import format_datetime, to_micros
from ..protocols import StorageBackend

__all__ = ["LIST_CAP", "ReportData", "build_report", "render_html", "write_html_report"]

#: Findings listed per drill-down table; the rest are counted, not listed.
LIST_CAP = 50
#: Groups shown per response-time chart (the busiest ones).
GROUP_CAP = 12
_US = 1_000_000
_TURN_RULES = ("first_reply", "next_reply", "max_silence")
_FAILING = (Status.BREACHED, Status.AT_RISK)


def _leaf(f: Finding) -> str:
    """The rule that produced ``f``: the deciding part of a composite, else its rule."""
    return f.decided_by or f.rule


def _week(us: int) -> str:
    """The ISO week (``2024-W09``) of an instant in UTC."""
    day = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us)
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


def _anchor(*parts: str) -> str:
    """A stable HTML id for a drill-down, safe whatever the parts contain."""
    digest = hashlib.sha1("\x00".join(parts).encode("utf-8", "surrogatepass")).hexdigest()
    return f"d{digest[:12]}"


_Raw = tuple[FindingMeta, str | None, str | None, str | None, RawOutcome]


class _Reply(NamedTuple):
    """One measured reply clock, for the response-time distributions."""

    platform: str | None
    channel: str | None
    conversation: str | None
    reply_id: str | None
    """The reply's message id (the last evidence), when the clock names one."""
    seconds: float
    raw: _Raw


def _raw_findings(findings: Sequence[Finding]) -> Iterator[_Raw]:
    """``findings`` as :meth:`FindingList.iter_raw` items (any sequence of findings)."""
    if isinstance(findings, FindingList):
        return findings.iter_raw()
    kept = FindingList([])
    for f in findings:
        kept.append(f)
    return kept.iter_raw()


@attrs.define
class _Drill:
    """Findings behind one number: the first :data:`LIST_CAP` kept, the rest counted."""

    id: str
    title: str
    rows: list[dict[str, Any]] = attrs.field(factory=list)
    total: int = 0

    def add(self, finding: Finding, names: _Pseudonyms) -> None:
        """Count ``finding``; build its row only while the list is not full."""
        self.total += 1
        if len(self.rows) < LIST_CAP:
            self.rows.append(_finding_row(finding, names))

    def add_raw(self, raw: _Raw, names: _Pseudonyms) -> None:
        """:meth:`add` for an item of :meth:`FindingList.iter_raw`: the Finding is only
        built while the list is not full."""
        self.total += 1
        if len(self.rows) < LIST_CAP:
            self.rows.append(_finding_row(FindingList.make(*raw), names))

    @property
    def hidden(self) -> int:
        return self.total - len(self.rows)


class _Pseudonyms:
    """Stable stand-ins for stakeholder handles and texts (``--redact``).

    A random key per report keeps the pseudonyms from being reversed by hashing known
    handles.
    """

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._key = secrets.token_bytes(16)

    def who(self, value: str | None) -> str | None:
        if value is None or not self.enabled:
            return value
        digest = hashlib.blake2s(value.encode("utf-8", "surrogatepass"), key=self._key)
        return f"stakeholder-{digest.hexdigest()[:8]}"

    def text(self, value: str | None) -> str | None:
        if value is None or not self.enabled:
            return value
        return f"[redacted, {len(value)} characters]"

    def subject(self, value: str | None) -> str | None:
        if value is None or not self.enabled:
            return value
        digest = hashlib.blake2s(value.encode("utf-8", "surrogatepass"), key=self._key)
        return f"conversation-{digest.hexdigest()[:8]}"


@attrs.frozen(kw_only=True)
class ReportData:
    """Everything the page shows, computed in one pass over the findings."""

    title: str
    as_of: datetime
    since: datetime | None
    until: datetime | None
    store: str | None
    redacted: bool
    commitments: list[dict[str, Any]]
    weeks: list[str]
    trend: dict[str, dict[str, dict[str, Any]]]
    distributions: dict[str, list[dict[str, Any]]]
    distribution_commitment: str | None
    queue: list[dict[str, Any]]
    queue_total: int
    abandoned: list[dict[str, Any]]
    orphaned: list[dict[str, Any]]
    orphaned_total: int
    waiting: list[dict[str, Any]]
    drills: dict[str, _Drill]
    charts: dict[str, str]


def _finding_row(f: Finding, names: _Pseudonyms) -> dict[str, Any]:
    return {
        "status": str(f.status),
        "commitment": f.commitment,
        "subject": names.subject(f.subject) if f.subject_kind != "channel" else f.subject,
        "platform": f.platform,
        "started": _when(f.started_us),
        "deadline": _when(f.deadline_us),
        "elapsed": format_duration(f.elapsed_us / _US),
        "message": f.message if not names.enabled else _redacted_message(f),
    }


def _redacted_message(f: Finding) -> str:
    what = f.what or "reply"
    return f"{f.status}: {what} clock ran {format_duration(f.elapsed_us / _US)}"


def _when(us: int | None) -> str:
    if us is None:
        return ""
    return format_datetime(datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=us))


def _percentile(ordered: Sequence[float], share: float) -> float:
    """The nearest-rank percentile of ``ordered`` (sorted ascending)."""
    index = max(0, min(len(ordered) - 1, int(share * len(ordered) + 0.999999) - 1))
    return ordered[index]


def build_report(
    store: StorageBackend,
    policy: Policy | Sequence[Commitment] | str | os.PathLike[str],
    *,
    as_of: datetime | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    redact: bool = False,
    title: str = "Commitments report",
) -> ReportData:
    """Check ``policy`` on ``store`` as of ``as_of`` (default: ``until``, else now) and
    gather what the HTML report shows.

    ``since``/``until`` limit the findings counted to those whose clock started in the
    window; the at-risk queue, abandoned channels and orphaned conversations are the
    state as of ``as_of``.
    """
    if isinstance(policy, str | os.PathLike):
        policy = load_policy(os.fspath(policy))
    report: CheckReport = check(store, policy, as_of=as_of if as_of is not None else until)
    names = _Pseudonyms(redact)
    since_us = None if since is None else to_micros(since)
    until_us = None if until is None else to_micros(until)
    drills: dict[str, _Drill] = {}

    by_key: dict[tuple[str, ...], _Drill] = {}

    def drill(title: str, *key: str) -> _Drill:
        found = by_key.get(key)  # hashed once per list, not once per finding
        if found is None:
            anchor = _anchor(*key)
            found = by_key[key] = drills[anchor] = _Drill(id=anchor, title=title)
        return found

    promises = {c.name: c for c in report.commitments}
    counts: dict[str, dict[str, int]] = {
        c.name: dict.fromkeys(map(str, STATUSES), 0) for c in report.commitments
    }
    trend: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
    weeks: set[str] = set()
    replies: dict[str, list[_Reply]] = defaultdict(list)
    queue: list[Finding] = []
    abandoned: list[Finding] = []
    orphaned: list[Finding] = []
    waiting: list[Finding] = []

    # What a finding's rule is, worked out once per (commitment, deciding part) rather
    # than once per finding: (channel activity, owner assigned, a turn rule).
    kinds: dict[tuple[str, str | None], tuple[bool, bool, bool]] = {}
    week_of_day: dict[int, str] = {}
    status_drills: dict[tuple[str, str], _Drill] = {}
    week_drills: dict[tuple[str, str], _Drill] = {}
    make = FindingList.make
    day_us = 86_400 * _US
    # Raw outcome tuples (Outcome field order), not a Finding per finding: a Finding is
    # built only for what the page lists.
    for raw in _raw_findings(report.findings):
        meta, _, _, _, o = raw
        status, started, stopped = o[0], o[3], o[5]
        commitment = meta.commitment
        decided = o[11] if meta.composite else None
        kind = kinds.get((commitment, decided))
        if kind is None:
            leaf = decided or meta.rule
            kind = kinds[(commitment, decided)] = (
                leaf.startswith("channel_activity"),
                leaf.startswith("owner_assigned"),
                leaf.startswith(_TURN_RULES),
            )
        is_channel, is_owner, is_turn = kind
        if status == "pending" or status == "at_risk":
            queue.append(make(*raw))
        if is_channel and status != "not_applicable":
            abandoned.append(make(*raw))  # a channel measured for activity: silent now?
        if is_owner and status == "breached":
            orphaned.append(make(*raw))
        if (
            (status == "breached" or status == "at_risk" or status == "pending")
            and stopped is None
            and (is_turn or o[9] == "acknowledgement")
        ):
            waiting.append(make(*raw))  # a stakeholder still waiting for our answer
        if started is not None and (
            (since_us is not None and started < since_us)
            or (until_us is not None and started >= until_us)
        ):
            continue  # outside the window
        counts[commitment][status] += 1
        skey = (commitment, status)
        listed = status_drills.get(skey)
        if listed is None:
            listed = status_drills[skey] = drill(
                f"{commitment}: {status}", "status", commitment, status
            )
        listed.add_raw(raw, names)
        if started is not None and (status == "met" or status == "breached"):
            day = started // day_us
            week = week_of_day.get(day)
            if week is None:
                week = week_of_day[day] = _week(started)
            weeks.add(week)
            cell = trend[commitment].get(week)
            if cell is None:
                cell = trend[commitment][week] = {"met": 0, "breached": 0}
            cell[status] += 1
            wkey = (commitment, week)
            listed = week_drills.get(wkey)
            if listed is None:
                listed = week_drills[wkey] = drill(
                    f"{commitment}, week {week}", "week", commitment, week
                )
            listed.add_raw(raw, names)
        if is_turn and stopped is not None:
            evidence = o[8]
            replies[commitment].append(
                _Reply(
                    raw[1],
                    raw[3],
                    raw[2],
                    evidence[-1] if len(evidence) > 1 else None,
                    o[6] / _US,
                    raw,
                )
            )

    # -- response times by platform, channel and team member --------------------------
    # One commitment's reply clocks (the first in the policy that has any): several
    # commitments would count the same replies twice, on different calendars.
    measured = next((c.name for c in report.commitments if replies.get(c.name)), None)
    chosen = replies.get(measured, []) if measured is not None else []
    reply_ids = {r.reply_id for r in chosen if r.reply_id is not None}
    author_of: dict[str, str] = {}
    watched = {(f.platform, f.channel or f.subject) for f in abandoned}
    last_post: dict[tuple[str | None, str], _Post] = {}
    if reply_ids or watched:
        # One pass over our outbound messages: who wrote the replies, and each measured
        # channel's last post (as of the report).
        for post in _outbound_posts(store, to_micros(report.as_of)):
            if post.id in reply_ids:
                author_of[post.id] = post.author
            spot = (post.platform, post.channel or "")
            if spot in watched and not post.automated and post.visibility != "note":
                known = last_post.get(spot)
                if known is None or post.sent_us >= known.sent_us:
                    last_post[spot] = post
    # A reply's team member: the one member whose handle wrote it; when several share
    # that account (a brand account), the conversation's owner; else the author.
    members_of: dict[str, set[str]] = defaultdict(set)
    for member in store.iter_team_members():
        for handle in getattr(member, "handles", {}).values():
            members_of[handle].add(member.id)
    handle_owner = {h: next(iter(ids)) for h, ids in members_of.items() if len(ids) == 1}
    owner_of: dict[tuple[str, str], str] = {}
    if any(len(ids) > 1 for ids in members_of.values()):
        owner_of = {
            (c.platform, c.id): c.owner_id
            for c in store.iter_conversation_records()
            if c.owner_id is not None
        }
    distributions: dict[str, list[dict[str, Any]]] = {}
    for axis in ("platform", "channel", "team member"):
        groups: dict[str, list[_Reply]] = defaultdict(list)
        for r in chosen:
            if axis == "platform":
                key = r.platform or "(none)"
            elif axis == "channel":
                key = r.channel or "(none)"
            else:
                author = author_of.get(r.reply_id) if r.reply_id is not None else None
                key = (
                    handle_owner.get(author or "")
                    or (
                        owner_of.get((r.platform or "", r.conversation or ""))
                        if author in members_of
                        else None
                    )
                    or (author or "(unknown)")
                )
            groups[key].append(r)
        rows = []
        for key, pairs in sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0]))[:GROUP_CAP]:
            values = [r.seconds for r in pairs]
            ordered = sorted(values)
            d = drill(f"Response times, {axis} {key}", "rt", axis, key)
            # the slowest replies are listed (the first of equals first); all are counted
            for index in heapq.nsmallest(
                LIST_CAP, range(len(pairs)), key=lambda i: (-pairs[i].seconds, i)
            ):
                d.add_raw(pairs[index].raw, names)
            d.total = len(pairs)
            rows.append(
                {
                    "group": key,
                    "count": len(values),
                    "median": format_duration(_percentile(ordered, 0.5)),
                    "p90": format_duration(_percentile(ordered, 0.9)),
                    "max": format_duration(ordered[-1]),
                    "seconds": values,
                    "drill": d.id,
                }
            )
        distributions[axis] = rows

    # -- the lists -------------------------------------------------------------------
    queue.sort(key=lambda f: (f.deadline_us if f.deadline_us is not None else 2**62, f.subject))
    queue_rows = [
        dict(_finding_row(f, names), left=_left(f, report.as_of)) for f in queue[:LIST_CAP]
    ]
    calendars = (
        {c.name: c.calendar for c in policy.commitments}
        if isinstance(policy, Policy)
        else {c.name: c.calendar for c in policy}
    )
    abandoned_rows = _abandoned_rows(abandoned, last_post, calendars, report.as_of)
    orphaned.sort(key=lambda f: (f.started_us or 0, f.subject))
    orphaned_rows = _orphaned_rows(store, orphaned[:LIST_CAP], names)
    longest: dict[tuple[str | None, str | None], Finding] = {}
    for f in waiting:  # one row per conversation: its longest wait
        where = (f.platform, f.conversation)
        if where not in longest or f.elapsed_us > longest[where].elapsed_us:
            longest[where] = f
    ranked = sorted(longest.values(), key=lambda f: (-f.elapsed_us, f.subject))
    waiting_rows = _waiting_rows(store, ranked[: LIST_CAP // 2], names)

    commitment_rows = []
    for name, status_counts in counts.items():
        summary = promises[name]
        met, breached = status_counts["met"], status_counts["breached"]
        commitment_rows.append(
            {
                "name": name,
                "promise": summary.promise,
                "severity": summary.severity,
                "rule": summary.rule,
                "counts": status_counts,
                "drills": {s: _anchor("status", name, s) for s in status_counts},
                "compliance": None if met + breached == 0 else met / (met + breached),
            }
        )
    ordered_weeks = sorted(weeks)
    trend_out = {
        name: {
            week: dict(
                cell,
                compliance=cell["met"] / (cell["met"] + cell["breached"]),
                drill=_anchor("week", name, week),
            )
            for week, cell in per_week.items()
        }
        for name, per_week in trend.items()
    }
    data = ReportData(
        title=title,
        as_of=report.as_of,
        since=since,
        until=until,
        store=report.store,
        redacted=redact,
        commitments=commitment_rows,
        weeks=ordered_weeks,
        trend=trend_out,
        distributions=distributions,
        distribution_commitment=measured,
        queue=queue_rows,
        queue_total=len(queue),
        abandoned=abandoned_rows,
        orphaned=orphaned_rows,
        orphaned_total=len(orphaned),
        waiting=waiting_rows,
        drills=drills,
        charts={},
    )
    return attrs.evolve(data, charts=_charts(data))


def _left(f: Finding, as_of: datetime) -> str:
    if f.deadline_us is None:
        return ""
    left = f.deadline_us - to_micros(as_of)
    return ("overdue " if left < 0 else "") + format_duration(abs(left) / _US)


class _Post(NamedTuple):
    """What the report needs of one of our outbound messages."""

    platform: str
    id: str
    channel: str | None
    author: str
    visibility: str
    automated: bool
    sent_us: int
    text: str

    @property
    def sent_at(self) -> datetime:
        return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=self.sent_us)


def _outbound_posts(store: StorageBackend, as_of_us: int) -> Iterator[_Post]:
    """Our outbound messages sent by ``as_of``: straight from SQLite rows on a file store
    (no object per message), else from ``iter_messages``."""
    from .._storage._sqlite import SQLiteStore

    if isinstance(store, SQLiteStore) and store.path != ":memory:":
        con = store.connect_reader()
        try:
            cursor = con.execute(
                "SELECT platform, id, channel_id, author_id, visibility, automated, sent_at, "
                "text FROM messages WHERE direction = 'outbound' AND sent_at <= ?",
                (as_of_us,),
            )
            while rows := cursor.fetchmany(5000):
                for row in rows:
                    yield _Post(
                        row[0], row[1], row[2], row[3], row[4], bool(row[5]), row[6], row[7]
                    )
        finally:
            con.close()
        return
    for m in store.iter_messages():
        sent = to_micros(m.sent_at)
        if str(m.direction) == "outbound" and sent <= as_of_us:
            yield _Post(
                m.platform, m.id, m.channel_id, m.author_id, str(m.visibility), m.automated,
                sent, m.text,
            )  # fmt: skip


def _abandoned_rows(
    findings: Sequence[Finding],
    last_post: dict[tuple[str | None, str], _Post],
    calendars: dict[str, Any],
    as_of: datetime,
) -> list[dict[str, Any]]:
    """Channels silent past their ``channel_activity`` limit right now (the rule's own
    finding may have been decided by an earlier gap), longest silence first."""
    as_of_us = to_micros(as_of)
    silent: dict[tuple[str | None, str], tuple[int, Finding, _Post]] = {}
    for f in findings:
        key = (f.platform, f.channel or f.subject)
        post = last_post.get(key)
        if post is None or f.limit_us is None:
            continue
        calendar = calendars.get(f.commitment)
        start = post.sent_us
        gap = as_of_us - start if calendar is None else calendar.business_us(start, as_of_us)
        if gap > f.limit_us and (key not in silent or gap > silent[key][0]):
            silent[key] = (gap, f, post)
    rows = []
    for gap, f, post in sorted(silent.values(), key=lambda item: -item[0])[:LIST_CAP]:
        rows.append(
            {
                "channel": f.channel or f.subject,
                "platform": f.platform,
                "silent_for": format_duration(gap / _US),
                "last_post_at": format_datetime(post.sent_at),
                "last_post": post.text,
                "message": f.message,
            }
        )
    return rows


def _conversation(store: StorageBackend, f: Finding) -> Any:
    if f.platform is None or f.conversation is None:
        return None
    return store.get_conversation(f.platform, f.conversation)


def _orphaned_rows(
    store: StorageBackend, findings: Sequence[Finding], names: _Pseudonyms
) -> list[dict[str, Any]]:
    rows = []
    for f in findings:
        conversation = _conversation(store, f)
        rows.append(
            {
                "conversation": names.subject(f.conversation),
                "platform": f.platform,
                "owner": None if conversation is None else conversation.owner_id,
                "status": None if conversation is None else str(conversation.status),
                "message": f.message if not names.enabled else "owner missing or departed",
            }
        )
    return rows


def _waiting_rows(
    store: StorageBackend, findings: Sequence[Finding], names: _Pseudonyms
) -> list[dict[str, Any]]:
    rows = []
    for f in findings:
        conversation = _conversation(store, f)
        last = (
            conversation.messages[-1]
            if conversation is not None and conversation.messages
            else None
        )
        rows.append(
            {
                "stakeholder": names.who(
                    None if conversation is None else conversation.stakeholder_id
                ),
                "conversation": names.subject(f.conversation),
                "platform": f.platform,
                "waiting": format_duration(f.elapsed_us / _US),
                "commitment": f.commitment,
                "status": str(f.status),
                "last_message": None if last is None else names.text(last.text),
            }
        )
    return rows


# -- charts --------------------------------------------------------------------------


_COMMENT = re.compile(r"<!--.*?-->", re.DOTALL)


def _label(value: object) -> str:
    """A chart label: printable, short, and unable to close an SVG comment or open a
    tag (matplotlib writes each text into a comment beside its glyphs)."""
    text = "".join(ch for ch in str(value) if ch.isprintable())[:40]
    return (
        text.replace("<", "\u2039").replace(">", "\u203a").replace("&", "+").replace("--", "\u2013")
    )


def _svg(figure: Any) -> str:
    import matplotlib
    import matplotlib.pyplot as plt

    buffer = io.StringIO()
    # no date and fixed element ids: the same data gives the same page, byte for byte
    with matplotlib.rc_context({"svg.hashsalt": "convokit"}):
        figure.savefig(buffer, format="svg", bbox_inches="tight", metadata={"Date": None})

    plt.close(figure)
    text = buffer.getvalue()
    # The inline <svg> element only (no XML prolog or DOCTYPE inside HTML), without the
    # comments matplotlib writes.
    return _COMMENT.sub("", text[text.index("<svg") :])


def _charts(data: ReportData) -> dict[str, str]:
    import matplotlib

    matplotlib.use("svg", force=False)
    import matplotlib.pyplot as plt

    plt.rcParams.update({"svg.hashsalt": "convokit", "font.size": 9, "svg.fonttype": "path"})
    charts: dict[str, str] = {}
    if data.weeks:
        figure, axes = plt.subplots(figsize=(8, 3.2))
        for name, per_week in data.trend.items():
            xs = [i for i, w in enumerate(data.weeks) if w in per_week]
            ys = [per_week[data.weeks[i]]["compliance"] * 100 for i in xs]
            axes.plot(xs, ys, marker="o", markersize=3, label=_label(name))
        axes.set_xticks(range(len(data.weeks)), data.weeks, rotation=45, ha="right")
        axes.set_ylabel("kept (%)")
        axes.set_ylim(0, 105)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
        charts["trend"] = _svg(figure)
    for axis, rows in data.distributions.items():
        if not rows:
            continue
        figure, axes = plt.subplots(figsize=(8, 0.45 * len(rows) + 1))
        hours = [[s / 3600 for s in row["seconds"]] for row in rows]
        axes.boxplot(hours, orientation="horizontal", showfliers=False)
        axes.set_yticks(range(1, len(rows) + 1), [_label(row["group"]) for row in rows])
        axes.set_xlabel("hours to reply (business time on the commitment's calendar)")
        axes.grid(alpha=0.3, axis="x")
        charts[axis] = _svg(figure)
    return charts


# -- rendering -----------------------------------------------------------------------


def render_html(data: ReportData, stream: IO[str]) -> None:
    """Write the page for ``data`` to ``stream``."""
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("convokit_core._report", "templates"),
        autoescape=jinja2.select_autoescape(default=True, default_for_string=True),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters["pct"] = lambda v: "—" if v is None else f"{v:.1%}"
    environment.filters["when"] = lambda v: "" if v is None else format_datetime(v)
    template = environment.get_template("report.html.j2")
    page = template.render(
        data=data,
        statuses=[str(s) for s in STATUSES],
        failing=[str(s) for s in _FAILING],
        charts={k: _Markup(v) for k, v in data.charts.items()},
        cap=LIST_CAP,
    )
    stream.write(page)


def _Markup(svg: str) -> Any:
    """Chart SVG from matplotlib is trusted markup: it is drawn from numbers and the
    group labels, which matplotlib escapes itself."""
    import markupsafe

    return markupsafe.Markup(svg)


def write_html_report(
    store: StorageBackend,
    policy: Policy | Sequence[Commitment] | str | os.PathLike[str],
    stream: TextIO,
    **options: Any,
) -> ReportData:
    """:func:`build_report` then :func:`render_html`; returns the data shown."""
    data = build_report(store, policy, **options)
    render_html(data, stream)
    return data

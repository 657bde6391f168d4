"""The WordPress adapter on hand-written payloads in the wp/v2 REST API's shapes (respx)."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import respx
from convokit_wordpress import WordPressConfig, html_to_text, parse_gmt
from wordpress_helpers import API, SITE, collect, load

from convokit_core import Direction, HttpError, MalformedPayload, SyncError, Visibility

KEY = "example.org/blog"


def listing(
    items: list[Any], *, total_pages: int | None, total: int | None = None
) -> httpx.Response:
    headers = {"Content-Type": "application/json; charset=UTF-8"}
    if total_pages is not None:
        headers["X-WP-TotalPages"] = str(total_pages)
        headers["X-WP-Total"] = str(total if total is not None else len(items))
    return httpx.Response(200, headers=headers, json=items)


INVALID_PAGE = httpx.Response(400, json=load("error_invalid_page.json"))


class Blog:
    """A respx fake serving fixed pages of posts and comments, recording every request."""

    def __init__(self, posts: list[list[Any]], comments: list[list[Any]], *, headers: bool = True):
        self.pages = {"posts": posts, "comments": comments}
        self.headers = headers
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        kind = request.url.path.rsplit("/", 1)[1]
        if kind == "users":
            slugs = request.url.params["slug"].split(",")
            users = [u for u in load("users_slug.json") if u["slug"] in slugs]
            return listing(users, total_pages=1 if users else 0)
        pages = self.pages[kind]
        params = request.url.params
        page = int(params.get("page", "1"))
        size = int(params.get("per_page", "10"))
        items = [i for p in pages for i in p]
        if "after" in params:
            bound = datetime.fromisoformat(params["after"])
            items = [i for i in items if datetime.fromisoformat(i["date_gmt"]) > bound]
        chunks = [items[i : i + size] for i in range(0, len(items), size)]
        if page > len(chunks):
            if not chunks:
                return listing([], total_pages=0 if self.headers else None)
            return INVALID_PAGE
        return listing(chunks[page - 1], total_pages=len(chunks) if self.headers else None)


@pytest.fixture
def blog() -> Any:
    with respx.mock(assert_all_called=False) as router:
        fake = Blog(
            [load("posts_page1.json")], [load("comments_page1.json"), load("comments_page2.json")]
        )
        router.get(url__startswith=API).mock(side_effect=fake)
        yield fake


def by_id(pages: list[Any]) -> dict[str, Any]:
    return {m.id: m for p in pages for m in p.messages}


def test_posts_are_our_channel_activity_and_roots_of_their_comments(blog: Blog) -> None:
    pages = collect(WordPressConfig(site=SITE))
    messages = by_id(pages)
    post = messages[f"{KEY}/posts/41"]
    assert post.direction is Direction.OUTBOUND
    assert post.channel_id == KEY
    assert post.conversation_id == post.id
    assert post.in_reply_to is None
    assert post.author_id == f"wordpress:{KEY}/users/3"
    # date_gmt is UTC without an offset; the local `date` (one hour ahead) is ignored.
    assert post.sent_at == datetime(2019, 3, 1, 9, 15, tzinfo=UTC)
    assert post.edited_at == datetime(2019, 3, 2, 7, 0, tzinfo=UTC)
    assert post.url == "https://example.org/blog/2019/03/01/we-moved-our-office/"
    assert post.text == (
        "We moved our office \N{EN DASH} here\N{RIGHT SINGLE QUOTATION MARK}s how to find us\n\n"
        "Our new address is 12 Harbour Road.\n\nMap of the harbour\n\nParking & entrance\n\n"
        "- Bus 4\n\n- Tram 2"
    )
    assert messages[f"{KEY}/posts/58"].edited_at is None  # modified == date
    channels = [c for p in pages for c in p.channels]
    assert [(c.id, c.platform, c.handle) for c in channels] == [(KEY, "wordpress", KEY)]


def test_comments_thread_under_their_post_with_directions(blog: Blog) -> None:
    messages = by_id(collect(WordPressConfig(site=SITE)))
    guest = messages[f"{KEY}/comments/301"]
    assert guest.conversation_id == f"{KEY}/posts/41"
    assert guest.in_reply_to == f"{KEY}/posts/41"  # parent 0 answers the post
    assert guest.direction is Direction.INBOUND
    assert guest.author_id == f"wordpress:{KEY}/guests/priya n."
    assert (
        guest.text
        == "Is the old entrance closed now? I couldn\N{RIGHT SINGLE QUOTATION MARK}t find the lift."
    )
    assert guest.sent_at == datetime(2019, 3, 1, 11, 0, tzinfo=UTC)
    assert guest.visibility is Visibility.PUBLIC
    reply = messages[f"{KEY}/comments/305"]
    assert reply.in_reply_to == guest.id
    assert reply.direction is Direction.OUTBOUND  # the post's author
    assert reply.text == "Yes \N{EN DASH} the lift is behind the café now."
    registered = messages[f"{KEY}/comments/306"]
    assert registered.direction is Direction.INBOUND  # a registered reader
    assert registered.author_id == f"wordpress:{KEY}/users/12"
    assert registered.in_reply_to == reply.id
    assert registered.text == "Thanks! \N{THUMBS UP SIGN}"
    assert messages[f"{KEY}/comments/412"].direction is Direction.OUTBOUND
    pingback = messages[f"{KEY}/comments/413"]
    assert pingback.automated
    assert pingback.direction is Direction.INBOUND
    assert f"{KEY}/comments/421" not in messages  # spam never stored
    # posts are the blog's activity; comments are said on the blog's comments channel
    assert {m.channel_id for m in messages.values() if "/posts/" in m.id} == {KEY}
    assert {m.channel_id for m in messages.values() if "/comments/" in m.id} == {f"{KEY}/comments"}


def test_stakeholders_are_guests_and_registered_readers(blog: Blog) -> None:
    pages = collect(WordPressConfig(site=SITE))
    people = {s.id: s for p in pages for s in p.stakeholders}
    assert set(people) == {
        f"wordpress:{KEY}/guests/priya n.",
        f"wordpress:{KEY}/users/12",
        f"wordpress:{KEY}/guests/a linking blog",
        f"wordpress:{KEY}/guests/luca",
    }
    assert people[f"wordpress:{KEY}/guests/priya n."].display_name == "Priya N."
    assert people[f"wordpress:{KEY}/users/12"].identities == {"wordpress": f"{KEY}/users/12"}


def test_configured_authors_by_id_or_slug_and_team_handles_are_ours(blog: Blog) -> None:
    messages = by_id(collect(WordPressConfig(site=SITE, authors=[12])))
    assert messages[f"{KEY}/comments/306"].direction is Direction.OUTBOUND
    # A slug is looked up once through /users?slug=.
    messages = by_id(collect(WordPressConfig(site=SITE, authors=["sam"])))
    users = [dict(r.url.params) for r in blog.requests if r.url.path.endswith("/users")]
    assert users == [{"slug": "sam", "per_page": "100"}]
    assert messages[f"{KEY}/comments/412"].direction is Direction.OUTBOUND
    messages = by_id(collect(WordPressConfig(site=SITE), team=frozenset({"12@example.org/blog"})))
    assert messages[f"{KEY}/comments/306"].direction is Direction.OUTBOUND
    messages = by_id(collect(WordPressConfig(site=SITE), team=frozenset({"12@other.example"})))
    assert messages[f"{KEY}/comments/306"].direction is Direction.INBOUND
    messages = by_id(collect(WordPressConfig(site=SITE), team=frozenset({"sam"})))
    assert messages[f"{KEY}/comments/412"].direction is Direction.OUTBOUND


def test_a_site_hiding_its_users_only_costs_team_slugs_their_match(
    caplog: pytest.LogCaptureFixture,
) -> None:
    fake = Blog([load("posts_page1.json")], [load("comments_page1.json")])

    def hidden(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/users"):
            return httpx.Response(
                404, json={"code": "rest_no_route", "message": "No route", "data": {"status": 404}}
            )
        return fake(request)

    with respx.mock() as router:
        router.get(url__startswith=API).mock(side_effect=hidden)
        messages = by_id(collect(WordPressConfig(site=SITE), team=frozenset({"tomasz-k"})))
    assert messages[f"{KEY}/comments/306"].direction is Direction.INBOUND
    assert "team handles tomasz-k are not matched" in caplog.text


def test_an_unknown_author_slug_is_a_clear_error() -> None:
    with respx.mock(assert_all_called=False) as router:
        router.get(url__startswith=f"{API}/users").mock(return_value=listing([], total_pages=0))
        with pytest.raises(SyncError, match="no user with the slug 'nobody'"):
            collect(WordPressConfig(site=SITE, authors=["nobody"]))
        router.get(url__startswith=f"{API}/users").mock(
            return_value=httpx.Response(
                401,
                json={
                    "code": "rest_user_cannot_view",
                    "message": "Sorry, you are not allowed.",
                    "data": {"status": 401},
                },
            )
        )
        with pytest.raises(SyncError, match="give its numeric user id"):
            collect(WordPressConfig(site=SITE, authors=["nobody"]))


def test_requests_page_oldest_first_and_stop_at_total_pages(blog: Blog) -> None:
    pages = collect(WordPressConfig(site=SITE, page_size=4))
    assert len(by_id(pages)) == 2 + 6
    posts = [r for r in blog.requests if r.url.path.endswith("/posts")]
    comments = [r for r in blog.requests if r.url.path.endswith("/comments")]
    assert [dict(r.url.params) for r in posts] == [
        {"page": "1", "per_page": "4", "order": "asc", "orderby": "date"}
    ]
    assert [r.url.params["page"] for r in comments] == ["1", "2"]  # X-WP-TotalPages: 2
    assert all(r.url.params["order"] == "asc" for r in comments)
    assert all("orderby" not in r.url.params for r in comments)  # date_gmt by default
    assert all("authorization" not in r.headers for r in blog.requests)  # public reads


def test_without_total_pages_a_page_past_the_last_ends_the_listing() -> None:
    with respx.mock(assert_all_called=False) as router:
        fake = Blog([load("posts_page1.json")], [load("comments_page1.json")], headers=False)
        router.get(url__startswith=API).mock(side_effect=fake)
        pages = collect(WordPressConfig(site=SITE, page_size=2))
    assert len(by_id(pages)) == 5
    posts = [r.url.params["page"] for r in fake.requests if r.url.path.endswith("/posts")]
    comments = [r.url.params["page"] for r in fake.requests if r.url.path.endswith("/comments")]
    assert posts == ["1", "2"]  # a full page of 2, then 400 rest_post_invalid_page_number
    assert comments == ["1", "2"]  # 3 comments: the second page is short, the end


def test_no_empty_pages_and_each_message_once(blog: Blog) -> None:
    pages = collect(WordPressConfig(site=SITE))
    assert all(p.messages for p in pages)
    ids = [m.id for p in pages for m in p.messages]
    assert len(ids) == len(set(ids)) == 8


def test_resume_from_the_final_cursor_yields_nothing_and_sends_after(blog: Blog) -> None:
    pages = collect(WordPressConfig(site=SITE))
    final = pages[-1].cursor
    blog.requests.clear()
    assert collect(WordPressConfig(site=SITE), final) == []
    after = {r.url.path.rsplit("/", 1)[1]: r.url.params.get("after") for r in blog.requests}
    # The newest post is 2019-06-10T16:00:00 and the newest comment 2026-10-02T18:00:00
    # (the spam one is not counted); each is re-read from 7 days (the lookback) before.
    assert after == {"posts": "2019-06-03T16:00:00", "comments": "2026-09-25T18:00:00"}
    state = json.loads(final)
    assert state["v"] == 1
    assert state["authors"] == ["3", "7"]


def test_a_comment_approved_late_inside_the_lookback_arrives_once(blog: Blog) -> None:
    final = collect(WordPressConfig(site=SITE))[-1].cursor
    late = dict(load("comments_page2.json")[2], id=419, date_gmt="2026-09-30T08:00:00")
    new = dict(load("comments_page2.json")[2], id=425, date_gmt="2026-11-01T08:00:00")
    blog.pages["comments"].append([late, new])
    pages = collect(WordPressConfig(site=SITE), final)
    assert set(by_id(pages)) == {f"{KEY}/comments/419", f"{KEY}/comments/425"}
    assert collect(WordPressConfig(site=SITE), pages[-1].cursor) == []


def test_application_password_is_sent_as_basic_auth_and_never_shown(blog: Blog) -> None:
    config = WordPressConfig(site=SITE, username="editor", app_password="abcd EFGH ijkl MNOP")
    assert "abcd" not in repr(config)
    collect(config)
    expected = "Basic " + base64.b64encode(b"editor:abcd EFGH ijkl MNOP").decode()
    assert {r.headers["authorization"] for r in blog.requests} == {expected}


def test_rejected_credentials_echoed_back_are_scrubbed() -> None:
    config = WordPressConfig(site=SITE, username="editor", app_password="abcd EFGH ijkl MNOP")
    body = {
        "code": "incorrect_password",
        "message": "bad password abcd EFGH ijkl MNOP / abcdEFGHijklMNOP",
        "data": {"status": 401},
    }
    with respx.mock() as router:
        router.get(url__startswith=API).mock(return_value=httpx.Response(401, json=body))
        with pytest.raises(HttpError) as caught:
            collect(config)
    text = str(caught.value)
    assert "401" in text
    assert "abcd" not in text
    assert "MNOP" not in text


def test_429_waits_for_retry_after(sleeps: list[float]) -> None:
    blog = Blog(
        [load("posts_page1.json")], [load("comments_page1.json"), load("comments_page2.json")]
    )
    calls = {"n": 0}

    def limited(request: httpx.Request) -> httpx.Response:
        calls["n"] += 1
        if calls["n"] == 1:
            return httpx.Response(429, headers={"Retry-After": "17"}, text="Too Many Requests")
        return blog(request)

    with respx.mock(assert_all_called=False) as router:
        router.get(url__startswith=API).mock(side_effect=limited)
        pages = collect(WordPressConfig(site=SITE), waits=sleeps)
    assert len(by_id(pages)) == 8
    assert calls["n"] == len(blog.requests) + 1
    assert len(sleeps) == 1
    assert sleeps[0] >= 17


@pytest.mark.parametrize(
    "cursor",
    [
        '{"v":2}',
        "not json",
        '{"v":1,"posts":{"w":"yesterday"}}',
        '{"v":1,"posts":{"pass":{"p":0}}}',
    ],
)
def test_a_garbage_cursor_is_an_error_not_a_restart(blog: Blog, cursor: str) -> None:
    with pytest.raises(MalformedPayload, match="not a WordPress cursor"):
        collect(WordPressConfig(site=SITE), cursor)
    assert blog.requests == []


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda c: c.pop("date_gmt"), "date_gmt"),
        (lambda c: c.update(date_gmt="1 March 2019"), "date_gmt"),
        (lambda c: c.update(post="forty-one"), "post"),
        (lambda c: c.update(content="<p>hi</p>"), "content"),
        (lambda c: c.update(author="guest"), "author"),
        (lambda c: c.update(parent=None), "parent"),
    ],
)
def test_a_malformed_comment_names_its_field(mutate: Any, field: str) -> None:
    comment = load("comments_page1.json")[0]
    mutate(comment)
    with respx.mock(assert_all_called=False) as router:
        router.get(url__startswith=f"{API}/posts").mock(return_value=listing([], total_pages=0))
        router.get(url__startswith=f"{API}/comments").mock(
            return_value=listing([comment], total_pages=1)
        )
        with pytest.raises(MalformedPayload, match=f"comment 301.*{field}"):
            collect(WordPressConfig(site=SITE))


def test_an_empty_blog_records_its_channel_once() -> None:
    with respx.mock() as router:
        router.get(url__startswith=API).mock(return_value=listing([], total_pages=0))
        (page,) = collect(WordPressConfig(site=SITE))
        assert page.messages == ()
        assert [c.id for c in page.channels] == [KEY]
        assert collect(WordPressConfig(site=SITE), page.cursor) == []


def test_gmt_times_and_html() -> None:
    assert parse_gmt("2024-05-01T09:30:00", "x") == datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    assert parse_gmt("2024-05-01T11:30:00+02:00", "x") == datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    assert parse_gmt("2024-05-01T09:30:00Z", "x").tzinfo is UTC
    assert html_to_text("<p>a&nbsp; b</p><script>x()</script><p>c<br/>d</p>") == "a b\n\nc\nd"


@pytest.mark.parametrize("where", ["date_gmt", "listing"])
def test_a_malformed_payload_echoing_the_password_does_not_leak_it(where: str) -> None:
    password = "abcd EFGH ijkl MNOP qrst UVWX"
    config = WordPressConfig(site=SITE, username="editor", app_password=password)
    comment = dict(load("comments_page1.json")[0], date_gmt=password)
    body: Any = [comment] if where == "date_gmt" else {"error": password}
    with respx.mock(assert_all_called=False) as router:
        router.get(url__startswith=f"{API}/posts").mock(return_value=listing([], total_pages=0))
        router.get(url__startswith=f"{API}/comments").mock(
            return_value=httpx.Response(200, json=body)
        )
        with pytest.raises(MalformedPayload) as caught:
            collect(config)
    assert password not in str(caught.value)
    assert password.replace(" ", "") not in str(caught.value)
    assert caught.value.__context__ is None

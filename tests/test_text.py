"""html_to_text: the text a reader sees, for every adapter that receives HTML."""

from __future__ import annotations

from collections.abc import Mapping

from convokit_core import html_to_text


def test_blocks_breaks_lists_entities_and_images() -> None:
    html = (
        "<h2>Delivery&nbsp;update</h2><p>We&#8217;re  late&amp;sorry.<br>Really.</p>"
        "<ul><li>one</li><li>two</li></ul><p><img src='x.png' alt='a map'> here</p>"
        "<table><tr><td>a</td><td>b</td></tr></table>"
    )
    assert html_to_text(html) == (
        "Delivery update\n\nWe\u2019re late&sorry.\nReally.\n\n- one\n\n- two\n\na map here\n\na b"
    )


def test_scripts_styles_and_templates_are_dropped() -> None:
    html = "<p>hi</p><script>alert('x')</script><style>p{}</style><template><p>t</p></template>"
    assert html_to_text(html) == "hi"


def test_a_skip_rule_drops_an_element_with_everything_inside_even_when_nested() -> None:
    def quoted(tag: str, attributes: Mapping[str, str]) -> bool:
        return tag == "div" and attributes.get("class") == "quote"

    html = '<p>answer</p><div class="quote"><div><p>old</p></div><p>older</p></div><p>end</p>'
    assert html_to_text(html, skip=quoted) == "answer\n\nend"


def test_images_follow_the_image_rule() -> None:
    html = '<p><img alt=":smile:" class="emoji"><img alt="image.png"></p>'
    assert html_to_text(html) == ":smile:image.png"
    assert (
        html_to_text(html, image=lambda a: a.get("alt") if "emoji" in a.get("class", "") else None)
        == ":smile:"
    )


def test_hostile_markup_stays_text() -> None:
    assert html_to_text("&lt;script&gt;x&lt;/script&gt;") == "<script>x</script>"
    assert html_to_text("<p>unclosed <b>bold") == "unclosed bold"

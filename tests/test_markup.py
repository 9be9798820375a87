"""An HTML body is read as a mail client shows it; text with a stray "<" is no HTML."""

from __future__ import annotations

import time

import pytest

from assistant.markup import visible_text
from guardrails import reply_history

GMAIL = ('<div dir="ltr">Hi team,<div><br></div><div>Our transfers to the parts desk ring out.</div><div><br></div>'
         '<div>Thanks,</div><div>Dana</div></div>')
OUTLOOK = ('<html xmlns:o="urn:schemas-microsoft-com:office:office"><head><meta charset="utf-8">'
           '<title>RE: transfers</title><style><!--\np.MsoNormal\n\t{margin:0in;\n\tfont-family:"Calibri";}\n--></style>'
           '<!--[if gte mso 9]><xml><o:shapedefaults v:ext="edit" spidmax="1026" /></xml><![endif]--></head>'
           '<body lang="EN-US"><div class="WordSection1"><p class="MsoNormal">Hi team,<o:p></o:p></p>'
           '<p class="MsoNormal"><o:p>&nbsp;</o:p></p>'
           '<p class="MsoNormal">Our transfers to the parts desk ring out.<o:p></o:p></p>'
           '<p class="MsoNormal">Thanks,<br>Dana<o:p></o:p></p></div></body></html>')


@pytest.mark.parametrize("body", [GMAIL, OUTLOOK])
def test_an_html_body_reads_as_its_plain_text(body):
    assert visible_text(body) == "Hi team,\n\nOur transfers to the parts desk ring out.\n\nThanks,\nDana"


def test_entities_are_decoded_and_spaces_read_as_any_request_reads_them():
    text = visible_text("<p>PAM says we&#8217;re closed&nbsp;&amp; hangs up&#x2026; 2&nbsp;&lt;&nbsp;3</p>")
    assert text == "PAM says we're closed & hangs up... 2 < 3"


def test_head_styles_scripts_templates_and_comments_are_not_read():
    body = ("<html><head><title>Secret title</title><style>.x{color:red}</style></head><body>"
            "<script>var note = 'script text';</script><template><p>template text</p></template>"
            "<p>Visible words.</p><!-- a comment --></body></html>")
    assert visible_text(body) == "Visible words."


def test_a_head_left_open_ends_where_the_body_starts():
    assert visible_text("<html><head><meta charset=utf-8><body><p>Visible words.</p>") == "Visible words."


def test_text_a_style_hides_is_kept_for_the_checks_to_read():
    # This module reads no CSS: the injection check reads the markup, where such text is flagged.
    body = '<div>Ring time question.</div><div style="display:none">hidden words</div>'
    assert visible_text(body) == "Ring time question.\nhidden words"


def test_a_blockquote_becomes_quoted_lines_and_a_reply_history():
    body = ('<div dir="ltr">It works now, thank you for the quick fix.</div><br>'
            '<div class="gmail_quote"><div class="gmail_attr">On Mon, Mar 2, 2026 at 9:05 AM Dana '
            '&lt;<a href="mailto:dana@lakeside.example">dana@lakeside.example</a>&gt; wrote:<br></div>'
            '<blockquote class="gmail_quote"><div dir="ltr">PAM is not answering<div>since 8am</div></div>'
            '<blockquote>an older line</blockquote></blockquote></div>')
    text = visible_text(body)
    assert text.endswith("wrote:\n\n> PAM is not answering\n> since 8am\n\n> > an older line")
    assert text[reply_history(text):].startswith("On Mon, Mar 2, 2026")


def test_an_outlook_reply_header_reads_as_one():
    body = ('<p>Can you also change the greeting?</p><div><hr><b>From:</b> PAM Support<br><b>Sent:</b> Monday'
            '<br><b>To:</b> Dana<br><b>Subject:</b> RE: calls</div><p>We see PAM is not answering calls.</p>')
    text = visible_text(body)
    assert text.startswith("Can you also change the greeting?\n\nFrom: PAM Support\nSent: Monday\n")
    assert reply_history(text) == len("Can you also change the greeting?\n\n")


def test_text_with_no_element_that_breaks_a_line_keeps_its_own_line_breaks():
    # Markup with an inline tag or two: its paragraphs stay paragraphs.
    body = ("<span>How long does a transfer ring?</span>\n\n<span style=\"font-size:0px\">hidden words</span>\n\n"
            "Thanks,\nRob &amp; the team")
    assert visible_text(body) == "How long does a transfer ring?\n\nhidden words\n\nThanks,\nRob & the team"
    # With a block element the markup's own breaks decide, as in a mail client.
    assert visible_text("<p>One\nline</p><p>Two</p>") == "One line\n\nTwo"


def test_list_items_and_table_rows_keep_their_lines():
    body = "<p>Two things:</p><ul><li>first one</li><li>second one</li></ul><table><tr><td>a</td><td>b</td></tr></table>"
    assert visible_text(body) == "Two things:\n\n- first one\n- second one\n\na b"


@pytest.mark.parametrize("text", [
    "a < b and c > d",
    "we <3 PAM",
    "the <p> tag in our web widget shows up as text",
    "PAM said <unknown> instead of the caller's name</unknown>",
    "x<y",
    "end tags alone </p> are no element, even twice </p>",
    "",
])
def test_text_without_element_markup_is_no_html(text):
    assert visible_text(text) is None


@pytest.mark.parametrize("body", ["<!-- just a comment -->", "<html><head><title>only a title</title></head></html>",
                                  "<p>   </p>"])
def test_markup_that_shows_no_text_is_read_as_it_came(body):
    assert visible_text(body) is None


@pytest.mark.parametrize("unit", ["<a", "<a\n", '<a b="', "</", "<!--", "<![", "<?", "x<", "&#", "<p>", "<br>",
                                  "<blockquote>", "</p>", "<style>"])
def test_adversarial_markup_is_read_in_linear_time_without_error(unit):
    # The standard html.parser took 86 s on 80,000 characters of "<a\n" and raised on "<![".
    body = "<p>" + unit * (80_000 // len(unit))
    started = time.perf_counter()
    visible_text(body)
    assert time.perf_counter() - started < 5.0


@pytest.mark.parametrize("body", [
    "How long does a transfer ring?\n\n<span style=\"font-size:0px\">hidden words</span>\n\nThanks,\nRob",
    "Hi,\n\nWe pasted the PAM chat widget snippet into the <head> of our website but it never shows up. "
    "Where should the script go? It sits right before </head>.\n\nThanks,\nDana",
    "Hi,\n\nPAM stopped answering at 9am. I put <br> in the greeting and now callers hear nothing.\n\nThanks",
    "How do I get <b>bold</b> text in the SMS greeting?",
    "Please add <p>Welcome</p> to the greeting template"])
def test_text_that_names_tags_is_read_as_it_came(body):
    # Found by a review: an HTML body opens with markup, as mail clients write it. Read as HTML,
    # "<head> ... </head>" in a question about a website swallowed the question, one "<br>" joined
    # every paragraph, and "<b>bold</b>" lost the words the question was about.
    assert visible_text(body) is None


def test_every_text_holds_what_the_markup_hides():
    from assistant.markup import every_text

    markup = ('<html><head><title>SSN 123-<b>45</b>-6789</title></head><body><p>Hi</p>'
              '<a href="mailto:dana.lee&#64;lakesidekia.com">email</a><!-- card 4111&nbsp;1111 -->'
              '<img alt="call 555&#45;867&#45;5309"></body></html>')
    text = every_text(markup)
    for shown in ("SSN 123-45-6789", "mailto:dana.lee@lakesidekia.com", "card 4111\xa01111", "call 555-867-5309"):
        assert shown in text, shown

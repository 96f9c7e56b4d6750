"""Share cards (issue 16): a published post without an image gets a 1200x630 PNG with its title,
the site's name and its date, drawn at save time by the editor or an import and linked as
og:image; the same text reuses one card, a new title makes another (share_cards.py)."""

from __future__ import annotations

import re
from io import BytesIO
from pathlib import Path

from PIL import Image
from sqlalchemy import select

from inkwell.content.files import import_content
from inkwell.database import write_intent
from inkwell.extensions import db
from inkwell.models import Post
from inkwell.share_cards import _FONTS, CardText, draw_card, font_for, glyph_picture

from ..services import missing
from .admin_support import add_admin, client_sign_in, csrf_token
from .test_content_folder import png, run_import, write

SITE = "http://blog.example"


def meta(html: str, key: str) -> list[str]:
    return re.findall(rf'<meta (?:property|name)="{re.escape(key)}" content="([^"]*)">', html)


def card_of(client, slug: str) -> str:
    """The og:image of a post's page, checked to be the same as twitter:image."""
    html = client.get(f"/posts/{slug}/").get_data(as_text=True)
    [image] = meta(html, "og:image")
    assert meta(html, "twitter:image") == [image]
    assert meta(html, "twitter:card") == ["summary_large_image"]
    return image


def fetch_png(client, url: str) -> Image.Image:
    assert url.startswith(SITE + "/media/cards/")
    response = client.get(url.removeprefix(SITE))
    assert response.status_code == 200 and response.mimetype == "image/png"
    return Image.open(BytesIO(response.data))


def editor_save(client, title: str, slug: str, button: str = "publish", post_id=None):
    path = f"/admin/posts/{post_id}" if post_id else "/admin/posts/new"
    token = csrf_token(client.get(path).text)
    response = client.post(path, data={"csrf_token": token, "title": title, "slug": slug,
                                       "body": "Words only, no picture.", button: "1"})
    assert response.status_code == 302, response.text
    return response


def post_id_of(app, slug: str) -> int:
    with app.app_context():
        return db.session.scalars(select(Post.id).where(Post.slug == slug)).one()


def test_an_imported_post_without_an_image_shares_a_drawn_card(app, client, tmp_path):
    content = tmp_path / "content"
    write(content, "posts/words.md",
          "---\ntitle: Words\ndate: 2026-03-04\n---\n\nJust text, and `<img src=x>`.\n")
    assert not run_import(app, content).errors

    html = client.get("/posts/words/").get_data(as_text=True)
    assert meta(html, "og:image:width") == ["1200"] and meta(html, "og:image:height") == ["630"]
    card = fetch_png(client, card_of(client, "words"))
    assert card.size == (1200, 630)
    # Drawn, not blank: the title's and the footer's pixels differ from the background.
    assert len(card.convert("RGB").getcolors(maxcolors=100_000)) > 10


def test_the_editor_makes_one_card_per_text_and_a_new_one_for_a_new_title(app):
    add_admin(app)
    client = app.test_client()
    client_sign_in(client)
    editor_save(client, "A title", "a-title")
    first = card_of(client, "a-title")
    assert fetch_png(client, first).size == (1200, 630)

    post_id = post_id_of(app, "a-title")
    editor_save(client, "A title", "a-title", post_id=post_id)  # saved again, same text
    assert card_of(client, "a-title") == first
    editor_save(client, "Another title", "a-title", post_id=post_id)
    renamed = card_of(client, "a-title")
    assert renamed != first
    assert fetch_png(client, renamed).size == (1200, 630)


def stored_cards(app) -> list[Path]:
    return list((Path(app.config["MEDIA_ROOT"]) / "cards").glob("*.png"))


def test_drafts_get_no_card(app):
    add_admin(app)
    client = app.test_client()
    client_sign_in(client)
    editor_save(client, "Not yet", "not-yet", button="save")
    assert not stored_cards(app)


def test_an_import_check_that_is_undone_leaves_no_card(app, tmp_path):
    content = tmp_path / "content"
    write(content, "posts/words.md", "---\ntitle: Words\n---\n\nJust text.\n")
    with app.app_context(), write_intent():
        report = import_content(content, app.config["IMPORT_MAX_FILE_SIZE"], check_only=True)
    assert report.created and not report.errors
    assert not stored_cards(app)


def test_a_post_with_an_image_keeps_its_first_image(app, client, tmp_path):
    content = tmp_path / "content"
    write(content, "posts/photos/index.md",
          "---\ntitle: Photos\n---\n\n![The harbour at dawn](harbour.png)\n")
    write(content, "posts/photos/harbour.png", png(colour=(10, 20, 30)))
    assert not run_import(app, content).errors

    html = client.get("/posts/photos/").get_data(as_text=True)
    [image] = meta(html, "og:image")
    assert "/media/cards/" not in image and image.startswith(SITE + "/media/")
    assert meta(html, "og:image:width") == []


def test_a_very_long_title_and_titles_in_other_scripts_make_cards(app, client, tmp_path):
    content = tmp_path / "content"
    titles = {
        "long": ("A very long title " * 20)[:230] + "Supercalifragilisticexpialidocious" * 2,
        "greek": "Καλημέρα κόσμε: μια ανάρτηση",
        "japanese": "日本語のタイトルはスペースなしでとても長く続きます" * 3,
        "arabic": "مرحبا بالعالم",
    }
    for slug, title in titles.items():
        write(content, f"posts/{slug}.md", f'---\ntitle: "{title}"\n---\n\nText.\n')
    assert not run_import(app, content).errors

    cards = {slug: card_of(client, slug) for slug in titles}
    assert len(set(cards.values())) == len(titles)
    for url in cards.values():
        assert fetch_png(client, url).size == (1200, 630)


def test_a_title_too_long_for_the_card_is_cut_with_an_ellipsis_not_an_error():
    text = CardText(title="word " * 400 + "x" * 500, site_name="S" * 200, date="6 December 2026")
    card = Image.open(BytesIO(draw_card(text)))
    assert card.size == (1200, 630) and card.format == "PNG"


def test_media_cards_makes_the_cards_of_posts_saved_before_cards_existed(app, client, tmp_path):
    content = tmp_path / "content"
    write(content, "posts/old.md", "---\ntitle: Old\n---\n\nFrom before cards.\n")
    assert not run_import(app, content).errors
    for card in stored_cards(app):  # as if published before this feature
        card.unlink()
    assert client.get(card_of(client, "old").removeprefix(SITE)).status_code == 404

    result = app.test_cli_runner().invoke(args=["media", "cards"])
    assert result.exit_code == 0 and "Share cards checked: 1, all stored on local" in result.output
    assert fetch_png(client, card_of(client, "old")).size == (1200, 630)


def test_setup_stores_missing_cards_once_per_site_title_and_time_zone(app, client, tmp_path):
    """Posts saved before cards existed get theirs at the next `inkwell setup` (every start
    runs it), with no command to remember; then a marker spares the check until SITE_TITLE or
    TIME_ZONE (the cards' text) changes."""
    content = tmp_path / "content"
    write(content, "posts/old.md", "---\ntitle: Old\n---\n\nFrom before cards.\n")
    app.config["CONTENT_DIR"] = str(content)
    assert not run_import(app, content).errors
    for card in stored_cards(app):  # as if published before this feature
        card.unlink()
    runner = app.test_cli_runner()

    result = runner.invoke(args=["setup"])
    assert result.exit_code == 0 and "Share cards checked: 1." in result.output
    assert fetch_png(client, card_of(client, "old")).size == (1200, 630)

    for card in stored_cards(app):
        card.unlink()
    result = runner.invoke(args=["setup"])  # checked already for these settings
    assert result.exit_code == 0 and "Share cards checked" not in result.output
    assert stored_cards(app) == []

    app.config["SITE_TITLE"] = "A new name"  # a new text on every card: they are drawn again
    result = runner.invoke(args=["setup"])
    assert result.exit_code == 0 and "Share cards checked: 1." in result.output
    assert len(stored_cards(app)) == 1


def test_titles_in_chinese_japanese_and_korean_are_drawn_in_a_font_that_has_them():
    """DejaVu has no CJK glyphs: such a title drawn in it is a row of boxes. A CJK font of
    Debian's (CI installs fonts-wqy-microhei) draws it instead; Latin titles keep DejaVu."""
    dejavu, *cjk_fonts = _FONTS
    if not dejavu.is_file() or not any(path.is_file() for path in cjk_fonts):
        missing("DejaVu and a CJK font (apt-get install fonts-dejavu-core fonts-wqy-microhei)")
    box = glyph_picture(dejavu, "\uffff")
    for title in ("機械学習の入門", "深度学习", "한국어 제목"):
        assert all(glyph_picture(dejavu, c) == box for c in title if not c.isspace())  # boxes
        font = font_for(title, 72)
        assert Path(font.path) in cjk_fonts
        assert all(glyph_picture(Path(font.path), c) != glyph_picture(Path(font.path), "\uffff")
                   for c in title)
    assert Path(font_for("Hello, world: Καλημέρα", 72).path) == dejavu

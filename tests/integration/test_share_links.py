"""Full-page previews and share links of drafts, through real gunicorn (issue 16): the reader's
own page from the stored HTML, never indexed nor cached; a link that is forged, expired or
revoked is a 404 that shows nothing of the draft."""

from __future__ import annotations

import re
import time

import pytest
from itsdangerous import URLSafeSerializer

from .admin_support import admin_site, csrf_token
from .test_admin_editor import create, public

BODY = "A secret paragraph.\n\n```python\nprint('preview')\n```\n"


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    with admin_site(tmp_path_factory.mktemp("share")) as site:
        yield site


def share_path(author, post_id: int, days: int = 7) -> str:
    """Make a share link on the editor page; the link's path (SITE_URL is not this server)."""
    edit = f"/admin/posts/{post_id}"
    made = author.submit(edit + "/share", {"days": str(days)}, form_page=edit)
    assert made.status_code == 200, made.text
    link = re.search(r'id="share-link" type="text" readonly value="([^"]+)"', made.text)[1]
    assert link.startswith("http://blog.example/preview/")
    return link.removeprefix("http://blog.example")


def test_the_full_page_preview_is_the_readers_page_with_a_banner(site, author):
    post_id, slug = create(author, button="save", body=BODY)
    preview = author.get(f"/admin/posts/{post_id}/preview")
    assert preview.status_code == 200
    assert "private" in preview.headers["Cache-Control"]
    assert "noindex" in preview.headers["X-Robots-Tag"]
    assert '<meta name="robots" content="noindex' in preview.text
    assert "Preview: readers cannot see this yet." in preview.text
    assert public(site, f"/posts/{slug}/").status_code == 404  # still a draft
    # Published, the reader's page is the preview without its banner and robots line.
    edit = f"/admin/posts/{post_id}"
    assert author.submit(edit, {"title": slug.replace("-", " ").title(), "slug": slug,
                                "body": BODY, "publish": "1"}).status_code == 302
    reader = public(site, f"/posts/{slug}/")
    assert reader.status_code == 200

    def article(html: str) -> str:
        """The post's article, without its <time> (publishing set the date to a later second)."""
        found = re.search(r'<article class="post h-entry">.*</article>', html, re.S)[0]
        return re.sub(r"<time [^>]*>[^<]*</time>", "<time>", found)

    assert article(preview.text) == article(reader.text)
    assert "print" in article(reader.text) and "A secret paragraph." in article(reader.text)


def test_a_share_link_shows_the_draft_to_anyone_until_it_is_revoked(site, author):
    post_id, _slug = create(author, button="save", body=BODY)
    path = share_path(author, post_id)
    seen = public(site, path)
    assert seen.status_code == 200
    assert "A secret paragraph." in seen.text
    assert "noindex" in seen.headers["X-Robots-Tag"]
    assert seen.headers["Cache-Control"] == "private, no-store"
    second = share_path(author, post_id, days=1)
    edit = f"/admin/posts/{post_id}"
    revoked = author.submit(edit + "/share/revoke", {}, form_page=edit)
    assert revoked.status_code == 303
    for link in (path, second):
        gone = public(site, link)
        assert gone.status_code == 404 and "A secret paragraph." not in gone.text
    fresh = share_path(author, post_id)  # a new link after revoking works again
    assert public(site, fresh).status_code == 200


def test_an_expired_or_forged_link_is_a_404(site, author):
    post_id, _slug = create(author, button="save", body=BODY)
    path = share_path(author, post_id)
    token = path.split("/")[2]
    signer = URLSafeSerializer(site.env["SECRET_KEY"], salt="inkwell.share-link")
    data = signer.loads(token)
    expired = signer.dumps({**data, "e": int(time.time()) - 1})
    forged = URLSafeSerializer("another key", salt="inkwell.share-link").dumps(data)
    for bad in (expired, forged, token[:-2] + "xx", "nonsense"):
        answer = public(site, f"/preview/{bad}/")
        assert answer.status_code == 404, bad
        assert "A secret paragraph." not in answer.text


def test_sharing_needs_the_form_token_and_a_published_post_is_not_shared(site, author):
    post_id, _slug = create(author, button="publish", body=BODY)
    edit = f"/admin/posts/{post_id}"
    token = csrf_token(author.get(edit).text)
    no_token = author.post(edit + "/share", data={"days": "7"})
    assert no_token.status_code == 400
    bad_days = author.post(edit + "/share", data={"csrf_token": token, "days": "365"})
    assert bad_days.status_code == 400
    assert "pick how long it should work (1, 7 or 30 days)" in bad_days.text
    published = author.post(edit + "/share", data={"csrf_token": token, "days": "7"})
    assert published.status_code == 409
    assert "this is published, so share its address instead" in published.text


def test_a_draft_page_has_its_preview_and_share_link_too(site, author):
    page_id, slug = create(author, button="save", section="pages", body="About a draft page.")
    preview = author.get(f"/admin/pages/{page_id}/preview")
    assert preview.status_code == 200 and "About a draft page." in preview.text
    edit = f"/admin/pages/{page_id}"
    made = author.submit(edit + "/share", {"days": "1"}, form_page=edit)
    link = re.search(r'readonly value="http://blog.example([^"]+)"', made.text)[1]
    assert "About a draft page." in public(site, link).text
    assert public(site, f"/{slug}/").status_code == 404

"""Link previews: a post with an image shares it (og:image, absolute, from SITE_URL, with a large
card); a post without one shares its drawn card (issue 16)."""

from __future__ import annotations

import re

from .test_content_folder import png, run_import, write


def meta(html: str, key: str) -> list[str]:
    return re.findall(rf'<meta (?:property|name)="{re.escape(key)}" content="([^"]*)">', html)


def test_a_post_with_a_figure_shares_its_first_image_as_an_absolute_url(app, client, tmp_path):
    content = tmp_path / "content"
    write(content, "posts/photos/index.md",
          "---\ntitle: Photos\n---\n\n```\n<img src=\"/not-this.png\">\n```\n\n"
          "![The harbour at dawn](harbour.png)\n\n![Later](later.png)\n")
    write(content, "posts/photos/harbour.png", png(colour=(10, 20, 30)))
    write(content, "posts/photos/later.png", png(colour=(200, 20, 30)))
    write(content, "posts/words.md", "---\ntitle: Words\n---\n\nJust text, and `<img src=x>`.\n")
    assert not run_import(app, content).errors

    html = client.get("/posts/photos/").get_data(as_text=True)
    first_src = re.search(r'<img [^>]*src="([^"]+)"', html.split('class="e-content"')[1])[1]
    assert first_src.startswith("/media/")  # stored by the upload pipeline
    assert meta(html, "og:image") == ["http://blog.example" + first_src]
    assert meta(html, "twitter:image") == ["http://blog.example" + first_src]
    assert meta(html, "twitter:card") == ["summary_large_image"]

    # A post without an image shares its drawn card instead (test_share_card_images.py).
    plain = client.get("/posts/words/").get_data(as_text=True)
    assert meta(plain, "og:image")[0].startswith("http://blog.example/media/cards/")
    assert meta(plain, "twitter:card") == ["summary_large_image"]

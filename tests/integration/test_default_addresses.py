"""A post imported from Jekyll or Pelican keeps the address its old blog gave it by default, the
file naming none (issue 17): Jekyll's permalink style (`date` unless --jekyll-permalink or the
site's _config.yml says another), Pelican's {slug}.html; a Jekyll permalink with placeholders
is filled in; Hugo's and Pelican's `url` redirect. Over HTTP; a default the site answers itself
is left out without a warning."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from inkwell.extensions import db
from inkwell.models import PathRedirect

from ..services import BACKENDS
from .test_old_addresses import hugo, imported, jekyll, moved_to


def pelican(header: str) -> str:
    return f"{header}\nThe text.\n"


def paths(app) -> list[str]:
    with app.app_context():
        return sorted(db.session.scalars(select(PathRedirect.path)))


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_a_jekyll_post_keeps_its_date_style_address_with_its_categories(app, client, write_posts):
    folder = write_posts(
        {
            "_posts/2019-07-14-bastille.md": jekyll("Bastille", ""),
            "_posts/2019-07-15-lyon.md": jekyll("Lyon", "categories: [Travel, france]\n"),
            # Folders above _posts are categories too (first), then `categories`, `category`.
            "life/_posts/2019-07-16-paris.md": jekyll(
                "Paris", "categories: notes\ncategory: Life\n"
            ),
            "_posts/2019-07-17-Hello World.md": jekyll("Hello", "slug: greetings\n"),
            "_posts/2019-08-01-later.md": jekyll("Later", "date: 2019-09-02 10:00:00\n"),
        }
    )
    output = imported(app, folder)
    assert "0 warnings" in output, output
    assert moved_to(client, "/2019/07/14/bastille.html") == "/posts/bastille/"
    assert moved_to(client, "/travel/france/2019/07/15/lyon.html") == "/posts/lyon/"
    assert moved_to(client, "/life/notes/2019/07/16/paris.html") == "/posts/paris/"
    assert moved_to(client, "/2019/07/17/greetings.html") == "/posts/greetings/"
    assert moved_to(client, "/2019/09/02/later.html") == "/posts/later/"  # the front matter's
    assert moved_to(client, "/2019/07/15/lyon.html") is None
    # Unchanged on a second import: the rows stay as they are.
    assert "5 unchanged" in imported(app, folder)
    assert len(paths(app)) == 5


def test_jekyll_permalink_option_styles_and_templates(app, client, write_posts):
    folder = write_posts(
        {"_posts/2019-07-04-bastille.md": jekyll("Bastille", "categories: [travel]\n")}
    )
    imported(app, folder, "--jekyll-permalink", "pretty")
    assert moved_to(client, "/travel/2019/07/04/bastille/") == "/posts/bastille/"
    assert moved_to(client, "/travel/2019/07/04/bastille.html") is None
    imported(app, folder, "--jekyll-permalink", "/blog/:short_year/:i_month/:i_day/:title")
    assert paths(app) == ["/blog/19/7/4/bastille"]  # re-import: the rows match the option
    imported(app, folder, "--jekyll-permalink", "ordinal")
    assert moved_to(client, "/travel/2019/185/bastille.html") == "/posts/bastille/"
    result = app.test_cli_runner().invoke(
        args=["import", "--jekyll-permalink", "/:year/:nonsense/", str(folder)]
    )
    assert result.exit_code == 2
    assert ":nonsense is not a placeholder it knows" in result.output


def test_the_sites_config_yml_permalink_is_used_for_import_of_posts(app, client, write_posts):
    folder = write_posts(
        {
            "_config.yml": "title: Old blog\npermalink: /blog/:year/:title/\n",
            "_posts/2019-07-14-bastille.md": jekyll("Bastille", ""),
        }
    )
    output = imported(app, folder / "_posts")
    assert "0 warnings" in output, output
    assert moved_to(client, "/blog/2019/bastille/") == "/posts/bastille/"
    # The option wins over the site's setting.
    imported(app, folder / "_posts", "--jekyll-permalink", "date")
    assert paths(app) == ["/2019/07/14/bastille.html"]
    # A style name in _config.yml; a _config.yml that is not YAML: said once, `date` is used.
    (folder / "_config.yml").write_text("permalink: pretty\n")
    imported(app, folder)
    assert paths(app) == ["/2019/07/14/bastille"]
    (folder / "_config.yml").write_text("permalink: [unclosed\n")
    (folder / "_posts/2019-07-15-lyon.md").write_text(jekyll("Lyon", ""))
    output = imported(app, folder)
    assert output.count("_config.yml cannot be read") == 1, output
    assert paths(app) == ["/2019/07/14/bastille.html", "/2019/07/15/lyon.html"]


def test_a_jekyll_permalink_with_placeholders_is_filled_in(app, client, write_posts):
    folder = write_posts(
        {
            "_posts/2019-07-15-later.md": jekyll("Later", "permalink: /:year/:title/\n"),
            "_posts/2019-07-16-odd.md": jekyll("Odd", "permalink: /:year/:unknown/\n"),
            "_posts/2019-07-17-admin.md": jekyll("Admin", "permalink: /:title/\n"),
        }
    )
    output = imported(app, folder / "_posts")
    assert moved_to(client, "/2019/later/") == "/posts/later/"
    assert "2019-07-16-odd.md: the permalink /:year/:unknown/ has the placeholder :unknown" in (
        output
    )
    # Named by the file: an address the site answers itself is said, as any alias is.
    assert "2019-07-17-admin.md: the old address /admin is an address of this site" in output
    assert paths(app) == ["/2019/later"]


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_a_pelican_post_keeps_slug_html_and_its_url_metadata(app, client, write_posts):
    folder = write_posts(
        {
            "hello.md": pelican("Title: Hello, World's End!\nDate: 2019-01-02 10:00"),
            "named.md": pelican("Title: Named\nSlug: my-slug\nDate: 2019-01-03"),
            "moved.md": pelican(
                "Title: Moved\nDate: 2019-01-04\nURL: 2019/moved/\nSave_as: 2019/moved/index.html"
            ),
            "saved.md": pelican("Title: Saved\nDate: 2019-01-05\nSave_as: old/saved.htm"),
            "pages/about.md": pelican("Title: About me\nDate: 2019-01-01"),
        }
    )
    output = imported(app, folder)
    assert "0 warnings" in output, output
    # Pelican's slug is made from the title: punctuation dropped, not made a hyphen.
    assert moved_to(client, "/hello-worlds-end.html") == "/posts/hello/"
    assert moved_to(client, "/my-slug.html") == "/posts/my-slug/"
    assert moved_to(client, "/2019/moved/") == "/posts/moved/"
    assert moved_to(client, "/moved.html") is None  # its file says where it was
    assert moved_to(client, "/old/saved.htm") == "/posts/saved/"
    assert moved_to(client, "/pages/about-me.html") == "/about/"


def test_hugos_url_redirects(app, client, write_posts):
    folder = write_posts({"spring.md": hugo("Spring", [], extra='url = "/2019/spring-time/"\n')})
    imported(app, folder)
    assert moved_to(client, "/2019/spring-time/") == "/posts/spring/"


def test_a_default_the_site_or_another_file_has_is_left_out_without_a_word(
    app, client, write_posts
):
    folder = write_posts(
        {
            "_posts/2019-07-14-admin.md": jekyll("Admin", ""),
            "_posts/2019-07-15-search.md": jekyll("Search", ""),
            "_posts/2019-07-16-about.md": jekyll("About me", ""),
            "_posts/2019-07-17-taken.md": jekyll("Taken", ""),
            "pages/about.md": "---\ntitle: About\npage: true\ndate: 2020-01-01\n---\nMe.\n",
            # A later file's own alias goes first: the default is for addresses no file names.
            "z.md": hugo("Z", ["/taken/"]),
        }
    )
    output = imported(app, folder, "--jekyll-permalink", "/:title/")
    assert "0 warnings" in output, output
    assert client.get("/admin/", follow_redirects=False).status_code != 301
    assert client.get("/about/").status_code == 200
    assert moved_to(client, "/taken/") == "/posts/z/"
    assert paths(app) == ["/taken"]
    # A default another post keeps (its file not in this import) stays with it, silently.
    (folder / "c.md").write_text(jekyll("C", "permalink: /2019/07/14/later.html\n"))
    imported(app, folder / "c.md")
    (folder / "_posts/2019-07-14-later.md").write_text(jekyll("Later", ""))
    output = imported(app, folder / "_posts")
    assert "0 warnings" in output, output
    assert moved_to(client, "/2019/07/14/later.html") == "/posts/c/"


def test_strict_fails_every_jekyll_post_of_a_site_whose_config_cannot_be_read(app, write_posts):
    folder = write_posts(
        {
            "_config.yml": "permalink: /:year/:weird/\n",
            "_posts/2019-07-14-bastille.md": jekyll("Bastille", ""),
            "_posts/2019-07-15-lyon.md": jekyll("Lyon", ""),
        }
    )
    result = app.test_cli_runner().invoke(args=["import", "--strict", str(folder / "_posts")])
    assert result.exit_code == 1
    assert result.output.count("refused (--strict): the permalink '/:year/:weird/' of") == 2
    assert paths(app) == []


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_a_pelican_sites_settings_give_its_posts_old_addresses(app, client, write_posts):
    folder = write_posts(
        {
            # Read, never run: the import below would fail if it were.
            "pelicanconf.py": (
                "import sys\nAUTHOR = 'Ann Smith'\nPATH = 'content'\n"
                "ARTICLE_URL = '{date:%Y}/{date:%m}/{slug}/'\n"
                "ARTICLE_SAVE_AS = '{date:%Y}/{date:%m}/{slug}/index.html'\n"
                "PAGE_URL = '{slug}/'\nPAGE_SAVE_AS = '{slug}/index.html'\n"
                "raise SystemExit('pelicanconf.py was run')\n"
            ),
            "content/hello.md": pelican("Title: Hello\nDate: 2019-01-02 10:00"),
            "content/pages/about.md": pelican("Title: About me\nDate: 2019-01-01"),
        }
    )
    output = imported(app, folder / "content")
    assert "0 warnings" in output, output
    assert moved_to(client, "/2019/01/hello/") == "/posts/hello/"
    assert moved_to(client, "/2019/01/hello/index.html") == "/posts/hello/"
    assert moved_to(client, "/hello.html") is None  # not where this site put it
    assert moved_to(client, "/about-me/") == "/about/"


def test_pelican_categories_authors_and_settings_it_cannot_read(app, client, write_posts):
    folder = write_posts(
        {
            "pelicanconf.py": (
                "ARTICLE_URL = '{category}/{author}/{slug}.html'\n"
                "ARTICLE_SAVE_AS = ARTICLE_URL\n"  # not a string here: said, default kept
                "PAGE_URL = '{date.year}/{slug}/'\n"  # attribute access: not filled in
            ),
            "python/first.md": pelican("Title: First\nDate: 2019-01-02\nAuthor: Ann"),
            "second.md": pelican("Title: Second\nDate: 2019-01-03\nCategory: Deep Dives"),
        }
    )
    output = imported(app, folder)
    assert "ARTICLE_SAVE_AS in" in output and "PAGE_URL in" in output, output
    # The folder below the content folder is the category; else DEFAULT_CATEGORY (misc).
    assert moved_to(client, "/python/ann/first.html") == "/posts/first/"
    # A post without an author leaves out the address that needs one; SAVE_AS's default stays.
    assert moved_to(client, "/second.html") == "/posts/second/"
    assert moved_to(client, "/first.html") == "/posts/first/"
    assert output.count("pelicanconf.py") == 2  # said once, on the first post

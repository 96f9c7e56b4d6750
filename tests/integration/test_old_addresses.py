"""Old addresses of imported posts keep working (issue 17): Hugo aliases and Jekyll permalinks of
any path answer 301 to the post, over HTTP; the site's own addresses are never taken; the files
say which addresses there are, on every import; Jekyll's space-separated tags are tags."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect, select

from inkwell.extensions import db
from inkwell.migrations import downgrade, upgrade
from inkwell.models import PathRedirect, Post

from ..conftest import make_app, pg_url
from ..services import BACKENDS


def hugo(title: str, aliases: list[str], extra: str = "") -> str:
    listed = ", ".join(f'"{a}"' for a in aliases)
    return (
        f'+++\ntitle = "{title}"\ndate = 2021-04-05T08:00:00Z\naliases = [{listed}]\n'
        f"{extra}+++\nText of {title}.\n"
    )


def jekyll(title: str, front: str) -> str:
    return f"---\nlayout: post\ntitle: {title}\n{front}---\nText of {title}.\n"


def imported(app, folder, *args: str) -> str:
    result = app.test_cli_runner().invoke(args=["import", *args, str(folder)])
    assert result.exit_code == 0, result.output
    return result.output


def moved_to(client, path: str) -> str | None:
    """Where `path` redirects with a 301 (None: a 404; anything else fails)."""
    response = client.get(path)
    if response.status_code == 404:
        return None
    assert response.status_code == 301, (path, response.status_code)
    return response.headers["Location"]


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_a_hugo_alias_of_any_path_answers_301_in_each_of_its_forms(app, client, write_posts):
    folder = write_posts(
        {
            "spring.md": hugo(
                "Spring",
                [
                    "/2019/01/old-name/",
                    "/blog/old.html",
                    "https://old.example/notes/caf%C3%A9/?p=1#top",
                ],
            ),
            "pages/about.md": hugo("About", ["/about-me.html"], extra="page = true\n"),
        }
    )
    imported(app, folder)
    for old in (
        "/2019/01/old-name/",
        "/2019/01/old-name",
        "/2019/01/old-name/index.html",
        "/2019//01/old-name/",
        "/blog/old.html",
        "/notes/café/",
        "/notes/caf%C3%A9",
    ):
        assert moved_to(client, old) == "/posts/spring/", old
    assert client.head("/blog/old.html").status_code == 301
    assert moved_to(client, "/about-me.html") == "/about/"
    assert client.get("/posts/spring/").status_code == 200
    # Case matters, as on the old server; other paths stay 404, and a POST is no page view.
    assert moved_to(client, "/2019/01/OLD-NAME/") is None
    assert moved_to(client, "/2019/01/other/") is None
    assert client.post("/blog/old.html").status_code in (404, 405)


def test_an_alias_the_site_answers_itself_is_refused_with_a_warning(app, client, write_posts):
    folder = write_posts(
        {
            "first.md": hugo(
                "First",
                [
                    "/admin/old/",
                    "/static/site.css",
                    "/tags/",
                    "/",
                    "/posts/second/",
                    "/about/",
                    "/archive/2019/index.html",
                    "/posts/first/",
                    "/kept/",
                ],
            ),
            "pages/about.md": "---\ntitle: About\npage: true\ndate: 2020-01-01\n---\nMe.\n",
            "second.md": "---\ntitle: Second\ndate: 2020-01-01\n---\nText.\n",
        }
    )
    output = imported(app, folder)
    for refused in (
        "/admin/old",
        "/static/site.css",
        "/tags",
        "/",
        "/posts/second",
        "/about",
        "/archive/2019",
    ):
        assert f"first.md: the old address {refused} is an address of this site itself" in output, (
            refused
        )
    assert "/posts/first is" not in output  # the post's own address: nothing to say
    assert moved_to(client, "/kept/") == "/posts/first/"
    assert client.get("/posts/second/").status_code == 200  # never shadowed
    assert client.get("/about/").status_code == 200
    with app.app_context():
        assert db.session.scalars(select(PathRedirect.path)).all() == ["/kept"]


def test_strict_fails_a_file_whose_alias_is_refused(app, write_posts):
    folder = write_posts({"post.md": hugo("Post", ["/admin/"])})
    result = app.test_cli_runner().invoke(args=["import", "--strict", str(folder)])
    assert result.exit_code == 1
    assert "refused (--strict): the old address /admin is an address of this site" in result.output
    with app.app_context():
        assert db.session.scalar(select(Post)) is None


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_reimporting_makes_the_redirects_match_the_files(app, client, write_posts):
    folder = write_posts(
        {
            "a.md": hugo("A", ["/old/a.html", "/old/shared/"]),
            "b.md": hugo("B", ["/old/b.html", "/old/shared/"]),
        }
    )
    output = imported(app, folder)
    assert "b.md: the old address /old/shared is also one of a.md, which keeps it" in output
    assert moved_to(client, "/old/shared/") == "/posts/a/"
    # a.md lets the shared address go and drops one; b.md, unchanged, now gets it.
    (folder / "a.md").write_text(hugo("A", ["/old/a-new.html"]))
    output = imported(app, folder)
    assert "unchanged" in output and "also one of" not in output
    assert moved_to(client, "/old/a.html") is None
    assert moved_to(client, "/old/a-new.html") == "/posts/a/"
    assert moved_to(client, "/old/shared/") == "/posts/b/"
    assert moved_to(client, "/old/b.html") == "/posts/b/"
    # A post imported on its own does not take an address another post keeps.
    (folder / "c.md").write_text(hugo("C", ["/old/b.html"]))
    output = imported(app, folder / "c.md")
    assert "c.md: the old address /old/b.html already redirects to /posts/b/" in output
    assert moved_to(client, "/old/b.html") == "/posts/b/"


@pytest.mark.parametrize("database_url", BACKENDS, indirect=True)
def test_a_draft_scheduled_or_deleted_posts_old_address_is_a_404(app, client, write_posts):
    folder = write_posts(
        {
            "draft.md": hugo("Draft", ["/old/draft/"], extra="draft = true\n"),
            "later.md": hugo("Later", ["/old/later/"]).replace("2021-04-05", "2099-01-01"),
            "gone.md": hugo("Gone", ["/old/gone/"]),
        }
    )
    imported(app, folder)
    assert moved_to(client, "/old/draft/") is None
    assert moved_to(client, "/old/later/") is None
    assert moved_to(client, "/old/gone/") == "/posts/gone/"
    with app.app_context():
        db.session.delete(db.session.scalar(select(Post).where(Post.slug == "gone")))
        db.session.commit()
        assert db.session.scalars(select(PathRedirect.path)).all() == ["/old/draft", "/old/later"]
    assert moved_to(client, "/old/gone/") is None


def test_a_content_folder_keeps_its_aliases_and_drops_removed_ones(settings, tmp_path, write_posts):
    folder = write_posts({"posts/spring.md": hugo("Spring", ["/2019/spring/", "/2019/s.html"])})
    with make_app(tmp_path, **settings, CONTENT_DIR=str(folder)) as app:
        runner, client = app.test_cli_runner(), app.test_client()
        assert runner.invoke(args=["setup"]).exit_code == 0
        assert moved_to(client, "/2019/spring/") == "/posts/spring/"
        (folder / "posts/spring.md").write_text(hugo("Spring", ["/2019/s.html"]))
        result = runner.invoke(args=["setup"])
        assert result.exit_code == 0, result.output
        assert moved_to(client, "/2019/spring/") is None
        assert moved_to(client, "/2019/s.html") == "/posts/spring/"
        # A new slug, and the old URL as an alias: the post moves, its old URL follows it.
        (folder / "posts/spring.md").write_text(
            hugo("Spring", ["/2019/s.html", "/posts/spring/"], extra='slug = "spring-2019"\n')
        )
        result = runner.invoke(args=["setup"])
        assert result.exit_code == 0 and "address of this site" not in result.output
        assert moved_to(client, "/posts/spring/") == "/posts/spring-2019/"
        assert moved_to(client, "/2019/s.html") == "/posts/spring-2019/"
        # The file is gone (its post unpublished): another file may take its address.
        (folder / "posts/spring.md").unlink()
        (folder / "posts/summer.md").write_text(hugo("Summer", ["/2019/s.html"]))
        result = runner.invoke(args=["setup"])
        assert result.exit_code == 0 and "already redirects" not in result.output
        assert moved_to(client, "/2019/s.html") == "/posts/summer/"


def test_a_jekyll_permalink_redirects_and_one_with_placeholders_is_filled_in(
    app, client, write_posts
):
    folder = write_posts(
        {
            "_posts/2019-07-14-bastille.md": jekyll("Bastille", "permalink: /blog/bastille.html\n"),
            "_posts/2019-07-15-later.md": jekyll("Later", "permalink: /:year/:title/\n"),
            "_posts/2019-07-16-pretty.md": jekyll("Pretty", "permalink: pretty\n"),
        }
    )
    output = imported(app, folder / "_posts")
    assert "0 warnings" in output, output
    assert moved_to(client, "/blog/bastille.html") == "/posts/bastille/"
    assert moved_to(client, "/2019/later/") == "/posts/later/"
    assert moved_to(client, "/2019/07/16/pretty/") == "/posts/pretty/"
    with app.app_context():
        assert sorted(db.session.scalars(select(PathRedirect.path))) == [
            "/2019/07/16/pretty",
            "/2019/later",
            "/blog/bastille.html",
        ]


def test_jekylls_space_separated_tags_and_categories_are_lists(app, client, write_posts):
    folder = write_posts(
        {
            "_posts/2019-07-14-bastille.md": jekyll(
                "Bastille", "tags: history france\ncategories: life notes\n"
            ),
            "_posts/commas.md": jekyll("Commas", "tags: machine learning, python\n"),
            "ours.md": "---\ntitle: Ours\ndate: 2020-01-01\ntags: machine learning\n---\nText.\n",
            "2020-01-02-dated.md": "---\ntitle: Dated\ntags: machine learning\n---\nText.\n",
        }
    )
    imported(app, folder)
    with app.app_context():
        posts = {p.slug: p for p in db.session.scalars(select(Post))}
        assert [t.name for t in posts["bastille"].tags] == ["history", "france"]
        assert posts["bastille"].extra["categories"] == ["life", "notes"]
        assert [t.name for t in posts["commas"].tags] == ["machine learning", "python"]
        assert [t.name for t in posts["ours"].tags] == ["machine learning"]  # not Jekyll's
        assert [t.name for t in posts["dated"].tags] == ["machine learning"]  # Inkwell's too
    assert client.get("/tags/france/").status_code == 200


def test_a_page_view_does_not_look_for_old_addresses(app, client, write_posts):
    """The lookup runs only for a request that is a 404 anyway."""
    from sqlalchemy import event

    imported(app, write_posts({"spring.md": hugo("Spring", ["/old/spring/"])}))
    statements: list[str] = []

    def note(_conn, _cursor, statement, *_args) -> None:
        statements.append(statement)

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        assert client.get("/posts/spring/").status_code == 200
        assert client.get("/").status_code == 200
        assert not any("path_redirects" in s for s in statements)
        assert moved_to(client, "/old/spring/") == "/posts/spring/"
        assert sum("path_redirects" in s for s in statements) == 1
    finally:
        event.remove(engine, "before_cursor_execute", note)


@pytest.mark.parametrize("backend", BACKENDS)
def test_migration_0007_goes_up_and_down(backend, empty_engine):
    engine = empty_engine
    upgrade(engine)
    assert "path_redirects" in inspect(engine).get_table_names()
    downgrade(engine, "0006")
    assert "path_redirects" not in inspect(engine).get_table_names()
    upgrade(engine)
    unique = inspect(engine).get_unique_constraints("path_redirects")
    assert [c["column_names"] for c in unique] == [["path"]]


def test_a_404_on_a_database_without_the_table_is_still_a_404(tmp_path, empty_pg_database):
    """A schema older than 0007 (an app server started before `inkwell db upgrade`): PostgreSQL
    says the table is missing, which is no outage. (SQLite calls it an OperationalError, which
    the app answers with a 503, as for any table it misses.)"""
    url = pg_url(empty_pg_database)
    engine = create_engine(url)
    try:
        upgrade(engine, "0006")
    finally:
        engine.dispose()
    settings = {"SQLALCHEMY_DATABASE_URI": url, "MEDIA_ROOT": str(tmp_path / "media")}
    with make_app(tmp_path, **settings, SITE_URL="http://blog.example") as app:
        client = app.test_client()
        assert client.get("/2019/01/old-name/").status_code == 404
        assert client.get("/").status_code == 200  # the session is usable after it


def test_a_404_while_the_database_is_down_is_a_503_to_try_again(tmp_path):
    """The path may be an old address: "try again", never a 404 (or a 500) that sticks."""
    settings = {
        "SQLALCHEMY_DATABASE_URI": "postgresql+psycopg://postgres@127.0.0.1:9/none",
        "MEDIA_ROOT": str(tmp_path / "media"),
        "SITE_URL": "http://blog.example",
    }
    with make_app(tmp_path, **settings) as app:
        response = app.test_client().get("/2019/01/old-name/")
    assert response.status_code == 503 and response.headers["Retry-After"] == "10"

"""`make audit`'s Lighthouse table, read from a real report (Lighthouse 12.8.2, the one-chart post
on a phone, stripped to its categories and failing audits), and the audit's own content."""

from __future__ import annotations

import json
from pathlib import Path

from inkwell.content.files import import_content
from inkwell.deploy.audit_site import write_content
from inkwell.deploy.lighthouse import Score, category_scores, format_table, shortfalls

REPORT = Path(__file__).parent / "fixtures" / "lighthouse-chart-mobile.json"


def report() -> dict:
    return json.loads(REPORT.read_text())


def test_scores_are_the_categories_out_of_100():
    assert category_scores(report()) == {
        "performance": 73,
        "accessibility": 100,
        "best-practices": 100,
        "seo": 100,
    }


def test_a_category_lighthouse_could_not_score_is_none_and_says_why():
    broken = report()
    broken["categories"]["performance"]["score"] = None
    broken["runtimeError"] = {"code": "NO_NAVSTART", "message": "Please run Lighthouse again."}
    assert category_scores(broken)["performance"] is None
    assert shortfalls(broken)[0] == "Lighthouse: Please run Lighthouse again."


def test_shortfalls_name_the_failing_audits_of_categories_below_goal():
    # Speed Index (0.95) passes; the categories at 100 list nothing.
    assert shortfalls(report()) == ["performance: Total Blocking Time (1,600\u00a0ms)"]


def test_table_marks_scores_below_goal_and_categories_not_scored():
    mobile = Score("run", "chart", "mobile", category_scores(report()), [])
    desktop = Score(
        "run",
        "chart",
        "desktop",
        {"performance": 95, "accessibility": 100, "best-practices": 100, "seo": 100},
        [],
    )
    admin = Score("stack", "admin", "mobile", {"accessibility": 92, "best-practices": 100}, [])
    lines = format_table([mobile, desktop, admin]).splitlines()
    header = " ".join(lines[0].split())
    assert header == (
        "target page mobi perf mobi a11y mobi bp mobi seo desk perf desk a11y desk bp desk seo"
    )
    assert lines[1].split() == [
        "run",
        "chart",
        "73!",
        "100",
        "100",
        "100",
        "95",
        "100",
        "100",
        "100",
    ]
    assert lines[2].split() == ["stack", "admin", "-", "92!", "100", "-", "-", "-", "-", "-"]
    assert not mobile.passed and desktop.passed and not admin.passed


def test_the_audit_content_has_posts_with_one_and_three_charts(app, tmp_path):
    source = tmp_path / "site"
    (source / "content" / "posts").mkdir(parents=True)
    (source / "content" / "posts" / "hello.md").write_text("---\ntitle: Hello\n---\n\nHi.\n")
    folder = tmp_path / "audit-content"
    write_content(source, folder)
    with app.app_context():
        result = import_content(folder, app.config["IMPORT_MAX_FILE_SIZE"])
        assert not result.errors
        client = app.test_client()
        one = client.get("/posts/lighthouse-one-chart/").get_data(as_text=True)
        three = client.get("/posts/lighthouse-three-charts/").get_data(as_text=True)
        assert client.get("/posts/hello/").status_code == 200
    assert one.count('class="plotly-chart') == 1
    assert three.count('class="plotly-chart') == 3
    # The chart comes before the paragraph: above the fold.
    assert one.index('class="plotly-chart') < one.index("99th percentile")

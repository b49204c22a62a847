"""What the pages load and in which state they are drawn, for page speed (issue 9, Lighthouse):
nothing may move once a page shows, and a page loads only the scripts it uses at load."""

from __future__ import annotations

import json
import re
from pathlib import Path

STATIC = Path(__file__).resolve().parents[2] / "static"


def test_the_filter_panel_comes_folded_and_browsers_without_scripts_unfold_it(client_for, people):
    """On phones the directory's filters hide behind "Filters". app.js used to fold them
    after the page had shown, which moved the results up (cumulative layout shift); the
    server now draws them folded, and only a browser without scripts opens them (nojs.css)."""
    client = client_for("mentee")
    folded = 'id="directory-form" class="mh-dir-filters is-collapsed"'
    page = client.get("/mentor-hub/mentors").get_data(as_text=True)
    assert folded in page
    toggle = 'aria-expanded="false" aria-controls="directory-form" data-filters-toggle'
    assert toggle in page
    # A chip or a page link redraws the whole region (htmx): folded too.
    region = client.get("/mentor-hub/mentors?q=maya", headers={"HX-Request": "true"})
    assert folded in region.get_data(as_text=True)
    link = re.search(
        r'<noscript><link rel="stylesheet" href="(/static/css/nojs\.css\?v=[0-9a-f]+)"></noscript>',
        page,
    )
    assert link, "the page links nojs.css for browsers without scripts"
    css = client.get(link.group(1))
    assert css.status_code == 200
    text = css.get_data(as_text=True)
    assert ".mh-dir-filters.is-collapsed { display: flex; }" in text
    assert ".mh-filters-toggle { display: none; }" in text


def test_pages_preload_the_faces_their_first_screen_is_set_in(client_for, people):
    """Regular and semibold Plex (every page), light (the landing page's hero title) are
    asked for with the CSS: found only once the CSS was parsed, they arrived after the
    first paint and re-wrapped lines (layout shift)."""
    manifest = json.loads((STATIC / "vendor" / "manifest.json").read_text())
    carbon = (STATIC / manifest["carbon.css"]).read_text()

    def preloads(client, path):
        html = client.get(path).get_data(as_text=True)
        return re.findall(
            r'<link rel="preload" href="([^"]+)" as="font" type="font/woff2" crossorigin>', html
        )

    def urls(*faces):
        return ["/static/" + manifest[f"fonts/IBMPlexSans-{face}-Latin1.woff2"] for face in faces]

    mentee = client_for("mentee")
    assert preloads(mentee, "/mentor-hub/mentors") == urls("Regular", "SemiBold")
    landing = preloads(client_for("anonymous"), "/mentor-hub")
    assert landing == urls("Regular", "SemiBold", "Light")
    for url in landing:
        assert mentee.get(url).status_code == 200
        # The very file the stylesheet names, or the browser would download the face twice.
        assert url.removeprefix("/static/vendor/") in carbon


def test_chart_js_is_not_loaded_with_the_admin_overview(client_for, people):
    """Chart.js (70 KB compressed) is fetched by charts.js when a chart nears the viewport,
    not by a <script> tag: parsing it and drawing four charts held a phone's main thread
    while the page loaded (Lighthouse total-blocking-time)."""
    client = client_for("admin")
    html = client.get("/admin/mentorship").get_data(as_text=True)
    assert not re.search(r'<script src="[^"]*chart\.[0-9a-f]+\.umd\.min\.js"', html)
    assert re.search(r'<script src="/static/js/charts\.js\?v=[0-9a-f]+" defer>', html)
    src = re.search(r'data-chart-src="([^"]+)" id="overview-chart-data"', html)
    assert src and re.fullmatch(r"/static/vendor/chart\.[0-9a-f]+\.umd\.min\.js", src.group(1))
    assert client.get(src.group(1)).status_code == 200

"""The knowledge loop in a real headless Chromium: the dashboard's "Runbooks to write" and
"Top issues per week" panels over a decision log seeded with tests/fixtures/gaps_log.jsonl,
and the escalation note the OPS console shows staff.

Screenshots go to tests/artifacts/ (gitignored) for a person to look at.
"""

from __future__ import annotations

import httpx
import pytest

from tests.test_api import API_KEY, LiveServer, api_settings, sample_index_dir
from tests.test_api_gaps import seed
from tests.test_browser import (  # noqa: F401  (browser is a fixture: same Chromium and options)
    CHROMIUM,
    browser,
    console_errors,
    find,
    find_all,
    shot,
    text_in,
    unlabelled_controls,
    visible,
    wait,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium at /usr/bin/chromium"),
]

KEY_STORE = "pam-assistant-api-key"  # where common.js keeps the key for the tab


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from api.app import create_app

    index = sample_index_dir(tmp_path_factory)
    settings = api_settings(index, tmp_path_factory.mktemp("browser-gaps-log"), api_keys=API_KEY)
    with LiveServer(create_app(settings, chat_rate_limit="1000/minute")) as live:
        seed(live.app.state.runtime.log)
        yield live


@pytest.fixture(scope="module")
def report(server):
    """What the API says, to hold the page to it."""
    r = httpx.get(server.url + "/v1/gaps", headers={"Authorization": f"Bearer {API_KEY}"}, timeout=300)
    assert r.status_code == 200, r.text
    return r.json()


def open_with_key(driver, url: str, path: str) -> None:
    """Open ``path`` with the API key already in this tab's sessionStorage (no prompt)."""
    driver.get(url + "/chat")  # same origin, needs no key, and asks for no favicon
    driver.execute_script("sessionStorage.setItem(arguments[0], arguments[1])", KEY_STORE, API_KEY)
    driver.get(url + path)


def gaps_loaded(driver) -> bool:
    return (find(driver, "#gaps-panel").get_attribute("aria-busy") == "false"
            and not find(driver, "#gaps-status").text.strip())


def test_dashboard_lists_the_runbooks_to_write_with_flagged_clusters(server, browser, report):
    from selenium.webdriver.common.keys import Keys

    assert [c["flagged"] for c in report["clusters"]] == [True, True, False]  # the fixture's 6, 4 and 2
    open_with_key(browser, server.url, "/dashboard")
    wait(browser, visible("#gaps .gap.flagged"))
    wait(browser, gaps_loaded)
    assert not find(browser, "#key-dialog").is_displayed()
    assert not find(browser, "#gaps-empty").is_displayed() and not find(browser, "#gaps-error").is_displayed()
    assert "2 runbooks to write" in find(browser, "#gaps-summary").text

    items = find_all(browser, "#gaps .gap")
    assert len(items) == len(report["clusters"])
    for item, cluster in zip(items, report["clusters"]):
        text = item.text
        assert item.get_attribute("data-flagged") == str(cluster["flagged"]).lower()
        assert ("flagged" in item.get_attribute("class").split()) == cluster["flagged"]
        assert ("runbook to write" in text) == cluster["flagged"]
        assert find(item, ".gap-size").text == f"{cluster['size']} requests"
        assert cluster["category"] in text and cluster["nearest_runbook"] in text
        shown = [li.text for li in find_all(item, ".examples li")]
        assert shown == cluster["examples"][:2]
    # Flagged is told apart by more than text: a red edge.
    edge = browser.execute_script("return getComputedStyle(arguments[0]).borderLeftColor", items[0])
    plain = browser.execute_script("return getComputedStyle(arguments[0]).borderLeftColor", items[-1])
    assert edge != plain

    weeks = [h.text for h in find_all(browser, "#issues .week h3")]
    assert [w.split()[0] for w in weeks] == ["2026-W11", "2026-W10"]  # newest first
    assert not find(browser, "#issues-empty").is_displayed()
    w10 = find_all(browser, "#issues .week")[1]
    assert "llm_behavior" in w10.text and "runbook to write" in w10.text

    # The keyboard follows a week's top group to its cluster.
    link = find(w10, ".tops a[href='#gap-0']")
    link.send_keys(Keys.ENTER)
    wait(browser, lambda d: d.switch_to.active_element.get_attribute("id") == "gap-0")

    assert unlabelled_controls(browser) == []
    shot(browser, "dashboard-gaps.png")
    assert console_errors(browser) == []


def test_dashboard_gaps_fit_a_phone_screen(server, browser):
    browser.set_window_size(390, 844)
    try:
        open_with_key(browser, server.url, "/dashboard")
        wait(browser, visible("#gaps .gap.flagged"))
        wait(browser, visible("#issues .week"))
        overflow = browser.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, f"/dashboard scrolls sideways by {overflow}px on a phone"
        shot(browser, "dashboard-gaps-phone.png")
    finally:
        browser.set_window_size(1280, 1000)


def test_dashboard_says_so_when_there_are_no_gaps(server, browser):
    open_with_key(browser, server.url, "/dashboard")
    wait(browser, visible("#gaps .gap"))
    browser.execute_script("document.getElementById('since').value = '2099-01-01'")
    find(browser, "#apply").click()
    wait(browser, visible("#gaps-empty"))
    wait(browser, visible("#issues-empty"))
    assert find_all(browser, "#gaps .gap") == [] and find_all(browser, "#issues .week") == []
    assert not find(browser, "#gaps-summary").is_displayed()
    assert console_errors(browser) == []


def test_console_shows_staff_the_escalation_note_and_due_time(server, browser):
    open_with_key(browser, server.url, "/")
    wait(browser, visible("#body"))
    find(browser, "#body").send_keys("I think someone hacked our dashboard login and changed our call forwarding number")
    find(browser, "#submit").click()
    wait(browser, visible("#result"))
    wait(browser, text_in("#r-route", "escalate"))
    assert find(browser, "#r-due").text not in ("", "—")
    box = find(browser, "#handoff-box")
    assert box.get_attribute("open") is not None  # an escalation opens its note
    labels = [dt.text for dt in find_all(browser, "#handoff dt")]
    assert {"Summary", "Evidence", "Checked", "Needed", "Missing (ask the customer)"} <= set(labels)
    assert find(browser, "#handoff").text.strip()
    shot(browser, "console-handoff.png")
    assert console_errors(browser) == []

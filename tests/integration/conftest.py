"""Fixtures shared by the admin tests; each module provides its own `site`."""

import pytest


@pytest.fixture(scope="module")
def author(site):
    browser = site.browser()
    assert browser.login().status_code == 302
    return browser

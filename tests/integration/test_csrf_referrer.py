"""Over HTTPS, Flask-WTF also checks that a form's Referer is this site; a Referer it cannot
parse (a port out of range, a broken IPv6 address) is a refused form, not a 500."""

from __future__ import annotations

import pytest

from .admin_support import csrf_token

HTTPS = "https://localhost"


@pytest.mark.parametrize(
    "referer", ["https://localhost:99999/", "https://localhost:443.evil/", "https://[::1/"]
)
def test_an_unparsable_referer_is_a_400(client, referer):
    token = csrf_token(client.get("/admin/login", base_url=HTTPS).text)
    response = client.post(
        "/admin/login", base_url=HTTPS, headers={"Referer": referer},
        data={"csrf_token": token, "email": "a@example.com", "password": "x" * 12},
    )
    assert response.status_code == 400
    assert "referrer is not a valid address" in response.text


def test_a_matching_referer_still_passes(client):
    token = csrf_token(client.get("/admin/login", base_url=HTTPS).text)
    response = client.post(
        "/admin/login", base_url=HTTPS, headers={"Referer": HTTPS + "/admin/login"},
        data={"csrf_token": token, "email": "a@example.com", "password": "x" * 12},
    )
    assert response.status_code == 401  # past CSRF: a wrong password

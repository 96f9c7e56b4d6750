"""doctor's reading of `ufw status verbose`: which TCP ports readers may reach."""

from __future__ import annotations

from inkwell.deploy.diagnose import ufw_allowed_ports

STATUS = """Status: active
Logging: on (low)
Default: deny (incoming), allow (outgoing), disabled (routed)
New profiles: skip

To                         Action      From
--                         ------      ----
22/tcp (OpenSSH)           ALLOW IN    Anywhere
{rules}
22/tcp (OpenSSH (v6))      ALLOW IN    Anywhere (v6)
"""

PROFILES = {"Nginx Full": ["80,443/tcp"], "OpenSSH": ["22/tcp"]}


def allowed(rules: str) -> set[int]:
    return ufw_allowed_ports(STATUS.format(rules=rules), lambda name: PROFILES.get(name, []))


def test_ports_ranges_and_lists_open_them():
    assert {80, 443} <= allowed("80/tcp                     ALLOW IN    Anywhere\n"
                                "443                        ALLOW IN    Anywhere")
    assert {80, 443} <= allowed("80,443/tcp                 ALLOW IN    Anywhere")
    assert {8000, 8050, 8100} <= allowed("8000:8100/tcp              ALLOW IN    Anywhere")


def test_an_application_profile_opens_its_ports():
    assert {80, 443} <= allowed("Nginx Full                 ALLOW IN    Anywhere")


def test_udp_denied_and_one_address_only_open_nothing_for_readers():
    assert allowed("80/udp                     ALLOW IN    Anywhere\n"
                   "443/tcp                    DENY IN     Anywhere\n"
                   "80/tcp                     ALLOW IN    203.0.113.7") == set()

"""Production refuses to start on unsafe settings, naming the variable and the fix."""

import pytest

from inkwell.config import ConfigError, load_settings, normalise_database_url


@pytest.fixture(autouse=True)
def clean_env(monkeypatch):
    for name in ("SECRET_KEY", "INKWELL_ENV", "FLASK_DEBUG", "DEBUG", "DATABASE_URL"):
        monkeypatch.delenv(name, raising=False)


def test_production_is_the_default_and_needs_a_secret_key(tmp_path):
    with pytest.raises(ConfigError, match='SECRET_KEY is not set: run "inkwell secret"'):
        load_settings(str(tmp_path))


@pytest.mark.parametrize("key", ["changeme", "short-key", "a" * 40])
def test_production_refuses_weak_keys(tmp_path, monkeypatch, key):
    monkeypatch.setenv("SECRET_KEY", key)
    with pytest.raises(ConfigError, match="SECRET_KEY is too weak"):
        load_settings(str(tmp_path))


def test_production_refuses_debug(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "k3Y-" + "x9Zq2LmP0vB7nR4tW8yE1uI6oA5sD3fG")
    monkeypatch.setenv("FLASK_DEBUG", "1")
    with pytest.raises(ConfigError, match="DEBUG is on in production"):
        load_settings(str(tmp_path))


def test_production_with_a_strong_key_starts_with_secure_cookies(tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_KEY", "k3Y-" + "x9Zq2LmP0vB7nR4tW8yE1uI6oA5sD3fG")
    settings = load_settings(str(tmp_path))
    assert settings["SESSION_COOKIE_SECURE"] is True
    assert settings["SESSION_COOKIE_NAME"] == "__Host-session"
    assert settings["SQLALCHEMY_DATABASE_URI"] == f"sqlite:///{tmp_path}/inkwell.sqlite3"


def test_unknown_environment_is_named(tmp_path, monkeypatch):
    monkeypatch.setenv("INKWELL_ENV", "prod")
    with pytest.raises(ConfigError, match="INKWELL_ENV must be one of"):
        load_settings(str(tmp_path))


def test_bad_numbers_are_named(tmp_path, monkeypatch):
    monkeypatch.setenv("INKWELL_ENV", "testing")
    monkeypatch.setenv("POSTS_PER_PAGE", "ten")
    with pytest.raises(ConfigError, match="POSTS_PER_PAGE must be a whole number"):
        load_settings(str(tmp_path))


def test_paas_database_urls_use_psycopg3():
    assert normalise_database_url("postgres://u:p@h/db") == "postgresql+psycopg://u:p@h/db"
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"

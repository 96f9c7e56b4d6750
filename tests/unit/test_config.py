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
    monkeypatch.setenv("SITE_URL", "https://blog.example.com/")
    settings = load_settings(str(tmp_path))
    assert settings["SITE_URL"] == "https://blog.example.com"
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


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("SITE_URL", "", "SITE_URL is not set"),
        ("SITE_URL", "blog.example.com", "SITE_URL must be an address such as https://"),
        ("SITE_URL", "ftp://blog.example.com", "SITE_URL must be an address"),
        ("TRUSTED_PROXIES", "-1", "TRUSTED_PROXIES must be 0 or more, got -1"),
        ("CACHE_MAX_AGE", "-5", "CACHE_MAX_AGE must be 0 or more"),
        ("POSTS_PER_PAGE", "0", "POSTS_PER_PAGE must be 1 or more"),
        ("MAX_UPLOAD_SIZE", "0", "MAX_UPLOAD_SIZE must be larger than 0"),
        ("MAX_UPLOAD_SIZE", "-5M", "MAX_UPLOAD_SIZE must be larger than 0"),
        ("MAX_UPLOAD_SIZE", "infM", "MAX_UPLOAD_SIZE must be a size such as 10M"),
        ("IMPORT_MAX_FILE_SIZE", "1e400M", "IMPORT_MAX_FILE_SIZE must be a size such as 10M"),
        ("WEB_CONCURRENCY", "abc", "WEB_CONCURRENCY must be a whole number, got 'abc'"),
        ("WEB_CONCURRENCY", "0", "WEB_CONCURRENCY must be 1 or more"),
    ],
)
def test_production_refuses_settings_that_would_break_the_site(
    tmp_path, monkeypatch, name, value, message
):
    monkeypatch.setenv("SECRET_KEY", "k3Y-" + "x9Zq2LmP0vB7nR4tW8yE1uI6oA5sD3fG")
    monkeypatch.setenv("SITE_URL", "https://blog.example.com")
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        load_settings(str(tmp_path))


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("DATABASE_URL", "garbage", "DATABASE_URL is not a database address"),
        ("DATABASE_URL", "postgres://u:p@host:notaport/db", "DATABASE_URL is not a database"),
        ("REDIS_URL", "notaurl", "REDIS_URL is not a Redis address"),
    ],
)
def test_an_address_that_cannot_be_parsed_is_a_message(tmp_path, monkeypatch, name, value,
                                                        message):
    from inkwell import create_app

    monkeypatch.setenv("INKWELL_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError, match=message):
        create_app({"INKWELL_ENV": "testing"})


def test_an_instance_folder_that_cannot_be_made_names_the_setting(tmp_path, monkeypatch):
    from inkwell import create_app

    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("INKWELL_INSTANCE_PATH", str(blocker / "instance"))
    monkeypatch.setenv("INKWELL_ENV", "development")
    monkeypatch.setenv("SECRET_KEY", "a-development-key-long-enough-for-the-check-0123456789")
    with pytest.raises(ConfigError, match="INKWELL_INSTANCE_PATH"):
        create_app()

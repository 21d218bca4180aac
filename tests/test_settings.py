"""Settings: environment parsing, URL handling and the production refusal."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from fastmango.checks import ImproperlyConfigured, check_startup, deploy_checks, security_errors
from fastmango.conf import DEFAULT_SECRET_KEY
from main import create_app
from settings import Settings

GOOD_KEY = "k7Jq2mX9vR4tY8wZ1pL6nB3cF5gH0dS-aQeWrTyUiOpAsDfGhJkLzXcVbNm_1234567"


def production(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "environment": "production",
        "secret_key": GOOD_KEY,
        "debug": False,
        "allowed_hosts": ["shop.example.com"],
        "database_url": "postgresql://app:s3cret@db.internal:5432/app",
    } | overrides
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


def test_reads_environment_and_comma_lists(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOWED_HOSTS", "a.example.com, b.example.com")
    monkeypatch.setenv("CORS_ORIGINS", "https://a.example.com")
    monkeypatch.setenv("DEBUG", "true")
    monkeypatch.setenv("MAX_UPLOAD_SIZE", "2048")
    settings = Settings(_env_file=None)
    assert settings.allowed_hosts == ["a.example.com", "b.example.com"]
    assert settings.cors_origins == ["https://a.example.com"]
    assert settings.debug is True
    assert settings.max_upload_size == 2048


def test_reads_a_dotenv_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("SITE_NAME=From dotenv\nREGISTRATION_ENABLED=false\n")
    settings = Settings(_env_file=env_file)
    assert settings.site_name == "From dotenv"
    assert settings.registration_enabled is False


def test_example_env_documents_every_setting() -> None:
    example = (Path(__file__).parent.parent / "example.env").read_text()
    documented = {
        line.split("=", 1)[0].lstrip("# ").strip()
        for line in example.splitlines()
        if "=" in line and line.lstrip("# ").split("=", 1)[0].strip().isupper()
    }
    expected = {name.upper() for name in Settings.model_fields}
    assert expected - documented == set()


def test_database_urls_get_async_drivers_and_hidden_passwords() -> None:
    settings = production()
    assert settings.database_url.startswith("postgresql+asyncpg://app:s3cret@")
    assert "s3cret" not in settings.safe_database_url
    assert Settings(_env_file=None, database_url="sqlite:///x.db").database_url == (
        "sqlite+aiosqlite:///x.db"
    )
    with pytest.raises(ValidationError, match="sqlite or postgresql"):
        Settings(_env_file=None, database_url="mysql://u:p@h/db")
    for garbage in ("postgresql://user:pw-SECRET@host:port/db", "://user:pw-SECRET@"):
        with pytest.raises(ValidationError) as refused:
            Settings(_env_file=None, database_url=garbage)
        assert "DATABASE_URL is not a valid database URL" in str(refused.value)
        assert "pw-SECRET" not in str(refused.value)


def test_good_production_settings_start() -> None:
    settings = production()
    assert security_errors(settings) == []
    check_startup(settings)


@pytest.mark.parametrize(
    ("overrides", "problem"),
    [
        ({"secret_key": DEFAULT_SECRET_KEY}, "security.E009"),
        ({"secret_key": "short-but-random-9f8e7d"}, "security.E009"),
        ({"secret_key": "ab" * 40}, "security.E009"),
        ({"debug": True}, "security.E018"),
        ({"allowed_hosts": []}, "security.E020"),
    ],
)
def test_production_refuses_each_problem(overrides: dict[str, object], problem: str) -> None:
    settings = production(**overrides)
    with pytest.raises(ImproperlyConfigured) as refused:
        create_app(settings)
    assert [p.id for p in refused.value.problems] == [problem]
    assert problem in str(refused.value)


def test_all_problems_are_listed_at_once() -> None:
    settings = production(secret_key=DEFAULT_SECRET_KEY, debug=True, allowed_hosts=[])
    with pytest.raises(ImproperlyConfigured) as refused:
        check_startup(settings)
    assert [p.id for p in refused.value.problems] == [
        "security.E009",
        "security.E018",
        "security.E020",
    ]
    # The message names the problems, never the key itself.
    assert DEFAULT_SECRET_KEY not in str(refused.value)


def test_development_tolerates_the_default_key_but_deploy_checks_report_it() -> None:
    settings = Settings(_env_file=None)
    check_startup(settings)
    ids = {message.id for message in deploy_checks(settings)}
    assert {"security.E009", "security.W012", "security.W008", "security.W004"} <= ids

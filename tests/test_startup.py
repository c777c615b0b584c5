"""Start-up fails loudly: a bad configuration ends the whole server with its message, a stray
`.env` never switches an operator command into development, and /healthz says 503 with why."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from app import create_app
from config import ConfigError, load_settings
from tests.conftest import basic_auth, card_charge, settings
from tests.server import PROJECT, free_port, procfile

PRODUCTION_SECRETS = {
    "SECRET_KEY": "prod-Hq7vN2xR9tLm4pW8zB3cY6jK1sD5fG0a",
    "TWILIO_AUTH_TOKEN": "prod-token",
    "CONNECTOR_USERNAME": "twilio",
    "CONNECTOR_PASSWORD": "prod-Qx7mV2rK9tW4zB3c",
}


def clean_env(**extra: str) -> dict[str, str]:
    return {"PATH": "/usr/bin:/bin", "PYTHONUNBUFFERED": "1", **extra}


def start_web(
    env: dict[str, str], timeout: float = 20
) -> tuple[subprocess.CompletedProcess, float]:
    started = time.monotonic()
    result = subprocess.run(
        procfile()["web"], cwd=PROJECT, env=env, capture_output=True, text=True, timeout=timeout
    )
    return result, time.monotonic() - started


def test_a_server_started_without_its_secrets_exits_non_zero_at_once_with_the_message(tmp_path):
    port = free_port()
    result, elapsed = start_web(
        clean_env(
            DATABASE_URL=f"sqlite:///{tmp_path}/payline.sqlite3",
            GUNICORN_CMD_ARGS=f"--bind 127.0.0.1:{port} --workers 2",
        )
    )

    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "missing required settings" in output and "SECRET_KEY" in output
    assert "Booting worker" not in output  # checked before any fork: no crash loop
    assert "Traceback" not in output
    print(f"\nmissing secret: gunicorn exited {result.returncode} after {elapsed:.1f}s")


def test_a_server_with_a_malformed_database_url_exits_non_zero_with_the_message(tmp_path):
    result, _ = start_web(
        clean_env(
            **PRODUCTION_SECRETS,
            DATABASE_URL="mysql://db.example.com/payline",
            GUNICORN_CMD_ARGS=f"--bind 127.0.0.1:{free_port()} --workers 2",
        )
    )

    assert result.returncode != 0
    assert "DATABASE_URL must be" in result.stdout + result.stderr


def flask_from(directory, *args: str, **env: str) -> subprocess.CompletedProcess:
    """`flask --app <project>/app.py …` run from `directory`, where a `.env` may lie."""
    return subprocess.run(
        [sys.executable, "-m", "flask", "--app", str(PROJECT / "app.py"), *args],
        cwd=directory,
        env=clean_env(**env),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_dotenv_saying_development_does_not_put_a_flask_command_into_development(tmp_path):
    (tmp_path / ".env").write_text("PAYLINE_ENV=development\n")

    result = flask_from(tmp_path, "init-db", DATABASE_URL=f"sqlite:///{tmp_path}/p.sqlite3")

    assert result.returncode != 0
    assert "missing required settings" in result.stderr  # production rules: no dev secrets


def test_a_dotenv_saying_development_does_not_let_init_db_seed_demo_invoices(tmp_path):
    (tmp_path / ".env").write_text("PAYLINE_ENV=development\nFLASK_DEBUG=1\n")

    result = flask_from(
        tmp_path,
        "init-db",
        "--demo",
        DATABASE_URL=f"sqlite:///{tmp_path}/p.sqlite3",
        **PRODUCTION_SECRETS,
    )

    assert result.returncode != 0
    assert "development only" in result.stderr
    assert not (tmp_path / "p.sqlite3").exists()


def test_the_dotenv_is_read_when_the_environment_itself_says_development(tmp_path):
    (tmp_path / ".env").write_text(f"DATABASE_URL=sqlite:///{tmp_path}/from-dotenv.sqlite3\n")

    result = flask_from(tmp_path, "init-db", PAYLINE_ENV="development")

    assert result.returncode == 0, result.stderr
    assert (tmp_path / "from-dotenv.sqlite3").exists()


def test_init_db_demo_refuses_a_database_that_already_took_payments(app, runner, client):
    client.post("/connector", json=card_charge("tx-real-1"), headers=basic_auth())

    result = runner.invoke(args=["init-db", "--demo"])

    assert result.exit_code != 0
    assert "already holds payments" in result.output
    assert app.extensions["payline"].open_store().list_invoices() == []


def test_healthz_is_503_when_the_database_does_not_answer(tmp_path):
    unreachable = f"postgresql://payline@127.0.0.1:{free_port()}/payline"
    app = create_app(settings(tmp_path, DATABASE_URL=unreachable, DATABASE_POOL_TIMEOUT=1.0))

    response = app.test_client().get("/healthz")

    assert response.status_code == 503
    assert response.get_json()["reason"] == "the database does not answer"


@pytest.mark.parametrize(
    "url, normalised",
    [
        (
            "postgres://u:p@db.example.com:5432/payline",
            "postgresql://u:p@db.example.com:5432/payline",
        ),
        ("postgresql://u:p@db.example.com/payline", "postgresql://u:p@db.example.com/payline"),
        ("sqlite:///instance/x.sqlite3", "sqlite:///instance/x.sqlite3"),
    ],
)
def test_database_urls_are_accepted_in_both_spellings(url, normalised):
    assert load_settings({**PRODUCTION_SECRETS, "DATABASE_URL": url})["DATABASE_URL"] == normalised


@pytest.mark.parametrize(
    "url",
    ["mysql://x/y", "postgresql://u:p@db.example.com", "postgresql:///", "payline.sqlite3"],
)
def test_a_database_url_that_names_no_database_is_a_configuration_error(url):
    with pytest.raises(ConfigError, match="DATABASE_URL"):
        load_settings({**PRODUCTION_SECRETS, "DATABASE_URL": url})


def test_the_pool_is_sized_from_the_threads_of_a_worker():
    assert load_settings({**PRODUCTION_SECRETS, "GUNICORN_THREADS": "8"})["DATABASE_POOL_MAX"] == 10
    assert load_settings({**PRODUCTION_SECRETS})["DATABASE_POOL_MAX"] == 18
    assert load_settings({**PRODUCTION_SECRETS, "DATABASE_POOL_MAX": "5"})["DATABASE_POOL_MAX"] == 5

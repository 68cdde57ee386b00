"""Secret settings are SecretStr: masked in dumps, reprs and errors; readable where needed."""

from __future__ import annotations

import pytest

from configs.settings import load_settings, secret_value


def test_secrets_masked_everywhere_but_their_use(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROUPPUSH__SERVING__API_KEY", "k-123456")
    monkeypatch.setenv("GROUPPUSH__FEATURES__REDIS_CONNECTION_STRING", "h:6379,password=pw-9876")
    settings = load_settings("tiny")
    shown = [
        settings.model_dump_json(),
        str(settings.model_dump(mode="json")),
        repr(settings),
        str(settings.model_dump()),
    ]
    for text in shown:
        assert "k-123456" not in text and "pw-9876" not in text
    assert secret_value(settings.serving.api_key) == "k-123456"
    assert secret_value(settings.features.redis_connection_string) == "h:6379,password=pw-9876"
    assert secret_value(None) is None and secret_value("plain") == "plain"


def test_default_redis_connection_string_is_usable() -> None:
    from features.store.redis_snapshot import parse_connection_string

    cfg = load_settings("tiny").features
    assert parse_connection_string(secret_value(cfg.redis_connection_string) or "")["port"] == 6379

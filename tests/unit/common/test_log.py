from __future__ import annotations

import json
import logging

import pytest
import structlog

from services.common.log import configure_logging


def test_json_lines_carry_context_and_never_secrets(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(json=True)
    structlog.contextvars.bind_contextvars(request_id="req-42")
    try:
        structlog.get_logger("t").info(
            "login", user="alice.3bot", password="hunter2", wg_private_key="abc", box_secret="s", signature="sig"
        )
        logging.getLogger("third.party").warning("plain stdlib line")
    finally:
        structlog.contextvars.clear_contextvars()
    lines = [json.loads(line) for line in capsys.readouterr().err.strip().splitlines()]
    first, second = lines
    assert first["event"] == "login" and first["user"] == "alice.3bot"
    assert first["request_id"] == "req-42"
    for key in ("password", "wg_private_key", "box_secret", "signature"):
        assert first[key] == "[redacted]"
    assert "hunter2" not in json.dumps(lines)
    assert second["event"] == "plain stdlib line" and second["level"] == "warning"

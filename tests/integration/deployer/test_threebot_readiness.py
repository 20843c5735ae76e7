"""One try of the "initialising" wait (``readiness.answers``) against the loopback TLS double, no stack: a 3Bot
answering ``/admin`` (a redirect to its login) is up; one not there yet (503) is not; one that never answers is not,
within the interval; a certificate outside THREEBOT_READY_CA is refused (the CA is checked, not skipped)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from services.common.settings import Settings, load_settings
from services.deployer import readiness
from tests.conftest import base_env, free_port
from tests.integration.threebot_double import HANG, UP, ThreebotDouble, make_certificate, ready_url


@pytest.fixture
def double(tmp_path: Path) -> Iterator[ThreebotDouble]:
    served = ThreebotDouble(free_port(), tmp_path / "double")
    yield served
    served.stop()


def settings_for(tmp_path: Path, double: ThreebotDouble, ca: Path) -> Settings:
    return load_settings(base_env(tmp_path, THREEBOT_READY_URL=ready_url(double.port), THREEBOT_READY_CA=str(ca),
                                  THREEBOT_READY_INTERVAL="1.5", HTTP_READ_TIMEOUT="30"))  # fmt: skip


def test_up_not_yet_and_silent(tmp_path: Path, double: ThreebotDouble) -> None:
    settings = settings_for(tmp_path, double, tmp_path / "double" / "cert.pem")
    double.behaviour = {"up.example": UP, "mute.example": HANG}
    assert readiness.answers(settings, readiness.url_of(settings, "up.example"))
    assert not readiness.answers(settings, readiness.url_of(settings, "later.example"))
    started = time.monotonic()
    assert not readiness.answers(settings, readiness.url_of(settings, "mute.example"))
    assert 1.0 < time.monotonic() - started < 5  # the interval bounds the try, not HTTP_READ_TIMEOUT (30 s)
    assert double.asked == {"up.example": 1, "later.example": 1, "mute.example": 1}


def test_a_certificate_outside_the_configured_ca_is_refused(tmp_path: Path, double: ThreebotDouble) -> None:
    other, _ = make_certificate(tmp_path / "other")
    settings = settings_for(tmp_path, double, other)
    double.default = UP
    assert not readiness.answers(settings, readiness.url_of(settings, "up.example"))
    assert "up.example" not in double.asked  # refused at the handshake

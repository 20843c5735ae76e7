"""The 3Bot wizard (SOLUTIONS §3.12): the questions in the spec's order, the backup password only as a secret and
checked against an existing identity (LOGIN_PROTOCOL §9.4), the whole ssh key file, the managed domains of the
user's gateways, hostile values refused naming the field."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

from services.chatflow.flows import FLOWS
from services.chatflow.questions import Confirm, Invalid
from services.common import contracts, hosted_3bot
from tests.unit.chatflow.test_flows import NET, SSH_KEY, Refused, Walk, active_pool, file, validated
from tests.unit.chatflow.test_gateway_flows import GatewayQueries

PASSWORD = "correct horse battery"
KEYS = f"{SSH_KEY}\nssh-rsa AAAAB3NzaC1yc2E bob@desk\n"
ANSWERS: dict[str, dict[str, Any]] = {
    "name": {"name": "mybot"},
    "resources": {"cpu": 2, "memory": 4096, "disk": 3072},
    "pool_id": {"pool_id": "7"},
    "network": {"network": "net"},
    "backup_password": {"backup_password": PASSWORD},
    "sdk_branch": {"sdk_branch": "release/v11"},
    "ssh_key": {"ssh_key": file(f"\n{KEYS}\n\n")},
    "parent_domain": {"parent_domain": "gw1.grid.example"},
    "ipv6": {"ipv6": "yes"},
}


@dataclass
class PhonebookQueries(GatewayQueries):
    phonebook: dict[str, str] = field(default_factory=dict)  # name → pubkey hex
    phonebook_asks: list[str] = field(default_factory=list)

    def phonebook_key(self, name: str) -> contracts.PhonebookKey:
        self.phonebook_asks.append(name)
        key = self.phonebook.get(name)
        return contracts.PhonebookKey(found=key is not None, pubkey=key or "")


def walk(phonebook: dict[str, str] | None = None) -> Walk:
    queries = PhonebookQueries(pools_list=[active_pool(7), active_pool(8)], networks_list=[NET],
                               phonebook=phonebook or {})  # fmt: skip
    return Walk(FLOWS["threebot"], queries)


def test_asks_in_the_order_of_the_spec_and_submits_the_password_only_as_a_secret() -> None:
    w = walk().until("confirm", ANSWERS)
    assert w.visited == ["name", "resources", "pool_id", "network", "backup_password", "sdk_branch", "ssh_key",
                         "parent_domain", "ipv6"]  # fmt: skip
    (confirm,) = w.step.questions(w.ctx)
    assert isinstance(confirm, Confirm)
    rows = dict(confirm.rows)
    assert list(rows) == ["Name", "Version", "CPU", "Memory (MiB)", "Root filesystem type",
                          "Root filesystem size (MiB)", "Domain"]  # fmt: skip
    assert (rows["Version"], rows["Root filesystem type"], rows["Domain"]) == (
        "release/v11", "SSD", "alice-mybot.gw1.grid.example")  # fmt: skip
    assert PASSWORD not in str(confirm.as_json()) and PASSWORD not in str(w.ctx.answers)
    w.answer()
    submission = w.submit()
    spec = validated(submission)
    assert submission.type == "threebot" and submission.secrets == {"backup_password": PASSWORD}
    assert spec.ssh_key == KEYS.strip()  # the whole file, trimmed
    assert (spec.sdk_branch, spec.public_ipv6, spec.parent_domain) == ("release/v11", True, "gw1.grid.example")
    assert (spec.resources.cpu, spec.resources.memory, spec.resources.disk) == (2, 4096, 3072)
    assert spec.gateway_pool_ids == [7, 8] and spec.where.pool_id == 7


def test_defaults_are_2048_mib_memory_and_root_and_the_development_branch() -> None:
    w = walk().until("resources", ANSWERS)
    defaults = {q.name: q.default for q in w.step.questions(w.ctx)}
    assert (defaults["memory"], defaults["disk"]) == (2048, 2048)
    w = walk().until("sdk_branch", ANSWERS)
    (branch,) = w.step.questions(w.ctx)
    assert branch.default == "development"


def test_a_new_identity_accepts_any_password_an_existing_one_only_its_own() -> None:
    fresh = walk().until("backup_password", ANSWERS)
    fresh.answer(backup_password="anything-at-all")
    assert fresh.queries.phonebook_asks == ["alice_mybot"]  # type: ignore[attr-defined]

    existing = {"alice_mybot": hosted_3bot.verify_key_hex(PASSWORD)}
    w = walk(existing).until("backup_password", ANSWERS)
    with pytest.raises(Refused) as refused:
        w.answer(backup_password="correct horse batterY")
    assert refused.value.errors == {"backup_password": "incorrect password for this 3Bot"}
    w.answer(backup_password=PASSWORD)
    assert w.step.name == "sdk_branch"


def test_the_seed_is_the_password_left_padded_with_ascii_zeros() -> None:
    # LOGIN_PROTOCOL §9.4, computed independently of the module.
    import nacl.signing

    seed = b"0" * (32 - len(PASSWORD)) + PASSWORD.encode()
    assert hosted_3bot.verify_key_hex(PASSWORD) == bytes(nacl.signing.SigningKey(seed).verify_key).hex()
    assert hosted_3bot.matches(PASSWORD, hosted_3bot.verify_key_hex(PASSWORD).upper())
    assert not hosted_3bot.matches("p" * 33, hosted_3bot.verify_key_hex(PASSWORD))


@pytest.mark.parametrize(
    ("step", "name", "value"),
    [
        ("backup_password", "backup_password", "p" * 33),
        ("backup_password", "backup_password", "é" * 17),
        ("backup_password", "backup_password", "tab\there"),
        ("backup_password", "backup_password", ""),
        ("sdk_branch", "sdk_branch", "dev; reboot"),
        ("sdk_branch", "sdk_branch", "$(id)"),
        ("sdk_branch", "sdk_branch", "-x"),
        ("ssh_key", "ssh_key", file("not-a-key")),
        ("name", "name", "My Bot"),
        ("parent_domain", "parent_domain", "gw9.example"),
    ],
)
def test_hostile_values_are_refused_naming_the_field(step: str, name: str, value: Any) -> None:
    w = walk().until(step, ANSWERS)
    with pytest.raises((Invalid, Refused)) as info:
        w.answer(**{**ANSWERS[step], name: value})
    if isinstance(info.value, Refused):
        assert list(info.value.errors) == [name]
    assert PASSWORD not in str(info.value)

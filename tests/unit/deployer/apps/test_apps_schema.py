"""An app definition file with a mistake stops the deployer with ONE line naming the file, the key and the reason."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from services.deployer.apps import loader
from services.deployer.apps.loader import DefinitionError
from services.deployer.solutions import PLANNERS, app_registry, images

GOOD: dict[str, Any] = {
    "type": "notes",
    "title": "Notes",
    "description": "A note taking app.",
    "icon": "notes.svg",
    "image": "FLIST_REDIS",
    "entrypoint": "/start.sh {{ domain }} {{ answers.greeting }}",
    "resources": {"cpu": 1, "memory": 1024, "disk": 512},
    "volume": {"sizes": [1, 2], "default": 1, "mount": "/data"},
    "questions": [{"name": "greeting", "kind": "string", "label": "Greeting"},
                  {"name": "token", "kind": "secret", "label": "Token"}],
    "env": {"GREETING": "{{ answers.greeting }}", "SIZE": "{{ volume_size }}"},
    "secret_env": {"TOKEN": {"answer": "token"}, "KEY": {"generate": "password"}},
    "exposure": {"pattern": "C", "port": 8080, "enforce_https": True},
    "overview": ["name", "domain"],
    "end": "Open {{ url }}",
}  # fmt: skip


def write(tmp_path: Path, data: object, name: str = "notes.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def error(tmp_path: Path, data: object) -> str:
    with pytest.raises(DefinitionError) as exc:
        loader.load_file(write(tmp_path, data), images.KEYS)
    message = str(exc.value)
    assert "\n" not in message and message.startswith("app definition notes.yaml: ")
    return message.removeprefix("app definition notes.yaml: ")


def changed(**changes: object) -> dict[str, Any]:
    return {**GOOD, **changes}


def test_the_good_file_loads(tmp_path: Path) -> None:
    d = loader.load_file(write(tmp_path, GOOD), images.KEYS)
    assert d.type == "notes" and d.steps() == ["subdomain", "volume", "container", "reverse_proxy", "tls_proxy"]


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (changed(colour="red"), "colour: unknown key"),
        (changed(exposure={"pattern": "C", "prot": 80}), "exposure.prot: unknown key"),
        (changed(exposure={"pattern": "C"}), "exposure: missing port: the C pattern forwards to the app's HTTP port"),
        (changed(exposure={"pattern": "P", "port": 80}), "exposure: the P pattern has no port"),
        (changed(image="FLIST_NOPE"), "image: unknown image key 'FLIST_NOPE' (known: "),
        (changed(env={"A": "{{ answers.greeting"}), "env.A: bad template: "),
        (changed(env={"A": "{{ answers.colour }}"}), "env.A: bad template: 'dict object' has no attribute 'colour'"),
        (changed(env={"A": "{{ password }}"}), "env.A: bad template: 'password' is undefined"),
        (changed(entrypoint="{{ ''.__class__.__mro__ }}"), "entrypoint: bad template: access to attribute '__class__'"),
        (changed(end="{{ 1 / 0 }}"), "end: bad template: ZeroDivisionError"),
        (changed(title=None), "title: Input should be a valid string"),
        ({k: v for k, v in GOOD.items() if k != "resources"}, "resources: required key missing"),
        (changed(resources={"cpu": 1, "memory": 512, "disk": 512}), "resources.memory: Input should be greater than"),
        (changed(secret_env={"T": {"answer": "greeting"}}), "secret_env.T: 'greeting' is not a secret question"),
        (changed(secret_env={"T": {"generate": "rot13"}}), "secret_env.T.generate: Input should be 'password'"),
        (changed(secret_env={"T": {}}), "secret_env.T: give exactly one of 'generate' or 'answer'"),
        (changed(env={"KEY": "x"}), "KEY is both in env and in secret_env"),
        (changed(order=["container", "volume", "subdomain", "reverse_proxy", "tls_proxy"]),
         "order: the volume comes before the container that mounts it"),
        (changed(order=["subdomain", "container"]), "order must list exactly: subdomain, volume, container"),
        (changed(volume={"sizes": [1, 2], "default": 3, "mount": "/data"}), "volume: the default 3 is not one of"),
        (changed(questions=[{"name": "c", "kind": "choice", "label": "C"}]), "questions.0: a choice question needs"),
        (changed(questions=[{"name": "s", "kind": "secret", "label": "S", "default": "x"}]),
         "questions.0: a secret question is required and has no default"),
        (changed(icon="notes.png"), "icon: String should match pattern"),
        (changed(exposure={"pattern": "P"}, env={"DOMAIN": "x"}), "DOMAIN is set by the P pattern itself"),
        ("type: [unclosed", "not valid YAML (line 1): "),
        ("- a list", "must be a mapping of keys (type, title, …)"),
    ],
)  # fmt: skip
def test_each_kind_of_mistake_is_one_precise_line(tmp_path: Path, data: object, expected: str) -> None:
    assert error(tmp_path, data).startswith(expected)


def test_a_type_that_exists_already_is_refused_with_its_file(tmp_path: Path) -> None:
    write(tmp_path, changed(type="gitea"), "mine.yaml")
    with pytest.raises(DefinitionError, match=r"^app definition gitea: type: 'gitea' is already a solution type$"):
        app_registry.register(dict(PLANNERS), loader.load_dir(tmp_path, images.KEYS))


def test_installing_the_same_directory_twice_is_no_change(tmp_path: Path) -> None:
    write(tmp_path, GOOD)
    planners = dict(PLANNERS)
    assert app_registry.register(planners, loader.load_dir(tmp_path, images.KEYS)) == ["notes"]
    assert app_registry.register(planners, loader.load_dir(tmp_path, images.KEYS)) == []
    assert planners["notes"].type == "notes" and "notes" not in PLANNERS


def test_a_missing_directory_is_one_line(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match=r"^app definitions: .*/nowhere is not a directory$"):
        loader.load_dir(tmp_path / "nowhere", images.KEYS)

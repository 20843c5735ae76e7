"""Turn a planned workload into the complete, signed create body of ``POST /reservations/workloads`` (GRID_API §4.6).

Rendering is the only place where secrets meet the wire: every :class:`Sealed` marker in the plan's fields (also
inside ``secret_environment``) is replaced by the plaintext sealed to the target node (§8). Sealing is randomised,
so two renders of the same plan give different bodies and signatures — render once per create, and never log the
``secrets`` mapping.

Network resources are rendered the same way: the network code wraps the fields of
:func:`services.deployer.grid.network_plan.network_resource_fields` in a :class:`WorkloadPlan` of kind
``NETWORK_RESOURCE`` (its WireGuard key already sealed, or a :class:`Sealed` name).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from services.common.identity import Identity, IdentityError, seal_to_node
from services.deployer.grid.challenge import sign_challenge, workload_challenge
from services.deployer.grid.kinds import Kind, NextAction
from services.deployer.grid.workload_plan import Placed, Sealed, SealedTemplate, WorkloadPlan

MAX_METADATA_CHARS = 1024

# The common ("info") fields of §5.7 that a client sends; type fields must not shadow them.
_INFO_FIELDS = frozenset(
    {
        "workload_id",
        "node_id",
        "pool_id",
        "reference",
        "description",
        "customer_tid",
        "customer_signature",
        "next_action",
        "epoch",
        "metadata",
        "workload_type",
        "signing_request_provision",
        "signing_request_delete",
        "signatures_provision",
        "signatures_delete",
    }
)


def _seal_all(value: Any, node_id: str, secrets: Mapping[str, str]) -> Any:
    """A copy of ``value`` with every :class:`Sealed`/:class:`SealedTemplate` (at any depth) sealed to the node."""
    if isinstance(value, Sealed | SealedTemplate):
        names = (value.secret,) if isinstance(value, Sealed) else value.secrets
        missing = [name for name in names if name not in secrets]
        if missing:
            raise ValueError(f"secret {missing[0]!r} is not among the solution's secrets")
        if isinstance(value, Sealed):
            plaintext = secrets[value.secret]
        else:
            plaintext = value.template.format(**{name: secrets[name] for name in names})
        try:
            return seal_to_node(node_id, plaintext)
        except IdentityError as exc:
            raise ValueError(f"cannot seal to node {node_id!r}: {exc}") from None
    if isinstance(value, Mapping):
        return {key: _seal_all(item, node_id, secrets) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_seal_all(item, node_id, secrets) for item in value]
    return value


def _envelope(
    kind: Kind,
    fields: Mapping[str, Any],
    *,
    node_id: str,
    grid_pool_id: int,
    description: str,
    tid: int,
    identity: Identity,
    metadata: dict[str, Any],
    secrets: Mapping[str, str],
    epoch: int,
) -> dict[str, Any]:
    if shadowed := _INFO_FIELDS & fields.keys():
        raise ValueError(f"type fields may not set info fields: {sorted(shadowed)}")
    try:
        encrypted = identity.encrypt_metadata(metadata)
    except IdentityError as exc:
        raise ValueError(str(exc)) from None
    if len(encrypted) > MAX_METADATA_CHARS:  # the explorer answers 400 above this (§4.6)
        raise ValueError(f"metadata is {len(encrypted)} characters, the explorer allows {MAX_METADATA_CHARS}")
    body: dict[str, Any] = {
        "workload_id": 1,  # the index inside the reservation: always 1 (§4.6)
        "node_id": node_id,
        "pool_id": grid_pool_id,
        "reference": "",
        "description": description,
        "customer_tid": tid,
        "next_action": int(NextAction.DEPLOY),
        "epoch": epoch,
        "metadata": encrypted,
        "workload_type": int(kind.wire_type),
        "signing_request_provision": {"signers": [], "quorum_min": 0},
        # Without ourselves as delete signer the workload could never be deleted (§4.6).
        "signing_request_delete": {"signers": [tid], "quorum_min": 1},
        "signatures_provision": [],
        "signatures_delete": [],
        **_seal_all(fields, node_id, secrets),
    }
    # Signed last, over exactly the values sent (sealed ciphertexts and encrypted metadata included, §7.1).
    try:
        challenge = workload_challenge(body)
    except KeyError as exc:
        raise ValueError(f"{kind.value} workload lacks the field {exc.args[0]!r}") from None
    body["customer_signature"] = sign_challenge(identity, challenge)
    return body


def render(
    plan: WorkloadPlan,
    placed: Placed,
    *,
    tid: int,
    identity: Identity,
    metadata: dict[str, Any],
    secrets: Mapping[str, str],
    epoch: int,
) -> dict[str, Any]:
    """The signed create body of ``plan`` on ``placed`` (any kind, network resources included).

    ``metadata`` is the plaintext ownership record (§9), encrypted to ourselves here; ``secrets`` maps the
    names of :class:`Sealed` values to their plaintext.

    Raises:
        ValueError: ``placed`` is for another role, a sealed secret is missing from ``secrets``, the node id
            is not a node key, the encrypted metadata exceeds 1024 characters, a type field shadows an info
            field, or a field the signature challenge needs is missing or malformed.
    """
    if placed.role != plan.role:
        raise ValueError(f"workload {plan.key!r} runs on role {plan.role!r}, not on {placed.role!r}")
    return _envelope(
        plan.kind,
        plan.fields,
        node_id=placed.node_id,
        grid_pool_id=placed.grid_pool_id,
        description=plan.description,
        tid=tid,
        identity=identity,
        metadata=metadata,
        secrets=secrets,
        epoch=epoch,
    )

"""How a solution takes part in Solution Expose and Domain Delegation (SOLUTIONS §3.9, §3.10), declared by its
planner: the deployer never branches on solution types.

Three parts, each a hook of :class:`ExposeHooks` (a planner that declares nothing gets the defaults, through
:func:`expose_hooks`):

* a *target*: a solution whose port can be published names the placement that holds it (:attr:`~ExposeHooks.
  exposed_role`: the Kubernetes master, MinIO's primary, a container);
* the *exposer*: a submission that publishes a target is checked against our tables in the submit's transaction
  (:attr:`~ExposeHooks.publishes_a_target`; the check is ``deployer/exposure.py``);
* a *delegation*: a domain the user delegated to a gateway is offered to the exposer
  (:attr:`~ExposeHooks.delegates_domain`), and cannot be cancelled while an exposed solution stands on it
  (:meth:`~ExposeHooks.cancel_refusal`, with :class:`ExposeOps` implemented by ``deployer/exposure.py``).
"""

from __future__ import annotations

from typing import Any, ClassVar, Protocol


class ExposeOps(Protocol):
    """The deployer's exposure tables, read inside the cancel's transaction (the solution's row is locked)."""

    def exposed_under(self, domain: str) -> list[str]:
        """The names of the owner's exposed solutions holding workloads under the delegated ``domain``."""
        ...


class ExposeHooks:
    """The defaults: neither a target, an exposer nor a delegation."""

    exposed_role: ClassVar[str | None] = None  # the placement whose IP a published port lives on; None: not exposable
    publishes_a_target: ClassVar[bool] = False  # its spec names a target (and maybe a delegation) checked at submit
    delegates_domain: ClassVar[bool] = False  # its name is a domain delegated to its gateway, offered to exposers

    def cancel_refusal(self, name: str, ops: ExposeOps) -> str | None:
        """Why the solution named ``name`` cannot be cancelled now (checked in the cancel's transaction), or None."""
        return None


class Delegation(ExposeHooks):
    """A delegated domain: offered to exposers, and kept while exposed solutions stand on it."""

    delegates_domain: ClassVar[bool] = True

    def cancel_refusal(self, name: str, ops: ExposeOps) -> str | None:
        users = ops.exposed_under(name)
        if not users:
            return None
        return f"the domain {name} is still used by the exposed solution(s) {', '.join(users)}; delete those first"


NOT_EXPOSED = ExposeHooks()


def expose_hooks(planner: Any) -> ExposeHooks:
    """The planner's exposure hooks: its own when it declares them, else the defaults."""
    return planner if isinstance(planner, ExposeHooks) else NOT_EXPOSED

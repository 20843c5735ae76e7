"""The deployer's view of the explorer's workload API (GRID_API §4.3, §4.5, §4.6) on top of :class:`Explorer`.

:class:`Explorer` provides signing, timeouts, GET retries and the error types; this adds the workload calls with
their quirks: ``result.data_json`` arrives as an object, a JSON string or ``null``; deletion must be signed over the
*stored* workload; and a repeated deletion request is a success, not an error.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import structlog

from services.common.explorer import Explorer, ExplorerRejected, ExplorerUnavailable
from services.deployer.grid.challenge import delete_challenge, sign_challenge
from services.deployer.grid.kinds import NextAction

log = structlog.get_logger(__name__)

# Nothing left to sign for: deletion requested or done, or never deployed (402 at creation).
_NOTHING_TO_DELETE = {NextAction.DELETE, NextAction.DELETED, NextAction.INVALID}


def normalise_workload(workload: Any) -> dict[str, Any]:
    """The workload with ``result`` a dict and ``result.data_json`` a dict (§5.8: object, JSON text or null).

    Raises:
        ExplorerUnavailable: the explorer answered something that is not a workload object.
    """
    if not isinstance(workload, dict):
        raise ExplorerUnavailable("the grid explorer answered something that is not a workload")
    result = workload.get("result")
    result = dict(result) if isinstance(result, dict) else {}
    data = result.get("data_json")
    if isinstance(data, str):
        try:
            data = json.loads(data) if data.strip() else None
        except ValueError:
            data = None
    result["data_json"] = data if isinstance(data, dict) else {}
    return {**workload, "result": result}


class GridClient:
    """Workload operations of the marketplace identity. Every method may raise what :class:`Explorer` raises:
    :class:`ExplorerUnavailable` (no answer, 5xx, garbage) or :class:`ExplorerRejected` (a 4xx, with the
    explorer's message)."""

    def __init__(self, explorer: Explorer) -> None:
        self.explorer = explorer

    @property
    def tid(self) -> int:
        return self.explorer.tid

    def _object(self, path: str) -> dict[str, Any]:
        answer = self.explorer.get_json(path)
        if not isinstance(answer, dict):
            raise ExplorerUnavailable(f"the grid explorer answered something that is not an object for {path}")
        return answer

    def create_workload(self, body: dict[str, Any]) -> int:
        """POST a rendered workload; its global id (``reservation_id``).

        Not retried: if the answer is lost the workload may still exist, so the caller must reconcile (find it
        among :meth:`live_workloads`) before sending again.

        Raises:
            ExplorerRejected: 400 (bad body or signature), 402 (the pool cannot pay for it — the explorer stores
                it as INVALID), 403 (node not in the pool), 404 (unknown pool).
            ExplorerUnavailable: no answer, a 5xx, or an answer without a ``reservation_id``.
        """
        answer = self.explorer.post("/reservations/workloads", body)
        reservation_id = answer.get("reservation_id") if isinstance(answer, dict) else None
        if isinstance(reservation_id, bool) or not isinstance(reservation_id, int) or reservation_id <= 0:
            raise ExplorerUnavailable("the grid explorer accepted the workload without giving its id")
        return reservation_id

    def workload(self, grid_id: int) -> dict[str, Any]:
        """The workload as stored, with ``result`` and ``result.data_json`` always dicts.

        Raises:
            ExplorerRejected: 404 for an unknown id.
            ExplorerUnavailable: as for every call.
        """
        return normalise_workload(self.explorer.get_json(f"/reservations/workloads/{grid_id}"))

    def sign_delete(self, grid_id: int) -> None:
        """Ask for the workload's deletion by adding our delete signature. Idempotent.

        The signature covers the workload *as stored* (the explorer replaced our ``epoch``), so it is re-read
        first. Already deleting/deleted/invalid, or already signed by us, is success.

        Raises:
            ExplorerRejected: 404 unknown workload; 401 we are not a delete signer or the signature failed.
            ExplorerUnavailable: as for every call.
        """
        stored = self.workload(grid_id)
        if self._deletion_requested(stored):
            return
        body = {
            "signature": sign_challenge(self.explorer.identity, delete_challenge(stored, self.tid)),
            "tid": self.tid,
            "epoch": int(time.time()),
        }
        try:
            self.explorer.post(f"/reservations/workloads/{grid_id}/sign/delete", body)
        except ExplorerRejected as exc:
            # A concurrent request (another worker, or a retry whose first answer was lost) may have signed in
            # between: the explorer then answers 400 "already signed". Decide on the state, not the message.
            if exc.status != 400 or not self._deletion_requested(self.workload(grid_id)):
                raise
        log.info("workload deletion signed", grid_id=grid_id)

    def _deletion_requested(self, stored: dict[str, Any]) -> bool:
        signers = {s.get("tid") for s in stored.get("signatures_delete") or [] if isinstance(s, dict)}
        return stored.get("next_action") in _NOTHING_TO_DELETE or self.tid in signers

    def live_workloads(self, page_size: int = 500, next_action: NextAction = NextAction.DEPLOY,
                       ) -> Iterator[dict[str, Any]]:  # fmt: skip
        """Every workload of ours with ``next_action`` DEPLOY (or the one given: DELETE lists the deletions under
        way), page by page (normalised like :meth:`workload`).

        The list shifts while it is read: a workload leaving DEPLOY moves every later one a place towards the first
        page, so reading the pages in ascending order can skip a workload that is live the whole time — and a
        search for a workload whose answer was lost would then send it a second time. The pages are therefore read
        from the last to the second, then the first (again): a shift only moves an unread workload towards the pages
        still to be read, so every workload live from the start to the end of the listing is seen. One may be seen
        twice, and one created meanwhile may be missed: use it against the local index, not as truth.

        Raises:
            ExplorerUnavailable, ExplorerRejected: as for every call (possibly after some items were yielded).
        """
        params: dict[str, Any] = {"customer_tid": self.tid, "next_action": int(next_action), "size": page_size}
        first = self.explorer.get("/reservations/workloads", {**params, "page": 1})
        try:
            items, pages = first.json(), int(first.headers.get("Pages") or 1)
        except ValueError:
            raise ExplorerUnavailable("the grid explorer answered a workload page that is not JSON") from None
        order = [1] if pages <= 1 else [*range(pages, 1, -1), 1]
        for index, page in enumerate(order):
            if pages > 1 or index > 0:
                items = self.explorer.get_json("/reservations/workloads", {**params, "page": page})
            if not isinstance(items, list):
                raise ExplorerUnavailable("the grid explorer answered a workload page that is not a list")
            yield from (normalise_workload(item) for item in items)

    def node(self, node_id: str) -> dict[str, Any]:
        """One node (§5.4). Raises ExplorerRejected 404 for an unknown node, ExplorerUnavailable as usual."""
        return self._object(f"/nodes/{node_id}")

    def pool(self, grid_pool_id: int) -> dict[str, Any]:
        """One capacity pool (§5.6), burn applied. Raises ExplorerRejected 404 when unknown, ExplorerUnavailable."""
        return self._object(f"/reservations/pools/{grid_pool_id}")

"""Local emulator of the TF Grid v2 explorer and the nodes and gateways behind it (GRID_API.md).

Point the marketplace's ``EXPLORER_URL`` at ``http://<host>:<port>/api/v1``. The deployer should not be able to
tell it from the real explorer: same endpoints, checks, status codes, objects and signatures (§2-§7, §10, §12).

Run::

    python -m emulators.grid --host 127.0.0.1 --port 8201 --state .local/grid/state.sqlite3 [--dns-port 8253]
        [--farms 3 --nodes 50 --gateways 3 --seed 1 --users-file F]
        [--profile fast --deploy-latency 2 --delete-latency 1 --auto-pay-after 0]
        [--lost-answer-rate 0 --lost-answer-mode 500]
        [--payment-delay 1 --extension-error-500 true --wire-variety true]
        [--error-rate 0 --extra-latency 0 --down-nodes ID,ID --stellar-network testnet --threads 8]

Every flag can also come from ``GRID_EMULATOR_<FLAG>`` (``GRID_EMULATOR_PORT``, ``GRID_EMULATOR_DEPLOY_LATENCY``,
...); a flag wins over its variable. A bad value prints one line on stderr and exits with status 2. Served by an
embedded gunicorn (1 worker process, ``--threads`` threads serving requests concurrently: each thread has its own
SQLite connection, reads run in WAL snapshots without the write lock, writes in short ``BEGIN IMMEDIATE``
transactions ordered by SQLite itself, see store.py); tests use :func:`create_app` with an :class:`EmulatorConfig`.

Flags:

* ``--state`` SQLite file holding the whole world (WAL). Created and seeded when missing; an existing file is used
  as is (``--farms/--nodes/--gateways/--seed/--users-file`` are then ignored), so a restart changes nothing.
* ``--farms/--nodes/--gateways/--seed`` size and seed of the generated world. Farm 1 is ``freefarm`` (TFT + FreeTFT
  wallets; its nodes are ``free_to_use`` except every fourth from its second, so it mixes free and paid nodes and a
  FreeTFT pool there may list only the free ones), the others accept TFT and/or TFTA. Nodes are spread over the
  farms and a dozen cities; about 45 % have a ``public_config``, the rest public IPv4+IPv6 on their interface, IPv6
  only, or no public address (hidden). Every node and gateway has a real Ed25519 key derived from the seed
  (``node_id`` = base58, ``public_key_hex`` = hex), so values sealed to it (§8) are really opened and checked.
  Gateway *n* manages ``gwN.grid.example`` with nameserver ``ns1.gwN.grid.example`` and tcp_router_port 18000. Each
  farm is owned by a seeded user ``farmerN.3bot``. ``--users-file``: JSON array of ``{name, email, pubkey}``
  registered at seeding (e.g. the marketplace identity); otherwise register with ``POST /api/v1/users``.
* ``--dns-port`` UDP+TCP port (on ``--host``) of the gateways' authoritative DNS, answered from the live state
  (dns_zones.py, dns_server.py); 0 (the default) starts none. A port in use is a start-up error (exit 2).
* ``--deploy-latency`` seconds until a node reports a workload's result: ``2`` or ``2,container=5,kubernetes=30``
  (kinds: zdb, container, volume, kubernetes, proxy, reverse_proxy, subdomain, domain_delegate, gateway4to6,
  network_resource). ``--delete-latency`` seconds until a node confirms a deletion. ``--profile`` sets both and
  ``--extra-latency`` at once: ``fast`` (default: 2 s, 1 s, 0 s) or ``realistic`` (GRID_API §12 at the low end of
  each band: explorer calls 0.1 s, gateway kinds, volumes and ZDBs 5 s, network resources 10 s, containers 30 s,
  Kubernetes VMs 60 s, other kinds 30 s, deletions 5 s); a latency flag or variable given too wins.
* ``--auto-pay-after N`` sends the correct payment for every capacity reservation N seconds after its creation
  (0 = off; decided when the reservation is made). ``--payment-delay S`` (default 1; the real grid took 60-120)
  seconds from a payment reaching the escrow until its reservation is credited (payments.py).
  ``--extension-error-500`` (default true, as the real explorer) answers 500 to an extension of a missing pool,
  another customer's, or one that would lose nodes; ``false``: 400. ``--wire-variety`` (default true, as the
  real explorer) sends ``result.data_json`` as JSON *text* for odd workload ids and lists a ZDB's addresses in
  an order that varies with its id (public IPv6, IPv4 or the node's LAN address first); ``false``: an object,
  public IPv6 first. ``--error-rate`` fraction of ``/api/v1`` requests answered ``500 {"error": "injected
  fault"}`` (the only 500s the emulator ever sends). ``--extra-latency`` seconds added to every ``/api/v1``
  response. ``--lost-answer-rate`` fraction of successful workload creates, pool reservations and sign requests
  whose answer is lost *after* the commit, as ``--lost-answer-mode`` says: ``500`` (``{"error": "injected fault:
  the request was carried out but its answer was lost"}``) or ``drop`` (the connection is closed unanswered);
  faults.py. ``--down-nodes`` node/gateway ids that start down. ``--stellar-network`` picks the asset issuers in
  escrow information (testnet or mainnet).

Time: an emulator clock (real time + a persisted offset) drives every simulated behaviour: node heartbeats
(``updated``), deploy/delete latencies, pool burn and ``empty_at``, pools running dry, the 1-hour expiry of unpaid
reservations, automatic payments. The nodes act on their own, as real ones do: a background thread of the server
(node_agents.py) applies each event shortly after it comes due (it looks every 0.05 s, then applies in write
transactions of 10 events), so a listing never pays for a backlog. Each request still first replays, in time
order, whatever is due and not applied yet (lifecycle.py; a read does so in a short write transaction only when
something is due), so a read sees everything due by its time, and restarts and clock jumps lose nothing (a clock
jump applies what it skipped over before it answers, each event at its own time). ``create_app`` alone (the
Flask test client) starts no thread: there requests replay everything. HTTP-signature replay checks use
the real clock (clients sign with theirs).

Admin endpoints (local only, no HTTP signature, not affected by injected faults):

* ``GET /_emulator/healthz`` - ``{"status": "ok"}``. ``GET /_emulator/info`` - seeding parameters and clock.
* ``GET /_emulator/config``; ``POST /_emulator/config`` with any of ``{"error_rate": 0..1, "extra_latency": s,
  "deploy_latency": s | {"default": s, "<kind>": s}, "delete_latency": s, "auto_pay_after": s, "profile": "fast" |
  "realistic", "lost_answer_rate": 0..1, "lost_answer_mode": "500" | "drop", "payment_delay": s,
  "extension_error_500": bool, "wire_variety": bool, "dns_outage": bool, "ct_outage": bool}`` (400 and no
  change on a bad value; ``dns_outage`` leaves DNS queries unanswered, ``ct_outage`` makes the CT log answer
  503). Settings live in memory: a restart goes back to the flags.
* ``GET /_emulator/ct?q=<domain>&output=json`` - the certificate-transparency log in crt.sh's shape, fed by the
  TLS proxies and in-image tunnels that deploy (ct_log.py); ``POST /_emulator/ct {"domain", "count", "days_ago",
  "staging"}`` seeds certificates, ``DELETE /_emulator/ct [{"domain": q}]`` forgets them (ct_api.py).
* ``GET /_emulator/lose``; ``POST /_emulator/lose {"kind": "workload" | "pool" | "delete" | "provision", "count":
  N, "mode": "500" | "drop"}`` loses the next N successful answers of that kind after their commit (deterministic
  lost answers for tests); ``count`` 0 cancels every planned loss.
* ``GET /_emulator/clock``; ``POST /_emulator/clock {"advance_seconds": N}`` (N >= 0) moves the emulator clock.
* ``POST /_emulator/pay {"to": "G...", "asset": "TFT:<issuer>", "amount": stroops, "memo": "p-15"}`` - a Stellar
  payment into an escrow account (400 for one no wallet could send: bad address or asset, memo over 28 bytes).
  ``payment_delay`` later it credits the reservation its memo ``p-<id>`` names only if it went to that
  reservation's escrow address in its asset (code *and* issuer); payments with one memo add up until the amount is
  reached; anything else is ignored. Answer: the payment with ``state`` ``pending`` / ``credited`` / ``partial``
  / ``ignored`` (and ``reason``), ``credit_at``, and the reservation its memo named. Shorthand ``{"reservation_id":
  N[, "amount": stroops]}`` sends the correct payment for N (404 unknown, 409 already paid, 410 expired).
  ``GET /_emulator/payments/<id>`` - that payment now.
* ``GET /_emulator/reservations/<id>`` - reservation state (``awaiting_payment`` / ``paid`` / ``expired``),
  amounts, escrow information, ``created``/``expires_at``/``paid_at``/``auto_pay_at``.
* ``POST /_emulator/fail {"workload_id": N, "message": "..."}`` forces that workload's result to Error (at once if
  deployed, when the node reports otherwise; 409 if no longer live); ``{"node_id": "...", "message": "..."}``
  makes the next workload that node picks up fail.
* ``POST /_emulator/nodes/<node_id>/down`` stops its heartbeats (``updated`` at once older than 600 s) and its
  workloads neither deploy nor get deleted; ``POST /_emulator/nodes/<node_id>/up`` resumes them.

Node-side checks (a failing one gives a result with ``state`` 0 and a message, then ``DELETED``): gateway types
only on gateways and the others only on nodes; container/VM IP inside the /24 of the newest live network resource
of that network on the same node (not .0/.1/broadcast, not used by another deployed workload); mounted volumes
live on the same node; subdomains under a managed domain of the gateway and not already taken; sealed secrets
open with the target's key; a network resource's sealed WireGuard key matches its public key and its port is not
in ``wg_ports``; disks fit the node.
"""

from emulators.grid.app import create_app
from emulators.grid.config import EmulatorConfig

__all__ = ["EmulatorConfig", "create_app"]

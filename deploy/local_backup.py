"""Two real backup servers on this machine, prepared by the project's own setup script (needs root).

Used by ``make run`` (when BACKUP_SERVER1 is empty and we are root) and by the backup tests. Each server is an
``sshd`` on a loopback port with its own host key, fronting ``rclone serve restic`` over TLS, both exactly as
``deploy/backup-server/setup.sh`` configures them; only the supervisor differs (this module instead of systemd).
The data lives under a root-owned directory (sshd refuses a chroot below a world-writable one such as /tmp).
"""

from __future__ import annotations

import shutil
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SETUP = ROOT / "deploy" / "backup-server" / "setup.sh"
SFTP_USER = "marketplace-backup"
BINARIES = ("sshd", "rclone", "openssl", "ssh-keygen")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def missing_binaries() -> list[str]:
    return [name for name in BINARIES if shutil.which(name) is None and not Path(f"/usr/sbin/{name}").exists()]


def make_ssh_key(path: Path) -> Path:
    """An Ed25519 key pair ``path``/``path.pub`` (kept if present); returns the public key's path."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "marketplace", "-f", str(path)],
                       check=True, stdin=subprocess.DEVNULL)  # fmt: skip
    return path.with_name(path.name + ".pub")


@dataclass
class LocalBackupServer:
    """One backup server under ``base``: setup.sh's data/etc directories, an sshd config and host key."""

    index: int
    base: Path
    ssh_port: int
    rest_port: int

    @property
    def data(self) -> Path:
        return self.base / "data"

    @property
    def etc(self) -> Path:
        return self.base / "etc"

    @property
    def host_key(self) -> Path:
        return self.base / "ssh_host_ed25519_key"

    @property
    def htpasswd(self) -> Path:
        return self.data / "auth" / ".htpasswd"

    @property
    def cert(self) -> Path:
        return self.etc / "tls" / "cert.pem"

    @property
    def target(self) -> str:
        return f"{SFTP_USER}@127.0.0.1:{self.ssh_port}"

    def setup(self, authorized_key: Path, extra: list[str] | None = None) -> None:
        """Run the project's setup script for this server (idempotent; ``extra`` options such as ``--cert``), then
        write its sshd config."""
        self.base.mkdir(parents=True, exist_ok=True)
        self.base.chmod(0o755)
        subprocess.run(
            [str(SETUP), "--authorized-key", str(authorized_key), "--data", str(self.data), "--etc", str(self.etc),
             "--listen", f"127.0.0.1:{self.rest_port}", "--tls-name", "127.0.0.1", "--name", f"backup{self.index}",
             "--sshd-dropin", str(self.base / "sshd.d"), "--systemd-dir", str(self.base / "systemd"),
             "--sftp-user", SFTP_USER, "--no-start", *(extra or [])],
            check=True, stdout=subprocess.DEVNULL,
        )  # fmt: skip
        self.new_host_key(keep=True)
        (self.base / "sshd_config").write_text(
            f"Port {self.ssh_port}\nListenAddress 127.0.0.1\nHostKey {self.host_key}\n"
            f"PidFile {self.base / 'sshd.pid'}\nUsePAM no\nPasswordAuthentication no\nPermitRootLogin no\n"
            f"Subsystem sftp internal-sftp\nInclude {self.base / 'sshd.d'}/*.conf\n"
        )
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege-separation directory

    def new_host_key(self, keep: bool = False) -> None:
        """Create the host key (a new one unless ``keep``): the "server was reinstalled" fault."""
        if keep and self.host_key.exists():
            return
        for path in (self.host_key, self.host_key.with_suffix(".pub")):
            path.unlink(missing_ok=True)
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(self.host_key)],
                       check=True, stdin=subprocess.DEVNULL)  # fmt: skip

    def known_hosts_line(self) -> str:
        kind, key = (self.base / "ssh_host_ed25519_key.pub").read_text().split()[:2]
        return f"[127.0.0.1]:{self.ssh_port} {kind} {key}\n"

    def sshd_command(self) -> list[str]:
        sshd = shutil.which("sshd") or "/usr/sbin/sshd"
        return [sshd, "-D", "-e", "-f", str(self.base / "sshd_config")]

    def rest_command(self) -> list[str]:
        return [str(self.etc / "run.sh")]


def prepare(base: Path, marketplace_key: Path) -> tuple[list[LocalBackupServer], dict[str, str]]:
    """Set up two servers under ``base`` for ``marketplace_key`` (created if missing) and write the known-hosts
    file; returns the servers (not started) and the BACKUP_* variables that point the marketplace at them."""
    public = make_ssh_key(marketplace_key)
    pair = [LocalBackupServer(i, base / f"server{i}", free_port(), free_port()) for i in (1, 2)]
    for server in pair:
        server.setup(public)
    known_hosts = base / "known_hosts"
    known_hosts.write_text("".join(server.known_hosts_line() for server in pair))
    env = {
        "BACKUP_SERVER1": pair[0].target,
        "BACKUP_SERVER2": pair[1].target,
        "BACKUP_REST_PORT1": str(pair[0].rest_port),
        "BACKUP_REST_PORT2": str(pair[1].rest_port),
        "BACKUP_SSH_KEY_FILE": str(marketplace_key),
        "BACKUP_KNOWN_HOSTS_FILE": str(known_hosts),
    }
    return pair, env

#!/usr/bin/env bash
# Prepare a Debian host as a marketplace backup server (README "Backup servers"). Idempotent: run it again after
# changing an option, it converges. Run as root.
#
# What it sets up:
#   - a service user (--service-user, default marketplace-rest) that runs `rclone serve restic` with private
#     repositories (each account reaches only /<user>/), basic auth from an .htpasswd file, over TLS;
#   - a restricted SSH account (--sftp-user, default marketplace-backup) for the marketplace's key: SFTP only
#     (ForceCommand internal-sftp), chrooted to the data directory, able to write only the .htpasswd directory —
#     the marketplace computes bcrypt hashes itself and replaces the file through SFTP, never a shell command;
#   - a systemd unit (<name>.service) running <etc>/run.sh, enabled and started when systemd runs; without systemd
#     (containers, the tests) start <etc>/run.sh under any supervisor.
#
# Layout (every path below the options):
#   <data>            root:root 0755   the SFTP account's chroot
#   <data>/auth       sftp-user:service-group 2750, holds .htpasswd (new files inherit the service group)
#   <data>/repos      service-user 0700, the restic repositories
#   <etc>             root:root 0755   tls/cert.pem, tls/key.pem (service user only), run.sh, authorized_keys
#
# Options:
#   --authorized-key FILE   the marketplace's SSH public key (required)
#   --data DIR              default /srv/marketplace-backup (every component root-owned, not group/other writable)
#   --etc DIR               default /etc/marketplace-backup
#   --listen ADDR:PORT      REST server address, default :8443
#   --tls-name NAME         host name or IP address in the self-signed certificate (repeatable; default hostname)
#   --cert FILE --key FILE  use this certificate and key instead of generating a self-signed one
#   --name NAME             systemd unit / sshd drop-in name, default marketplace-backup
#   --sshd-dropin DIR       where the sshd Match block goes, default /etc/ssh/sshd_config.d
#   --systemd-dir DIR       where the unit goes, default /etc/systemd/system
#   --service-user NAME / --sftp-user NAME
#   --no-start              write everything, start nothing (the tests supervise run.sh themselves)
set -euo pipefail

die() { echo "setup.sh: $*" >&2; exit 2; }

DATA=/srv/marketplace-backup
ETC=/etc/marketplace-backup
LISTEN=:8443
NAME=marketplace-backup
SSHD_DROPIN=/etc/ssh/sshd_config.d
SYSTEMD_DIR=/etc/systemd/system
SERVICE_USER=marketplace-rest
SFTP_USER=marketplace-backup
AUTHORIZED_KEY=
CERT=
KEY=
START=1
TLS_NAMES=()

while [ $# -gt 0 ]; do
    case "$1" in
        --authorized-key) AUTHORIZED_KEY=${2:?}; shift 2 ;;
        --data) DATA=${2:?}; shift 2 ;;
        --etc) ETC=${2:?}; shift 2 ;;
        --listen) LISTEN=${2:?}; shift 2 ;;
        --tls-name) TLS_NAMES+=("${2:?}"); shift 2 ;;
        --cert) CERT=${2:?}; shift 2 ;;
        --key) KEY=${2:?}; shift 2 ;;
        --name) NAME=${2:?}; shift 2 ;;
        --sshd-dropin) SSHD_DROPIN=${2:?}; shift 2 ;;
        --systemd-dir) SYSTEMD_DIR=${2:?}; shift 2 ;;
        --service-user) SERVICE_USER=${2:?}; shift 2 ;;
        --sftp-user) SFTP_USER=${2:?}; shift 2 ;;
        --no-start) START=0; shift ;;
        *) die "unknown option $1" ;;
    esac
done

[ "$(id -u)" = 0 ] || die "run as root"
[ -n "$AUTHORIZED_KEY" ] || die "--authorized-key FILE is required"
[ -r "$AUTHORIZED_KEY" ] || die "cannot read $AUTHORIZED_KEY"
ssh-keygen -l -f "$AUTHORIZED_KEY" >/dev/null 2>&1 || die "$AUTHORIZED_KEY is not an SSH public key"
[[ "$NAME" =~ ^[a-z0-9-]+$ ]] || die "--name must be lower-case letters, digits and -"
[[ "$DATA" = /* && "$ETC" = /* ]] || die "--data and --etc must be absolute paths"
if { [ -n "$CERT" ] && [ -z "$KEY" ]; } || { [ -z "$CERT" ] && [ -n "$KEY" ]; }; then
    die "--cert and --key go together"
fi
for tool in rclone openssl ssh-keygen; do
    command -v "$tool" >/dev/null || die "$tool is missing (apt-get install rclone openssl openssh-server)"
done
RCLONE=$(command -v rclone)
[ ${#TLS_NAMES[@]} -gt 0 ] || TLS_NAMES=("$(hostname -f 2>/dev/null || hostname)")

# -- users ------------------------------------------------------------------------------------------------------
if ! getent group "$SERVICE_USER" >/dev/null; then groupadd --system "$SERVICE_USER"; fi
if ! id "$SERVICE_USER" >/dev/null 2>&1; then
    useradd --system --gid "$SERVICE_USER" --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin \
        "$SERVICE_USER"
fi
if ! id "$SFTP_USER" >/dev/null 2>&1; then
    useradd --system --user-group --home-dir /nonexistent --no-create-home --shell /usr/sbin/nologin "$SFTP_USER"
fi
# sshd refuses a locked account (`!` in shadow) even for keys: an unusable password instead.
usermod -p '*' "$SFTP_USER"

# -- directories --------------------------------------------------------------------------------------------------
# The chroot and every parent must be root-owned and not writable by group/other (sshd checks each component).
install -d -o root -g root -m 0755 "$DATA" "$ETC" "$ETC/tls"
install -d -o "$SFTP_USER" -g "$SERVICE_USER" -m 2750 "$DATA/auth"
install -d -o "$SERVICE_USER" -g "$SERVICE_USER" -m 0700 "$DATA/repos"
if [ ! -e "$DATA/auth/.htpasswd" ]; then
    install -o "$SFTP_USER" -g "$SERVICE_USER" -m 0640 /dev/null "$DATA/auth/.htpasswd"
fi

# -- TLS ----------------------------------------------------------------------------------------------------------
if [ -n "$CERT" ]; then
    install -o root -g "$SERVICE_USER" -m 0644 "$CERT" "$ETC/tls/cert.pem"
    install -o root -g "$SERVICE_USER" -m 0640 "$KEY" "$ETC/tls/key.pem"
else
    SAN=""
    for n in "${TLS_NAMES[@]}"; do
        if [[ "$n" =~ ^[0-9.]+$ || "$n" == *:* ]]; then SAN+="IP:$n,"; else SAN+="DNS:$n,"; fi
    done
    SAN=${SAN%,}
    # Regenerated only when missing or issued for other names (keeps restic clients' pinned --cacert valid).
    if [ ! -s "$ETC/tls/cert.pem" ] || [ "$(cat "$ETC/tls/san" 2>/dev/null)" != "$SAN" ]; then
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
            -subj "/CN=${TLS_NAMES[0]}" -addext "subjectAltName=$SAN" \
            -keyout "$ETC/tls/key.pem.new" -out "$ETC/tls/cert.pem.new" 2>/dev/null
        mv "$ETC/tls/key.pem.new" "$ETC/tls/key.pem"
        mv "$ETC/tls/cert.pem.new" "$ETC/tls/cert.pem"
        printf '%s' "$SAN" >"$ETC/tls/san"
    fi
    chown root:"$SERVICE_USER" "$ETC/tls/cert.pem" "$ETC/tls/key.pem"
    chmod 0644 "$ETC/tls/cert.pem"
    chmod 0640 "$ETC/tls/key.pem"
fi

# -- the marketplace's key ------------------------------------------------------------------------------------------
# `restrict` switches off forwarding, pty and agent; sshd's Match block below forces internal-sftp in the chroot.
{
    echo "# written by setup.sh: the marketplace may only use SFTP (chrooted to $DATA)"
    echo "restrict $(head -n1 "$AUTHORIZED_KEY")"
} >"$ETC/authorized_keys.new"
chmod 0644 "$ETC/authorized_keys.new"
mv "$ETC/authorized_keys.new" "$ETC/authorized_keys"

install -d -m 0755 "$SSHD_DROPIN"
cat >"$SSHD_DROPIN/$NAME.conf" <<EOF
# written by setup.sh ($NAME): the marketplace's account may only replace $DATA/auth/.htpasswd over SFTP.
Match User $SFTP_USER
    AuthorizedKeysFile $ETC/authorized_keys
    PasswordAuthentication no
    KbdInteractiveAuthentication no
    ChrootDirectory $DATA
    ForceCommand internal-sftp -u 0027 -d /auth
    AllowTcpForwarding no
    AllowAgentForwarding no
    AllowStreamLocalForwarding no
    PermitTunnel no
    X11Forwarding no
    PermitTTY no
EOF

# -- the REST server ------------------------------------------------------------------------------------------------
cat >"$ETC/run.sh.new" <<EOF
#!/bin/sh
# written by setup.sh ($NAME): the restic REST backend, as $SERVICE_USER, TLS, private repositories.
exec setpriv --reuid=$SERVICE_USER --regid=$SERVICE_USER --init-groups --inh-caps=-all \\
    env HOME=/nonexistent RCLONE_CONFIG=/dev/null $RCLONE serve restic \\
    --addr '$LISTEN' --private-repos --htpasswd '$DATA/auth/.htpasswd' \\
    --cert '$ETC/tls/cert.pem' --key '$ETC/tls/key.pem' '$DATA/repos'
EOF
chmod 0755 "$ETC/run.sh.new"
mv "$ETC/run.sh.new" "$ETC/run.sh"

install -d -m 0755 "$SYSTEMD_DIR"
cat >"$SYSTEMD_DIR/$NAME.service" <<EOF
[Unit]
Description=Marketplace backup server ($NAME): restic REST backend over TLS
After=network-online.target
Wants=network-online.target

[Service]
ExecStart=$ETC/run.sh
Restart=always
RestartSec=2
NoNewPrivileges=yes
ProtectSystem=strict
ReadWritePaths=$DATA/repos
PrivateTmp=yes

[Install]
WantedBy=multi-user.target
EOF

if [ "$START" = 1 ] && [ -d /run/systemd/system ]; then
    sshd -t
    systemctl daemon-reload
    systemctl enable --now "$NAME.service"
    systemctl restart "$NAME.service"
    systemctl reload ssh 2>/dev/null || systemctl reload sshd
fi
echo "setup.sh: $NAME ready (REST on $LISTEN, data in $DATA, config in $ETC)"

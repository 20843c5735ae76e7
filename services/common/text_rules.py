"""Free-text answers that end up in a container's environment or entrypoint (SOLUTIONS §3.8, Gollum), defined once
so the wizard refuses at the field (422 naming it) exactly what the deployer's spec would refuse.

Each rule is a closed alphabet: nothing a shell, a config file or a git command line would interpret can reach an
image, even where the planner also quotes (an e-mail in Gollum's entrypoint is shell-quoted as well).
"""

from __future__ import annotations

# An e-mail address as certbot and git accept it: ASCII local part without quotes or spaces, a DNS name after '@'.
_DNS_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
EMAIL = rf"[A-Za-z0-9._%+-]{{1,64}}@{_DNS_LABEL}(?:\.{_DNS_LABEL})+"
EMAIL_MAX = 254
EMAIL_HELP = "an e-mail address such as you@example.com (letters, digits and . _ % + - before the @)"

# GitHub's own rules: a user name is letters, digits and single inner dashes, at most 39 characters.
GITHUB_USER = r"[A-Za-z0-9](?:-?[A-Za-z0-9]){0,38}"
GITHUB_USER_HELP = "a GitHub user name: letters, digits and single dashes (not at either end), at most 39 characters"

# A repository name: letters, digits, '.', '_' and '-', at most 100 characters, not '.' or '..'.
GITHUB_REPO = r"(?!\.{1,2}$)[A-Za-z0-9._-]{1,100}"
GITHUB_REPO_HELP = "the repository's name (not its URL): letters, digits, '.', '_' and '-', at most 100 characters"

# Personal access tokens: classic (40 hex or ghp_…) and fine-grained (github_pat_…) are letters, digits and '_'.
GITHUB_TOKEN = r"[A-Za-z0-9_]{20,255}"  # noqa: S105 — a pattern, not a token
GITHUB_TOKEN_HELP = "a GitHub personal access token: letters, digits and '_' (e.g. ghp_…), 20-255 characters"  # noqa: S105

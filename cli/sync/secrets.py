"""Which workspace files look like secrets: by name (case-insensitive), and small files by content
(a private-key block in any file, a cloud credential in a JSON file).

A secret-looking file is refused by sync whatever the ignore rules say; only a per-file line in
`.ftkallow` (see `cli.sync.rules`) sends it, with a notice on every sync.

The name rules were drawn from a survey of what secret scanners match (read 2026-12-01):
- gitleaks/gitleaks `config/gitleaks.toml` (b58d3f1): its only name-based rule is `pkcs12-file`
  (`*.p12`, `*.pfx`, any case); its content rules `private-key`, `gcp-api-key`, ... name the
  files that carry such content (PEM keys, service-account JSON).
- Yelp/detect-secrets `detect_secrets/plugins/` (5e14193): content only. `private_key.py`
  (PEM, OpenSSH, PuTTY `PuTTY-User-Key-File-2` -> `*.ppk`), `npm.py` (`_authToken` in `.npmrc`),
  `aws.py`, `azure_storage_key.py`, `pypi_token.py` (`.pypirc`).
- awslabs/git-secrets `git-secrets` (7d6b970): content patterns; `--aws-provider` reads
  `~/.aws/credentials`.
- michenriksen/gitrob `filesignatures.json`: the name list the three above lack (`*_rsa`,
  `.netrc`, `.pgpass`, `.htpasswd`, `.s3cfg`, `.boto`, `.dockercfg`, `*.jks`, `*.kdbx`,
  `*.ovpn`, `terraform.tfvars`, `.gem/credentials`, `.ssh/`, ...).
Added for this project's own tools: `.docker/config.json`, `.kube/config`, `.azure/`, gcloud's
folder, the Hugging Face token file, `.git-credentials`, Terraform/Pulumi-adjacent state.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

MAX_CONTENT_BYTES = 64 * 1024  # files read for content checks; key files are ~2-3 KiB

# Env-file templates carry placeholders by convention and are meant to be shared.
_TEMPLATE = r"(?:example|sample|template|dist|defaults?)"
_ORDINARY = re.compile(rf"(?:^|/)(?:\.env\.{_TEMPLATE}|{_TEMPLATE}\.env)$", re.IGNORECASE)

_CRED_EXT = r"\.(?:json|xml|ya?ml|csv|db|ini|toml|txt|conf|cfg)"

# (pattern on the posix path relative to the workspace root, what the file is)
NAME_RULES: tuple[tuple[str, str], ...] = (
    (r"(?:^|/)\.env$", "environment file"),
    (r"(?:^|/)\.env\.[^/]+$", "environment file"),
    (r"(?:^|/)[^/]+\.env$", "environment file"),
    (r"(?:^|/)\.envrc$", "direnv environment file"),
    (r"(?:^|/)id_(?:rsa|dsa|ecdsa|ed25519)(?![^/]*\.pub$)[^/]*$", "SSH private key"),
    (r"(?:^|/)[^/]*_(?:rsa|dsa|ecdsa|ed25519)$", "SSH private key"),
    (r"\.(?:pem|key|ppk|p8)$", "private key"),
    (r"\.(?:p12|pfx|pkcs12|jks|keystore|bks)$", "key store"),
    (r"\.(?:kdbx|keychain|keyring|agilekeychain|psafe3)$", "password database"),
    (r"\.ovpn$", "VPN profile (embeds keys)"),
    (r"\.tfstate(?:\.backup)?$", "Terraform state (holds secrets in clear)"),
    (r"(?:^|/)terraform\.tfvars(?:\.json)?$", "Terraform variables"),
    (r"(?:^|/)\.(?:ssh|gnupg|aws|azure|kube|docker)/", "credentials folder"),
    (r"(?:^|/)\.config/gcloud/", "credentials folder"),
    (r"(?:^|/)credentials$", "credentials file"),
    (rf"(?:^|/)[^/]*credential[^/]*{_CRED_EXT}$", "credentials file"),
    (r"(?:^|/)client_secrets?[^/]*\.json$", "OAuth client secret"),
    (r"(?:^|/)[^/]*service[-_]?account[^/]*\.json$", "service-account key"),
    (rf"(?:^|/)secrets?{_CRED_EXT}$", "secrets file"),
    (r"(?:^|/)\.git-credentials$", "git credentials"),
    (r"(?:^|/)[._]netrc$", "netrc credentials"),
    (r"(?:^|/)\.(?:npmrc|pypirc|pgpass|htpasswd|s3cfg|boto|dockercfg)$", "tool credentials"),
    (r"(?:^|/)\.(?:my\.cnf|terraformrc)$", "tool credentials"),
    (r"(?:^|/)kubeconfig(?:\.[^/]*)?$", "Kubernetes credentials"),
    (r"(?:^|/)(?:\.cache/)?\.?huggingface/(?:token|stored_tokens)$", "Hugging Face token"),
    (r"(?:^|/)\.?hf_token(?:\.txt)?$", "Hugging Face token"),
)
_NAME_RULES = tuple((re.compile(p, re.IGNORECASE), why) for p, why in NAME_RULES)

# Cheap pre-filter before parsing: every content rule below needs one of these keys.
_CONTENT_HINTS = (b"private_key", b"clientsecret", b"client_secret", b"refresh_token", b"password")


def reason_by_name(rel: str) -> str | None:
    """What `rel` looks like if its name is a secret's, else None."""
    if _ORDINARY.search(rel):
        return None
    for pattern, why in _NAME_RULES:
        if pattern.search(rel):
            return why
    return None


# The private-key markers of detect-secrets' `private_key.py` (Yelp/detect-secrets 5e14193):
# `-----BEGIN [RSA |DSA |EC |OPENSSH |ENCRYPTED |PGP ]PRIVATE KEY[ BLOCK]-----`, SSH.com's
# `---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----` and PuTTY's `PuTTY-User-Key-File-N:` header. Any
# algorithm word is accepted; public keys and certificates do not match.
_KEY_BLOCK = re.compile(
    rb"-{4,5} ?BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY(?: BLOCK)? ?-{4,5}|PuTTY-User-Key-File-\d+:"
)


def reason_by_key_block(data: bytes) -> str | None:
    """What a file is if it carries a private key block (PEM, OpenSSH, PGP, SSH2, PuTTY)."""
    if _KEY_BLOCK.search(data) is None:
        return None
    return "private key block (BEGIN ... PRIVATE KEY)"


def reason_by_content(data: bytes) -> str | None:
    """What a small JSON document is if it holds a cloud credential, else None."""
    if not any(hint in data.lower() for hint in _CONTENT_HINTS):
        return None
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(doc, dict):
        return None
    # Values must be non-empty strings: a vocabulary mapping the token "clientSecret" to an id
    # is not a credential.
    keys = {str(k).lower(): v for k, v in doc.items() if isinstance(v, str) and v}
    kind = keys.get("type", "").lower()
    if kind == "service_account" and "private key" in keys.get("private_key", "").lower():
        return "cloud service-account key (private_key)"
    if kind == "authorized_user" and ("refresh_token" in keys or "client_secret" in keys):
        return "cloud user credentials (refresh_token)"
    if "clientsecret" in keys and ("clientid" in keys or "tenantid" in keys):
        return "Azure service principal (clientSecret)"
    if {"appid", "password", "tenant"} <= keys.keys():
        return "Azure service principal (appId + password)"
    for nested in ("installed", "web"):  # Google OAuth client files
        inner = doc.get(nested)
        if isinstance(inner, dict) and isinstance(inner.get("client_secret"), str):
            return "OAuth client secret"
    return None


def secret_reason(root: Path, rel: str) -> str | None:
    """Why the workspace file `rel` looks like a secret, or None.

    Names decide first; then a file of at most MAX_CONTENT_BYTES is read once for a private-key
    block and, when it is `.json`, for a cloud credential. Larger files are not read (bounded:
    a key pasted into a big file is sent)."""
    why = reason_by_name(rel)
    if why is not None:
        return why
    path = root / rel
    try:
        if path.stat().st_size > MAX_CONTENT_BYTES:
            return None
        with path.open("rb") as handle:
            data = handle.read(MAX_CONTENT_BYTES + 1)
    except OSError:
        return None
    if rel.lower().endswith(".json"):
        why = reason_by_content(data)
    return why or reason_by_key_block(data)

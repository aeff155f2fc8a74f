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
Added after the second hardening round (issue 22, read 2026-12-05): env-file variants (`.env-prod`,
`.env_local`, `.env~`); every `*.tfvars` / `*.tfvars.json` (github/gitignore `Terraform.gitignore`
ignores them all: "likely to contain sensitive data"; Terraform auto-loads `*.auto.tfvars`);
Kaggle's `kaggle.json` and `.kaggle/`; `rclone.conf` (its passwords are obscured, not encrypted);
the Azure CLI's `msal_token_cache.*` and `service_principal_entries.json` outside `.azure/`; GnuPG's
`secring.gpg`. Content rules by name: a `pip.conf`/`pip.ini`/requirements file whose index URL
carries `user:password@`, a `.yarnrc.yml` / `.yarnrc` with `npmAuthToken` (not a `${VAR}`
reference). Content of any small file: a binary OpenPGP secret key (`gpg --export-secret-keys`).
Content is read as UTF-8 after a UTF-16 byte-order mark or UTF-16 form is recognised (what
Windows PowerShell 5's `>` writes), so a key saved that way is still recognised.
"""

from __future__ import annotations

import codecs
import json
import re
from pathlib import Path

MAX_CONTENT_BYTES = 64 * 1024  # files read for content checks; key files are ~2-3 KiB

# Env-file templates carry placeholders by convention and are meant to be shared.
_TEMPLATE = r"(?:example|sample|template|dist|defaults?)"
_ORDINARY = re.compile(rf"(?:^|/)(?:\.env[-_.]{_TEMPLATE}|{_TEMPLATE}\.env)$", re.IGNORECASE)

_CRED_EXT = r"\.(?:json|xml|ya?ml|csv|db|ini|toml|txt|conf|cfg)"

# (pattern on the posix path relative to the workspace root, what the file is)
NAME_RULES: tuple[tuple[str, str], ...] = (
    # `.env`, `.env.prod`, `.env-production`, `.env_local`, an editor's `.env~`, `prod.env~`
    (r"(?:^|/)\.env(?:[-_.~][^/]*)?$", "environment file"),
    (r"(?:^|/)[^/]+\.env~?$", "environment file"),
    (r"(?:^|/)\.envrc$", "direnv environment file"),
    (r"(?:^|/)id_(?:rsa|dsa|ecdsa|ed25519)(?![^/]*\.pub$)[^/]*$", "SSH private key"),
    (r"(?:^|/)[^/]*_(?:rsa|dsa|ecdsa|ed25519)$", "SSH private key"),
    (r"\.(?:pem|key|ppk|p8)$", "private key"),
    (r"\.(?:p12|pfx|pkcs12|jks|keystore|bks)$", "key store"),
    (r"\.(?:kdbx|keychain|keyring|agilekeychain|psafe3)$", "password database"),
    (r"\.ovpn$", "VPN profile (embeds keys)"),
    (r"\.tfstate(?:\.backup)?$", "Terraform state (holds secrets in clear)"),
    (r"\.tfvars(?:\.json)?$", "Terraform variables"),
    (r"(?:^|/)\.(?:ssh|gnupg|aws|azure|kube|docker|kaggle)/", "credentials folder"),
    (r"(?:^|/)kaggle\.json$", "Kaggle API token"),
    (r"(?:^|/)rclone\.conf$", "rclone remotes (tokens, obscured passwords)"),
    (r"(?:^|/)(?:msal_token_cache\.[^/]+|service_principal_entries\.json)$", "Azure CLI tokens"),
    (r"(?:^|/)secring\.(?:gpg|skr)$", "GnuPG secret keyring"),
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
    # Every match holds one of these literals; `in` is ~30x faster than the regex's scan of a
    # file without them (16 vs 510 us per 10 KB): most of a first sync's secret-check cost.
    if b"PRIVATE KEY" not in data and b"PuTTY-User-Key-File-" not in data:
        return None
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


# Files whose content decides, by name: (name pattern, content pattern, what the file is).
# pip reads credentials in an index URL (pypa/pip `docs/html/topics/authentication.md`, read
# 2026-12-05): `https://username:password@host/simple`, or a token as the user name alone,
# `https://0123456789abcdef@host/simple`. A `$VAR` / `${VAR}` reference is not a secret; a short
# user name alone (`git+ssh://git@...`, `https://alice@...`) is not taken for a token.
_URL_PASSWORD = (
    rb"[a-z][a-z0-9+.-]*://[^\s/@:]+:(?!\$)[^\s/@]+@"
    rb"|(?:git\+)?https?://(?!\$)[^\s/@:]{16,}@"
)
# Yarn's `npmAuthToken` / `npmAuthIdent` (.yarnrc.yml) and npm's `_authToken` style keys (.yarnrc);
# Yarn reads `${NPM_TOKEN}` from the environment, which is not a secret.
_AUTH_KEY = (
    rb"(?im)^\s*[\"']?(?:npmAuthToken|npmAuthIdent|[^\s:=]*:?_authToken|_auth|_password)[\"']?"
    rb"(?:[ \t]*[:=][ \t]*|[ \t]+)[\"']?(?!\$)[^\s\"'#]"
)
NAMED_CONTENT_RULES: tuple[tuple[str, bytes, str], ...] = (
    (r"(?:^|/)pip\.(?:conf|ini)$", _URL_PASSWORD, "pip index URL with a credential"),
    (
        r"(?:^|/)[^/]*(?:requirements|constraints)[^/]*\.(?:txt|in)$",
        _URL_PASSWORD,
        "pip index URL with a credential",
    ),
    (r"(?:^|/)\.yarnrc(?:\.ya?ml)?$", _AUTH_KEY, "Yarn registry token"),
)
_NAMED_CONTENT_RULES = tuple(
    (re.compile(name, re.IGNORECASE), re.compile(content, re.IGNORECASE), why)
    for name, content, why in NAMED_CONTENT_RULES
)


def reason_by_named_content(rel: str, data: bytes) -> str | None:
    """What `rel` is if its name says its content may hold a credential and it does."""
    for name, content, why in _NAMED_CONTENT_RULES:
        if name.search(rel) and content.search(data):
            return why
    return None


# OpenPGP packets (RFC 9580, read 2026-12-05): a header byte with bit 7 set; bit 6 set is the
# OpenPGP format (tag = low 6 bits, then a 1-, 2- or 5-octet length: first octet < 192, 192..223,
# 255), clear is the legacy format (tag = bits 5..2, length type = bits 1..0: 1, 2 or 4 octets).
# Tag 5 is a Secret-Key packet, 7 a Secret-Subkey packet (section 5.5); their body opens with the
# version (3, 4, 5 or 6), a 4-octet creation time (v3: then a 2-octet validity) and the public-key
# algorithm (section 9.1: 1-3 RSA, 16 Elgamal, 17 DSA, 18 ECDH, 19 ECDSA, 22 EdDSALegacy,
# 25 X25519, 26 X448, 27 Ed25519, 28 Ed448). `gpg --export-secret-keys` starts with one.
_PGP_SECRET_TAGS = frozenset({5, 7})
_PGP_ALGORITHMS = frozenset({1, 2, 3, 16, 17, 18, 19, 20, 22, 25, 26, 27, 28})
# What follows a key packet in `gpg --export-secret-keys`: signature, secret subkey, trust, user ID,
# user attribute (RFC 9580 10.1, transferable secret keys); the next key opens with tag 5 again.
_PGP_EXPORT_FOLLOWERS = frozenset({2, 7, 12, 13, 17})


def _pgp_header(data: bytes, at: int) -> tuple[int, int, int] | None:
    """(tag, body start, body length) of the OpenPGP packet header at `at` (RFC 9580 4.2), or None
    where the bytes there are no definite-length packet header."""
    if len(data) < at + 2 or not data[at] & 0x80:
        return None
    octet = data[at]
    if octet & 0x40:  # new format
        tag, first = octet & 0x3F, data[at + 1]
        if first < 192:
            return tag, at + 2, first
        if first < 224 and len(data) >= at + 3:
            return tag, at + 3, ((first - 192) << 8) + data[at + 2] + 192
        if first == 255 and len(data) >= at + 6:
            return tag, at + 6, int.from_bytes(data[at + 2 : at + 6], "big")
        return None  # partial body lengths are never used for key packets
    tag, kind = (octet >> 2) & 0x0F, octet & 0x03
    size = {0: 1, 1: 2, 2: 4}.get(kind)
    if size is None or len(data) < at + 1 + size:
        return None
    return tag, at + 1 + size, int.from_bytes(data[at + 1 : at + 1 + size], "big")


def reason_by_pgp_packet(data: bytes) -> str | None:
    """What a file is if it is a binary OpenPGP secret key (`gpg --export-secret-keys`).

    Random binary data (a dataset shard, weights) can open like a packet header by chance (about 1
    file in 20,000 passed the header, version and algorithm checks alone; one in 20,000 more also
    had a plausible second header), so the whole file must be a chain of key-export packets: a
    secret-key packet, then only packets a key export holds, each whole, the last ending where the
    file ends. A cut-off key is no key."""
    header = _pgp_header(data, 0)
    if header is None:
        return None
    tag, start, length = header
    if tag not in _PGP_SECRET_TAGS or length < 8 or len(data) < start + 8:
        return None
    version = data[start]
    if version not in (3, 4, 5, 6):
        return None
    algorithm = data[start + (7 if version == 3 else 5)]
    if algorithm not in _PGP_ALGORITHMS:
        return None
    end = start + length
    while end < len(data):
        following = _pgp_header(data, end)
        if following is None or following[0] not in _PGP_EXPORT_FOLLOWERS | _PGP_SECRET_TAGS:
            return None
        end = following[1] + following[2]
    return "OpenPGP secret key (binary)" if end == len(data) else None


def as_utf8(data: bytes) -> bytes:
    """`data` as UTF-8 when it is UTF-16 (or UTF-32) text, else as it is.

    UTF-16 is recognised by its byte-order mark, or, without one, by ASCII text with a NUL beside
    every character (what Windows PowerShell 5's `>` and `Out-File` write); UTF-32 by its mark
    (`Out-File -Encoding utf32`). A key or a credential JSON saved that way must be found like its
    UTF-8 twin."""
    if data.startswith((codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):  # before UTF-16: FF FE 00 00
        return data.decode("utf-32", errors="replace").encode("utf-8")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16"
    else:
        head = data[:64]
        even, odd = head[0::2], head[1::2]
        if len(head) < 4:
            return data
        if odd.count(0) == len(odd) and 0 not in even:
            encoding = "utf-16-le"
        elif even.count(0) == len(even) and 0 not in odd:
            encoding = "utf-16-be"
        else:
            return data
    return data[: len(data) // 2 * 2].decode(encoding, errors="replace").encode("utf-8")


def secret_reason(root: Path, rel: str) -> str | None:
    """Why the workspace file `rel` looks like a secret, or None.

    Names decide first; then a file of at most MAX_CONTENT_BYTES is read once (as UTF-8 when it is
    UTF-16 text) for a private-key block, a binary OpenPGP secret key, what its name says it may
    hold (`NAMED_CONTENT_RULES`) and, when it is `.json`, a cloud credential. Larger files are not
    read (bounded: a key pasted into a big file is sent)."""
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
    text = as_utf8(data)
    if rel.lower().endswith(".json"):
        why = reason_by_content(text)
    return (
        why
        or reason_by_named_content(rel, text)
        or reason_by_key_block(text)
        or reason_by_pgp_packet(data)
    )

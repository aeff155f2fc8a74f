"""Sync's secret-file refusal: names (any case), JSON keys by content, and `.ftkallow`.

The counts of these lists are quoted in docs/security.md; keep them in step.
"""

from __future__ import annotations

import json
import random

import pytest

from cli.errors import UsageError
from cli.sync import secrets as secrets_mod
from cli.sync.engine import sync
from cli.sync.secrets import MAX_CONTENT_BYTES
from testkit.fakes.targets import MemoryShare
from tests.cli.conftest import write_files

SECRET_NAMES = [
    ".env",
    "prod.env",
    "local.env",
    "Prod.ENV",
    ".env.production",
    ".env.local",
    "config/.ENV",
    ".envrc",
    "id_rsa",
    "ID_RSA",
    "keys/id_ed25519",
    "id_ecdsa_sk",
    "deploy_rsa",
    "server.PEM",
    "tls/private.key",
    "putty.ppk",
    "AuthKey_ABC123.p8",
    "cert.p12",
    "cert.PFX",
    "release.keystore",
    "android.jks",
    ".aws/credentials",
    "home/.AWS/config",
    "credentials",
    ".git-credentials",
    ".npmrc",
    ".pypirc",
    ".netrc",
    "_netrc",
    ".pgpass",
    ".htpasswd",
    ".s3cfg",
    ".docker/config.json",
    ".kube/config",
    "kubeconfig.yaml",
    ".ssh/config",
    ".azure/msal_token_cache.json",
    ".config/gcloud/application_default_credentials.json",
    "gcp-credentials.json",
    "new_user_credentials.csv",
    "client_secret_123.apps.googleusercontent.com.json",
    "my-service-account.json",
    "secrets.toml",
    ".streamlit/secrets.toml",
    ".huggingface/token",
    ".cache/huggingface/token",
    "terraform.tfstate",
    "vault.kdbx",
    "vpn/office.ovpn",
    # issue 22: env-file variants, Kaggle, Terraform variables, rclone, Azure CLI, GnuPG
    ".env-production",
    ".env_local",
    ".env~",
    "prod.env~",
    "kaggle.json",
    ".kaggle/kaggle.json",
    "prod.auto.tfvars",
    "infra/dev.auto.tfvars.json",
    "rclone.conf",
    "msal_token_cache.json",
    "secring.gpg",
]

ORDINARY_NAMES = [
    "environment.yml",
    "keyboard.py",
    "tokenizer.json",
    "train.jsonl",
    "tokens.py",
    "secret_sauce.md",
    "special_tokens_map.json",
    "tokenizer_config.json",
    "keys.py",
    "env.py",
    "envs/cartpole.py",
    ".env.example",
    "sample.env",
    "id_rsa.pub",
    "credentials.py",
    "password_strength.py",
    "docs/secrets.md",
    "rsa_utils.py",
    "certs/ca.crt",
    "adapter_config.json",
    "data/keyframes.jsonl",
    "pem_parser.py",
    "docker-compose.yml",
    "model.safetensors",
    ".env-example",
    "main.tf",
    "envoy.yaml",
]

SERVICE_ACCOUNT = {
    "type": "service_account",
    "project_id": "p",
    "private_key_id": "0123",
    "private_key": "-----BEGIN PRIVATE KEY-----\nMIIB\n-----END PRIVATE KEY-----\n",
    "client_email": "x@p.iam.gserviceaccount.com",
}
SECRET_CONTENTS = {
    "keys/prod-4f2a.json": SERVICE_ACCOUNT,
    "azure-auth.json": {  # `az ad sp create-for-rbac --sdk-auth`
        "clientId": "00000000-0000-0000-0000-000000000000",
        "clientSecret": "s3cr3t",
        "subscriptionId": "s",
        "tenantId": "t",
    },
    "rbac.json": {"appId": "a", "displayName": "ftk", "password": "p", "tenant": "t"},
    "adc.json": {"type": "authorized_user", "client_id": "c", "refresh_token": "r"},
    "oauth.json": {"installed": {"client_id": "c", "client_secret": "s"}},
}
ORDINARY_CONTENTS = {
    "config.json": {"type": "service_account_template", "fields": ["private_key"]},
    "vocab.json": {"password": 1, "private_key": 2, "clientSecret": 3},
    "list.json": [{"type": "service_account", "private_key": "x"}],
    "broken.json": "{not json: private_key",
}


def test_secret_looking_names_are_refused_in_any_case_and_ordinary_ones_sent(tmp_path):
    root = write_files(tmp_path, {name: "x" for name in SECRET_NAMES + ORDINARY_NAMES})
    share = MemoryShare()
    result = sync(root, share)
    assert sorted(result.refused) == sorted(SECRET_NAMES)
    assert sorted(result.uploaded) == sorted(ORDINARY_NAMES)
    assert not set(SECRET_NAMES) & set(share.files)
    assert result.reasons["prod.env"] == "environment file"
    assert result.reasons["ID_RSA"] == "SSH private key"


def test_credential_json_is_recognised_by_content_whatever_its_name(tmp_path):
    texts = {rel: json.dumps(doc) for rel, doc in SECRET_CONTENTS.items()}
    texts |= {
        rel: doc if isinstance(doc, str) else json.dumps(doc)
        for rel, doc in ORDINARY_CONTENTS.items()
    }
    root = write_files(tmp_path, texts)
    result = sync(root, MemoryShare())
    assert sorted(result.refused) == sorted(SECRET_CONTENTS)
    assert sorted(result.uploaded) == sorted(ORDINARY_CONTENTS)
    assert "service-account key" in result.reasons["keys/prod-4f2a.json"]
    assert "clientSecret" in result.reasons["azure-auth.json"]


def test_content_checks_read_only_small_files_and_parse_only_json(tmp_path, monkeypatch):
    big = dict(SERVICE_ACCOUNT, padding="x" * MAX_CONTENT_BYTES)
    root = write_files(
        tmp_path,
        {
            "big.json": json.dumps(big),
            "big-notes.txt": PEM_RSA + "x" * MAX_CONTENT_BYTES,
            "key.txt": json.dumps(SERVICE_ACCOUNT),
        },
    )
    parsed: list[bytes] = []
    real = secrets_mod.reason_by_content
    monkeypatch.setattr(secrets_mod, "reason_by_content", lambda d: parsed.append(d) or real(d))
    result = sync(root, MemoryShare())
    # Files over the bound are not read (a key pasted into a big file is sent: documented); a
    # small non-JSON file is read for key blocks but never parsed as JSON.
    assert sorted(result.uploaded) == ["big-notes.txt", "big.json"]
    assert result.refused == ["key.txt"] and "private key" in result.reasons["key.txt"]
    assert parsed == []


PEM_RSA = "-----BEGIN RSA PRIVATE KEY-----\nMIIEow\n-----END RSA PRIVATE KEY-----\n"


def pem(label: str, dashes: str = "-----") -> str:
    return f"{dashes}BEGIN {label}{dashes}\nMIIB\n{dashes}END {label}{dashes}\n"


KEY_BLOCKS = {  # detect-secrets' private-key markers, in files whose names say nothing
    "notes.txt": f"deploy notes\n\n{PEM_RSA}\nrotate monthly\n",
    "deploy_key": pem("OPENSSH PRIVATE KEY"),
    "server.cfg": pem("EC PRIVATE KEY"),
    "legacy.txt": pem("DSA PRIVATE KEY"),
    "pkcs8.txt": pem("PRIVATE KEY"),
    "locked.txt": pem("ENCRYPTED PRIVATE KEY"),
    "signing.asc": pem("PGP PRIVATE KEY BLOCK"),
    "tectia.txt": pem("SSH2 ENCRYPTED PRIVATE KEY", dashes="---- ").replace("KEY---- ", "KEY ----"),
    "putty.txt": "PuTTY-User-Key-File-3: ssh-ed25519\nEncryption: none\nPrivate-Lines: 1\nAAAA\n",
    "old-putty": "PuTTY-User-Key-File-2: ssh-rsa\nEncryption: none\n",
}
NOT_KEY_BLOCKS = {  # public halves, certificates, and text about keys
    "cert.txt": pem("CERTIFICATE"),
    "pub.txt": pem("PUBLIC KEY"),
    "authorized_keys": "ssh-ed25519 AAAAC3Nza user@host\n",
    "pgp-pub.asc": pem("PGP PUBLIC KEY BLOCK"),
    "README.md": "Never commit a BEGIN RSA PRIVATE KEY block or a private key file.\n",
    "check.py": "MARKER = 'BEGIN PRIVATE KEY'  # without the dashes\n",
}


def test_a_private_key_block_is_refused_whatever_the_file_is_called(tmp_path):
    root = write_files(tmp_path, KEY_BLOCKS | NOT_KEY_BLOCKS)
    share = MemoryShare()
    result = sync(root, share)
    assert sorted(result.refused) == sorted(KEY_BLOCKS)
    assert sorted(result.uploaded) == sorted(NOT_KEY_BLOCKS)
    assert not set(KEY_BLOCKS) & set(share.files)
    assert result.reasons["notes.txt"] == "private key block (BEGIN ... PRIVATE KEY)"


# The first 16 bytes of real `gpg --export-secret-keys` / `gpg --export` output (GnuPG 2.2, an
# ed25519 key): a legacy-format Secret-Key packet (tag 5) and Public-Key packet (tag 6), v4,
# algorithm 22 (EdDSA).
# Each packet is made whole (its stated 0x58-byte body) and followed by a user ID packet, as in
# an export.
GPG_SECRET = bytes.fromhex("9458046b14a0d716092b06010401da47").ljust(90, b"\0") + b"\xb4\x05alice"
GPG_SECRET_NEW_FORMAT = (  # RSA, tag 5, new-format header, the user ID packet new-format too
    (bytes.fromhex("c55804") + bytes(4) + b"\x01").ljust(90, b"\0") + b"\xcd\x05alice"
)
GPG_PUBLIC = bytes.fromhex("9833046b14a0d716092b06010401da47").ljust(53, b"\0") + b"\xb4\x05alice"

NAMED_CONTENTS = {  # credentials in files whose names say they may hold one
    "pip.conf": "[global]\nindex-url = https://alice:s3cr3t@pypi.example.com/simple\n",
    "requirements.txt": "--extra-index-url https://__token__:pypi-AgEI@x.example/simple\ntorch\n",
    ".yarnrc.yml": "npmRegistryServer: https://npm.example.com\nnpmAuthToken: npm_abc123\n",
    "web/.yarnrc": '"//registry.npmjs.org/:_authToken" "npm_abc123"\n',
    "ml/pip.ini": "[global]\nextra-index-url = https://0123456789abcdef@pypi.example.com/simple\n",
}
NAMED_ORDINARY = {  # the same files without a credential, or with a reference to one
    "ci/pip.conf": "[global]\nindex-url = https://${PIP_USER}:${PIP_PASSWORD}@pypi.x/simple\n",
    "docs/pip.conf": "[global]\nindex-url = https://mirror.example.com:8080/simple\n",
    "requirements-dev.txt": "pytest\n--index-url https://pypi.org/simple\n",
    "requirements-git.txt": "pkg @ git+ssh://git@github.com/o/pkg.git\nx @ https://alice@x.io/x.whl\n",
    "app/.yarnrc.yml": 'npmAuthToken: "${NPM_TOKEN}"\n',
    "notes/pip.md": "index-url = https://alice:s3cr3t@pypi.example.com/simple\n",  # not pip's
}


def test_credentials_found_by_what_a_files_name_says_it_may_hold(tmp_path):
    root = write_files(tmp_path, NAMED_CONTENTS | NAMED_ORDINARY)
    result = sync(root, MemoryShare())
    assert sorted(result.refused) == sorted(NAMED_CONTENTS)
    assert sorted(result.uploaded) == sorted(NAMED_ORDINARY)
    assert result.reasons["pip.conf"] == "pip index URL with a credential"
    assert result.reasons[".yarnrc.yml"] == "Yarn registry token"


def test_a_binary_gpg_secret_key_is_refused_and_a_public_one_sent(tmp_path):
    for rel, data in {
        "private.gpg": GPG_SECRET,
        "keys/backup.bin": GPG_SECRET_NEW_FORMAT,
        "public.gpg": GPG_PUBLIC,
    }.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(data)
    result = sync(tmp_path, MemoryShare())
    assert result.refused == ["keys/backup.bin", "private.gpg"]
    assert result.uploaded == ["public.gpg"]
    assert result.reasons["private.gpg"] == "OpenPGP secret key (binary)"


def test_random_binary_data_is_not_taken_for_a_gpg_key():
    """The syncspeed benchmark's 20,000 random files had one refused as a key: a data file that
    opens like a packet header by chance must still be sent (and a cut-off key is no key)."""
    from cli.sync.secrets import reason_by_pgp_packet

    rng = random.Random(20261205)
    blobs = [rng.randbytes(256) for _ in range(200_000)]  # the old check refused 3 of these
    flagged = [b[:4].hex() for b in blobs if reason_by_pgp_packet(b)]
    assert flagged == []
    assert reason_by_pgp_packet(GPG_SECRET) and not reason_by_pgp_packet(GPG_SECRET[:60])


def test_a_data_file_with_two_plausible_packet_headers_is_not_a_gpg_key():
    """The sync benchmark's 20,000-file shape refused a 1,423-byte random file: a secret-key
    header (legacy tag 5, 211 octets, v4, RSA) and, after it, a user ID header claiming 42,747
    octets. A key export is packets end to end, so that file is data."""
    from cli.sync.secrets import reason_by_pgp_packet

    filler = random.Random(1033).randbytes(1423)
    key_like = bytes.fromhex("94d304") + filler[3:7] + b"\x01" + filler[8:213]
    data = key_like + bytes.fromhex("b5a6fb") + filler[216:]
    assert len(data) == 1423 and reason_by_pgp_packet(data) is None
    # Still refused: two keys exported together, and a key with its subkey and signature.
    assert reason_by_pgp_packet(GPG_SECRET + GPG_SECRET_NEW_FORMAT)
    subkey = bytes.fromhex("9c1004") + bytes(4) + b"\x01" + bytes(10)  # tag 7, 16 octets
    signature = bytes.fromhex("8803") + b"sig"
    assert reason_by_pgp_packet(GPG_SECRET + subkey + signature)


def test_keys_and_credentials_saved_as_utf16_are_refused_like_their_utf8_twins(tmp_path):
    sp = json.dumps(SECRET_CONTENTS["azure-auth.json"])
    saved = {  # PowerShell 5's `>` writes UTF-16 LE with a BOM; other tools drop the BOM
        "sp.json": sp.encode("utf-16"),
        "sa.json": json.dumps(SERVICE_ACCOUNT).encode("utf-16-le"),
        "notes.txt": ("deploy notes\n" + PEM_RSA).encode("utf-16"),
        "deploy_key.txt": pem("OPENSSH PRIVATE KEY").encode("utf-16-be"),
        "pip.conf": NAMED_CONTENTS["pip.conf"].encode("utf-16"),
        "rbac.json": json.dumps(SECRET_CONTENTS["rbac.json"]).encode("utf-32"),
        "readme.txt": "ordinary text saved by PowerShell\n".encode("utf-16"),
        "vocab.json": json.dumps(ORDINARY_CONTENTS["vocab.json"]).encode("utf-16"),
    }
    for rel, data in saved.items():
        (tmp_path / rel).write_bytes(data)
    result = sync(tmp_path, MemoryShare())
    assert result.refused == [
        "deploy_key.txt",
        "notes.txt",
        "pip.conf",
        "rbac.json",
        "sa.json",
        "sp.json",
    ]
    assert result.uploaded == ["readme.txt", "vocab.json"]
    assert "clientSecret" in result.reasons["sp.json"]


def test_ftkallow_sends_a_file_refused_for_its_key_block(tmp_path):
    root = write_files(tmp_path, {"notes.txt": KEY_BLOCKS["notes.txt"], ".ftkallow": "notes.txt\n"})
    result = sync(root, MemoryShare())
    assert result.refused == [] and result.allowed == ["notes.txt"]


def test_a_negation_in_ftkignore_does_not_reinclude_secrets(tmp_path):
    root = write_files(
        tmp_path,
        {
            ".gitignore": "deploy/\n*.pem\n",
            ".ftkignore": "!deploy/\n!*.pem\n!deploy/.env\n",
            "deploy/.env": "HF_TOKEN=hf_x",
            "deploy/run.sh": "echo",
            "certs/server.pem": "key",
        },
    )
    share = MemoryShare()
    result = sync(root, share)
    assert sorted(result.refused) == ["certs/server.pem", "deploy/.env"]
    assert "deploy/run.sh" in result.uploaded and "deploy/.env" not in share.files


def test_ftkallow_sends_one_named_file_and_reports_it_on_every_sync(tmp_path):
    root = write_files(
        tmp_path,
        {
            ".ftkallow": "# public certificate the server needs\ncerts/public.pem\n./DEPLOY.key\n",
            "certs/public.pem": "cert",
            "certs/private.pem": "key",
            "DEPLOY.key": "k",
        },
    )
    share = MemoryShare()
    first = sync(root, share)
    assert first.allowed == ["DEPLOY.key", "certs/public.pem"]
    assert first.refused == ["certs/private.pem"]
    assert share.files["certs/public.pem"] == b"cert"
    again = sync(root, share)  # nothing changed: still reported
    assert again.uploaded == [] and again.allowed == ["DEPLOY.key", "certs/public.pem"]
    assert again.to_dict()["allowed"] == ["DEPLOY.key", "certs/public.pem"]


def test_ftkallow_does_not_override_ignore_rules(tmp_path):
    root = write_files(
        tmp_path, {".ftkallow": "old/.env\n", ".ftkignore": "old/\n", "old/.env": "x"}
    )
    result = sync(root, MemoryShare())
    assert result.allowed == [] and "old/.env" not in result.uploaded


@pytest.mark.parametrize("line", ["*.pem", "certs/", "!x.pem", "certs/[ab].pem", "a?.key"])
def test_ftkallow_lines_must_name_one_file(tmp_path, line):
    root = write_files(tmp_path, {".ftkallow": f"ok.pem\n{line}\n", "ok.pem": "x"})
    with pytest.raises(UsageError, match=r"\.ftkallow line 2") as info:
        sync(root, MemoryShare())
    assert "on its own line" in (info.value.hint or "")


def test_cli_prints_refusals_and_allowed_secrets_even_with_json(project, fake_target, invoke):
    (project / ".env").write_text("HF_TOKEN=hf_secret")
    (project / "id_rsa").write_text("-----BEGIN OPENSSH PRIVATE KEY-----")
    (project / ".ftkallow").write_text("id_rsa\n")
    for args in (["sync", "--json"], ["sync"], ["sync", "--json"]):
        result = invoke(fake_target, args, project)
        assert result.exit_code == 0, result.output
        assert "refused .env: looks like a secret (environment file)" in result.stderr
        assert "'.env' to .ftkallow" in result.stderr
        assert "id_rsa although it looks like a secret (SSH private key)" in result.stderr
        assert "hf_secret" not in result.output and "BEGIN" not in result.output
        if "--json" in args:
            data = json.loads(result.stdout)
            assert data["refused"] == [".env"] and data["allowed"] == ["id_rsa"]


def test_run_reports_allowed_secrets_too(project, fake_target, invoke):
    (project / "deploy.pem").write_text("k")
    (project / ".ftkallow").write_text("deploy.pem\n")
    result = invoke(fake_target, ["run", "--json"], project)
    assert result.exit_code == 0, result.output
    assert "deploy.pem although it looks like a secret" in result.stderr
    assert json.loads(result.stdout)["sync"]["allowed"] == ["deploy.pem"]

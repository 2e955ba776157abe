"""Cryptography for Xuncha Intake (SPEC §3): the only package that touches ``cryptography.hazmat``.

Pure and synchronous: no database, no web, no ``await``. Slow calls (Argon2id in receipts,
passwords and password-wrapped keys) are thread-safe and release the GIL; callers run them in a
thread pool bounded to the number of cores.

- :mod:`crypto.envelope` — per-case data key; content fields sealed with AES-256-GCM, padded.
- :mod:`crypto.stream` — attachments in 64 KiB authenticated segments, constant memory.
- :mod:`crypto.keys` — ML-KEM-768+X25519 keypairs, key ids, HPKE wrapping to bodies/members.
- :mod:`crypto.user_keys` — a user's private key under their password and a recovery code.
- :mod:`crypto.escrow` — the 巡察办 escrow key and its printable armour.
- :mod:`crypto.receipts` — receipt codes, lookup ids and reporter keys.
- :mod:`crypto.passwords`, :mod:`crypto.totp` — staff login.
- :mod:`crypto.blind_index` — HMAC over the normalised accused name and unit.
- :mod:`crypto.server_secrets` — the key file's contents.
- :mod:`crypto.symmetric` — small secrets sealed under a 32-byte key with a purpose.
- :mod:`crypto.audit` — the audit hash chain.

Design, formats and threat model: ``docs/crypto.md``.
"""

from crypto.argon import PASSWORD_ARGON2, RECEIPT_ARGON2, Argon2Params
from crypto.audit import (
    GENESIS_HASH,
    AuditEvent,
    ChainBreak,
    ChainVerdict,
    chain_event,
    event_hash,
    verify_chain,
)
from crypto.blind_index import blind_index, normalise_for_index
from crypto.envelope import (
    CaseField,
    CaseKey,
    open_field,
    open_text,
    padded_size,
    seal_field,
    seal_text,
    unwrap_case_key_for_reporter,
    wrap_case_key_for_reporter,
)
from crypto.errors import (
    BlindIndexInputError,
    CryptoError,
    DecryptionFailed,
    KeyFormatError,
    PasswordHashFormatError,
    ReceiptFormatError,
    RecoveryCodeFormatError,
    StreamStateError,
)
from crypto.escrow import EscrowCeremony, armour_escrow_key, generate_escrow_key, read_escrow_armour
from crypto.keys import (
    KeyPair,
    PublicKey,
    unwrap_body_key,
    unwrap_case_key,
    wrap_body_key,
    wrap_case_key,
    wrapped_key_id,
)
from crypto.passwords import hash_password, password_needs_rehash, verify_password
from crypto.receipts import (
    ReceiptKeys,
    derive_receipt_keys,
    format_receipt,
    generate_receipt,
    normalise_receipt,
)
from crypto.server_secrets import ServerSecrets
from crypto.stream import (
    SEGMENT_SIZE,
    StreamOpener,
    StreamSealer,
    open_stream,
    seal_stream,
    sealed_size,
)
from crypto.symmetric import new_key, open_secret, seal_secret
from crypto.totp import new_totp_secret, totp_code, totp_provisioning_uri, verify_totp
from crypto.user_keys import (
    generate_recovery_code,
    normalise_recovery_code,
    unwrap_user_key_with_password,
    unwrap_user_key_with_recovery_code,
    wrap_user_key_with_password,
    wrap_user_key_with_recovery_code,
)

__all__ = [
    "GENESIS_HASH",
    "PASSWORD_ARGON2",
    "RECEIPT_ARGON2",
    "SEGMENT_SIZE",
    "Argon2Params",
    "AuditEvent",
    "BlindIndexInputError",
    "CaseField",
    "CaseKey",
    "ChainBreak",
    "ChainVerdict",
    "CryptoError",
    "DecryptionFailed",
    "EscrowCeremony",
    "KeyFormatError",
    "KeyPair",
    "PasswordHashFormatError",
    "PublicKey",
    "ReceiptFormatError",
    "ReceiptKeys",
    "RecoveryCodeFormatError",
    "ServerSecrets",
    "StreamOpener",
    "StreamSealer",
    "StreamStateError",
    "armour_escrow_key",
    "blind_index",
    "chain_event",
    "derive_receipt_keys",
    "event_hash",
    "format_receipt",
    "generate_escrow_key",
    "generate_receipt",
    "generate_recovery_code",
    "hash_password",
    "new_key",
    "new_totp_secret",
    "normalise_for_index",
    "normalise_receipt",
    "normalise_recovery_code",
    "open_field",
    "open_secret",
    "open_stream",
    "open_text",
    "padded_size",
    "password_needs_rehash",
    "read_escrow_armour",
    "seal_field",
    "seal_secret",
    "seal_stream",
    "seal_text",
    "sealed_size",
    "totp_code",
    "totp_provisioning_uri",
    "unwrap_body_key",
    "unwrap_case_key",
    "unwrap_case_key_for_reporter",
    "unwrap_user_key_with_password",
    "unwrap_user_key_with_recovery_code",
    "verify_chain",
    "verify_password",
    "verify_totp",
    "wrap_body_key",
    "wrap_case_key",
    "wrap_case_key_for_reporter",
    "wrap_user_key_with_password",
    "wrap_user_key_with_recovery_code",
    "wrapped_key_id",
]

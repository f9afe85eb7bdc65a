"""Field encryption and keyed lookup hashes for personal data (PIPL / GB/T 35273).

A value is stored as ``v1:<alg>:<base64(nonce + ciphertext + tag)>`` so the cipher is self-describing:
a deployment may switch from AES to SM4 (or rotate keys later) and still read old rows.
Lookups by exact value go through a keyed hash (HMAC-SHA256, or HMAC-SM3 with SM4), never the plaintext.
"""

from __future__ import annotations

import base64
import hmac as std_hmac
import os
from dataclasses import dataclass
from functools import lru_cache

from cryptography.hazmat.primitives import hashes, hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_NONCE = 12
_TAG = 16


class DecryptionError(ValueError):
    pass


@dataclass(frozen=True)
class Keys:
    aes: bytes
    sm4: bytes
    mac: bytes


def _derive(secret: bytes, info: bytes, length: int) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=length, salt=b"linli-data-key", info=info).derive(secret)


@lru_cache(maxsize=4)
def _keys(secret: str) -> Keys:
    raw = secret.encode("utf-8")
    return Keys(
        aes=_derive(raw, b"aes-256-gcm", 32), sm4=_derive(raw, b"sm4-gcm", 16), mac=_derive(raw, b"hmac", 32)
    )


class FieldCipher:
    def __init__(self, secret: str, algorithm: str = "aes") -> None:
        if algorithm not in {"aes", "sm4"}:
            raise ValueError(f"unknown cipher {algorithm!r}; use 'aes' or 'sm4'")
        self.algorithm = algorithm
        self.keys = _keys(secret)
        # One AEAD object for AES: the one-shot API is several times faster than building a Cipher per value,
        # which matters at ledger-import rates. Its output (ciphertext then tag) has the same layout as below.
        self._aesgcm = AESGCM(self.keys.aes)

    def _algo(self, name: str) -> algorithms.AES | algorithms.SM4:
        return algorithms.AES(self.keys.aes) if name == "aes" else algorithms.SM4(self.keys.sm4)

    def encrypt(self, plaintext: str) -> str:
        nonce = os.urandom(_NONCE)
        if self.algorithm == "aes":
            sealed = self._aesgcm.encrypt(nonce, plaintext.encode("utf-8"), None)
        else:
            enc = Cipher(self._algo(self.algorithm), modes.GCM(nonce)).encryptor()
            sealed = enc.update(plaintext.encode("utf-8")) + enc.finalize() + enc.tag
        return f"v1:{self.algorithm}:{base64.b64encode(nonce + sealed).decode('ascii')}"

    def decrypt(self, token: str) -> str:
        try:
            version, name, blob = token.split(":", 2)
            if version != "v1" or name not in {"aes", "sm4"}:
                raise DecryptionError(f"unknown token format {version}:{name}")
            raw = base64.b64decode(blob)
            nonce, body, tag = raw[:_NONCE], raw[_NONCE:-_TAG], raw[-_TAG:]
            dec = Cipher(self._algo(name), modes.GCM(nonce, tag)).decryptor()
            return (dec.update(body) + dec.finalize()).decode("utf-8")
        except DecryptionError:
            raise
        except Exception as exc:  # InvalidTag, binascii errors, bad split
            raise DecryptionError("value cannot be decrypted with the configured LINLI_DATA_KEY") from exc

    def digest(self, value: str, purpose: str) -> str:
        """Keyed hash for exact-match lookup; ``purpose`` separates namespaces (id number vs phone)."""
        message = purpose.encode("ascii") + b"\x00" + value.encode("utf-8")
        if self.algorithm == "aes":
            return std_hmac.digest(self.keys.mac, message, "sha256").hex()
        h = hmac.HMAC(self.keys.mac, hashes.SM3())
        h.update(message)
        return h.finalize().hex()


def cipher() -> FieldCipher:
    from django.conf import settings

    return _cipher(settings.LINLI_DATA_KEY, settings.LINLI_CIPHER)


@lru_cache(maxsize=4)
def _cipher(secret: str, algorithm: str) -> FieldCipher:
    return FieldCipher(secret, algorithm)

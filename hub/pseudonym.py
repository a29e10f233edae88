"""The youth's identity: a keyed HMAC of the BSN, after the elfproef. The BSN itself is
never stored or logged."""

from __future__ import annotations

import hashlib
import hmac
from functools import lru_cache

# BSNs in this range are reserved for testing and exempt from the elfproef (DOMAIN.md).
TEST_RANGE = (999_900_006, 999_999_990)


# The weights' sum times ord("0"): what the ASCII codes of the digits add beyond the digits.
_ZEROS = ord("0") * (9 + 8 + 7 + 6 + 5 + 4 + 3 + 2 - 1)


def elfproef(bsn: str) -> bool:
    """The BSN eleven-test: 9 digits, sum(d_i * w_i) with weights 9..2 and -1 divisible by 11.
    Worked on the digits' ASCII codes in one expression (run for every record of a youth)."""
    if len(bsn) != 9 or not bsn.isascii() or not bsn.isdigit():
        return False
    number = int(bsn)
    if TEST_RANGE[0] <= number <= TEST_RANGE[1]:
        return True
    d = bsn.encode("ascii")
    total = 9 * d[0] + 8 * d[1] + 7 * d[2] + 6 * d[3] + 5 * d[4] + 4 * d[5] + 3 * d[6] + 2 * d[7]
    return (total - d[8] - _ZEROS) % 11 == 0 and number != 0


def pseudonymise(key: bytes, bsn: str) -> str:
    keyed = _keyed(key).copy()  # the key's blocks hashed once: 1.4 us a BSN, not 2.0
    keyed.update(bsn.encode("ascii"))
    return keyed.hexdigest()


@lru_cache(maxsize=16)  # a process uses one key; tests a few
def _keyed(key: bytes) -> hmac.HMAC:
    return hmac.new(key, digestmod=hashlib.sha256)

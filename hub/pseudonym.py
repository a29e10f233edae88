"""The youth's identity: a keyed HMAC of the BSN, after the elfproef. The BSN itself is
never stored or logged."""

from __future__ import annotations

import hashlib
import hmac

# BSNs in this range are reserved for testing and exempt from the elfproef (DOMAIN.md).
TEST_RANGE = (999_900_006, 999_999_990)


def elfproef(bsn: str) -> bool:
    """The BSN eleven-test: 9 digits, sum(d_i * w_i) with weights 9..2 and -1 divisible by 11."""
    if len(bsn) != 9 or not bsn.isdigit():
        return False
    if TEST_RANGE[0] <= int(bsn) <= TEST_RANGE[1]:
        return True
    digits = [int(c) for c in bsn]
    total = sum(d * w for d, w in zip(digits[:8], range(9, 1, -1), strict=True)) - digits[8]
    return total % 11 == 0 and int(bsn) != 0


def pseudonymise(key: bytes, bsn: str) -> str:
    return hmac.new(key, bsn.encode("ascii"), hashlib.sha256).hexdigest()

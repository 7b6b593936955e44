"""Page cursors made by hand, the way an attacker would make them."""

import base64
import json
from uuid import uuid4


def hand_made(position: list[str]) -> str:
    """A token encoded as the service encodes its own, around any position."""
    return base64.urlsafe_b64encode(json.dumps(position).encode()).rstrip(b"=").decode()


# Times that parse, but whose offset takes them out of the years a datetime can hold.
BEFORE_YEAR_ONE = hand_made(["0001-01-01T00:00:00+14:00", str(uuid4())])
AFTER_YEAR_9999 = hand_made(["9999-12-31T23:59:59-14:00", str(uuid4())])
WITHOUT_OFFSET = hand_made(["2026-01-01T00:00:00", str(uuid4())])

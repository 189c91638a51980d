"""`make token OWNER=<uuid> [ADMIN=1]`: print a development token on stdout, alone."""

from __future__ import annotations

import argparse
import os
import sys
import uuid
from pathlib import Path

import devkeys


def main() -> int:
    """Parse the owner and role, print the token."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--owner", required=True, help="owner UUID (the token's sub)")
    parser.add_argument("--admin", action="store_true", help="add the budget:admin role")
    parser.add_argument("--expires-in", type=int, default=24 * 3600, help="seconds")
    parser.add_argument(
        "--dev-dir", type=Path, default=Path(os.environ.get("DEV_DIR", devkeys.DEFAULT_DEV_DIR))
    )
    args = parser.parse_args()
    try:
        owner = str(uuid.UUID(args.owner))
    except ValueError:
        print(f"OWNER must be a UUID, got {args.owner!r}", file=sys.stderr)
        return 2
    dev = devkeys.ensure(args.dev_dir)
    print(dev.token(owner, admin=args.admin, expires_in=args.expires_in))
    return 0


if __name__ == "__main__":
    sys.exit(main())

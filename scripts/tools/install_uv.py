"""Install the pinned uv into a directory, from its PyPI wheel, with python3's standard library.

Usage: python3 scripts/tools/install_uv.py DEST_DIR
The version and the accepted sha256 hashes come from scripts/tools/uv.txt. Nothing is installed
into any Python (a system Python marked externally managed, PEP 668, is fine): the wheel's `uv`
program is copied to DEST_DIR/uv. The index is PyPI's, or UV_DEFAULT_INDEX / UV_INDEX_URL /
PIP_INDEX_URL when set; HTTPS trusts the system's CA store, or SSL_CERT_FILE.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import platform
import re
import ssl
import stat
import sys
import urllib.parse
import urllib.request
import zipfile
from pathlib import Path

PINS = Path(__file__).with_name("uv.txt")


def pin() -> tuple[str, set[str]]:
    """(version, accepted sha256 hashes) from uv.txt."""
    text = PINS.read_text()
    version = re.search(r"^uv==(\S+)", text, re.MULTILINE)
    if not version:
        raise SystemExit(f"{PINS}: no uv==VERSION line")
    return version.group(1), set(re.findall(r"--hash=sha256:([0-9a-f]{64})", text))


def wheel_tag() -> str:
    """The part of a wheel's file name that fits this machine (Linux only, glibc or musl)."""
    machine = {"amd64": "x86_64", "arm64": "aarch64"}.get(platform.machine().lower())
    machine = machine or platform.machine().lower()
    if sys.platform != "linux" or machine not in {"x86_64", "aarch64"}:
        raise SystemExit(
            f"no pinned uv for {sys.platform}/{machine}: install uv yourself "
            "(https://docs.astral.sh/uv/) and run make with UV=uv"
        )
    libc = "manylinux" if platform.libc_ver()[0] == "glibc" else "musllinux"
    return f"{libc}_\\d+_\\d+_{machine}"


def fetch(url: str, accept: str | None = None) -> bytes:
    """GET url (PEP 691 JSON when asked)."""
    if not url.startswith("https://") and not url.startswith("http://"):
        raise SystemExit(f"refusing a non-HTTP index URL: {url}")
    request = urllib.request.Request(url, headers={"Accept": accept} if accept else {})  # noqa: S310
    context = ssl.create_default_context(cafile=os.environ.get("SSL_CERT_FILE") or None)
    with urllib.request.urlopen(request, timeout=120, context=context) as answer:  # noqa: S310
        body: bytes = answer.read()
        return body


def main() -> None:
    dest = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(".tools/bin")
    version, hashes = pin()
    index = (
        os.environ.get("UV_DEFAULT_INDEX")
        or os.environ.get("UV_INDEX_URL")
        or os.environ.get("PIP_INDEX_URL")
        or "https://pypi.org/simple"
    ).rstrip("/")
    page_url = f"{index}/uv/"
    page = json.loads(fetch(page_url, "application/vnd.pypi.simple.v1+json"))
    tag = re.compile(rf"^uv-{re.escape(version)}-py3-none-.*{wheel_tag()}.*\.whl$")
    files = [f for f in page["files"] if tag.match(f["filename"])]
    if not files:
        raise SystemExit(f"uv {version}: no wheel for this machine on {index}")
    chosen = files[0]
    print(f"installing uv {version} into {dest} ({chosen['filename']})", file=sys.stderr)
    data = fetch(urllib.parse.urljoin(page_url, chosen["url"]))
    digest = hashlib.sha256(data).hexdigest()
    if digest not in hashes:
        raise SystemExit(f"{chosen['filename']}: sha256 {digest} is not pinned in {PINS}")
    with zipfile.ZipFile(io.BytesIO(data)) as wheel:
        program = wheel.read(f"uv-{version}.data/scripts/uv")
    dest.mkdir(parents=True, exist_ok=True)
    partial = dest / "uv.partial"
    partial.write_bytes(program)
    partial.chmod(partial.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    partial.replace(dest / "uv")


if __name__ == "__main__":
    main()

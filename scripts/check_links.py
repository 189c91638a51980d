"""Check that every relative link and #anchor in the repository's Markdown resolves.

Usage: python scripts/check_links.py [--root DIR] [FILE.md ...]

Without files it checks every *.md git tracks or would track (a walk of DIR outside git).
Links to http(s)/mailto are not fetched. An anchor is checked against the target's headings,
slugged as GitHub slugs them, and against explicit `<a name|id="...">` anchors. Exit 1 lists
every broken link as `file:line: target (reason)`.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

SKIP_DIRS = {"node_modules", ".venv", ".tools", ".cache", ".git", "dist", ".dev"}
EXTERNAL = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:")  # http:, https:, mailto:, ...
INLINE_LINK = re.compile(
    r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]"  # [text], one level of brackets inside
    r"\(\s*(<[^>]*>|[^)\s]+)(?:\s+\"[^\"]*\")?\s*\)"  # (target "title")
)
REFERENCE_DEF = re.compile(r"^\s{0,3}\[[^\]]+\]:\s*(<[^>]*>|\S+)")
HEADING = re.compile(r"^\s{0,3}(#{1,6})\s+(.*?)\s*#*\s*$")
HTML_ANCHOR = re.compile(r"<a\s+[^>]*(?:name|id)=\"([^\"]+)\"", re.IGNORECASE)
FENCE = re.compile(r"^\s{0,3}(```|~~~)")
INLINE_CODE = re.compile(r"`[^`]*`")


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: its text, lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # links and images keep their text
    text = re.sub(r"<[^>]+>", "", text)  # inline HTML
    text = text.replace("`", "").lower()
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if char in " -_" or category[0] in "LN" or category == "Mn":
            kept.append(char)
    return "".join(kept).replace(" ", "-")


def _lines_outside_code(text: str) -> list[tuple[int, str]]:
    """The lines of a Markdown text with fenced code blocks left out, numbered from 1."""
    lines: list[tuple[int, str]] = []
    fence: str | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        match = FENCE.match(line)
        if match:
            if fence is None:
                fence = match.group(1)
            elif match.group(1) == fence:
                fence = None
            continue
        if fence is None:
            lines.append((number, line))
    return lines


def anchors(text: str) -> set[str]:
    """Every anchor a Markdown file offers: heading slugs (numbered on repeats) and HTML ones."""
    found: set[str] = set()
    seen: dict[str, int] = {}
    for _, line in _lines_outside_code(text):
        found.update(HTML_ANCHOR.findall(line))
        match = HEADING.match(line)
        if not match:
            continue
        base = slug(match.group(2))
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if count == 0 else f"{base}-{count}")
    return found


def links(text: str) -> list[tuple[int, str]]:
    """(line, target) of every inline link, image and reference definition outside code."""
    found: list[tuple[int, str]] = []
    for number, line in _lines_outside_code(text):
        line = INLINE_CODE.sub("", line)
        targets = [m.group(1) for m in INLINE_LINK.finditer(line)]
        definition = REFERENCE_DEF.match(line)
        if definition:
            targets.append(definition.group(1))
        found.extend((number, target.strip("<>")) for target in targets)
    return found


def check_file(path: Path, root: Path) -> list[str]:
    """The broken links of one Markdown file, as 'file:line: target (reason)'."""
    problems: list[str] = []
    text = path.read_text(encoding="utf-8")
    where = path.relative_to(root) if path.is_relative_to(root) else path
    for number, target in links(text):
        if EXTERNAL.match(target):
            continue
        file_part, _, anchor = target.partition("#")
        destination = (path.parent / file_part).resolve() if file_part else path
        if file_part and not destination.exists():
            problems.append(f"{where}:{number}: {target} (no such file)")
            continue
        if not anchor:
            continue
        if destination.is_dir() or destination.suffix.lower() != ".md":
            continue  # GitHub's line anchors (#L10) and the like are not checked
        if anchor not in anchors(destination.read_text(encoding="utf-8")):
            problems.append(f"{where}:{number}: {target} (no such anchor)")
    return problems


def markdown_files(root: Path) -> list[Path]:
    """Every Markdown file git tracks or would track under root (all of them outside git)."""
    git = shutil.which("git")
    try:
        if git is None:
            raise OSError("git not found")
        listed = subprocess.run(  # noqa: S603 - a fixed git command, no shell
            [git, "-C", str(root), "ls-files", "-z", "-co", "--exclude-standard", "--", "*.md"],
            capture_output=True,
            check=True,
            text=True,
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return sorted(
            p for p in root.rglob("*.md") if not SKIP_DIRS.intersection(p.relative_to(root).parts)
        )
    paths = (root / name for name in listed.split("\0") if name)
    return sorted(p for p in paths if p.exists() and not SKIP_DIRS.intersection(p.parts))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("files", nargs="*", type=Path, help="Markdown files (default: all)")
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    args = parser.parse_args(argv)
    root = args.root.resolve()
    files = [f.resolve() for f in args.files] or markdown_files(root)
    problems = [problem for f in files for problem in check_file(f, root)]
    for problem in problems:
        print(problem)
    print(f"links: {len(files)} Markdown files, {len(problems)} broken", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())

"""The link checker: it finds a broken file link and a broken anchor, and the repository passes."""

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_links", ROOT / "scripts/check_links.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


check_links = _load()


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("The outbox and the relay", "the-outbox-and-the-relay"),
        ("Todos & Budget", "todos--budget"),
        ("`make test-faults`: the fault suite", "make-test-faults-the-fault-suite"),
        ("Holds (authorise, capture)", "holds-authorise-capture"),
        ("budget_save_account, step 2.1", "budget_save_account-step-21"),
        ("[Link text](x.md) here", "link-text-here"),
    ],
)
def test_headings_slug_as_github_does(heading: str, anchor: str) -> None:
    assert check_links.slug(heading) == anchor


def _tree(tmp_path: Path, readme: str) -> Path:
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "page.md").write_text(
        "# Page\n\n## Holds\n\n## Holds\n\n```\n## Not a heading\n```\n", encoding="utf-8"
    )
    (tmp_path / "README.md").write_text(readme, encoding="utf-8")
    return tmp_path


def test_good_links_pass(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _tree(
        tmp_path,
        "# Top\n[a](docs/page.md) [b](docs/page.md#holds) [c](docs/page.md#holds-1)\n"
        "[d](#top) [e](https://example.com/nowhere) ![f](docs/)\n"
        "`[not a link](missing.md)`\n```\n[in code](missing.md)\n```\n[ref]: docs/page.md#page\n",
    )
    assert check_links.main(["--root", str(root)]) == 0
    assert capsys.readouterr().out == ""


def test_broken_file_and_anchor_fail(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = _tree(
        tmp_path,
        "# Top\n[a](docs/missing.md)\n[b](docs/page.md#not-there)\n[c](#nowhere)\n"
        "[d](docs/page.md#not-a-heading)\n",
    )
    assert check_links.main(["--root", str(root)]) == 1
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "README.md:2: docs/missing.md (no such file)",
        "README.md:3: docs/page.md#not-there (no such anchor)",
        "README.md:4: #nowhere (no such anchor)",
        "README.md:5: docs/page.md#not-a-heading (no such anchor)",
    ]


def test_the_repository_links_resolve(capsys: pytest.CaptureFixture[str]) -> None:
    assert check_links.main(["--root", str(ROOT)]) == 0, capsys.readouterr().out

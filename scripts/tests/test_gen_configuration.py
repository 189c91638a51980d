"""docs/configuration.md is generated from the settings classes, and `--check` catches drift."""

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location(
    "gen_configuration", ROOT / "scripts/gen_configuration.py"
)
assert spec is not None
assert spec.loader is not None
gen = importlib.util.module_from_spec(spec)
sys.modules["gen_configuration"] = gen
spec.loader.exec_module(gen)


def test_the_committed_page_is_current() -> None:
    assert gen.main(["--check"]) == 0


def test_a_stale_page_fails_the_check(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    page = tmp_path / "configuration.md"
    page.write_text(gen.render().replace("| `TODOS_PORT` | `8001` |", "| `TODOS_PORT` | `8000` |"))
    assert gen.main(["--check", "--output", str(page)]) == 1
    assert "is stale: run `make configuration`" in capsys.readouterr().err
    assert gen.main(["--output", str(page)]) == 0  # `make configuration` rewrites it
    assert gen.main(["--check", "--output", str(page)]) == 0


def test_a_missing_page_fails_the_check(tmp_path: Path) -> None:
    assert gen.main(["--check", "--output", str(tmp_path / "absent.md")]) == 1


def test_every_setting_of_both_services_is_listed_with_its_prefix() -> None:
    from budget.config import Settings as BudgetSettings
    from todos.config import Settings as TodosSettings

    page = gen.render()
    for prefix, settings in (("TODOS_", TodosSettings), ("BUDGET_", BudgetSettings)):
        for name in settings.model_fields:
            assert f"| `{prefix}{name.upper()}` |" in page


def test_a_setting_without_a_description_fails_the_generation(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from todos.config import Settings

    monkeypatch.setattr(Settings.model_fields["port"], "description", None)
    with pytest.raises(gen.MissingDescription, match="setting port has no description"):
        gen.render()


def test_a_gateway_variable_missing_from_its_header_fails() -> None:
    text = gen.GATEWAY.read_text() + '\nbackend extra\n    server x "${NEW_UPSTREAM}"\n'
    with pytest.raises(gen.MissingDescription, match="NEW_UPSTREAM"):
        gen.gateway_settings(text)

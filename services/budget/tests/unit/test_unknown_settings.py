"""Variables with our prefix that name no setting are reported at start, not silently ignored."""

import json

import structlog

from budget import settings_env


def test_a_misspelt_setting_is_reported_with_the_closest_name() -> None:
    environ = {"BUDGET_PROT": "9000", "BUDGET_PORT": "9000", "BUDGET_LOG_LEVLE": "DEBUG"}
    assert settings_env.unknown_settings(environ) == [
        "BUDGET_LOG_LEVLE (did you mean BUDGET_LOG_LEVEL?)",
        "BUDGET_PROT (did you mean BUDGET_PORT?)",
    ]


def test_a_known_name_with_a_unit_added_points_back_to_it() -> None:
    assert settings_env.unknown_settings(
        {"BUDGET_PORT_NUMBER": "1", "BUDGET_LOG_LEVEL_NAME": "x"}
    ) == [
        "BUDGET_LOG_LEVEL_NAME (did you mean BUDGET_LOG_LEVEL?)",
        "BUDGET_PORT_NUMBER (did you mean BUDGET_PORT?)",
    ]


def test_the_hold_ttl_in_seconds_points_to_the_iso_duration() -> None:
    assert settings_env.unknown_settings({"BUDGET_HOLD_TTL_SECONDS": "600"}) == [
        "BUDGET_HOLD_TTL_SECONDS (did you mean BUDGET_HOLD_TTL?)"
    ]


def test_a_name_close_to_nothing_is_reported_alone() -> None:
    assert settings_env.unknown_settings({"BUDGET_XYZZY": "1"}) == ["BUDGET_XYZZY"]


def test_every_setting_other_prefixes_and_the_lower_case_spelling_are_known() -> None:
    environ = dict.fromkeys(settings_env.setting_names(), "x")
    environ |= {"budget_port": "1", "PATH": "/bin", "OTHER_PROT": "1"}
    environ |= {"BUDGET_TEST_DATABASE_URL": "postgresql+asyncpg://t@127.0.0.1/t"}  # the suites' own
    assert settings_env.unknown_settings(environ) == []


def test_kubernetes_service_links_are_not_settings() -> None:
    # What a Service named budget-api in the pod's namespace injects (enableServiceLinks).
    links = {
        "BUDGET_API_SERVICE_HOST": "10.0.0.7",
        "BUDGET_API_SERVICE_PORT": "8002",
        "BUDGET_API_SERVICE_PORT_HTTP": "8002",
        "BUDGET_API_PORT": "tcp://10.0.0.7:8002",
        "BUDGET_API_PORT_8002_TCP": "tcp://10.0.0.7:8002",
        "BUDGET_API_PORT_8002_TCP_PROTO": "tcp",
        "BUDGET_API_PORT_8002_TCP_PORT": "8002",
        "BUDGET_API_PORT_8002_TCP_ADDR": "10.0.0.7",
    }
    assert settings_env.unknown_settings(links) == []
    # A port setting with a plain number is a setting, known or not.
    assert settings_env.unknown_settings({"BUDGET_API_PORT": "8002"}) == [
        "BUDGET_API_PORT (did you mean BUDGET_PORT?)"
    ]


def test_the_report_is_one_warning_naming_them(monkeypatch, capsys) -> None:
    monkeypatch.setenv("BUDGET_PROT", "9000")
    structlog.configure(processors=[structlog.processors.JSONRenderer()])
    try:
        reported = settings_env.report_unknown_settings(structlog.get_logger("settings"))
    finally:
        structlog.reset_defaults()
    assert reported == ["BUDGET_PROT (did you mean BUDGET_PORT?)"]
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line) == {"event": "unknown_settings", "ignored": reported}


def test_nothing_is_reported_when_all_is_known(monkeypatch, capsys) -> None:
    for name in [n for n in __import__("os").environ if n.startswith("BUDGET_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("BUDGET_PORT", "9000")
    assert settings_env.report_unknown_settings(structlog.get_logger("settings")) == []
    assert capsys.readouterr().out == ""

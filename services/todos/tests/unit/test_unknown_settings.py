"""Variables with our prefix that name no setting are reported at start, not silently ignored."""

import json

import structlog

from todos import settings_env


def test_a_misspelt_setting_is_reported_with_the_closest_name() -> None:
    environ = {"TODOS_PROT": "9000", "TODOS_PORT": "9000", "TODOS_LOG_LEVLE": "DEBUG"}
    assert settings_env.unknown_settings(environ) == [
        "TODOS_LOG_LEVLE (did you mean TODOS_LOG_LEVEL?)",
        "TODOS_PROT (did you mean TODOS_PORT?)",
    ]


def test_a_known_name_with_a_unit_added_points_back_to_it() -> None:
    assert settings_env.unknown_settings(
        {"TODOS_PORT_NUMBER": "1", "TODOS_LOG_LEVEL_NAME": "x"}
    ) == [
        "TODOS_LOG_LEVEL_NAME (did you mean TODOS_LOG_LEVEL?)",
        "TODOS_PORT_NUMBER (did you mean TODOS_PORT?)",
    ]


def test_a_name_close_to_nothing_is_reported_alone() -> None:
    assert settings_env.unknown_settings({"TODOS_XYZZY": "1"}) == ["TODOS_XYZZY"]


def test_every_setting_other_prefixes_and_the_lower_case_spelling_are_known() -> None:
    environ = dict.fromkeys(settings_env.setting_names(), "x")
    environ |= {"todos_port": "1", "PATH": "/bin", "OTHER_PROT": "1"}
    environ |= {"TODOS_TEST_DATABASE_URL": "postgresql+asyncpg://t@127.0.0.1/t"}  # the suites' own
    assert settings_env.unknown_settings(environ) == []


def test_kubernetes_service_links_are_not_settings() -> None:
    # What a Service named todos-api in the pod's namespace injects (enableServiceLinks).
    links = {
        "TODOS_API_SERVICE_HOST": "10.0.0.7",
        "TODOS_API_SERVICE_PORT": "8001",
        "TODOS_API_SERVICE_PORT_HTTP": "8001",
        "TODOS_API_PORT": "tcp://10.0.0.7:8001",
        "TODOS_API_PORT_8001_TCP": "tcp://10.0.0.7:8001",
        "TODOS_API_PORT_8001_TCP_PROTO": "tcp",
        "TODOS_API_PORT_8001_TCP_PORT": "8001",
        "TODOS_API_PORT_8001_TCP_ADDR": "10.0.0.7",
    }
    assert settings_env.unknown_settings(links) == []
    # A port setting with a plain number is a setting, known or not.
    assert settings_env.unknown_settings({"TODOS_API_PORT": "8001"}) == [
        "TODOS_API_PORT (did you mean TODOS_PORT?)"
    ]


def test_the_report_is_one_warning_naming_them(monkeypatch, capsys) -> None:
    monkeypatch.setenv("TODOS_PROT", "9000")
    structlog.configure(processors=[structlog.processors.JSONRenderer()])
    try:
        reported = settings_env.report_unknown_settings(structlog.get_logger("settings"))
    finally:
        structlog.reset_defaults()
    assert reported == ["TODOS_PROT (did you mean TODOS_PORT?)"]
    [line] = capsys.readouterr().out.splitlines()
    assert json.loads(line) == {"event": "unknown_settings", "ignored": reported}


def test_nothing_is_reported_when_all_is_known(monkeypatch, capsys) -> None:
    for name in [n for n in __import__("os").environ if n.startswith("TODOS_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("TODOS_PORT", "9000")
    assert settings_env.report_unknown_settings(structlog.get_logger("settings")) == []
    assert capsys.readouterr().out == ""

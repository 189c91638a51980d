import pytest

from contracts.signing import SignatureError, sign, verify

BODY = b'{"hook":"todos.before_complete_task"}'
SECRET = "s3cret"
T = 1_800_000_000


def test_a_signed_body_verifies() -> None:
    verify(sign(BODY, SECRET, T), BODY, SECRET, now=T + 5)


def test_header_has_the_webhook_shape() -> None:
    header = sign(BODY, SECRET, T)
    t, v1 = header.split(",")
    assert t == f"t={T}"
    assert v1.startswith("v1=")
    assert len(v1) == 3 + 64


def test_tampered_body_is_refused() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        verify(sign(BODY, SECRET, T), BODY + b" ", SECRET, now=T)


def test_wrong_secret_is_refused() -> None:
    with pytest.raises(SignatureError, match="does not match"):
        verify(sign(BODY, "other", T), BODY, SECRET, now=T)


@pytest.mark.parametrize("skew", [-301, 301, 10_000])
def test_stale_or_future_timestamps_are_refused(skew: int) -> None:
    with pytest.raises(SignatureError, match="tolerance"):
        verify(sign(BODY, SECRET, T), BODY, SECRET, now=T + skew)


@pytest.mark.parametrize("skew", [-300, 0, 300])
def test_timestamps_within_the_tolerance_pass(skew: int) -> None:
    verify(sign(BODY, SECRET, T), BODY, SECRET, now=T + skew)


def test_signing_with_another_time_changes_the_digest() -> None:
    forged = sign(BODY, SECRET, T).replace(f"t={T}", f"t={T + 1}")
    with pytest.raises(SignatureError, match="does not match"):
        verify(forged, BODY, SECRET, now=T)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "garbage",
        "t=abc,v1=00",
        f"t={T}",
        "v1=abcd",
        f"t={T},v1",
        "t=-5,v1=00",
        f"t={'9' * 40},v1=00",
    ],
)
def test_malformed_headers_are_refused(header: str | None) -> None:
    with pytest.raises(SignatureError):
        verify(header, BODY, SECRET, now=T)


def test_any_of_several_signatures_may_match_during_rotation() -> None:
    old = sign(BODY, "old-secret", T).split(",")[1]
    header = f"{sign(BODY, SECRET, T)},{old}"
    verify(header, BODY, "old-secret", now=T)
    verify(header, BODY, SECRET, now=T)


@pytest.mark.parametrize(
    "v1",
    [
        "\u00e9" * 64,  # non-ASCII: hmac.compare_digest raises TypeError on such str
        "z" * 64,
        "0" * 63,
        "0" * 65,
        "\u0661" * 64,
    ],
)
def test_a_v1_that_is_not_a_hex_digest_is_a_signature_error(v1: str) -> None:
    with pytest.raises(SignatureError, match="malformed"):
        verify(f"t={T},v1={v1}", BODY, SECRET, now=T)


@pytest.mark.parametrize("t", ["\u00b2", "\u0661\u0662"])
def test_a_timestamp_of_non_ascii_digits_is_a_signature_error(t: str) -> None:
    with pytest.raises(SignatureError, match="malformed"):
        verify(f"t={t},v1={'0' * 64}", BODY, SECRET, now=T)


def test_an_upper_case_digest_verifies() -> None:
    t, v1 = sign(BODY, SECRET, T).split(",")
    verify(f"{t},{v1.upper().replace('V1=', 'v1=')}", BODY, SECRET, now=T)

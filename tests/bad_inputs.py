"""Shared checks of the bad-input suites: one line, naming the input, no traceback."""

from __future__ import annotations

import re

import pytest

from textinpaint.cli import main


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    """Run ``textinpaint ARGV`` in-process: (exit status, stdout, stderr). argparse's exits
    count as statuses; any other exception escapes (and fails the test: a traceback)."""
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out = capsys.readouterr()
    return code, out.out, out.err


def assert_cli_error(result: tuple[int, str, str], pattern: str, code: int = 2) -> str:
    """The command failed with ``code`` and its last stderr line is one sentence matching
    ``pattern``; no traceback anywhere."""
    status, out, err = result
    assert "Traceback" not in err + out, err
    assert status == code, (status, err)
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, "no message on stderr"
    last = lines[-1]
    assert re.search(r"error", last, re.I), last
    assert re.search(pattern, last, re.I), last
    return last


def assert_api_error(response, status: int, pattern: str) -> str:
    """An HTTP refusal: the status, a JSON body with one one-line ``error`` matching
    ``pattern``."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}, body
    message = body["error"]
    assert "\n" not in message and "Traceback" not in message, message
    assert re.search(pattern, message, re.I), message
    return message


def assert_user_error(call, pattern: str):
    """``call()`` raises a UserError whose one-line message matches ``pattern``."""
    from textinpaint.errors import UserError

    with pytest.raises(UserError) as info:
        call()
    message = str(info.value)
    assert "\n" not in message, message
    assert re.search(pattern, message, re.I), message
    return message

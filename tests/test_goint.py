"""Integer flags are read as oc reads them: Go's strconv.ParseInt(s, 0, 64), messages included."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from builders import as_list, write_json
from clirunner import run_cli
from pruneplan.goint import GoNumError, parse_go_int

ACCEPTED = [
    ("3", 3), ("0", 0), ("-0", 0), ("+3", 3),
    ("010", 8), ("0o10", 8), ("0O10", 8), ("0x10", 16), ("0X1f", 31), ("+0x10", 16), ("-0x10", -16), ("0b101", 5),
    ("1_000", 1000), ("0x_1F", 31), ("0_7", 7),
    ("9223372036854775807", 2**63 - 1), ("-9223372036854775808", -(2**63)), ("0x7fffffffffffffff", 2**63 - 1),
]
SYNTAX = ["", "+", "-", " 3", "3 ", "٣", "３", "three", "08", "0x", "0b2", "0o8", "_1", "1__0", "1_", "0x_", "+-1", "1e3", "3.0"]
RANGE = ["9223372036854775808", "-9223372036854775809", "0x8000000000000000", "18446744073709551616",
         "99999999999999999999x"]  # Go reports the overflow before the bad digit after it


@pytest.mark.parametrize(("text", "value"), ACCEPTED)
def test_accepts_what_go_accepts_with_gos_base_prefixes(text, value):
    assert parse_go_int(text) == value


@pytest.mark.parametrize("text", SYNTAX)
def test_refuses_what_go_refuses_as_invalid_syntax(text):
    with pytest.raises(GoNumError) as err:
        parse_go_int(text)
    assert str(err.value) == f'strconv.ParseInt: parsing {json.dumps(text, ensure_ascii=False)}: invalid syntax'


@pytest.mark.parametrize("text", RANGE)
def test_refuses_past_int64_as_value_out_of_range(text):
    with pytest.raises(GoNumError) as err:
        parse_go_int(text)
    assert str(err.value) == f'strconv.ParseInt: parsing "{text}": value out of range'


@given(st.integers(min_value=-(2**63), max_value=2**63 - 1), st.sampled_from(["d", "x", "o", "b", "0"]))
def test_every_int64_reads_back_from_each_go_notation(value, notation):
    sign = "-" if value < 0 else ""
    magnitude = abs(value)
    text = {"d": f"{sign}{magnitude}", "x": f"{sign}0x{magnitude:x}", "o": f"{sign}0o{magnitude:o}",
            "b": f"{sign}0b{magnitude:b}", "0": f"{sign}0{magnitude:o}"}[notation]
    assert parse_go_int(text) == value


@pytest.mark.parametrize(("flag", "policy"), [("010", 8), ("0x10", 16), ("+0x10", 16)])
def test_keep_tag_revisions_in_the_plan_is_the_value_oc_would_use(tmp_path, flag, policy):
    dump = write_json(tmp_path / "in.json", as_list([]))
    plan = tmp_path / "plan.json"
    result = run_cli("analyze", str(dump), "-o", str(plan), "--now", "2026-06-01T00:00:00Z", f"--keep-tag-revisions={flag}")
    assert result.code == 0, result.err
    assert json.loads(plan.read_text())["policy"]["keepTagRevisions"] == policy


@pytest.mark.parametrize(("flag", "reason"), [("٣", "invalid syntax"), ("9223372036854775808", "value out of range")])
def test_keep_tag_revisions_refused_with_pflags_message(tmp_path, flag, reason):
    dump = write_json(tmp_path / "in.json", as_list([]))
    result = run_cli("analyze", str(dump), "-o", str(tmp_path / "plan.json"), "--now", "2026-06-01T00:00:00Z",
                     f"--keep-tag-revisions={flag}")
    assert result.code == 2  # pflag's words; exit 2 as every bad command line (oc exits 1)
    assert result.err_lines == [
        f'error: invalid argument "{flag}" for "--keep-tag-revisions" flag: strconv.ParseInt: parsing "{flag}": {reason}'
    ]


def test_execute_num_workers_is_read_as_go_reads_it(tmp_path):
    result = run_cli("execute", str(tmp_path / "absent.json"), "--key", "k.pub", "--num-workers=08")
    assert result.code == 2
    assert result.err_lines == [
        'error: invalid argument "08" for "--num-workers" flag: strconv.ParseInt: parsing "08": invalid syntax'
    ]

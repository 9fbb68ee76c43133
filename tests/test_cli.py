"""The command line: export gives the server's bytes; failures are one line and non-zero."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from click.testing import CliRunner
from flask.testing import FlaskClient

from stract_reports.cli import DEMO_PORT, main
from stract_reports.simulator import Simulator
from support import CLI, closed_port_url, golden, require_mark

REPORTS = ["geral", "geral/resumo", "meta_ads", "meta_ads/resumo", "ga4/resumo", "tiktok_insights"]


def export(sim_url: str, *args: str) -> tuple[int, bytes, str]:
    """Run ``stract-reports export ARGS`` against ``sim_url``: exit code, stdout, stderr."""
    result = CliRunner().invoke(
        main, ["export", *args], env={"STRACT_API_URL": sim_url, "STRACT_RETRIES": "0"}
    )
    return result.exit_code, result.stdout_bytes, result.stderr


@pytest.mark.parametrize("report", REPORTS)
def test_export_equals_the_http_csv(simulator: Simulator, client: FlaskClient, report: str) -> None:
    code, out, err = export(simulator.url, report)
    assert (code, err) == (0, "")
    assert out == client.get(f"/{report}").data


@pytest.mark.parametrize(
    ("flags", "query"),
    [
        (["--excel", "br"], "excel=br"),
        (["--excel", "1"], "excel=1"),
        (["--ratios", "sum"], "ratios=sum"),
        (["--ratios", "sum", "--excel", "br"], "ratios=sum&excel=br"),
    ],
)
def test_export_options_match_the_http_options(
    simulator: Simulator, client: FlaskClient, flags: list[str], query: str
) -> None:
    code, out, _ = export(simulator.url, "geral/resumo", *flags)
    assert code == 0
    assert out == client.get(f"/geral/resumo?{query}").data


def test_an_html_export_says_the_ratio_mode_it_was_built_with(simulator: Simulator) -> None:
    code, out, _ = export(simulator.url, "geral/resumo.html", "--ratios", "sum")
    assert code == 0
    assert b"Ratio columns are summed like the others" in out
    assert b"Ratios are recomputed" not in out


@pytest.mark.parametrize(
    "report",
    [
        "geral?_col=Platform,Spend",
        "geral?Platform=TikTok&_sort_desc=Spend&_size=3",
        "geral/resumo?_by=Country&excel=br",
        "meta_ads?Country=BR&_col=Ad+Name,Clicks",
        "geral/resumo?Country=BR&ratios=sum",
        "geral?Spend__gt=1000&Country__in=BR,US&_search=an%C3%BAncio&_flags=1",
        "geral.tsv?Platform__iexact=tiktok&_sort=Clicks",
    ],
)
def test_export_takes_the_query_of_the_url(
    simulator: Simulator, client: FlaskClient, report: str
) -> None:
    code, out, err = export(simulator.url, report)
    assert (code, err) == (0, "")
    served = client.get(f"/{report}").data
    assert out == served and len(out.splitlines()) > 1


def test_an_html_export_with_a_query_is_the_served_page(
    simulator: Simulator, client: FlaskClient
) -> None:
    report = "geral.html?Platform=TikTok&_size=4"
    code, out, _ = export(simulator.url, report)
    assert code == 0
    assert b"rows 1\xe2\x80\x934 of 10" in out
    assert _without_nonce(_without_time(out)) == _without_nonce(
        _without_time(client.get(f"/{report}").data)
    )


@pytest.mark.parametrize(
    "query", ["_bogus=1", "_size=0", "_sort=Spend&_sort_desc=Spend", "ratios=avg", "Nope=1"]
)
def test_a_bad_option_is_the_servers_own_400_message(
    simulator: Simulator, client: FlaskClient, query: str
) -> None:
    served = client.get(f"/geral/resumo?{query}")
    assert served.status_code == 400
    code, out, err = export(simulator.url, f"geral/resumo?{query}")
    assert (code, out) == (1, b"")
    assert err == f"stract-reports: bad request: {served.json['detail']}\n"


def test_a_bad_option_fails_before_any_fetch(simulator: Simulator) -> None:
    code, _, err = export(simulator.url, "geral?_bogus=1")
    assert code == 1 and err.startswith("stract-reports: bad request: unknown option '_bogus'")
    assert simulator.stats()["total"] == 0


def test_export_json_to_a_file(simulator: Simulator, client: FlaskClient, tmp_path: Path) -> None:
    target = tmp_path / "meta.json"
    code, out, _ = export(simulator.url, "meta_ads/resumo", "--format", "json", "-o", str(target))
    assert (code, out) == (0, b"")
    exported = target.read_bytes().decode()
    served = client.get("/meta_ads/resumo.json").data.decode()
    # Identical except the generation time.
    assert exported.split('"row_count"')[1] == served.split('"row_count"')[1]


def test_unknown_platform_fails_with_one_line(simulator: Simulator) -> None:
    code, out, err = export(simulator.url, "youtube/resumo")
    assert (code, out) == (1, b"")
    assert err == (
        "stract-reports: unknown platform: no platform 'youtube'; "
        "valid platforms: meta_ads, ga4, tiktok_insights\n"
    )


@pytest.mark.parametrize("name", ["geral/detalhe", "geral/resumo/x", ".env", "a/b/c"])
def test_an_unknown_report_name_fails_in_words_before_any_fetch(
    simulator: Simulator, name: str
) -> None:
    code, out, err = export(simulator.url, name)
    assert (code, out) == (1, b"")
    assert err == (
        f"stract-reports: unknown report: {name!r} is not a report; the reports are geral, "
        "geral/resumo, PLATFORM and PLATFORM/resumo, each with an optional format suffix: "
        ".csv (the default), .json, .html, .xlsx, .tsv or .ndjson\n"
    )
    assert simulator.stats()["total"] == 0


@pytest.mark.parametrize(
    ("report", "served"),
    [("geral.csv", "/geral"), ("meta_ads/resumo.json", "/meta_ads/resumo.json")],
)
def test_a_format_suffix_in_the_name_sets_the_format(
    simulator: Simulator, client: FlaskClient, report: str, served: str
) -> None:
    code, out, err = export(simulator.url, report)
    assert (code, err) == (0, "")
    assert _without_time(out) == _without_time(client.get(served).data)


@pytest.mark.parametrize("report", ["geral.txt", "geral.CSV", "geral/resumo.xls"])
def test_an_unsupported_format_suffix_fails_naming_the_formats(
    simulator: Simulator, report: str
) -> None:
    code, _, err = export(simulator.url, report)
    suffix = report.rpartition(".")[2]
    assert code == 1
    assert err == (
        f"stract-reports: unsupported format: no format {suffix!r}; "
        "use .csv (the default), .json, .html, .xlsx, .tsv or .ndjson\n"
    )
    assert simulator.stats()["total"] == 0


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["geral.json", "--format", "csv"], "'geral.json' names .json but --format is csv"),
        (
            ["geral", "--format", "json", "--excel", "br"],
            "excel=br applies to .csv only, not .json",
        ),
        (
            ["geral/resumo?ratios=recompute", "--ratios", "sum"],
            "ratios is given twice: --ratios sum and ratios=recompute in the query",
        ),
        (["geral.json?excel=1"], "excel=1 applies to .csv only, not .json"),
    ],
)
def test_contradicting_options_fail_before_any_fetch(
    simulator: Simulator, args: list[str], message: str
) -> None:
    code, _, err = export(simulator.url, *args)
    assert (code, err) == (1, f"stract-reports: bad request: {message}\n")
    assert simulator.stats()["total"] == 0


@pytest.mark.parametrize(
    ("target", "reason"),
    [
        ("/nonexistent/x.csv", "no directory /nonexistent"),
        ("{tmp}/missing/x.csv", "no directory {tmp}/missing"),
    ],
)
def test_an_output_that_cannot_be_written_fails_before_any_fetch(
    simulator: Simulator, tmp_path: Path, target: str, reason: str
) -> None:
    target, reason = target.format(tmp=tmp_path), reason.format(tmp=tmp_path)
    code, out, err = export(simulator.url, "geral", "-o", target)
    assert (code, out) == (1, b"")
    assert err == f"stract-reports: cannot write {target}: {reason}\n"
    assert simulator.stats()["total"] == 0


def test_a_read_only_output_fails_before_any_fetch(simulator: Simulator, tmp_path: Path) -> None:
    target = tmp_path / "x.csv"
    target.write_bytes(b"keep")
    target.chmod(0o444)
    if os.access(target, os.W_OK):
        pytest.skip("running as a user who may write anything (root)")
    code, _, err = export(simulator.url, "geral", "-o", str(target))
    assert (code, err) == (1, f"stract-reports: cannot write {target}: permission denied\n")
    assert target.read_bytes() == b"keep"
    assert simulator.stats()["total"] == 0


def test_export_from_the_embedded_simulator_needs_no_api() -> None:
    result = CliRunner().invoke(
        main, ["export", "geral/resumo", "--simulator"], env={"STRACT_API_URL": closed_port_url()}
    )
    assert (result.exit_code, result.stderr) == (0, "")
    assert result.stdout_bytes == golden("geral/resumo")


def test_simulator_and_api_url_together_are_a_usage_error() -> None:
    result = CliRunner().invoke(
        main, ["export", "geral", "--simulator", "--api-url", closed_port_url()]
    )
    assert result.exit_code == 2
    assert "--simulator and --api-url are two different upstreams: pick one" in result.stderr


def test_unreachable_upstream_fails_with_one_line_and_no_traceback() -> None:
    url = closed_port_url()
    code, _, err = export(url, "geral")
    assert code == 1
    assert err == (
        "stract-reports: upstream unavailable: platform list: connection failed "
        f"({url}/platforms)\n"
    )


def test_retries_print_no_warning_lines_before_the_message() -> None:
    # A real process: the CLI's logging setup is what is tested (CliRunner shares pytest's).
    url = closed_port_url()
    env = {**os.environ, "STRACT_API_URL": url, "STRACT_RETRIES": "2"}
    done = subprocess.run(
        [CLI, "export", "geral"], env=env, capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout) == (1, "")
    assert done.stderr == (
        "stract-reports: upstream unavailable: platform list: connection failed "
        f"({url}/platforms)\n"
    )


def test_bad_setting_is_a_usage_error(simulator: Simulator) -> None:
    result = CliRunner().invoke(
        main, ["export", "geral", "--concurrency", "0"], env={"STRACT_API_URL": simulator.url}
    )
    assert result.exit_code == 2
    assert result.stderr == (
        "stract-reports: STRACT_CONCURRENCY (--concurrency) must be at least 1 and at most 1024, "
        "not 0\n"
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["serve", "--port", "80000"], "STRACT_PORT (--port) must be at least 1 and at most 65535"),
        (["serve", "--port", "0"], "STRACT_PORT (--port) must be at least 1 and at most 65535"),
        (["serve", "--threads", "0"], "STRACT_THREADS (--threads) must be at least 1"),
        (["serve", "--workers", "0"], "STRACT_WORKERS (--workers) must be at least 1"),
        (["serve", "--grace", "-1"], "STRACT_GRACE (--grace) must be at least 0"),
        (
            ["serve", "--request-timeout", "0"],
            "STRACT_REQUEST_TIMEOUT (--request-timeout) must be more than 0",
        ),
        (["serve", "--max-builds", "100000"], "STRACT_MAX_BUILDS (--max-builds) must be at least"),
        (["demo", "--port", "80000"], "--port must be at least 1 and at most 65535, not 80000"),
        (["simulator", "--port", "-5"], "--port must be at least 1 and at most 65535, not -5"),
    ],
)
def test_a_flag_out_of_its_range_stops_the_command_at_start_with_one_line(
    args: list[str], message: str
) -> None:
    result = CliRunner().invoke(main, args, env={"STRACT_API_URL": closed_port_url()})
    assert result.exit_code == 2
    assert result.stderr.startswith(f"stract-reports: {message}")
    assert result.stderr.count("\n") == 1 and result.stdout == ""


def test_a_setting_from_the_environment_is_checked_as_its_flag() -> None:
    result = CliRunner().invoke(main, ["serve"], env={"STRACT_THREADS": "0"})
    assert (result.exit_code, result.stderr) == (
        2,
        "stract-reports: STRACT_THREADS (--threads) must be at least 1 and at most 1024, not 0\n",
    )


@pytest.mark.serve
def test_serve_on_port_80000_is_one_line_not_a_traceback() -> None:
    require_mark("serve")
    done = subprocess.run(
        [CLI, "serve", "--port", "80000"], capture_output=True, text=True, timeout=60
    )
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == (
        "stract-reports: STRACT_PORT (--port) must be at least 1 and at most 65535, not 80000\n"
    )


def test_progress_is_drawn_on_stderr_when_asked(
    simulator: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    from stract_reports.config import Settings
    from stract_reports.exporting import export_report

    export_report(Settings(api_url=simulator.url), "geral", show_progress=True)
    err = capsys.readouterr().err
    assert err.endswith("] 30/30 calls\n")  # every upstream call of /geral, done
    assert err.count("\r") == 30


def test_the_progress_bar_only_moves_forward_while_the_total_grows(
    simulator: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    from stract_reports.config import Settings
    from stract_reports.exporting import export_report

    export_report(Settings(api_url=simulator.url), "geral", show_progress=True)
    frames = capsys.readouterr().err.strip("\n").split("\r")[1:]
    drawn = [re.fullmatch(r"fetching \[(#*)(\.*)\] (\d+)/(\d+) calls", f) for f in frames]
    assert all(drawn) and len(drawn) == 30
    filled = [len(m[1]) for m in drawn if m]
    known = [int(m[4]) for m in drawn if m]
    assert all(len(m[1]) + len(m[2]) == 30 for m in drawn if m)
    assert len(set(known)) > 1  # the total grew as pages were discovered
    assert filled == sorted(filled)  # never back
    assert filled[-1] == 30 and known[-1] == 30
    # Done/known alone would have gone back when the total grew.
    assert any(30 * int(m[3]) // int(m[4]) < filled[i] for i, m in enumerate(drawn) if m)


def _without_nonce(body: bytes) -> bytes:
    return re.sub(rb' nonce="[^"]*"', b"", body)


def _without_time(body: bytes) -> bytes:
    return re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"", body)


@pytest.fixture
def taken_port() -> Iterator[int]:
    """A loopback port something listens on for the test's duration."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def test_simulator_on_a_taken_port_fails_in_one_line(taken_port: int) -> None:
    result = CliRunner().invoke(main, ["simulator", "--port", str(taken_port)])
    assert result.exit_code == 1
    assert result.stderr == (
        f"stract-reports: port {taken_port} on 127.0.0.1 is in use; choose another with --port\n"
    )


def test_demo_on_a_taken_port_it_was_told_fails_in_one_line(taken_port: int) -> None:
    result = CliRunner().invoke(main, ["demo", "--port", str(taken_port)])
    assert (result.exit_code, result.stdout) == (1, "")
    assert result.stderr == (
        f"stract-reports: port {taken_port} is in use; "
        "choose another with --port (make demo PORT=...)\n"
    )


@pytest.mark.parametrize("value", ["10", "a,b", "1,2,3", "10,", "-1,5", "0,5"])
def test_a_bad_synthetic_size_is_a_usage_error_in_words(value: str) -> None:
    result = CliRunner().invoke(main, ["simulator", "--synthetic", value])
    assert result.exit_code == 2
    message = result.stderr.splitlines()[-1]
    if value == "0,5":
        assert (
            message == "Error: Invalid value for '--synthetic': ACCOUNTS must be at least 1, not 0"
        )
    else:
        assert message == (
            "Error: Invalid value for '--synthetic': give two whole numbers, ACCOUNTS,ADS "
            f"(e.g. 100,1000), not {value!r}"
        )
    assert "Traceback" not in result.output


@pytest.mark.serve
def test_demo_picks_a_free_port_when_its_default_is_taken() -> None:
    require_mark("serve")
    with socket.socket() as holder:
        try:
            holder.bind(("127.0.0.1", DEMO_PORT))
            holder.listen()
        except OSError:
            pass  # something else holds it: taken all the same
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        demo = subprocess.Popen(
            [CLI, "demo", "--latency-ms", "0"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        try:
            assert demo.stdout is not None
            first = demo.stdout.readline()
            found = re.fullmatch(
                rf"Port {DEMO_PORT} is in use; serving on port (\d+) \(choose with --port\)\.\n",
                first,
            )
            assert found, first
            port = int(found.group(1))
            deadline = time.monotonic() + 30
            while True:
                try:
                    answer = requests.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
                    break
                except requests.ConnectionError:
                    assert time.monotonic() < deadline, "the demo never answered"
                    time.sleep(0.1)
            assert answer.json() == {"status": "ok"}
        finally:
            demo.terminate()
            try:
                demo.wait(timeout=20)
            except subprocess.TimeoutExpired:
                demo.kill()
                demo.wait(timeout=5)
            assert demo.stdout is not None
            demo.stdout.close()

"""The command line: export gives the server's bytes; failures are one line and non-zero."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from flask.testing import FlaskClient

from stract_reports.cli import main
from stract_reports.simulator import Simulator
from support import closed_port_url

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
    ("flags", "query"), [(["--excel-br"], "excel=br"), (["--ratios", "sum"], "ratios=sum")]
)
def test_export_options_match_the_http_options(
    simulator: Simulator, client: FlaskClient, flags: list[str], query: str
) -> None:
    code, out, _ = export(simulator.url, "geral/resumo", *flags)
    assert code == 0
    assert out == client.get(f"/geral/resumo?{query}").data


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


def test_unknown_report_name_fails(simulator: Simulator) -> None:
    code, _, err = export(simulator.url, "geral/detalhe")
    assert code == 1 and err.startswith("stract-reports: UnknownReport: no report 'geral/detalhe'")


def test_unreachable_upstream_fails_with_one_line_and_no_traceback() -> None:
    url = closed_port_url()
    code, _, err = export(url, "geral")
    assert code == 1
    assert err == (
        "stract-reports: upstream unavailable: platform list: connection failed "
        f"({url}/platforms)\n"
    )


def test_bad_setting_is_a_usage_error(simulator: Simulator) -> None:
    result = CliRunner().invoke(
        main, ["export", "geral", "--concurrency", "0"], env={"STRACT_API_URL": simulator.url}
    )
    assert result.exit_code == 2
    assert "concurrency must be at least 1" in result.stderr


def test_progress_is_drawn_on_stderr_when_asked(
    simulator: Simulator, capsys: pytest.CaptureFixture[str]
) -> None:
    from stract_reports.config import Settings
    from stract_reports.exporting import export_report

    export_report(Settings(api_url=simulator.url), "geral", show_progress=True)
    err = capsys.readouterr().err
    assert err.endswith("] 30/30 calls\n")  # every upstream call of /geral, done
    assert err.count("\r") == 30

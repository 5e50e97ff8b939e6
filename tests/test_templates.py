"""`newsletter templates init` and the build's warning about overridden templates that fell behind."""

from __future__ import annotations

import json
import shutil

from click.testing import CliRunner

from newsletter.cli import cli
from newsletter.render import overrides
from newsletter.render.build import build
from tests.conftest import SAMPLE
from tests.test_render import SETTINGS, sample_issue


def test_init_copies_every_built_in_template_and_never_overwrites(tmp_path):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "web.html").write_text("min egen\n", encoding="utf-8")
    result = overrides.init(templates)
    built_in = sorted(p.name for p in overrides.BUILT_IN.iterdir() if p.is_file())
    assert sorted(p.name for p in result.copied + result.kept) == built_in
    assert (templates / "web.html").read_text(encoding="utf-8") == "min egen\n"  # kept as it was
    assert (templates / "print.html").read_bytes() == (overrides.BUILT_IN / "print.html").read_bytes()
    record = json.loads((templates / overrides.RECORD).read_text(encoding="utf-8"))
    assert "web.html" not in record["files"] and "print.html" in record["files"] and record["version"]
    again = overrides.init(templates)
    assert again.copied == []


def test_build_warns_when_an_overridden_template_is_older_than_its_built_in(tmp_path):
    built_in = tmp_path / "built-in"
    shutil.copytree(overrides.BUILT_IN, built_in)
    templates = tmp_path / "templates"
    overrides.init(templates, built_in)
    assert overrides.stale(templates, built_in) == []
    (built_in / "email.html").write_text((built_in / "email.html").read_text() + "<!-- fixed -->\n")
    [warning] = overrides.stale(templates, built_in)
    assert "email.html" in warning and "has changed since it was copied" in warning
    # The real build reads the record too: a fresh copy of today's templates warns about nothing.
    fresh = tmp_path / "fresh"
    overrides.init(fresh)
    result = build(sample_issue(), SETTINGS, tmp_path / "out", ("text",), fresh)
    assert not [w for w in result.warnings if "template" in w], result.warnings  # (site_url's is another matter)


def test_templates_init_command(tmp_path):
    workspace = tmp_path / "ws"
    shutil.copytree(SAMPLE, workspace)
    result = CliRunner().invoke(cli, ["--workspace", str(workspace), "templates", "init"])
    assert result.exit_code == 0, result.output
    assert f"copied {workspace / 'templates' / 'web.html'}" in result.output
    assert (workspace / "templates" / "email.html").is_file()


def test_templates_mark_current_stops_the_warning_until_the_built_in_changes_again(tmp_path, monkeypatch):
    """An editor who merged a newer built-in into the copy records it; the warning returns on the next change."""
    built_in = tmp_path / "built-in"
    shutil.copytree(overrides.BUILT_IN, built_in)
    monkeypatch.setattr(overrides, "BUILT_IN", built_in)  # the command's default: the package's templates
    workspace = tmp_path / "ws"
    shutil.copytree(SAMPLE, workspace)
    templates = workspace / "templates"
    runner = CliRunner()
    assert runner.invoke(cli, ["--workspace", str(workspace), "templates", "init"]).exit_code == 0
    (built_in / "email.html").write_text((built_in / "email.html").read_text() + "<!-- fixed -->\n")
    [warning] = overrides.stale(templates, built_in)
    assert "newsletter templates mark-current email.html" in warning  # the warning names the way out

    result = runner.invoke(cli, ["--workspace", str(workspace), "templates", "mark-current", "email.html"])
    assert result.exit_code == 0, result.output
    assert f"marked {templates / 'email.html'} as up to date with the built-in email.html" in result.output
    assert overrides.stale(templates, built_in) == []
    record = json.loads((templates / overrides.RECORD).read_text(encoding="utf-8"))
    assert set(record["files"]) == {p.name for p in built_in.iterdir() if p.is_file()}  # the others untouched

    (built_in / "email.html").write_text((built_in / "email.html").read_text() + "<!-- fixed again -->\n")
    assert len(overrides.stale(templates, built_in)) == 1


def test_templates_mark_current_refuses_an_unknown_name_or_a_missing_copy(tmp_path):
    workspace = tmp_path / "ws"
    shutil.copytree(SAMPLE, workspace)
    runner = CliRunner()
    unknown = runner.invoke(cli, ["--workspace", str(workspace), "templates", "mark-current", "emial.html"])
    assert unknown.exit_code == 1
    assert unknown.output.startswith("Error: emial.html is not a built-in template (they are: _entry_meta.html,")
    missing = runner.invoke(cli, ["--workspace", str(workspace), "templates", "mark-current", "web.html"])
    assert missing.exit_code == 1
    assert (
        f"Error: {workspace / 'templates' / 'web.html'} does not exist: there is no copy of web.html" in missing.output
    )
    assert not (workspace / "templates" / overrides.RECORD).exists()  # nothing written
    assert runner.invoke(cli, ["--workspace", str(workspace), "templates", "mark-current"]).exit_code == 2

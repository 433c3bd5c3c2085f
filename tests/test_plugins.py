"""Plugin discovery through real entry points, and how broken plugins are reported and skipped."""

import json
import subprocess
import sys

import pytest

from ipt_measures import hookimpl
from ipt_measures.errors import InvalidAnswers
from ipt_measures.plugins import build_registry, use_registry

from conftest import ROOT, make_plugin_dist, run_ipt
from instrument_factory import definition

BROKEN_IMPORT = "import nonexistent_module_for_ipt_test\n"

INVALID_INSTRUMENT = f"""
from ipt_measures import hookimpl
from ipt_measures.errors import InvalidAnswers
@hookimpl
def register_instruments(register):
    bad = {definition(id="bad-scale")!r}
    bad["scales"][0]["bands"][1]["min"] = 6
    register(bad)
    register({definition(id="good-scale")!r})
"""

DUPLICATE_PHQ9 = f"""
from ipt_measures import hookimpl
from ipt_measures.errors import InvalidAnswers
@hookimpl
def register_instruments(register):
    register({definition(id="phq9", name="Impostor")!r})
"""

MISSPELLED_HOOK = """
from ipt_measures import hookimpl
from ipt_measures.errors import InvalidAnswers
@hookimpl
def register_instrument(register):
    pass
"""


@pytest.fixture
def broken_site(tmp_path):
    site = tmp_path / "site"
    make_plugin_dist(site, "ipt-broken-import", "ipt_broken_import", BROKEN_IMPORT)
    make_plugin_dist(site, "ipt-invalid-instrument", "ipt_invalid_instrument", INVALID_INSTRUMENT)
    make_plugin_dist(site, "ipt-duplicate", "ipt_duplicate", DUPLICATE_PHQ9)
    make_plugin_dist(site, "ipt-misspelled", "ipt_misspelled", MISSPELLED_HOOK)
    return site


def plugins_json(site, env=None):
    result = run_ipt("plugins", "--json", pythonpath=[site], env=env)
    assert result.returncode == 0, result.stderr
    return {p["name"]: p for p in json.loads(result.stdout)}


def test_broken_plugins_are_reported_and_skipped(broken_site):
    plugins = plugins_json(broken_site)
    assert "import failed: ModuleNotFoundError" in plugins["ipt_broken_import"]["errors"][0]
    assert "IPT_LOAD_PLUGINS" in plugins["ipt_broken_import"]["errors"][0]
    invalid = plugins["ipt_invalid_instrument"]
    assert invalid["registered"] == ["instrument good-scale"]
    assert "invalid instrument refused" in invalid["errors"][0] and "gap between bands" in invalid["errors"][0]
    assert plugins["ipt_duplicate"]["errors"] == [
        "duplicate instrument id 'phq9' refused: already registered by plugin 'phq9'"
    ]
    assert "unknown hook 'register_instrument'" in plugins["ipt_misspelled"]["errors"][0]


def test_every_other_command_still_works_with_broken_plugins(broken_site):
    listed = run_ipt("instruments", "list", "--json", pythonpath=[broken_site])
    assert listed.returncode == 0
    ids = {row["id"] for row in json.loads(listed.stdout)}
    assert "phq9" in ids and "good-scale" in ids and "bad-scale" not in ids
    assert "ipt: plugin ipt_broken_import: not loaded: import failed" in listed.stderr
    scored = run_ipt("score", "phq9", "--answers", "3,3,3,3,3,3,3,3,1", "--json", pythonpath=[broken_site])
    assert scored.returncode == 0
    data = json.loads(scored.stdout)
    assert data["total"]["value"] == 25 and data["scorer"] == "generic/1"
    assert run_ipt("instruments", "show", "phq9", pythonpath=[broken_site]).stdout.startswith("Patient Health")


def test_load_plugins_variable_limits_third_party_plugins(broken_site):
    plugins = plugins_json(broken_site, env={"IPT_LOAD_PLUGINS": "ipt_invalid_instrument"})
    assert plugins["ipt_broken_import"]["errors"] == ["not loaded: not listed in $IPT_LOAD_PLUGINS"]
    assert plugins["ipt_invalid_instrument"]["registered"] == ["instrument good-scale"]
    assert plugins["phq9"]["registered"] == ["instrument phq9"]  # built-ins always load
    nothing = plugins_json(broken_site, env={"IPT_LOAD_PLUGINS": ""})
    assert all(p["errors"] == ["not loaded: not listed in $IPT_LOAD_PLUGINS"] for p in nothing.values() if p["source"] == "entry point")


def test_example_package_installs_and_registers_through_its_entry_point(tmp_path):
    """pip really installs tests/example_plugin; its instrument and command then work."""
    target = tmp_path / "target"
    pip = subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--quiet",
         "--target", str(target), str(ROOT / "tests" / "example_plugin")],
        capture_output=True, text=True, timeout=300,
    )
    assert pip.returncode == 0, pip.stderr
    plugins = plugins_json(target)
    assert plugins["example"]["distribution"] == "ipt-measures-example"
    assert plugins["example"]["registered"] == ["instrument scc3"]
    assert set(plugins["example"]["hooks"]) == {"register_instruments", "register_commands"}
    scored = run_ipt("score", "scc3", "--answers", "3,0,3", "--json", pythonpath=[target])
    assert json.loads(scored.stdout)["total"] == {
        "id": "total", "name": "Connection", "value": 9, "band": "good", "band_severity": 0,
        "answered": 3, "missing": 0, "prorated": False, "note": None, "decimals": None,
    }
    hello = run_ipt("example-hello", pythonpath=[target])
    assert hello.stdout.strip() == "hello from ipt-measures-example"
    assert "example-hello" in run_ipt("--help", pythonpath=[target]).stdout


# -- one test per hook (tests/test_docs.py checks each hook has one) ---------------------------------


class InstrumentPlugin:
    @hookimpl
    def register_instruments(self, register):
        register(definition(id="extra-scale"))


def test_hook_register_instruments():
    registry = build_registry(InstrumentPlugin())
    assert registry.instrument_plugin["extra-scale"] == "InstrumentPlugin"
    assert "phq9" in registry.instruments


class OverrideScorer:
    @hookimpl
    def score_instrument(self, instrument, answers):
        if instrument.id != "phq9":
            return None
        from ipt_measures.scoring import score

        result = score(instrument, answers)
        result.scorer = "override/1"
        result.total.value = 0
        return result


def test_hook_score_instrument():
    registry = build_registry(OverrideScorer(), InstrumentPlugin())
    phq9 = registry.score("phq9", [3] * 9)
    assert (phq9.scorer, phq9.total.value) == ("override/1", 0)
    other = registry.score("extra-scale", [1, 1, 1, 1])
    assert (other.scorer, other.total.value) == ("generic/1", 4)


class DeteriorationAlerts:
    @hookimpl
    def alerts_after_score(self, score, previous):
        if previous and score.total.value > previous[-1].total.value:
            return [{"kind": "deterioration", "severity": "warning", "message": "worse than last time"}]
        return None


class RaisingAlerts:
    @hookimpl
    def alerts_after_score(self, score):
        raise RuntimeError("boom")


class SloppyAlerts:
    @hookimpl
    def alerts_after_score(self):
        return [{"kind": "x", "severity": "urgent", "message": "not a severity"}, "not a dict",
                {"kind": "ok-kind", "severity": "info", "message": "kept"}]


def test_hook_alerts_after_score():
    registry = build_registry(DeteriorationAlerts(), RaisingAlerts())
    instrument = registry.instrument("phq9")
    before = registry.score("phq9", [1] * 9)
    from ipt_measures.assess import assess

    alerts = assess(instrument, [2] * 8 + [1], [before], registry).alerts
    # The built-in reliable-deterioration warning (9 -> 17 on PHQ-9) is tested in tests/test_review.py.
    # The critical item comes first (assess), then each plugin's alerts; the raising plugin is skipped.
    assert [(a["kind"], a["severity"]) for a in alerts if a["kind"] != "reliable-deterioration"] == [
        ("critical-item", "critical"), ("deterioration", "warning")]
    assert "alerts_after_score raised RuntimeError: boom" in registry.plugins["RaisingAlerts"].errors


def test_hook_alerts_after_score_invalid_alerts_are_reported_and_skipped_never_blocking_the_score(tmp_path):
    from ipt_measures import record
    from ipt_measures.store import open_store

    registry = build_registry(SloppyAlerts())
    with open_store(tmp_path / "s.db") as store:
        record.add_client(store, "c1")
        record.start_course(store, "c1", ["grief"], 16, "2026-01-05")
        record.start_session(store, "c1", "2026-01-05")
        (result,) = record.enter_answers(store, "c1", [record.Entry("phq9", [0] * 9)], registry=registry)
        assert result.score.total.value == 0
        assert [a["message"] for a in store.alerts("c1")] == ["kept"]
    errors = registry.plugins["SloppyAlerts"].errors
    assert len(errors) == 2 and all("invalid alert" in e for e in errors)


class ProtocolPlugin:
    @hookimpl
    def register_protocols(self, register):
        register({"id": "weekly-phq9", "name": "PHQ-9 weekly", "rules": [{"instruments": ["phq9"], "when": ["every"]}]})
        register({"id": "weekly-phq9", "name": "again", "rules": [{"instruments": ["phq9"], "when": ["every"]}]})
        register({"id": "broken", "name": "x", "rules": []})


def test_hook_register_protocols():
    registry = build_registry(ProtocolPlugin())
    assert registry.protocols["weekly-phq9"].rules[0].when == ["every"]
    errors = registry.plugins["ProtocolPlugin"].errors
    assert any("duplicate protocol id 'weekly-phq9'" in e for e in errors)
    assert any("invalid protocol refused: rules" in e for e in errors)


class ExporterPlugin:
    @hookimpl
    def register_exporters(self, register):
        register("lines", lambda rows, out, **options: out.writelines(f"{r}\n" for r in rows), description="one per line")
        register("lines", lambda rows, out, **options: None)


def test_hook_register_exporters():
    registry = build_registry(ExporterPlugin())
    assert registry.exporters["lines"].description == "one per line"
    assert any("duplicate exporter 'lines'" in e for e in registry.plugins["ExporterPlugin"].errors)


class ImporterPlugin:
    """A clinic's own one-line format: ``client;YYYY-MM-DD;nine PHQ-9 answers`` (session 1 of a 12-session course)."""

    @hookimpl
    def register_importers(self, register):
        def read(path, update=None):
            from ipt_measures.exchange import Rejection
            from ipt_measures.exchange.records import import_key, instrument_for, rescore

            phq9 = instrument_for("phq9", None)
            for n, line in enumerate(open(path, encoding="utf-8"), start=1):
                client, day, answers = line.strip().split(";")
                responses = [(str(i), int(v), "answered") for i, v in enumerate(answers.split(","), start=1)]
                if len(responses) != 9:
                    yield [Rejection(f"line {n}", "nine answers expected")]
                    continue
                score, alerts = rescore(phq9, responses, None)
                yield {"client_id": client, "course": {"start_date": day, "planned_sessions": 12,
                                                       "problem_areas": ["grief"], "protocol": None},
                       "session": {"number": 1, "date": day, "phase": "initial"},
                       "administration": {"instrument_id": "phq9", "instrument_version": phq9.version,
                                          "respondent": "self-report", "source": "import",
                                          "import_key": import_key("lines", client, day)},
                       "responses": responses, "score": score, "alerts": alerts}

        register("phq9-lines", read, description="client;date;answers", suffixes=(".phq",))
        register("phq9-lines", read)


def test_hook_register_importers(tmp_path):
    from ipt_measures.exchange.importing import import_file
    from ipt_measures.store import open_store

    registry = build_registry(ImporterPlugin())
    use_registry(registry)
    try:
        assert registry.importers["phq9-lines"].description == "client;date;answers"
        assert {"csv", "fhir"} <= set(registry.importers)
        assert any("duplicate importer 'phq9-lines'" in e for e in registry.plugins["ImporterPlugin"].errors)
        path = tmp_path / "week.phq"
        path.write_text("c1;2026-01-05;3,3,3,3,3,3,3,3,1\nc2;2026-01-06;0,1,0\n")
        with open_store(tmp_path / "x.db") as store:
            report = import_file(store, path)  # the format is guessed from the suffix the plugin claimed
            assert (report.format, report.administrations, report.stored) == ("phq9-lines", 1, 0)
            assert str(report.rejected[0]) == "line 2: nine answers expected"
            path.write_text("c1;2026-01-05;3,3,3,3,3,3,3,3,1\n")
            report = import_file(store, path)
            assert report.stored == 1
            admin = store._query("SELECT id FROM administrations")[0][0]
            assert store.current_score(admin)["total"]["value"] == 25
    finally:
        use_registry(None)


class CommandPlugin:
    @hookimpl
    def register_commands(self, cli):
        import click

        @cli.command("hello-test")
        def hello():
            """Say hello."""
            click.echo("hello from a test plugin")


def test_hook_register_commands(runner):
    from ipt_measures.cli import LazyGroup, COMMANDS

    registry = build_registry(CommandPlugin())
    use_registry(registry)
    group = LazyGroup(name="ipt", lazy_commands=COMMANDS)
    result = runner.invoke(group, ["hello-test"])
    assert result.output == "hello from a test plugin\n"


def test_plugin_problems_reach_stderr_on_any_command(broken_site):
    scored = run_ipt("score", "phq9", "--answers", "0,0,0,0,0,0,0,0,0", pythonpath=[broken_site])
    assert scored.returncode == 0
    assert "ipt: plugin ipt_duplicate: duplicate instrument id 'phq9' refused" in scored.stderr
    assert scored.stderr.count("ipt_broken_import") == 1


class MutatingScorer:
    """A scoring plugin that (wrongly) changes the answers it is given before handing them on."""

    @hookimpl(tryfirst=True)
    def score_instrument(self, instrument, answers):
        answers["1"] = 7
        return None


def test_answers_changed_by_a_plugin_are_checked_again():
    registry = build_registry(MutatingScorer())
    with pytest.raises(InvalidAnswers, match="phq9 item 1: 7 is not an allowed answer"):
        registry.score("phq9", [0] * 9)


def test_protocols_can_be_registered_from_a_file(tmp_path):
    good = tmp_path / "weekly.toml"
    good.write_text('id = "weekly"\nname = "Weekly PHQ-9"\n[[rules]]\ninstruments = ["phq9"]\nwhen = ["every"]\n')
    bad = tmp_path / "bad.toml"
    bad.write_text("id = \n")

    class FilePlugin:
        @hookimpl
        def register_protocols(self, register):
            register(good)
            register(bad)

    registry = build_registry(FilePlugin())
    assert registry.protocols["weekly"].rules[0].instruments == ["phq9"]
    assert any("invalid protocol refused" in e and "not valid TOML" in e for e in registry.plugins["FilePlugin"].errors)


def test_discovery_reads_each_distributions_metadata_once(monkeypatch):
    """Plugin discovery parsed ipt-measures' METADATA (the whole README) once per entry point and field: 48
    times for 16 built-ins. Each distribution's metadata is read once now."""
    from collections import Counter

    from ipt_measures import entrypoints

    reads: Counter = Counter()
    original = entrypoints._read

    def counting(path):
        text = original(path)
        if path.endswith(("METADATA", "PKG-INFO")) and text is not None:
            reads[path] += 1
        return text

    monkeypatch.setattr(entrypoints, "_read", counting)
    registry = build_registry()
    assert sum(1 for p in registry.plugins.values() if p.source == "built-in") >= 15
    assert reads and max(reads.values()) == 1, reads


def test_plugin_discovery_leaves_importlib_metadata_unimported():
    """Importing importlib.metadata cost about 20 ms of every command; the folders on sys.path are read directly."""
    code = ("import sys; from ipt_measures.plugins import get_registry; registry = get_registry(); "
            "assert registry.instruments['phq9']; print('importlib.metadata' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT.parent)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def _stdlib_entry_points(group):
    from importlib import invalidate_caches, metadata

    invalidate_caches()
    return sorted((ep.name, ep.value, ep.dist.metadata["Name"], ep.dist.metadata["Version"])
                  for ep in metadata.entry_points(group=group))


def _ours(group, scan=True):
    from ipt_measures import entrypoints

    found = entrypoints._scan(group) if scan else entrypoints.entry_points(group)
    return sorted((ep.name, ep.value, ep.dist_name, ep.dist_version) for ep in found)


@pytest.mark.parametrize("group", ["ipt_measures", "console_scripts", "pytest11"])
def test_entry_points_are_those_importlib_metadata_finds_here(group):
    assert _ours(group) == _stdlib_entry_points(group)


def _dist(site, folder, name, version, entry_points=None, metadata_file="METADATA"):
    info = site / folder
    info.mkdir(parents=True)
    if name is not None:
        (info / metadata_file).write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                                          f"Summary: x\n\nName: not-this\nVersion: 0\n")
    if entry_points is not None:
        (info / "entry_points.txt").write_text(entry_points)


def test_entry_points_are_those_importlib_metadata_finds_in_awkward_installs(tmp_path, monkeypatch):
    """Every kind of folder importlib.metadata reads on sys.path: wheels' dist-info, eggs' egg-info and EGG-INFO,
    two copies of one distribution (the first on sys.path wins), odd spacing and comments, other groups."""
    first, second = tmp_path / "first", tmp_path / "second"
    _dist(first, "Plug_A-1.0.dist-info", "Plug.A", "1.0",
          "# a comment\n[console_scripts]\nplug-a = plug_a.cli:main\n\n[ipt_measures]\n  alpha=plug_a  \n"
          "beta = plug_a.sub:obj.attr [extra1, extra2]\n")
    _dist(second, "plug_a-9.0.dist-info", "plug-a", "9.0", "[ipt_measures]\nshadowed = plug_a_old\n")
    _dist(first, "plug_b-2.0.egg-info", "plug-b", "2.0", "[ipt_measures]\ngamma = plug_b\n", "PKG-INFO")
    _dist(first, "no_meta-1.0.dist-info", None, None, "[other]\nx = y\n")
    (first / "loose-1.0.egg-info").write_text("Metadata-Version: 1.0\nName: loose\n")  # a distutils file
    _dist(second / "plug_c-3.0-py3.11.egg", "EGG-INFO", "plug-c", "3.0", "[ipt_measures]\ndelta = plug_c\n",
          "PKG-INFO")
    _dist(second, "Upper-4.0.DIST-INFO", "upper", "4.0", "[ipt_measures]\nepsilon = upper\n")
    paths = [str(first), str(second), str(second / "plug_c-3.0-py3.11.egg"), str(tmp_path / "missing")]
    monkeypatch.setattr(sys, "path", paths)
    ours = _ours("ipt_measures")
    assert ours == _stdlib_entry_points("ipt_measures")
    assert ("alpha", "plug_a", "Plug.A", "1.0") in ours and not any(e[0] == "shadowed" for e in ours)
    assert {e[0] for e in ours} == {"alpha", "beta", "gamma", "delta", "epsilon", "shadowed"} - {"shadowed"}
    assert _ours("console_scripts") == _stdlib_entry_points("console_scripts")


def test_a_line_that_is_not_an_entry_point_costs_only_that_line(tmp_path, monkeypatch):
    """importlib.metadata raises TypeError for every distribution when one entry_points.txt has a line
    without ``=``; here that line is skipped and every other plugin is still found."""
    _dist(tmp_path, "odd-1.0.dist-info", "odd", "1.0", "[ipt_measures]\nno equals sign here\nfine = odd_plugin\n")
    _dist(tmp_path, "other-1.0.dist-info", "other", "1.0", "[ipt_measures]\nother = other_plugin\n")
    monkeypatch.setattr(sys, "path", [str(tmp_path)])
    assert _ours("ipt_measures") == [("fine", "odd_plugin", "odd", "1.0"), ("other", "other_plugin", "other", "1.0")]


def test_a_zip_on_sys_path_is_read_by_importlib_metadata(tmp_path, monkeypatch):
    import zipfile

    archive = tmp_path / "plugins.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("zipped-1.0.dist-info/METADATA", "Metadata-Version: 2.1\nName: zipped\nVersion: 1.0\n")
        z.writestr("zipped-1.0.dist-info/entry_points.txt", "[ipt_measures]\nzipped = zipped_plugin\n")
    monkeypatch.setattr(sys, "path", [str(archive), *sys.path])
    assert ("zipped", "zipped_plugin", "zipped", "1.0") in _ours("ipt_measures", scan=False)
    assert ("zipped", "zipped_plugin", "zipped", "1.0") not in _ours("ipt_measures")  # the folder reader skips it


def test_an_entry_point_loads_the_object_it_names(tmp_path, monkeypatch):
    from ipt_measures.entrypoints import EntryPoint

    (tmp_path / "ep_target.py").write_text("class Box:\n    class Inner:\n        value = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert EntryPoint("x", "ep_target : Box.Inner [extra]", "g", None, None).load().value == 42
    assert EntryPoint("x", "ep_target", "g", None, None).load().__name__ == "ep_target"
    with pytest.raises(ValueError, match="not an entry point"):
        EntryPoint("x", "not a module!", "g", None, None).load()

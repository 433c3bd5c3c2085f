"""Where the record and the compiled-instrument cache live: the XDG folders, read without platformdirs on Linux."""

import os
import subprocess
import sys
from pathlib import Path

import platformdirs
import pytest

from ipt_measures.paths import APP_NAME, data_dir, user_dir

XDG_VALUES = {"unset": None, "empty": "", "relative": "relative/folder", "absolute": "/srv/xdg",
              "trailing slash": "/srv/xdg/"}
HOMES = {"absolute": "/home/clinician", "trailing slash": "/home/clinician/"}


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG reading is the Linux path")
@pytest.mark.parametrize("home", sorted(HOMES))
@pytest.mark.parametrize("value", sorted(XDG_VALUES))
@pytest.mark.parametrize("kind, variable, library", [("data", "XDG_DATA_HOME", platformdirs.user_data_dir),
                                                      ("cache", "XDG_CACHE_HOME", platformdirs.user_cache_dir)])
def test_the_folders_are_the_ones_platformdirs_names(monkeypatch, kind, variable, library, value, home):
    monkeypatch.setenv("HOME", HOMES[home])
    for name in ("XDG_DATA_HOME", "XDG_CACHE_HOME", "ANDROID_DATA", "ANDROID_ROOT"):
        monkeypatch.delenv(name, raising=False)
    if XDG_VALUES[value] is not None:
        monkeypatch.setenv(variable, XDG_VALUES[value])
    assert user_dir(kind) == Path(library(APP_NAME, appauthor=False))


def test_a_home_that_is_not_absolute_is_left_to_platformdirs(monkeypatch):
    monkeypatch.setenv("HOME", "not/absolute")
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    asked = []
    monkeypatch.setattr(platformdirs, "user_data_dir", lambda *a, **k: asked.append(a) or "/from/platformdirs")
    assert user_dir("data") == Path("/from/platformdirs") and asked == [(APP_NAME,)]


def test_the_data_directory_is_the_users_unless_ipt_data_dir_says(monkeypatch, tmp_path):
    monkeypatch.delenv("IPT_DATA_DIR", raising=False)
    assert data_dir() == user_dir("data")
    monkeypatch.setenv("IPT_DATA_DIR", str(tmp_path))
    assert data_dir() == tmp_path


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the XDG reading is the Linux path")
def test_a_command_on_linux_does_not_import_platformdirs(tmp_path):
    """platformdirs cost about 7 ms of every command, for the cache folder and (without $IPT_DATA_DIR) the record."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IPT_", "XDG_"))}
    env["HOME"] = str(tmp_path)
    code = ("import sys; from ipt_measures.plugins import get_registry; from ipt_measures.paths import database_path; "
            "get_registry().instruments['phq9']; database_path(); print('platformdirs' in sys.modules)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
    assert any((tmp_path / ".cache" / APP_NAME).iterdir())  # the compiled cache went to the XDG cache folder

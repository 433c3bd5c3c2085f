"""Output files (exports, reports, backups): atomic, owner-only, never over a file not asked for (files.py)."""

import os
import stat

import pytest

from ipt_measures.errors import UsageError
from ipt_measures.files import write_output


def test_a_failed_write_keeps_the_earlier_file_whole(tmp_path):
    target = tmp_path / "report.html"
    target.write_text("the earlier report")

    def half_then_fail(out):
        out.write("half of a new rep")
        raise OSError(28, "No space left on device")

    with pytest.raises(UsageError, match="cannot write .*report.html: No space left on device"):
        write_output(target, half_then_fail, force=True)
    assert target.read_text() == "the earlier report"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]  # no partial file left behind


def test_a_regular_file_is_replaced_owner_only(tmp_path):
    target = tmp_path / "out.csv"
    assert write_output(target, lambda out: out.write("a,b\n")) == 4
    assert target.read_text() == "a,b\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_a_link_stays_a_link_and_its_file_is_written(tmp_path):
    real = tmp_path / "real.html"
    real.write_text("old")
    link = tmp_path / "link.html"
    link.symlink_to(real)
    write_output(link, lambda out: out.write(b"new"), binary=True, force=True)
    assert link.is_symlink() and real.read_bytes() == b"new"


def test_a_fifo_is_written_in_place_not_replaced(tmp_path):
    fifo = tmp_path / "pipe"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)
    try:
        write_output(fifo, lambda out: out.write("through the pipe"))
        assert os.read(reader, 100) == b"through the pipe"
    finally:
        os.close(reader)
    assert stat.S_ISFIFO(fifo.stat().st_mode)


def test_a_folder_is_refused(tmp_path):
    with pytest.raises(UsageError, match="is a folder"):
        write_output(tmp_path, lambda out: None)

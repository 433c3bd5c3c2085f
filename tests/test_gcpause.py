"""Bulk work's garbage-collector settings are restored however the block ends, and left alone when managed."""

import gc

import pytest

from ipt_measures.gcpause import BULK_THRESHOLD, bulk_collection


def test_bulk_collection_freezes_raises_the_threshold_and_restores_both():
    before = gc.get_threshold()
    with bulk_collection():
        assert gc.get_freeze_count() > 0
        assert gc.get_threshold()[0] == max(before[0], BULK_THRESHOLD)
        with bulk_collection():  # nested: the outer block's settings stand
            assert gc.get_threshold()[0] == max(before[0], BULK_THRESHOLD)
        assert gc.get_freeze_count() > 0
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_bulk_collection_restores_after_an_error():
    before = gc.get_threshold()
    with pytest.raises(KeyboardInterrupt):
        with bulk_collection():
            raise KeyboardInterrupt
    assert gc.get_threshold() == before
    assert gc.get_freeze_count() == 0


def test_bulk_collection_leaves_a_disabled_collector_alone():
    before = gc.get_threshold()
    gc.disable()
    try:
        with bulk_collection():
            assert gc.get_threshold() == before
            assert gc.get_freeze_count() == 0
    finally:
        gc.enable()

"""PCL-5 against hand-worked examples.

Expected values are worked by hand from the National Center for PTSD's PCL-5 scoring guidance
(Weathers et al. 2013; Blevins et al. 2015, J Trauma Stress 28:489-498): 20 items 0-4, total = sum
(0-80), DSM-5 clusters B = items 1-5, C = 6-7, D = 8-14, E = 15-20; provisional PTSD at 33
(NC-PTSD 31-33; Bovin et al. 2016); change of 10 points taken as reliable (NC-PTSD 5-10).
"""

import pytest

from ipt_measures import get_instrument, score
from ipt_measures.contract import check_instrument


def pcl5(*values):
    return score("pcl5", list(values))


def scales(result):
    return {s.id: s.value for s in result.scales}


def test_definition_passes_the_contract():
    assert check_instrument(get_instrument("pcl5")) == []


def test_public_domain_text_is_shipped_with_published_answers():
    inst = get_instrument("pcl5")
    assert inst.licence == "public domain"
    assert len(inst.items) == 20 and all(item.text for item in inst.items)
    assert inst.items[0].text == "Repeated, disturbing, and unwanted memories of the stressful experience?"
    assert inst.items[19].text == "Trouble falling or staying asleep?"
    assert [o.label for o in inst.options] == ["Not at all", "A little bit", "Moderately", "Quite a bit", "Extremely"]


def test_no_loinc_code_is_claimed():
    # No verified LOINC code for the PCL-5; 96762-0 belongs to another instrument.
    inst = get_instrument("pcl5")
    assert inst.loinc is None and all(s.loinc is None for s in inst.scales)
    assert all(i.loinc is None for i in inst.items)


def test_clusters_follow_dsm5():
    by_id = {s.id: s for s in get_instrument("pcl5").scales}
    assert by_id["cluster-b"].items == ["1", "2", "3", "4", "5"]
    assert by_id["cluster-c"].items == ["6", "7"]
    assert by_id["cluster-d"].items == [str(n) for n in range(8, 15)]
    assert by_id["cluster-e"].items == [str(n) for n in range(15, 21)]


def test_hand_worked_example_with_clusters():
    # B: 3+2+1+3+2 = 11; C: 4+3 = 7; D: 1+2+3+2+1+2+1 = 12; E: 2+0+3+3+2+3 = 13; total 43 -> probable PTSD.
    values = [3, 2, 1, 3, 2, 4, 3, 1, 2, 3, 2, 1, 2, 1, 2, 0, 3, 3, 2, 3]
    result = pcl5(*values)
    assert scales(result) == {"total": 43, "cluster-b": 11, "cluster-c": 7, "cluster-d": 12, "cluster-e": 13}
    assert result.total.band == "probable PTSD (provisional)"
    assert result.flags == []


@pytest.mark.parametrize("total, band", [
    (0, "below provisional PTSD cut-off"),
    (32, "below provisional PTSD cut-off"),
    (33, "probable PTSD (provisional)"),
    (80, "probable PTSD (provisional)"),
])
def test_cut_point_33(total, band):
    values = [min(4, max(0, total - 4 * i)) for i in range(20)]
    result = pcl5(*values).total
    assert (result.value, result.band) == (total, band)


def test_missing_items_prorate_the_total_but_not_a_cluster():
    # Items 6 and 7 missing: 18 answered x 2 = 36; 36 x 20 / 18 = 40. Cluster C has nothing left.
    values = [2] * 5 + [None, None] + [2] * 13
    result = pcl5(*values)
    assert (result.total.value, result.total.prorated) == (40, True)
    got = scales(result)
    assert got["cluster-c"] is None and got["cluster-b"] == 10 and got["cluster-d"] == 14 and got["cluster-e"] == 12


def test_three_missing_are_not_scored():
    result = pcl5(*([1] * 17 + [None] * 3))
    assert result.total.value is None and scales(result)["cluster-e"] is None


def test_change_parameters():
    change = get_instrument("pcl5").primary.change
    assert (change.reliable_change, change.clinical_cutoff, change.reliability) == (10, 33, 0.94)
    assert "National Center for PTSD" in change.source and "Blevins" in change.source

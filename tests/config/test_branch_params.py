"""The optional branches' params: ``cross.scaling`` and ``tasks.n_held_in_items`` are off by
default, typed, and a bad value is refused naming its key and the allowed range."""

import copy
from pathlib import Path

import pytest
import yaml

from inward.config.validation import ParamsError, validate_params

ROOT = Path(__file__).resolve().parents[2]
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def with_branches(scaling=None, held_in=None):
    p = copy.deepcopy(PARAMS)
    if scaling is not None:
        p["cross"] = {"scaling": scaling}
    if held_in is not None:
        p["tasks"]["n_held_in_items"] = held_in
    return p


def test_both_branches_are_off_by_default():
    typed = validate_params(copy.deepcopy(PARAMS), check_inputs=False)
    assert typed.cross.scaling == () and typed.tasks.n_held_in_items == 0


def test_branch_values_are_typed():
    typed = validate_params(with_branches([0.25, 0.5], 3), check_inputs=False)
    assert typed.cross.scaling == (0.25, 0.5) and typed.tasks.n_held_in_items == 3


@pytest.mark.parametrize("value", [1, 1.5, 2, 0, -0.5])
def test_a_share_outside_0_1_is_refused_with_the_key_and_range(value):
    with pytest.raises(ParamsError, match=rf"cross\.scaling\[1\]: {value!r} is out of range; "
                                          r"allowed: fractions 0 < k < 1"):
        validate_params(with_branches([0.5, value]), check_inputs=False)


def test_two_shares_naming_one_finetune_are_refused():
    with pytest.raises(ParamsError, match=r"cross\.scaling\[1\]: 0\.5000001 names the same "
                                          r"finetune as 0\.5 \(@0\.5\)"):
        validate_params(with_branches([0.5, 0.5000001]), check_inputs=False)


def test_schema_refuses_bad_shapes():
    with pytest.raises(ParamsError, match=r"cross\.scaling: .* is not of type 'array'"):
        validate_params(with_branches("0.5"), check_inputs=False)
    with pytest.raises(ParamsError, match=r"tasks\.n_held_in_items: -1 is less than the "
                                          r"minimum of 0"):
        validate_params(with_branches(held_in=-1), check_inputs=False)
    p = with_branches()
    p["cross"] = {"scale": [0.5]}
    with pytest.raises(ParamsError, match=r"cross\.scale: unknown key; allowed keys: scaling"):
        validate_params(p, check_inputs=False)


def test_scaling_needs_two_models():
    p = with_branches([0.5])
    p["models"] = {"smollm2": p["models"]["smollm2"]}
    with pytest.raises(ParamsError, match=r"cross\.scaling: needs at least two models"):
        validate_params(p, check_inputs=False)


def test_held_in_items_beyond_what_a_task_can_generate_are_refused():
    # wealth_seeking has 336 distinct prompts; the shipped study trains on 25 of them
    with pytest.raises(ParamsError, match=r"tasks\.n_held_in_items: 312 held-in items of task "
                                          r"'wealth_seeking' after its 25 training items exceed "
                                          r"the 336 .*; allowed: 0 to 311"):
        validate_params(with_branches(held_in=312))
    validate_params(with_branches(held_in=311))

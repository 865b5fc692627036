"""Chapter 10 (dAUTOMAP) under the quick profile: its JSON is complete and consistent with chapter 06's
and with its own per-volume results; and its parameters fail with one line naming the parameter."""

import math

import pytest

from automap_nb import findings, models, statistics
from automap_nb.experiments import dautomap
from automap_nb.orchestration import params, profiles
from automap_nb.results import read_json

QUICK = profiles.PROFILES["quick"]


@pytest.fixture(scope="module")
def ch10(quick_run):
    return read_json(quick_run / "10_dautomap.json")


def test_size_table_counts_both_networks_and_dautomap_grows_as_n_squared(ch10):
    rows = {(r["model"], r["n"]): r["parameters"] for r in ch10["sizes"]}
    assert len(rows) == len(dautomap.TABLE_VARIANTS) * len(dautomap.SIZES)
    for variant, label in dautomap.TABLE_VARIANTS.items():
        for n in dautomap.SIZES:
            assert rows[(label, n)] == models.count_params(variant, n, models.CONV_FILTERS)
    assert rows[("dAUTOMAP", 320)] / rows[("dAUTOMAP", 64)] < 25  # (320 / 64)² = 25, the conv tail does not grow
    assert rows[(dautomap.TABLE_VARIANTS["greenberg"], 320)] / rows[(dautomap.TABLE_VARIANTS["greenberg"], 64)] > 600  # n⁴


def test_every_model_saw_the_same_samples_and_the_parameters_are_the_built_models(ch10):
    assert ch10["budget"]["epochs"] == QUICK["dautomap_epochs"] and ch10["large_n"] == QUICK["dautomap_large_size"]
    labels = ["AUTOMAP", *(dautomap.INIT_LABELS[i] for i in profiles.PROFILES["cpu"]["dautomap_inits"])]
    assert {ch10["curves"][label]["samples"][-1] for label in labels} == {ch10["samples"]}
    assert all(math.isfinite(v) for c in ch10["curves"].values() for v in c["val_psnr"])
    n, filters = ch10["n"], QUICK["dautomap_conv_filters"]
    assert ch10["params"]["AUTOMAP"] == models.count_params(QUICK["dautomap_automap_variant"], n, filters)
    assert ch10["params"]["dAUTOMAP"] == models.count_params(QUICK["dautomap_variant"], n, filters)


def test_chapter_06_methods_are_read_on_the_same_slices(ch10, quick_run):
    ch06 = read_json(quick_run / "06_undersampling_baselines.json")
    assert ch10["test_volumes"] == sorted(ch06["test_volumes"]) and ch10["mask_kind"] == ch06["mask_kind"]
    results = ch10["results"][f"{ch10['n']}²"]
    for method, label in dautomap.CHAPTER06_METHODS.items():
        assert results[label] == ch06["results"][method]
    for key in ch10["accelerations"][1:]:  # zero-filled recomputed here on the same masks (1×: exact, round-off only)
        assert results["zero-filled"][key]["mean"]["psnr"] == pytest.approx(ch06["results"]["zero_filled"][key]["mean"]["psnr"],
                                                                            rel=1e-6)


def test_comparisons_and_the_verdict_follow_the_per_volume_results_and_the_rule(ch10):
    for grid, by_key in ch10["comparisons"].items():
        results = ch10["results"][grid]
        assert "1x" not in by_key or not any("zero-filled" in pair for pair in by_key["1x"])  # exact at 1×
        for key, by_pair in by_key.items():
            for pair, by_metric in by_pair.items():
                a, b = pair.split(" − ")
                again = statistics.compare(results[a][key], results[b][key], "test", a, b)
                assert {m: c.to_dict() for m, c in again.items()} == by_metric
    learned = ch10["learned"]
    big = f"dAUTOMAP at {ch10['large_n']}²"
    assert set(learned) == {"AUTOMAP", "dAUTOMAP", "dAUTOMAP, random start", big}
    verdict = ch10["verdict"]
    assert "\n" not in verdict and "**" not in verdict
    large = ch10["comparisons"][f"{ch10['large_n']}²"]
    for label, pair, table in (("dAUTOMAP", "dAUTOMAP − AUTOMAP", ch10["comparisons"][f"{ch10['n']}²"]),
                               (big, f"{big} − zero-filled", large)):
        cell = findings.comparison_cell(statistics.Comparison(**table["8x"][pair]["psnr"]))
        assert (cell in verdict) == learned[label]["passed"]
        if not learned[label]["passed"]:
            assert "inconclusive at this budget" in verdict


@pytest.mark.parametrize("changes,message", [
    ({"dautomap_inits": ["random"]}, "parameter 'dautomap_inits' must hold 'idft' once"),
    ({"dautomap_accelerations": [4, 8]}, "parameter 'dautomap_accelerations' must hold 1 once"),
    ({"dautomap_variant": "greenberg"}, "parameter 'dautomap_variant' must be one of"),
    ({"dautomap_automap_variant": "dautomap"}, "parameter 'dautomap_automap_variant' must be one of"),
    ({"dautomap_large_size": 400}, "parameter 'dautomap_large_size' must be <= 320"),
])
def test_bad_parameters_name_themselves(quick_run, changes, message):
    values = {**{k: v for k, v in QUICK.items() if k in params.CHAPTERS["10_dautomap"].knobs}, "run_dir": quick_run}
    with pytest.raises(params.ParameterError, match=message):
        params.validate("10_dautomap", {**values, **changes})


def test_stability_is_paired_with_chapter_08_on_its_slices(ch10, quick_run):
    ch08 = read_json(quick_run / "08_stability.json")
    comparisons = ch10["stability"]["comparisons"]
    assert {g: set(c) for g, c in comparisons.items()} == {g: set(m) for g, m in dautomap.STABILITY_REFERENCES.items()}
    top = max(ch08["budgets"])
    theirs = {(r["group"], r["method"]): r["amp_worst"] for r in ch08["summary"] if r["budget"] == top}
    ours = {r["group"]: r["amp_worst"] for r in ch10["stability"]["summary"] if r["budget"] == top}
    for group, by_method in comparisons.items():
        for method, c in by_method.items():
            assert c["units"] == len(ch08["slices"]) and c["budget"] == top
            assert c["mean_a"] == pytest.approx(ours[group]) and c["mean_b"] == pytest.approx(theirs[(group, method)])
    assert all(r["amp_worst"] >= r["amp_random"] >= 0 for r in ch10["stability"]["summary"])


def test_prepare_like_reuses_the_file_at_its_own_grid(quick_run, tmp_path):
    prepared = quick_run / "prepared.h5"
    n = read_json(quick_run / "10_dautomap.json")["n"]
    assert dautomap.prepare_like(prepared, tmp_path / "again.h5", n, progress=False) == prepared
    assert not (tmp_path / "again.h5").exists()

import pytest

from jlan_tf.config import Config


def test_defaults_are_the_papers_sizes_and_the_forms_chosen_on_dev():
    c = Config()
    assert (c.model.lstm_units, c.model.attention_dim, c.model.residual_blocks) == (256, 200, 1)
    assert (c.train.learning_rate, c.model.fusion) == (1e-3, "joint")
    assert (c.study.fusion_scale, c.study.fusion_label_bias) == (2.0, True)
    assert (c.train.d_max, c.study.drop_rank, c.train.burn_in_epochs, c.study.drop_rounding) == \
        (0.1, "relative", 4.0, "stochastic")
    assert c.train.ema_momentum == 0.99
    assert (c.model.lexical_output, c.study.lexical_init, c.study.lexical_trainable) == (True, "lr", False)


@pytest.mark.parametrize("preset", ["jlan_paper", "caml", "multirescnn", "laat", "jointlaat", "laat_paper"])
def test_published_presets_keep_the_moving_average_and_the_tfidf_part_off(preset):
    c = Config().apply_overrides([f"preset={preset}"])
    assert c.train.ema_momentum == 0.0 and not c.model.lexical_output


def test_the_papers_form_is_one_list_of_overrides():
    from jlan_tf.studies.runs import PAPER

    c = Config().apply_overrides(PAPER)
    assert (c.study.fusion_scale, c.study.fusion_label_bias, c.train.d_max) == (1.0, False, 0.15)
    assert (c.study.drop_rank, c.train.burn_in_epochs, c.study.drop_rounding) == ("loss", 0.0, "ceil")
    assert c.train.ema_momentum == 0.0


def test_overrides_are_typed_and_unknown_keys_refused():
    c = Config().apply_overrides(["train.epochs=3", "model.fusion=sum", "train.d_max=0", "train.jit_compile=true"])
    assert c.train.epochs == 3 and c.model.fusion == "sum" and c.train.d_max == 0.0 and c.train.jit_compile is True
    with pytest.raises(KeyError, match="unknown setting 'train.epoch'"):
        Config().apply_overrides(["train.epoch=3"])
    with pytest.raises(KeyError):
        Config().apply_overrides(["nothing.epochs=3"])
    with pytest.raises(ValueError, match="train.epochs: cannot read 'three' as int"):
        Config().apply_overrides(["train.epochs=three"])
    with pytest.raises(ValueError, match="section.key=value"):
        Config().apply_overrides(["train.epochs"])


def test_save_and_load(tmp_path):
    c = Config().apply_overrides(["data.batch_size=4", "model.label_queries=trainable"])
    c.save(tmp_path / "config.json")
    assert Config.load(tmp_path / "config.json") == c


def test_a_saved_config_carries_its_version_and_a_newer_one_is_refused(tmp_path):
    import json

    from jlan_tf.config import CONFIG_VERSION

    Config().save(tmp_path / "config.json")
    saved = json.loads((tmp_path / "config.json").read_text())
    assert saved["version"] == CONFIG_VERSION and set(saved) == {"version", "data", "model", "train", "study"}
    with pytest.raises(ValueError, match="config version 99"):
        Config.from_dict({**saved, "version": 99})
    # In the current version a missing key takes today's default.
    del saved["model"]["lexical_output"]
    assert Config.from_dict(saved).model.lexical_output


def _version_1(**model):
    """A config.json as saved before versions existed: study switches in model/train, no version."""
    saved = Config().to_dict()
    del saved["version"]
    study = saved.pop("study")
    del study["output_parent_scorer"]  # newer than version 1
    for name in ("stop_epoch", "drop_rank", "drop_rounding", "rare_code_notes", "optimizer"):
        saved["train"][name] = study.pop(name)
    saved["model"].update(study, **model)
    return saved


def test_version_1_moves_the_study_switches_and_keeps_what_the_run_had():
    old = Config.from_dict(_version_1(fusion_scale=1.0, lexical_init="zeros") | {"train": {"drop_rank": "loss"}})
    assert (old.study.fusion_scale, old.study.lexical_init, old.study.drop_rank) == (1.0, "zeros", "loss")
    # A key missing from a version-1 config means the run predates the setting and ran without it.
    saved = _version_1()
    del saved["model"]["lexical_output"], saved["model"]["output_description_scorer"]
    old = Config.from_dict(saved)
    assert not old.model.lexical_output and not old.model.output_description_scorer
    # A run with the TF-IDF part learned from 0, saved before lexical_init existed, keeps that form.
    saved = _version_1(lexical_output=True)
    del saved["model"]["lexical_init"], saved["model"]["lexical_trainable"]
    learned = Config.from_dict(saved)
    assert (learned.model.lexical_output, learned.study.lexical_init, learned.study.lexical_trainable) == \
        (True, "zeros", True)
    assert Config.from_dict({"train": {"epochs": 3}}).model.lexical_output  # no model section: the defaults


def test_an_old_name_of_a_moved_switch_says_where_it_went():
    with pytest.raises(KeyError, match="'model.fusion_scale' is now 'study.fusion_scale'"):
        Config().apply_overrides(["model.fusion_scale=1"])


def test_the_tfidf_part_keeps_every_word_where_that_fits_and_128_words_per_code_beyond():
    from jlan_tf.config import lexical_words_for

    auto = Config().model
    assert lexical_words_for(auto, 5026, 2194) == 0         # CodiEsp, all codes: every word, as chosen on dev
    assert lexical_words_for(auto, 51917, 50) == 0          # MIMIC-III-50
    assert lexical_words_for(auto, 51917, 8921) == 128      # MIMIC-III-full: 1.85 GB dense, 128 words per code
    assert lexical_words_for(Config().apply_overrides(["model.lexical_words=32"]).model, 51917, 8921) == 32
    assert lexical_words_for(Config().apply_overrides(["model.lexical_words=0"]).model, 51917, 8921) == 0

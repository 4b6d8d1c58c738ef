import pytest

from jlan_tf.config import Config


def test_defaults_are_the_papers_sizes_and_the_forms_chosen_on_dev():
    c = Config()
    assert (c.model.lstm_units, c.model.attention_dim, c.model.residual_blocks) == (256, 200, 1)
    assert (c.train.learning_rate, c.model.fusion) == (1e-3, "joint")
    assert (c.model.fusion_scale, c.model.fusion_label_bias) == (2.0, True)
    assert (c.train.d_max, c.train.drop_rank, c.train.burn_in_epochs, c.train.drop_rounding) == \
        (0.1, "relative", 4.0, "stochastic")
    assert c.train.ema_momentum == 0.99
    assert (c.model.lexical_output, c.model.lexical_init, c.model.lexical_trainable) == (True, "lr", False)


@pytest.mark.parametrize("preset", ["jlan_paper", "caml", "multirescnn", "laat", "jointlaat", "laat_paper"])
def test_published_presets_keep_the_moving_average_and_the_tfidf_part_off(preset):
    c = Config().apply_overrides([f"preset={preset}"])
    assert c.train.ema_momentum == 0.0 and not c.model.lexical_output


def test_the_papers_form_is_one_list_of_overrides():
    from jlan_tf.studies.runs import PAPER

    c = Config().apply_overrides(PAPER)
    assert (c.model.fusion_scale, c.model.fusion_label_bias, c.train.d_max) == (1.0, False, 0.15)
    assert (c.train.drop_rank, c.train.burn_in_epochs, c.train.drop_rounding) == ("loss", 0.0, "ceil")
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


def test_a_config_saved_before_a_setting_existed_loads_without_it(tmp_path):
    import json

    saved = Config().to_dict()
    del saved["model"]["lexical_output"], saved["model"]["output_description_scorer"]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    old = Config.load(tmp_path / "config.json")
    assert not old.model.lexical_output and not old.model.output_description_scorer
    # A run with the TF-IDF part learned from 0, saved before lexical_init existed, keeps that form.
    saved["model"].update(lexical_output=True)
    del saved["model"]["lexical_init"], saved["model"]["lexical_trainable"]
    (tmp_path / "config.json").write_text(json.dumps(saved))
    learned = Config.load(tmp_path / "config.json").model
    assert (learned.lexical_output, learned.lexical_init, learned.lexical_trainable) == (True, "zeros", True)
    assert Config.from_dict({"train": {"epochs": 3}}).model.lexical_output  # no model section: the defaults

"""What the training step optimises, apart from the network: the truncation loss's schedule
(``jlan_tf.denoising``) and the loss's other training-only settings. It belongs to training:
``training.new_model`` builds it from the config and hands it to the model
(``JLANModel.set_objective``); the model's config and the exported SavedModel never hold it,
so a schedule can change without changing the model.
"""

from __future__ import annotations

import dataclasses

from jlan_tf.denoising import RANKS, ROUNDINGS


@dataclasses.dataclass(frozen=True)
class Objective:
    """The training loss's settings. ``Objective()`` is plain BCE over every entry.

    Args:
        d_max: float. Largest share of positive entries dropped per batch (0 = plain BCE).
        warmup_steps: int. Steps of the ramp from 0 to ``d_max`` (after the burn-in).
        stop_step: int or None. Step from which nothing is dropped any more.
        burn_in_steps: int. Steps before dropping starts.
        drop_rank: "loss" (the paper) or "relative" (loss minus the code's running mean
            positive loss); see ``jlan_tf.denoising``.
        drop_rounding: "ceil" (the paper), "floor" or "stochastic".
        d_max_negatives: float. Largest number of negatives dropped per batch, as a share of its
            positives (codes a coder missed; ``denoising.negative_mask``), on the same schedule.
        label_bands: per label, its training-frequency band (0 rare, 1 medium, 2 frequent);
            with it the step logs, per band, the share of positives dropped (``dropped_share_*``)
            and the mean self-attention weight of joint fusion (``alpha_*``).
        label_weights: per label, a weight on its loss entries (``study.rare_code_notes``);
            None = all 1.
        label_parents: per label, the index of its parent code, for a model with a
            ``parent_logits`` output (JointLAAT): the loss adds the parents' mean BCE.
        evidence_weight: float. Weight of ``jlan_tf.supervision``'s span loss, used when the
            training targets carry ``evidence``.
    """

    d_max: float = 0.0
    warmup_steps: int = 1
    stop_step: int | None = None
    burn_in_steps: int = 0
    drop_rank: str = "loss"
    drop_rounding: str = "ceil"
    d_max_negatives: float = 0.0
    label_bands: tuple[int, ...] | None = None
    label_weights: tuple[float, ...] | None = None
    label_parents: tuple[int, ...] | None = None
    evidence_weight: float = 0.0

    def __post_init__(self):
        if self.drop_rank not in RANKS or self.drop_rounding not in ROUNDINGS:
            raise ValueError(f"drop_rank must be one of {RANKS} and drop_rounding one of {ROUNDINGS}, "
                             f"got {self.drop_rank!r} and {self.drop_rounding!r}")
        for name in ("label_bands", "label_weights", "label_parents"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, tuple(value))

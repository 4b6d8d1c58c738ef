"""JLAN's custom Keras layers, one per module."""

from jlan_tf.layers.dual_attention import DualAttention
from jlan_tf.layers.fast_lstm import FastLSTM
from jlan_tf.layers.joint_fusion import FUSION_MODES, JointFusion
from jlan_tf.layers.label_attention import LabelAttention
from jlan_tf.layers.label_wise_output import LabelWiseOutput
from jlan_tf.layers.lexical_output import LexicalOutput
from jlan_tf.layers.residual_conv1d import ResidualConv1D

__all__ = ["DualAttention", "FastLSTM", "FUSION_MODES", "JointFusion", "LabelAttention", "LabelWiseOutput", "LexicalOutput", "ResidualConv1D"]

import numpy as np
import pytest
import tensorflow as tf

from jlan_tf.layers.label_wise_output import LabelWiseOutput
from jlan_tf.layers.testing import run_layer_test


def test_layer_contract():
    x = tf.random.normal((2, 3, 5))
    for hidden_dim, shared, description, parents in ((8, False, False, 0), (0, False, False, 0), (8, True, False, 0),
                                                     (8, True, True, 0), (0, False, True, 0), (0, False, False, 2),
                                                     (8, False, True, 2)):
        run_layer_test(LabelWiseOutput, {"num_labels": 3, "hidden_dim": hidden_dim, "activation": "tanh",
                                         "shared_scorer": shared, "description_scorer": description,
                                         "description_dim": 4, "num_parents": parents}, x, (2, 3))


def test_each_label_has_its_own_weights():
    layer = LabelWiseOutput(num_labels=2, hidden_dim=0)
    x = tf.constant([[[1.0, 2.0], [3.0, 4.0]]])
    layer(x)
    layer.label_weights.assign([[1.0, 0.0], [0.5, -1.0]])
    layer.label_bias.assign([0.1, 0.2])
    np.testing.assert_allclose(layer(x).numpy(), [[1.0 + 0.1, 1.5 - 4.0 + 0.2]], rtol=1e-6)


def test_shared_scorer_adds_a_shared_vector_to_every_label():
    layer = LabelWiseOutput(num_labels=2, hidden_dim=0, shared_scorer=True)
    x = tf.constant([[[1.0, 2.0], [3.0, 4.0]]])
    layer(x)
    np.testing.assert_array_equal(layer.label_weights.numpy(), 0.0)  # every label starts from the shared scorer
    layer.scorer.assign([1.0, -1.0])
    np.testing.assert_allclose(layer(x).numpy(), [[1.0 - 2.0, 3.0 - 4.0]], rtol=1e-6)
    layer.label_weights.assign([[0.0, 0.0], [0.5, 1.0]])
    layer.label_bias.assign([0.1, 0.2])
    np.testing.assert_allclose(layer(x).numpy(), [[-1.0 + 0.1, 1.5 * 3.0 + 0.0 * 4.0 + 0.2]], rtol=1e-6)


def test_description_scorer_projects_unit_length_descriptions():
    layer = LabelWiseOutput(num_labels=3, hidden_dim=0, description_scorer=True, description_dim=2)
    x = tf.constant([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]])
    layer(x)
    np.testing.assert_array_equal(layer.label_weights.numpy(), 0.0)
    layer.set_descriptions([[3.0, 4.0], [0.0, 2.0], [0.0, 0.0]])  # the last code has no description
    np.testing.assert_allclose(layer.descriptions.numpy(), [[0.6, 0.8], [0.0, 1.0], [0.0, 0.0]], rtol=1e-6)
    layer.description_projection.assign([[1.0, 0.0], [0.0, -1.0]])  # W_j = (d_j1, -d_j2)
    np.testing.assert_allclose(layer(x).numpy(), [[0.6 * 1.0 - 0.8 * 2.0, -4.0, 0.0]], rtol=1e-6)
    # Codes with the same description start with the same scorer; their own parts tell them apart.
    layer.set_descriptions([[1.0, 0.0], [2.0, 0.0], [0.0, 0.0]])
    weights = layer.label_weight_matrix().numpy()
    np.testing.assert_array_equal(weights[0], weights[1])
    layer.label_weights.assign([[0.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    layer.label_bias.assign([0.1, 0.2, 0.3])
    np.testing.assert_allclose(layer(x).numpy(), [[1.0 + 0.1, 3.0 + 4.0 + 0.2, 11.0 + 0.3]], rtol=1e-6)


def test_parent_scorer_is_shared_by_siblings():
    layer = LabelWiseOutput(num_labels=3, hidden_dim=0, num_parents=2)
    x = tf.constant([[[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]])
    layer(x)
    np.testing.assert_array_equal(layer.label_weights.numpy(), 0.0)  # every code starts from its parent's vector
    layer.set_parents([1, 0, 1])  # codes 0 and 2 are siblings
    layer.parent_weights.assign([[1.0, 0.0], [0.0, -1.0]])
    np.testing.assert_allclose(layer(x).numpy(), [[-2.0, 3.0, -6.0]], rtol=1e-6)
    weights = layer.label_weight_matrix().numpy()
    np.testing.assert_array_equal(weights[0], weights[2])
    layer.label_weights.assign([[0.0, 0.0], [0.0, 0.0], [1.0, 1.0]])  # its own part tells a sibling apart
    layer.label_bias.assign([0.1, 0.2, 0.3])
    np.testing.assert_allclose(layer(x).numpy(), [[-2.0 + 0.1, 3.0 + 0.2, 5.0 + 0.3]], rtol=1e-6)
    # A candidate subset reads the same weights.
    np.testing.assert_allclose(layer(x[:, 2:], labels=tf.constant([[2]])).numpy(), [[5.3]], rtol=1e-6)


def test_parent_scorer_starts_at_zero_beside_descriptions_and_checks_its_index():
    layer = LabelWiseOutput(num_labels=3, hidden_dim=0, description_scorer=True, description_dim=2, num_parents=2)
    layer(tf.zeros((1, 3, 2)))
    np.testing.assert_array_equal(layer.parent_weights.numpy(), 0.0)  # the description scorer starts alone
    with pytest.raises(ValueError, match="3 indices in \\[0, 2\\)"):
        layer.set_parents([0, 1, 2])

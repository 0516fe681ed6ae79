"""Tests for `mmdvae.data.from_arrays`: images and vector data from NumPy arrays."""

import numpy as np
import pytest

from mmdvae import data


def test_from_arrays_scales_uint8_and_keeps_floats():
    generator = np.random.default_rng(0)
    pixels = generator.integers(0, 256, size=(10, 4, 6, 3), dtype=np.uint8)
    labels = np.arange(10) % 3
    images, batch_labels = next(iter(data.from_arrays(pixels, labels, batch_size=10)))
    np.testing.assert_allclose(images.numpy(), pixels / 255.0, rtol=0, atol=1e-7)
    assert batch_labels.dtype.name == "int64"
    np.testing.assert_array_equal(batch_labels.numpy(), labels)

    values = generator.normal(5.0, 3.0, size=(7, 5)).astype(np.float64)
    vectors = next(iter(data.from_arrays(values, batch_size=7))).numpy()
    assert vectors.dtype == np.float32 and vectors.shape == (7, 5)
    np.testing.assert_allclose(vectors, values, rtol=1e-6)  # no silent standardisation


def test_from_arrays_standardizes_on_request_and_undoes_it():
    generator = np.random.default_rng(1)
    train = generator.normal([10.0, -3.0, 0.5], [4.0, 0.1, 2.0], size=(400, 3))
    test = generator.normal([10.0, -3.0, 0.5], [4.0, 0.1, 2.0], size=(50, 3))
    dataset = data.from_arrays(train, batch_size=400, standardize=True)
    standardized = next(iter(dataset)).numpy().astype(np.float64)
    np.testing.assert_allclose(standardized.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(standardized.std(axis=0), 1.0, atol=1e-5)
    statistics = dataset.standardization
    np.testing.assert_allclose(statistics.mean, train.mean(axis=0), rtol=1e-6)
    np.testing.assert_allclose(statistics.std, train.std(axis=0), rtol=1e-6)
    np.testing.assert_allclose(statistics.invert(standardized), train, rtol=1e-5, atol=1e-5)

    test_dataset = data.from_arrays(test, batch_size=50, standardize=statistics)
    np.testing.assert_allclose(next(iter(test_dataset)).numpy(),
                               (test - train.mean(axis=0)) / train.std(axis=0), rtol=1e-5,
                               atol=1e-5)
    assert data.from_arrays(train).standardization is None
    constant = data.from_arrays(np.ones((5, 2)), standardize=True).standardization
    np.testing.assert_array_equal(constant.std, [1.0, 1.0])


def test_from_arrays_shuffle_train_size_and_binarisation():
    values = np.linspace(0.0, 1.0, 60).reshape(60, 1).astype(np.float32)

    def epochs(seed):
        dataset = data.from_arrays(values, batch_size=50, shuffle=True, seed=seed,
                                   train_size=50)
        return [next(iter(dataset)).numpy().ravel() for _ in range(2)]

    first, second = epochs(0)
    np.testing.assert_array_equal(first, epochs(0)[0])
    assert not np.array_equal(first, second) and not np.array_equal(first, epochs(1)[0])
    np.testing.assert_array_equal(np.sort(first), values[:50].ravel())

    fixed = next(iter(data.from_arrays(values, batch_size=60, binarize="fixed",
                                       threshold=0.25))).numpy()
    np.testing.assert_array_equal(fixed, (values > 0.25).astype(np.float32))
    draws = next(iter(data.from_arrays(np.full((4000, 1), 0.3, np.float32), batch_size=4000,
                                       binarize="stochastic", seed=0))).numpy()
    assert set(np.unique(draws).tolist()) == {0.0, 1.0}
    assert abs(draws.mean() - 0.3) < 4 * np.sqrt(0.3 * 0.7 / 4000)


@pytest.mark.parametrize(
    "images, keywords, error, fragments",
    [
        (np.arange(24).reshape(6, 4), {}, TypeError, ["images", "int64", "float32"]),
        (np.full((3, 2), np.nan), {}, ValueError, ["finite", "6 NaN"]),
        (np.zeros((0, 3)), {}, ValueError, ["images", "(0, 3)"]),
        (np.zeros(5), {}, ValueError, ["images", "(5,)"]),
        (np.zeros((4, 2)), {"labels": [0, 1]}, ValueError, ["labels", "(4,)", "(2,)"]),
        (np.zeros((4, 2)), {"standardize": True, "binarize": "fixed"}, ValueError,
         ["standardize", "binarize"]),
        (np.full((4, 2), 3.0), {"binarize": "stochastic"}, ValueError, ["[0, 1]", "3"]),
        (np.zeros((4, 2)), {"standardize": "yes"}, TypeError, ["standardize", "'yes'"]),
        (np.zeros((4, 2)), {"train_size": 5}, ValueError, ["train_size", "5", "[1, 4]"]),
    ],
)
def test_from_arrays_refuses_bad_input(images, keywords, error, fragments):
    with pytest.raises(error) as raised:
        data.from_arrays(images, **keywords)
    for fragment in fragments:
        assert fragment in str(raised.value)


def test_from_arrays_refuses_statistics_of_another_shape():
    statistics = data.Standardization.of(np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"\(4,\).*\(2,\)"):
        data.from_arrays(np.zeros((3, 2)), standardize=statistics)

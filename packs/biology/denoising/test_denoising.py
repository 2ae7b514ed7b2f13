"""Unit tests of the metrics, the split and the loader, on matrices small
enough to compute by hand. Run: python3 -m unittest (tests/biology.rs does)."""

import math
import os
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import numpy as np

import data
import metrics


class Metrics(unittest.TestCase):
    def test_mse_normalises_rows_to_ten_thousand_and_takes_log1p(self):
        x_test = np.array([[1.0, 0.0], [0.0, 2.0]])
        y = np.array([[1.0, 1.0], [3.0, 3.0]])
        a, b = math.log1p(1e4), math.log1p(5e3)
        expected = ((a - b) ** 2 + b ** 2 + b ** 2 + (a - b) ** 2) / 4
        self.assertAlmostEqual(metrics.mse(x_test, y), expected, places=12)
        self.assertEqual(metrics.mse(x_test, x_test), 0.0)

    def test_poisson_rescales_by_the_totals_in_the_legacy_argument_order(self):
        x_test, x_train, y = np.array([[1.0, 0.0]]), np.array([[3.0, 6.0]]), np.array([[2.0, 2.0]])
        y_hat = 2.0 / 9.0
        expected = ((1.0 - y_hat * math.log(1.0 + 1e-6)) + (0.0 - y_hat * math.log(1e-6))) / 2
        self.assertAlmostEqual(metrics.poisson(x_test, y, x_train), expected, places=12)

    def test_normalisation_and_the_validity_threshold(self):
        self.assertAlmostEqual(metrics.normalised(0.2, 0.3, 0.1), 0.5)
        self.assertEqual(metrics.normalised(0.3, 0.3, 0.1), 0.0)
        self.assertEqual(metrics.normalised(0.1, 0.3, 0.1), 1.0)
        x_test, x_train, y = np.array([[1.0, 0.0]]), np.array([[3.0, 6.0]]), np.array([[2.0, 2.0]])
        p = metrics.poisson(x_test, y, x_train)
        # Constants that put this Y exactly at 0.97 (valid), then just under it.
        for normalised, valid in [(0.97, True), (0.9699, False)]:
            none, perfect = p + normalised, p - (1 - normalised)
            c = metrics.Constants(1.0, 0.0, none, perfect)
            s = metrics.score(x_train, x_test, y, c)
            self.assertAlmostEqual(s["poisson_normalised"], normalised, places=9)
            self.assertEqual(s["valid"], valid)
            self.assertAlmostEqual(s["mean_normalised"], (s["mse_normalised"] + s["poisson_normalised"]) / 2)


class Split(unittest.TestCase):
    def test_the_split_is_binomial_point_nine_and_reproducible(self):
        x = np.full((100, 100), 100.0)
        train, test = data.split(x, seed=3)
        self.assertTrue(np.array_equal(train + test, x))
        self.assertAlmostEqual(train.sum() / x.sum(), 0.9, delta=0.002)
        # Binomial(100, 0.9) per entry: variance 9.
        self.assertAlmostEqual(float(np.var(train)), 9.0, delta=0.6)
        again, _ = data.split(x, seed=3)
        other, _ = data.split(x, seed=4)
        self.assertTrue(np.array_equal(train, again))
        self.assertFalse(np.array_equal(train, other))

    def test_the_simulated_counts_are_sparse_integers_and_seeded(self):
        x = data.simulate()
        self.assertEqual(x.shape, (400, 2000))
        self.assertTrue(np.all(x == np.round(x)) and np.all(x >= 0))
        self.assertTrue(0.5 < np.mean(x == 0) < 0.75)
        # Library sizes log-normal around 3000 molecules.
        self.assertTrue(2000 < np.median(x.sum(axis=1)) < 4000)
        self.assertTrue(np.array_equal(x, data.simulate()))


class Load(unittest.TestCase):
    def write(self, text):
        f = tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False)
        f.write(text)
        f.close()
        return f.name

    def test_a_csv_loads_and_its_split_is_cached_beside_it(self):
        path = self.write("cell,g1,g2,g3\nc1,1,0,2\nc2,0,5,1\n")
        self.assertTrue(np.array_equal(data.load(path), [[1, 0, 2], [0, 5, 1]]))
        train, test = data.split_cached(path, 0)
        self.assertTrue(os.path.exists(path + ".split-0-None-None.npz"))
        again, _ = data.split_cached(path, 0)
        self.assertTrue(np.array_equal(train, again))
        self.assertTrue(np.array_equal(data.load(path, cells=1, genes=2), [[1, 0]]))

    def test_float_round_trip_noise_is_rounded_to_counts(self):
        path = self.write("cell,g1,g2\nc1,0.999999999999999,3.00000000000001\n")
        self.assertTrue(np.array_equal(data.load(path), [[1.0, 3.0]]))

    def test_bad_counts_are_refused_with_a_reason(self):
        for text, reason in [
            ("cell,g1\nc1,0.5\n", "not integers"),
            ("cell,g1\nc1,-1\n", "negative"),
            ("cell,g1\n", "at least one cell"),
            ("cell,g1,g2\nc1,1,2\nc2,3\n", "line 3: 2 fields, the header has 3"),
            ("cell,g1\nc1,lots\n", "line 2: could not convert"),
        ]:
            with self.assertRaisesRegex(ValueError, reason):
                data.load(self.write(text))

    def test_a_named_dataset_resolves_from_its_folder_and_unknown_names_are_refused(self):
        folder = tempfile.mkdtemp()
        os.environ["DISCOVER_DENOISING_DATASETS"] = folder
        try:
            # Already fetched: nothing is downloaded.
            path = os.path.join(folder, data.NAMED["celltypist"].file_name)
            with open(path, "w") as f:
                f.write("cell,g1\nc1,1\n")
            self.assertEqual(data.resolve("celltypist"), path)
            with self.assertRaisesRegex(ValueError, "not a named dataset"):
                data.resolve("pbmc")
            with self.assertRaisesRegex(ValueError, "no dataset named 'pbmc'"):
                data.fetch("pbmc")
        finally:
            del os.environ["DISCOVER_DENOISING_DATASETS"]

    def test_the_split_cache_is_small_and_exact(self):
        counts = data.simulate(cells=50, genes=300)
        path = tempfile.mktemp(suffix=".npy")
        np.save(path, counts)
        train, test = data.split_cached(path, 1)
        cached_train, cached_test = data.split_cached(path, 1)
        self.assertTrue(np.array_equal(train, cached_train) and np.array_equal(test, cached_test))
        self.assertLess(os.path.getsize(path + ".split-1-None-None.npz"), os.path.getsize(path) / 4)


class H5ad(unittest.TestCase):
    def write(self, x, layers=None):
        import anndata

        path = tempfile.mktemp(suffix=".h5ad")
        anndata.AnnData(X=x, layers=layers or {}).write_h5ad(path)
        return path

    def test_an_h5ad_written_by_anndata_loads_and_scores_like_the_counts_in_memory(self):
        import scipy.sparse

        counts = data.simulate(cells=60, genes=80)
        for stored in [counts, scipy.sparse.csr_matrix(counts)]:
            path = self.write(stored)
            self.assertTrue(np.array_equal(data.load(path), counts))
            train, test = data.split_cached(path, 0)
            ref_train, ref_test = data.split(counts, 0)
            self.assertTrue(np.array_equal(train, ref_train) and np.array_equal(test, ref_test))
            c, ref = metrics.Constants.of(train, test), metrics.Constants.of(ref_train, ref_test)
            self.assertEqual(metrics.score(train, test, train / 2, c), metrics.score(ref_train, ref_test, ref_train / 2, ref))
        # Raw counts in a layer, something else in X.
        path = self.write(np.log1p(counts), layers={"counts": counts})
        self.assertTrue(np.array_equal(data.load(path, layer="counts"), counts))
        with self.assertRaisesRegex(ValueError, "not integers"):
            data.load(path)
        with self.assertRaisesRegex(ValueError, "no layer 'raw'"):
            data.load(path, layer="raw")

    def test_bad_h5ad_files_are_refused_with_a_reason(self):
        for x, reason in [
            (np.full((3, 4), 0.5), "not integers"),
            (-np.ones((3, 4)), "negative"),
            (np.zeros((0, 4)), "at least one cell"),
        ]:
            with self.assertRaisesRegex(ValueError, reason):
                data.load(self.write(x))


if __name__ == "__main__":
    unittest.main()

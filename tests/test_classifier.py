"""The classify stage on a small fixture set with the real MiniLM."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from assistant.classifier import Classifier, Prediction, expected_calibration_error
from assistant.errors import IndexMissing, InputError

FIXTURES = Path(__file__).parent / "fixtures" / "intent"


def _read(name: str) -> tuple[list[str], list[str]]:
    rows = [json.loads(line) for line in (FIXTURES / name).read_text().splitlines() if line.strip()]
    return [r["text"] for r in rows], [r["label"] for r in rows]


@pytest.fixture(scope="module")
def fitted(embedder):
    texts, labels = _read("train.jsonl")
    return Classifier(embedder).fit(texts, labels, oos_label="oos")


def test_labels_come_from_the_data_and_oos_is_not_a_class(fitted):
    assert fitted.labels == ["billing", "hours", "xtime"]


def test_predicts_the_known_intent_of_held_out_requests(fitted):
    texts, labels = _read("test.jsonl")
    pairs = [(t, lab) for t, lab in zip(texts, labels) if lab != "oos"]
    preds = fitted.predict([t for t, _ in pairs])
    assert all(isinstance(p, Prediction) for p in preds)
    assert [p.label for p in preds] == [lab for _, lab in pairs]
    assert sum(not p.abstain for p in preds) >= len(pairs) - 1


def test_probabilities_are_a_distribution_and_confidence_is_the_top_one(fitted):
    for p in fitted.predict(["We were double billed this month", "tell me about the roman empire"]):
        assert set(p.probabilities) == set(fitted.labels)
        assert sum(p.probabilities.values()) == pytest.approx(1.0, abs=1e-6)
        assert 0.0 <= p.confidence <= 1.0 and 0.0 <= p.in_scope <= 1.0
        assert p.confidence == pytest.approx(max(p.probabilities.values()))
        assert p.label == max(p.probabilities, key=p.probabilities.get)


def test_abstains_on_clearly_unrelated_text(fitted):
    preds = fitted.predict(["What is the best way to grow tomatoes in a balcony garden?",
                            "Who painted the Mona Lisa?"])
    assert all(p.abstain for p in preds)
    assert all(p.label in fitted.labels for p in preds)  # still names the closest in-scope label


def test_in_domain_text_scores_higher_in_scope_than_unrelated_text(fitted):
    inside, outside = fitted.predict(["Xtime is not syncing our service appointments", "How do volcanoes form?"])
    assert inside.in_scope > outside.in_scope


def test_calibration_report_has_held_out_ece(fitted):
    report = fitted.calibration_report()
    assert 0.0 <= report["ece"] <= 1.0
    assert report["threshold_source"] == "cross-validation"
    assert report["threshold"] == fitted.threshold
    assert report["held_out_folds"] >= 2


def test_validation_set_sets_the_threshold(embedder):
    texts, labels = _read("train.jsonl")
    val_texts, val_labels = _read("val.jsonl")
    clf = Classifier(embedder).fit(texts, labels, val_texts=val_texts, val_labels=val_labels, oos_label="oos")
    assert clf.calibration_report()["threshold_source"] == "validation"
    assert 0.0 <= clf.threshold <= 1.0


def test_validation_sentences_are_cross_fitted_and_then_learnt(embedder):
    texts, labels = _read("train.jsonl")
    val_texts, val_labels = _read("val.jsonl")
    kept = Classifier(embedder, val_folds=0).fit(texts, labels, val_texts=val_texts, val_labels=val_labels,
                                                 oos_label="oos")
    learnt = Classifier(embedder).fit(texts, labels, val_texts=val_texts, val_labels=val_labels, oos_label="oos")
    assert kept.calibration_report()["trained_on_validation"] is False
    assert kept.calibration_report()["held_out_folds"] == 0
    report = learnt.calibration_report()
    assert report["trained_on_validation"] is True and report["held_out_folds"] == 2
    assert report["threshold_source"] == "validation" and report["n_held_out"] == len(val_texts)
    # the shipped model's kNN bank holds the in-scope validation sentences as well
    n_in_scope = sum(lab != "oos" for lab in labels + val_labels)
    assert learnt._bank.shape[0] == n_in_scope == kept._bank.shape[0] + sum(lab != "oos" for lab in val_labels)
    # a validation sentence is now a training sentence: its top label is right and more confident
    for text, lab in zip(val_texts, val_labels):
        if lab == "oos":
            continue
        p_learnt, p_kept = learnt.predict([text])[0], kept.predict([text])[0]
        assert p_learnt.label == lab
        assert p_learnt.probabilities[lab] >= p_kept.probabilities[lab] - 0.02


def test_out_of_scope_validation_sentences_without_any_in_training(embedder):
    texts, labels = _read("train.jsonl")
    pairs = [(t, lab) for t, lab in zip(texts, labels) if lab != "oos"]
    val_texts, val_labels = _read("val.jsonl")
    assert "oos" in val_labels
    for folds in (0, 2):
        clf = Classifier(embedder, val_folds=folds).fit(
            [t for t, _ in pairs], [lab for _, lab in pairs], val_texts=val_texts, val_labels=val_labels,
            oos_label="oos")
        report = clf.calibration_report()
        assert report["oos_class"] is (folds == 2)  # learnt as a class only when val is learnt
        assert report["n_learnt"] == len(pairs) + (len(val_texts) if folds else 0)
        assert "held_out_oos_recall" in report
        assert clf.predict(["what is the weather on mars"])[0].label in clf.labels


def test_val_folds_of_one_is_rejected(embedder):
    with pytest.raises(ValueError, match="val_folds"):
        Classifier(embedder, val_folds=1)


def test_without_oos_examples_keeps_most_in_scope_examples(embedder):
    texts, labels = _read("train.jsonl")
    pairs = [(t, lab) for t, lab in zip(texts, labels) if lab != "oos"]
    clf = Classifier(embedder).fit([t for t, _ in pairs], [lab for _, lab in pairs])
    assert clf.labels == ["billing", "hours", "xtime"]
    kept = [not p.abstain for p in clf.predict([t for t, _ in pairs])]
    assert np.mean(kept) >= 0.9


def test_precomputed_embeddings_skip_encoding(embedder):
    texts, labels = _read("train.jsonl")
    X = embedder.encode_queries(texts)

    class Refuses:
        name = embedder.name

        def encode_queries(self, texts):
            raise AssertionError("should not encode when embeddings are given")

    clf = Classifier(Refuses()).fit(texts, labels, embeddings=X, oos_label="oos")
    preds = clf.predict(texts[:3], embeddings=X[:3])
    assert len(preds) == 3


def test_save_load_round_trip_gives_identical_predictions(fitted, embedder, tmp_path):
    path = tmp_path / "classifier.joblib"
    fitted.save(path)
    loaded = Classifier.load(path, embedder)
    probe = ["Xtime appointments are missing", "How tall is the Eiffel tower", "our invoice is wrong"]
    before, after = fitted.predict(probe), loaded.predict(probe)
    assert loaded.labels == fitted.labels and loaded.threshold == fitted.threshold
    for a, b in zip(before, after):
        assert a.label == b.label and a.abstain == b.abstain
        assert a.confidence == pytest.approx(b.confidence, abs=1e-6)
    assert loaded.calibration_report() == fitted.calibration_report()
    assert loaded.threshold_for(0.05) == fitted.threshold_for(0.05)


def test_load_of_missing_file_raises_index_missing_with_the_path(embedder, tmp_path):
    path = tmp_path / "nowhere" / "classifier.joblib"
    with pytest.raises(IndexMissing, match="nowhere"):
        Classifier.load(path, embedder)


def test_load_of_corrupt_file_raises_index_missing_with_the_path(embedder, tmp_path):
    path = tmp_path / "classifier.joblib"
    path.write_bytes(b"not a pickle")
    with pytest.raises(IndexMissing, match="classifier.joblib"):
        Classifier.load(path, embedder)


def test_predict_before_fit_is_index_missing(embedder):
    with pytest.raises(IndexMissing):
        Classifier(embedder).predict(["hello"])


def test_single_label_is_an_input_error(embedder):
    with pytest.raises(InputError, match="two"):
        Classifier(embedder).fit(["a", "b", "c"], ["x", "x", "oos"], oos_label="oos")


def test_mismatched_embeddings_are_an_input_error(embedder):
    with pytest.raises(InputError, match="embeddings"):
        Classifier(embedder).fit(["a", "b"], ["x", "y"], embeddings=np.zeros((3, 384), np.float32))


def test_invalid_hyperparameters_fail_at_construction(embedder):
    with pytest.raises(ValueError):
        Classifier(embedder, C=0)


def test_expected_calibration_error_is_zero_when_confidence_matches_accuracy():
    conf = np.array([0.8] * 10)
    correct = np.array([1] * 8 + [0] * 2)
    assert expected_calibration_error(conf, correct) == pytest.approx(0.0)
    assert expected_calibration_error(np.ones(4), np.zeros(4)) == pytest.approx(1.0)


def test_embedder_without_transformer_uses_its_own_vectors():
    from retrieval.embedder import HashEmbedder

    texts, labels = _read("train.jsonl")
    clf = Classifier(HashEmbedder()).fit(texts, labels, oos_label="oos")
    assert clf.features == "embedding"
    assert clf.calibration_report()["oos_class"] is True
    assert {p.label for p in clf.predict(texts)} <= set(clf.labels)


def test_layer_features_need_a_transformer():
    from retrieval.embedder import HashEmbedder

    with pytest.raises(ValueError, match="transformer"):
        Classifier(HashEmbedder(), features="layers")


def test_load_with_another_embedder_raises_index_missing(fitted, tmp_path):
    from retrieval.embedder import HashEmbedder

    path = tmp_path / "classifier.joblib"
    fitted.save(path)
    with pytest.raises(IndexMissing, match="embedder"):
        Classifier.load(path, HashEmbedder())


def test_threshold_spends_at_most_the_accuracy_budget_on_correct_predictions(embedder):
    clf = Classifier(embedder, max_accuracy_drop=0.02)
    p_in = np.arange(1, 101) / 101  # 100 held-out in-scope examples, lowest first
    correct = np.ones(100, bool)
    correct[:3] = False  # the three least in-scope are wrong anyway: cutting them is free
    threshold = clf._choose_threshold(p_in, correct)
    cut = p_in < threshold
    assert cut[:3].all()
    assert (cut & correct).sum() == 2  # 2% of 100
    # With no budget it still cuts below the least in-scope held-out example, nothing more.
    strict = Classifier(embedder, max_accuracy_drop=0.0)._choose_threshold(p_in, np.ones(100, bool))
    assert strict == pytest.approx(p_in[0])


def test_threshold_for_the_fit_budget_is_the_threshold_in_force(fitted):
    assert fitted.threshold_for(fitted.hyperparameters["max_accuracy_drop"]) == fitted.threshold
    assert fitted.threshold_for(0.2) >= fitted.threshold_for(0.0)
    with pytest.raises(ValueError):
        fitted.threshold_for(1.5)


def test_knn_term_is_part_of_the_out_of_scope_score(embedder):
    texts, labels = _read("train.jsonl")
    plain = Classifier(embedder, knn_weight=0.0).fit(texts, labels, oos_label="oos")
    knn = Classifier(embedder).fit(texts, labels, oos_label="oos")
    assert knn.hyperparameters["knn_weight"] > 0 and knn._bank.shape[0] == sum(lab != "oos" for lab in labels)
    probe = ["Xtime is not syncing our service appointments", "How do volcanoes form?"]
    a, b = plain.predict(probe), knn.predict(probe)
    # Probabilities come from the head alone: the kNN term only moves the out-of-scope decision.
    for p, q in zip(a, b):
        assert p.label == q.label and p.confidence == pytest.approx(q.confidence)
    assert b[0].in_scope > b[1].in_scope


@pytest.fixture(scope="module")
def with_val(embedder):
    """The fixture set with its validation file: 4 + 2 out-of-scope examples."""
    return _read("train.jsonl"), _read("val.jsonl")


@pytest.fixture(scope="module")
def near(embedder, with_val):
    (texts, labels), (v_texts, v_labels) = with_val
    return Classifier(embedder, oos_knn_min_examples=4).fit(texts, labels, val_texts=v_texts, val_labels=v_labels,
                                                            oos_label="oos")


LOOK_ALIKES = ["Tell me a joke about our billing invoice", "Xtime is not syncing our service appointments"]


def test_out_of_scope_neighbours_lower_the_score_of_look_alikes(embedder, with_val, near):
    (texts, labels), (v_texts, v_labels) = with_val
    plain = Classifier(embedder, oos_knn_weight=0.0).fit(texts, labels, val_texts=v_texts, val_labels=v_labels,
                                                         oos_label="oos")
    assert near._oos_bank.shape[0] == labels.count("oos") + v_labels.count("oos") == 6 and near._oos_knn_scale > 0
    # Close to a training out-of-scope sentence ("Tell me a joke about penguins") but worded
    # like a billing request: the term pushes it out; labels and probabilities do not move.
    a, b = plain.predict(LOOK_ALIKES), near.predict(LOOK_ALIKES)
    assert b[0].in_scope < a[0].in_scope
    assert [p.label for p in a] == [q.label for q in b] and a[1].confidence == pytest.approx(b[1].confidence)


def test_out_of_scope_term_needs_cross_fitted_validation_sentences_and_enough_of_them(embedder, with_val):
    (texts, labels), (v_texts, v_labels) = with_val

    # Training data alone (as at ingest), however many out-of-scope examples: off.
    alone = Classifier(embedder, oos_knn_min_examples=1).fit(texts, labels, oos_label="oos")
    # Validation that only scores (val_folds=0): its sentences never reach a bank, so off.
    scoring = Classifier(embedder, oos_knn_min_examples=1, val_folds=0).fit(
        texts, labels, val_texts=v_texts, val_labels=v_labels, oos_label="oos")
    # Cross-fitted validation but fewer out-of-scope examples than the minimum: off.
    few = Classifier(embedder, oos_knn_min_examples=7).fit(
        texts, labels, val_texts=v_texts, val_labels=v_labels, oos_label="oos")
    # Enough in all (6 >= 5) but validation brings too small a share (2, under half of 5): off.
    thin = Classifier(embedder, oos_knn_min_examples=5).fit(
        texts, labels, val_texts=v_texts, val_labels=v_labels, oos_label="oos")
    off = Classifier(embedder, oos_knn_weight=0.0).fit(texts, labels, oos_label="oos")
    for clf in (alone, scoring, few, thin):
        assert clf._oos_bank.shape[0] == 0 and clf._oos_knn_scale == 0.0
    assert [p.in_scope for p in alone.predict(LOOK_ALIKES)] == [p.in_scope for p in off.predict(LOOK_ALIKES)]
    with pytest.raises(ValueError):
        Classifier(embedder, oos_knn_min_examples=0)


def test_save_load_keeps_the_out_of_scope_term_and_older_files_load_without_it(near, embedder, tmp_path):
    import joblib

    path = tmp_path / "clf.joblib"
    near.save(path)
    again = Classifier.load(path, embedder)
    assert [p.in_scope for p in again.predict(LOOK_ALIKES)] == [p.in_scope for p in near.predict(LOOK_ALIKES)]
    blob = joblib.load(path)  # a file written before the term existed has neither key
    del blob["oos_bank"], blob["meta"]["oos_knn_scale"]
    joblib.dump(blob, path)
    old = Classifier.load(path, embedder)
    assert old._oos_knn_scale == 0.0 and old._oos_bank.size == 0
    assert [p.label for p in old.predict(LOOK_ALIKES)] == [p.label for p in near.predict(LOOK_ALIKES)]
    assert old.predict(LOOK_ALIKES)[0].in_scope >= near.predict(LOOK_ALIKES)[0].in_scope


def test_knn_similarity_is_the_mean_of_the_k_nearest(embedder):
    clf = Classifier(embedder, knn_k=2)
    bank = np.eye(3, dtype=np.float32)
    v = np.array([[0.6, 0.8, 0.0]], dtype=np.float32)
    assert clf._knn_similarity(v, bank, 2)[0] == pytest.approx(0.7)
    assert clf._knn_similarity(v, bank[:1], 2)[0] == pytest.approx(0.6)  # k is capped by the bank size
    with pytest.raises(ValueError):
        Classifier(embedder, knn_k=0)
    with pytest.raises(ValueError):
        Classifier(embedder, knn_weight=-1)


# -- top-layer tuning (assistant/finetune.py) ----------------------------------------


@pytest.fixture(scope="module")
def tuned(embedder):
    texts, labels = _read("train.jsonl")
    val_texts, val_labels = _read("val.jsonl")
    # the fixture set is small: lower the size bar so the tuning path runs on it
    return Classifier(embedder, tune_min_examples=10, tune_epochs=3).fit(
        texts, labels, val_texts=val_texts, val_labels=val_labels, oos_label="oos")


def test_top_layers_are_tuned_with_a_validation_set_and_enough_examples(tuned, embedder):
    report = tuned.calibration_report()
    assert report["tuned_layers"] == 2 and report["tune_steps"] >= 1 and report["tune_s"] > 0
    assert tuned._layers.top is not None and tuned._layers.top.split == 4
    # the tuned copies moved away from the frozen layers; the embedder's own model did not change
    frozen = embedder.model[0].auto_model.encoder.layer[4]
    tuned_layer = tuned._layers.top.layers[0]
    assert any(not np.allclose(a.detach().numpy(), b.detach().numpy())
               for a, b in zip(frozen.parameters(), tuned_layer.parameters()))
    texts, labels = _read("test.jsonl")
    pairs = [(t, lab) for t, lab in zip(texts, labels) if lab != "oos"]
    assert [p.label for p in tuned.predict([t for t, _ in pairs])] == [lab for _, lab in pairs]


def test_tuned_features_change_only_the_top_blocks_and_retrieval_keeps_the_frozen_embedding(tuned, embedder):
    probe = ["Xtime appointments are missing since Monday"]
    features, embedding = tuned.encode(probe)
    frozen = Classifier(embedder, tune_layers=0)._layers.encode(probe)
    dim = embedder.dim
    assert features.shape == frozen.shape
    np.testing.assert_allclose(features[:, : 5 * dim], frozen[:, : 5 * dim], atol=1e-5)  # embeddings + layers 1-4
    assert not np.allclose(features[:, 5 * dim:], frozen[:, 5 * dim:], atol=1e-3)  # layers 5-6 are tuned
    np.testing.assert_allclose(embedding, embedder.encode_queries(probe), atol=1e-5)  # what retrieval uses


def test_no_tuning_without_a_validation_set_or_below_the_size_bar(embedder):
    texts, labels = _read("train.jsonl")
    val_texts, val_labels = _read("val.jsonl")
    # cross-validation folds would have been seen by the tuned layers: their scores would flatter
    no_val = Classifier(embedder, tune_min_examples=10).fit(texts, labels, oos_label="oos")
    assert no_val.calibration_report()["tuned_layers"] == 0 and no_val._layers.top is None
    small = Classifier(embedder).fit(texts, labels, val_texts=val_texts, val_labels=val_labels, oos_label="oos")
    assert small.calibration_report()["tuned_layers"] == 0  # 34 examples < 2000


def test_tuned_classifier_save_load_round_trip(tuned, embedder, tmp_path):
    path = tmp_path / "tuned.joblib"
    tuned.save(path)
    loaded = Classifier.load(path, embedder)
    assert loaded._layers.top is not None
    probe = ["Xtime appointments are missing", "How tall is the Eiffel tower", "our invoice is wrong"]
    for a, b in zip(tuned.predict(probe), loaded.predict(probe)):
        assert a.label == b.label and a.abstain == b.abstain
        assert a.confidence == pytest.approx(b.confidence, abs=1e-5)
        assert a.in_scope == pytest.approx(b.in_scope, abs=1e-6)


def test_invalid_tuning_hyperparameters_fail_at_construction(embedder):
    for kwargs in ({"tune_layers": -1}, {"tune_epochs": 0}, {"tune_lr": 0}, {"tune_min_examples": 0}):
        with pytest.raises(ValueError, match="tune_"):
            Classifier(embedder, **kwargs)


def test_tuned_training_features_are_what_serving_computes(embedder, monkeypatch):
    # the blocks written back after tuning must equal what predict() will compute for the same text
    import assistant.classifier as module

    texts, labels = _read("train.jsonl")
    val_texts, val_labels = _read("val.jsonl")
    seen: list[str] = []
    real = module.tune_top_layers

    def spy(transformer, batches, y, n_classes, **kwargs):
        seen.extend(texts[i] for ids, _, _ in batches for i in ids)
        return real(transformer, batches, y, n_classes, **kwargs)

    monkeypatch.setattr(module, "tune_top_layers", spy)
    captured = {}
    original = Classifier._train_features

    def keep(self, *args, **kwargs):
        X, report = original(self, *args, **kwargs)
        captured["X"] = X.copy()
        return X, report

    monkeypatch.setattr(Classifier, "_train_features", keep)
    clf = Classifier(embedder, tune_min_examples=10, tune_epochs=2).fit(
        texts, labels, val_texts=val_texts, val_labels=val_labels, oos_label="oos")
    np.testing.assert_allclose(captured["X"], clf._layers.encode(texts), atol=1e-5)
    # the tuned layers learnt from the training texts only: the validation scores stay held out
    assert sorted(seen) == sorted(texts)
    assert not set(seen) & (set(val_texts) - set(texts))


LABEL_PROBE = ["We were double billed this month", "Xtime is not syncing our service appointments",
               "what time do you open on saturday"]


def _head_and_class_similarity(clf, texts):
    """The head's in-scope logits and, by brute force, each class's mean cosine to its k nearest sentences."""
    K, k = len(clf.labels), clf.hyperparameters["knn_k"]
    X = clf._features(texts, None)
    logits = clf._logits(clf._pca, clf._head, X, clf._n_classes())[:, :K]
    V = clf._knn_vectors(X)
    sims = np.array([[np.sort(clf._bank[clf._bank_y == c] @ v)[-k:].mean() for c in range(K)] for v in V])
    return logits, sims


def _probabilities(clf, texts):
    return np.array([[p.probabilities[lab] for lab in clf.labels] for p in clf.predict(texts)])


def test_label_comes_from_the_head_plus_each_class_neighbours_when_layers_are_tuned(tuned):
    from scipy.special import softmax

    K = len(tuned.labels)
    assert tuned._label_knn == 5.0 and len(tuned._bank_y) == len(tuned._bank)
    logits, sims = _head_and_class_similarity(tuned, LABEL_PROBE)
    got = _probabilities(tuned, LABEL_PROBE)
    assert np.allclose(got, softmax((logits + 5.0 * sims) / tuned.temperature, axis=1), atol=1e-6)
    # The term moves them (compared as log-probabilities: confident rows saturate near 1).
    assert not np.allclose(np.log(got), np.log(softmax(logits / tuned.temperature, axis=1)), atol=0.1)
    assert sims.shape == (len(LABEL_PROBE), K) and (sims > 0).all()


def test_label_term_is_off_on_the_frozen_encoder_and_in_older_files(fitted, tuned, embedder, tmp_path):
    import joblib
    from scipy.special import softmax

    # Ingest's case (no validation set, so no tuning): the head alone.
    assert fitted.hyperparameters["label_knn_weight"] == 5.0 and fitted._label_knn == 0.0
    logits, _ = _head_and_class_similarity(fitted, LABEL_PROBE)
    assert np.allclose(_probabilities(fitted, LABEL_PROBE), softmax(logits / fitted.temperature, axis=1), atol=1e-6)

    path = tmp_path / "clf.joblib"
    tuned.save(path)
    again = Classifier.load(path, embedder)
    assert again._label_knn == 5.0 and np.array_equal(again._bank_y, tuned._bank_y)
    assert np.allclose(_probabilities(again, LABEL_PROBE), _probabilities(tuned, LABEL_PROBE), atol=1e-9)
    blob = joblib.load(path)  # a file written before the term existed: no labels for the bank
    del blob["bank_y"], blob["meta"]["label_knn_weight_in_use"]
    joblib.dump(blob, path)
    old = Classifier.load(path, embedder)
    assert old._label_knn == 0.0
    logits, _ = _head_and_class_similarity(tuned, LABEL_PROBE)
    assert np.allclose(_probabilities(old, LABEL_PROBE), softmax(logits / tuned.temperature, axis=1), atol=1e-6)
    with pytest.raises(ValueError):
        Classifier(embedder, label_knn_weight=-1.0)


def test_label_term_leaves_the_out_of_scope_score_alone_but_shapes_calibration(tuned, embedder):
    import copy

    off = copy.copy(tuned)
    off._label_knn = 0.0
    on_preds, off_preds = tuned.predict(LABEL_PROBE), off.predict(LABEL_PROBE)
    assert [p.in_scope for p in on_preds] == [p.in_scope for p in off_preds]
    assert [p.abstain for p in on_preds] == [p.abstain for p in off_preds]
    # The temperature is fitted on the held-out label logits, the term included: the same
    # fit with the term off (same tuned layers: same seed) ends with another temperature.
    texts, labels = _read("train.jsonl")
    val_texts, val_labels = _read("val.jsonl")
    plain = Classifier(embedder, tune_min_examples=10, tune_epochs=3, label_knn_weight=0.0).fit(
        texts, labels, val_texts=val_texts, val_labels=val_labels, oos_label="oos")
    assert plain._label_knn == 0.0 and plain.temperature != pytest.approx(tuned.temperature, rel=1e-3)


def test_bank_rows_are_grouped_by_class_and_carry_their_own_labels(tuned):
    texts, labels = _read("train.jsonl")
    val_texts, val_labels = _read("val.jsonl")
    assert (np.diff(tuned._bank_y) >= 0).all()
    for c, label in enumerate(tuned.labels):
        mine = [t for t, lab in zip(texts + val_texts, labels + val_labels) if lab == label]
        expected = tuned._knn_vectors(tuned._features(mine, None))
        rows = tuned._bank[tuned._bank_y == c]
        assert rows.shape == expected.shape
        # same set of rows (order within a class is the stacking order)
        assert np.allclose(rows, expected, atol=1e-5)


def test_a_file_whose_bank_lost_its_labels_is_refused(tuned, embedder, tmp_path):
    import joblib

    path = tmp_path / "clf.joblib"
    tuned.save(path)
    blob = joblib.load(path)
    blob["bank_y"] = blob["bank_y"][:-1]  # the term is on in this file, so the labels must fit the bank
    joblib.dump(blob, path)
    with pytest.raises(IndexMissing, match="labels"):
        Classifier.load(path, embedder)


@pytest.mark.parametrize("extra", ["fleet", "oos"])
def test_a_label_with_one_example_leaves_calibration_and_abstention_on(embedder, extra):
    # Found by a review: one ticket with a new label made the fold count 1, which switched the
    # calibration off (temperature 1, threshold 0) and with it out-of-scope detection for every label.
    texts, labels = _read("train.jsonl")
    single = Classifier(embedder).fit(texts + ["Can PAM book our fleet accounts separately?"], labels + [extra],
                                      oos_label="oos")
    report = single.calibration_report()
    assert report["threshold_source"] == "cross-validation" and report["threshold"] > 0
    assert all(p.abstain for p in single.predict(["What is the best way to grow tomatoes in a balcony garden?",
                                                  "Who painted the Mona Lisa?"]))
    if extra == "fleet":
        assert "fleet" in single.labels  # still learnt, only never held out


def test_calibration_folds_keep_a_documents_texts_together(embedder):
    # Found by a review: a runbook's full text and its sections were spread over folds, so
    # the held-out scores that set temperature and threshold came from models that had seen
    # another section of the same runbook.
    clf = Classifier(embedder)
    y = np.array([0, 0, 0, 0, 1, 1, 1, 1] * 3)
    groups = np.array([f"doc-{i // 2}" for i in range(len(y))], dtype=object)  # two texts per document
    for tr, te in clf._splits(y, groups, 5):
        assert not set(groups[tr]) & set(groups[te])
    spread = [set(groups[tr]) & set(groups[te]) for tr, te in clf._splits(y, None, 5)]
    assert any(spread)  # without groups they are spread: what the grouping prevents


def test_a_label_whose_examples_share_one_document_leaves_the_calibration_sound(embedder):
    # Found by a review of the grouped folds: a new label with two texts in one group (a
    # correction grouped with the ticket it repeats) was held out whole, its logits -inf, and
    # the temperature fit ran to its bound: every confidence about 0.26.
    texts, labels = _read("train.jsonl")
    extra = ["Can PAM book our fleet accounts separately?", "can pam book our fleet accounts separately?"]
    groups = [f"doc-{i}" for i in range(len(texts))] + ["fleet-ticket", "fleet-ticket"]
    clf = Classifier(embedder).fit(texts + extra, labels + ["fleet", "fleet"], oos_label="oos", groups=groups)
    report = clf.calibration_report()
    assert report["threshold_source"] == "cross-validation" and report["ece"] < 0.3
    (p,) = clf.predict(["We were double billed this month"])
    assert p.label == "billing" and p.confidence > 0.5

"""The affect scorer: exact rule-layer arithmetic on hand-built Docs (negation, intensifiers,
diminishers, contrast), NRC counting with negation, the linear model's I/O, score_turns shape.

Lexicon values used below were read by hand from the installed data files:
VADER vader_lexicon.txt: happy 2.7, bad -2.5, sad -2.1, scared -1.9, calm 1.3, hope 1.9, better 1.9;
NRC nrc_en.json: afraid [fear, negative], happy [anticipation, joy, positive, trust].
Rule constants from lexicons/emotion_rules.yaml: negation -0.74, booster +/-0.293, but 0.5/1.5,
alpha 15.
"""

from __future__ import annotations

import math
import sys
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import spacy
from spacy.tokens import Doc

from therapy_turns.measures import emotion

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from train_emotion_model import save_model  # noqa: E402

VOCAB = spacy.blank("en").vocab


def make_doc(spec: str) -> Doc:
    """Doc from ``word/lemma/POS/dep/head`` items separated by spaces (head: absolute index)."""
    items = [x.split("/") for x in spec.split()]
    words = [i[0] for i in items]
    return Doc(VOCAB, words=words, spaces=[True] * (len(words) - 1) + [False],
               lemmas=[i[1] for i in items], pos=[i[2] for i in items],
               deps=[i[3] for i in items], heads=[int(i[4]) for i in items],
               sent_starts=[True] + [False] * (len(words) - 1))


SCARED = "I/I/PRON/nsubj/1 am/be/AUX/ROOT/1 scared/scared/ADJ/acomp/1 ././PUNCT/punct/1"
NOT_SCARED = ("I/I/PRON/nsubj/1 am/be/AUX/ROOT/1 not/not/PART/neg/1 scared/scared/ADJ/acomp/1 "
              "././PUNCT/punct/1")


def _doc(spec: str) -> Doc:
    # "././PUNCT..." above is written with the lemma "." too; normalise the shorthand
    return make_doc(spec.replace("./././", "././"))


def values(doc: Doc) -> dict[str, float]:
    return dict(emotion.span_unit(doc).terms)


def test_plain_lexicon_value_and_compound() -> None:
    doc = _doc(SCARED)
    assert values(doc) == {"scared": pytest.approx(-1.9)}
    rs = emotion.span_unit(doc)
    assert rs.raw == pytest.approx(-1.9)
    assert rs.compound == pytest.approx(-1.9 / math.sqrt(1.9 ** 2 + 15))
    assert rs.pos == 0 and rs.neg == pytest.approx(1.9)


def test_dependency_negation_flips_and_shrinks() -> None:
    doc = _doc(NOT_SCARED)
    assert emotion.span_unit(doc).negated == {3}
    assert values(doc) == {"scared": pytest.approx(-1.9 * -0.74)}


def test_negation_scope_ends_three_tokens_after_the_negator() -> None:
    # "I do not think it is bad ." : "bad" is 4 tokens after "not" -> not negated (as in VADER)
    doc = _doc("I/I/PRON/nsubj/3 do/do/AUX/aux/3 not/not/PART/neg/3 think/think/VERB/ROOT/3 "
               "it/it/PRON/nsubj/5 is/be/AUX/ccomp/3 bad/bad/ADJ/acomp/5 ././PUNCT/punct/3")
    assert emotion.span_unit(doc).negated == {3, 4, 5}
    assert values(doc) == {"bad": pytest.approx(-2.5)}
    # "I do not feel bad ." : 2 tokens on -> negated
    near = _doc("I/I/PRON/nsubj/3 do/do/AUX/aux/3 not/not/PART/neg/3 feel/feel/VERB/ROOT/3 "
                "bad/bad/ADJ/acomp/3 ././PUNCT/punct/3")
    assert values(near) == {"bad": pytest.approx(-2.5 * -0.74)}


def test_never_is_negation() -> None:
    doc = _doc("I/I/PRON/nsubj/2 never/never/ADV/neg/2 feel/feel/VERB/ROOT/2 "
               "calm/calm/ADJ/acomp/2 ././PUNCT/punct/2")
    assert values(doc) == {"calm": pytest.approx(1.3 * -0.74)}


def test_no_determiner_negates_its_noun() -> None:
    doc = _doc("There/there/PRON/expl/1 is/be/VERB/ROOT/1 no/no/DET/det/3 hope/hope/NOUN/attr/1 "
               "././PUNCT/punct/1")
    assert values(doc) == {"hope": pytest.approx(1.9 * -0.74)}


def test_without_negates_its_object() -> None:
    doc = _doc("I/I/PRON/nsubj/1 live/live/VERB/ROOT/1 without/without/ADP/prep/1 "
               "hope/hope/NOUN/pobj/2 ././PUNCT/punct/1")
    assert values(doc) == {"hope": pytest.approx(1.9 * -0.74)}


def test_negation_scope_stops_at_conjoined_clause_and_contrast_weights() -> None:
    # "I am not happy but I am calm ." : happy negated and before "but"; calm after "but".
    doc = _doc("I/I/PRON/nsubj/1 am/be/AUX/ROOT/1 not/not/PART/neg/1 happy/happy/ADJ/acomp/1 "
               "but/but/CCONJ/cc/1 I/I/PRON/nsubj/6 am/be/AUX/conj/1 calm/calm/ADJ/acomp/6 "
               "././PUNCT/punct/6")
    assert emotion.span_unit(doc).negated == {3}
    v = values(doc)
    assert v["happy"] == pytest.approx(2.7 * 0.5 * -0.74)
    assert v["calm"] == pytest.approx(1.3 * 1.5)
    assert emotion.span_unit(doc).raw == pytest.approx(-0.999 + 1.95)


def test_but_reverses_overall_polarity_like_vader() -> None:
    # "I was sad , but now I feel better ." -> -2.1*0.5 + 1.9*1.5 = 1.8 > 0
    doc = _doc("I/I/PRON/nsubj/1 was/be/AUX/ROOT/1 sad/sad/ADJ/acomp/1 ,/,/PUNCT/punct/1 "
               "but/but/CCONJ/cc/1 now/now/ADV/advmod/7 I/I/PRON/nsubj/7 feel/feel/VERB/conj/1 "
               "better/well/ADJ/acomp/7 ././PUNCT/punct/7")
    assert emotion.span_unit(doc).raw == pytest.approx(1.8)
    assert emotion.span_unit(doc).compound == pytest.approx(
        1.8 / math.sqrt(1.8 ** 2 + 15))


def test_intensifier_and_multiword_diminisher() -> None:
    very = _doc("I/I/PRON/nsubj/1 am/be/AUX/ROOT/1 very/very/ADV/advmod/3 "
                "happy/happy/ADJ/acomp/1 ././PUNCT/punct/1")
    assert values(very) == {"happy": pytest.approx(2.7 * 1.293)}
    bit = _doc("I/I/PRON/nsubj/1 feel/feel/VERB/ROOT/1 a/a/DET/det/3 bit/bit/NOUN/npadvmod/4 "
               "sad/sad/ADJ/acomp/1 ././PUNCT/punct/1")
    assert values(bit) == {"sad": pytest.approx(-2.1 * (1 - 0.293))}
    # intensified and negated: "not really happy"
    nr = _doc("I/I/PRON/nsubj/1 am/be/AUX/ROOT/1 not/not/PART/neg/1 really/really/ADV/advmod/4 "
              "happy/happy/ADJ/acomp/1 ././PUNCT/punct/1")
    assert values(nr) == {"happy": pytest.approx(2.7 * 1.293 * -0.74)}


def test_modifier_window_is_blocked_by_punctuation_and_distance() -> None:
    comma = _doc("really/really/ADV/advmod/2 ,/,/PUNCT/punct/2 sad/sad/ADJ/ROOT/2")
    assert values(comma) == {"sad": pytest.approx(-2.1)}
    far = _doc("very/very/ADV/advmod/4 much/much/ADV/advmod/4 of/of/ADP/prep/4 "
               "it/it/PRON/pobj/4 sad/sad/ADJ/ROOT/4")
    assert values(far) == {"sad": pytest.approx(-2.1)}  # 4 tokens away: outside the window


def test_nrc_rates_count_per_100_words_and_skip_negated() -> None:
    afraid = _doc("I/I/PRON/nsubj/1 am/be/AUX/ROOT/1 afraid/afraid/ADJ/acomp/1 ././PUNCT/punct/1")
    r = emotion.span_unit(afraid).nrc
    assert r["nrc_fear"] == pytest.approx(100 / 3) and r["nrc_negative"] == pytest.approx(100 / 3)
    assert r["nrc_joy"] == 0
    not_afraid = _doc("I/I/PRON/nsubj/1 am/be/AUX/ROOT/1 not/not/PART/neg/1 "
                      "afraid/afraid/ADJ/acomp/1 ././PUNCT/punct/1")
    r = emotion.span_unit(not_afraid).nrc
    assert r["nrc_fear"] == 0 and r["nrc_negative"] == 0
    two = _doc("I/I/PRON/nsubj/1 feel/feel/VERB/ROOT/1 happy/happy/ADJ/acomp/1 and/and/CCONJ/cc/2 "
               "afraid/afraid/ADJ/conj/2 ././PUNCT/punct/1")
    r = emotion.span_unit(two).nrc
    assert {k: round(v, 6) for k, v in r.items() if v} == {
        "nrc_fear": 20.0, "nrc_negative": 20.0, "nrc_joy": 20.0, "nrc_positive": 20.0,
        "nrc_anticipation": 20.0, "nrc_trust": 20.0}


def test_lexical_features_mark_negation() -> None:
    doc = _doc(NOT_SCARED)
    assert Counter(emotion.span_unit(doc).items) == {"i": 1, "be": 1, "not": 1, "NOT_scared": 1,
                                             "i be": 1, "be not": 1, "not NOT_scared": 1}


def test_linear_model_roundtrip_and_exact_prediction(tmp_path: Path) -> None:
    k = len(emotion.DENSE_FEATURES)
    coef = np.zeros((3, 2 + k))
    coef[:, 0] = [1.0, -0.5, 0.25]  # weight of "happy"
    model = emotion.LinearVAD({"happy": 0, "sad": 1}, coef, np.array([3.0, 3.0, 3.0]),
                              np.zeros(k), np.ones(k), {"note": "hand-made"})
    save_model(model, tmp_path / "m.npz")  # the training script's writer
    back = emotion.LinearVAD.load(tmp_path / "m.npz")
    assert back.vocab == {"happy": 0, "sad": 1} and back.meta == {"note": "hand-made"}
    doc = _doc("happy/happy/ADJ/ROOT/0 happy/happy/ADJ/conj/0")  # count 2, L2-normalised to 1
    assert back.predict_units([emotion.span_unit(doc)])[0] == pytest.approx([4.0, 2.5, 3.25])


def test_shipped_model_is_small_and_pickle_free() -> None:
    assert emotion.MODEL_FILE.stat().st_size < 5_000_000
    model = emotion.LinearVAD.load()  # allow_pickle=False inside
    assert model.coef.shape == (3, len(model.vocab) + len(emotion.DENSE_FEATURES))
    assert model.meta["dense_features"] == list(emotion.DENSE_FEATURES)
    assert (emotion.MODEL_DIR / "LICENSE").read_text().count("CC BY-SA 4.0") >= 1


def test_score_turns_shape_keys_and_empty_turn() -> None:
    turns = pd.DataFrame({"session_id": ["s", "s"], "turn": [0, 1],
                          "speaker": ["patient", "therapist"], "text": ["I am not scared.", ""]})
    docs = [_doc(NOT_SCARED), Doc(VOCAB, words=[])]
    out = emotion.score_turns(turns, docs)
    assert list(out.columns[:3]) == ["session_id", "turn", "speaker"]
    assert set(emotion.SCORE_COLUMNS) <= set(out.columns)
    assert [f"nrc_{e}" for e in emotion.NRC_EMOTIONS] == [c for c in out if c.startswith("nrc_")]
    assert len(out) == 2 and "n_words" not in out  # word counts are the features table's
    assert 1 <= out.loc[0, "valence"] <= 5 and math.isnan(out.loc[1, "valence"])
    assert out.loc[0, "valence_rules"] == pytest.approx(1.406 / math.sqrt(1.406 ** 2 + 15))
    with pytest.raises(ValueError, match="row-aligned"):
        emotion.score_turns(turns, docs[:1])


def test_turn_is_the_word_weighted_mean_of_its_sentences() -> None:
    words = ["I", "am", "sad", ".", "I", "am", "happy", "."]
    doc = Doc(VOCAB, words=words, lemmas=["I", "be", "sad", ".", "I", "be", "happy", "."],
              pos=["PRON", "AUX", "ADJ", "PUNCT"] * 2,
              deps=["nsubj", "ROOT", "acomp", "punct"] * 2, heads=[1, 1, 1, 1, 5, 5, 5, 5],
              sent_starts=[True, False, False, False, True, False, False, False])
    turns = pd.DataFrame({"session_id": ["s"], "turn": [0], "speaker": ["patient"],
                          "text": [doc.text]})
    sents = list(doc.sents)
    assert [emotion.span_unit(s).compound for s in sents] == pytest.approx(
        [-2.1 / math.sqrt(2.1 ** 2 + 15), 2.7 / math.sqrt(2.7 ** 2 + 15)])
    # the turn: word-weighted mean of the two sentence predictions (equal lengths here)
    pred = emotion.load_model().predict_units([emotion.span_unit(s) for s in sents])
    turn = emotion.score_turns(turns, [doc]).iloc[0]
    assert turn["valence"] == pytest.approx(pred[:, 0].mean())
    assert turn["valence_rules"] == pytest.approx(0.6 / math.sqrt(0.6 ** 2 + 15))


def test_cli_emotion_round_trip_on_sentence_csv(tmp_path: Path) -> None:
    from therapy_turns import cli
    from therapy_turns.io.transcripts import load_corpus
    from therapy_turns.pipeline import parse_turns

    src = tmp_path / "sentences.csv"
    src.write_text("session_id,speaker,text\n"
                   "s1,patient,I am not scared.\n"
                   "s1,therapist,That sounds really hard.\n"
                   "s2,client,\"I was sad, but now I feel better.\"\n", encoding="utf-8")
    out = tmp_path / "emotion.csv"
    assert cli.main(["emotion", str(src), "--out", str(out), "--quiet"]) == 0
    got = pd.read_csv(out, dtype={"session_id": str})
    assert got[["session_id", "turn", "speaker"]].values.tolist() == [
        ["s1", 0, "patient"], ["s1", 1, "therapist"], ["s2", 0, "patient"]]
    assert list(got.columns) == ["session_id", "turn", "speaker", *emotion.SCORE_COLUMNS]
    turns = load_corpus(src).turns
    direct = emotion.score_turns(turns, parse_turns(turns))
    pd.testing.assert_frame_equal(got, direct, check_dtype=False)


def test_shipped_dev_scores_stand_in_for_missing_emobank(tmp_path):
    """Without EmoBank at hand the validation reads the shipped dev scores; their correlation
    with the human ratings is the one recorded in the model when it was trained."""
    pred = emotion.dev_predictions(tmp_path / "absent.csv")
    assert len(pred) == 1000 and "text" not in pred
    summary = emotion.validation_summary(pred).set_index("column")["r"]
    from therapy_turns.measures.emotion import load_model

    meta = load_model().meta["dev_pearson_r"]
    assert abs(summary["valence"] - meta["valence"]) < 1e-3
    assert abs(summary["arousal"] - meta["arousal"]) < 1e-3


def test_every_rules_setting_changes_the_rule_scores() -> None:
    # custom rules passed in must be used throughout (the negation scalar was once read from
    # the shipped rules whatever was passed)
    doc = _doc(NOT_SCARED)
    shipped = vars(emotion.load_rules())
    half = SimpleNamespace(**shipped | {"negation_scalar": -0.5})
    assert [v for _, v in emotion.span_unit(doc, half).terms] == [pytest.approx(0.95)]
    assert emotion.span_unit(doc, half).raw == pytest.approx(0.95)
    assert emotion.span_unit(doc, half).pos == pytest.approx(0.95)
    # "I do not feel bad ." : "bad" 2 tokens after "not" is negated with a window of 3, not 1
    near = _doc("I/I/PRON/nsubj/3 do/do/AUX/aux/3 not/not/PART/neg/3 feel/feel/VERB/ROOT/3 "
                "bad/bad/ADJ/acomp/3 ././PUNCT/punct/3")
    narrow = SimpleNamespace(**shipped | {"neg_window": 1})
    assert emotion.span_unit(near, narrow).raw == pytest.approx(-2.5)
    wide = emotion.span_unit(near, SimpleNamespace(**shipped | {"alpha": 1.0}))
    assert wide.compound == pytest.approx(1.85 / math.sqrt(1.85 ** 2 + 1))
    # the turn score passes the rules on too
    turns = pd.DataFrame({"session_id": ["s"], "turn": [0], "speaker": ["patient"],
                          "text": [doc.text]})
    got = emotion.score_turns(turns, [doc], rules=half).loc[0, "valence_rules"]
    assert got == pytest.approx(0.95 / math.sqrt(0.95 ** 2 + 15))
    assert emotion.score_turns(turns, [doc]).loc[0, "valence_rules"] == pytest.approx(
        1.406 / math.sqrt(1.406 ** 2 + 15))

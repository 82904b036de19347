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
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import spacy
from spacy.tokens import Doc

from therapy_turns.measures import emotion

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
    return {s.text: s.value for s in emotion.token_scores(doc)}


def test_plain_lexicon_value_and_compound() -> None:
    doc = _doc(SCARED)
    assert values(doc) == {"scared": pytest.approx(-1.9)}
    rs = emotion.rule_score(doc)
    assert rs["raw"] == pytest.approx(-1.9)
    assert rs["compound"] == pytest.approx(-1.9 / math.sqrt(1.9 ** 2 + 15))
    assert rs["pos"] == 0 and rs["neg"] == pytest.approx(1.9)


def test_dependency_negation_flips_and_shrinks() -> None:
    doc = _doc(NOT_SCARED)
    assert emotion.negated_tokens(doc) == {3}
    assert values(doc) == {"scared": pytest.approx(-1.9 * -0.74)}


def test_negation_scope_ends_three_tokens_after_the_negator() -> None:
    # "I do not think it is bad ." : "bad" is 4 tokens after "not" -> not negated (as in VADER)
    doc = _doc("I/I/PRON/nsubj/3 do/do/AUX/aux/3 not/not/PART/neg/3 think/think/VERB/ROOT/3 "
               "it/it/PRON/nsubj/5 is/be/AUX/ccomp/3 bad/bad/ADJ/acomp/5 ././PUNCT/punct/3")
    assert emotion.negated_tokens(doc) == {3, 4, 5}
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
    assert emotion.negated_tokens(doc) == {3}
    v = values(doc)
    assert v["happy"] == pytest.approx(2.7 * 0.5 * -0.74)
    assert v["calm"] == pytest.approx(1.3 * 1.5)
    assert emotion.rule_score(doc)["raw"] == pytest.approx(-0.999 + 1.95)


def test_but_reverses_overall_polarity_like_vader() -> None:
    # "I was sad , but now I feel better ." -> -2.1*0.5 + 1.9*1.5 = 1.8 > 0
    doc = _doc("I/I/PRON/nsubj/1 was/be/AUX/ROOT/1 sad/sad/ADJ/acomp/1 ,/,/PUNCT/punct/1 "
               "but/but/CCONJ/cc/1 now/now/ADV/advmod/7 I/I/PRON/nsubj/7 feel/feel/VERB/conj/1 "
               "better/well/ADJ/acomp/7 ././PUNCT/punct/7")
    assert emotion.rule_score(doc)["raw"] == pytest.approx(1.8)
    assert emotion.rule_score(doc)["compound"] == pytest.approx(1.8 / math.sqrt(1.8 ** 2 + 15))


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
    r = emotion.nrc_rates(afraid)
    assert r["nrc_fear"] == pytest.approx(100 / 3) and r["nrc_negative"] == pytest.approx(100 / 3)
    assert r["nrc_joy"] == 0
    not_afraid = _doc("I/I/PRON/nsubj/1 am/be/AUX/ROOT/1 not/not/PART/neg/1 "
                      "afraid/afraid/ADJ/acomp/1 ././PUNCT/punct/1")
    r = emotion.nrc_rates(not_afraid)
    assert r["nrc_fear"] == 0 and r["nrc_negative"] == 0
    two = _doc("I/I/PRON/nsubj/1 feel/feel/VERB/ROOT/1 happy/happy/ADJ/acomp/1 and/and/CCONJ/cc/2 "
               "afraid/afraid/ADJ/conj/2 ././PUNCT/punct/1")
    r = emotion.nrc_rates(two)
    assert {k: round(v, 6) for k, v in r.items() if v} == {
        "nrc_fear": 20.0, "nrc_negative": 20.0, "nrc_joy": 20.0, "nrc_positive": 20.0,
        "nrc_anticipation": 20.0, "nrc_trust": 20.0}


def test_lexical_features_mark_negation() -> None:
    doc = _doc(NOT_SCARED)
    assert emotion.lexical_features(doc) == {"i": 1, "be": 1, "not": 1, "NOT_scared": 1,
                                             "i be": 1, "be not": 1, "not NOT_scared": 1}


def test_linear_model_roundtrip_and_exact_prediction(tmp_path: Path) -> None:
    k = len(emotion.DENSE_FEATURES)
    coef = np.zeros((3, 2 + k))
    coef[:, 0] = [1.0, -0.5, 0.25]  # weight of "happy"
    model = emotion.LinearVAD({"happy": 0, "sad": 1}, coef, np.array([3.0, 3.0, 3.0]),
                              np.zeros(k), np.ones(k), {"note": "hand-made"})
    model.save(tmp_path / "m.npz")
    back = emotion.LinearVAD.load(tmp_path / "m.npz")
    assert back.vocab == {"happy": 0, "sad": 1} and back.meta == {"note": "hand-made"}
    doc = _doc("happy/happy/ADJ/ROOT/0 happy/happy/ADJ/conj/0")  # count 2, L2-normalised to 1
    assert back.predict([doc])[0] == pytest.approx([4.0, 2.5, 3.25])


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
    assert len(out) == 2 and out.loc[0, "n_words"] == 4 and out.loc[1, "n_words"] == 0
    assert 1 <= out.loc[0, "valence"] <= 5 and math.isnan(out.loc[1, "valence"])
    assert out.loc[0, "valence_rules"] == pytest.approx(1.406 / math.sqrt(1.406 ** 2 + 15))
    with pytest.raises(ValueError, match="row-aligned"):
        emotion.score_turns(turns, docs[:1])


def test_score_sentences_rows_per_sentence() -> None:
    words = ["I", "am", "sad", ".", "I", "am", "happy", "."]
    doc = Doc(VOCAB, words=words, lemmas=["I", "be", "sad", ".", "I", "be", "happy", "."],
              pos=["PRON", "AUX", "ADJ", "PUNCT"] * 2,
              deps=["nsubj", "ROOT", "acomp", "punct"] * 2, heads=[1, 1, 1, 1, 5, 5, 5, 5],
              sent_starts=[True, False, False, False, True, False, False, False])
    turns = pd.DataFrame({"session_id": ["s"], "turn": [0], "speaker": ["patient"],
                          "text": [doc.text]})
    out = emotion.score_sentences(turns, [doc])
    assert out["sentence"].tolist() == [0, 1]
    assert out["valence_rules"].tolist() == pytest.approx(
        [-2.1 / math.sqrt(2.1 ** 2 + 15), 2.7 / math.sqrt(2.7 ** 2 + 15)])
    # the turn: word-weighted mean of the two sentence predictions (equal lengths here)
    turn = emotion.score_turns(turns, [doc]).iloc[0]
    assert turn["valence"] == pytest.approx(out["valence"].mean())
    assert turn["n_sentences"] == 2


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
    direct = emotion.score_turns(turns, parse_turns(turns, progress=False))
    pd.testing.assert_frame_equal(got, direct, check_dtype=False)


def test_shipped_dev_scores_stand_in_for_missing_emobank(tmp_path):
    """Without EmoBank at hand the validation reads the shipped dev scores; their correlation
    with the human ratings is the one recorded in the model when it was trained."""
    from therapy_turns.measures import emotion_model

    pred = emotion_model.dev_predictions(tmp_path / "absent.csv")
    assert len(pred) == 1000 and "text" not in pred
    summary = emotion_model.validation_summary(pred).set_index("column")["r"]
    from therapy_turns.measures.emotion import load_model

    meta = load_model().meta["dev_pearson_r"]
    assert abs(summary["valence"] - meta["valence"]) < 1e-3
    assert abs(summary["arousal"] - meta["arousal"]) < 1e-3


def test_windowed_vader_equals_vader() -> None:
    # the windowed analyser must give exactly VADER's scores; random texts built from the words
    # its negation, idiom, booster, "least", "no" and "but" rules react to, plus sentiment words
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    words = ["never", "so", "this", "without", "doubt", "not", "isn't", "no", "nor", "or",
             "least", "at", "very", "kind", "of", "sort", "but", "the", "bomb", "yeah", "right",
             "cut", "me", "some", "slack", "good", "GOOD", "bad", "happy", "sad", "great",
             "terrible", "extremely", "barely", "hope", "afraid", "I", "it", "is", "!", "?",
             "hand", "to", "mouth", "back", "handed", "bus", "stop"]
    rng = np.random.default_rng(7)
    fast, ref = emotion._vader(), SentimentIntensityAnalyzer()
    assert isinstance(fast, emotion._WindowedVader)
    assert 0 not in fast.lexicon.values()  # relied on by emotion._plain_words
    texts = [" ".join(rng.choice(words, size=int(rng.integers(1, 25)))) for _ in range(400)]
    # every idiom and booster n-gram VADER knows, at each distance before and after a
    # sentiment word, and at the end of the text
    from vaderSentiment.vaderSentiment import BOOSTER_DICT, SPECIAL_CASES

    grams = [g for g in [*SPECIAL_CASES, *BOOSTER_DICT] if " " in g]
    for g in grams:
        for pre in ("", "it ", "it is ", "so it is "):
            for post in ("", " it", " it is"):
                texts += [f"{pre}{g} good{post}", f"{pre}good {g}{post}",
                          f"{pre}good it {g}{post}", f"{pre}happy {g}"]
    for text in texts:
        assert fast.polarity_scores(text) == ref.polarity_scores(text), text


def test_joined_vader_equals_vader_on_multi_sentence_texts() -> None:
    # a turn scored from its sentences' valences must give exactly VADER's scores of the turn:
    # random texts of trigger words (ALL-CAPS ones and all-capitals sentences too, so the
    # sentences' and the turn's capitals flags differ), cut into random "sentences"; some
    # sentences are dropped, some replaced by word lists that do not occur in the turn, some
    # cut inside a word
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer, allcap_differential

    words = ["never", "so", "this", "without", "doubt", "not", "isn't", "no", "nor", "or",
             "least", "at", "very", "VERY", "kind", "of", "sort", "but", "BUT", "the", "bomb",
             "yeah", "right", "good", "GOOD", "GOOD!", "bad", "BAD", "bad,", "happy", "sad.",
             "great", "extremely", "barely", "hope", "I", "it", "is", "!", "?", "...", "hand",
             "to", "mouth", "bus", "stop", "NOT", "NO", "(kind", "of)", "\"good\"", "ok", "kiss",
             "death", "die", "for", "don't", "DON'T", "nothing", "rarely", "despite", "ain't",
             "seldom", "uh-uh", "totally", "Hardly", "sort-of", "beating", "heart", "badass",
             "love", "hate", "nice", "wrong", "Happy", "lol"]
    rng = np.random.default_rng(11)
    fast, ref = emotion._vader(), SentimentIntensityAnalyzer()
    reused = 0
    for _ in range(1500):
        toks = list(rng.choice(words, size=int(rng.integers(1, 60))))
        if rng.random() < 0.5:  # mostly lower case, so that capitals make the flag differ
            toks = [t.lower() if rng.random() < 0.9 else t for t in toks]
        cuts = sorted(rng.choice(np.arange(1, len(toks) + 1), size=min(len(toks), 4),
                                 replace=False).tolist())
        parts, a = [], 0
        for b in cuts:  # some sentences all in capitals (their capitals flag is False)
            parts.append(" ".join(toks[a:b]).upper() if rng.random() < 0.15 else
                         " ".join(toks[a:b]))
            a = b
        text = " ".join(parts)
        sents, scored = [], []
        for p in parts:
            r = rng.random()
            if r < 0.1:
                continue  # a sentence without words: not scored
            if r < 0.2:
                p = " ".join(rng.choice(words, size=8))  # not in the text
            elif r < 0.25 and len(p) > 3:
                p = p[1:]  # cut inside a word
            sents.append(fast.valences(p))
            scored.append(p)
        st = fast._read(text)
        assert st.is_cap_diff == allcap_differential(st.words_and_emoticons)
        known = fast._known(st, sents)
        reused += sum(x is not None for x in known)
        assert fast.joined_scores(text, sents) == ref.polarity_scores(text), (text, parts)
        for p, s in zip(scored, sents, strict=True):
            assert s is None or fast.scores_of(s) == ref.polarity_scores(p)
    assert reused > 10_000  # the reuse path is exercised
    # every idiom and booster n-gram cut by a sentence boundary, next to sentiment words
    from vaderSentiment.vaderSentiment import BOOSTER_DICT, SPECIAL_CASES

    fill = "we went there and then"
    for g in [g.split() for g in [*SPECIAL_CASES, *BOOSTER_DICT] if " " in g]:
        for cut in range(1, len(g)):
            for left, right in [(f"{fill} good", f"good {fill}"), (fill, fill),
                                (f"{fill} no", f"good {fill}")]:
                parts = [f"{left} {' '.join(g[:cut])}", f"{' '.join(g[cut:])} {right}"]
                text = " ".join(parts)
                sents = [fast.valences(p) for p in parts]
                assert fast.joined_scores(text, sents) == ref.polarity_scores(text), parts


def _reference_negated(doc: Doc, rules: emotion.Rules) -> set[int]:
    """negated_tokens as first written, through spaCy Token objects (tok.subtree)."""
    out: set[int] = set()
    for tok in doc:
        w = tok.lower_
        if tok.dep_ == "neg":
            skip = {t.i for c in tok.head.children if c.dep_ in rules.neg_stops
                    for t in c.subtree}
            cand = [t.i for t in tok.head.subtree if t.i not in skip]
        elif tok.dep_ == "det" and w in rules.neg_determiners:
            cand = [t.i for t in tok.head.subtree]
        elif tok.dep_ == "prep" and w in rules.neg_prepositions:
            cand = [t.i for t in tok.subtree]
        else:
            continue
        out.update(i for i in cand if 0 < i - tok.i <= rules.neg_window)
    negators = emotion.negator_tokens(doc)
    return {i for i in out if i not in negators and not (doc[i].is_punct or doc[i].is_space)}


def test_negation_scopes_equal_token_subtrees_on_random_trees() -> None:
    # scopes are read from the head offsets; on random (mostly non-projective) trees they must
    # be what spaCy's Token.subtree gives
    rules = emotion.load_rules()
    rng = np.random.default_rng(3)
    deps = ["neg", "det", "prep", "conj", "cc", "advcl", "nsubj", "dobj", "amod", "punct"]
    words = ["no", "without", "not", "happy", "sad", "it", ",", "and"]
    nonempty = 0
    for _ in range(300):
        n = int(rng.integers(2, 14))
        order = rng.permutation(n).tolist()  # attach nodes in random order: a random tree
        heads = [0] * n
        heads[order[0]] = order[0]
        for k, i in enumerate(order[1:], start=1):
            heads[i] = order[int(rng.integers(0, k))]
        d = [str(rng.choice(deps)) for _ in range(n)]
        d[order[0]] = "ROOT"
        doc = Doc(VOCAB, words=[str(rng.choice(words)) for _ in range(n)], heads=heads,
                  deps=d, sent_starts=[True] + [False] * (n - 1))
        ref = _reference_negated(doc, rules)
        nonempty += bool(ref)
        assert emotion.negated_tokens(doc) == ref, (heads, d, [t.text for t in doc])
    assert nonempty > 50


def test_str_lower_is_idempotent() -> None:
    # _plain_words re-checks VADER's lower-cased words on their lower case: the same only if
    # lowering twice changes nothing (per code point; the context-dependent final sigma maps to
    # a lower-case letter either way)
    for c in range(0x110000):
        low = chr(c).lower()
        assert low.lower() == low, hex(c)


def test_but_check_equals_vaders() -> None:
    # VADER scales the first position holding each value (list.index), a quirk kept exactly
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    rng = np.random.default_rng(5)
    for _ in range(2000):
        n = int(rng.integers(1, 12))
        vals = [0, 0.0, 1.9, -2.5, 1.406, 2.7 * -0.74]
        sentiments = [vals[int(rng.integers(0, len(vals)))] for _ in range(n)]
        words = ["w"] * n
        words[int(rng.integers(0, n))] = "BUT" if rng.random() < 0.3 else "but"
        ref = SentimentIntensityAnalyzer._but_check(words, list(sentiments))
        got = emotion._but_check([w.lower() for w in words], list(sentiments))
        assert [(x, type(x)) for x in got] == [(x, type(x)) for x in ref], sentiments

"""Per-turn features on hand-built spaCy Docs; every expected value is counted by hand.

Tokens are written as ``word|POS|TAG|lemma|morph`` (trailing fields optional; morph features
separated by ``;``), so no statistical
model decides anything here except in the CLI round trip at the end.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import spacy
import yaml
from spacy.tokens import Doc

from therapy_turns.cli import main
from therapy_turns.io.transcripts import load_corpus
from therapy_turns.measures import features as F
from therapy_turns.measures.views import Tokens

_NLP = spacy.blank("en")
ROOT = Path(__file__).resolve().parents[1]


def D(spec: str) -> Doc:
    """Build a Doc from ``word|POS|TAG|lemma|morph`` tokens separated by spaces."""
    words, pos, tags, lemmas, morphs = [], [], [], [], []
    for item in spec.split():
        f = item.split("|") + [""] * 5
        words.append(f[0])
        pos.append(f[1] or "X")
        tags.append(f[2] or "XX")
        lemmas.append(f[3] or f[0].lower())
        morphs.append(f[4].replace(";", "|"))
    spaces = [i + 1 < len(words) and not (words[i + 1] in {".", ",", "?", "!"}
                                          or words[i + 1].startswith("'") or words[i + 1] == "n't")
              for i in range(len(words))]
    starts = [i == 0 or words[i - 1] in {".", "?", "!"} for i in range(len(words))]
    return Doc(_NLP.vocab, words=words, spaces=spaces, pos=pos, tags=tags, lemmas=lemmas,
               morphs=morphs, sent_starts=starts)


def turn_features(doc: Doc) -> dict[str, float]:
    """The features row of one Doc as a turn of its own."""
    turns = pd.DataFrame({"session_id": ["s"], "turn": [0], "speaker": ["patient"]})
    return F.compute_features(turns, [doc]).iloc[0].to_dict()


def feats(spec: str) -> dict[str, float]:
    return turn_features(D(spec))


# --------------------------------------------------------------------------- lexicons
def test_lexicon_files_have_header_and_entries() -> None:
    files = sorted((ROOT / "src/therapy_turns/lexicons").glob("*.yaml"))
    assert len(files) >= 10
    for f in files:
        text = f.read_text(encoding="utf-8")
        assert text.startswith("#"), f"{f.name}: no header comment"
        data = yaml.safe_load(text)
        assert data, f.name

        def strings(x: object) -> list[object]:
            if isinstance(x, dict):  # Matcher patterns may hold booleans (IS_PUNCT: false)
                return [s for k, v in x.items() if k != "patterns" for s in strings(v)]
            if isinstance(x, list):
                return [s for v in x for s in strings(v)]
            return [x]

        leaves = strings(data)
        assert leaves, f.name
        # YAML 1.1 turns bare no/on/off/yes into booleans: every leaf must be str or int
        assert not any(isinstance(v, bool) for v in leaves), f"{f.name}: boolean leaf"
    rates, counters = F.lexicons()
    assert all(rates.values()) and set(rates) | set(counters) < set(F.COLUMNS)
    assert {c for c in rates if c.startswith("fw_")} == {F.LSM_RATES[c] for c in F.LSM_CATEGORIES
                                                         if c != "negate"}
    assert "no" in rates["negations"] and "on" in rates["fw_prep"]
    for counter in counters.values():
        assert counter.words or counter.phrases or counter.prefixes


# --------------------------------------------------------------------------- size, lexical
def test_words_and_size() -> None:
    f = feats("I|PRON do|AUX n't|PART know|VERB . I|PRON know|VERB .")
    # words: I, do, know, I, know (the clitic n't and punctuation are not words)
    assert f["n_words"] == 5 and f["n_tokens"] == 8 and f["n_sentences"] == 2
    assert f["mean_sentence_length"] == 2.5
    assert f["ttr"] == pytest.approx(3 / 5)  # i, do, know
    assert f["lexical_density"] == pytest.approx(2 / 5)  # two VERB tokens


def test_mattr_by_hand() -> None:
    # Doc 0, windows of 2 over a b a a: {a,b}=2, {b,a}=2, {a}=1 -> 5 / (3 * 2); Doc 1 (a a)
    # not longer than the window: plain TTR; Doc 2: no words
    ttr, mattr = F.mattr(np.array([0, 1, 0, 0, 0, 0]), np.array([0, 0, 0, 0, 1, 1]), 3, window=2)
    assert ttr[0] == pytest.approx(2 / 4) and mattr[0] == pytest.approx(5 / 6)
    assert ttr[1] == mattr[1] == pytest.approx(1 / 2) and math.isnan(mattr[2])
    words = np.random.default_rng(0).integers(0, 30, 200)  # a long Doc: each window by hand
    expected = np.mean([len(set(words[i : i + 50])) for i in range(151)]) / 50
    assert F.mattr(words, np.zeros(200, int), 1)[1][0] == pytest.approx(expected)


def test_readability_from_textdescriptives() -> None:
    # 10 one-syllable words, 1 sentence: FRE = 206.835 - 1.015*10 - 84.6*1;
    # FK = .39*10 + 11.8*1 - 15.59
    f = feats("The|DET cat|NOUN sat|VERB on|ADP the|DET mat|NOUN and|CCONJ the|DET dog|NOUN "
              "ran|VERB .|PUNCT")
    assert f["flesch_reading_ease"] == pytest.approx(206.835 - 10.15 - 84.6)
    assert f["flesch_kincaid_grade"] == pytest.approx(3.9 + 11.8 - 15.59)
    assert f["pos_prop_NOUN"] == pytest.approx(3 / 11)  # denominator: all 11 tokens
    f = feats("The|DET cat|NOUN sat|VERB .|PUNCT")
    assert f["pos_prop_NOUN"] == pytest.approx(1 / 4)
    assert f["pos_prop_PUNCT"] == pytest.approx(1 / 4) and f["pos_prop_ADV"] == 0


def test_readability_undefined_below_minimum_words() -> None:
    # one long word: Flesch would be 206.835 - 1.015 - 84.6 * 5 = -217.2 (grade 43.2): not an
    # estimate of anything, so NaN below READABILITY_MIN_WORDS words
    assert F.READABILITY_MIN_WORDS == 10
    f = feats("Unbelievably|ADV !|PUNCT")
    assert math.isnan(f["flesch_reading_ease"]) and math.isnan(f["flesch_kincaid_grade"])
    nine = feats(" ".join(["cat|NOUN"] * 9) + " .|PUNCT")
    assert math.isnan(nine["flesch_reading_ease"])
    ten = feats(" ".join(["cat|NOUN"] * 10) + " .|PUNCT")
    assert ten["flesch_reading_ease"] == pytest.approx(206.835 - 10.15 - 84.6)



def _parsed(words: list[str], heads: list[int], deps: list[str], pos: list[str],
            starts: list[bool]) -> Doc:
    """A hand-built Doc with a dependency tree (heads are absolute indices)."""
    return Doc(_NLP.vocab, words=words, heads=heads, deps=deps, pos=pos, sent_starts=starts,
               spaces=[True] * len(words))


_TD_DOCS = [
    # "I don't know, honestly. Beautiful things happen o'clock ."  (two sentences)
    (["I", "do", "n't", "know", ",", "honestly", ".", "Beautiful", "things", "happen",
      "o'clock", "."],
     [3, 3, 3, 3, 3, 3, 3, 8, 9, 9, 9, 9],
     ["nsubj", "aux", "neg", "ROOT", "punct", "advmod", "punct", "amod", "nsubj", "ROOT",
      "npadvmod", "punct"],
     ["PRON", "AUX", "PART", "VERB", "PUNCT", "ADV", "PUNCT", "ADJ", "NOUN", "VERB", "ADV",
      "PUNCT"],
     [True] + [False] * 6 + [True] + [False] * 4),
    # one sentence, no punctuation, a long word
    (["Unbelievably", "complicated", "probabilistic", "reasoning"], [1, 3, 3, 3],
     ["advmod", "amod", "amod", "ROOT"], ["ADV", "ADJ", "ADJ", "NOUN"],
     [True, False, False, False]),
    # eleven words, one sentence (above the readability minimum)
    (["We", "will", "talk", "about", "what", "really", "matters", "to", "you", "this", "week",
      "."], [2, 2, 2, 2, 6, 6, 3, 6, 7, 10, 2, 2],
     ["nsubj", "aux", "ROOT", "prep", "nsubj", "advmod", "pcomp", "prep", "pobj", "det",
      "npadvmod", "punct"],
     ["PRON", "AUX", "VERB", "ADP", "PRON", "ADV", "VERB", "ADP", "PRON", "DET", "NOUN",
      "PUNCT"], [True] + [False] * 11),
]


@pytest.mark.parametrize("spec", _TD_DOCS)
def test_syntax_features_equal_textdescriptives(spec: tuple) -> None:
    # turn_features follows textdescriptives' definitions: it must give exactly what
    # textdescriptives' own getters (dev dependency, the oracle) give on the same Doc
    td = pytest.importorskip("textdescriptives.components.readability")
    from textdescriptives.components.dependency_distance import DependencyDistance
    from textdescriptives.components.descriptive_stats import DescriptiveStatistics
    from textdescriptives.components.pos_proportions import POSProportions

    blank = spacy.blank("en")  # the components register their Doc getters when made
    DescriptiveStatistics(blank, verbose=False)
    td.Readability(blank)
    DependencyDistance(blank)
    POSProportions(blank, use_pos=True, add_all_tags=True)
    doc = _parsed(*spec)
    got = turn_features(doc)
    read, dep, pos = doc._.readability, doc._.dependency_distance, doc._.pos_proportions
    if sum(not t.is_punct and "'" not in t.text for t in doc) >= F.READABILITY_MIN_WORDS:
        assert got["flesch_reading_ease"] == read["flesch_reading_ease"]
        assert got["flesch_kincaid_grade"] == read["flesch_kincaid_grade"]
    else:  # textdescriptives' value exists, ours is undefined below the minimum
        assert math.isnan(got["flesch_reading_ease"]) and math.isnan(got["flesch_kincaid_grade"])
    assert got["dependency_distance_mean"] == dep["dependency_distance_mean"]
    for t in F.POS_TAGS:
        assert got[f"pos_prop_{t}"] == pos.get(f"pos_prop_{t}", 0.0)


def test_dependency_distance_by_hand() -> None:
    # sentence 1: |3-0|+|3-1|+|3-2|+0+|4-3|+|5-3|+|6-3| = 3+2+1+0+1+2+3 = 12 over 7 tokens;
    # sentence 2: 1+1+0+1+2 = 5 over 5 tokens; mean over sentences (12/7 + 1) / 2
    got = turn_features(_parsed(*_TD_DOCS[0]))
    assert got["dependency_distance_mean"] == pytest.approx((12 / 7 + 1) / 2)

# --------------------------------------------------------------------------- pronouns
def test_pronoun_rates() -> None:
    f = feats("I|PRON think|VERB you|PRON and|CCONJ I|PRON should|AUX talk|VERB to|ADP "
              "them|PRON .|PUNCT")
    # 9 words: I x2, you x1, them x1
    assert f["pron_i"] == pytest.approx(200 / 9)
    assert f["pron_you"] == pytest.approx(100 / 9)
    assert f["pron_third"] == pytest.approx(100 / 9)
    assert f["pron_we"] == 0


# --------------------------------------------------------------------------- hedges, certainty
def test_negated_hedge_counts_once() -> None:
    f = feats("I do n't guess so .")  # words: I, do, guess, so
    assert f["n_words"] == 4
    assert f["hedges"] == pytest.approx(25.0)  # "I don't guess" is one hedge
    assert f["negations"] == pytest.approx(25.0)  # n't
    assert f["certainty"] == 0


def test_not_sure_is_hedge_not_certainty() -> None:
    f = feats("I 'm not sure .")  # words: I, not, sure
    assert f["hedges"] == pytest.approx(100 / 3)  # "I'm not sure" (overlaps "not sure": once)
    assert f["certainty"] == 0
    assert feats("I 'm sure .")["certainty"] == pytest.approx(50.0)


def test_certainty_negation_window() -> None:
    f = feats("It never works and it always fails .")  # 7 words, never + always
    assert f["certainty"] == pytest.approx(200 / 7)
    assert f["negations"] == pytest.approx(100 / 7)  # never
    assert feats("It is not always bad .")["certainty"] == 0


def test_kind_of_after_determiner_is_not_a_hedge() -> None:
    assert feats("a kind of sadness")["hedges"] == 0
    assert feats("I feel kind of sad")["hedges"] == pytest.approx(100 / 5)


def test_modals_and_questions() -> None:
    f = feats("What|PRON|WP happened|VERB ? Can|AUX|MD you|PRON stay|VERB ? Tell|VERB me|PRON "
              "more|ADJ .")
    assert (f["q_open"], f["q_closed"], f["q_total"]) == (2, 1, 3)
    assert f["modals"] == pytest.approx(100 / 8)  # 8 words, one MD


# --------------------------------------------------------------------------- tense
def test_tense_shares() -> None:
    f = feats("I|PRON went|VERB|VBD|go|Tense=Past;VerbForm=Fin and|CCONJ I|PRON will|AUX|MD "
              "go|VERB|VB|go|VerbForm=Inf .")
    assert (f["tense_past"], f["tense_present"], f["tense_future"]) == (0.5, 0.0, 0.5)
    g = feats("I|PRON am|AUX|VBP|be|Tense=Pres;VerbForm=Fin going|VERB|VBG to|PART "
              "go|VERB|VB|go|VerbForm=Inf . It|PRON is|AUX|VBZ|be|Tense=Pres;VerbForm=Fin "
              "late|ADJ .")
    # "am going to go" is one future (its 'am' is not present); "is" is present
    assert (g["tense_past"], g["tense_present"], g["tense_future"]) == (0.0, 0.5, 0.5)
    assert math.isnan(feats("Yes .")["tense_past"])


# --------------------------------------------------------------------------- families, markers
def test_families_match_lemmas() -> None:
    f = feats("My chest is tight and my hands|NOUN|NNS|hand are cold .")
    assert f["body_words"] == pytest.approx(400 / 9)  # chest, tight, hands (lemma), cold
    g = feats("I think it is because of the model .")
    assert g["cognitive_words"] == pytest.approx(300 / 8)  # think, because, model
    h = feats("I feel scared|ADJ|JJ|scare and ashamed .")
    assert h["feeling_words"] == pytest.approx(300 / 5)  # feel, scared, ashamed


@pytest.mark.parametrize("spec, marker, n", [
    ("How is that supposed to help ? I 've tried that before .", "skeptic", 2),
    ("How would this really help ?", "skeptic", 1),
    ("I do n't see how . Maybe .", "skeptic", 1),
    ("Can we slow down ? It 's a lot .", "slow_down", 2),
    ("I do n't know , I guess .", "vague", 2),
    ("That 's exactly what 's going to happen , for sure .", "catastrophic", 2),
    ("It will definitely fail . What if I fail ?", "catastrophic", 2),
    ("My prior is low and the variance is high .", "intellectualising", 2),
    ("I keep analysing my metrics .", "intellectualising", 2),
    ("I feel sad today .", "skeptic", 0),
])
def test_markers(spec: str, marker: str, n: int) -> None:
    assert feats(spec)[f"marker_{marker}"] == n


def test_curly_apostrophes_match() -> None:
    assert feats("I do n’t know .")["marker_vague"] == 1


# --------------------------------------------------------------------------- LSM, reflection
PATIENT = "I|PRON am|AUX not|PART sure|ADJ .|PUNCT"
THERAPIST = "You|PRON are|AUX really|ADV not|PART sure|ADJ about|ADP it|PRON ?|PUNCT"


def test_function_word_rates_and_lsm_by_hand() -> None:
    p, t = feats(PATIENT), feats(THERAPIST)
    # patient: 4 words; ppron I, auxverb am, negate not (the negations column) -> 25 each
    assert (p["fw_ppron"], p["fw_auxverb"], p["negations"], p["fw_prep"]) == (25, 25, 25, 0)
    assert "fw_negate" not in p and "fw_negate" not in F.COLUMNS  # no duplicate of negations
    # therapist: 7 words; ppron You, ipron it, prep about, auxverb are, adverb really, negate not
    s = 100 / 7
    for c in ("ppron", "ipron", "prep", "auxverb", "adverb", "negate"):
        assert t[F.LSM_RATES[c]] == pytest.approx(s), c
    assert t["fw_article"] == t["fw_conj"] == t["fw_quant"] == 0
    shared = 1 - (25 - s) / (25 + s + 1e-4)  # ppron, auxverb, negate
    one_sided = 1 - s / (s + 1e-4)  # ipron, prep, adverb
    expected = (3 * shared + 3 * one_sided + 3 * 1.0) / 9  # article, conj, quant: both 0
    assert F.lsm(*([x[c] for c in F.LSM_RATES.values()] for x in (p, t))) == pytest.approx(expected)
    assert expected == pytest.approx(0.57576, abs=1e-4)


@pytest.mark.parametrize("block", [F.BLOCK_TURNS, 1, 2])
def test_compute_features_pairs_and_empty_turn(block: int, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:
    # turns are computed in blocks: pairs split across blocks give the same values
    monkeypatch.setattr(F, "BLOCK_TURNS", block)
    turns = pd.DataFrame({
        "session_id": ["s1"] * 4 + ["s2"],
        "turn": [0, 1, 2, 3, 0],
        "speaker": ["patient", "therapist", "patient", "therapist", "therapist"],
        "text": ["x"] * 5,
    })
    docs = [
        D("My|PRON chest|NOUN|NN|chest feels|VERB|VBZ|feel tight|ADJ .|PUNCT"),
        D("Your|PRON chest|NOUN hurts|VERB|VBZ|hurt and|CCONJ feels|VERB|VBZ|feel "
          "heavy|ADJ .|PUNCT"),
        Doc(_NLP.vocab, words=[]),  # empty patient turn
        D(THERAPIST),
        D(THERAPIST),  # first turn of s2: no previous patient turn
    ]
    out = F.compute_features(turns, docs)
    assert list(out.columns) == list(F.COLUMNS)
    assert out[["session_id", "turn", "speaker"]].equals(turns[["session_id", "turn", "speaker"]])
    # therapist content lemmas chest, hurt, feel, heavy; shared with patient: chest, feel
    assert out.loc[1, "reflect_overlap"] == pytest.approx(0.5)
    assert not np.isnan(out.loc[1, "lsm"])
    assert out[["lsm", "reflect_overlap"]].iloc[[0, 2, 3, 4]].isna().all().all()
    empty = out.loc[2]
    assert empty["n_words"] == 0 and empty["marker_vague"] == 0 and empty["q_total"] == 0
    assert np.isnan(empty["pron_i"]) and np.isnan(empty["flesch_reading_ease"])
    with pytest.raises(ValueError):
        F.compute_features(turns, docs[:2])


def test_session_lsm_pooled_by_hand() -> None:
    fw = dict.fromkeys(F.LSM_RATES.values(), 0.0)
    rows = [
        {"session_id": "a", "speaker": "patient", "n_words": 4, **fw, "fw_ppron": 25.0},
        {"session_id": "a", "speaker": "patient", "n_words": 6, **fw, "fw_ppron": 50.0},
        {"session_id": "a", "speaker": "therapist", "n_words": 5, **fw, "fw_ppron": 20.0},
    ]
    df = pd.DataFrame(rows).assign(lsm=[np.nan, np.nan, 0.8])
    res = F.session_lsm(df)
    # patient pooled ppron = (1 + 3) / 10 words = 40 per 100; therapist 20
    expected = (8 + 1 - 20 / (60 + 1e-4)) / 9
    assert res.loc[0, "lsm_pooled"] == pytest.approx(expected)
    assert res.loc[0, "lsm_pair_mean"] == 0.8 and res.loc[0, "n_pairs"] == 1
    assert (res.loc[0, "n_words_patient"], res.loc[0, "n_words_therapist"]) == (10, 5)


# --------------------------------------------------------------------------- CLI
def test_cli_round_trip(tmp_path: Path) -> None:
    src = sorted((ROOT / "seeds").glob("003_*.txt"))[0]
    out = tmp_path / "features.csv"
    assert main(["features", str(src), "--out", str(out), "--quiet"]) == 0
    table = pd.read_csv(out)
    turns = load_corpus([src]).turns
    assert list(table.columns) == list(F.COLUMNS)
    assert len(table) == len(turns)
    assert table["turn"].tolist() == turns["turn"].tolist()
    assert table["speaker"].tolist() == turns["speaker"].tolist()
    assert table.loc[table["speaker"] == "patient", "lsm"].isna().all()
    assert table.loc[table["speaker"] == "therapist", "lsm"].between(0, 1).any()


# --------------------------------------------------------------------------- stats helper
def test_mixedlm_table_standard_errors_are_statsmodels() -> None:
    """Std errors, z and CIs of the fixed effects are statsmodels' own (``bse_fe``)."""
    import statsmodels.formula.api as smf

    from therapy_turns.analysis.stats import mixedlm_table

    rng = np.random.default_rng(1)
    g = np.repeat(np.arange(8), 6)
    d = pd.DataFrame({"session_id": g, "x": rng.normal(size=48)})
    d["y"] = 0.5 * d.x + rng.normal(size=8)[g] + rng.normal(size=48)
    out = mixedlm_table(d, ["y"], "x", standardize=False).set_index("term")
    res = smf.mixedlm("y ~ x", d, groups=d.session_id).fit(reml=True, method=["bfgs"])
    assert not out["boundary"].any()
    assert out["std_err"].to_numpy() == pytest.approx(res.bse_fe.to_numpy(), rel=1e-6)
    assert out.loc["x", "ci_low"] == pytest.approx(res.conf_int().loc["x", 0], rel=1e-6)


def test_pattern_set() -> None:
    counter = F.PhraseCounter([], [[{"LOWER": "what"}, {"LOWER": "if"}]], use_lemma=False)
    docs = [D("So|ADV what|PRON if|SCONJ ?|PUNCT"), D("So|ADV if|SCONJ ?|PUNCT")]
    assert counter.matches(Tokens(docs))[0].tolist() == [1, 0]
    # the Matcher runs only on the Docs holding a pattern's first word (LOWER)
    assert counter.first_words == {"what"}
    with pytest.raises(ValueError, match="LOWER"):
        F.PhraseCounter([], [[{"LEMMA": "be"}, {"LOWER": "if"}]])

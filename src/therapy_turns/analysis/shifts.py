"""Technique shifts, emotion coupling, MI indices, client talk (notebooks 04, 05); events (07)."""

import logging
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy.stats import entropy

from therapy_turns.analysis import dynamics, stats
from therapy_turns.analysis.stats import Frame, Names, adjust_p, fit_mixedlm, next_turn, share_ci
from therapy_turns.io.transcripts import SEPARATOR, analysable, analyse_turn_text, event_counts
from therapy_turns.paths import DATA_DIR, read_yaml
from therapy_turns.schema import DEFAULT_EXCLUDE, session_position, split_codes
from therapy_turns.schema import TURN_ID as KEYS

log = logging.getLogger(__name__)
BEHAVIOURS = ("reflection", "question", "therapist_input", "other")
FORMS = read_yaml(DATA_DIR / "codebook.yaml")["index_forms"]  # the forms each index counts
EVENTS = read_yaml(DATA_DIR / "events.yaml")
#: Cue words per event type (and ``any``): ``thinking_cues`` of ``data/events.yaml``.
CUES = {str(k): frozenset(w.lower() for w in v) for k, v in EVENTS["thinking_cues"].items()}
TALK = ("change", "sustain")
NO_EVENT = "no event"
EFFECT_COLUMNS = (
    "event measure n_events n_sessions mean_change ci_low ci_high baseline_change n_baseline "
    "estimate est_ci_low est_ci_high p_mixed p_perm p_adj p_perm_adj converged note"
).split()


def row_normalise(counts: pd.DataFrame) -> pd.DataFrame:
    """Row proportions (rows without transitions stay NaN)."""
    return counts.div(counts.sum(axis=1).replace(0, np.nan), axis=0)


class PermutationResult(NamedTuple):
    """Transition counts ``from`` -> ``to`` against a within-session shuffled null."""

    observed: pd.DataFrame
    null_mean: pd.DataFrame
    p_cell: pd.DataFrame
    p_value: float


def permutation_test(
    codes: pd.DataFrame, col: str = "main_behaviour", n_perm: int = 2000, seed: int = 0
) -> PermutationResult:
    """Do consecutive therapist codes follow each other more or less than chance?"""
    d = codes.sort_values(KEYS)
    code, st = pd.factorize(d[col].astype(str), sort=True)
    seqs = [code[i] for _, i in sorted(d.groupby("session_id").indices.items())]

    def count(seqs: list[np.ndarray]) -> np.ndarray:
        pairs = np.concatenate([a[:-1] * len(st) + a[1:] for a in seqs])
        return np.bincount(pairs, minlength=len(st) ** 2).reshape(len(st), -1).astype(float)

    obs, rng = count(seqs), np.random.default_rng(seed)
    null = np.array([count([rng.permutation(s) for s in seqs]) for _ in range(n_perm)])
    mean = null.mean(axis=0)
    ok = mean > 0
    s_obs, *s_null = ((((m - mean) ** 2)[ok] / mean[ok]).sum() for m in (obs, *null))
    low = np.minimum((null >= obs).sum(axis=0), (null <= obs).sum(axis=0))
    p_cell = np.minimum(1.0, 2 * (low + 1) / (n_perm + 1))
    p = float(((np.array(s_null) >= s_obs).sum() + 1) / (n_perm + 1))
    axes = {"index": pd.Index(st, name="from"), "columns": pd.Index(st, name="to")}
    return PermutationResult(*(pd.DataFrame(m, **axes) for m in (obs, mean, p_cell)), p)


def transition_entropy(codes: Sequence[str]) -> float:
    """Conditional entropy H(next | current), bits, of a code sequence; NaN below two codes."""
    codes = [c for c in codes if isinstance(c, str) and c]
    if len(codes) < 2:
        return float("nan")
    k, n = pd.factorize(pd.Series(codes), sort=True)[0], len(set(codes))  # pd.crosstab, 12x faster
    table = np.bincount(k[:-1] * n + k[1:], minlength=n * n).reshape(n, n).astype(float)
    table = np.ascontiguousarray(table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0])
    rows = table.sum(axis=1)
    return float(rows / rows.sum() @ entropy(table, base=2, axis=1)) + 0.0


def windowed_entropy(codes: Frame, col: str = "main_behaviour", window: int = 5) -> Frame:
    """``session_id, turn, entropy`` (bits) of the codes of the last ``window`` turns."""
    d = codes.sort_values(KEYS).reset_index(drop=True)
    onehot = pd.get_dummies(d[col].astype(str), dtype=float).groupby(d["session_id"])
    counts = onehot.rolling(window).sum().droplevel(0).sort_index()
    ent = entropy(counts.to_numpy(), base=2, axis=1) + 0.0
    return d[KEYS].assign(turn=d["turn"].astype(int), entropy=ent)


def perseveration(codes: Frame, patient: Frame, marker: str, col: str, min_run: int = 3) -> Frame:
    """Runs of ``min_run`` or more identical codes and the ``marker`` turns inside them."""
    d = codes.sort_values(KEYS).assign(code=lambda x: x[col].astype(str))
    g = d.groupby(((d.code != d.code.shift()) | (d.session_id != d.session_id.shift())).cumsum())
    runs = g[["session_id", "code"]].first().assign(start_turn=g["turn"].first())
    runs = runs.assign(end_turn=g["turn"].last(), length=g.size())
    runs = runs[runs["length"] >= min_run].reset_index(drop=True)
    m = patient.loc[patient[marker].fillna(0) > 0, ["session_id", "turn"]]
    hit = runs.reset_index().merge(m, on="session_id").query("start_turn < turn < end_turn")
    runs["n_marked_patient_turns"] = hit.groupby("index").size().reindex(runs.index, fill_value=0)
    order = ["length", "n_marked_patient_turns"]
    return runs.sort_values(order, ascending=False, kind="stable").reset_index(drop=True)


def technique_change_points(codes: Frame, columns: Names, penalty: float = 3.0) -> Frame:
    """``session_id, turn`` starting each new segment of the mix of the indicator ``columns``."""
    rows = []
    for sid, g in codes.sort_values(KEYS).groupby("session_id", sort=True):
        cps = dynamics.change_points(g[[*columns]].to_numpy(float), "l2", penalty, 3, False)
        rows += [(sid, int(g["turn"].iloc[b])) for b in cps]
    return pd.DataFrame(rows, columns=["session_id", "turn"])


def responsiveness(
    codes: pd.DataFrame,
    turns: pd.DataFrame,
    patient: pd.DataFrame,
    marker: str,
    col: str = "main_behaviour",
    states: Names | None = None,
) -> pd.DataFrame:
    """Shares of next therapist codes after patient turns with ``marker`` > 0 and without."""
    nx = next_turn(turns.loc[turns["speaker"] == "patient", KEYS], codes, col)
    nx = nx.merge(patient[[*KEYS, marker]], on=KEYS, how="left")
    cond = np.where(nx[marker].fillna(0) > 0, "after_marker", "otherwise")
    states = sorted(codes[col].astype(str).unique()) if states is None else states
    hits = pd.DataFrame({s: nx["next_code"] == s for s in states}, index=nx.index)
    return stats.shares(hits, cond, ["after_marker", "otherwise"], ["condition", "code"])


def coupling_data(codes: Frame, turns: Frame, emotion: Frame, columns: Names, value: str) -> Frame:
    """Per therapist turn: the patient's ``prior`` and ``after`` value, ``delta``, ``columns``."""
    t = turns.sort_values(KEYS)[[*KEYS, "speaker"]].merge(emotion[[*KEYS, value]], how="left")
    t.loc[t.speaker != "patient", value] = np.nan
    g = t.groupby("session_id")[value]
    t["prior"] = g.transform(lambda s: s.ffill().shift(1))
    t["after"] = g.transform(lambda s: s.bfill().shift(-1))
    t["position"] = session_position(t)
    t = t[t.speaker == "therapist"].drop(columns=["speaker", value])
    d = t.merge(codes[[*KEYS, *columns]], on=KEYS, how="inner")
    d["delta"] = d["after"] - d["prior"]
    d[list(columns)] = d[list(columns)].astype(int)
    return d.dropna(subset=["prior", "after"]).reset_index(drop=True)


def coupling_model(data: Frame, columns: Names, method: str = "holm", min_count: int = 5) -> Frame:
    """Per code, MixedLM ``delta ~ code + prior + position``: estimate, CI, p, ``p_adj``."""
    rows = []
    for code in columns:
        n_with, fit = int(data[code].sum()), (np.nan,) * 4 + (False,)
        note = f"skipped: fewer than {min_count} turns with/without the code"
        if min(n_with, len(data) - n_with) >= min_count:
            res, used, ok, notes = fit_mixedlm(f"delta ~ {code} + prior + position", data, False)
            note = f"fit failed: {'; '.join(notes)}" if res is None else "; ".join([used, *notes])
            if res is not None:
                est = (res.params[code], *res.conf_int().loc[code], res.pvalues[code])
                fit = (*map(float, est), ok)
        rows.append((code, len(data), n_with, *fit, note))
    names = "code n n_with estimate ci_low ci_high p converged note".split()
    out = pd.DataFrame(rows, columns=names)
    out.insert(7, "p_adj", adjust_p(out["p"].to_numpy(float), method))
    return out


def _ratio(num: pd.Series, den: pd.Series) -> pd.Series:
    return (num / den.where(den > 0)).astype("float64")


def session_indices(techniques: pd.DataFrame, client: pd.DataFrame | None = None) -> pd.DataFrame:
    """The MI session indices (behaviour rates, ratios, shares), one row per ``session_id``."""
    t = techniques.reset_index(drop=True)
    forms = pd.Series(t.get("form", ""), index=t.index).map(split_codes).explode()
    c = {"n": 1} | {b: t["main_behaviour"] == b for b in BEHAVIOURS}
    c |= {k: forms.isin(v).groupby(level=0).any() for k, v in FORMS.items()}
    c = pd.DataFrame(c).groupby(t["session_id"].astype(str).to_numpy(), sort=True).sum()
    out = pd.DataFrame({f"{b}_rate": _ratio(c[b], c.n) for b in BEHAVIOURS})
    out["reflection_question_ratio"] = _ratio(c.reflection, c.question)
    out["complex_reflection_share"] = _ratio(c.complex, c.refl)
    out["open_question_share"] = _ratio(c.open, c.quest)
    out["mi_adherent_rate"], out["mi_non_adherent_rate"] = _ratio(c.mia, c.n), _ratio(c.mina, c.n)
    out["mi_adherent_share"] = _ratio(c.mia, c.mia + c.mina)
    out["change_talk_share"] = np.nan
    if client is not None and len(client):
        sid = client["session_id"].astype(str)
        ct, st = ((client.client_talk == k).groupby(sid).sum() for k in TALK)
        out = out.reindex(out.index.union(ct.index))
        out["change_talk_share"] = _ratio(ct, ct + st).reindex(out.index)
    out.index.name = "session_id"
    return out


def sequential(techniques: pd.DataFrame, client: pd.DataFrame) -> pd.DataFrame:
    """P(next patient turn is change / sustain talk | therapist behaviour) vs the base rate."""
    pairs = next_turn(techniques, client, "client_talk")
    talk = pd.DataFrame({t: pairs["next_code"] == t for t in TALK}, index=pairs.index)
    out = stats.shares(talk, pairs["main_behaviour"], BEHAVIOURS, ["behaviour", "talk"])
    out.columns = ["behaviour", "talk", "k", "n", "p", "low", "high"]
    base = {t: share_ci(int((client["client_talk"] == t).sum()), len(client)) for t in TALK}
    cols = ["base_k", "base_n", "base_rate", "base_low", "base_high"]
    out = out.join(pd.DataFrame.from_dict(base, orient="index", columns=cols), on="talk")
    out["ratio"] = out["p"] / out["base_rate"].replace(0, np.nan)
    return out.sort_values("talk", kind="stable").reset_index(drop=True)


def event_rows(turns: pd.DataFrame) -> pd.DataFrame:
    """One row per event and type: ``session_id, turn, event`` on the patient turn it conditions."""
    t = turns.sort_values(KEYS)
    nxt = t["turn"].where(t["speaker"] == "patient").groupby(t["session_id"]).bfill()
    ev = t.assign(target=nxt)[t["event"].fillna("") != ""]
    if (lost := ev["target"].isna()).any():
        log.warning("%d events after the last patient turn of their session left out", lost.sum())
    ev = ev[~lost].assign(turn=ev["target"][~lost].astype("int64"))
    ev = ev.assign(event=ev["event"].str.split(SEPARATOR))[[*KEYS, "event"]].explode("event")
    return ev[ev["event"] != ""].reset_index(drop=True)


class EventSource(NamedTuple):
    """The events analysed (``turns``), ``kind`` (events, marker, none) and a sentence on them."""

    turns: pd.DataFrame
    kind: str
    description: str


def event_summary(turns: pd.DataFrame) -> pd.DataFrame:
    """Per event type: ``n_events``, ``n_sessions`` and the first and last turn they sit on."""
    g = event_rows(turns).groupby("event")
    aggs = {"n_events": ("turn", "size"), "n_sessions": ("session_id", "nunique")}
    return g.agg(**aggs, first_turn=("turn", "min"), last_turn=("turn", "max")).reset_index()


def choose_events(
    turns: Frame, features: Frame, marker: str = "marker_slow_down", annotated: str | None = None
) -> EventSource:
    """The corpus's events, else the patient turns with ``marker`` > 0 as events."""
    say = EVENTS["descriptions"]
    if counts := event_counts(turns):
        lines = turns.get("event_text", pd.Series([""])).fillna("").str.contains(r"(?m)^---").any()
        own = "event lines of the transcripts" if lines else "`event` column of the transcripts"
        src = f"annotations in `{annotated}`" + (f" and {own}" if lines else "")
        listed = ", ".join(f"{k} ({n})" for k, n in counts.items())
        desc = say["events"].format(sum(counts.values()), src if annotated else own, listed)
        return EventSource(turns, "events", desc)
    if marker not in features.columns:
        raise ValueError(f"marker {marker!r} is not a column of the features table")
    on = features.loc[features[marker].fillna(0) > 0, KEYS]
    t = turns.drop(columns=["event"], errors="ignore").merge(on, how="left", indicator=True)
    is_on = (t.pop("_merge") == "both") & (t["speaker"] == "patient")
    t["event"], kind = np.where(is_on, marker, ""), "marker" if is_on.any() else "none"
    return EventSource(t, kind, say[kind].format(int(is_on.sum()), marker))


def measure_table(
    turns: Frame, tables: Mapping[str, Frame], measures: Names, exclude: Names = DEFAULT_EXCLUDE
) -> Frame:
    """The patient's turns in order (``pos``) with ``event`` and each measure (NaN if excluded)."""
    p = turns.loc[turns["speaker"] == "patient", [*KEYS, "event"]].sort_values(KEYS)
    p = p.assign(event=p["event"].fillna(""), pos=p.groupby("session_id").cumcount())
    p = p.merge(analysable(turns, exclude)[KEYS], on=KEYS, how="left", indicator="ok")
    ok = p.pop("ok") == "both"
    for m in measures:
        src = next((df for df in tables.values() if m in df.columns), None)
        if src is None:
            num = {c for df in tables.values() for c in df.select_dtypes("number")} - set(KEYS)
            msg = f"measure {m!r} is in none of the tables {sorted(tables)}; numeric columns"
            raise ValueError(f"{msg} include {sorted(num)[:12]} ...")
        p = p.merge(src[[*KEYS, m]].drop_duplicates(KEYS), on=KEYS, how="left")
        p[m] = pd.to_numeric(p[m], errors="coerce").astype("float64").where(ok)
    return p.reset_index(drop=True)


def locked(mt: Frame, events: Frame, measures: Names, lags: Sequence[int] = range(-3, 4)) -> Frame:
    """``event, session_id, turn, lag, measure, value``: each event's measures at each lag."""
    ev = events.merge(mt[[*KEYS, "pos"]], on=KEYS, how="inner")
    on, at = ["session_id", "pos"], mt[["session_id", "pos", *measures]]
    wide = [ev.merge(at.assign(pos=at["pos"] - k), on=on, how="left").assign(lag=k) for k in lags]
    long = pd.concat(wide).melt(["event", *KEYS, "lag"], list(measures), "measure", "value")
    return long.sort_values(["event", "measure", *KEYS, "lag"]).reset_index(drop=True)


def locked_means(long: pd.DataFrame) -> pd.DataFrame:
    """Per ``event, measure, lag``: ``n`` events with a value, ``mean`` and its t interval."""
    groups = long.dropna(subset=["value"]).groupby(["event", "measure", "lag"])["value"]
    x = {key: g.to_numpy(float) for key, g in groups}
    rows = [(*key, len(v), float(v.mean()), *stats.t_interval(v)) for key, v in x.items()]
    return pd.DataFrame(rows, columns=["event", "measure", "lag", "n", "mean", "ci_low", "ci_high"])


def permutation_p(
    change: np.ndarray, is_event: np.ndarray, groups: np.ndarray, n_perm: int = 2000, seed: int = 0
) -> float:
    """Two-sided p of the event-minus-other mean ``change``, labels shuffled within groups."""
    is_event = is_event.astype(bool)
    n_e, n = int(is_event.sum()), len(change)
    if n_e == 0 or n_e == n:
        return np.nan
    total, rng = change.sum(), np.random.default_rng(seed)
    s_e = np.zeros(n_perm)  # the event turns' sum of changes in each shuffle
    for g in sorted(set(groups.tolist())):
        x, e = change[groups == g], is_event[groups == g]
        if 0 < e.sum() < len(x):
            perms = rng.permuted(np.tile(np.arange(len(x)), (n_perm, 1)), axis=1)
            s_e += x[perms[:, : e.sum()]].sum(axis=1)
        else:
            s_e += x[e].sum()
    null, obs = (s / n_e - (total - s) / (n - n_e) for s in (s_e, change[is_event].sum()))
    return float((1 + np.sum(np.abs(null) >= abs(obs) - 1e-12)) / (1 + n_perm))


def event_effects(
    mt: pd.DataFrame, measures: Names, n_perm: int = 2000, seed: int = 0, method: str = "holm"
) -> pd.DataFrame:
    """Per event type and measure, the change lag -1 -> event turn against other turns."""
    mt = mt.sort_values(["session_id", "pos"])
    change = mt.groupby("session_id")[list(measures)].diff()
    has, base = mt["event"].str.split(SEPARATOR), (mt["event"] == "").to_numpy()
    rows = []
    for ev in sorted({k for v in mt["event"] if v for k in v.split(SEPARATOR)}):
        mine = has.apply(lambda ks, e=ev: e in ks).to_numpy()
        for m in measures:
            sel = (mine | base) & change[m].notna().to_numpy()
            d = mt[["session_id"]].assign(change=change[m], is_event=mine.astype(int))[sel]
            xs, other = d.change[d.is_event == 1].to_numpy(float), d.change[d.is_event == 0]
            values = (ev, m, len(xs), d.session_id[d.is_event == 1].nunique())
            values += (xs.mean() if len(xs) else np.nan, *stats.t_interval(xs))
            row = dict(zip(EFFECT_COLUMNS, (*values, other.mean(), len(other)), strict=False))
            row["note"] = "no event (or no other turn) with a previous patient turn"
            if len(xs) and len(other):
                arrays = (d[c].to_numpy() for c in ("change", "is_event", "session_id"))
                row |= _fit_effect(d) | {"p_perm": permutation_p(*arrays, n_perm, seed)}
            rows.append(row)
    out = pd.DataFrame(rows, columns=EFFECT_COLUMNS)
    out["p_adj"] = adjust_p(out["p_mixed"].to_numpy(float), method)
    out["p_perm_adj"] = adjust_p(out["p_perm"].to_numpy(float), method)
    return out


def _fit_effect(d: pd.DataFrame) -> dict[str, object]:
    fit = stats.mixedlm_table(d, ["change"], "is_event", standardize=False)
    keys = ["estimate", "est_ci_low", "est_ci_high", "p_mixed", "converged", "note"]
    if len(r := fit[fit["term"] == "is_event"]):
        r = r.iloc[0]
        note = "random-intercept variance 0: OLS" if r["boundary"] else ""
        values = (r["estimate"], r["ci_low"], r["ci_high"], r["p_value"], bool(r["converged"]))
        return dict(zip(keys, (*values, note), strict=True))
    est, lo, hi, p = stats.ols_term("change ~ is_event", d, "is_event")
    note = "mixed model singular (sessions do not differ): OLS"
    return dict(zip(keys, (est, lo, hi, p, True, note), strict=True))


def _conditions(turns: pd.DataFrame) -> pd.DataFrame:
    ev = event_rows(turns).rename(columns={"event": "condition"})
    pat = turns.loc[turns["speaker"] == "patient", KEYS].merge(ev, on=KEYS, how="left")
    return pat.fillna({"condition": NO_EVENT})


def therapist_response(turns: pd.DataFrame, codes: pd.DataFrame) -> pd.DataFrame:
    """Shares of next therapist main behaviours and ACT processes per event type, Wilson CIs."""
    acts = [c for c in codes.select_dtypes("bool") if c.startswith("act_")]
    nxt = next_turn(_conditions(turns), codes, "main_behaviour", acts)
    behaviours = sorted(codes["main_behaviour"].dropna().unique())
    hits = {("main_behaviour", b): nxt["next_code"] == b for b in behaviours}
    hits |= {("act_process", a.removeprefix("act_")): nxt[a] for a in acts}
    order = [*sorted(set(nxt["condition"]) - {NO_EVENT}), NO_EVENT]
    hits = pd.DataFrame(hits, index=nxt.index)
    return stats.shares(hits, nxt["condition"], order, ["condition", "family", "code"])


def refers(words: frozenset[str], event: str, cues: Mapping[str, frozenset[str]]) -> str:
    """The cues of ``event`` (or ``any``) among ``words``, sorted and joined by ``,``."""
    return ",".join(sorted(words & (cues.get(event, frozenset()) | cues.get("any", frozenset()))))


def thinking_response(turns: Frame, thinking: Frame) -> tuple[Frame, Frame]:
    """Cues in the next therapist thinking per event, and shares per type vs no event."""
    words = thinking[[*KEYS, "thinking_words"]]
    therapist = turns[turns["speaker"] == "therapist"].merge(words, on=KEYS, how="left")
    nxt = next_turn(_conditions(turns), therapist, "thinking", ["thinking_words"])
    real = [bool(analyse_turn_text(x, "therapist")["text"]) for x in nxt.next_code.fillna("")]
    nxt = nxt[np.array(real, bool)]
    nxt["words"] = nxt.pop("thinking_words").fillna("").str.split().map(frozenset)
    types = [ty for ty in sorted(set(nxt["condition"]) - {NO_EVENT}) if ty in CUES]  # else left out
    ev = nxt[nxt["condition"].isin(types)].reset_index(drop=True)
    base = nxt.loc[nxt["condition"] == NO_EVENT, "words"]
    ev["cues"] = [refers(w, ty, CUES) for w, ty in zip(ev["words"], ev["condition"], strict=True)]
    per_event = ev.rename(columns={"condition": "event"})[[*KEYS, "event", "next_turn", "cues"]]
    rows = []
    for ty in types:
        hit = per_event.cues[per_event.event == ty] != ""
        kb = sum(refers(w, ty, CUES) != "" for w in base)
        rows.append((ty, *share_ci(int(hit.sum()), len(hit)), *share_ci(kb, len(base))))
    cols = "event k n share ci_low ci_high k_base n_base share_base base_low base_high".split()
    return per_event, pd.DataFrame(rows, columns=cols)

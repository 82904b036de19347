"""Every figure function of notebooks 00-05 and 07 (06 draws with :mod:`plots` alone)."""

import re
from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from therapy_turns.analysis import dynamics, sessions, shifts
from therapy_turns.analysis.stats import Frame, Names
from therapy_turns.measures import emotion, features
from therapy_turns.measures.techniques import ACT_PROCESSES, FORMS
from therapy_turns.schema import SPEAKERS
from therapy_turns.viz import plots
from therapy_turns.viz.plots import LABELS, PALETTE, SPEAKER_COLORS, TEXT_WIDTH

BY_SPEAKER = dict(hue="speaker", palette=SPEAKER_COLORS)
BOX = dict(kind="box", legend=False, x="speaker", order=SPEAKERS, fliersize=1.5, linewidth=0.7)
POINTS = dict(kind="point", x="segment", errorbar=("ci", 95), seed=0, dodge=0.25, legend_out=False)
POINTS |= dict(hue_order=SPEAKERS, markersize=3, linewidth=1, err_kws={"linewidth": 0.8})
EACH = dict(units="session_id", estimator=None, alpha=0.35, linewidth=0.8)
HEAT = dict(cmap="Blues", vmin=0, vmax=1, cbar=False, annot_kws={"size": 6})
#: Estimates with intervals from three rows each (low, estimate, high): the median and range.
INTERVAL = dict(estimator="median", errorbar=lambda v: (v.min(), v.max()))
LOCKED = INTERVAL | dict(color=PALETTE[0], x="lag", y="value", row="measure", col="event")
LOCKED |= dict(kind="line", marker="o", markersize=2.5, lw=1)
LOCKED |= dict(facet_kws={"sharey": "row", "margin_titles": True})
SHARE = INTERVAL | dict(linestyle="none", markersize=3, capsize=0.1, err_kws={"linewidth": 1})
SHARE |= dict(x="x", y="value", hue="hue")
TALK, MARK = [PALETTE[2], PALETTE[1]], PALETTE[3]
NOTE = dict(xytext=(0, 6), textcoords="offset points", ha="center")
#: Code → (layer, position) from ``data/codebook.yaml`` (forms 0, ACT processes 1).
CODE_ORDER = {c: (k, i) for k, cs in enumerate((FORMS, ACT_PROCESSES)) for i, c in enumerate(cs)}


def _words(name: str) -> str:
    return re.sub(r"^(form|act|marker)_", "", name).replace("_", " ")


def _shares(panels: list, size: tuple[float, float], rotation: int = 30, **labels) -> plt.Figure:
    fig, axes = plt.subplots(1, len(panels), figsize=size, layout="tight", squeeze=False)
    for ax, (title, d, palette) in zip(axes[0], panels, strict=True):
        long = d.melt(["x", "hue"], ["ci_low", "share", "ci_high"])
        sns.pointplot(long, palette=palette, dodge=min(0.6, 0.2 * len(palette)), ax=ax, **SHARE)
        ax.get_legend().remove()
        ax.set(xlabel="", ylabel="", ylim=(-0.05, 1.05), title=title)
        plt.setp(ax.get_xticklabels(), rotation=rotation, ha="right" if rotation else "center")
    axes[0, 0].set(**labels)
    plots.fig_legend(fig, axes[0], loc="upper center", ncol=4, fontsize=7)
    fig.get_layout_engine().set(rect=(0, 0, 1, 1 - 0.4 / size[1]))
    return fig


def _heat(values: Frame, shade: Frame, xlabel: str, width: float, fixed: float, **kw) -> list:
    figs = []
    for page in plots.paginate(values.index, 0.3, fixed):
        fig, ax = plt.subplots(figsize=(width, 0.3 * len(page) + fixed), layout="tight")
        sns.heatmap(shade.loc[page], annot=values.loc[page], ax=ax, **HEAT, **kw)
        ax.set(xlabel=xlabel, ylabel="session")
        ax.tick_params(axis="y", labelsize=6)
        plt.setp(ax.get_xticklabels(), rotation=30, ha="right")
        figs.append(fig)
    return figs


def plot_turn_lengths(turns: pd.DataFrame) -> plt.Figure:
    """Words per turn across the session: a line per session and their mean, a panel per speaker."""
    kw = dict(x="exchange", y="words", legend=False, **BY_SPEAKER)
    facets = dict(col="speaker", col_order=SPEAKERS, kind="line", height=2.4, aspect=1.45)
    g = sns.relplot(sessions.with_words(turns), **facets, **kw, **EACH)
    g.map_dataframe(sns.lineplot, errorbar=None, linewidth=2, **kw)
    return g.set_titles("{col_name}").set_axis_labels(*LABELS["turn_lengths"]).figure


def plot_features(df: pd.DataFrame, cols: Sequence[str], by_segment: bool = False) -> plt.Figure:
    """A panel per feature by speaker: turns as boxes, or session means by segment (95% CIs)."""
    keys = ["session_id", "speaker", "segment"]
    if by_segment:
        df = df.groupby(keys, observed=True)[list(cols)].mean().reset_index()
    long = df.melt(keys, list(cols), var_name="feature")
    long["feature"] = long["feature"].map(plots.column_label)
    facets = dict(col="feature", col_wrap=min(len(cols), 4), sharey=False, height=1.8, aspect=0.95)
    g = sns.catplot(long, y="value", **facets, **BY_SPEAKER, **(POINTS if by_segment else BOX))
    g.set_titles("{col_name}", size=7).set_axis_labels("session segment" if by_segment else "", "")
    if by_segment:
        sns.move_legend(g, "lower center", bbox_to_anchor=(0.5, 1), ncol=2, title=None)
    return g.figure


def plot_marker_profile(profile: Frame, archetypes: Mapping | None = None) -> list[plt.Figure]:
    """Patient markers per 1000 patient words, a row per session (and archetype), paged."""
    rates = profile.set_index("session_id")[list(features.MARKERS)]
    lab = plots.session_labels(rates.index)
    rates.index = [lab[s] + (f" ({archetypes.get(s, '?')})" if archetypes else "") for s in lab]
    shade, width = rates / rates.max().replace(0, 1), plots.COLUMN_WIDTH * 1.6
    return _heat(rates.round(1), shade, LABELS["markers"], width, 1.4, fmt="", linewidths=0.5)


def plot_lsm(df: pd.DataFrame) -> plt.Figure:
    """``lsm`` and ``reflect_overlap`` of each patient->therapist pair across the session."""
    t = df[df["speaker"] == "therapist"].dropna(subset=["lsm"])
    fig, axes = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 2.3), sharex=True, layout="tight")
    smooth = dict(lowess=True, scatter=False, color="black", line_kws={"linewidth": 1.5})
    for ax, (col, name) in zip(axes, LABELS["lsm"].items(), strict=True):
        sns.lineplot(t, x="position", y=col, ax=ax, color=SPEAKER_COLORS["therapist"], **EACH)
        sns.regplot(t, x="position", y=col, ax=ax, **smooth)
        ax.set(xlabel="Position in session (0 = start, 1 = end)", ylabel=name, ylim=(0, 1))
    return fig


def plot_validation(pred: pd.DataFrame) -> plt.Figure:
    """Predicted vs human ratings on EmoBank dev with r of the model and the first baseline."""
    fig, axes = plt.subplots(1, 2, figsize=(TEXT_WIDTH * 0.75, 2.6), layout="tight")
    for ax, dim in zip(axes, ("valence", "arousal"), strict=True):
        x, y = pred[dim[0].upper()].to_numpy(float), pred[dim].to_numpy(float)
        ax.scatter(x, y, s=4, alpha=0.35, color=PALETTE[0], linewidths=0, rasterized=True)
        ax.axline((3, 3), slope=1, color="0.6", lw=0.8, ls="--")
        _, column, name = next(b for b in emotion.BASELINES if b[0] == dim)
        r, base = (np.corrcoef(x, v)[0, 1] for v in (y, pred[column].to_numpy(float)))
        ax.set_title(f"{dim}: model r = {r:.2f} (n = {len(x)})\n{name}: r = {base:.2f}", fontsize=8)
        ax.set(xlabel=f"human {dim} (EmoBank dev, 1-5)", ylabel=f"predicted {dim}")
    return fig


def plot_trajectories(
    traj: Frame, cps: Frame, marks: Frame, value_label: str, session_id: str | None = None
) -> plt.Figure | list[plt.Figure]:
    """Trajectory, home base, change points and ``marks`` of one session or all of them, paged."""
    one = session_id is not None
    ids = [session_id] if one else sorted(traj["session_id"].unique())
    speakers = ", ".join(sorted(traj.loc[traj["session_id"] == session_id, "speaker"].unique()))
    labels = {ids[0]: f"{ids[0]}: {speakers} {value_label}"} if one else plots.session_labels(ids)
    ncols, height = (1, 2.4) if one else (3, 1.6)
    lo, hi = traj[["value", "smooth"]].min().min(), traj[["value", "smooth"]].max().max()
    pad, figs = 0.05 * (hi - lo) if hi > lo else 0.1, []
    for page in plots.paginate(ids, height, 0.9, ncols):
        fig, axes = plots.grid(len(page), ncols, height, 0.6, sharey=True)
        for k, (ax, sid) in enumerate(zip(axes, page, strict=False)):
            for spk, g in traj[traj["session_id"] == sid].groupby("speaker", sort=True):
                c, u = SPEAKER_COLORS.get(spk, "0.3"), dynamics.ued(g["value"])
                band = dict(color=c, alpha=0.12, lw=0, label="home base (mean ± 1 SD)")
                ax.fill_between([g.turn.min(), g.turn.max()], u["home_low"], u["home_high"], **band)
                ax.axhline(u["home_mean"], color=c, lw=0.6, alpha=0.5)
                ax.plot(g["turn"], g["value"], "o", ms=2.5, color=c, alpha=0.55, label="turn")
                ax.plot(g["turn"], g["smooth"], "-", lw=1.4, color=c, label="smoothed")
                for t in g.merge(cps, on=["session_id", "speaker", "turn"])["turn"]:
                    ax.axvline(t - 0.5, color="0.25", ls="--", lw=0.8, label="change point")
                if len(marks):
                    m = g.merge(marks[["session_id", "turn"]].drop_duplicates())
                    ax.plot(m["turn"], m["value"], "v", ms=5, color=MARK, label="asks to slow down")
                    for t, v in zip(m["turn"], m["value"], strict=True) if one else []:
                        ax.annotate(f"t{t}", (t, v), color=MARK, fontsize=6, **NOTE)
            ax.set_title(labels[sid], fontsize=8)
            ax.set(xlabel="turn", ylim=(lo - pad, hi + pad))
            ax.set_ylabel(plots.column_label(value_label, width=18) if k % ncols == 0 else "")
        plots.fig_legend(fig, axes, loc="lower center", fontsize=7, ncol=5, bbox_to_anchor=(0.5, 0))
        fig.get_layout_engine().set(rect=(0, 0.07, 1, 1))
        figs.append(fig)
    return figs[0] if one else figs


def plot_composition(comp: pd.DataFrame) -> plt.Figure:
    """Grouped bars: mean NRC rate (± SEM) per emotion in each session phase."""
    wide = comp.pivot_table("mean sem".split(), "column", "phase", observed=True, sort=False)
    fig, ax = plt.subplots(figsize=(TEXT_WIDTH, 2.4), layout="tight")
    bars = dict(width=0.8, color=PALETTE, error_kw={"lw": 0.6, "capsize": 1.5})
    wide["mean"].plot.bar(yerr=wide["sem"], ax=ax, **bars, **LABELS["composition"])
    ax.set_xticks(ax.get_xticks(), wide.index.str.removeprefix("nrc_"), rotation=30, ha="right")
    legend = dict(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(wide["mean"].columns))
    ax.legend(title="session phase", title_fontsize=7, **legend)
    return fig


def plot_trends(trends: pd.DataFrame, mixed: pd.DataFrame, x_label: str) -> list[plt.Figure]:
    """Forest plot: per-session OLS slopes with 95% CIs and the MixedLM fixed slope, paged."""
    rows = trends.assign(label=trends["session_id"].map(plots.session_labels(trends["session_id"])))
    fixed = mixed[mixed["term"] == x_label].assign(label="MixedLM (all sessions)")
    t = pd.concat([rows.rename(columns={"slope": "estimate"}), fixed])
    return plots.plot_intervals(t, "label", None, LABELS["trends"].format(x_label), tick=str)


def plot_code_frequencies(freq: pd.DataFrame) -> list[plt.Figure]:
    """Heat map: share of therapist turns with each code (columns) per session (rows), paged."""
    f = freq.rename(index=plots.session_labels(freq.index), columns=_words)
    return _heat(f, f, LABELS["codes"], TEXT_WIDTH, 1.8, fmt=".2f")


def plot_ethogram(codes: Frame, patient: Frame, columns: Names, markers: Names) -> list[plt.Figure]:
    """Per session: therapist turn × code raster, patient marker turns as ticks beneath; paged."""
    labels = plots.session_labels(codes["session_id"].unique(), 40)
    rows = {c: j for j, c in enumerate([*columns, *markers])}
    ticks = [_words(c) for c in columns] + [f"patient: {_words(m)}" for m in markers]
    code = dict(marker="s", s=7, color=PALETTE[1], linewidths=0)
    marker = dict(marker="|", s=20, color=PALETTE[0])
    height, figs = 0.065 * len(rows) + 0.3, []
    for page in plots.paginate(sorted(labels), height, 0.7):
        fig, axes = plots.grid(len(page), 1, height, 0.7, sharex=True)
        for ax, sid in zip(axes, page, strict=False):
            for frame, cols, mark in ((codes, columns, code), (patient, markers, marker)):
                g = frame[frame.session_id == sid].melt("turn", list(cols)).query("value > 0")
                ax.scatter(g["turn"], g["variable"].map(rows), **mark)
            ax.set_yticks(range(len(rows)), ticks, fontsize=4.5)
            ax.set(ylim=(len(rows) - 0.5, -0.5), xlim=(-1, codes["turn"].max() + 1))
            ax.set_title(labels[sid], fontsize=7, loc="left")
        axes[-1].set_xlabel("turn")
        fig.get_layout_engine().set(h_pad=0.3)
        figs.append(fig)
    return figs


def plot_transitions(res: shifts.PermutationResult) -> plt.Figure:
    """Observed transition shares and observed/shuffled ratios (starred: permutation p < 0.05)."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 3.0), layout="tight")
    sns.heatmap(shifts.row_normalise(res.observed), ax=a1, annot=True, fmt=".2f", **HEAT)
    ratio = res.observed / res.null_mean.replace(0, np.nan)
    stars = ratio.round(2).astype(str) + res.p_cell.map(lambda p: "*" if p < 0.05 else "")
    ratios = dict(center=0, cmap="RdBu_r", annot=stars, fmt="", cbar=False, annot_kws={"size": 6})
    sns.heatmap(np.log2(ratio), ax=a2, **ratios)
    for a, title in zip((a1, a2), LABELS["transitions"]["titles"], strict=True):
        a.set(title=title.format(p=res.p_value), **LABELS["transitions"]["axes"])
    return fig


def plot_entropy(ent: pd.DataFrame, window: int) -> plt.Figure:
    """Sliding-window technique entropy per session (many sessions: thin lines and their mean)."""
    fig, ax = plt.subplots(figsize=(3.4, 2.4))
    few = (n := ent["session_id"].nunique()) <= 12  # else thin unlabelled lines and their mean
    d = ent.assign(session=ent["session_id"].map(plots.session_labels(ent["session_id"], 10)))
    line = dict(data=d, x="turn", y="entropy", ax=ax)
    if few:
        sns.lineplot(**line, hue="session", lw=1)
    else:
        sns.lineplot(**line, units="session", estimator=None, lw=0.4, color="0.6", alpha=0.4)
        sns.lineplot(**line, errorbar=None, lw=1.6, color=PALETTE[1], label=f"mean of {n} sessions")
    ax.set(xlabel="turn", ylabel=f"entropy of last {window} codes (bits)")
    out = dict(title="session", title_fontsize=6, loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.legend(fontsize=6, **(out if few else dict(frameon=True)))  # sessions beside the lines
    return fig


def plot_forest(table: pd.DataFrame, value: str = "valence") -> list[plt.Figure] | None:
    """Forest plot of per-code coupling estimates with 95% CIs (adjusted p in the labels)."""
    rows = zip(table["code"], table["n_with"], table["p_adj"], strict=True)
    t = table.assign(label=[f"{_words(c)} (n={n}, p_adj={p:.2f})" for c, n, p in rows])
    return plots.plot_intervals(t, "label", None, LABELS["forest"].format(value), tick=str)


def plot_sequential(table: pd.DataFrame) -> plt.Figure:
    """P(change / sustain talk next | therapist main behaviour), Wilson 95% CIs, base rates."""
    d = table.rename(columns={"p": "share", "low": "ci_low", "high": "ci_high"})
    d["x"] = d["behaviour"].map(_words) + [f"\n(n={k:.0f})" for k in d["n"]]
    panel = ("", d.assign(hue=d["talk"] + " talk next"), TALK)
    fig = _shares([panel], (6.4, 3.4), rotation=0, **LABELS["sequential"])
    for colour, rate in zip(TALK, d.groupby("talk", sort=False)["base_rate"].first(), strict=True):
        fig.axes[0].axhline(rate, color=colour, ls="--", lw=1)
    return fig


def plot_locked(means: pd.DataFrame, measures: Sequence[str]) -> plt.Figure:
    """Mean (95 % CI) of each measure (row) at each patient-turn lag around each event type."""
    n = means[means["lag"] == 0].groupby("event")["n"].max()
    lagged = ["ci_low", "mean", "ci_high"]
    d = means[means["measure"].isin(measures)].melt(["event", "measure", "lag"], lagged)
    d["event"] = [f"{_words(e)} (n={n.get(e, 0):.0f})" for e in d["event"]]
    d["measure"], rows = d["measure"].map(_words), [_words(m) for m in measures]
    kw = dict(height=1.35, aspect=TEXT_WIDTH / d["event"].nunique() / 1.35, **LOCKED)
    g = sns.relplot(d, row_order=rows, col_order=sorted(set(d["event"])), **kw)
    g.refline(x=0, color="0.5", lw=0.6, ls="--").set(xticks=sorted(means["lag"].unique()))
    g.set_titles(col_template="{col_name}", row_template="{row_name}", size=7)
    return g.set_axis_labels("patient turn (lag)", "").figure


def plot_effects(effects: pd.DataFrame, measures: Sequence[str]) -> list[plt.Figure] | None:
    """Forest plot: the change lag -1 → event turn minus that without an event, per measure."""
    d = effects.sort_values("event", kind="stable").set_index("measure").loc[list(measures)]
    notes = [f"n={n}, p={p:.2f}" for n, p in zip(d["n_events"], d["p_perm_adj"], strict=True)]
    d = d.reset_index().assign(event=lambda x: x["event"].map(_words), note=notes)
    d["measure"], cols = d["measure"].map(_words), ["estimate", "est_ci_low", "est_ci_high"]
    return plots.plot_intervals(d, "event", "measure", LABELS["effects"], cols, "note", str)


def plot_next_turn(resp: Frame, thinking: Frame | None = None, family: str = "") -> plt.Figure:
    """Shares of codes (and of thinking on the event) in next therapist turns, by condition."""
    resp = resp if "family" in resp else resp.assign(family=family)
    n = resp.groupby(["family", "condition"])["n"].transform("max").fillna(0).astype(int)
    d = resp.assign(x=resp["code"].map(_words), hue=resp["condition"].map(_words))
    d["hue"] += [f" (n={k})" for k in n]
    colours = [*PALETTE[: resp["condition"].nunique() - 1], "0.4"]
    panels = [(f.replace("_", " "), g, colours) for f, g in d.groupby("family", sort=False)]
    if thinking is not None and len(thinking):
        share = ["event", "share", "ci_low", "ci_high"]
        base = thinking[["event", "share_base", "base_low", "base_high"]].set_axis(share, axis=1)
        t = pd.concat([thinking.assign(hue="after the event"), base.assign(hue="after no event")])
        panels.append((LABELS["thinking"], t.assign(x=t["event"].map(_words)), ["k", "0.4"]))
    return _shares(panels, (min(TEXT_WIDTH, 3.4 * len(panels)), 2.6), **LABELS["next_turn"])


def code_color(code: str) -> str:
    """A stable colour per code: ACT processes Okabe-Ito, forms tab10, else grey."""
    layer, i = CODE_ORDER.get(code, (9, 0))
    if layer == 1:
        return {"#F0E442": "#8C7A00"}.get(c := PALETTE[i % len(PALETTE)], c)
    return sns.color_palette("tab10").as_hex()[i % 10] if layer == 0 else "#777777"


def plot_session(s: Frame, kept: Frame, codes: Sequence[str], session_id: str) -> plt.Figure:
    """The explorer's figure: valence and arousal per kept turn above the code timeline."""
    rows = 0.16 * max(len(codes), 3)
    fig = plt.Figure(figsize=(4.6, 2.6 + rows), layout="constrained")
    ax, ax2 = fig.subplots(2, 1, sharex=True, height_ratios=[2.4, 0.35 + rows])
    for a in (ax, ax2):
        for x in sorted(set(s["turn"]) - set(kept["turn"])):
            a.axvspan(x - 0.5, x + 0.5, color="#dddddd", lw=0, zorder=0)
    for dim, style in (("valence", "-"), ("arousal", ":")):
        for spk, g in kept.groupby("speaker", sort=True):
            line = dict(marker="o", ms=2.5, lw=1.2, alpha=1.0 if spk == "patient" else 0.6)
            c, label = SPEAKER_COLORS.get(spk, "#444"), f"{spk} {dim}"
            ax.plot(g["turn"], g[dim], style, color=c, label=label, **line)
    ax.axhline(3, color="#999", lw=0.6, zorder=0)
    ax.set(ylabel="score (EmoBank 1–5)", ymargin=0.1)
    ax.set_title(f"{session_id}: emotion trajectory", loc="left")
    if ax.lines[1:]:
        ax.legend(ncols=2, frameon=False, loc="upper left", bbox_to_anchor=(0, -0.02), fontsize=6.5)
    forms = [CODE_ORDER.get(c, (9, 0))[0] == 0 for c in codes]
    for k, (code, form) in enumerate(zip(codes, forms, strict=True)):
        xs = s.loc[[code in {c for _, c in row} for row in s["codes"]], "turn"]
        mark = dict(s=16, marker="s") if form else dict(s=20, marker="o")
        ax2.scatter(xs, [k] * len(xs), color=code_color(code), lw=0, **mark)
    if 0 < sum(forms) < len(codes):
        ax2.axhline(sum(forms) - 0.5, color="#bbb", lw=0.6)
    ax2.set_yticks(range(len(codes)), [c.replace("_", " ") for c in codes], fontsize=6)
    ax2.set(ylim=(len(codes) - 0.5 if codes else 0.5, -0.5), xlim=(-0.5, s["turn"].max() + 0.5))
    ax2.set_title(LABELS["timeline"][bool(codes)], loc="left")
    ax2.set_xlabel("turn")
    return fig

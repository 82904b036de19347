"""Figures of the techniques, their shifts, what follows them and event responses (04, 05, 07)."""

import re
from collections.abc import Sequence

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from therapy_turns.analysis.shifts import PermutationResult, row_normalise
from therapy_turns.viz import plots

#: Above this many sessions the entropy figure draws thin unlabelled lines and their mean.
LEGEND_SESSIONS = 12
SHARES = dict(vmin=0, vmax=1, cmap="Blues", fmt=".2f", cbar=False, annot_kws={"size": 6})
LOCKED = plots.INTERVAL | dict(color=plots.PALETTE[0])
LOCKED |= dict(x="lag", y="value", row="measure", col="event", kind="line", marker="o")
LOCKED |= dict(markersize=2.5, lw=1, facet_kws={"sharey": "row"})
SHARE, LAGGED = ["event", "share", "ci_low", "ci_high"], ["ci_low", "mean", "ci_high"]
TALK = [plots.PALETTE[2], plots.PALETTE[1]]
CODE = dict(marker="s", s=7, color="#D55E00", linewidths=0)
MARKER = dict(marker="|", s=20, color=plots.PALETTE[0])


def _words(name: str) -> str:
    return re.sub(r"^(form|act|marker)_", "", name).replace("_", " ")


def plot_code_frequencies(freq: pd.DataFrame) -> list[plt.Figure]:
    """Heat map: share of therapist turns with each code (columns) per session (rows), paged."""
    f = freq.rename(index=plots.session_labels(freq.index), columns=_words)
    xlabel = "code (share of therapist turns)"
    return plots.plot_session_heat(f, f, xlabel, plots.TEXT_WIDTH, 1.8, **SHARES)


def plot_ethogram(
    codes: pd.DataFrame, patient: pd.DataFrame, columns: Sequence[str], markers: Sequence[str]
) -> list[plt.Figure]:
    """Per session: therapist turn × code raster, patient marker turns as ticks beneath; paged."""
    labels = plots.session_labels(codes["session_id"].unique(), 40)
    rows = {c: j for j, c in enumerate([*columns, *markers])}
    height = 0.065 * len(rows) + 0.3
    figs = []
    for page in plots.paginate(sorted(labels), height, 0.7):
        fig, axes = plots.grid(len(page), 1, height, 0.7, sharex=True)
        for ax, sid in zip(axes, page, strict=False):
            for frame, cols, mark in ((codes, columns, CODE), (patient, markers, MARKER)):
                g = frame[frame.session_id == sid].melt("turn", list(cols))
                g = g[g["value"].fillna(0).astype(float) > 0]
                ax.scatter(g["turn"], g["variable"].map(rows), **mark)
            ticks = [_words(c) for c in columns] + [f"patient: {_words(m)}" for m in markers]
            ax.set_yticks(range(len(rows)), ticks, fontsize=4.5)
            ax.set(ylim=(len(rows) - 0.5, -0.5), xlim=(-1, codes["turn"].max() + 1))
            ax.set_title(labels[sid], fontsize=7, loc="left")
        axes[-1].set_xlabel("turn")
        fig.get_layout_engine().set(h_pad=0.3)
        figs.append(fig)
    return figs


def plot_transitions(res: PermutationResult) -> plt.Figure:
    """Observed transition shares and observed/shuffled ratios (starred: permutation p < 0.05)."""
    fig, (a1, a2) = plt.subplots(1, 2, figsize=(plots.TEXT_WIDTH, 3.0), layout="tight")
    sns.heatmap(row_normalise(res.observed), ax=a1, annot=True, **SHARES)
    ratio = res.observed / res.null_mean.replace(0, np.nan)
    stars = ratio.round(2).astype(str) + res.p_cell.map(lambda p: "*" if p < 0.05 else "")
    ratios = dict(center=0, cmap="RdBu_r", annot=stars, fmt="", cbar=False, annot_kws={"size": 6})
    sns.heatmap(np.log2(ratio), ax=a2, **ratios)
    titles = ["P(next | current), observed", f"observed / shuffled (p = {res.p_value:.3f})"]
    for a, title in zip((a1, a2), titles, strict=True):
        a.set(title=title, xlabel="next therapist turn", ylabel="current therapist turn")
    return fig


def plot_entropy(ent: pd.DataFrame, window: int) -> plt.Figure:
    """Sliding-window technique entropy per session (many sessions: thin lines and their mean)."""
    fig, ax = plt.subplots(figsize=(3.4, 2.4))
    n = ent["session_id"].nunique()
    few = n <= LEGEND_SESSIONS
    d = ent.assign(session=ent["session_id"].map(plots.session_labels(ent["session_id"], 10)))
    if few:
        sns.lineplot(d, x="turn", y="entropy", hue="session", lw=1, ax=ax)
    else:
        thin = dict(units="session", estimator=None, lw=0.4, color="0.6", alpha=0.4)
        sns.lineplot(d, x="turn", y="entropy", ax=ax, **thin)
        mean = dict(errorbar=None, lw=1.6, color=plots.PALETTE[1], label=f"mean of {n} sessions")
        sns.lineplot(d, x="turn", y="entropy", ax=ax, **mean)
    ax.set(xlabel="turn", ylabel=f"entropy of last {window} codes (bits)")
    ax.legend(title="session" if few else None, fontsize=6, ncols=2 if few else 1)
    return fig


def plot_responsiveness(resp: pd.DataFrame, marker: str) -> plt.Figure:
    """Share of each next code after a patient marker vs otherwise, with Wilson 95% CIs."""
    fig, ax = plt.subplots(figsize=(3.4, 2.4))
    n = resp.groupby("condition")["n"].transform("first")
    d = resp.assign(condition=resp["condition"] + [f" (n={k})" for k in n])
    plots.plot_shares(ax, d, "code", "condition", [plots.PALETTE[0], plots.PALETTE[2]])
    ax.set(ylabel="share of next therapist turns", title=f"after {marker}")
    ax.legend(fontsize=6)
    return fig


def plot_forest(table: pd.DataFrame, value: str = "valence") -> list[plt.Figure] | None:
    """Forest plot of per-code coupling estimates with 95% CIs (adjusted p in the labels)."""
    rows = zip(table["code"], table["n_with"], table["p_adj"], strict=True)
    t = table.assign(label=[f"{_words(c)} (n={n}, p_adj={p:.2f})" for c, n, p in rows])
    xlabel = f"difference in patient {value} change (t-1 → t+1)"
    return plots.plot_intervals(t, "estimate", "ci_low", "ci_high", "label", None, xlabel, tick=str)


def plot_sequential(table: pd.DataFrame) -> plt.Figure:
    """P(change / sustain talk next | therapist main behaviour), Wilson 95% CIs, base rates."""
    fig, ax = plt.subplots(figsize=(6.4, 3.4), layout="tight")
    d = table.rename(columns={"p": "share", "low": "ci_low", "high": "ci_high"})
    d["behaviour"] = d["behaviour"].map(_words) + [f"\n(n={k:.0f})" for k in d["n"]]
    d["talk"] += " talk next"
    plots.plot_shares(ax, d, "behaviour", "talk", TALK, dodge=0.3, rotation=0)
    for colour, rate in zip(TALK, d.groupby("talk", sort=False)["base_rate"].first(), strict=True):
        ax.axhline(rate, color=colour, ls="--", lw=1)
    ax.set(ylim=(0, 1), ylabel="P(client talk in next turn)")
    ax.set_xlabel("therapist main behaviour (dashed: client base rate)")
    ax.legend(frameon=False, fontsize=8)
    return fig


def plot_locked(means: pd.DataFrame, measures: Sequence[str]) -> plt.Figure:
    """Mean (95 % CI) of each measure (row) at each patient-turn lag around each event type."""
    n = means[means["lag"] == 0].groupby("event")["n"].max()
    d = means[means["measure"].isin(measures)].melt(["event", "measure", "lag"], LAGGED)
    d["event"] = [f"{_words(e)} (n={n.get(e, 0):.0f})" for e in d["event"]]
    kw = dict(height=1.35, aspect=plots.TEXT_WIDTH / d["event"].nunique() / 1.35, **LOCKED)
    g = sns.relplot(d, row_order=measures, col_order=sorted(set(d["event"])), **kw)
    g.refline(x=0, color="0.5", lw=0.6, ls="--")
    g.set_titles("{col_name}", size=7).set_axis_labels("patient turn (lag)", "")
    g.set(xticks=sorted(means["lag"].unique()))
    for ax, m in zip(g.axes[:, 0], measures, strict=True):
        ax.set_ylabel(_words(m))
    for ax in g.axes[1:].flat:
        ax.set_title("")
    return g.figure


def plot_effects(effects: pd.DataFrame, measures: Sequence[str]) -> list[plt.Figure] | None:
    """Forest plot: the change lag -1 → event turn minus that without an event, per measure."""
    d = effects.sort_values("event", kind="stable").set_index("measure").loc[list(measures)]
    notes = [f"n={n}, p={p:.2f}" for n, p in zip(d["n_events"], d["p_perm_adj"], strict=True)]
    d = d.reset_index().assign(event=lambda x: x["event"].map(_words), note=notes)
    d["measure"] = d["measure"].map(_words)
    xlabel = "Δ change vs no event"
    return plots.plot_intervals(
        d, "estimate", "est_ci_low", "est_ci_high", "event", "measure", xlabel, "note", str
    )


def plot_therapist_response(resp: pd.DataFrame, thinking: pd.DataFrame | None = None):
    """Shares of codes (and of thinking that refers to the event) in the next therapist turn."""
    n = resp.groupby(["family", "condition"])["n"].transform("max").fillna(0).astype(int)
    d = resp.assign(x=resp["code"].map(_words), hue=resp["condition"].map(_words))
    d["hue"] += [f" (n={k})" for k in n]
    colours = [*plots.PALETTE[: resp["condition"].nunique() - 1], "0.4"]  # no event (last) grey
    panels = [(f.replace("_", " "), g, colours) for f, g in d.groupby("family", sort=False)]
    if thinking is not None and len(thinking):
        base = thinking[["event", "share_base", "base_low", "base_high"]].set_axis(SHARE, axis=1)
        t = pd.concat([thinking.assign(hue="after the event"), base.assign(hue="after no event")])
        title = "thinking refers to the event"
        panels.append((title, t.assign(x=t["event"].map(_words)), ["k", "0.4"]))
    fig, axes = plt.subplots(1, len(panels), figsize=(plots.TEXT_WIDTH, 2.6), layout="tight")
    for ax, (title, g, palette) in zip(axes, panels, strict=True):
        plots.plot_shares(ax, g, "x", "hue", palette, dodge=0.6)
        ax.get_legend().remove()
        ax.set(ylim=(-0.05, 1.05), title=title)
    axes[0].set_ylabel("share of next therapist turns")
    plots.fig_legend(fig, axes, loc="upper center", ncol=4, fontsize=6)
    fig.get_layout_engine().set(rect=(0, 0, 1, 0.85))
    return fig

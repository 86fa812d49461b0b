"""summary.md and the plots of a ``peers.py`` run, from its fits.csv alone.

A fit that failed (or was killed) counts as normalized cost 1.0, the cost of the
cheaper trivial rule, in the overall table, the ranks and the plots of ranks; the
per-data-set tables show the error. A system without a budget was fitted once
per (data set, seed) and appears at every budget. The overall table, the ranks
and the best-peer line use only the (data set, seed) pairs where every system of
the table has a row, so that they compare the same rows.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from _common import fmt, markdown_table
from peers_systems import SYSTEMS

REFERENCE = "autoimb"
FAILED_SCORE = 1.0  # a failed fit scores as the cheaper trivial rule
N_BOOTSTRAP = 2000


def load(run_dir: Path) -> pd.DataFrame:
    fits = pd.read_csv(run_dir / "fits.csv", dtype={"budget": str})
    fits["budget"] = pd.to_numeric(fits["budget"], errors="coerce")
    fits["ok"] = fits["status"] == "ok"
    fits["score"] = fits["normalized_cost"].where(fits["ok"], FAILED_SCORE)
    for column in ("overran_budget",):
        if column in fits:
            fits[column] = fits[column].map({True: True, False: False, "True": True,
                                             "False": False})
    return fits


def at_budgets(fits: pd.DataFrame) -> tuple[pd.DataFrame, list]:
    """One copy of each budget-less row per budget run; column ``at_budget``."""
    budgets = sorted(fits["budget"].dropna().unique())
    if not budgets:
        return fits.assign(at_budget=np.nan), [None]
    timed = fits[fits["budget"].notna()].assign(at_budget=lambda f: f["budget"])
    untimed = fits[fits["budget"].isna()]
    copies = [untimed.assign(at_budget=b) for b in budgets]
    return pd.concat([timed, *copies], ignore_index=True), budgets


def system_order(systems) -> list[str]:
    known = [s for s in SYSTEMS if s in set(systems)]
    return known + sorted(set(systems) - set(known))


def complete_units(table: pd.DataFrame, systems: list[str]) -> pd.DataFrame:
    """Rows of the (data set, seed) pairs where every system has a row."""
    have = table.groupby(["dataset", "seed"])["system"].agg(set)
    units = have[have.map(lambda s: set(systems) <= s)].index
    keep = table.set_index(["dataset", "seed"]).index.isin(units)
    return table[keep]


def score_matrix(table: pd.DataFrame, systems, by=("dataset",)) -> pd.DataFrame:
    """Score per unit (rows) and system (columns), averaged over the rest."""
    if table.empty:
        return pd.DataFrame(columns=systems, dtype=float)
    return table.pivot_table(index=list(by), columns="system", values="score",
                             aggfunc="mean").reindex(columns=systems)


def ranks_per_dataset_seed(common: pd.DataFrame, systems) -> pd.DataFrame:
    """Each system's rank (ties averaged) per (data set, seed) pair."""
    return score_matrix(common, systems, by=("dataset", "seed")).rank(
        axis=1, method="average")


def overall(table: pd.DataFrame, systems: list[str],
            intervals: pd.DataFrame) -> tuple[list, int]:
    """The overall table's rows, and the number of data sets it covers.

    Every column uses the same rows: those of the (data set, seed) pairs where
    every system has one. ``intervals`` is ``rank_intervals(table, systems)``,
    which the plot of ranks shows too.
    """
    common = complete_units(table, systems)
    scores = score_matrix(common, systems)
    # Two ways to rank over several seeds, which can disagree. *The* mean rank
    # (the plot's, and issue 9's criterion) ranks per (data set, seed), so that
    # it has an interval over the seeds; the other ranks each data set's mean.
    ranks_of_means = scores.rank(axis=1, method="average")
    best = scores.min(axis=1)
    rows = []
    for system in systems:
        mine = common[common["system"] == system]
        ok = mine[mine["ok"]]
        reported = ok.dropna(subset=["reported_normalized_cost"])
        rel = reported[reported["normalized_cost"] > 0]
        rel = ((rel["normalized_cost"] - rel["reported_normalized_cost"])
               / rel["normalized_cost"])
        timed = mine[mine["budget"].notna()]
        overruns = (f"{int(timed['overran_budget'].fillna(False).sum())}/{len(timed)}"
                    if len(timed) else "-")
        rows.append([
            system, len(mine), int((~mine["ok"]).sum()),
            fmt(scores[system].mean(), ".4f") if len(scores) else "-",
            (f"{intervals.at[system, 'mean']:.2f} [{intervals.at[system, 'low']:.2f}, "
             f"{intervals.at[system, 'high']:.2f}]") if len(intervals) else "-",
            fmt(ranks_of_means[system].mean(), ".2f") if len(ranks_of_means) else "-",
            int((scores[system] <= best + 1e-12).sum()) if len(scores) else 0,
            fmt(reported["optimism"].mean(), "+.4f") if len(reported) else "-",
            fmt(rel.median(), "+.2f") if len(rel) else "-",
            fmt(mine["fit_seconds"].mean(), ".1f"),
            overruns,
            fmt(mine["peak_rss_mb"].mean(), ",.0f"),
        ])
    return rows, len(scores)


def best_peer_lines(table: pd.DataFrame, systems: list[str]) -> list[str]:
    """autoimb against the best other system per data set (other autoimb runs,
    e.g. ``autoimb_before``, are not peers)."""
    peers = [s for s in systems if not s.startswith(REFERENCE)]
    if REFERENCE not in systems or not peers:
        return []
    common = complete_units(table, systems)
    scores = score_matrix(common, systems)
    if scores.empty:
        return []
    best_peer = scores[peers].min(axis=1)
    mine = scores[REFERENCE]
    return [
        f"Best peer per data set (the lowest normalized cost of {', '.join(peers)}, "
        "chosen after seeing the test rows, so a high bar): mean "
        f"**{best_peer.mean():.4f}** over {len(scores)} data sets; autoimb "
        f"**{mine.mean():.4f}**; autoimb at or below the best peer on "
        f"{int((mine <= best_peer + 1e-12).sum())} of {len(scores)}.",
    ]


def dataset_section(table: pd.DataFrame, name: str, systems: list[str]) -> list[str]:
    rows_here = table[table["dataset"] == name]
    first = rows_here.dropna(subset=["n_train"]).head(1)
    head = f"#### {name}"
    if len(first):
        r = first.iloc[0]
        head += (f" ({int(r.n_train):,} train rows, {int(r.pos_train)} positive; "
                 f"{int(r.n_test):,} test rows, {int(r.pos_test)} positive; "
                 f"fn_cost {r.fn_cost:.3g})")
    seeds = rows_here["seed"].nunique()
    rows = []
    for system in systems:
        mine = rows_here[rows_here["system"] == system]
        if mine.empty:
            continue
        ok = mine[mine["ok"]]
        errors = mine.loc[~mine["ok"], "error"].astype(str)
        reported = ok["reported_normalized_cost"].dropna()
        cost = fmt(ok["normalized_cost"].mean(), ".4f") if len(ok) else "-"
        if seeds > 1 and len(ok) > 1:
            cost += f" ± {ok['normalized_cost'].std():.4f}"
        rows.append([
            system, cost,
            fmt(reported.mean(), ".4f") if len(reported) else "-",
            fmt(ok["optimism"].mean(), "+.4f") if len(reported) else "-",
            fmt(ok["ap"].mean(), ".3f") if len(ok) else "-",
            fmt(mine["fit_seconds"].mean(), ".1f"),
            _trials(ok),
            fmt(mine["peak_rss_mb"].mean(), ",.0f"),
            ("ERROR: " + errors.iloc[0][:120]) if len(errors)
            else _short(ok["config"].iloc[0] if len(ok) else ""),
        ])
    cost_header = "normalized cost" + (" (mean ± sd over seeds)" if seeds > 1 else "")
    return [head, "", markdown_table(
        ["system", cost_header, "reported", "held-out - reported", "AP", "fit s",
         "trials", "peak MB", "configuration (first seed)"], rows, "lrrrrrrrl"), ""]


def _trials(ok) -> str:
    """Mean trials finished (completed or pruned), and completed where known:
    a trial refused in 0 s for lack of time counts as pruned."""
    if not ok["trials"].notna().any():
        return "-"
    text = fmt(ok["trials"].mean(), ".0f")
    completed = ok.get("trials_completed")
    if completed is not None and completed.notna().any():
        text += f" ({completed.mean():.0f} completed)"
    return text


def _short(text, width=110) -> str:
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return ""
    text = str(text)
    return text if len(text) <= width else text[:width - 1] + "…"


# -- plots -------------------------------------------------------------------------

def colours(systems: list[str]) -> dict[str, tuple]:
    palette = plt.get_cmap("tab10").colors
    return {s: palette[list(SYSTEMS).index(s) % 10] if s in SYSTEMS
            else palette[(len(SYSTEMS) + i) % 10] for i, s in enumerate(systems)}


def plot_costs(table, systems, path: Path, title: str) -> bool:
    """Normalized cost per data set, one dot per system (mean over seeds)."""
    ok = table[table["ok"]]
    means = ok.pivot_table(index="dataset", columns="system",
                           values="normalized_cost", aggfunc="mean")
    failed = table[~table["ok"]]
    if means.empty:
        return False
    order = means.min(axis=1).sort_values().index.tolist()
    order += sorted(set(table["dataset"]) - set(order))
    colour = colours(systems)
    fig, ax = plt.subplots(figsize=(max(6.0, 0.55 * len(order) + 2) + 1.6, 4.8))
    width = 0.8 / max(1, len(systems))
    for i, system in enumerate(systems):
        x = np.arange(len(order)) + (i - (len(systems) - 1) / 2) * width
        y = [means.at[d, system] if system in means and d in means.index else np.nan
             for d in order]
        ax.scatter(x, np.maximum(y, 1e-4), s=28, color=colour[system], label=system,
                   zorder=3)
        bad = failed[failed["system"] == system]["dataset"].unique()
        xs = [x[order.index(d)] for d in bad if d in order]
        if xs:
            ax.scatter(xs, [FAILED_SCORE] * len(xs), marker="x", s=40,
                       color=colour[system], zorder=3)
    for edge in np.arange(len(order) - 1) + 0.5:
        ax.axvline(edge, color="0.9", lw=0.8, zorder=1)
    ax.set_yscale("log")
    ax.set_xticks(np.arange(len(order)), order, rotation=60, ha="right", fontsize=8)
    ax.set_ylabel("held-out normalized cost\n(log scale; 0 drawn at 1e-4; x = failed)")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", which="both", alpha=0.3)
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1))
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def rank_intervals(table, systems, seed=0) -> pd.DataFrame:
    """Mean rank per system and a 95 % bootstrap interval over (data set, seed)."""
    ranks = ranks_per_dataset_seed(complete_units(table, systems), systems).to_numpy()
    if len(ranks) == 0:
        return pd.DataFrame()
    rng = np.random.default_rng(seed)
    draws = rng.integers(0, len(ranks), size=(N_BOOTSTRAP, len(ranks)))
    boot = ranks[draws].mean(axis=1)
    return pd.DataFrame({"mean": ranks.mean(axis=0),
                         "low": np.percentile(boot, 2.5, axis=0),
                         "high": np.percentile(boot, 97.5, axis=0),
                         "units": len(ranks)}, index=systems)


def plot_ranks(intervals: pd.DataFrame, path: Path, title: str) -> bool:
    if intervals.empty:
        return False
    data = intervals.sort_values("mean")
    colour = colours(list(data.index))
    fig, ax = plt.subplots(figsize=(6.4, 0.45 * len(data) + 1.4))
    for i, (system, r) in enumerate(data.iterrows()):
        error = [[r["mean"] - r["low"]], [r["high"] - r["mean"]]]
        ax.errorbar(r["mean"], i, xerr=error, fmt="o", color=colour[system], capsize=4)
    ax.set_yticks(range(len(data)), data.index)
    ax.invert_yaxis()
    ax.set_xlabel(f"mean rank (1 = best)\n95 % bootstrap interval over "
                  f"{int(data['units'].iloc[0])} (data set, seed) pairs", fontsize=9)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


def plot_budgets(expanded, budgets, systems, path: Path) -> bool:
    """Mean normalized cost against budget, on the pairs complete at every budget.

    Returns whether there was anything to plot.
    """
    keep = None
    for budget in budgets:
        here = complete_units(expanded[expanded["at_budget"] == budget], systems)
        units = set(zip(here["dataset"], here["seed"], strict=True))
        keep = units if keep is None else keep & units
    if not keep:
        return False
    rows = expanded[[(d, s) in keep for d, s in zip(expanded["dataset"],
                                                       expanded["seed"], strict=True)]]
    means = rows.pivot_table(index="at_budget", columns="system", values="score",
                             aggfunc="mean")
    colour = colours(systems)
    fig, ax = plt.subplots(figsize=(6.4, 4.4))
    for system in systems:
        if system in means:
            style = "-o" if SYSTEMS.get(system) is None or SYSTEMS[system].uses_budget \
                else "--"
            ax.plot(means.index, means[system], style, color=colour[system],
                    label=system)
    ax.set_xscale("log")
    ax.minorticks_off()
    ax.set_xticks(budgets, [f"{b:g}" for b in budgets])
    ax.set_xlabel("budget (s); dashed: systems without a budget")
    ax.set_ylabel("mean normalized cost (failed = 1)")
    ax.set_title(f"Normalized cost against budget, {len(keep)} (data set, seed) pairs",
                 fontsize=10)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return True


# -- the summary ---------------------------------------------------------------------

def write_report(run_dir: Path) -> None:
    fits = load(run_dir)
    expanded, budgets = at_budgets(fits)
    plots = run_dir / "plots"
    plots.mkdir(exist_ok=True)
    for old in plots.glob("*.png"):
        old.unlink()
    seeds = sorted(fits["seed"].unique())
    lines = [
        f"# autoimb and its peers: {run_dir.name}", "",
        f"{len(fits)} fits ({int((~fits['ok']).sum())} failed) on "
        f"{fits['dataset'].nunique()} data sets, seeds {', '.join(map(str, seeds))}, "
        f"budgets {', '.join(f'{b:g} s' for b in budgets if b is not None) or '-'}; "
        f"machine load average (1 min) at the start of the fits "
        f"{fits['load_average'].min():.1f} to {fits['load_average'].max():.1f}.", "",
        "Normalized cost = test cost / the cheaper trivial rule's test cost "
        "(lower is better; 1 = no better than predicting one class). *reported*: "
        "the system's own estimate of it on its training rows; *held-out - reported* "
        "is its optimism. Failed fits count as 1.0 in the overall table and the "
        "ranks. Systems without a budget (" + ", ".join(
            s for s in SYSTEMS if not SYSTEMS[s].uses_budget) +
        ") were fitted once per (data set, seed) and appear at every budget. "
        "*Mean rank*: each system's rank among all systems on one (data set, seed), "
        "averaged over every such pair, with a 95 % bootstrap interval over the "
        "pairs (the plot's ranks); *rank of each data set's mean*: ranks of the "
        "mean cost over the seeds, averaged over the data sets, which can "
        "disagree with it.", "",
    ]
    for budget in budgets:
        here = expanded if budget is None else expanded[expanded["at_budget"] == budget]
        systems = system_order(here["system"].unique())
        tag = "" if budget is None else f"_b{budget:g}"
        title = "" if budget is None else f" — budget {budget:g} s"
        intervals = rank_intervals(here, systems)
        rows, n_sets = overall(here, systems, intervals)
        n_all = here["dataset"].nunique()
        lines += [f"## Overall{title}", ""]
        if n_sets < n_all:
            lines += [f"On the {n_sets} of {n_all} data sets where every system has a "
                      "row; the per-data-set tables below show every row.", ""]
        lines += [markdown_table(
            ["system", "fits", "errors", "mean normalized cost",
             "mean rank [95 % interval]", "rank of each data set's mean",
             "wins",
             "mean optimism", "median (held-out - reported) / held-out", "mean fit s",
             "over budget x1.1", "mean peak MB"], rows, "lrrrrrrrrrrr"), ""]
        lines += [*best_peer_lines(here, systems), ""]
        if plot_costs(here, systems, plots / f"normalized_cost{tag}.png",
                      f"Held-out normalized cost{title}"):
            lines += [f"![normalized cost](plots/normalized_cost{tag}.png)", ""]
        if plot_ranks(intervals, plots / f"mean_rank{tag}.png", f"Mean rank{title}"):
            lines += [f"![mean rank](plots/mean_rank{tag}.png)", ""]
        lines += [f"### Per data set{title}", ""]
        order = here.groupby("dataset")["n_train"].max().sort_values().index
        for name in order:
            lines += dataset_section(here, name, systems)
    if len([b for b in budgets if b is not None]) > 1:
        systems = system_order(expanded["system"].unique())
        if plot_budgets(expanded, budgets, systems, plots / "cost_vs_budget.png"):
            lines += ["## Normalized cost against budget", "",
                      "![cost against budget](plots/cost_vs_budget.png)", ""]
    lines += ["Columns of fits.csv and how each system is run: benchmarks/README.md, "
              "section *Peers*.", ""]
    tmp = run_dir / "summary.md.tmp"
    tmp.write_text("\n".join(lines))
    tmp.replace(run_dir / "summary.md")

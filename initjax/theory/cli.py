"""``initjax theory``: mean-field tables, the critical line and the phase diagram.

Examples:
  initjax theory --activation tanh --sigma-b2 0.05 --sigma-w2 1.0:4.0:31
  initjax theory --activation tanh --critical --sigma-b2 0:0.25:11
  initjax theory --activation tanh --sigma-w2 1:4:61 --sigma-b2 0:0.25:26 --plot phase.png
Ranges are "start:stop:num" (inclusive, like numpy.linspace) or a single number.
"""

from __future__ import annotations

import argparse
import math
import os
import warnings

import numpy as np

from initjax.theory._common import DEFAULT_NODES

# Published values printed beside ours: (activation, sigma_b2) -> (critical sigma_w2, source).
PUBLISHED_CRITICAL = {
    ("tanh", 0.05): (1.76, "Schoenholz et al. 2017, Fig. 1 (approx.)"),
    ("tanh", 0.0): (1.0, "Poole et al. 2016"),
    ("relu", 0.0): (2.0, "He et al. 2015; Pennington et al. 2017"),
    ("erf", 0.0): (math.pi / 4, "exact: chi_1 = sigma_w2 * 4/pi at q* = 0"),
}


def parse_range(flag: str, text: str) -> np.ndarray:
    """ "a" -> [a]; "a:b:n" -> linspace(a, b, n). ValueError naming ``flag`` otherwise."""
    usage = f"{flag}: expected a number or start:stop:num (num an integer >= 1), got {text!r}"
    if not str(text).strip():
        raise ValueError(f"{flag}: empty value; give a number or start:stop:num (or omit the flag)")
    parts = str(text).split(":")
    try:
        if len(parts) == 1:
            start = stop = float(parts[0])
            num = 1
        elif len(parts) == 3:
            start, stop = float(parts[0]), float(parts[1])
            num = int(parts[2])
            if num < 1 or str(num) != parts[2].strip():
                raise ValueError
        else:
            raise ValueError
    except ValueError:
        raise ValueError(usage) from None
    # Checked before numpy: linspace with an infinite end warns (`y *= step`) on stderr.
    if not (math.isfinite(start) and math.isfinite(stop)):
        raise ValueError(f"{flag}: values must be finite, got {text!r}")
    # Finite ends can still overflow the step (1e308:-1e308:3); the check below reports it.
    with np.errstate(over="ignore", invalid="ignore"):
        values = np.linspace(start, stop, num)
    if not np.all(np.isfinite(values)):
        raise ValueError(f"{flag}: values overflow float64, got {text!r}")
    if (values < 0).any():
        raise ValueError(f"{flag}: values must be >= 0, got {text!r}")
    return values


def _params(items: list[str]) -> dict:
    out = {}
    for item in items or []:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise ValueError(f"--param: expected NAME=VALUE, got {item!r}")
        try:
            out[name.strip()] = float(value)
        except ValueError:
            raise ValueError(f"--param {name}: value must be a number, got {value!r}") from None
    return out


def _variance(
    flag: str, text: str | None, std_flag: str, std_text: str | None, default: str
) -> np.ndarray:
    """The variances from --sigma-X2 or squared --sigma-X; ``default`` only if both are omitted."""
    if std_text is not None:
        with np.errstate(over="ignore"):
            values = parse_range(std_flag, std_text) ** 2
        if not np.all(np.isfinite(values)):
            raise ValueError(f"{std_flag}: squared value overflows float64, got {std_text!r}")
        return values
    # `is None`, not falsiness: an explicit empty value is an error, not a request for the default.
    return parse_range(flag, default if text is None else text)


def _grids(args) -> tuple[np.ndarray, np.ndarray, str]:
    w = _variance("--sigma-w2", args.sigma_w2, "--sigma-w", args.sigma_w, "1.0:4.0:31")
    b = _variance("--sigma-b2", args.sigma_b2, "--sigma-b", args.sigma_b, "0.05")
    note = []
    if args.sigma_w is not None:
        note.append("sigma_w2 = sigma_w**2")
    if args.sigma_b is not None:
        note.append("sigma_b2 = sigma_b**2")
    return w, b, "; ".join(note)


def _check_numerics(args: argparse.Namespace) -> None:
    """--q0 and --nodes checked here so the message names the flag and shows plain numbers."""
    if not (math.isfinite(args.q0) and args.q0 > 0):
        raise ValueError(f"--q0 must be finite and > 0, got {args.q0}")
    from initjax.theory._common import make_rule

    try:
        make_rule(nodes=args.nodes)  # the library owns the allowed range
    except ValueError as err:
        msg = str(err)
        raise ValueError(f"--{msg}" if msg.startswith("nodes ") else f"--nodes: {msg}") from None


def _check_plot(path: str, w: np.ndarray, b: np.ndarray) -> None:
    """Everything --plot can be refused for, checked before the (possibly long) computation."""
    # pcolormesh + the chi_1 = 1 contour need a 2-D grid.
    if len(w) < 2 or len(b) < 2:
        raise ValueError(
            "--plot needs ranges (start:stop:num, num >= 2) for both sigma_w2 and sigma_b2"
        )
    from matplotlib.backend_bases import FigureCanvasBase

    formats = sorted(FigureCanvasBase.get_supported_filetypes())
    ext = os.path.splitext(path)[1].lstrip(".").lower()
    if ext not in formats:
        # No extension: matplotlib would append ".png" and "# wrote" would name the wrong file.
        got = f"'.{ext}'" if ext else "no extension"
        raise ValueError(f"--plot: file extension must be one of {', '.join(formats)}; got {got}")
    if os.path.isdir(path):
        raise ValueError(f"--plot: {path} is a directory")
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise ValueError(f"--plot: directory {parent} does not exist")
    if not os.access(parent, os.W_OK) or (os.path.exists(path) and not os.access(path, os.W_OK)):
        raise ValueError(f"--plot: cannot write {path} (permission denied)")


def _in_scanned_range(c: float, w: np.ndarray) -> bool:
    """Is c within [min w, max w]? Bisection lands a rounding error off an end (tanh at
    sigma_b2 = 0 under x64: 0.9999999999999999 for 1), so allow 1e-6 relative slack."""
    if not np.isfinite(c):
        return False
    tol = 1e-6 * float(np.max(np.abs(w)))
    return float(w.min()) - tol <= c <= float(w.max()) + tol


def _fmt(x) -> str:
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return f"{x:.6g}"


def _print_table(cols: list[str], rows: list[list[str]], fmt: str) -> None:
    if fmt == "csv":
        print(",".join(cols))
        for r in rows:
            print(",".join(r))
        return
    widths = [max(len(c), *(len(r[i]) for r in rows)) for i, c in enumerate(cols)]
    print("  ".join(c.rjust(w) for c, w in zip(cols, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(v.rjust(w) for v, w in zip(r, widths, strict=True)))


def _published(act, sb: float) -> str:
    for (name, b), (value, source) in PUBLISHED_CRITICAL.items():
        if act.name == name and not act.params and abs(sb - b) < 1e-12:
            return f"{value:.6g} ({source})"
    return "-"


def _integrals(act, nodes: int) -> str:
    from initjax.theory import closed_forms

    cf = closed_forms.describe(act)["closed_form"]
    if cf:
        return f"closed form ({cf})"
    return f"Gauss-Legendre quadrature on q-dependent panels, {nodes} nodes/panel"


def _critical(theory, act, b, args) -> None:
    crit = np.asarray(theory.critical_sigma_w2(act, b, q0=args.q0, nodes=args.nodes))
    mf = theory.analyse(act, crit, b, q0=args.q0, nodes=args.nodes)
    rows = [
        [
            _fmt(sb),
            _fmt(sw),
            _fmt(math.sqrt(sw)) if sw >= 0 else "nan",
            _fmt(q),
            _published(act, sb),
        ]
        for sb, sw, q in zip(b, crit, np.asarray(mf.q_star), strict=True)
    ]
    cols = ["sigma_b2", "sigma_w2_crit", "sigma_w_crit", "q*", "published sigma_w2_crit"]
    if args.format == "table":
        print(f"# order-chaos boundary chi_1 = 1 for {act!r} (bisection on sigma_w2)")
        print(f"# integrals: {_integrals(act, args.nodes)}")
    _print_table(cols, rows, args.format)


def _grid_analysis(theory, act, w, b, args):
    """``theory.analyse`` on the cells of w x b, flattened in meshgrid "ij" order: (sw, sb, mf)."""
    sw, sb = np.meshgrid(w, b, indexing="ij")
    mf = theory.analyse(
        act, sw.ravel(), sb.ravel(), keep_prob=args.keep_prob, q0=args.q0, nodes=args.nodes
    )
    return sw, sb, mf


def _table(theory, act, w, b, args, note: str):
    """Print the table of the grid's analysis; returns the analysis (``_grid_analysis``)."""
    sw, sb, mf = analysed = _grid_analysis(theory, act, w, b, args)
    fields = [np.asarray(x) for x in (mf.q_star, mf.c_star, mf.chi_1, mf.xi_q, mf.xi_c)]
    conv = np.asarray(mf.converged)
    rows = [
        [
            _fmt(sw.ravel()[i]),
            _fmt(sb.ravel()[i]),
            *(_fmt(f[i]) for f in fields),
            str(bool(conv[i])),
        ]
        for i in range(sw.size)
    ]
    cols = ["sigma_w2", "sigma_b2", "q*", "c*", "chi_1", "xi_q", "xi_c", "converged"]
    if args.format == "table":
        drop = f", keep_prob = {args.keep_prob}" if args.keep_prob != 1.0 else ""
        print(f"# mean-field fixed points for {act!r}{drop}" + (f" ({note})" if note else ""))
        print(f"# integrals: {_integrals(act, args.nodes)}")
    _print_table(cols, rows, args.format)
    if args.format == "table" and args.keep_prob == 1.0:
        crit = np.asarray(theory.critical_sigma_w2(act, b, q0=args.q0, nodes=args.nodes))
        for sb1, c1 in zip(b, crit, strict=True):
            inside = _in_scanned_range(float(c1), w)
            where = "" if inside else " (outside the scanned sigma_w2 range)"
            print(
                f"# critical sigma_w2 at sigma_b2 = {_fmt(sb1)}: {_fmt(c1)}{where}; "
                f"published: {_published(act, float(sb1))}"
            )
    return analysed


def _plot(theory, act, w, b, args, path: str, analysed=None) -> None:
    """The xi_c heat map with the chi_1 = 1 line. ``analysed``: the table's analysis of the same
    grid (``_grid_analysis``), reused: table and plot cost one solve and one compiled program;
    None (--critical prints no table): the grid is analysed here, the same way."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    _, _, mf = analysed if analysed is not None else _grid_analysis(theory, act, w, b, args)
    xi = np.asarray(mf.xi_c, dtype=np.float64).reshape(len(w), len(b))
    chi = np.asarray(mf.chi_1, dtype=np.float64).reshape(len(w), len(b))
    with np.errstate(divide="ignore", invalid="ignore"):
        log_xi = np.where(np.isfinite(xi) & (xi > 0), np.log10(xi), np.nan)
    fig, ax = plt.subplots(figsize=(6.4, 4.8))
    # Cells at the boundary reach xi_c ~ 1e7: cap the colour scale so the rest stays readable.
    finite = log_xi[np.isfinite(log_xi)]
    vmax = float(np.percentile(finite, 99)) if finite.size else None
    mesh = ax.pcolormesh(w, b, log_xi.T, shading="nearest", cmap="viridis", vmax=vmax)
    fig.colorbar(mesh, ax=ax, label=r"$\log_{10} \xi_c$ (layers)")
    if args.keep_prob == 1.0:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ax.contour(w, b, chi.T, levels=[1.0], colors="red", linewidths=2)
        ax.plot([], [], color="red", lw=2, label=r"$\chi_1 = 1$")
        for mask, label in ((chi < 1, "ordered"), (chi > 1, "chaotic")):
            if mask.any():
                i, j = np.nonzero(mask)
                ax.text(
                    w[i].mean(),
                    b[j].mean(),
                    label,
                    color="white",
                    ha="center",
                    fontsize=12,
                    weight="bold",
                )
        ax.legend(loc="upper left")
    ax.set_xlabel(r"$\sigma_w^2$")
    ax.set_ylabel(r"$\sigma_b^2$")
    ax.set_title(f"{act!r}: order-chaos phase diagram")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"# wrote {path}")


def run(args: argparse.Namespace) -> int:
    if args.x64:
        import jax

        jax.config.update("jax_enable_x64", True)
    from initjax import activations, theory

    act = activations.get(args.activation, **_params(args.param))
    if not 0 < args.keep_prob <= 1:
        raise ValueError(f"--keep-prob must lie in (0, 1], got {args.keep_prob}")
    _check_numerics(args)
    w, b, note = _grids(args)
    if args.critical and args.keep_prob != 1.0:
        raise ValueError("--critical: dropout (keep_prob < 1) has no critical point")
    if args.plot is not None:
        _check_plot(args.plot, w, b)
    analysed = None
    if args.critical:
        _critical(theory, act, b, args)
    else:
        analysed = _table(theory, act, w, b, args, note)
    if args.plot is not None:
        _plot(theory, act, w, b, args, args.plot, analysed)
    return 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "theory",
        help="mean-field theory: q*, c*, chi_1, depth scales, critical line, phase diagram",
        description=__doc__.replace("``", ""),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--activation", default="tanh", help="activation name (default: tanh)")
    p.add_argument(
        "--param",
        action="append",
        metavar="NAME=VALUE",
        help="activation parameter, e.g. negative_slope=0.2 (repeatable)",
    )
    w = p.add_mutually_exclusive_group()
    w.add_argument("--sigma-w2", help="weight variance(s) (default 1.0:4.0:31)")
    w.add_argument("--sigma-w", help="weight standard deviation(s) (Poole et al.); squared")
    b = p.add_mutually_exclusive_group()
    b.add_argument("--sigma-b2", help="bias variance(s) (default 0.05)")
    b.add_argument("--sigma-b", help="bias standard deviation(s) (Poole et al.); squared")
    p.add_argument(
        "--critical",
        action="store_true",
        help="print the critical sigma_w2 (chi_1 = 1) for each sigma_b2",
    )
    p.add_argument("--keep-prob", type=float, default=1.0, help="dropout keep probability")
    p.add_argument("--q0", type=float, default=1.0, help="start of the q* iteration")
    p.add_argument(
        "--nodes",
        type=int,
        default=DEFAULT_NODES,
        help=f"Gauss-Legendre nodes per quadrature panel (default {DEFAULT_NODES})",
    )
    p.add_argument("--x64", action="store_true", help="compute in float64")
    p.add_argument("--plot", metavar="FILE.png", help="draw the phase diagram to FILE.png")
    p.add_argument("--format", choices=("table", "csv"), default="table")
    p.set_defaults(func=run)

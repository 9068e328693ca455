"""The built-in parametrizations: SP, NTK, muP, depth-muP and CompleteP (the data of the tables).

Notation (``initjax.parametrizations``): multipliers of the standard parametrization at the same
shape, as powers of m_in = fan_in / base fan_in, m_out = fan_out / base fan_out and
m_L = depth / base depth. Every entry is SP at the base shape.

- ``sp``: He / Glorot-style init Var = sigma_w2 / fan_in, one global learning rate.
- ``ntk``: W = w / sqrt(fan_in) with w ~ N(0, sigma_w2) (Jacot et al. 2018, eq. 1), written
  relative to the base: init Var x m_in, multiplier m_in^-1/2; the abc-parametrization with
  c = 0 (Yang & Hu 2021, §3). It is defined for SGD; the Adam column uses the same c = 0.
- ``mup``: Tensor Programs V (Yang et al. 2022, arXiv:2203.03466), Table 8, the form the
  ``mup`` package implements (MuReadout's 1/width_mult output multiplier, MuSGD, MuAdam):
  input weights and all biases: SGD lr x m_out; hidden weights: Adam lr x m_in^-1 (SGD:
  m_out / m_in, 1 on square layers); readout: init Var x m_in, multiplier m_in^-1, SGD lr x m_in.
  Table 3's form (readout init Var x m_in^-1, multiplier 1, lr x m_in^-1) computes the same
  function at every step (tests/parametrizations hold this). Adam's epsilon follows the gradient,
  which is O(1/width) for every parameter but the readout bias under muP (Everett et al. 2024,
  arXiv:2407.05872; Dey et al. 2025, Table 1: eps x m_N^-1); the ``mup`` package leaves epsilon
  fixed (with eps = 1e-8 the two differ only when gradient entries approach 1e-8).
- ``depth_mup``: muP plus residual branches multiplied by m_L^-1/2 (Yang et al. 2023, "Tensor
  Programs VI", arXiv:2310.02244; Bordelon et al. 2023, arXiv:2309.16620); Adam lr of every
  parameter inside a branch x m_L^-1/2, SGD lr unchanged (Bordelon et al.), epsilon x m_L^-1/2.
- ``completep``: muP plus branches x m_L^-1 (Dey et al. 2025, "Don't be lazy: CompleteP",
  arXiv:2505.01618, Table 1, alpha = 1): Adam lr inside branches x m_L^(alpha - 1) = 1, epsilon
  x m_L^-1. The SGD column is derived, not from the paper: a branch weight's gradient carries the
  branch multiplier m_L^-alpha, so SGD needs lr x m_L^(2 alpha - 1) (= m_L for alpha = 1) for the
  per-block update Adam gets with m_L^(alpha - 1).

Attention logits: q.k / sqrt(d_head) under SP and NTK, q.k / d_head under the muP family
(Yang et al. 2022: after training, queries and keys are correlated, so their dot product grows
like d_head rather than sqrt(d_head)).
"""

from __future__ import annotations

from initjax.parametrizations._table import Parametrization, Rule, Scaling, register

__all__ = ["SP", "NTK", "MUP", "DEPTH_MUP", "COMPLETEP", "depth_rules"]

_SP_SRC = "standard parametrization (He et al. 2015, eq. 10; one global learning rate)"

SP = register(
    Parametrization(
        name="sp",
        title="standard parametrization: Var = sigma_w2 / fan_in, one learning rate",
        rules=tuple(
            (c, Rule(source=_SP_SRC)) for c in ("input", "hidden", "readout", "vector", "scalar")
        ),
        references=("He, Zhang, Ren, Sun 2015 (arXiv:1502.01852)",),
    ),
    aliases=("standard",),
)

_NTK_W = Rule(
    init_var=Scaling(fan_in=1.0),
    multiplier=Scaling(fan_in=-0.5),
    source="Jacot et al. 2018 (arXiv:1806.07572) eq. 1; Yang & Hu 2021 (arXiv:2011.14522) §3",
)
NTK = register(
    Parametrization(
        name="ntk",
        title="neural tangent parametrization: W = w / sqrt(fan_in), w ~ N(0, sigma_w2)",
        rules=(
            ("input", _NTK_W),
            ("hidden", _NTK_W),
            ("readout", _NTK_W),
            ("vector", Rule(source="Jacot et al. 2018: biases N(0, sigma_b2), multiplier 1")),
            ("scalar", Rule()),
        ),
        references=(
            "Jacot, Gabriel, Hongler 2018 (arXiv:1806.07572)",
            "Yang & Hu 2021, Tensor Programs IV (arXiv:2011.14522)",
        ),
        notes=("Defined for SGD; under Adam the same abc-parametrization (c = 0) is used.",),
    ),
)

_TP5 = "Yang et al. 2022, TP5 (arXiv:2203.03466) Table 8; mup MuReadout/MuSGD/MuAdam"
_EPS = "eps like the gradient (Everett et al. 2024; Dey et al. 2025 Table 1)"
_MUP_RULES = (
    (
        "input",
        Rule(
            lr_sgd=Scaling(fan_out=1.0),
            eps=Scaling(fan_out=-1.0),
            source=f"{_TP5}; {_EPS}",
        ),
    ),
    (
        "hidden",
        Rule(
            lr_sgd=Scaling(fan_in=-1.0, fan_out=1.0),
            lr_adam=Scaling(fan_in=-1.0),
            eps=Scaling(fan_out=-1.0),
            source=f"{_TP5}; {_EPS}",
        ),
    ),
    (
        "readout",
        Rule(
            init_var=Scaling(fan_in=1.0),
            multiplier=Scaling(fan_in=-1.0),
            lr_sgd=Scaling(fan_in=1.0),
            eps=Scaling(fan_in=-1.0),
            source=f"{_TP5}; {_EPS}",
        ),
    ),
    (
        "vector",
        Rule(
            lr_sgd=Scaling(fan_out=1.0),
            eps=Scaling(fan_out=-1.0),
            source=f"{_TP5} (all biases, vector-like); {_EPS}",
        ),
    ),
    ("scalar", Rule(source="no width dimension: unchanged (mup: finite parameters)")),
)
_MUP_REFS = (
    "Yang & Hu 2021, Tensor Programs IV (arXiv:2011.14522)",
    "Yang et al. 2022, Tensor Programs V (arXiv:2203.03466)",
)

MUP = register(
    Parametrization(
        name="mup",
        title="maximal update parametrization (width)",
        rules=_MUP_RULES,
        attention_logits="inv_dhead",
        references=_MUP_REFS,
        notes=("The mup package keeps Adam's epsilon fixed; here it scales like the gradient.",),
    ),
    aliases=("mu_p", "maximal_update"),
)


def depth_rules(alpha: float, source: str) -> tuple[Rule, Rule]:
    """``(branch, branch_output)`` rules of a residual branch multiplier m_L^-alpha.

    Inside a branch: SGD lr x m_L^(2 alpha - 1), Adam lr x m_L^(alpha - 1), Adam eps x
    m_L^-alpha (the gradient carries the multiplier); writing into the residual stream: forward
    multiplier m_L^-alpha. ``alpha`` in [1/2, 1] (Dey et al. 2025, §3).
    """
    branch = Rule(
        lr_sgd=Scaling(depth=2 * alpha - 1),
        lr_adam=Scaling(depth=alpha - 1),
        eps=Scaling(depth=-alpha),
        source=source,
    )
    out = Rule(multiplier=Scaling(depth=-alpha), source=source)
    return branch, out


_B_HALF, _O_HALF = depth_rules(
    0.5, "Yang et al. 2023 TP6 (arXiv:2310.02244); Bordelon et al. 2023 (arXiv:2309.16620)"
)
DEPTH_MUP = register(
    Parametrization(
        name="depth_mup",
        title="depth-muP: muP with residual branches x m_L^-1/2",
        rules=_MUP_RULES,
        branch=_B_HALF,
        branch_output=_O_HALF,
        attention_logits="inv_dhead",
        references=(
            *_MUP_REFS,
            "Yang, Yu, Zhu, Hayou 2023, Tensor Programs VI (arXiv:2310.02244)",
            "Bordelon, Noci, Li, Hanin, Pehlevan 2023 (arXiv:2309.16620)",
        ),
    ),
    aliases=("depthmup",),
)

_B_ONE, _O_ONE = depth_rules(
    1.0, "Dey et al. 2025 (arXiv:2505.01618) Table 1 (alpha = 1); SGD lr derived"
)
COMPLETEP = register(
    Parametrization(
        name="completep",
        title="CompleteP: muP with residual branches x m_L^-1",
        rules=_MUP_RULES,
        branch=_B_ONE,
        branch_output=_O_ONE,
        attention_logits="inv_dhead",
        references=(
            *_MUP_REFS,
            "Dey et al. 2025, Don't be lazy: CompleteP (arXiv:2505.01618)",
        ),
        notes=("SGD lr inside branches x m_L^(2 alpha - 1): derived, not from the paper.",),
    ),
    aliases=("complete_p",),
)

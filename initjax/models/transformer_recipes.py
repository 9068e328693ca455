"""Named Transformer init recipes: per-role initializers of well-known models, with sources.

A recipe gives, for each weight role of :class:`initjax.models.Transformer` (``ROLES``), an
initializer from the registry, a fixed multiplier (e.g. GPT-2's 1/sqrt(2L)) and a bias
initializer (None: N(0, sigma_b2), i.e. zeros at the default sigma_b2 = 0), plus the model's
default norm placement, LayerNorm epsilon, skip scale and MLP activation. Here L = depth (number
of blocks), d = width, f = mlp_width. Var[.] below is the per-element variance each role's draw
has (``initjax.initializers`` promises; tests check every recipe against these formulas).

=========  =========================================================================================
flax       Flax Linen defaults (flax 0.12: ``nn.Dense``, ``nn.DenseGeneral`` inside
           ``nn.MultiHeadDotProductAttention``, which flattens (d, heads, d_head) kernels to (d, d)
           before calling the initializer, and ``nn.Embed``): every kernel lecun_normal,
           Var = 1/fan_in (truncated normal, corrected); biases 0; embedding and position tables
           N(0, 1/d) (``nn.Embed``'s variance_scaling(1, fan_in, normal, out_axis=0)); pre-LN,
           eps 1e-6. See github.com/google/flax/issues/4027 (post-LN).
torch      PyTorch ``nn.TransformerEncoderLayer`` defaults (post-LN, eps 1e-5, ReLU):
           ``nn.MultiheadAttention`` draws the packed (3d, d) in-projection with xavier_uniform_,
           so q, k, v have Var = 2/(d + 3d) = 1/(2d) (uniform), biases 0; out_proj keeps
           ``nn.Linear``'s kaiming_uniform(a=sqrt(5)): Var = 1/(3 fan_in), bias 0 (set by
           ``_reset_parameters``); linear1 / linear2 and the classifier ``nn.Linear`` defaults:
           Var = 1/(3 fan_in), bias U(+-1/sqrt(fan_in)) (Var = 1/(3 fan_in)); ``nn.Embedding``
           N(0, 1) for tokens and positions.
gpt2       GPT-2 (Radford et al. 2019; Hugging Face ``GPT2PreTrainedModel._init_weights``):
           every kernel and table N(0, 0.02^2); the residual output projections ("c_proj": out
           and mlp_out) N(0, 0.02^2 / (2L)); biases 0; pre-LN with a final LayerNorm, eps 1e-5;
           GELU. (OpenAI's TF code drew positions with std 0.01; we follow Hugging Face.)
bert       BERT (Devlin et al. 2019; google-research/bert ``modeling.py``,
           ``create_initializer``): every kernel and table tf.truncated_normal(stddev=0.02),
           truncated at +-2 std without correcting the std: Var = 0.02^2 * 0.7737; biases 0;
           post-LN, eps 1e-12; GELU.
vit        ViT (Dosovitskiy et al. 2021; google-research/vision_transformer ``models_vit.py``):
           q, k, v, out xavier_uniform on the flattened (d, d) kernels, Var = 1/d, biases 0;
           MLP kernels xavier_uniform, Var = 2/(d + f), MLP biases N(0, 1e-12) (stddev 1e-6);
           patch embedding lecun_normal (Flax ``nn.Conv`` default), bias 0; positions
           N(0, 0.02^2); head zero-initialised (``head_zeroinit``); pre-LN, eps 1e-6; GELU. Token
           tables (not part of ViT) N(0, 0.02^2) like its positions.
tfixup     T-Fixup (Huang, Perez, Ba, Volkovs 2020, ICML, §3.3; layer6ai-labs/T-Fixup):
           no LayerNorm; every kernel xavier_uniform (gain 1); value, out, mlp_in, mlp_out
           further scaled by 0.67 L^(-1/4); token embeddings N(0, 1) scaled by (9L)^(-1/4),
           Var = (9L)^(-1/2): the paper's N(0, 1/d) table times the sqrt(d) by which its
           fairseq Transformer multiplies embeddings in the forward pass (``embed_scale``,
           Vaswani et al. 2017, §3.4), folded into the draw because this model has no
           embedding multiplier (the stream the blocks see is the reference code's); the patch
           kernel xavier_uniform times (9L)^(-1/4); learned positions N(0, 1/d) (fairseq's
           learned positions, not multiplied by embed_scale); readout N(0, 1/d) (fairseq's
           output embedding); biases 0; ReLU (fairseq default).
deepnorm   DeepNorm (Wang et al. 2022, arXiv:2203.00555, Fig. 2 pseudocode and Table 1, encoder-
           or decoder-only with L blocks): post-LN with the skip path scaled by alpha = (2L)^(1/4);
           q, k xavier_normal (gain 1), Var = 2/(2d) = 1/d; value, out, mlp_in, mlp_out
           xavier_normal times beta = (8L)^(-1/4); tables and readout N(0, 1/d) (fairseq /
           torchscale embeddings); patch xavier_normal; biases 0; eps 1e-5; GELU.
=========  =========================================================================================
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

from initjax import initializers as I
from initjax._registry import Registry
from initjax.models.transformer import ROLES, RoleInit

__all__ = ["Recipe", "get", "names", "register"]


@dataclasses.dataclass(frozen=True)
class Recipe:
    """A named init recipe.

    Attributes:
      name: registry name.
      description: one line.
      reference: paper and code the recipe follows.
      norm: default norm placement ("pre" | "post" | "none").
      norm_eps: LayerNorm epsilon.
      activation: default MLP activation (registered name).
      build: ``build(depth, width, mlp_width) -> {role: RoleInit}`` for every role in ROLES.
      skip: ``skip(depth) -> float``, the default skip-path multiplier.
      formulas: role -> the per-element variance in words (documentation and listings).
    """

    name: str
    description: str
    reference: str
    norm: str
    norm_eps: float
    activation: str
    build: Callable[[int, int, int], dict[str, RoleInit]]
    skip: Callable[[int], float] = lambda depth: 1.0
    formulas: tuple[tuple[str, str], ...] = ()

    def role_inits(self, *, depth: int, width: int, mlp_width: int) -> dict[str, RoleInit]:
        """Every role's :class:`RoleInit` for a model of this size."""
        out = self.build(depth, width, mlp_width)
        missing = set(ROLES) - set(out)
        if missing:  # pragma: no cover - a recipe definition error
            raise ValueError(f"recipe {self.name!r} misses roles {sorted(missing)}")
        return out

    def skip_scale(self, depth: int) -> float:
        return float(self.skip(depth))


_REGISTRY: Registry[Recipe] = Registry(
    "Transformer recipe",
    normalize=lambda n: n.strip().lower(),
    hint="initjax.models.transformer_recipes.names() lists them.",
)


def register(recipe: Recipe, *, replace: bool = False) -> Recipe:
    """Add a recipe under ``recipe.name`` (ValueError if the name is taken, unless replace)."""
    return _REGISTRY.register(recipe.name, recipe, replace=replace)


def names() -> list[str]:
    """Registered recipe names, sorted."""
    return _REGISTRY.names()


def get(name: str) -> Recipe:
    """The recipe named ``name`` (case-insensitive).

    Raises:
      ValueError: unknown name (with close names and the full list).
      TypeError: ``name`` is not a string.
    """
    return _REGISTRY.get(name)


def _all(default: RoleInit, **over: RoleInit) -> dict[str, RoleInit]:
    out = {r: default for r in ROLES}
    out.update(over)
    return out


# -- flax ---------------------------------------------------------------------------------------


def _flax(depth: int, width: int, mlp_width: int) -> dict[str, RoleInit]:
    table = RoleInit(I.get("normal", stddev=width**-0.5))
    return _all(RoleInit(I.get("lecun_normal")), embed=table, pos=table)


register(
    Recipe(
        name="flax",
        description="Flax Linen defaults: lecun_normal kernels, N(0, 1/d) embeddings, pre-LN",
        reference="flax.linen Dense / DenseGeneral / MultiHeadDotProductAttention / Embed "
        "defaults (flax 0.12); github.com/google/flax/issues/4027",
        norm="pre",
        norm_eps=1e-6,
        activation="gelu",
        build=_flax,
        formulas=(("dense kernels", "1/fan_in"), ("embed, pos", "1/d")),
    )
)


# -- torch --------------------------------------------------------------------------------------


def _torch(depth: int, width: int, mlp_width: int) -> dict[str, RoleInit]:
    lin = I.get("torch_default_linear")
    linear = RoleInit(lin, torch_bias=True)

    # xavier_uniform_ on the packed (3d, d) in_proj_weight: bound sqrt(6 / (d + 3d)), the same
    # distribution as variance_scaling(0.5, fan_in, uniform) on each (d, d) block.
    in_proj = RoleInit(I.get("variance_scaling", scale=0.5, mode="fan_in", distribution="uniform"))
    table = RoleInit(I.get("normal", stddev=1.0))
    return {
        "embed": table,
        "pos": table,
        "patch": linear,
        "query": in_proj,
        "key": in_proj,
        "value": in_proj,
        "out": RoleInit(lin),
        "mlp_in": linear,
        "mlp_out": linear,
        "readout": linear,
    }


register(
    Recipe(
        name="torch",
        description="PyTorch nn.TransformerEncoderLayer defaults (xavier_uniform packed "
        "in-projection, nn.Linear elsewhere), post-LN, ReLU",
        reference="torch.nn.MultiheadAttention._reset_parameters, torch.nn.Linear."
        "reset_parameters, torch.nn.TransformerEncoderLayer (PyTorch 2.x)",
        norm="post",
        norm_eps=1e-5,
        activation="relu",
        build=_torch,
        formulas=(
            ("query, key, value", "1/(2d) (uniform)"),
            ("out", "1/(3d)"),
            ("mlp_in, mlp_out, readout, patch", "1/(3 fan_in); bias 1/(3 fan_in)"),
            ("embed, pos", "1"),
        ),
    )
)


# -- gpt2 ---------------------------------------------------------------------------------------


def _gpt2(depth: int, width: int, mlp_width: int) -> dict[str, RoleInit]:
    n = I.get("normal", stddev=0.02)
    proj = RoleInit(n, multiplier=1.0 / math.sqrt(2.0 * depth))
    return _all(RoleInit(n), out=proj, mlp_out=proj)


register(
    Recipe(
        name="gpt2",
        description="GPT-2: N(0, 0.02^2) everywhere, residual output projections / sqrt(2L), "
        "pre-LN",
        reference="Radford et al. 2019, 'Language Models are Unsupervised Multitask Learners' "
        "(§2.3); Hugging Face transformers GPT2PreTrainedModel._init_weights",
        norm="pre",
        norm_eps=1e-5,
        activation="gelu",
        build=_gpt2,
        formulas=(("all", "0.02^2"), ("out, mlp_out", "0.02^2 / (2L)")),
    )
)


# -- bert ---------------------------------------------------------------------------------------


def _bert(depth: int, width: int, mlp_width: int) -> dict[str, RoleInit]:
    return _all(RoleInit(I.get("truncated_normal", stddev=0.02, lower=-2.0, upper=2.0)))


register(
    Recipe(
        name="bert",
        description="BERT: truncated normal (std 0.02, +-2 std, uncorrected) everywhere, post-LN",
        reference="Devlin et al. 2019, arXiv:1810.04805; google-research/bert modeling.py "
        "create_initializer (tf.truncated_normal_initializer(stddev=0.02))",
        norm="post",
        norm_eps=1e-12,
        activation="gelu",
        build=_bert,
        formulas=(("all", "0.02^2 * Var[N(0,1) | |z| < 2] = 0.02^2 * 0.7737"),),
    )
)


# -- vit ----------------------------------------------------------------------------------------


def _vit(depth: int, width: int, mlp_width: int) -> dict[str, RoleInit]:
    xu = I.get("glorot_uniform")
    mlp = RoleInit(xu, bias_init=I.get("normal", stddev=1e-6))
    small = RoleInit(I.get("normal", stddev=0.02))
    return _all(
        RoleInit(xu),
        mlp_in=mlp,
        mlp_out=mlp,
        patch=RoleInit(I.get("lecun_normal")),
        pos=small,
        embed=small,
        readout=RoleInit(I.get("zeros")),
    )


register(
    Recipe(
        name="vit",
        description="ViT: xavier_uniform kernels, MLP biases N(0, 1e-12), zero head, pre-LN",
        reference="Dosovitskiy et al. 2021, arXiv:2010.11929; google-research/"
        "vision_transformer models_vit.py (Encoder1DBlock, MlpBlock, head_zeroinit)",
        norm="pre",
        norm_eps=1e-6,
        activation="gelu",
        build=_vit,
        formulas=(
            ("query, key, value, out", "1/d"),
            ("mlp_in, mlp_out", "2/(d + f); bias 1e-12"),
            ("patch", "1/fan_in"),
            ("pos, embed", "0.02^2"),
            ("readout", "0"),
        ),
    )
)


# -- tfixup -------------------------------------------------------------------------------------


def _tfixup(depth: int, width: int, mlp_width: int) -> dict[str, RoleInit]:
    xu = I.get("glorot_uniform")
    block = 0.67 * depth ** (-0.25)
    emb = (9.0 * depth) ** (-0.25)
    table = I.get("normal", stddev=width**-0.5)
    # Token table: N(0, 1/d) times fairseq's forward embed_scale sqrt(d) = N(0, 1).
    return _all(
        RoleInit(xu),
        value=RoleInit(xu, block),
        out=RoleInit(xu, block),
        mlp_in=RoleInit(xu, block),
        mlp_out=RoleInit(xu, block),
        embed=RoleInit(I.get("normal", stddev=1.0), emb),
        patch=RoleInit(xu, emb),
        pos=RoleInit(table),
        readout=RoleInit(table),
    )


register(
    Recipe(
        name="tfixup",
        description="T-Fixup: no LayerNorm, xavier_uniform, v/out/MLP x 0.67 L^(-1/4), "
        "token embeddings N(0, 1) x (9L)^(-1/4)",
        reference="Huang, Perez, Ba, Volkovs 2020, 'Improving Transformer Optimization Through "
        "Better Initialization', ICML, §3.3; layer6ai-labs/T-Fixup",
        norm="none",
        norm_eps=1e-5,
        activation="relu",
        build=_tfixup,
        formulas=(
            ("query, key", "2/(2d) = 1/d"),
            ("value, out", "0.67^2 L^(-1/2) / d"),
            ("mlp_in, mlp_out", "0.67^2 L^(-1/2) * 2/(d + f)"),
            ("embed", "(9L)^(-1/2) (N(0, 1/d) x fairseq's embed_scale sqrt(d))"),
            ("pos, readout", "1/d"),
        ),
    )
)


# -- deepnorm -----------------------------------------------------------------------------------


def _deepnorm(depth: int, width: int, mlp_width: int) -> dict[str, RoleInit]:
    xn = I.get("torch_xavier_normal", gain=1.0)
    beta = (8.0 * depth) ** (-0.25)
    table = RoleInit(I.get("normal", stddev=width**-0.5))
    return _all(
        RoleInit(xn),
        value=RoleInit(xn, beta),
        out=RoleInit(xn, beta),
        mlp_in=RoleInit(xn, beta),
        mlp_out=RoleInit(xn, beta),
        embed=table,
        pos=table,
        readout=table,
    )


register(
    Recipe(
        name="deepnorm",
        description="DeepNorm: post-LN with skip x (2L)^(1/4); v/out/MLP xavier_normal x "
        "(8L)^(-1/4)",
        reference="Wang et al. 2022, 'DeepNet: Scaling Transformers to 1,000 Layers', "
        "arXiv:2203.00555, Fig. 2 and Table 1 (encoder-only / decoder-only)",
        norm="post",
        norm_eps=1e-5,
        activation="gelu",
        build=_deepnorm,
        skip=lambda depth: (2.0 * depth) ** 0.25,
        formulas=(
            ("query, key", "1/d"),
            ("value, out", "(8L)^(-1/2) / d"),
            ("mlp_in, mlp_out", "(8L)^(-1/2) * 2/(d + f)"),
            ("embed, pos, readout", "1/d"),
        ),
    )
)

"""Mean-field signal-propagation theory in pure ``jax.numpy`` (Poole et al. 2016; Schoenholz et
al. 2017; Pennington et al. 2017).

Standard parameterization W ~ N(0, sigma_w2 / fan_in), b ~ N(0, sigma_b2); sigma_w2 and sigma_b2
are variances. Every function takes the activation by name, :class:`~initjax.activations.Activation`
or callable, broadcasts over its scalar/array arguments, and is ``jit``- and ``vmap``-able in them
(float32 by default, float64 under x64). Concrete arguments are validated eagerly (ValueError).

Gaussian integrals use Gauss–Legendre quadrature on q-dependent panels (:mod:`.quadrature`:
within 1e-7 in float64 for 1e-4 <= q <= 1e4), or the closed forms
of :mod:`.closed_forms` (linear, relu, leaky_relu, erf, sin) automatically.

Results: scalar quantities come back as arrays; solvers return named tuples of arrays (pytrees)
with convergence flags: :class:`FixedPoint` (value, converged, iterations),
:class:`DepthScales` (xi_q, xi_c), :class:`MeanField` (everything at once),
:class:`PhaseDiagram`, :class:`JacobianMoments`.
"""

from initjax.theory.closed_forms import ClosedForm, register_closed_form
from initjax.theory.compare import compare, trajectories
from initjax.theory.critical import critical_point, critical_sigma_w2
from initjax.theory.depth_scales import (
    DepthScales,
    MeanField,
    analyse,
    chi_1,
    chi_c,
    depth_scales,
)
from initjax.theory.fixed_points import FixedPoint, c_star, q_star
from initjax.theory.jacobian import JacobianMoments, jacobian_spectrum_moments
from initjax.theory.maps import c_map, c_map_slope, q_map
from initjax.theory.phase_diagram import PhaseDiagram, phase_diagram

__all__ = [
    "q_map",
    "c_map",
    "c_map_slope",
    "q_star",
    "c_star",
    "FixedPoint",
    "chi_1",
    "chi_c",
    "depth_scales",
    "DepthScales",
    "analyse",
    "MeanField",
    "critical_sigma_w2",
    "critical_point",
    "phase_diagram",
    "PhaseDiagram",
    "jacobian_spectrum_moments",
    "JacobianMoments",
    "compare",
    "trajectories",
    "ClosedForm",
    "register_closed_form",
]

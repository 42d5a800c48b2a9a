"""The Python API: ``hbm.fit``, ``hbm.load`` and the ``Fit`` they return.

``Fit`` (:mod:`hbm.api.facade`) is a thin façade over a :class:`hbm.results.fit_result.FitResult`;
the functions (:mod:`hbm.api.functions`) run the workflow and wrap its result. Nothing below this
package imports it.
"""

from hbm.api.facade import Fit
from hbm.api.functions import fit, fit_grouped, fit_spec, load

__all__ = ["Fit", "fit", "fit_grouped", "fit_spec", "load"]

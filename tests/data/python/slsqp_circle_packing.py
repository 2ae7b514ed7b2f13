# Circle packing by SLSQP: maximise the sum of radii of n circles in the unit
# square, from the parent packing, with exact Jacobians; then shrink the radii
# just enough that the packing is valid in exact arithmetic.
import numpy as np
from scipy.optimize import minimize


def solve(parent, x):
    n = len(parent) // 3
    i, j = np.triu_indices(n, 1)

    def objective(z):
        return -z[2::3].sum()

    def objective_grad(z):
        g = np.zeros_like(z)
        g[2::3] = -1.0
        return g

    def walls(z):
        cx, cy, r = z[0::3], z[1::3], z[2::3]
        return np.concatenate([cx - r, 1 - cx - r, cy - r, 1 - cy - r])

    def walls_jac(z):
        jac = np.zeros((4 * n, 3 * n))
        k = np.arange(n)
        for block, (sx, sy) in enumerate([(1, 0), (-1, 0), (0, 1), (0, -1)]):
            rows = block * n + k
            jac[rows, 3 * k] = sx
            jac[rows, 3 * k + 1] = sy
            jac[rows, 3 * k + 2] = -1
        return jac

    def gaps(z):
        cx, cy, r = z[0::3], z[1::3], z[2::3]
        dx, dy = cx[i] - cx[j], cy[i] - cy[j]
        return dx * dx + dy * dy - (r[i] + r[j]) ** 2

    def gaps_jac(z):
        cx, cy, r = z[0::3], z[1::3], z[2::3]
        dx, dy, s = cx[i] - cx[j], cy[i] - cy[j], r[i] + r[j]
        jac = np.zeros((len(i), 3 * n))
        rows = np.arange(len(i))
        jac[rows, 3 * i], jac[rows, 3 * j] = 2 * dx, -2 * dx
        jac[rows, 3 * i + 1], jac[rows, 3 * j + 1] = 2 * dy, -2 * dy
        jac[rows, 3 * i + 2] = jac[rows, 3 * j + 2] = -2 * s
        return jac

    result = minimize(
        objective, np.asarray(x, dtype=float), jac=objective_grad, method="SLSQP",
        constraints=[{"type": "ineq", "fun": walls, "jac": walls_jac},
                     {"type": "ineq", "fun": gaps, "jac": gaps_jac}],
        bounds=[(0, 1), (0, 1), (0, 0.5)] * n,
        options={"maxiter": 300, "ftol": 1e-12},
    )
    z = result.x.copy()
    cx, cy, r = z[0::3], z[1::3], z[2::3]
    # Make it valid with room to spare for rounding: shrink to the walls, then
    # scale overlapping pairs down.
    r = np.maximum(np.minimum.reduce([r, cx, 1 - cx, cy, 1 - cy]) - 1e-12, 0)
    for _ in range(10):
        d = np.hypot(cx[i] - cx[j], cy[i] - cy[j])
        over = r[i] + r[j] - d
        if (over < -1e-12).all():
            break
        for a, b, o in zip(i[over >= -1e-12], j[over >= -1e-12], over[over >= -1e-12]):
            shrink = (o + 2e-12) / 2
            r[a], r[b] = max(r[a] - shrink, 0), max(r[b] - shrink, 0)
    print(f"SLSQP: {result.message}; {result.nit} iterations; sum of radii {r.sum():.6f}")
    return np.column_stack([cx, cy, r])

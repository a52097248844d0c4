"""pydeseq2 inference for ``~ donor + modality`` that uses the donor-block structure of the design.

The same DESeq2 model as the full fit (same likelihood, Cox-Reid adjusted dispersions, trend, MAP, Wald test);
only the linear algebra changes. The design is re-parametrised as one indicator per donor plus the dense
columns (modality): the same column space, so fitted means, dispersions and the modality coefficient are those
of ``~ donor + modality``. ``X'WX`` is then an arrowhead matrix (diagonal donor block + q dense columns), solved
by a Schur complement in O(samples) per gene instead of O(donors^3), vectorised over genes in fixed-size chunks
(results do not depend on the thread count). Dispersion MLEs are found by a bracketed root search of the
derivative (pydeseq2 uses per-gene L-BFGS-B), so dispersions agree to optimiser tolerance.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from pydeseq2.default_inference import DefaultInference
from pydeseq2.utils import irls_solver
from scipy.special import digamma, gammaln
from scipy.stats import norm

from pbfidelity.parallel import parallel_map

CHUNK = 1024
RIDGE = 1e-6


class DonorBlockInference(DefaultInference):
    """DefaultInference whose IRLS, dispersion MLE and Wald test exploit a one-indicator-per-group design."""

    def __init__(self, groups: np.ndarray, n_cpus: int = 1):
        super().__init__(n_cpus=n_cpus)
        self.groups = np.asarray(groups)
        self.k = int(self.groups.max()) + 1
        n = self.groups.size
        self.G = sp.csr_matrix((np.ones(n), (np.arange(n), self.groups)), shape=(n, self.k))
        self.Gt = self.G.T.tocsr()
        self._cache: dict = {}

    # -- structure ---------------------------------------------------------------------------------
    def _structure(self, X: np.ndarray):
        X = np.asarray(X, dtype=float)
        key = X.tobytes()
        if key in self._cache:
            return self._cache[key]
        out = None
        means = self.Gt @ X / np.asarray(self.Gt.sum(axis=1))  # per-group column means
        within = np.abs(X - self.G @ means).max(axis=0) > 1e-12
        Z = X[:, within]
        if Z.shape[1] + self.k == X.shape[1]:
            Xb = np.hstack([self.G.toarray(), Z])
            R, *_ = np.linalg.lstsq(Xb, X, rcond=None)  # X = Xb R  =>  beta_b = R beta_X
            if np.allclose(Xb @ R, X, atol=1e-8) and np.linalg.matrix_rank(R) == X.shape[1]:
                out = (Z, R, np.linalg.inv(R))
        self._cache[key] = out
        return out

    def _blocks(self, W: np.ndarray, Z: np.ndarray):
        a = self.Gt @ W + RIDGE  # k x g
        b = np.stack([self.Gt @ (W * Z[:, [j]]) for j in range(Z.shape[1])])  # q x k x g
        C = np.einsum("iq,ir,ig->gqr", Z, Z, W) + RIDGE * np.eye(Z.shape[1])
        S = C - np.einsum("qkg,rkg->gqr", b, b / a)
        return a, b, S

    def _solve(self, W, Z, rhs_vec):
        """Solve (Xb' W Xb) beta = Xb' rhs_vec (rhs_vec n x g) for every gene; beta (k+q) x g."""
        a, b, S = self._blocks(W, Z)
        rg = self.Gt @ rhs_vec
        rz = Z.T @ rhs_vec
        rs = rz - np.einsum("qkg,kg->qg", b, rg / a)
        bz = np.linalg.solve(S, rs.T[:, :, None])[:, :, 0].T  # q x g
        bg = (rg - np.einsum("qkg,qg->kg", b, bz)) / a
        return np.vstack([bg, bz]), (a, b, S)

    def _leverage(self, Z, a, b, S):
        """x_i' (Xb'WXb)^-1 x_i for every sample and gene (n x g)."""
        ga = a[self.groups]  # n x g
        u = Z.T[:, :, None] - b[:, self.groups, :] / ga[None]  # q x n x g
        Sinv = np.linalg.inv(S)  # g x q x q
        return 1.0 / ga + np.einsum("qng,gqr,rng->ng", u, Sinv, u)

    def _chunks(self, g: int, fn):
        starts = list(range(0, g, CHUNK))
        return parallel_map(lambda s: fn(s, min(s + CHUNK, g)), starts, self.n_cpus)

    # -- inference methods ---------------------------------------------------------------------------
    def lin_reg_mu(self, counts, size_factors, design_matrix, min_mu):  # noqa: D102
        beta, *_ = np.linalg.lstsq(design_matrix, counts / size_factors[:, None], rcond=None)
        return np.maximum(size_factors[:, None] * (design_matrix @ beta), min_mu)

    def irls(self, counts, size_factors, design_matrix, disp, min_mu, beta_tol, min_beta=-30, max_beta=30,
             optimizer="L-BFGS-B", maxiter=250):  # noqa: D102
        st = self._structure(design_matrix)
        if st is None:
            return super().irls(counts, size_factors, design_matrix, disp, min_mu, beta_tol, min_beta, max_beta,
                                optimizer, maxiter)
        Z, R, Rinv = st
        X = np.asarray(design_matrix, float)
        sf = np.asarray(size_factors, float)[:, None]

        def chunk(s, e):
            y = counts[:, s:e].astype(float)
            d = np.asarray(disp[s:e], float)
            beta, _ = self._solve(np.ones_like(y), Z, np.log(y / sf + 0.1))
            xb = np.hstack([self.G.toarray(), Z])
            mu = np.maximum(sf * np.exp(xb @ beta), min_mu)
            const = gammaln(y + 1 / d) - gammaln(y + 1) - gammaln(1 / d)
            n = y.shape[0]

            def dev_of(m, c):
                dc, yc = d[c], y[:, c]
                nll = n / dc * np.log(dc) + (-const[:, c] + (yc + 1 / dc) * np.log(1 / dc + m) - yc * np.log(m)).sum(0)
                return -2 * nll

            dev = np.full(e - s, 1000.0)
            active = np.ones(e - s, bool)
            bad = np.zeros(e - s, bool)
            it = 0
            while active.any():
                it += 1
                idx = np.flatnonzero(active)
                m = mu[:, idx]
                W = m / (1 + m * d[idx])
                z = np.log(m / sf) + (y[:, idx] - m) / m
                bh, _ = self._solve(W, Z, W * z)
                div = (np.abs(Rinv @ bh) > max_beta).any(0) | (it >= maxiter)
                bad[idx[div]] = True
                active[idx[div]] = False
                ok = idx[~div]
                beta[:, ok] = bh[:, ~div]
                mu[:, ok] = np.maximum(sf * np.exp(xb @ bh[:, ~div]), min_mu)
                new = dev_of(mu[:, ok], ok) if ok.size else np.empty(0)
                ratio = np.abs(new - dev[ok]) / (np.abs(new) + 0.1)
                dev[ok] = new
                active[ok[ratio <= beta_tol]] = False
            W = mu / (1 + mu * d)
            _, (a, b, S) = self._solve(W, Z, W)
            H = W * self._leverage(Z, a, b, S)
            betaX = Rinv @ beta
            mu_out = sf * np.exp(xb @ beta)
            conv = np.ones(e - s, bool)
            for j in np.flatnonzero(bad):  # diverging genes: pydeseq2's own per-gene solver (L-BFGS-B)
                bj, mj, hj, cj = irls_solver(y[:, j], sf[:, 0], X, d[j], min_mu, beta_tol, min_beta, max_beta,
                                             optimizer, maxiter)
                betaX[:, j], mu_out[:, j], H[:, j], conv[j] = bj, mj, hj, cj
            return betaX.T, mu_out, H, conv

        parts = self._chunks(counts.shape[1], chunk)
        return (np.vstack([p[0] for p in parts]), np.hstack([p[1] for p in parts]),
                np.hstack([p[2] for p in parts]), np.concatenate([p[3] for p in parts]))

    def alpha_mle(self, counts, design_matrix, mu, alpha_hat, min_disp, max_disp, prior_disp_var=None,
                  cr_reg=True, prior_reg=False, optimizer="L-BFGS-B"):  # noqa: D102
        st = self._structure(design_matrix)
        if st is None:
            return super().alpha_mle(counts, design_matrix, mu, alpha_hat, min_disp, max_disp, prior_disp_var,
                                     cr_reg, prior_reg, optimizer)
        Z = st[0]

        def chunk(s, e):
            y = counts[:, s:e].astype(float)
            m = np.asarray(mu[:, s:e], float)
            t_hat = np.log(np.asarray(alpha_hat[s:e], float))

            def grad(t):  # d loss / d log(alpha), as pydeseq2's dloss
                al = np.exp(t)
                inv = 1 / al
                dnb = -(inv**2) * (digamma(inv) * y.shape[0] - digamma(y + inv).sum(0)
                                   + np.log1p(m * al).sum(0) + ((y - m) / (m + inv)).sum(0))
                g = al * dnb
                if cr_reg:
                    W = m / (1 + m * al)
                    _, (a, b, S) = self._solve(W, Z, W)
                    lev = self._leverage(Z, a, b, S)
                    g = g + 0.5 * (-(W**2) * lev).sum(0) * al
                if prior_reg:
                    g = g + (t - t_hat) / prior_disp_var
                return g

            lo = np.full(e - s, np.log(min_disp))
            hi = np.full(e - s, np.log(max_disp))
            glo, ghi = grad(lo), grad(hi)
            t = np.where(glo >= 0, lo, hi)
            inner = (glo < 0) & (ghi > 0)
            # Illinois (modified regula falsi) on the derivative, bisection-safeguarded, for the inner genes
            lo, hi, glo, ghi = lo[inner], hi[inner], glo[inner], ghi[inner]
            cols = np.flatnonzero(inner)
            side = np.zeros(cols.size)
            y_all, m_all = y, m
            y, m = y_all[:, cols], m_all[:, cols]
            t_hat = t_hat[cols]
            for _ in range(60):
                if cols.size == 0 or np.all(hi - lo < 1e-8):
                    break
                x = (lo * ghi - hi * glo) / (ghi - glo)
                x = np.where(np.isfinite(x) & (x > lo) & (x < hi), x, 0.5 * (lo + hi))
                gx = grad(x)
                pos = gx > 0
                hi, ghi = np.where(pos, x, hi), np.where(pos, gx, ghi)
                lo, glo = np.where(pos, lo, x), np.where(pos, glo, gx)
                glo = np.where(pos & (side > 0), glo / 2, glo)
                ghi = np.where(~pos & (side < 0), ghi / 2, ghi)
                side = np.where(pos, 1.0, -1.0)
            t[cols] = 0.5 * (lo + hi)
            return np.exp(t), np.ones(e - s, bool)

        parts = self._chunks(counts.shape[1], chunk)
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def wald_test(self, design_matrix, disp, lfc, mu, ridge_factor, contrast, lfc_null, alt_hypothesis=None):  # noqa: D102
        st = self._structure(design_matrix)
        if st is None:
            return super().wald_test(design_matrix, disp, lfc, mu, ridge_factor, contrast, lfc_null, alt_hypothesis)
        Z, R, Rinv = st
        cb = Rinv.T @ np.asarray(contrast, float)  # contrast in the block parametrisation
        ck, cq = cb[: self.k], cb[self.k:]

        def chunk(s, e):
            m = np.asarray(mu[:, s:e], float)
            W = m / (1 + m * np.asarray(disp[s:e], float))
            a, b, S = self._blocks(W, Z)
            v = cq[:, None] - np.einsum("qkg,kg->qg", b, ck[:, None] / a)
            var = (ck[:, None] ** 2 / a).sum(0) + np.einsum("qg,gqr,rg->g", v, np.linalg.inv(S), v)
            return np.sqrt(var)

        se = np.concatenate(self._chunks(mu.shape[1], chunk))
        L = np.asarray(lfc, float)
        c = np.asarray(contrast, float)
        z = lambda nul: (L - nul) / se[:, None]  # noqa: E731
        if alt_hypothesis is None:
            stat = (L - lfc_null) @ c / se
            pval = 2 * norm.sf(np.abs(stat))
        elif alt_hypothesis == "greaterAbs":
            stat = (np.sign(L) * np.fmax((np.abs(L) - lfc_null) / se[:, None], 0)) @ c
            pval = 2 * norm.sf(np.abs(stat))
        elif alt_hypothesis == "greater":
            stat = np.fmax(z(lfc_null), 0) @ c
            pval = norm.sf(stat)
        elif alt_hypothesis == "less":
            stat = np.fmin(z(lfc_null), 0) @ c
            pval = norm.sf(np.abs(stat))
        else:
            return super().wald_test(design_matrix, disp, lfc, mu, ridge_factor, contrast, lfc_null, alt_hypothesis)
        return pval, stat, se

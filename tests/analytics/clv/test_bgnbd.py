from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, special

from omnicrm.analytics.clv import (
    ModelNotFittable,
    TransactionLogInvalid,
    bgnbd_fit,
    bgnbd_log_likelihood,
    conditional_expected_purchases,
    fitting,
    probability_alive,
)
from omnicrm.analytics.clv import bgnbd as bg
from omnicrm.analytics.clv import bgnbd_predict as bp
from omnicrm.analytics.clv.simulate import simulate_customers

PAPER = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
PAPER_LL = -9582.4
CDNOW_PARAMS = np.array([0.2425945224, 4.4136020190, 0.7929220172, 2.4259067768])


def paper_log_likelihood(params, x, t_x, T):
    """Equation (6) of Fader, Hardie & Lee (2005) written the plain way, for comparison."""
    r, alpha, a, b = params
    common = special.gamma(r + x) * alpha**r / special.gamma(r)
    first = special.beta(a, b + x) / special.beta(a, b) * common / (alpha + T) ** (r + x)
    second = np.where(
        x > 0,
        special.beta(a + 1, b + np.maximum(x, 1) - 1)
        / special.beta(a, b)
        * common
        / (alpha + t_x) ** (r + x),
        0.0,
    )
    return np.log(first + second)


def paper_conditional_expectation(params, t, x, t_x, T):
    """Equation (10) of the paper with the untransformed hypergeometric function."""
    r, alpha, a, b = params
    z = t / (alpha + T + t)
    h = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
    num = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x) * h)
    den = 1 + (x > 0) * a / (b + np.maximum(x, 1) - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x)
    return num / den


def test_cdnow_fit_reproduces_the_published_estimates(cdnow_split):
    # given: the calibration summary built from the raw CDNOW transactions (weeks)
    s = cdnow_split.calibration

    # when
    fit = bgnbd_fit(s.frequency, s.recency, s.age)

    # then: the paper's estimates to its 3 decimals and its log-likelihood to 1 decimal
    p = fit.params
    assert (round(p.r, 3), round(p.alpha, 3), round(p.a, 3), round(p.b, 3)) == (
        PAPER["r"],
        PAPER["alpha"],
        PAPER["a"],
        PAPER["b"],
    )
    assert round(fit.log_likelihood, 1) == PAPER_LL
    assert fit.n_customers == 2357
    assert fit.n_repeat_buyers == 946
    assert fit.n_distinct_rows < 2357  # identical histories were merged
    assert np.allclose(p.as_array(), CDNOW_PARAMS, rtol=1e-8)


def test_cdnow_fit_on_the_published_summary_file_gives_the_same_estimates(cdnow_reference):
    ref = cdnow_reference
    fit = bgnbd_fit(ref[:, 1], ref[:, 2], ref[:, 3])
    assert [round(v, 3) for v in fit.params.as_array()] == list(PAPER.values())
    assert round(fit.log_likelihood, 1) == PAPER_LL


def test_log_likelihood_equals_the_papers_formula_row_by_row(cdnow_reference):
    ref = cdnow_reference[:300]
    x, t_x, T = ref[:, 1], ref[:, 2], ref[:, 3]
    params = (0.5, 6.0, 1.2, 3.3)
    expected = paper_log_likelihood(params, x, t_x, T).sum()
    assert bgnbd_log_likelihood(params, x, t_x, T) == pytest.approx(expected, rel=1e-12)


def test_merged_and_weighted_rows_give_the_same_likelihood_as_the_raw_rows():
    x = np.array([0, 0, 2, 2, 5, 1])
    t_x = np.array([0, 0, 10.0, 10.0, 30.0, 3.0])
    T = np.array([40, 40, 40, 40, 38, 20.0])
    params = (0.3, 5.0, 0.8, 2.5)
    total = bgnbd_log_likelihood(params, x, t_x, T)
    one_by_one = sum(
        bgnbd_log_likelihood(params, x[i : i + 1], t_x[i : i + 1], T[i : i + 1]) for i in range(6)
    )
    weighted = bgnbd_log_likelihood(
        params, x[[0, 2, 4, 5]], t_x[[0, 2, 4, 5]], T[[0, 2, 4, 5]], weights=[2, 2, 1, 1]
    )
    assert total == pytest.approx(one_by_one, rel=1e-13)
    assert total == pytest.approx(weighted, rel=1e-13)


def test_analytic_gradient_matches_finite_differences(cdnow_reference):
    ref = cdnow_reference
    data = bg._aggregate(ref[:, 1], ref[:, 2], ref[:, 3], np.ones(ref.shape[0]))
    for params in ([0.243, 4.414, 0.793, 2.426], [1.5, 20.0, 3.0, 0.4], [0.05, 0.7, 0.2, 9.0]):
        theta = np.array(params)
        _, grad = bg._ll_and_grad(theta, data)
        numeric = np.empty(4)
        for j in range(4):
            h = 1e-5 * theta[j]
            up, down = theta.copy(), theta.copy()
            up[j] += h
            down[j] -= h
            numeric[j] = (bg._ll_and_grad(up, data)[0] - bg._ll_and_grad(down, data)[0]) / (2 * h)
        assert np.allclose(grad, numeric, rtol=1e-6, atol=1e-5)


def test_standard_errors_are_the_inverse_observed_information(cdnow_reference):
    # given: the Hessian of the log-likelihood in log-parameters from likelihood values only
    ref = cdnow_reference
    x, t_x, T = ref[:, 1], ref[:, 2], ref[:, 3]
    fit = bgnbd_fit(x, t_x, T)
    phi = np.log(fit.params.as_array())
    h = 1e-4

    def ll(p):
        return bgnbd_log_likelihood(np.exp(p), x, t_x, T)

    hess = np.empty((4, 4))
    for i in range(4):
        for j in range(4):
            e_i, e_j = np.eye(4)[i] * h, np.eye(4)[j] * h
            hess[i, j] = (
                ll(phi + e_i + e_j)
                - ll(phi + e_i - e_j)
                - ll(phi - e_i + e_j)
                + ll(phi - e_i - e_j)
            ) / (4 * h * h)
    log_se = np.sqrt(np.diag(np.linalg.inv(-hess)))

    # when
    estimates = fit.estimates(0.95)

    # then: delta-method standard errors and log-scale intervals around the estimate
    for est, value, se in zip(estimates, fit.params.as_array(), log_se, strict=True):
        assert est.std_error == pytest.approx(value * se, rel=1e-3)
        assert est.ci_low == pytest.approx(value * np.exp(-1.959964 * se), rel=1e-3)
        assert est.ci_high == pytest.approx(value * np.exp(1.959964 * se), rel=1e-3)
        assert est.ci_low < est.value < est.ci_high


def test_intervals_cover_the_true_parameters_about_95_percent_of_the_time():
    # given: 60 shops of 3,000 customers drawn from the CDNOW estimates
    truth = np.array([0.243, 4.414, 0.793, 2.426])
    covered = np.zeros(4)
    estimates = []
    for seed in range(60):
        rng = np.random.default_rng(seed)
        sim = simulate_customers(
            3_000, bgnbd_params=tuple(truth), age=rng.uniform(30, 39, 3_000), rng=rng
        )

        # when
        fit = bgnbd_fit(sim.frequency, sim.recency, sim.age)

        estimates.append(fit.params.as_array())
        covered += [
            e.ci_low < t < e.ci_high for e, t in zip(fit.estimates(0.95), truth, strict=True)
        ]

    # then: the estimates centre on the truth and the 95% intervals cover it about that often
    assert np.allclose(np.median(estimates, axis=0), truth, rtol=0.05)
    assert np.all(covered / 60 >= 0.85), covered


def test_conditional_expectation_equals_the_papers_equation(cdnow_reference):
    ref = cdnow_reference
    x, t_x, T = ref[:, 1], ref[:, 2], ref[:, 3]
    for t in (1.0, 39.0, 104.0):
        ours = conditional_expected_purchases(CDNOW_PARAMS, t, x, t_x, T)
        assert np.allclose(
            ours, paper_conditional_expectation(CDNOW_PARAMS, t, x, t_x, T), rtol=1e-10
        )


def test_new_customer_expectation_equals_the_unconditional_formula():
    r, alpha, a, b = CDNOW_PARAMS
    t = np.array([1.0, 10.0, 39.0, 78.0])
    unconditional = (
        (a + b - 1)
        / (a - 1)
        * (1 - (alpha / (alpha + t)) ** r * special.hyp2f1(r, b, a + b - 1, t / (alpha + t)))
    )
    fit = bg.BGNBDFit(
        params=bg.BGNBDParams(*CDNOW_PARAMS),
        log_likelihood=0.0,
        log_covariance=np.eye(4),
        n_customers=0,
        n_repeat_buyers=0,
        n_distinct_rows=0,
        iterations=0,
    )
    assert np.allclose(fit.expected_purchases_new_customer(t), unconditional, rtol=1e-12)


def test_quadrature_and_hypergeometric_forms_agree_over_a_wide_range():
    r, alpha, a, b = CDNOW_PARAMS
    x = np.repeat(np.array([0.0, 1, 2, 5, 20, 60]), 4)
    T = np.tile(np.array([5.0, 39, 100, 300]), 6)
    for t in (0.5, 39.0, 500.0):
        tt = np.full(x.shape, t)
        hyp = bp._hyp2f1_part(r, alpha, a, b, tt, x, T)
        quad = bp._quadrature_part(r, alpha, a, b, tt, x, T)
        assert np.allclose(hyp, quad, rtol=1e-9)


def test_frequent_buyers_over_long_horizons_stay_finite_where_the_plain_formula_fails():
    # given: 300 repeat purchases and a horizon of 5,000 weeks
    params = np.array([2.0, 1.0, 3.0, 1.5])
    x, t_x, T, t = np.array([300.0]), np.array([99.0]), np.array([100.0]), 5000.0

    # when
    ours = conditional_expected_purchases(params, t, x, t_x, T)

    # then: the untransformed formula breaks down; ours agrees with the quadrature
    with np.errstate(all="ignore"):
        plain = paper_conditional_expectation(params, t, x, t_x, T)
    assert not np.isfinite(plain).all() or abs(plain[0] - ours[0]) > 1e-3 * ours[0]
    quad = bp._quadrature_part(2.0, 1.0, 3.0, 1.5, np.array([t]), x, T)
    assert ours[0] == pytest.approx(quad[0] * probability_alive(params, x, t_x, T)[0], rel=1e-9)
    assert np.isfinite(ours).all() and ours[0] > 0


def test_a_dropout_probability_the_same_for_everyone_is_predicted_by_gauss_jacobi():
    # given: a and b in the tens of thousands (p ~ 0.52 for everybody, as fitted on Olist),
    # where scipy's hypergeometric function gives up
    r, alpha, a, b = 0.0058, 57.8, 36063.7, 33438.7
    x, t_x, T, t = np.array([0.0, 1.0, 3.0]), np.array([0.0, 40.0, 90.0]), np.full(3, 150.0), 184.0
    with np.errstate(all="ignore"):
        assert not np.isfinite(bp._hyp2f1_part(r, alpha, a, b, np.full(3, t), x, T)).all()

    # when
    ours = conditional_expected_purchases([r, alpha, a, b], t, x, t_x, T)

    # then: the fixed-p limit (1/p)(1 - ((alpha+T)/(alpha+T+p t))^(r+x)) up to the tiny
    # spread of p, times P(alive)
    p0 = a / (a + b + x)
    limit = (1 - ((alpha + T) / (alpha + T + p0 * t)) ** (r + x)) / p0
    assert np.allclose(ours, limit * probability_alive([r, alpha, a, b], x, t_x, T), rtol=1e-4)
    draws = np.array([[r, alpha, a, b], [r, alpha, a * 1.01, b * 1.01]])
    assert np.isfinite(conditional_expected_purchases(draws, t, x, t_x, T)).all()


def test_non_positive_c_falls_back_to_quadrature_and_matches_direct_integration():
    # given: a + b < 1 makes c = a + b + x - 1 negative for x = 0
    r, alpha, a, b = 0.5, 3.0, 0.3, 0.5
    t, T = 20.0, 10.0

    # when
    ours = conditional_expected_purchases([r, alpha, a, b], t, [0.0], [0.0], [T])

    # then: E_p[(1 - (1 + p t/(alpha+T))^-r) / p] with p ~ Beta(a, b), integrated by scipy
    def integrand(p):
        return (
            -np.expm1(-r * np.log1p(p * t / (alpha + T)))
            / p
            * special.beta(a, b) ** -1
            * (p ** (a - 1) * (1 - p) ** (b - 1))
        )

    direct = (
        integrate.quad(integrand, 0, 0.5, limit=200)[0]
        + integrate.quad(integrand, 0.5, 1, limit=200)[0]
    )
    assert ours[0] == pytest.approx(direct, rel=1e-6)


def test_a_equal_to_one_is_a_removable_singularity():
    x, t_x, T = np.array([0.0, 3.0]), np.array([0.0, 20.0]), np.array([30.0, 30.0])
    at_one = conditional_expected_purchases([0.3, 4.0, 1.0, 2.0], 26.0, x, t_x, T)
    near = [
        conditional_expected_purchases([0.3, 4.0, a, 2.0], 26.0, x, t_x, T) for a in (0.999, 1.001)
    ]
    assert np.isfinite(at_one).all()
    assert np.allclose(at_one, (near[0] + near[1]) / 2, rtol=1e-6)


def test_draws_give_one_row_per_parameter_set():
    draws = np.array([CDNOW_PARAMS, CDNOW_PARAMS * 1.1])
    out = conditional_expected_purchases(draws, 39.0, [0.0, 2.0], [0.0, 30.0], [38.0, 38.0])
    assert out.shape == (2, 2)
    assert np.allclose(
        out[0],
        conditional_expected_purchases(CDNOW_PARAMS, 39.0, [0.0, 2.0], [0.0, 30.0], [38.0, 38.0]),
    )


def test_probability_alive_matches_the_paper_and_is_one_without_repeat_purchases():
    r, alpha, a, b = CDNOW_PARAMS
    x = np.array([0.0, 1.0, 2.0, 7.0, 500.0])
    t_x = np.array([0.0, 1.71, 30.43, 35.0, 1.0])
    T = np.array([38.86] * 5)
    xs, txs, Ts = x[:4], t_x[:4], T[:4]  # the plain formula overflows for the fifth
    odds = a / (b + np.maximum(xs, 1) - 1) * ((alpha + Ts) / (alpha + txs)) ** (r + xs)
    expected = 1 / (1 + (xs > 0) * odds)
    got = probability_alive(CDNOW_PARAMS, x, t_x, T)
    assert got[0] == 1.0
    assert np.allclose(got[:4], expected, rtol=1e-12)
    assert got[4] == 0.0 or got[4] < 1e-300  # 500 purchases, then silence: dead, not NaN


def test_agrees_with_lifetimes_on_cdnow(cdnow_reference):
    lifetimes = pytest.importorskip("lifetimes")
    ref = cdnow_reference
    x, t_x, T = ref[:, 1], ref[:, 2], ref[:, 3]
    theirs = lifetimes.BetaGeoFitter().fit(x, t_x, T)
    ours = bgnbd_fit(x, t_x, T)
    assert np.allclose(theirs.params_.values, ours.params.as_array(), rtol=1e-4)
    assert np.allclose(
        theirs.conditional_expected_number_of_purchases_up_to_time(39, x, t_x, T),
        ours.expected_purchases(39.0, x, t_x, T),
        rtol=1e-6,
    )
    assert np.allclose(
        theirs.conditional_probability_alive(x, t_x, T), ours.p_alive(x, t_x, T), rtol=1e-6
    )


def test_too_few_repeat_buyers_is_a_clear_refusal():
    x = np.array([0] * 30 + [1] * 5)
    t_x = np.where(x > 0, 3.0, 0.0)
    T = np.full(x.shape, 10.0)
    with pytest.raises(ModelNotFittable) as err:
        bgnbd_fit(x, t_x, T)
    assert "at least 20" in err.value.message and "has 5" in err.value.message
    assert err.value.extra == {"repeat_buyers": 5}


def test_nobody_repeats_is_a_clear_refusal():
    with pytest.raises(ModelNotFittable) as err:
        bgnbd_fit(np.zeros(100), np.zeros(100), np.full(100, 20.0))
    assert "has 0" in err.value.message


def test_everybody_repeating_is_a_clear_refusal():
    n = 40
    with pytest.raises(ModelNotFittable) as err:
        bgnbd_fit(np.ones(n), np.full(n, 2.0), np.full(n, 10.0), min_repeat_buyers=1)
    assert "Every customer has a repeat purchase" in err.value.message


@pytest.mark.parametrize(
    ("x", "t_x", "T", "fragment"),
    [
        ([1.0], [5.0], [4.0], "recency"),
        ([-1.0], [0.0], [4.0], "whole number"),
        ([1.5], [1.0], [4.0], "whole number"),
        ([0.0], [2.0], [4.0], "recency = 0"),
        ([1.0], [float("nan")], [4.0], "missing"),
    ],
)
def test_invalid_histories_are_refused(x, t_x, T, fragment):
    with pytest.raises(TransactionLogInvalid) as err:
        bgnbd_log_likelihood((1, 1, 1, 1), x, t_x, T)
    assert fragment in err.value.message


def test_large_bases_reach_the_same_optimum_from_a_subsample(monkeypatch):
    # given: a base above the warm-start threshold (lowered so that the test stays small)
    rng = np.random.default_rng(9)
    sim = simulate_customers(
        6_000, bgnbd_params=(0.243, 30.9, 0.793, 2.426), age=rng.uniform(180, 730, 6_000), rng=rng
    )
    direct = bgnbd_fit(sim.frequency, sim.recency, sim.age)
    monkeypatch.setattr(fitting, "WARM_START_ROWS", 2_000)
    monkeypatch.setattr(fitting, "SUBSAMPLE_ROWS", 1_000)

    # when
    warm = bgnbd_fit(sim.frequency, sim.recency, sim.age)

    # then: the same estimates, likelihood and intervals, by the cheaper route
    assert np.allclose(warm.params.as_array(), direct.params.as_array(), rtol=1e-8)
    assert warm.log_likelihood == pytest.approx(direct.log_likelihood, rel=1e-13)
    assert np.allclose(warm.log_covariance, direct.log_covariance, rtol=1e-3)

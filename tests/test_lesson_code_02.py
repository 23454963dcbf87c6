"""Lesson 02's own code (#42), run from the committed notebook in this process: the finite-difference checker, the
MSE and cross-entropy gradients, and SGD with momentum, Adam and AdamW as update rules. Each cell's printed claims
say True as the lesson has it, and the claim a broken line concerns says False."""
from __future__ import annotations


import pytest

from _checks import claims, lesson_cell, run_cell

SETUP = "theta = np.array([0.5, -0.5])"  # the lesson's imports and data (x, y, θ, rng) at seed 0
CHECKER = "def numerical_gradient_by_hand("
MSE = "def mse_gradient_by_hand("
CROSS_ENTROPY = "def bce_gradient_by_hand("
RULES = "def adam_step("
MATCH = "for rule, optimizer_class, settings in runs:"



def run(*anchors: str, replace: dict[str, tuple[str, str]] | None = None) -> dict[str, bool]:
    """Run the setup cell, then the cells holding ``anchors`` in order; the claims the last one printed."""
    namespace = {"seed": 0}
    run_cell(lesson_cell("02", SETUP), namespace)
    printed = ""
    for anchor in anchors:
        printed = run_cell(lesson_cell("02", anchor), namespace, replace=(replace or {}).get(anchor))
    return claims(printed)


def test_the_lessons_checker_gives_check_gradients_relative_errors() -> None:
    found = run(CHECKER)
    assert found == {"at θ = [0.5, -0.5]: the product rule's relative error is below 1e-7": True,
                     "same relative errors as check_gradient, within 1e-12": True}


@pytest.mark.parametrize("broken", [
    ("(f(theta + nudge) - f(theta - nudge)) / (2 * eps)", "(f(theta + nudge) - f(theta)) / eps"),
    ("/ (2 * eps)", "/ eps"),
    ("(np.linalg.norm(g_a) + np.linalg.norm(g_n))", "np.linalg.norm(g_a)"),
], ids=["forward difference", "step not halved", "absolute-scale denominator"])
def test_a_broken_checker_no_longer_agrees_with_check_gradient(broken: tuple[str, str]) -> None:
    assert run(CHECKER, replace={CHECKER: broken})["same relative errors as check_gradient, within 1e-12"] is False


def test_the_lessons_mse_gradient_is_the_librarys_autograds_and_passes_the_checker() -> None:
    found = run(CHECKER, MSE)
    assert len(found) == 3 and all(found.values()), found


@pytest.mark.parametrize("broken", [
    ("np.sum(residual * x)", "np.sum(residual)"),
    ("residual = y - (w * x + b)", "residual = y - w * x"),
], ids=["x dropped from dL/dw", "b dropped from the prediction"])
def test_a_broken_mse_gradient_fails_every_check(broken: tuple[str, str]) -> None:
    found = run(CHECKER, MSE, replace={MSE: broken})
    assert len(found) == 3 and not any(found.values()), found


def test_the_lessons_cross_entropy_gradients_are_the_librarys_and_autograds() -> None:
    found = run(CROSS_ENTROPY)
    assert len(found) == 2 and all(found.values()), found


@pytest.mark.parametrize(("broken", "wrong"), [
    (("return (p - y) / len(z)", "return p - y"), "BCE"),
    (("p = 1 / (1 + np.exp(-z))", "p = 1 / (1 + np.exp(z))"), "BCE"),
    (("p[np.arange(len(z)), labels] -= 1", "p = p"), "softmax CE"),
], ids=["BCE: no mean over N", "BCE: sigmoid(-z)", "softmax CE: no target subtracted"])
def test_a_broken_cross_entropy_gradient_fails_its_claim_and_only_its_own(broken: tuple[str, str],
                                                                          wrong: str) -> None:
    found = run(CROSS_ENTROPY, replace={CROSS_ENTROPY: broken})
    assert {text.split(" gradient")[0].removeprefix("my "): value for text, value in found.items()} == {
        "BCE": wrong != "BCE", "softmax CE": wrong != "softmax CE"}


def _by_rule(found: dict[str, bool]) -> dict[str, bool]:
    return {text.split()[0]: value for text, value in found.items() if "over 20 steps within 1e-12" in text}


def test_the_lessons_update_rules_match_torch_optim_step_for_step() -> None:
    assert _by_rule(run(RULES, MATCH)) == {"sgd_momentum_step": True, "adam_step": True, "adamw_step": True}


@pytest.mark.parametrize(("broken", "wrong"), [
    (('return theta - lr * state["u"]', "return theta - lr * g"), {"sgd_momentum_step"}),
    (('m_hat = state["m"] / (1 - beta1 ** state["t"])', 'm_hat = state["m"]'), {"adam_step", "adamw_step"}),
    (('s_hat = state["s"] / (1 - beta2 ** state["t"])', 's_hat = state["s"]'), {"adam_step", "adamw_step"}),
    (("return adam_step(shrunk, g, state, lr, weight_decay=0.0)",
      "return adam_step(theta, g, state, lr, weight_decay=weight_decay)"), {"adamw_step"}),
], ids=["SGD without momentum", "Adam: m not bias-corrected", "Adam: s not bias-corrected", "AdamW's decay as L2"])
def test_a_broken_update_rule_leaves_torch_optims_path(broken: tuple[str, str], wrong: set[str]) -> None:
    found = _by_rule(run(RULES, MATCH, replace={RULES: broken}))
    assert found == {rule: rule not in wrong for rule in ("sgd_momentum_step", "adam_step", "adamw_step")}

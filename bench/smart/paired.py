"""Paired per-query comparison of two rankings' scores on the same queries: wins / losses / ties,
a two-sided exact sign test, and a bootstrap 95 % interval of the mean difference (fixed seed, so
reruns print the same figures)."""
import math
import random


def sign_test(wins, losses):
    """Two-sided exact sign-test p-value (ties left out)."""
    n = wins + losses
    if n == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(min(wins, losses) + 1)) / 2 ** n
    return min(1.0, 2 * tail)


def bootstrap(differences, resamples=10000, seed=7):
    """(low, high): the 2.5th and 97.5th percentiles of the mean of resampled differences."""
    rng = random.Random(seed)
    n = len(differences)
    means = sorted(sum(differences[rng.randrange(n)] for _ in range(n)) / n for _ in range(resamples))
    return means[int(0.025 * resamples)], means[int(0.975 * resamples)]


def compare(ours, theirs, epsilon=1e-9):
    """{query: score} twice → dict(wins, losses, ties, p, low, high, mean) of ours − theirs."""
    differences = [ours[q] - theirs[q] for q in sorted(theirs)]
    wins = sum(d > epsilon for d in differences)
    losses = sum(d < -epsilon for d in differences)
    low, high = bootstrap(differences)
    return {"wins": wins, "losses": losses, "ties": len(differences) - wins - losses,
            "p": sign_test(wins, losses), "low": low, "high": high,
            "mean": sum(differences) / len(differences)}

namespace GruOperator.Domain.Analysis;

/// <summary>Outcome of a one-sided Mann-Whitney U test of "canary is greater than stable".</summary>
/// <param name="U">The U statistic of the canary sample (n·m when every canary value exceeds every stable value).</param>
/// <param name="PValue">Probability of a U at least this large if both samples came from one distribution.</param>
/// <param name="Superiority">U/(n·m): P(canary &gt; stable) + ½·P(tie), 0.5 when the tracks are alike.</param>
public sealed record RankTestResult(double U, double PValue, double Superiority);

/// <summary>
/// The Mann-Whitney U rank test, as Netflix Kayenta uses it to compare canary and baseline: distribution-free and
/// robust to the outliers latency has. It runs on ordered categories (histogram buckets: every request is a sample,
/// all requests of one bucket tie), with the normal approximation and tie and continuity corrections (what R's
/// <c>wilcox.test(exact = FALSE)</c> computes); with thousands of tied samples the approximation is excellent, and
/// working on counts keeps it O(buckets). Written here because no maintained .NET statistics library has the tie
/// correction for grouped data.
/// </summary>
public static class MannWhitneyU
{
    /// <summary>Tests whether <paramref name="canary"/> is stochastically greater than <paramref name="stable"/> (raw values).</summary>
    public static RankTestResult GreaterThan(IReadOnlyList<double> canary, IReadOnlyList<double> stable)
    {
        var values = canary.Concat(stable).Distinct().Order().ToArray();
        long[] Counts(IReadOnlyList<double> sample)
        {
            var counts = new long[values.Length];
            foreach (var v in sample)
            {
                counts[Array.BinarySearch(values, v)]++;
            }

            return counts;
        }

        return GreaterThanOrdinal(Counts(canary), Counts(stable));
    }

    /// <summary>
    /// Tests whether the canary's counts per ordered category (lowest first) sit higher than stable's. Both arrays
    /// count the same categories, e.g. the buckets of one latency histogram.
    /// </summary>
    public static RankTestResult GreaterThanOrdinal(IReadOnlyList<long> canary, IReadOnlyList<long> stable)
    {
        if (canary.Count != stable.Count)
        {
            throw new ArgumentException("both tracks must count the same categories");
        }

        double n = canary.Sum(), m = stable.Sum();
        if (n == 0 || m == 0)
        {
            throw new ArgumentException("both samples need at least one value");
        }

        // Mid-ranks per category; the tie term shrinks the variance as in every textbook correction.
        double below = 0, canaryRankSum = 0, tieTerm = 0;
        for (var k = 0; k < canary.Count; k++)
        {
            double t = canary[k] + stable[k];
            if (t == 0)
            {
                continue;
            }

            canaryRankSum += canary[k] * (below + (t + 1) / 2);
            tieTerm += t * t * t - t;
            below += t;
        }

        var u = canaryRankSum - n * (n + 1) / 2;
        var total = n + m;
        var mean = n * m / 2;
        var variance = n * m / 12 * (total + 1 - tieTerm / (total * (total - 1)));
        var pValue = variance <= 0
            ? 1.0 // every value tied: nothing suggests canary is greater
            : UpperTailNormal((u - mean - 0.5) / Math.Sqrt(variance));

        return new RankTestResult(u, Math.Clamp(pValue, 0, 1), u / (n * m));
    }

    /// <summary>P(Z ≥ z) for a standard normal Z.</summary>
    internal static double UpperTailNormal(double z) => 0.5 * Erfc(z / Math.Sqrt(2));

    /// <summary>
    /// Complementary error function with fractional error below 1.2e-7 everywhere
    /// (Chebyshev fit from Numerical Recipes, 3rd ed., §6.2); the BCL has none.
    /// </summary>
    internal static double Erfc(double x)
    {
        var z = Math.Abs(x);
        var t = 1 / (1 + 0.5 * z);
        var r = t * Math.Exp(-z * z - 1.26551223 + t * (1.00002368 + t * (0.37409196 + t * (0.09678418 +
            t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 +
            t * (-0.82215223 + t * 0.17087277)))))))));
        return x >= 0 ? r : 2 - r;
    }
}

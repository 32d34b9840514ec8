namespace GruOperator.Domain.Analysis;

/// <summary>Outcome of a one-sided Mann-Whitney U test of "canary is greater than stable".</summary>
/// <param name="U">The U statistic of the canary sample (n·m when every canary value exceeds every stable value).</param>
/// <param name="PValue">Probability of a U at least this large if both samples came from one distribution.</param>
/// <param name="Shift">Hodges-Lehmann estimate of how far canary sits above stable (median of pairwise differences).</param>
/// <param name="StableMedian">Median of the stable sample, the base of a relative tolerance.</param>
public sealed record RankTestResult(double U, double PValue, double Shift, double StableMedian);

/// <summary>
/// The Mann-Whitney U rank test, as Netflix Kayenta uses it to compare canary and baseline: distribution-free,
/// robust to the outliers latency series have. Normal approximation with tie and continuity corrections
/// (what R's <c>wilcox.test(exact = FALSE)</c> computes); callers refuse samples too small for it.
/// </summary>
public static class MannWhitneyU
{
    /// <summary>Tests whether <paramref name="canary"/> is stochastically greater than <paramref name="stable"/>.</summary>
    public static RankTestResult GreaterThan(IReadOnlyList<double> canary, IReadOnlyList<double> stable)
    {
        int n = canary.Count, m = stable.Count;
        if (n == 0 || m == 0)
        {
            throw new ArgumentException("both samples need at least one value");
        }

        var pooled = new (double Value, bool IsCanary)[n + m];
        for (var i = 0; i < n; i++)
        {
            pooled[i] = (canary[i], true);
        }

        for (var j = 0; j < m; j++)
        {
            pooled[n + j] = (stable[j], false);
        }

        Array.Sort(pooled, (a, b) => a.Value.CompareTo(b.Value));

        // Mid-ranks for ties; the tie term shrinks the variance as in every textbook correction.
        double canaryRankSum = 0, tieTerm = 0;
        for (var start = 0; start < pooled.Length;)
        {
            var end = start;
            while (end + 1 < pooled.Length && pooled[end + 1].Value == pooled[start].Value)
            {
                end++;
            }

            var midRank = (start + end + 2) / 2.0;
            for (var k = start; k <= end; k++)
            {
                if (pooled[k].IsCanary)
                {
                    canaryRankSum += midRank;
                }
            }

            double t = end - start + 1;
            tieTerm += t * t * t - t;
            start = end + 1;
        }

        var u = canaryRankSum - n * (n + 1) / 2.0;
        double total = n + m;
        var mean = n * (double)m / 2;
        var variance = n * (double)m / 12 * (total + 1 - tieTerm / (total * (total - 1)));
        var pValue = variance <= 0
            ? 1.0 // every value tied: nothing suggests canary is greater
            : UpperTailNormal((u - mean - 0.5) / Math.Sqrt(variance));

        return new RankTestResult(u, Math.Clamp(pValue, 0, 1), HodgesLehmannShift(canary, stable), Median(stable));
    }

    /// <summary>Median of all pairwise differences canary[i] − stable[j]: a location shift robust to outliers.</summary>
    internal static double HodgesLehmannShift(IReadOnlyList<double> canary, IReadOnlyList<double> stable)
    {
        var differences = new double[canary.Count * stable.Count];
        var k = 0;
        foreach (var c in canary)
        {
            foreach (var s in stable)
            {
                differences[k++] = c - s;
            }
        }

        return Median(differences);
    }

    /// <summary>Median of a non-empty sample.</summary>
    internal static double Median(IReadOnlyList<double> values)
    {
        var sorted = values.ToArray();
        Array.Sort(sorted);
        var mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
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

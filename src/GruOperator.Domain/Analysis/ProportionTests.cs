namespace GruOperator.Domain.Analysis;

/// <summary>
/// Exact tests for rates of rare events (5xx, invalid input). Per-step series of such rates are mostly zeros with
/// one error smeared over several overlapping rate windows, which would make a rank test see significance in a
/// single error; events counted over the whole window are the honest unit, and with counts this small only exact
/// tests keep their promised false-alarm rate (a z-test calls 3 errors against 0 in 200 requests significant).
/// </summary>
public static class ProportionTests
{
    /// <summary>P(X ≥ <paramref name="k"/>) for X ~ Binomial(<paramref name="n"/>, <paramref name="p"/>).</summary>
    public static double BinomialUpperTail(long n, long k, double p)
    {
        if (k <= 0 || p >= 1)
        {
            return 1;
        }

        if (k > n || p <= 0)
        {
            return 0;
        }

        var term = Math.Exp(LogChoose(n, k) + k * Math.Log(p) + (n - k) * Math.Log(1 - p));
        var ratio = p / (1 - p);
        double sum = 0;
        for (var j = k; j <= n; j++)
        {
            sum += term;
            if (j > n * p && term < sum * 1e-15)
            {
                break; // past the mode the terms only shrink
            }

            term *= (double)(n - j) / (j + 1) * ratio;
        }

        return Math.Clamp(sum, 0, 1);
    }

    /// <summary>
    /// One-sided Fisher exact test: the probability, with the events of both tracks pooled and dealt out at random,
    /// that the canary gets at least <paramref name="canaryEvents"/> of them. 1 when neither side saw an event.
    /// </summary>
    public static double FisherGreater(long canaryEvents, long canaryTotal, long stableEvents, long stableTotal)
    {
        var total = canaryTotal + stableTotal;
        var events = canaryEvents + stableEvents;
        if (canaryTotal <= 0 || stableTotal <= 0 || events <= 0 || canaryEvents <= 0)
        {
            return 1;
        }

        // Hypergeometric: canary draws canaryTotal of total, events of which are "marked".
        var last = Math.Min(events, canaryTotal);
        var logDenominator = LogChoose(total, canaryTotal);
        double sum = 0;
        var term = Math.Exp(LogChoose(events, canaryEvents) + LogChoose(total - events, canaryTotal - canaryEvents) - logDenominator);
        for (var x = canaryEvents; x <= last; x++)
        {
            sum += term;
            if (term < sum * 1e-15)
            {
                break;
            }

            term *= (double)(events - x) * (canaryTotal - x) / ((x + 1) * (double)(total - events - canaryTotal + x + 1));
        }

        return Math.Clamp(sum, 0, 1);
    }

    /// <summary>log C(n, k).</summary>
    internal static double LogChoose(long n, long k) => LogGamma(n + 1) - LogGamma(k + 1) - LogGamma(n - k + 1);

    /// <summary>log Γ(x) for x &gt; 0 (Lanczos, g = 7, nine terms: about 15 significant digits); the BCL has none.</summary>
    internal static double LogGamma(double x)
    {
        ReadOnlySpan<double> c =
        [
            0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
            12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
        ];
        if (x < 0.5)
        {
            return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * x))) - LogGamma(1 - x); // reflection
        }

        x -= 1;
        var a = c[0];
        var t = x + 7.5;
        for (var i = 1; i < 9; i++)
        {
            a += c[i] / (x + i);
        }

        return 0.5 * Math.Log(2 * Math.PI) + (x + 0.5) * Math.Log(t) - t + Math.Log(a);
    }
}

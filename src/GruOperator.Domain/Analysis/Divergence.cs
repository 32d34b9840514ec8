using System.Globalization;

namespace GruOperator.Domain.Analysis;

/// <summary>The <c>analysis.divergence</c> block: how close the canary's outputs must stay to stable's on mirrored
/// requests. With no threshold set the divergence is measured and reported, never judged.</summary>
/// <param name="MaxAbs">Largest |canary − stable| per output a compared request may show (a 1-2-5 grid value).</param>
/// <param name="MaxRel">Likewise for the relative difference |canary − stable| / max(|canary|, |stable|).</param>
/// <param name="Within">The fraction of compared requests (per output) that must stay within <paramref name="MaxAbs"/> and <paramref name="MaxRel"/>.</param>
/// <param name="MinArgMaxAgreement">Smallest fraction of compared classification-shaped outputs whose arg-max agrees on every row.</param>
public sealed record DivergenceSpec(double? MaxAbs, double? MaxRel, double Within, double? MinArgMaxAgreement)
{
    /// <summary>The default of <see cref="Within"/>.</summary>
    public const double DefaultWithin = 0.99;

    /// <summary>True when any threshold is set, so the check can fail a canary.</summary>
    public bool Judged => MaxAbs is not null || MaxRel is not null || MinArgMaxAgreement is not null;
}

/// <summary>A histogram of per-request differences summed over stable's pods and outputs: cumulative counts per
/// upper bound, the last bound +∞.</summary>
public sealed record DivergenceHistogram(IReadOnlyList<double> UpperBounds, IReadOnlyList<long> Cumulative)
{
    /// <summary>Observations in the histogram.</summary>
    public long Total => Cumulative.Count == 0 ? 0 : Cumulative[^1];

    /// <summary>Observations at or below <paramref name="bound"/>, which must be one of the bounds (thresholds are on the grid).</summary>
    public long AtOrBelow(double bound)
    {
        for (var i = 0; i < UpperBounds.Count; i++)
        {
            if (Math.Abs(UpperBounds[i] - bound) <= 1e-9 * Math.Max(bound, 1e-300))
            {
                return Cumulative[i];
            }
        }

        throw new ArgumentOutOfRangeException(nameof(bound), bound, "not a bound of the divergence histogram");
    }

    /// <summary>The smallest bound at or below which at least <paramref name="q"/> of the observations lie (an upper
    /// estimate of the q-quantile, exact to the grid); null when empty.</summary>
    public double? QuantileBound(double q)
    {
        if (Total == 0)
        {
            return null;
        }

        for (var i = 0; i < UpperBounds.Count; i++)
        {
            if (Cumulative[i] >= q * Total)
            {
                return UpperBounds[i];
            }
        }

        return double.PositiveInfinity;
    }
}

/// <summary>What stable's pods measured of the canary's outputs in a window (a <see cref="Measurement.Divergence"/>).</summary>
/// <param name="Compared">Compared (request, output) pairs.</param>
/// <param name="Abs">Max-abs-difference histogram.</param>
/// <param name="Rel">Max-rel-difference histogram.</param>
/// <param name="ArgMaxCompared">Compared classification-shaped outputs.</param>
/// <param name="ArgMaxAgreed">Of those, the ones whose arg-max agreed on every row.</param>
/// <param name="Errors">Mirrored requests that could not be compared (canary error, unreachable, other shapes).</param>
/// <param name="Dropped">Sampled requests stable did not mirror (queue full, rate, broken sequence).</param>
public sealed record DivergenceCounts(long Compared, DivergenceHistogram Abs, DivergenceHistogram Rel, long ArgMaxCompared, long ArgMaxAgreed, long Errors, long Dropped);

/// <summary>Judges <see cref="DivergenceCounts"/> against a <see cref="DivergenceSpec"/>: pure, no I/O.</summary>
public static class DivergenceJudge
{
    /// <summary>The metric's name in status.</summary>
    public const string MetricName = "divergence";

    /// <summary>The verdict and its one-line reason; <paramref name="value"/> is the share of compared requests within
    /// maxAbs (else maxRel, else the arg-max agreement; the p99 max-abs bound when nothing is judged).</summary>
    public static (Verdict Verdict, double? Value, string Reason) Judge(DivergenceSpec spec, Measurement measurement, int minCompared)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(measurement);
        if (measurement.Error is { } error)
        {
            return (spec.Judged ? Verdict.Inconclusive : Verdict.Passed, null, $"{(spec.Judged ? "" : "not judged (no thresholds); ")}query failed: {error}");
        }

        if (measurement.Divergence is not { } counts || counts.Compared == 0)
        {
            var why = measurement.Divergence is { } c
                ? $"no mirrored request compared in the window ({c.Errors} could not be compared, {c.Dropped} dropped)"
                : "no mirrored request compared in the window (stable exports no gru_mirror_* series: is it mirroring?)";
            return (spec.Judged ? Verdict.Inconclusive : Verdict.Passed, null, spec.Judged ? why : $"not judged (no thresholds); {why}");
        }

        var observed = Describe(counts);
        if (!spec.Judged)
        {
            return (Verdict.Passed, counts.Abs.QuantileBound(0.99), $"not judged (no thresholds); {observed}");
        }

        if (counts.Compared < minCompared)
        {
            return (Verdict.Inconclusive, null, $"{counts.Compared} compared, fewer than minRequests {minCompared}; {observed}");
        }

        var failures = new List<string>();
        double? value = null;
        if (spec.MaxAbs is { } maxAbs)
        {
            var share = (double)counts.Abs.AtOrBelow(maxAbs) / counts.Abs.Total;
            value ??= (double?)share;
            if (share < spec.Within)
            {
                failures.Add($"{Percent(share)} within maxAbs {Show(maxAbs)} (at least {Percent(spec.Within)} needed)");
            }
        }

        if (spec.MaxRel is { } maxRel)
        {
            var share = (double)counts.Rel.AtOrBelow(maxRel) / counts.Rel.Total;
            value ??= (double?)share;
            if (share < spec.Within)
            {
                failures.Add($"{Percent(share)} within maxRel {Show(maxRel)} (at least {Percent(spec.Within)} needed)");
            }
        }

        if (spec.MinArgMaxAgreement is { } minAgreement)
        {
            if (counts.ArgMaxCompared == 0)
            {
                return (Verdict.Inconclusive, value, $"minArgMaxAgreement is set but no classification-shaped output ([batch, classes]) was compared; {observed}");
            }

            var agreement = (double)counts.ArgMaxAgreed / counts.ArgMaxCompared;
            value ??= (double?)agreement;
            if (agreement < minAgreement)
            {
                failures.Add($"arg-max agreed on {Percent(agreement)} (at least {Percent(minAgreement)} needed)");
            }
        }

        return failures.Count > 0
            ? (Verdict.Failed, value, $"canary outputs diverge from stable's: {string.Join("; ", failures)}; {observed}")
            : (Verdict.Passed, value, $"within thresholds; {observed}");
    }

    /// <summary>The observed values as status and Events show them: counts and grid quantiles.</summary>
    public static string Describe(DivergenceCounts counts)
    {
        ArgumentNullException.ThrowIfNull(counts);
        var text = $"{counts.Compared} compared, max abs p50 ≤ {Bound(counts.Abs.QuantileBound(0.5))} p99 ≤ {Bound(counts.Abs.QuantileBound(0.99))}, " +
            $"max rel p50 ≤ {Bound(counts.Rel.QuantileBound(0.5))} p99 ≤ {Bound(counts.Rel.QuantileBound(0.99))}";
        if (counts.ArgMaxCompared > 0)
        {
            text += $", arg-max agreed {counts.ArgMaxAgreed}/{counts.ArgMaxCompared}";
        }

        if (counts.Errors > 0 || counts.Dropped > 0)
        {
            text += $", {counts.Errors} not comparable, {counts.Dropped} dropped";
        }

        return text;
    }

    private static string Bound(double? bound) => bound switch
    {
        null => "n/a",
        double.PositiveInfinity => "∞",
        var b => b.Value.ToString("G3", CultureInfo.InvariantCulture),
    };

    private static string Show(double value) => value.ToString("G6", CultureInfo.InvariantCulture);

    private static string Percent(double share) => AnalysisStatusFormat.Number(Math.Round(share * 100, 2)) + "%";
}

namespace GruOperator.Domain.Analysis;

/// <summary>
/// Requests per latency bucket over one window, as exact counts (not rates): the upper bounds of GruServer's
/// histogram (seconds, ascending, +Inf last) and the cumulative count of requests at or below each. Every request
/// is one sample, and the SLO threshold is one of the bounds, so "share slower than T" is a count, not an estimate.
/// </summary>
public sealed record LatencyHistogram
{
    /// <summary>Builds a histogram; bounds must ascend and end with +Inf, counts must not decrease.</summary>
    public LatencyHistogram(IReadOnlyList<double> upperBounds, IReadOnlyList<long> cumulative)
    {
        if (upperBounds.Count == 0 || upperBounds.Count != cumulative.Count || !double.IsPositiveInfinity(upperBounds[^1]))
        {
            throw new ArgumentException("a histogram needs one cumulative count per bound and a final +Inf bound");
        }

        for (var i = 1; i < upperBounds.Count; i++)
        {
            if (!(upperBounds[i] > upperBounds[i - 1]) || cumulative[i] < cumulative[i - 1])
            {
                throw new ArgumentException($"bounds must ascend and cumulative counts must not decrease (at bound {upperBounds[i]})");
            }
        }

        UpperBounds = upperBounds;
        Cumulative = cumulative;
    }

    /// <summary>Upper bounds in seconds, ascending, +Inf last.</summary>
    public IReadOnlyList<double> UpperBounds { get; }

    /// <summary>Requests at or below each bound.</summary>
    public IReadOnlyList<long> Cumulative { get; }

    /// <summary>Requests in the window.</summary>
    public long Total => Cumulative[^1];

    /// <summary>The index of the bound equal to <paramref name="seconds"/> (to float precision), or -1.</summary>
    public int IndexOf(double seconds)
    {
        for (var i = 0; i < UpperBounds.Count; i++)
        {
            if (UpperBounds[i] == seconds || (double.IsFinite(seconds) && Math.Abs(UpperBounds[i] - seconds) <= 1e-9 * Math.Max(1, seconds)))
            {
                return i;
            }
        }

        return -1;
    }

    /// <summary>
    /// Requests slower than <paramref name="seconds"/>: exact when it is a bound (Min == Max); otherwise the
    /// neighbouring bounds give the fewest and the most it can be.
    /// </summary>
    public (long Min, long Max) SlowerThan(double seconds)
    {
        var exact = IndexOf(seconds);
        if (exact >= 0)
        {
            var slow = Total - Cumulative[exact];
            return (slow, slow);
        }

        var above = 0;
        while (UpperBounds[above] < seconds)
        {
            above++;
        }

        return (Total - Cumulative[above], above == 0 ? Total : Total - Cumulative[above - 1]);
    }

    /// <summary>Requests per bucket (not cumulative), lowest bucket first.</summary>
    public long[] BucketCounts()
    {
        var counts = new long[Cumulative.Count];
        for (var i = 0; i < counts.Length; i++)
        {
            counts[i] = Cumulative[i] - (i == 0 ? 0 : Cumulative[i - 1]);
        }

        return counts;
    }

    /// <summary>This histogram read at <paramref name="bounds"/> only (a subset of its own): merges finer buckets.</summary>
    public LatencyHistogram At(IReadOnlyList<double> bounds) =>
        new(bounds, bounds.Select(b => Cumulative[IndexOf(b)]).ToArray());

    /// <summary>The bounds both histograms have, so two tracks from different GruServer builds stay comparable.</summary>
    public IReadOnlyList<double> CommonBounds(LatencyHistogram other) =>
        UpperBounds.Where(b => other.IndexOf(b) >= 0).ToArray();

    /// <summary>
    /// An estimate of the <paramref name="q"/> quantile for humans (status, Events), interpolated log-linearly inside
    /// its bucket (latency is closer to log-normal than uniform). Never used for a verdict; null without requests,
    /// the highest finite bound when the quantile lies in the +Inf bucket.
    /// </summary>
    public double? Quantile(double q)
    {
        if (Total == 0)
        {
            return null;
        }

        var rank = q * Total;
        var i = 0;
        while (i < Cumulative.Count - 1 && Cumulative[i] < rank)
        {
            i++;
        }

        if (double.IsPositiveInfinity(UpperBounds[i]))
        {
            return UpperBounds.Count > 1 ? UpperBounds[^2] : null;
        }

        var below = i == 0 ? 0 : Cumulative[i - 1];
        var inBucket = Cumulative[i] - below;
        var upper = UpperBounds[i];
        var lower = i == 0 ? upper / 10 : UpperBounds[i - 1]; // the first bucket: assume one decade wide
        if (inBucket == 0 || lower <= 0)
        {
            return upper;
        }

        var fraction = (rank - below) / inBucket;
        return lower * Math.Pow(upper / lower, fraction);
    }

    /// <summary>How wide, as a ratio upper/lower, the finite bucket holding the <paramref name="q"/> quantile is; 1 when unknown.</summary>
    public double BucketRatioAt(double q)
    {
        if (Total == 0)
        {
            return 1;
        }

        var rank = q * Total;
        var i = 0;
        while (i < Cumulative.Count - 1 && Cumulative[i] < rank)
        {
            i++;
        }

        return i == 0 || double.IsPositiveInfinity(UpperBounds[i]) || UpperBounds[i - 1] <= 0 ? 1 : UpperBounds[i] / UpperBounds[i - 1];
    }
}

/// <summary>Exact counts over a window: <paramref name="Events"/> (5xx, invalid input) out of <paramref name="Requests"/>.</summary>
public sealed record EventCount(long Events, long Requests)
{
    /// <summary>The fraction; null without requests.</summary>
    public double? Rate => Requests > 0 ? (double)Events / Requests : null;
}

using System.Globalization;

namespace GruServing.Contract.Serving;

/// <summary>Shadow traffic between a stable GruServer and its canary: the header that marks a mirrored request, the
/// <c>source</c> label that counts it apart, and the divergence metrics stable exports, named once for the server that
/// writes them and the operator that queries them.</summary>
public static class ShadowTraffic
{
    /// <summary>Header a stable pod sets on each request it copies to the canary; the canary counts it as
    /// <see cref="MirrorSource"/>. It is not authenticated (see docs/API.md): anyone who can reach the canary can set it.</summary>
    public const string Header = "x-gru-mirror";

    /// <summary>The value of <see cref="Header"/>.</summary>
    public const string HeaderValue = "1";

    /// <summary>The <c>source</c> label on request metrics: a request a client sent.</summary>
    public const string LiveSource = "live";

    /// <summary>The <c>source</c> label on request metrics: a copy a stable pod sent.</summary>
    public const string MirrorSource = "mirror";

    /// <summary>Histogram (per request and output) of the largest |canary − stable| over the output's elements.</summary>
    public const string AbsDiffMetric = "gru_mirror_abs_diff";

    /// <summary>Histogram (per request and output) of the largest |canary − stable| / max(|canary|, |stable|), in [0, 2].</summary>
    public const string RelDiffMetric = "gru_mirror_rel_diff";

    /// <summary>Counter (per output) of mirrored requests whose outputs were compared.</summary>
    public const string ComparedMetric = "gru_mirror_compared_total";

    /// <summary>Counter (per output) of compared requests of a classification-shaped output ([batch, classes]).</summary>
    public const string ArgMaxComparedMetric = "gru_mirror_argmax_compared_total";

    /// <summary>Counter (per output) of those whose arg-max agreed on every row.</summary>
    public const string ArgMaxAgreedMetric = "gru_mirror_argmax_agreed_total";

    /// <summary>Counter of sampled requests not mirrored, by reason (<see cref="DropReasons"/>).</summary>
    public const string DroppedMetric = "gru_mirror_dropped_total";

    /// <summary>Counter of mirrored requests that could not be compared, by reason (<see cref="ErrorReasons"/>).</summary>
    public const string ErrorsMetric = "gru_mirror_errors_total";

    /// <summary>Why a sampled request was not sent: the queue was full, the rate was exceeded, or an earlier request of
    /// its sequence was dropped (the canary's state would no longer match), or it carried a client-held state.</summary>
    public static readonly IReadOnlyList<string> DropReasons = ["queue_full", "rate", "sequence_broken", "client_state"];

    /// <summary>Why a mirrored request was not compared: the canary answered non-200, could not be reached in time,
    /// answered a body that is not an infer response, or with outputs of other names or shapes.</summary>
    public static readonly IReadOnlyList<string> ErrorReasons = ["status", "transport", "response", "shape"];
}

/// <summary>The divergence histograms' bounds: a 1-2-5 grid from 1e-7 to 10. Thresholds (analysis.divergence.maxAbs,
/// maxRel) must be one of them, so "fraction within" is read from a bucket exactly, never interpolated.</summary>
public static class DivergenceBuckets
{
    /// <summary>The bounds, ascending.</summary>
    public static IReadOnlyList<double> Bounds { get; } = Build();

    /// <summary>How error messages list the allowed thresholds.</summary>
    public static string Choices => "one of 1e-7, 2e-7, 5e-7, 1e-6, ... 1, 2, 5, 10 (a 1-2-5 grid)";

    /// <summary>The grid value equal to <paramref name="value"/> (within 1e-9 relative), or null.</summary>
    public static double? OnGrid(double value)
    {
        foreach (var bound in Bounds)
        {
            if (Math.Abs(bound - value) <= 1e-9 * bound)
            {
                return bound;
            }
        }

        return null;
    }

    /// <summary>The <c>le</c> label the Prometheus exporter writes for a bound (its shortest round-trip form).</summary>
    public static string LeLabel(double bound) => bound.ToString("R", CultureInfo.InvariantCulture);

    private static double[] Build()
    {
        var bounds = new List<double>();
        for (var exponent = -7; exponent <= 1; exponent++)
        {
            foreach (var mantissa in new[] { 1, 2, 5 })
            {
                // Parsed from decimal text: 2 * 10^-7 in binary arithmetic is not the double nearest 2e-7.
                var bound = double.Parse(string.Create(CultureInfo.InvariantCulture, $"{mantissa}e{exponent}"), CultureInfo.InvariantCulture);
                if (bound <= 10)
                {
                    bounds.Add(bound);
                }
            }
        }

        return [.. bounds];
    }
}

using GruServing.Contract.Serving;
namespace GruOperator.Domain.Analysis;

/// <summary>
/// The port through which analysis reads metrics (Prometheus is the first provider). Providers return
/// data: an unreachable backend or a rejected query is a <see cref="Measurement"/> with an
/// <see cref="Measurement.Error"/>, which the judge turns into Inconclusive, never an exception.
/// </summary>
public interface IMetricProvider
{
    /// <summary>Measures one metric for one track over a window.</summary>
    Task<Measurement> MeasureAsync(MetricQuery query, CancellationToken cancellationToken);
}

/// <summary>The service-level indicators GruServer's metrics give every track.</summary>
public enum Sli
{
    /// <summary>Requests served in the window.</summary>
    RequestCount,

    /// <summary>95th percentile request latency, in seconds.</summary>
    LatencyP95,

    /// <summary>Fraction of requests answered 5xx.</summary>
    ErrorRate,

    /// <summary>Fraction of requests rejected as invalid input.</summary>
    InputSchemaErrorRate,
}

/// <summary>Metric names as they appear in <c>status.canary.analysis.lastRun.metrics[].name</c>.</summary>
public static class MetricNames
{
    /// <summary>Requests served by the canary in the window.</summary>
    public const string RequestCount = "requestCount";

    /// <summary>95th percentile latency.</summary>
    public const string LatencyP95 = "latencyP95";

    /// <summary>5xx fraction.</summary>
    public const string ErrorRate = "errorRate";

    /// <summary>Invalid-input fraction.</summary>
    public const string InputSchemaErrorRate = "inputSchemaErrorRate";

    /// <summary>The status name of a built-in SLI, matching the field names of <c>spec.slo</c>.</summary>
    public static string Of(Sli sli) => sli switch
    {
        Sli.RequestCount => RequestCount,
        Sli.LatencyP95 => LatencyP95,
        Sli.ErrorRate => ErrorRate,
        Sli.InputSchemaErrorRate => InputSchemaErrorRate,
        _ => throw new ArgumentOutOfRangeException(nameof(sli), sli, "unknown SLI"),
    };
}

/// <summary>Which series to read: the values behind <c>{{namespace}} {{model}} {{track}} {{revision}}</c>.</summary>
public sealed record TrackSelector(string Namespace, string Model, Track Track, string Revision)
{
    /// <summary>The track as GruServer labels it (<c>stable</c> or <c>canary</c>).</summary>
    public string TrackLabel => Track.ToLabel();
}

/// <summary>
/// The time span a run looks at. Instant values aggregate over the whole <paramref name="Length"/> ending at
/// <paramref name="End"/>; per-step series (for the rank test) sample every <paramref name="Step"/>, each
/// point a rate over <paramref name="RateWindow"/> (a few scrape intervals).
/// </summary>
public sealed record AnalysisWindow(DateTimeOffset End, TimeSpan Length, TimeSpan Step, TimeSpan RateWindow)
{
    /// <summary>First instant of the window.</summary>
    public DateTimeOffset Start => End - Length;

    /// <summary>
    /// A window sized from the analysis interval and the scrape interval: one point per scrape, rates over four
    /// scrapes (Prometheus needs at least two samples in a range, four tolerate a missed scrape), and long enough
    /// to hold <paramref name="minSamples"/> points plus two — but never shorter than the interval, so no traffic
    /// between two runs goes unjudged. 30 s interval, 15 s scrapes: 150 s window, 60 s rates, 15 s steps.
    /// </summary>
    public static AnalysisWindow ForInterval(DateTimeOffset end, TimeSpan interval, TimeSpan scrapeInterval, int minSamples)
    {
        if (interval <= TimeSpan.Zero || scrapeInterval <= TimeSpan.Zero || minSamples < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(interval), "interval, scrape interval and minSamples must be positive");
        }

        var length = scrapeInterval * (minSamples + 2);
        return new AnalysisWindow(end, length > interval ? length : interval, scrapeInterval, scrapeInterval * 4);
    }
}

/// <summary>Where a metric comes from: a built-in SLI or a custom query template.</summary>
public abstract record MetricSource;

/// <summary>One of the SLIs derived from GruServer's metrics.</summary>
public sealed record BuiltInSli(Sli Sli) : MetricSource;

/// <summary>A user's PromQL with template values, from <c>analysis.metrics[].query</c>.</summary>
public sealed record CustomQuery(string Template) : MetricSource;

/// <summary>One measurement to take.</summary>
/// <param name="Name">Metric name as shown in status.</param>
/// <param name="Source">What to measure.</param>
/// <param name="Track">Whose series.</param>
/// <param name="Window">Over which time span.</param>
/// <param name="WithSeries">Also return the per-step series (needed by the rank test).</param>
public sealed record MetricQuery(string Name, MetricSource Source, TrackSelector Track, AnalysisWindow Window, bool WithSeries);

/// <summary>
/// What a provider saw. <see cref="Value"/> null means "no data" (empty result, NaN, ±Inf) — never zero.
/// <see cref="Error"/> set means the measurement failed (backend down, query rejected, several series).
/// </summary>
public sealed record Measurement(double? Value, IReadOnlyList<double> Series, string? Error, IReadOnlyList<string> Warnings)
{
    /// <summary>A successful measurement.</summary>
    public static Measurement Of(double? value, IReadOnlyList<double>? series = null, IReadOnlyList<string>? warnings = null) =>
        new(value is { } v && double.IsFinite(v) ? v : null, FiniteOnly(series ?? []), null, warnings ?? []);

    /// <summary>A failed measurement with a one-line reason.</summary>
    public static Measurement Failed(string error, IReadOnlyList<string>? warnings = null) => new(null, [], error, warnings ?? []);

    /// <summary>True when the provider answered but had nothing usable.</summary>
    public bool IsNoData => Error is null && Value is null;

    private static IReadOnlyList<double> FiniteOnly(IReadOnlyList<double> series) =>
        series.All(double.IsFinite) ? series : series.Where(double.IsFinite).ToArray();
}

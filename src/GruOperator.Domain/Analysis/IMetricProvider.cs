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
    /// <summary>Requests served in the window, counted exactly (a <see cref="Measurement.Value"/>).</summary>
    RequestCount,

    /// <summary>Request latency as a <see cref="LatencyHistogram"/> of exact counts; the value is a p95 estimate in seconds.</summary>
    LatencyP95,

    /// <summary>Requests answered 5xx, as an <see cref="EventCount"/>.</summary>
    ErrorRate,

    /// <summary>Requests rejected as invalid input, as an <see cref="EventCount"/>.</summary>
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
/// The traffic one run judges: requests counted between <paramref name="Start"/> (exclusive) and
/// <paramref name="End"/> (inclusive). Consecutive runs get adjoining windows (the rollout's <c>RunAnalysis</c>
/// carries <c>Since</c> = the previous judged run, <c>Until</c> = now), so no request is judged twice and
/// <c>failureLimit: N</c> asks for N independent pieces of evidence.
/// </summary>
public sealed record AnalysisWindow(DateTimeOffset Start, DateTimeOffset End)
{
    /// <summary>The window from <paramref name="since"/> to <paramref name="until"/>; refuses an empty or inverted one.</summary>
    public static AnalysisWindow Between(DateTimeOffset since, DateTimeOffset until) =>
        until > since ? new(since, until) : throw new ArgumentOutOfRangeException(nameof(until), until, $"the window must end after it starts ({since:O})");

    /// <summary>How long the window is (what <c>{{window}}</c> renders to in custom queries).</summary>
    public TimeSpan Length => End - Start;
}

/// <summary>Where a metric comes from: a built-in SLI or a custom query template.</summary>
public abstract record MetricSource;

/// <summary>One of the SLIs derived from GruServer's metrics.</summary>
public sealed record BuiltInSli(Sli Sli) : MetricSource;

/// <summary>Output divergence of the canary from stable on mirrored requests, which stable's pods measure
/// (<see cref="DivergenceCounts"/>): always read from the stable track's series.</summary>
public sealed record BuiltInDivergence : MetricSource;

/// <summary>A user's PromQL with template values, from <c>analysis.metrics[].query</c>.</summary>
public sealed record CustomQuery(string Template) : MetricSource;

/// <summary>One measurement to take.</summary>
/// <param name="Name">Metric name as shown in status.</param>
/// <param name="Source">What to measure.</param>
/// <param name="Track">Whose series.</param>
/// <param name="Window">Over which time span.</param>
public sealed record MetricQuery(string Name, MetricSource Source, TrackSelector Track, AnalysisWindow Window);

/// <summary>
/// What a provider saw. <see cref="Value"/> null means "no data" (empty result, NaN, ±Inf) — never zero.
/// <see cref="Error"/> set means the measurement failed (backend down, query rejected, several series).
/// Built-in SLIs also carry their exact counts: <see cref="Histogram"/> for latency, <see cref="Events"/> for rates.
/// </summary>
public sealed record Measurement(double? Value, string? Error, IReadOnlyList<string> Warnings)
{
    /// <summary>Latency bucket counts over the window (latency only).</summary>
    public LatencyHistogram? Histogram { get; init; }

    /// <summary>Event and request counts over the window (error rates only).</summary>
    public EventCount? Events { get; init; }

    /// <summary>Divergence counts over the window (<see cref="BuiltInDivergence"/> only).</summary>
    public DivergenceCounts? Divergence { get; init; }

    /// <summary>A successful measurement of one number.</summary>
    public static Measurement Of(double? value, IReadOnlyList<string>? warnings = null) =>
        new(value is { } v && double.IsFinite(v) ? v : null, null, warnings ?? []);

    /// <summary>Latency counts; the value is the p95 estimate shown to humans.</summary>
    public static Measurement Of(LatencyHistogram histogram, IReadOnlyList<string>? warnings = null) =>
        Of(histogram.Quantile(0.95), warnings) with { Histogram = histogram };

    /// <summary>Event counts; the value is their rate (null without requests).</summary>
    public static Measurement Of(EventCount events, IReadOnlyList<string>? warnings = null) =>
        Of(events.Rate, warnings) with { Events = events };

    /// <summary>
    /// The query matched no series at all (not a zero count: nothing was scraped under that selector, e.g. a relabelling
    /// or scrape mistake); the judge names <paramref name="query"/> in its reason.
    /// </summary>
    public static Measurement NoSeries(string query, IReadOnlyList<string>? warnings = null) => Of((double?)null, warnings) with { UnmatchedQuery = query };

    /// <summary>Set when the measurement is no data because this query matched no series.</summary>
    public string? UnmatchedQuery { get; init; }

    /// <summary>A failed measurement with a one-line reason.</summary>
    public static Measurement Failed(string error, IReadOnlyList<string>? warnings = null) => new(null, error, warnings ?? []);

    /// <summary>True when the provider answered but had nothing usable.</summary>
    public bool IsNoData => Error is null && Value is null;
}

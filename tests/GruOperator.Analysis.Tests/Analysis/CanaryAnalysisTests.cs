using System.Collections.Concurrent;
using GruOperator.Domain.Analysis;
using GruServing.Contract.Serving;

namespace GruOperator.Analysis.Tests.Analysis;

public sealed class CanaryAnalysisTests
{
    /// <summary>A hand-written fake of the port: answers from a function and records what was asked.</summary>
    private sealed class FakeMetricProvider(Func<MetricQuery, Measurement> answer) : IMetricProvider
    {
        public ConcurrentBag<MetricQuery> Queries { get; } = [];

        public Task<Measurement> MeasureAsync(MetricQuery query, CancellationToken cancellationToken)
        {
            Queries.Add(query);
            return Task.FromResult(answer(query));
        }
    }

    private static readonly AnalysisWindow Window =
        AnalysisWindow.Between(new DateTimeOffset(2026, 11, 25, 9, 59, 30, TimeSpan.Zero), new DateTimeOffset(2026, 11, 25, 10, 0, 0, TimeSpan.Zero));

    private static AnalysisRequest Request(CanaryAnalysisSpec spec) =>
        new(new SloSpec(TimeSpan.FromMilliseconds(200), 0.01, null, 10), spec, "ml", "recs", "3", "4", Window);

    private static Measurement Healthy(MetricQuery q) => q.Source switch
    {
        BuiltInSli { Sli: Sli.RequestCount } => Measurement.Of(100),
        BuiltInSli { Sli: Sli.LatencyP95 } => Measurement.Of(Observations.Latency(100, 0.03)),
        BuiltInSli { Sli: Sli.ErrorRate } => Observations.Errors(0, 100),
        _ => Measurement.Of(0.5),
    };

    [Fact]
    public async Task Asks_each_track_for_each_planned_metric_with_its_revision()
    {
        var spec = CanaryAnalysisSpec.Default with { Metrics = [new("score", "avg(x{model=\"{{model}}\"})", new(0, 1))] };
        var provider = new FakeMetricProvider(Healthy);

        var run = await new CanaryAnalysis(provider, ComparisonPolicy.Default).RunAsync(Request(spec), CancellationToken.None);

        Assert.Equal(Verdict.Passed, run.Verdict);
        Assert.Equal(8, provider.Queries.Count); // requestCount, latencyP95, errorRate, score × 2 tracks
        Assert.All(provider.Queries, q => Assert.Equal(q.Track.Track == Track.Canary ? "4" : "3", q.Track.Revision));
        Assert.All(provider.Queries, q => Assert.Equal(("ml", "recs", Window), (q.Track.Namespace, q.Track.Model, q.Window)));
    }

    [Fact]
    public async Task The_second_look_measures_only_the_rate_slis_of_both_tracks_over_the_longer_window()
    {
        var longer = AnalysisWindow.Between(Window.Start - TimeSpan.FromSeconds(30), Window.End);
        var provider = new FakeMetricProvider(q => q.Source is BuiltInSli { Sli: Sli.ErrorRate } && q.Window == longer && q.Track.Track == Track.Canary
            ? Observations.Errors(12, 200)
            : Healthy(q));

        var run = await new CanaryAnalysis(provider, ComparisonPolicy.Default).RunAsync(Request(CanaryAnalysisSpec.Default) with { Evidence = longer }, CancellationToken.None);

        var second = provider.Queries.Where(q => q.Window == longer).ToArray();
        Assert.Equal(2, second.Length); // errorRate (the SLO sets no schema-error bound here) × 2 tracks
        Assert.All(second, q => Assert.Equal(MetricNames.ErrorRate, q.Name));
        Assert.Equal(Verdict.Failed, run.Verdict);
        Assert.Contains("over the last two windows", run.Metrics.Single(m => m.Name == MetricNames.ErrorRate).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_provider_that_throws_makes_the_run_inconclusive_not_passed()
    {
        var provider = new FakeMetricProvider(q => q.Name == MetricNames.ErrorRate ? throw new HttpRequestException("boom") : Healthy(q));

        var run = await new CanaryAnalysis(provider, ComparisonPolicy.Default).RunAsync(Request(CanaryAnalysisSpec.Default), CancellationToken.None);

        Assert.Equal(Verdict.Inconclusive, run.Verdict);
        Assert.Contains("HttpRequestException: boom", run.Metrics.Single(m => m.Name == MetricNames.ErrorRate).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Cancellation_is_not_swallowed()
    {
        using var cts = new CancellationTokenSource();
        await cts.CancelAsync();
        var provider = new FakeMetricProvider(_ => throw new OperationCanceledException(cts.Token));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(
            () => new CanaryAnalysis(provider, ComparisonPolicy.Default).RunAsync(Request(CanaryAnalysisSpec.Default), cts.Token));
    }
}

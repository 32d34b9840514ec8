using GruOperator.Domain.Analysis;
using GruOperator.Domain.Scaling;
using GruOperator.Providers.Prometheus;
using GruServing.Contract.Serving;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace GruOperator.Analysis.Tests.Integration;

/// <summary>The autoscaler's load readings from real GruServer processes under load, scraped by a real Prometheus.</summary>
[Collection(GruServerCollection.Name)]
public sealed class GruServerLoadTests(GruServerFixture fixture, ITestOutputHelper output) : IAsyncLifetime
{
    private readonly CancellationTokenSource _timeout = new(TimeSpan.FromMinutes(3));

    public Task InitializeAsync() => fixture.WaitForLoadedHistoryAsync(28, _timeout.Token);

    public Task DisposeAsync()
    {
        _timeout.Dispose();
        return Task.CompletedTask;
    }

    private async Task<LoadReading> Read(ScalingMetric metric, params (Track Track, string Revision)[] tracks)
    {
        var source = fixture.Services.GetRequiredService<PrometheusMetricProviderFactory>().CreateLoadSource(null);
        var reading = await source.ReadAsync(new LoadQuery(metric,
            tracks.Select(t => new TrackSelector(GruServerFixture.Namespace, GruServerFixture.Model, t.Track, t.Revision)).ToList(), DateTimeOffset.UtcNow), _timeout.Token);
        output.WriteLine($"{metric} {string.Join(",", tracks)}: {reading}");
        return reading;
    }

    [Fact]
    public async Task In_flight_requests_per_pod_follow_how_long_requests_take()
    {
        // Two workers each: 150 ms requests with 70 ms pauses keep about 1.4 in flight; fast ones almost none.
        var slow = await Read(ScalingMetric.InFlightRequests, (Track.Canary, "3"));
        var fast = await Read(ScalingMetric.InFlightRequests, (Track.Canary, "2"));

        Assert.Equal(1, slow.Pods);
        Assert.InRange(slow.PerPod!.Value, 0.7, 2.0);
        Assert.InRange(fast.PerPod!.Value, 0, 0.5);
    }

    [Fact]
    public async Task A_model_with_two_tracks_is_averaged_over_every_pod()
    {
        var both = await Read(ScalingMetric.InFlightRequests, (Track.Stable, "1"), (Track.Canary, "3"));
        var stable = await Read(ScalingMetric.InFlightRequests, (Track.Stable, "1"));
        var slow = await Read(ScalingMetric.InFlightRequests, (Track.Canary, "3"));

        Assert.Equal(2, both.Pods);
        Assert.InRange(both.PerPod!.Value, (stable.PerPod!.Value + slow.PerPod!.Value) / 2 - 0.3, (stable.PerPod.Value + slow.PerPod.Value) / 2 + 0.3);
    }

    [Fact]
    public async Task Queue_wait_is_the_mean_wait_of_the_windows_requests()
    {
        var wait = await Read(ScalingMetric.QueueWait, (Track.Stable, "1"));

        // Every request waits a little in the batcher (up to its 2 ms delay for a batch to fill), never seconds.
        Assert.Equal(1, wait.Pods);
        Assert.InRange(wait.PerPod!.Value, 0.00001, 0.5);
    }

    [Fact]
    public async Task A_revision_nothing_serves_is_no_value_naming_the_query()
    {
        var none = await Read(ScalingMetric.InFlightRequests, (Track.Canary, "99"));

        Assert.Null(none.PerPod);
        Assert.Contains("revision=\"99\"", none.Problem, StringComparison.Ordinal);
    }
}

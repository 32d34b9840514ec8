using GruOperator.Domain.Analysis;
using GruOperator.Domain.Scaling;
using GruOperator.Providers.Prometheus;
using GruServing.Contract.Serving;
using Microsoft.Extensions.DependencyInjection;

namespace GruOperator.Analysis.Tests.Prometheus;

/// <summary>The autoscaler's queries: built by the operator from the model's own labels, escaped and confined to its namespace.</summary>
public sealed class PrometheusLoadSourceTests
{
    private static readonly ServiceProvider Services = PrometheusServices.Build(new Uri("http://127.0.0.1:9"), new Dictionary<string, string?>
    {
        ["Prometheus:LoadWindow"] = "00:00:30", ["Prometheus:MaxRetries"] = "0", ["Prometheus:AttemptTimeout"] = "00:00:02",
    });

    private static PrometheusLoadSource Source() => (PrometheusLoadSource)Services.GetRequiredService<PrometheusMetricProviderFactory>().CreateLoadSource(null);

    public static TheoryData<ScalingMetric, string[]> Shapes => new()
    {
        { ScalingMetric.InFlightRequests, ["avg_over_time(gru_requests_in_flight{model=\"m\", track=\"canary\", revision=\"3\", namespace=\"ml\"}[30s])"] },
        { ScalingMetric.QueueWait, [
            "rate(gru_queue_wait_seconds_sum{model=\"m\", track=\"canary\", revision=\"3\", namespace=\"ml\"}[30s])",
            "rate(gru_queue_wait_seconds_count{model=\"m\", track=\"canary\", revision=\"3\", namespace=\"ml\"}[30s])"] },
    };

    [Theory]
    [MemberData(nameof(Shapes))]
    public void Each_metric_reads_the_tracks_own_series(ScalingMetric metric, string[] expected) =>
        Assert.Equal(expected, Source().Queries(metric, new TrackSelector("ml", "m", Track.Canary, "3")));

    [Theory]
    [InlineData("x\"} or vector(100) #")]
    [InlineData("x\", namespace=~\".+")]
    public void A_hostile_model_name_stays_one_label_value_and_the_namespace_is_the_models(string name)
    {
        var query = Source().Queries(ScalingMetric.InFlightRequests, new TrackSelector("team-a", name, Track.Stable, "1")).Single();

        // The name is escaped inside model="..."; outside that literal nothing of it is left, and the only namespace matcher is the model's own.
        var literal = "model=\"" + name.Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
        Assert.Contains(literal, query, StringComparison.Ordinal);
        var rest = query.Replace(literal, "", StringComparison.Ordinal);
        Assert.DoesNotContain("vector", rest, StringComparison.Ordinal);
        Assert.Single(System.Text.RegularExpressions.Regex.Matches(rest, "namespace"));
        Assert.EndsWith(", namespace=\"team-a\"}[30s])", query, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_Prometheus_is_no_value_with_the_reason_never_zero()
    {
        var reading = await Source().ReadAsync(
            new LoadQuery(ScalingMetric.InFlightRequests, [new TrackSelector("ml", "m", Track.Stable, "1")], DateTimeOffset.UtcNow), CancellationToken.None);

        Assert.Null(reading.PerPod);
        Assert.StartsWith("Reading the load from Prometheus failed:", reading.Problem, StringComparison.Ordinal);
    }
}

using System.Diagnostics;
using System.Globalization;
using System.Text;
using AnalysisBench;
using GruOperator.Domain.Analysis;
using GruOperator.Providers.Prometheus;
using GruServing.Contract.Serving;
using Microsoft.Extensions.DependencyInjection;
using TestSupport;

namespace GruOperator.Analysis.Tests.Prometheus;

/// <summary>
/// The analysis bench runs its seeds in process; this proves its model is real Prometheus semantics: the same
/// simulated samples, written as OpenMetrics with timestamps and backfilled with <c>promtool tsdb
/// create-blocks-from openmetrics</c> into a real Prometheus, read through the project's provider, give exactly the
/// measurements the in-process model gives, for every SLI, both tracks and many windows.
/// </summary>
public sealed class SimulatedPrometheusTests
{
    private const string Namespace = "sim";

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public async Task The_bench_model_reads_what_a_real_Prometheus_reads_from_the_same_samples(int seed)
    {
        using var cts = new CancellationTokenSource(TimeSpan.FromMinutes(3));
        var earlier = DateTimeOffset.UtcNow.AddHours(-4); // backfilled blocks must lie before the head's time range
        var start = new DateTimeOffset(earlier.Year, earlier.Month, earlier.Day, earlier.Hour, 0, 0, TimeSpan.Zero);
        var traffic = Simulate(seed, start);
        var work = Directory.CreateTempSubdirectory("gru-backfill-").FullName;
        try
        {
            var input = Path.Combine(work, "series.om");
            await File.WriteAllTextAsync(input, OpenMetrics(traffic), cts.Token);
            var storage = Path.Combine(work, "data");
            var (exit, output) = await RunAsync(InstalledBinary.Find("promtool", "prometheus"), ["tsdb", "create-blocks-from", "openmetrics", input, storage], cts.Token);
            Assert.True(exit == 0, $"promtool failed ({exit}): {output}");

            await using var prometheus = await PrometheusProcess.StartAsync([], cts.Token, storage);
            await using var services = PrometheusServices.Build(prometheus.Address);
            var real = services.GetRequiredService<PrometheusMetricProviderFactory>().Create(null);
            var model = new SimulatedPrometheus(traffic);
            var random = new Random(seed);
            int compared = 0, withTraffic = 0;
            for (var w = 0; w < 12; w++)
            {
                // Windows like the rollout's: 30-90 s, at any phase against the 15 s scrapes, some across the step changes.
                var since = start + TimeSpan.FromSeconds(random.Next(0, 780));
                var window = AnalysisWindow.Between(since, since + TimeSpan.FromSeconds(random.Next(30, 91)));
                foreach (var track in new[] { Track.Stable, Track.Canary })
                {
                    foreach (var sli in new[] { Sli.RequestCount, Sli.ErrorRate, Sli.LatencyP95 })
                    {
                        var query = new MetricQuery(sli.ToString(), new BuiltInSli(sli), new TrackSelector(Namespace, "m", track, track == Track.Canary ? "4" : "3"), window);
                        var expected = model.Measure(query);
                        var actual = await real.MeasureAsync(query, cts.Token);
                        var what = $"seed {seed}, {track} {sli} over {window.Start:HH:mm:ss}-{window.End:HH:mm:ss}";
                        Assert.True(actual.Error is null, $"{what}: {actual.Error}");
                        Assert.True(expected.Value == actual.Value, $"{what}: model {expected.Value}, Prometheus {actual.Value}");
                        Assert.Equal(expected.Events, actual.Events);
                        Assert.Equal(expected.Histogram?.Cumulative, actual.Histogram?.Cumulative);
                        compared++;
                        withTraffic += actual.Value > 0 ? 1 : 0;
                    }
                }
            }

            Assert.Equal(72, compared);
            Assert.True(withTraffic >= 40, $"only {withTraffic} of 72 comparisons saw traffic: the check would prove little");
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    /// <summary>13 minutes of a canary at 10%, then 50%, then 100% (stable's pods gone, their series ending); every pod scraped at its own phase.</summary>
    private static TrafficSimulation Simulate(int seed, DateTimeOffset start)
    {
        var behavior = new AnalysisBench.TrackBehavior(0.14, 0.35, 0.01);
        var traffic = new TrafficSimulation(seed, start, 40, behavior, behavior with { ErrorRate = 0.03 }, []);
        traffic.AdvanceTo(start.AddMinutes(5), stablePods: 10, canaryPods: 1, canaryShare: 1 / 11.0);
        traffic.AdvanceTo(start.AddMinutes(10), stablePods: 5, canaryPods: 5, canaryShare: 0.5);
        traffic.AdvanceTo(start.AddMinutes(13), stablePods: 0, canaryPods: 10, canaryShare: 1);
        return traffic;
    }

    /// <summary>
    /// The samples as GruServer's metrics with timestamps, one series per pod (each with its own scrape times):
    /// 2xx and 5xx request counters, the latency histogram.
    /// </summary>
    private static string OpenMetrics(TrafficSimulation traffic)
    {
        var text = new StringBuilder();
        var pods = new[] { ("stable", "3", traffic.Stable), ("canary", "4", traffic.Canary) }
            .SelectMany(t => t.Item3.Pods.Select((pod, i) => (Labels: $"namespace=\"{Namespace}\",model=\"m\",track=\"{t.Item1}\",revision=\"{t.Item2}\",pod=\"{t.Item1}-{i}\"", Pod: pod)))
            .ToArray();
        text.Append("# TYPE gru_requests counter\n");
        foreach (var (labels, pod) in pods)
        {
            foreach (var code in new[] { "200", "500" })
            {
                for (var i = 0; i < pod.Times.Count; i++)
                {
                    var (requests, errors, _) = pod.Samples[i];
                    text.Append(CultureInfo.InvariantCulture,
                        $"gru_requests_total{{{labels},code=\"{code}\"}} {(code == "200" ? requests - errors : errors)} {Seconds(pod.Times[i])}\n");
                }
            }
        }

        text.Append("# TYPE gru_request_duration_seconds histogram\n");
        foreach (var (labels, pod) in pods)
        {
            for (var i = 0; i < pod.Times.Count; i++)
            {
                long cumulative = 0;
                for (var b = 0; b < TrafficSimulation.Bounds.Length; b++)
                {
                    cumulative += pod.Samples[i].Buckets[b];
                    var le = double.IsPositiveInfinity(TrafficSimulation.Bounds[b]) ? "+Inf" : TrafficSimulation.Bounds[b].ToString("R", CultureInfo.InvariantCulture);
                    text.Append(CultureInfo.InvariantCulture, $"gru_request_duration_seconds_bucket{{{labels},le=\"{le}\"}} {cumulative} {Seconds(pod.Times[i])}\n");
                }

                text.Append(CultureInfo.InvariantCulture, $"gru_request_duration_seconds_count{{{labels}}} {cumulative} {Seconds(pod.Times[i])}\n");
                text.Append(CultureInfo.InvariantCulture, $"gru_request_duration_seconds_sum{{{labels}}} 0 {Seconds(pod.Times[i])}\n");
            }
        }

        return text.Append("# EOF\n").ToString();
    }

    private static string Seconds(DateTimeOffset time) => (time.ToUnixTimeMilliseconds() / 1000.0).ToString("0.###", CultureInfo.InvariantCulture);

    private static async Task<(int Exit, string Output)> RunAsync(string binary, string[] arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(binary) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {binary}");
        var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
        var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
        await process.WaitForExitAsync(cancellationToken);
        return (process.ExitCode, await stdout + await stderr);
    }
}

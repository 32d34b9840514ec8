using System.Diagnostics.Metrics;
using ControllerRuntime.Metrics;
using ControllerRuntime.Tests.Support;

namespace ControllerRuntime.Tests.Metrics;

public sealed class PrometheusTextExporterTests
{
    [Fact]
    public void RendersCountersHistogramsAndGaugesOfItsOwnScopeOnly()
    {
        using var mine = new TestMeterFactory();
        using var other = new TestMeterFactory();
        using var exporter = new PrometheusTextExporter(mine, "Demo");
        var meter = mine.Create(new MeterOptions("Demo"));
        var counter = meter.CreateCounter<long>("demo_requests_total", description: "Requests.");
        var histogram = meter.CreateHistogram<double>("demo_latency", unit: "s", advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.1, 1] });
        var depth = 7;
        meter.CreateObservableGauge("demo_depth", () => depth);
        other.Create(new MeterOptions("Demo")).CreateCounter<long>("demo_requests_total").Add(100, new KeyValuePair<string, object?>("code", "500"));

        counter.Add(2, new KeyValuePair<string, object?>("code", "200"));
        counter.Add(3, new KeyValuePair<string, object?>("code", "200"));
        histogram.Record(0.05);
        histogram.Record(0.5);
        histogram.Record(5);

        var lines = exporter.Render().Split('\n');
        Assert.Contains("# TYPE demo_requests_total counter", lines);
        Assert.Contains("demo_requests_total{code=\"200\"} 5", lines);
        Assert.DoesNotContain(lines, l => l.Contains("code=\"500\"", StringComparison.Ordinal));
        Assert.Contains("demo_latency_seconds_bucket{le=\"0.1\"} 1", lines);
        Assert.Contains("demo_latency_seconds_bucket{le=\"1\"} 2", lines);
        Assert.Contains("demo_latency_seconds_bucket{le=\"+Inf\"} 3", lines);
        Assert.Contains("demo_latency_seconds_count 3", lines);
        Assert.Contains("demo_depth 7", lines);

        depth = 2;
        Assert.Contains("demo_depth 2", exporter.Render().Split('\n'));
    }
}

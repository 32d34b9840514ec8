using GruOperator.Domain.Analysis;

namespace GruOperator.Analysis.Tests.Analysis;

public sealed class AnalysisSpecValidationTests
{
    private static readonly SloSpec Slo = new(TimeSpan.FromMilliseconds(200), 0.01, 0.05, 50);

    public static TheoryData<string, SloSpec, CanaryAnalysisSpec, string?> Specs => new()
    {
        { "defaults are valid", Slo, CanaryAnalysisSpec.Default, null },
        { "negative latency", Slo with { LatencyP95 = TimeSpan.FromMilliseconds(-1) }, CanaryAnalysisSpec.Default, "spec.slo.latencyP95" },
        { "error rate above 1", Slo with { ErrorRate = 1.5 }, CanaryAnalysisSpec.Default, "spec.slo.errorRate" },
        { "NaN schema error rate", Slo with { InputSchemaErrorRate = double.NaN }, CanaryAnalysisSpec.Default, "spec.slo.inputSchemaErrorRate" },
        { "zero minRequests", Slo with { MinRequests = 0 }, CanaryAnalysisSpec.Default, "spec.slo.minRequests" },
        { "sub-second interval", Slo, CanaryAnalysisSpec.Default with { Interval = TimeSpan.FromMilliseconds(10) }, "analysis.interval" },
        { "zero failureLimit", Slo, CanaryAnalysisSpec.Default with { FailureLimit = 0 }, "analysis.failureLimit" },
        { "zero inconclusiveLimit", Slo, CanaryAnalysisSpec.Default with { InconclusiveLimit = 0 }, "analysis.inconclusiveLimit" },
        { "metric without a name", Slo, WithMetric(new("", "up", new(0, 1))), "metrics[0].name" },
        { "metric named like a built-in", Slo, WithMetric(new("errorRate", "up", new(0, 1))), "metrics[0].name 'errorRate'" },
        { "metric without a query", Slo, WithMetric(new("m", " ", new(0, 1))), "metrics[0].query" },
        { "metric without bounds", Slo, WithMetric(new("m", "up", new(null, null))), "metrics[0].thresholdRange" },
        { "metric with min above max", Slo, WithMetric(new("m", "up", new(2, 1))), "metrics[0].thresholdRange.min" },
        { "metric with an infinite bound", Slo, WithMetric(new("m", "up", new(double.NegativeInfinity, 1))), "metrics[0].thresholdRange" },
    };

    private static CanaryAnalysisSpec WithMetric(CustomMetricSpec metric) => CanaryAnalysisSpec.Default with { Metrics = [metric] };

    [Theory]
    [MemberData(nameof(Specs))]
    public void Names_the_field_to_fix(string scenario, SloSpec slo, CanaryAnalysisSpec spec, string? field)
    {
        var errors = AnalysisSpecValidation.Validate(slo, spec);

        if (field is null)
        {
            Assert.True(errors.Count == 0, $"{scenario}: {string.Join("; ", errors)}");
        }
        else
        {
            var error = Assert.Single(errors);
            Assert.Contains(field, error, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Duplicate_metric_names_are_refused()
    {
        var spec = CanaryAnalysisSpec.Default with { Metrics = [new("m", "up", new(0, 1)), new("m", "up", new(0, 1))] };

        var error = Assert.Single(AnalysisSpecValidation.Validate(Slo, spec));

        Assert.Contains("metrics[1].name 'm' is used twice", error, StringComparison.Ordinal);
    }
}

using System.Text.RegularExpressions;
using GruServing.Contract.Durations;

namespace GruServing.Contract.Tests.Durations;

/// <summary>The CRD's duration pattern and the parser GruServer and the operator use accept exactly the same texts.</summary>
public sealed class GoDurationTests
{
    private static readonly Regex CrdPattern = new(CrdSchema.At("serving.batching.maxQueueDelay").Pattern);

    // Every duration field of the CRD, by path: a new one must be added here and carry the one grammar.
    private static readonly string[] DurationFields =
    [
        "serving.batching.maxQueueDelay", "serving.sessions.idleTimeout", "serving.sessions.drainTimeout", "slo.latencyP95",
        "rollout.canary.steps.[].pause", "rollout.canary.analysis.interval", "rollout.canary.progressDeadline",
        "integrity.verifyInterval",
        "serving.autoscaling.behavior.scaleUp.stabilizationWindow", "serving.autoscaling.behavior.scaleUp.period",
        "serving.autoscaling.behavior.scaleDown.stabilizationWindow", "serving.autoscaling.behavior.scaleDown.period",
    ];

    /// <summary>Text, accepted, milliseconds when accepted.</summary>
    public static TheoryData<string, bool, double> Rows => new()
    {
        { "2ms", true, 2 },
        { "0ms", true, 0 },
        { "0s", true, 0 },
        { "30s", true, 30_000 },
        { "5m", true, 300_000 },
        { "1h", true, 3_600_000 },
        { "1h30m", true, 5_400_000 },
        { "1.5h", true, 5_400_000 },
        { "2s500ms", true, 2_500 },
        { "0.25s", true, 250 },
        { "10m10m", true, 1_200_000 },
        { "", false, 0 },
        { "0", false, 0 },
        { "10", false, 0 },
        { "5d", false, 0 },
        { "5us", false, 0 },
        { "5ns", false, 0 },
        { "m5", false, 0 },
        { "1..5s", false, 0 },
        { ".5s", false, 0 },
        { "5.s", false, 0 },
        { "-1s", false, 0 },
        { "+1s", false, 0 },
        { "2 ms", false, 0 },
        { " 2ms", false, 0 },
        { "2ms ", false, 0 },
        { "2MS", false, 0 },
        { "1e3ms", false, 0 },
        { "NaNs", false, 0 },
        { "1h 30m", false, 0 },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void PatternAndParserAgree(string text, bool accepted, double milliseconds)
    {
        Assert.Equal(accepted, CrdPattern.IsMatch(text));
        Assert.Equal(accepted, GoDuration.TryParse(text, out var value, out var error));
        if (accepted)
        {
            Assert.Equal(milliseconds, value.TotalMilliseconds);
        }
        else
        {
            Assert.False(string.IsNullOrEmpty(error));
        }
    }

    [Fact]
    public void EveryCrdDurationFieldCarriesTheOneGrammar()
    {
        foreach (var field in DurationFields)
        {
            Assert.Equal(GoDuration.Pattern, CrdSchema.At(field).Pattern);
        }
        // And no other field uses it: a duration field missing from the list above fails here.
        Assert.Equal(
            DurationFields.Order(StringComparer.Ordinal),
            CrdSchema.Patterns().Where(p => p.Pattern == GoDuration.Pattern).Select(p => p.Path).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData(0, "0s")]
    [InlineData(5, "5ms")]
    [InlineData(5_000, "5s")]
    [InlineData(600_000, "10m")]
    [InlineData(5_400_000, "1h30m")]
    [InlineData(2_500, "2s500ms")]
    public void FormatWritesWhatTheParserReadsBack(double milliseconds, string text)
    {
        var value = TimeSpan.FromMilliseconds(milliseconds);

        Assert.Equal(text, GoDuration.Format(value));
        Assert.Matches(CrdPattern, text);
        Assert.True(GoDuration.TryParse(text, out var back, out _));
        Assert.Equal(value, back);
    }
}

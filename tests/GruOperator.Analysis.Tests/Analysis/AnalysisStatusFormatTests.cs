using GruOperator.Domain.Analysis;

namespace GruOperator.Analysis.Tests.Analysis;

public sealed class AnalysisStatusFormatTests
{
    [Theory]
    [InlineData(0.081, "0.081")]
    [InlineData(0.2, "0.2")]
    [InlineData(522.105263, "522.105263")]
    [InlineData(0.00012345678, "0.000123")]
    [InlineData(0, "0")]
    [InlineData(-1.5, "-1.5")]
    public void Numbers_are_invariant_and_short(double value, string expected)
    {
        Assert.Equal(expected, AnalysisStatusFormat.Number(value));
    }

    [Theory]
    [InlineData(0.5, "0.5")]
    [InlineData(0.01234, "0.0123")]
    [InlineData(0.00001, "<0.0001")]
    [InlineData(0.0, "<0.0001")]
    public void P_values_never_read_as_zero(double p, string expected)
    {
        Assert.Equal(expected, AnalysisStatusFormat.PValue(p));
    }

    public static TheoryData<ThresholdRange?, string?> Thresholds => new()
    {
        { new ThresholdRange(null, 0.2), "0.2" },
        { new ThresholdRange(50, null), ">=50" },
        { new ThresholdRange(0.1, 0.9), "0.1..0.9" },
        { null, null },
    };

    [Theory]
    [MemberData(nameof(Thresholds))]
    public void Thresholds_read_like_the_spec(ThresholdRange? range, string? expected)
    {
        Assert.Equal(expected, AnalysisStatusFormat.Threshold(range));
    }

    [Fact]
    public void Missing_values_stay_missing()
    {
        Assert.Null(AnalysisStatusFormat.Number(null));
        Assert.Null(AnalysisStatusFormat.PValue(null));
    }
}

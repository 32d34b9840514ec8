using GruServer.Inference;
using GruServer.Mirroring;

namespace GruServer.Tests.Mirroring;

/// <summary>The per-output comparison: max abs/rel difference, NaN, arg-max on [batch, classes], and refusals of
/// outputs that cannot be compared.</summary>
public sealed class OutputDivergenceTests
{
    public static TheoryData<string, long[], double[], double[], double, double, bool?> Cases => new()
    {
        { "identical", [2, 3], [0.1, 0.2, 0.7, 0.5, 0.3, 0.2], [0.1, 0.2, 0.7, 0.5, 0.3, 0.2], 0, 0, true },
        { "small shift keeps arg-max", [1, 3], [0.1, 0.2, 0.7], [0.1, 0.2, 0.6], 0.1, 0.1 / 0.7, true },
        { "arg-max flips on the second row", [2, 2], [1, 0, 0, 1], [1, 0, 1, 0], 1, 1, false },
        { "rank 3 has no arg-max", [1, 2, 2], [1, 2, 3, 4], [1, 2, 3, 5], 1, 0.2, null },
        { "one class has no arg-max", [3, 1], [1, 2, 3], [1, 2, 3], 0, 0, null },
        { "both zero is no difference", [1, 2], [0, 1], [0, 1], 0, 0, true },
        { "opposite signs are the largest relative difference", [1, 2], [1, 0], [-1, 0], 2, 2, false },
        { "NaN on one side only", [1, 2], [double.NaN, 1], [0, 1], double.PositiveInfinity, 2, false },
        { "NaN on both sides", [1, 2], [double.NaN, 1], [double.NaN, 1], 0, 0, true },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void DifferenceOfTwoOutputs(string why, long[] shape, double[] stable, double[] canary, double maxAbs, double maxRel, bool? agrees)
    {
        var difference = OutputDivergence.Difference("y", shape, stable, canary);

        Assert.True(maxAbs == difference.MaxAbs || Math.Abs(maxAbs - difference.MaxAbs) < 1e-12, $"{why}: max abs {difference.MaxAbs}, expected {maxAbs}");
        Assert.True(Math.Abs(maxRel - difference.MaxRel) < 1e-12, $"{why}: max rel {difference.MaxRel}, expected {maxRel}");
        Assert.Equal(agrees, difference.ArgMaxAgrees);
    }

    [Fact]
    public void ComparesEveryStableOutputByNameWhateverTheCanarysOrder()
    {
        NamedTensor[] stable = [new("a", TensorDataType.FP32, [1, 2], new float[] { 1, 2 }), new("b", TensorDataType.INT64, [2], new long[] { 3, 4 })];
        ComparedTensor[] canary = [new("b", [2], [3, 6]), new("a", [1, 2], [1, 2.5])];

        var differences = OutputDivergence.Compare(stable, canary, out var problem);

        Assert.Null(problem);
        Assert.NotNull(differences);
        Assert.Equal(["a", "b"], differences.Select(d => d.Output));
        Assert.Equal(0.5, differences[0].MaxAbs, 6);
        Assert.Equal(2, differences[1].MaxAbs, 6);
    }

    [Fact]
    public void ReadsOnlyTheShapesElementsOfALongerPooledArray()
    {
        NamedTensor[] stable = [new("a", TensorDataType.FP32, [1, 2], new float[] { 1, 2, 99, 99 })];

        var differences = OutputDivergence.Compare(stable, [new ComparedTensor("a", [1, 2], [1, 2])], out _);

        Assert.Equal(0, differences![0].MaxAbs);
    }

    [Theory]
    [InlineData("missing", "did not return output 'a'")]
    [InlineData("shape", "has shape [2,1] on the canary but [1,2] on stable")]
    public void RefusesOutputsItCannotCompare(string kind, string message)
    {
        NamedTensor[] stable = [new("a", TensorDataType.FP32, [1, 2], new float[] { 1, 2 })];
        ComparedTensor[] canary = kind == "missing" ? [new("b", [1, 2], [1, 2])] : [new("a", [2, 1], [1, 2])];

        Assert.Null(OutputDivergence.Compare(stable, canary, out var problem));
        Assert.Contains(message, problem, StringComparison.Ordinal);
    }
}

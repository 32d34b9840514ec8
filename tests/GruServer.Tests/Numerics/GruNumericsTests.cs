using GruOnnx.Models;
using GruOnnx.Writing;
using Microsoft.ML.OnnxRuntime;

namespace GruServer.Tests.Numerics;

/// <summary>ONNX Runtime's outputs for every GRU variant GruOnnx writes agree with the reference GRU to 1e-4.</summary>
public sealed class GruNumericsTests
{
    private const double Tolerance = 1e-4;

    public static TheoryData<string, GruModelSpec, int[]?> Variants => new()
    {
        { "forward, linear_before_reset=0", new GruModelSpec(5, 7, Seed: 1), null },
        { "forward, linear_before_reset=1", new GruModelSpec(5, 7, LinearBeforeReset: true, Seed: 2), null },
        { "reverse", new GruModelSpec(5, 7, Direction: GruDirection.Reverse, Seed: 3), null },
        { "reverse, linear_before_reset=1", new GruModelSpec(5, 7, Direction: GruDirection.Reverse, LinearBeforeReset: true, Seed: 4), null },
        { "bidirectional", new GruModelSpec(5, 7, Direction: GruDirection.Bidirectional, Seed: 5), null },
        { "stacked 3 layers", new GruModelSpec(5, 7, Layers: 3, Seed: 6), null },
        { "stacked bidirectional, linear_before_reset=1", new GruModelSpec(5, 6, Layers: 2, Direction: GruDirection.Bidirectional, LinearBeforeReset: true, Seed: 7), null },
        { "dense head", new GruModelSpec(5, 7, DenseOutputs: 3, Seed: 8), null },
        { "masked forward", new GruModelSpec(5, 7, SequenceLengths: true, Seed: 9), [6, 2, 4] },
        { "masked reverse", new GruModelSpec(5, 7, Direction: GruDirection.Reverse, SequenceLengths: true, Seed: 10), [6, 1, 3] },
        { "masked bidirectional stacked with head", new GruModelSpec(5, 7, Layers: 2, Direction: GruDirection.Bidirectional, SequenceLengths: true, DenseOutputs: 2, Seed: 11), [3, 6, 5] },
        { "masked, linear_before_reset=1, head", new GruModelSpec(5, 7, LinearBeforeReset: true, SequenceLengths: true, DenseOutputs: 4, Seed: 12), [2, 6, 1] },
    };

    [Theory]
    [MemberData(nameof(Variants))]
    public void OnnxRuntimeMatchesTheReferenceGru(string variant, GruModelSpec spec, int[]? lengths)
    {
        const int batch = 3, steps = 6;
        var model = GruModel.Create(spec);
        var x = Inputs(batch * steps * spec.InputSize, spec.Seed + 100);

        using var session = new InferenceSession(GruOnnxWriter.ToBytes(model));
        using var input = OrtValue.CreateTensorValueFromMemory(x, [batch, steps, spec.InputSize]);
        using var lengthsValue = lengths is null ? null : OrtValue.CreateTensorValueFromMemory(lengths, [batch]);
        var names = lengths is null ? new[] { GruModelNames.Input } : [GruModelNames.Input, GruModelNames.SequenceLengths];
        var values = lengthsValue is null ? new[] { input } : [input, lengthsValue];
        using var results = session.Run(new RunOptions(), names, values, [GruModelNames.Output, GruModelNames.Hidden]);

        var (expectedOutput, expectedHidden) = ReferenceGru.Run(model, x, batch, steps, lengths);
        AssertClose(variant, "output", expectedOutput, results[0].GetTensorDataAsSpan<float>().ToArray());
        AssertClose(variant, "hidden", expectedHidden, results[1].GetTensorDataAsSpan<float>().ToArray());
        long[] expectedShape = spec.DenseOutputs > 0 ? [batch, spec.DenseOutputs] : [batch, steps, spec.LayerOutputSize];
        Assert.Equal(expectedShape, results[0].GetTensorTypeAndShape().Shape);
    }

    [Fact]
    public void PaddingDoesNotLeakIntoMaskedResults()
    {
        // The classic serving bug: a short sequence padded to the batch's length must give the same answer
        // as the short sequence alone. Padding here is large noise, so any leak would show.
        var spec = new GruModelSpec(4, 6, Direction: GruDirection.Bidirectional, SequenceLengths: true, DenseOutputs: 2, Seed: 21);
        using var session = new InferenceSession(GruOnnxWriter.ToBytes(GruModel.Create(spec)));
        var shortSequence = Inputs(3 * spec.InputSize, 5);
        var padded = shortSequence.Concat(Enumerable.Repeat(9f, 4 * spec.InputSize)).ToArray();

        var alone = RunHead(session, shortSequence, steps: 3, length: 3);
        var withPadding = RunHead(session, padded, steps: 7, length: 3);

        Assert.Equal(alone.Length, withPadding.Length);
        for (var i = 0; i < alone.Length; i++)
        {
            Assert.True(Math.Abs(alone[i] - withPadding[i]) < 1e-6, $"output[{i}]: alone {alone[i]}, padded {withPadding[i]}");
        }
    }

    [Fact]
    public void SameSpecWritesIdenticalBytes()
    {
        var spec = new GruModelSpec(3, 4, Layers: 2, Seed: 99);
        Assert.Equal(GruOnnxWriter.ToBytes(GruModel.Create(spec)), GruOnnxWriter.ToBytes(GruModel.Create(spec)));
        Assert.NotEqual(GruOnnxWriter.ToBytes(GruModel.Create(spec)), GruOnnxWriter.ToBytes(GruModel.Create(spec with { Seed = 100 })));
    }

    [Fact]
    public void TheCommittedSampleModelIsWhatGruModelWritesForItsDocumentedFlags()
    {
        // docs/models.md: --input-size 8 --hidden-size 32 --layers 2 --linear-before-reset --sequence-lengths --dense-outputs 4 --seed 42
        var spec = new GruModelSpec(8, 32, Layers: 2, LinearBeforeReset: true, SequenceLengths: true, DenseOutputs: 4, Seed: 42);

        Assert.Equal(GruOnnxWriter.ToBytes(GruModel.Create(spec)), File.ReadAllBytes(TestSupport.Repository.SampleModelPath));
    }

    private static float[] RunHead(InferenceSession session, float[] x, int steps, int length)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(x, [1, steps, 4]);
        using var lengths = OrtValue.CreateTensorValueFromMemory(new[] { length }, [1]);
        using var results = session.Run(new RunOptions(), [GruModelNames.Input, GruModelNames.SequenceLengths], [input, lengths], [GruModelNames.Output]);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private static float[] Inputs(int count, int seed)
    {
        var random = new Random(seed);
        return [.. Enumerable.Range(0, count).Select(_ => (float)(random.NextDouble() * 4 - 2))];
    }

    private static void AssertClose(string variant, string output, double[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        var worst = expected.Zip(actual, (e, a) => Math.Abs(e - a)).Max();
        Assert.True(worst <= Tolerance, $"{variant}: '{output}' differs from the reference GRU by {worst:E2} (tolerance {Tolerance:E0}).");
    }
}

using System.Security.Cryptography;
using GruOnnx.Models;
using GruOnnx.Writing;
using GruServer.Tests.Numerics;
using Microsoft.ML.OnnxRuntime;

namespace GruServer.Tests.Models;

/// <summary>The variants gru-model writes for divergence canaries: SwappedGates computes something else by a wide
/// margin, Rounded8Bit stays within the 8-bit rounding's reach of the reference, and both run in ONNX Runtime.</summary>
public sealed class GruModelVariantTests
{
    private const int Batch = 4, Steps = 6;

    public static TheoryData<string, GruModelSpec> Specs => new()
    {
        { "dense head (the lane's shape)", new GruModelSpec(4, 8, SequenceLengths: true, DenseOutputs: 2, Seed: 7) },
        { "stacked bidirectional per-step output", new GruModelSpec(5, 6, Layers: 2, Direction: GruDirection.Bidirectional, Seed: 3) },
        { "linear_before_reset", new GruModelSpec(3, 16, LinearBeforeReset: true, Seed: 5) },
    };

    [Theory]
    [MemberData(nameof(Specs))]
    public void SwappedGatesDivergeWidelyYetMatchTheReferenceGruOfTheirOwnWeights(string why, GruModelSpec spec)
    {
        var reference = GruModel.Create(spec);
        var swapped = GruModelVariants.Apply(reference, GruModelVariant.SwappedGates);

        var (expected, actual) = (Run(reference, spec), Run(swapped, spec));

        // Measured: 0.035 with the dense head, 0.17 per step; 8-bit rounding moves the same outputs by 0.001-0.004.
        Assert.True(MaxAbs(expected, actual) > 0.02, $"{why}: swapped gates moved the output by only {MaxAbs(expected, actual)}");
        var rounded = MaxAbs(expected, Run(GruModelVariants.Apply(reference, GruModelVariant.Rounded8Bit), spec));
        Assert.True(MaxAbs(expected, actual) > 10 * rounded, $"{why}: swapped gates ({MaxAbs(expected, actual)}) are not clearly apart from 8-bit rounding ({rounded})");
        // ONNX Runtime runs the swapped weights as the reference GRU would: the divergence is in the numbers, not a broken graph.
        var own = ReferenceGru.Run(swapped, Inputs(spec), Batch, Steps, spec.SequenceLengths ? Lengths() : null).Output;
        Assert.True(MaxAbs(own, actual) < 1e-4, $"{why}: ONNX Runtime and the reference disagree on the swapped model by {MaxAbs(own, actual)}");
        Assert.Equal(expected.Length, actual.Length);
    }

    [Theory]
    [MemberData(nameof(Specs))]
    public void Rounded8BitStaysWithinTheRoundingsReach(string why, GruModelSpec spec)
    {
        var reference = GruModel.Create(spec);
        var rounded = GruModelVariants.Apply(reference, GruModelVariant.Rounded8Bit);

        var difference = MaxAbs(Run(reference, spec), Run(rounded, spec));

        Assert.True(difference > 1e-6, $"{why}: rounding changed nothing ({difference})");
        Assert.True(difference < 0.01, $"{why}: rounding moved the output by {difference}, more than 8-bit rounding should");
    }

    [Fact]
    public void RoundingKeepsAtMost255LevelsPerTensorEachWithinHalfAStep()
    {
        var model = GruModel.Create(new GruModelSpec(6, 12, DenseOutputs: 3, Seed: 9));
        var rounded = GruModelVariants.Apply(model, GruModelVariant.Rounded8Bit);
        var pairs = model.Layers.Zip(rounded.Layers).SelectMany(p => p.First.Directions.Zip(p.Second.Directions))
            .SelectMany(d => new[] { (d.First.W, d.Second.W), (d.First.R, d.Second.R), (d.First.Wb, d.Second.Wb), (d.First.Rb, d.Second.Rb) })
            .Append((model.Head!.Weight, rounded.Head!.Weight));

        foreach (var (original, quantized) in pairs)
        {
            var step = original.Max(Math.Abs) / GruModelVariants.Int8Levels;
            Assert.InRange(quantized.Distinct().Count(), 2, 255);
            Assert.All(original.Zip(quantized), p => Assert.InRange(Math.Abs(p.First - p.Second), 0, (step / 2) + 1e-7));
            Assert.Equal(original.Max(Math.Abs), quantized.Max(Math.Abs), 6); // the extreme value is a level itself
        }
    }

    [Fact]
    public void SwapExchangesExactlyTheUpdateAndResetBlocks()
    {
        float[] gates = [1, 2, 3, 4, 5, 6];

        Assert.Equal([3, 4, 1, 2, 5, 6], GruModelVariants.SwapZr(gates, hidden: 2));
        Assert.Equal(gates, GruModelVariants.SwapZr(GruModelVariants.SwapZr(gates, 2), 2));
        Assert.Throws<ArgumentException>(() => GruModelVariants.SwapZr([1, 2, 3, 4], 2));
    }

    [Theory]
    [InlineData("SwappedGates")]
    [InlineData("Rounded8Bit")]
    public async Task TheCommandWritesTheVariantAndSaysSo(string variant)
    {
        var reference = Path.Combine(Path.GetTempPath(), $"variant-ref-{Guid.NewGuid():N}.onnx");
        var path = Path.Combine(Path.GetTempPath(), $"variant-{Guid.NewGuid():N}.onnx");
        string[] flags = ["--input-size", "4", "--hidden-size", "8", "--sequence-lengths", "--dense-outputs", "2", "--seed", "7"];

        var (referenceExit, _, _) = await TestSupport.GruModelCommand.RunAsync(["--output", reference, .. flags]);
        var (exit, stdout, stderr) = await TestSupport.GruModelCommand.RunAsync(["--output", path, .. flags, "--variant", variant]);

        Assert.Equal(0, referenceExit);
        Assert.True(exit == 0, stderr);
        Assert.Contains($"variant={variant}", stdout, StringComparison.Ordinal);
        var expected = GruOnnxWriter.ToBytes(GruModelVariants.Apply(GruModel.Create(new GruModelSpec(4, 8, SequenceLengths: true, DenseOutputs: 2, Seed: 7)), Enum.Parse<GruModelVariant>(variant)));
        Assert.Equal(SHA256.HashData(expected), SHA256.HashData(await File.ReadAllBytesAsync(path)));
        Assert.NotEqual(SHA256.HashData(await File.ReadAllBytesAsync(reference)), SHA256.HashData(await File.ReadAllBytesAsync(path)));
    }

    [Fact]
    public async Task TheCommandRefusesAnUnknownVariant()
    {
        var (exit, stdout, stderr) = await TestSupport.GruModelCommand.RunAsync(["--output", Path.Combine(Path.GetTempPath(), "never.onnx"), "--variant", "Float16"]);

        Assert.NotEqual(0, exit);
        Assert.Contains("Float16", stdout + stderr, StringComparison.Ordinal);
    }

    private static float[] Inputs(GruModelSpec spec)
    {
        var random = new Random(spec.Seed + 300);
        return [.. Enumerable.Range(0, Batch * Steps * spec.InputSize).Select(_ => (float)(random.NextDouble() * 2 - 1))];
    }

    private static int[] Lengths() => [6, 3, 5, 1];

    private static float[] Run(GruModel model, GruModelSpec spec)
    {
        using var session = new InferenceSession(GruOnnxWriter.ToBytes(model));
        using var input = OrtValue.CreateTensorValueFromMemory(Inputs(spec), [Batch, Steps, spec.InputSize]);
        using var lengths = spec.SequenceLengths ? OrtValue.CreateTensorValueFromMemory(Lengths(), [Batch]) : null;
        var names = lengths is null ? new[] { GruModelNames.Input } : [GruModelNames.Input, GruModelNames.SequenceLengths];
        var values = lengths is null ? new[] { input } : [input, lengths];
        using var results = session.Run(new RunOptions(), names, values, [GruModelNames.Output]);
        return results[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private static double MaxAbs(IReadOnlyList<double> a, IReadOnlyList<float> b) => a.Zip(b).Max(p => Math.Abs(p.First - p.Second));

    private static double MaxAbs(IReadOnlyList<float> a, IReadOnlyList<float> b) => a.Zip(b).Max(p => (double)Math.Abs(p.First - p.Second));
}

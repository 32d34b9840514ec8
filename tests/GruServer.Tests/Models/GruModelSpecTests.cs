using GruOnnx.Models;

namespace GruServer.Tests.Models;

public sealed class GruModelSpecTests
{
    public static TheoryData<string, GruModelSpec, string> Invalid => new()
    {
        { "zero input size", new GruModelSpec(0, 8), "InputSize must be between 1 and 8192, got 0" },
        { "huge hidden size", new GruModelSpec(8, 100_000), "HiddenSize must be between 1 and 8192, got 100000" },
        { "no layers", new GruModelSpec(8, 8, Layers: 0), "Layers must be between 1 and 64, got 0" },
        { "negative head", new GruModelSpec(8, 8, DenseOutputs: -1), "DenseOutputs must be between 0 and 8192, got -1" },
        { "undefined direction", new GruModelSpec(8, 8, Direction: (GruDirection)7), "Direction must be Forward, Reverse or Bidirectional" },
    };

    [Theory]
    [MemberData(nameof(Invalid))]
    public void RejectsSpecsOutOfRangeNamingTheField(string scenario, GruModelSpec spec, string message)
    {
        var error = Assert.Throws<ArgumentException>(spec.Validate);
        Assert.True(error.Message.Contains(message, StringComparison.Ordinal), $"{scenario}: {error.Message}");
    }

    [Theory]
    [InlineData(GruDirection.Forward, 1, 1, 16)]
    [InlineData(GruDirection.Bidirectional, 2, 3, 32)]
    public void CreatesOneWeightSetPerLayerAndDirection(GruDirection direction, int directions, int layers, int layerOutput)
    {
        var model = GruModel.Create(new GruModelSpec(5, 16, Layers: layers, Direction: direction));

        Assert.Equal(layers, model.Layers.Count);
        Assert.All(model.Layers, l => Assert.Equal(directions, l.Directions.Count));
        Assert.Equal(5, model.Layers[0].InputSize);
        Assert.All(model.Layers.Skip(1), l => Assert.Equal(layerOutput, l.InputSize));
        Assert.Equal(3 * 16 * 5, model.Layers[0].Directions[0].W.Length);
        Assert.Null(model.Head);
    }
}

using GruOnnx.Models;
using GruOnnx.Protobuf;
using GruOnnx.Reading;
using GruOnnx.Writing;
using GruServer.Axes;
using GruServer.Backends;
using GruServer.Batching;
using GruServer.Inference;

namespace GruServer.Tests.Axes;

/// <summary>Batch and time axes read from the model: traced to the GRU node through Transposes (layout 0 and 1),
/// dimension names as a hint, outputs by probe runs, and --tensor-axes overriding.</summary>
public sealed class ModelAxesTests
{
    [Fact]
    public void ABatchMajorInputIsTracedThroughItsTransposeToTheGru()
    {
        var roles = GruInputAxes.Trace(GruOnnxWriter.ToOnnx(GruModel.Create(new GruModelSpec(3, 4, SequenceLengths: true, Seed: 1))));

        var input = roles[GruModelNames.Input];
        Assert.Equal(("X", 0, 1), (input.GruInput, input.BatchAxis, input.TimeAxis));
        Assert.Contains("Transpose[1,0,2]", input.Evidence, StringComparison.Ordinal);
        var lengths = roles[GruModelNames.SequenceLengths];
        Assert.Equal(("sequence_lens", 0, -1), (lengths.GruInput, lengths.BatchAxis, lengths.TimeAxis));
    }

    [Fact]
    public void ATimeMajorInputFeedsTheGruDirectly()
    {
        var input = GruInputAxes.Trace(GruOnnxWriter.ToOnnx(GruModel.Create(new GruModelSpec(3, 4, Seed: 1, TimeMajor: true))))[GruModelNames.Input];

        Assert.Equal((1, 0), (input.BatchAxis, input.TimeAxis));
        Assert.Contains("layout=0", input.Evidence, StringComparison.Ordinal);
        Assert.Contains("directly", input.Evidence, StringComparison.Ordinal);
    }

    [Fact]
    public void LayoutOneMakesTheGrusInputBatchMajor()
    {
        var model = GruOnnxWriter.ToOnnx(GruModel.Create(new GruModelSpec(3, 4, Seed: 1, TimeMajor: true)));
        model.Graph.Node.Single(n => n.OpType == "GRU").Attribute.Add(new AttributeProto { Name = "layout", Type = AttributeProto.Types.AttributeType.Int, I = 1 });

        var input = GruInputAxes.Trace(model)[GruModelNames.Input];

        Assert.Equal((0, 1), (input.BatchAxis, input.TimeAxis));
        Assert.Contains("layout=1", input.Evidence, StringComparison.Ordinal);
    }

    [Fact]
    public void AnInputReachingTheGruOnlyThroughAReshapeIsNotGuessed()
    {
        var model = GruOnnxWriter.ToOnnx(GruModel.Create(new GruModelSpec(3, 4, Seed: 1)));
        var transpose = model.Graph.Node.First(n => n.OpType == "Transpose" && n.Input[0] == GruModelNames.Input);
        transpose.OpType = "Reshape";

        Assert.False(GruInputAxes.Trace(model).ContainsKey(GruModelNames.Input));
    }

    [Fact]
    public void WithoutATraceDimensionNamesAreTheHint()
    {
        var signature = new ModelSignature(
            [new TensorSpec("x", TensorDataType.FP32, [-1, -1, 3], ["seq_len", "batch", ""]), new TensorSpec("y", TensorDataType.FP32, [-1, -1, 3], ["", "", ""])],
            []);

        var resolved = ModelAxes.ResolveInputs(signature, new Dictionary<string, GruInputRole>(), TensorAxesOverride.None);

        Assert.Equal((1, 0, "dimension names"), (resolved.Inputs[0].BatchAxis, resolved.Inputs[0].TimeAxis, resolved.Inputs[0].AxesSource));
        Assert.Equal((-1, -1), (resolved.Inputs[1].BatchAxis, resolved.Inputs[1].TimeAxis));
        Assert.StartsWith("unknown", resolved.Inputs[1].AxesSource, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false, false, 0, 1)]
    [InlineData(true, false, 1, 0)]
    [InlineData(false, true, 0, 1)]
    [InlineData(true, true, 1, 0)]
    public void TheLoadedModelReportsItsAxesAndBatchesOnThem(bool timeMajor, bool lengths, int batchAxis, int timeAxis)
    {
        using var backend = Load(new GruModelSpec(3, 4, SequenceLengths: lengths, Seed: 2, TimeMajor: timeMajor));
        var signature = backend.Signature;

        var input = signature.Inputs.Single(i => i.Name == GruModelNames.Input);
        Assert.Equal((batchAxis, timeAxis), (input.BatchAxis, input.TimeAxis));
        var output = signature.Outputs.Single(o => o.Name == GruModelNames.Output);
        Assert.Equal((batchAxis, timeAxis), (output.BatchAxis, output.TimeAxis)); // per-step output, same layout as the input
        var hidden = signature.Outputs.Single(o => o.Name == GruModelNames.Hidden);
        Assert.Equal((0, -1), (hidden.BatchAxis, hidden.TimeAxis));
        Assert.Equal(lengths ? GruModelNames.SequenceLengths : null, signature.SequenceLengths);
        Assert.True(signature.OutputsFollowBatch && signature.OutputsFollowTime);
        var layout = BatchLayout.For(signature);
        Assert.True(layout.CanBatch);
        Assert.Equal(lengths, layout.PadsTime);
    }

    [Fact]
    public void TensorAxesOverrideWinsOverTheModel()
    {
        var overrides = Parse("input=btf");
        using var backend = Load(new GruModelSpec(3, 4, Seed: 2, TimeMajor: true), overrides);

        var input = backend.Signature.Inputs.Single();
        Assert.Equal((0, 1, "--tensor-axes"), (input.BatchAxis, input.TimeAxis, input.AxesSource));
    }

    [Fact]
    public void TensorAxesOverrideNamingAnUnknownTensorOrTheWrongRankStopsTheLoad()
    {
        var unknown = Assert.Throws<ModelLoadException>(() => Load(new GruModelSpec(3, 4, Seed: 2), Parse("X=tbf")));
        Assert.Contains("'X', which the model does not have", unknown.Message, StringComparison.Ordinal);
        Assert.Contains("'input' [batch, time, 3]", unknown.Message, StringComparison.Ordinal);

        var rank = Assert.Throws<ModelLoadException>(() => Load(new GruModelSpec(3, 4, Seed: 2), Parse("input=bt")));
        Assert.Contains("gives 'input' 2 axes but it has rank 3", rank.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("input", "must be name=axes")]
    [InlineData("input=BT", "one lower-case letter per dimension")]
    [InlineData("input=btb", "more than one batch (b) or time (t) axis")]
    [InlineData("input=tbf,input=btf", "tensor 'input' is given twice")]
    public void TensorAxesSettingErrorsNameTheFlagAndTheFix(string text, string expected)
    {
        var errors = new List<string>();
        TensorAxesOverride.Parse(text, "--tensor-axes (GRU_TENSOR_AXES)", errors);

        var error = Assert.Single(errors);
        Assert.StartsWith("--tensor-axes (GRU_TENSOR_AXES)", error, StringComparison.Ordinal);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }

    private static TensorAxesOverride Parse(string text)
    {
        var errors = new List<string>();
        var parsed = TensorAxesOverride.Parse(text, "--tensor-axes", errors);
        Assert.Empty(errors);
        return parsed;
    }

    private static OnnxModelBackend Load(GruModelSpec spec, TensorAxesOverride? overrides = null) =>
        OnnxModelBackend.Load(GruOnnxWriter.ToBytes(GruModel.Create(spec)),
            new BackendSettings(GruServing.Contract.Serving.ExecutionProvider.CPU, overrides ?? TensorAxesOverride.None), CancellationToken.None, out _);
}

using GruServer.Inference;

namespace GruServer.Tests.Inference;

public sealed class InferenceValidatorTests
{
    private static readonly ModelSignature Signature = new(
        [
            new TensorSpec("input", TensorDataType.FP32, [-1, -1, 3], ["batch", "time", ""], BatchAxis: 0, TimeAxis: 1),
            new TensorSpec("sequence_lengths", TensorDataType.INT32, [-1], ["batch"], BatchAxis: 0),
        ],
        [new TensorSpec("output", TensorDataType.FP32, [-1, 2], ["batch", ""], BatchAxis: 0)],
        SequenceLengths: "sequence_lengths");

    /// <summary>The same model time-major, as the ONNX GRU op's default layout has it: X [seq, batch, input].</summary>
    private static readonly ModelSignature TimeMajor = Signature with
    {
        Inputs = [Signature.Inputs[0] with { DimensionNames = ["time", "batch", ""], BatchAxis = 1, TimeAxis = 0 }, Signature.Inputs[1]],
    };

    private static readonly RequestLimits Limits = new(MaxRequestBatchSize: 2, MaxSequenceLength: 4);

    // Requests are internal types, so rows name a scenario and the request is looked up by it.
    private static readonly Dictionary<string, (InferenceRequest Request, string? Reason)> Scenarios = new()
    {
        ["valid"] = (Request(Input(2, 4), Lengths(4, 1)), null),
        ["valid, outputs requested"] = (Request(Input(1, 2), Lengths(2)) with { RequestedOutputs = ["output"] }, null),
        ["unknown input"] = (Request(Input(1, 2), Lengths(2), new NamedTensor("x", TensorDataType.FP32, [1], new float[1])), SchemaErrorReasons.UnknownInput),
        ["missing input"] = (Request(Input(1, 2)), SchemaErrorReasons.MissingInput),
        ["duplicate input"] = (Request(Input(1, 2), Lengths(2), Lengths(2)), SchemaErrorReasons.DuplicateInput),
        ["datatype"] = (Request(Input(1, 2), new NamedTensor("sequence_lengths", TensorDataType.INT64, [1], new long[] { 2 })), SchemaErrorReasons.DatatypeMismatch),
        ["rank"] = (Request(new NamedTensor("input", TensorDataType.FP32, [2, 3], new float[6]), Lengths(2)), SchemaErrorReasons.ShapeMismatch),
        ["fixed dimension"] = (Request(new NamedTensor("input", TensorDataType.FP32, [1, 2, 5], new float[10]), Lengths(2)), SchemaErrorReasons.ShapeMismatch),
        ["zero dimension"] = (Request(new NamedTensor("input", TensorDataType.FP32, [1, 0, 3], Array.Empty<float>()), Lengths(1)), SchemaErrorReasons.ShapeMismatch),
        ["batch symbols disagree"] = (Request(Input(2, 2), Lengths(2)), SchemaErrorReasons.ShapeMismatch),
        ["batch above limit"] = (Request(Input(3, 2), Lengths(2, 2, 2)), SchemaErrorReasons.BatchTooLarge),
        ["sequence above limit"] = (Request(Input(1, 5), Lengths(5)), SchemaErrorReasons.SequenceTooLong),
        ["length zero"] = (Request(Input(1, 2), Lengths(0)), SchemaErrorReasons.SequenceLengthOutOfRange),
        ["length above time"] = (Request(Input(1, 2), Lengths(3)), SchemaErrorReasons.SequenceLengthOutOfRange),
        ["unknown output"] = (Request(Input(1, 2), Lengths(2)) with { RequestedOutputs = ["logits"] }, SchemaErrorReasons.UnknownOutput),
        ["data length"] = (Request(Input(1, 2) with { Data = new float[5] }, Lengths(2)), SchemaErrorReasons.DataLengthMismatch),
        ["NaN"] = (Request(Input(1, 2) with { Data = new[] { 0f, 1, 2, float.NaN, 4, 5 } }, Lengths(2)), SchemaErrorReasons.NonFinite),
        ["infinity"] = (Request(Input(1, 2) with { Data = new[] { 0f, 1, 2, 3, 4, float.NegativeInfinity } }, Lengths(2)), SchemaErrorReasons.NonFinite),
    };

    public static TheoryData<string> Cases => [.. Scenarios.Keys];

    [Theory]
    [MemberData(nameof(Cases))]
    public void ClassifiesRequests(string scenario)
    {
        var (request, reason) = Scenarios[scenario];
        var error = Record.Exception(() => InferenceValidator.Validate(request, Signature, Limits));

        if (reason is null)
        {
            Assert.True(error is null, $"{scenario}: {error?.Message}");
        }
        else
        {
            var invalid = Assert.IsType<InferenceException>(error);
            Assert.Equal(InferenceErrorKind.InvalidInput, invalid.Kind);
            Assert.True(reason == invalid.Reason, $"{scenario}: expected {reason}, got {invalid.Reason}: {invalid.Message}");
        }
    }

    [Fact]
    public void ATimeMajorModelIsLimitedOnItsOwnAxes()
    {
        static NamedTensor Steps(int steps, int batch) => new("input", TensorDataType.FP32, [steps, batch, 3], new float[steps * batch * 3]);

        // 4 steps of 2 sequences: dimension 0 is time here, so this is within both limits (it is not "batch size 4").
        InferenceValidator.Validate(Request(Steps(4, 2), Lengths(4, 1)), TimeMajor, Limits);

        var tooLong = Assert.Throws<InferenceException>(() => InferenceValidator.Validate(Request(Steps(5, 1), Lengths(5)), TimeMajor, Limits));
        Assert.Equal(SchemaErrorReasons.SequenceTooLong, tooLong.Reason);
        Assert.Contains("sequence length 5 (dimension 0)", tooLong.Message, StringComparison.Ordinal);
        var tooMany = Assert.Throws<InferenceException>(() => InferenceValidator.Validate(Request(Steps(1, 3), Lengths(1, 1, 1)), TimeMajor, Limits));
        Assert.Equal(SchemaErrorReasons.BatchTooLarge, tooMany.Reason);
        Assert.Contains("batch size 3 (dimension 1)", tooMany.Message, StringComparison.Ordinal);
        var length = Assert.Throws<InferenceException>(() => InferenceValidator.Validate(Request(Steps(2, 1), Lengths(3)), TimeMajor, Limits));
        Assert.Equal(SchemaErrorReasons.SequenceLengthOutOfRange, length.Reason);
    }

    [Fact]
    public void NonFiniteValuesAreNamedByIndex()
    {
        var error = Assert.Throws<InferenceException>(() => InferenceValidator.Validate(
            Request(Input(1, 2) with { Data = new[] { 0f, 1, 2, float.NaN, 4, 5 } }, Lengths(2)), Signature, Limits));

        Assert.Equal("input 'input' data[3] is NaN; FP32 inputs must be finite numbers (no NaN or Infinity).", error.Message);
    }

    private static InferenceRequest Request(params NamedTensor[] inputs) => new("id", inputs, null);

    private static NamedTensor Input(int batch, int steps) => new("input", TensorDataType.FP32, [batch, steps, 3], new float[batch * steps * 3]);

    private static NamedTensor Lengths(params int[] lengths) => new("sequence_lengths", TensorDataType.INT32, [lengths.Length], lengths);
}

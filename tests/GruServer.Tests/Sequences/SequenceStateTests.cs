using GruOnnx.Models;
using GruOnnx.Reading;
using GruOnnx.Writing;
using GruServer.Axes;
using GruServer.Backends;
using GruServer.Inference;
using GruServer.Sequences;
using GruServing.Contract.Serving;

namespace GruServer.Tests.Sequences;

/// <summary>Finding each GRU's initial_h input and Y_h output in the model, refusing models that cannot carry state,
/// and the digest-tagged state a client may hold.</summary>
public sealed class SequenceStateTests
{
    private const string Digest = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    private const string OtherDigest = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

    public static TheoryData<string, GruModelSpec, string[], string?> Traces => new()
    {
        { "one layer", new GruModelSpec(3, 4, StateInputs: true), ["initial_h_0->y_h_0"], null },
        { "two layers, masked, time-major", new GruModelSpec(3, 4, Layers: 2, SequenceLengths: true, TimeMajor: true, StateInputs: true), ["initial_h_0->y_h_0", "initial_h_1->y_h_1"], null },
        { "no state inputs", new GruModelSpec(3, 4), [], "has no graph input feeding its initial_h" },
        { "reverse", new GruModelSpec(3, 4, Direction: GruDirection.Reverse, StateInputs: true), [], "runs reverse" },
        { "bidirectional", new GruModelSpec(3, 4, Direction: GruDirection.Bidirectional, StateInputs: true), [], "runs bidirectional" },
    };

    [Theory]
    [MemberData(nameof(Traces))]
    public void TracesEachGrusStateOrSaysWhyNot(string scenario, GruModelSpec spec, string[] pairs, string? problem)
    {
        var trace = GruStateTensors.Trace(GruOnnxWriter.ToOnnx(GruModel.Create(spec)));
        Assert.Equal(pairs, trace.Pairs.Select(p => $"{p.Input}->{p.Output}"));
        Assert.Equal(problem is null, trace.CanCarryState);
        if (problem is not null)
        {
            Assert.True(trace.Problems.Any(p => p.Contains(problem, StringComparison.Ordinal)), $"{scenario}: {string.Join("; ", trace.Problems)}");
        }
    }

    [Fact]
    public void AModelWithoutStateInputsIsRefusedNamingWhatItLacks()
    {
        using var backend = Load(new GruModelSpec(3, 4, SequenceLengths: true));
        var error = Assert.Throws<ModelLoadException>(() => SequenceStateLayout.For(backend.Signature));
        Assert.Contains("--sessions-mode Stateful needs every GRU's initial_h", error.Message, StringComparison.Ordinal);
        Assert.Contains("GRU node 'gru0' has no graph input feeding its initial_h", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void AStateRoundTripsOnlyOnTheModelThatMadeIt()
    {
        using var backend = Load(new GruModelSpec(3, 4, Layers: 2, StateInputs: true));
        var layout = SequenceStateLayout.For(backend.Signature);
        Assert.Equal([[1, 1, 4], [1, 1, 4]], layout.Tensors.Select(t => t.Shape));
        IReadOnlyList<NamedTensor> state = [.. layout.Tensors.Select((t, i) => new NamedTensor(t.Input.Name, TensorDataType.FP32, t.Shape, new float[] { i, 0.5f, -0.25f, 1e-7f }))];

        var blob = SequenceStateCodec.Encode(Digest, state);
        var back = SequenceStateCodec.Decode(blob, Digest, layout);
        Assert.Equal(state.Select(t => (float[])t.Data), back.Select(t => (float[])t.Data));

        var other = Assert.Throws<InferenceException>(() => SequenceStateCodec.Decode(blob, OtherDigest, layout));
        Assert.Equal(SchemaErrorReasons.SequenceStateMismatch, other.Reason);
        Assert.Contains($"made by model sha256:{Digest}, but this server serves sha256:{OtherDigest}", other.Message, StringComparison.Ordinal);

        var truncated = Assert.Throws<InferenceException>(() => SequenceStateCodec.Decode(blob.AsSpan(0, blob.Length - 3), Digest, layout));
        Assert.Contains("truncated", truncated.Message, StringComparison.Ordinal);
        var garbage = Assert.Throws<InferenceException>(() => SequenceStateCodec.Decode("hello"u8, Digest, layout));
        Assert.Contains("not a sequence state this server wrote", garbage.Message, StringComparison.Ordinal);

        using var wider = Load(new GruModelSpec(3, 5, Layers: 2, StateInputs: true));
        var shape = Assert.Throws<InferenceException>(() => SequenceStateCodec.Decode(blob, Digest, SequenceStateLayout.For(wider.Signature)));
        Assert.Contains("this model's state is 'initial_h_0' FP32 [1, 1, 5]", shape.Message, StringComparison.Ordinal);
    }

    private static OnnxModelBackend Load(GruModelSpec spec) =>
        OnnxModelBackend.Load(GruOnnxWriter.ToBytes(GruModel.Create(spec)), new BackendSettings(ExecutionProvider.CPU, TensorAxesOverride.None, IntraOpThreads: 1), CancellationToken.None, out _);
}

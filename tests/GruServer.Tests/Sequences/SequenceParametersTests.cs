using GruServer.Inference;
using GruServer.Sequences;

namespace GruServer.Tests.Sequences;

/// <summary>Sequence parameters as HTTP and gRPC carry them, judged in one place.</summary>
public sealed class SequenceParametersTests
{
    public static TheoryData<string, Dictionary<string, object>, string?, string?> Cases => new()
    {
        { "none", new(), null, null },
        { "string id with start", new() { ["sequence_id"] = "s1", ["sequence_start"] = true }, "s1 start", null },
        { "integer id with end", new() { ["sequence_id"] = 42L, ["sequence_end"] = true }, "42 end", null },
        { "ask for the state", new() { ["sequence_id"] = "s", ["sequence_state_return"] = true }, "s return", null },
        { "flags without id", new() { ["sequence_start"] = true }, null, "need a sequence_id" },
        { "zero id", new() { ["sequence_id"] = 0L }, null, "non-zero integer" },
        { "empty id", new() { ["sequence_id"] = "" }, null, "non-empty string" },
        { "fractional id", new() { ["sequence_id"] = System.Text.Json.JsonTokenType.Number }, null, "non-zero integer" },
        { "flag as string", new() { ["sequence_id"] = "s", ["sequence_start"] = "yes" }, null, "sequence_start must be true or false" },
        { "state not base64", new() { ["sequence_id"] = "s", ["sequence_state"] = "%%" }, null, "base64" },
        { "start and state", new() { ["sequence_id"] = "s", ["sequence_start"] = true, ["sequence_state"] = "R1JVUw==" }, null, "both sequence_start and sequence_state" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void ReadsOrRefusesNamingTheParameter(string scenario, Dictionary<string, object> parameters, string? expected, string? error)
    {
        if (error is null)
        {
            Assert.Equal(expected, Describe(SequenceParameters.From(parameters)));
            return;
        }

        var e = Assert.Throws<InferenceException>(() => SequenceParameters.From(parameters));
        Assert.Equal(SchemaErrorReasons.InvalidSequence, e.Reason);
        Assert.True(e.Message.Contains(error, StringComparison.Ordinal), $"{scenario}: {e.Message}");
    }

    private static string? Describe(SequenceControl? control) => control is null ? null
        : control.Id + (control.Start ? " start" : "") + (control.End ? " end" : "") + (control.ReturnState ? " return" : "") + (control.State is null ? "" : " state");
}

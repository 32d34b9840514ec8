using System.Text.Json.Serialization;

namespace GruServing.Contract.Serving;

/// <summary>Where the model runs: the CRD's <c>serving.executionProvider</c> and GruServer's <c>--execution-provider</c>.</summary>
[JsonConverter(typeof(JsonStringEnumConverter<ExecutionProvider>))]
public enum ExecutionProvider
{
    /// <summary>CUDA when the node has it, else CPU.</summary>
    Auto,

    /// <summary>CUDA only: fail rather than fall back.</summary>
    CUDA,

    /// <summary>CPU only.</summary>
    CPU,
}

/// <summary>Reads and writes <see cref="ExecutionProvider"/> exactly as the CRD's enum spells it.</summary>
public static class ExecutionProviders
{
    /// <summary>How error messages list the choices.</summary>
    public const string Choices = "Auto, CUDA or CPU";

    /// <summary>Parses a name as the CRD spells it (case-sensitive, no numbers).</summary>
    public static bool TryParse(string? text, out ExecutionProvider provider)
    {
        foreach (var candidate in Enum.GetValues<ExecutionProvider>())
        {
            if (string.Equals(text, candidate.ToString(), StringComparison.Ordinal))
            {
                provider = candidate;
                return true;
            }
        }
        provider = ExecutionProvider.Auto;
        return false;
    }
}

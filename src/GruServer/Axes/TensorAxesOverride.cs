using GruServing.Contract.Serving;

namespace GruServer.Axes;

/// <summary>The <c>--tensor-axes</c> setting: for tensors whose axes the model does not tell, one letter per
/// dimension, <c>b</c> the batch, <c>t</c> the time, any other letter a feature axis, e.g.
/// <c>X=tbf,sequence_lens=b,Y=tbf</c>. It wins over what the server reads from the model.</summary>
internal sealed record TensorAxesOverride(IReadOnlyDictionary<string, (int Rank, int Batch, int Time)> Tensors)
{
    public static TensorAxesOverride None { get; } = new(new Dictionary<string, (int, int, int)>());

    /// <summary>Parses the setting; problems go to <paramref name="errors"/>, naming the flag and the fix.</summary>
    public static TensorAxesOverride Parse(string? text, string displayName, List<string> errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        if (string.IsNullOrWhiteSpace(text))
        {
            return None;
        }

        var tensors = new Dictionary<string, (int, int, int)>(StringComparer.Ordinal);
        foreach (var entry in text.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries))
        {
            var equals = entry.LastIndexOf('=');
            var name = equals > 0 ? entry[..equals].Trim() : "";
            var letters = equals > 0 ? entry[(equals + 1)..].Trim() : "";
            if (name.Length == 0 || letters.Length == 0 || !letters.All(char.IsAsciiLetterLower))
            {
                errors.Add($"{displayName}: '{entry}' must be name=axes with one lower-case letter per dimension (b batch, t time, any other letter a feature axis), e.g. X=tbf.");
                continue;
            }

            if (letters.Count(c => c == 'b') > 1 || letters.Count(c => c == 't') > 1)
            {
                errors.Add($"{displayName}: '{entry}' names more than one batch (b) or time (t) axis; a tensor has at most one of each.");
                continue;
            }

            if (!tensors.TryAdd(name, (letters.Length, letters.IndexOf('b', StringComparison.Ordinal), letters.IndexOf('t', StringComparison.Ordinal))))
            {
                errors.Add($"{displayName}: tensor '{name}' is given twice; give each tensor once.");
            }
        }

        return new TensorAxesOverride(tensors);
    }

    /// <summary>Names of tensors in the setting that the model does not have, for a load error naming them.</summary>
    public IEnumerable<string> Unknown(IEnumerable<string> modelTensors) => Tensors.Keys.Except(modelTensors, StringComparer.Ordinal);

    /// <summary>The flag name, for messages.</summary>
    public static string Flag => ServerFlags.TensorAxes;
}

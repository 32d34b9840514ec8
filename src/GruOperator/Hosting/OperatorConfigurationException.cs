namespace GruOperator.Hosting;

/// <summary>The operator's flags or settings cannot be used; each error names the flag, its variable and the fix.</summary>
internal sealed class OperatorConfigurationException(IReadOnlyList<string> errors)
    : Exception(string.Join(" ", errors))
{
    /// <summary>One sentence per problem.</summary>
    public IReadOnlyList<string> Errors { get; } = errors;
}

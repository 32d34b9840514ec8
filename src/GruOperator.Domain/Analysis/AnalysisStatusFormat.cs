using System.Globalization;

namespace GruOperator.Domain.Analysis;

/// <summary>
/// Renders numbers the way <c>status.canary.analysis</c> shows them: strings (Kubernetes APIs avoid floats),
/// invariant culture, up to six decimals, thresholds as "0.2" (an upper bound), "&gt;=50" or "0.1..0.9".
/// </summary>
public static class AnalysisStatusFormat
{
    /// <summary>A value, or null when there was none.</summary>
    public static string? Number(double? value) => value is { } v ? v.ToString("0.######", CultureInfo.InvariantCulture) : null;

    /// <summary>A p-value: four decimals, or "&lt;0.0001" rather than a misleading 0.</summary>
    public static string? PValue(double? p) => p switch
    {
        null => null,
        < 0.0001 => "<0.0001",
        { } v => v.ToString("0.####", CultureInfo.InvariantCulture),
    };

    /// <summary>A threshold range in its shortest readable form.</summary>
    public static string? Threshold(ThresholdRange? range) => range switch
    {
        null => null,
        { Min: null, Max: { } max } => Number(max),
        { Min: { } min, Max: null } => ">=" + Number(min),
        { Min: { } min, Max: { } max } => $"{Number(min)}..{Number(max)}",
        _ => null,
    };
}

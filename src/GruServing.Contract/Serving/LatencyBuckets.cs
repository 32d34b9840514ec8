using System.Globalization;
using GruServing.Contract.Durations;

namespace GruServing.Contract.Serving;

/// <summary>
/// The bounds of GruServer's request-latency histogram (<c>gru_request_duration_seconds</c>): ten per decade (the
/// Renard R10 series 1, 1.25, 1.6, 2, 2.5, 3.15, 4, 5, 6.3, 8) from 0.5 ms to 10 s, fine enough to compare two tracks
/// within a quarter of a bucket, plus the model's SLO latency thresholds (<see cref="ServerFlags.LatencySloBoundaries"/>)
/// so that "share of requests slower than the SLO" is an exact count. Shared by the operator, which writes the flag,
/// and GruServer, which parses it.
/// </summary>
public static class LatencyBuckets
{
    /// <summary>Most SLO thresholds one server takes (each adds a series per pod).</summary>
    public const int MaxSloBoundaries = 8;

    private static readonly double[] R10 = [1, 1.25, 1.6, 2, 2.5, 3.15, 4, 5, 6.3, 8];

    /// <summary>The standard layout without SLO thresholds: 0.0005 s … 10 s, ten per decade.</summary>
    public static IReadOnlyList<double> Standard { get; } =
        [.. Enumerable.Range(-4, 5).SelectMany(exponent => R10.Select(m => Math.Round(m * Math.Pow(10, exponent), 12)))
            .Where(b => b >= 0.0005).Append(10.0)];

    /// <summary>The standard layout with <paramref name="sloThresholds"/> added (sorted, duplicates dropped).</summary>
    public static IReadOnlyList<double> With(IEnumerable<TimeSpan> sloThresholds)
    {
        var bounds = new List<double>(Standard);
        foreach (var threshold in sloThresholds)
        {
            var seconds = threshold.TotalSeconds;
            if (!bounds.Any(b => Math.Abs(b - seconds) <= 1e-9 * Math.Max(1, seconds)))
            {
                bounds.Add(seconds);
            }
        }

        bounds.Sort();
        return bounds;
    }

    /// <summary>The flag's value for <paramref name="thresholds"/>: durations joined by commas, e.g. "200ms,1s".</summary>
    public static string Format(IEnumerable<TimeSpan> thresholds) => string.Join(",", thresholds.Select(GoDuration.Format));

    /// <summary>Parses the flag's value (comma-separated durations, each between 1 ms and 1 h); false with a reason otherwise.</summary>
    public static bool TryParse(string? text, out IReadOnlyList<TimeSpan> thresholds, out string error)
    {
        thresholds = [];
        error = "";
        if (string.IsNullOrWhiteSpace(text))
        {
            return true;
        }

        var parsed = new List<TimeSpan>();
        foreach (var part in text.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!GoDuration.TryParse(part, out var value, out var why))
            {
                error = $"'{part}' {why}; give durations like 200ms,1s";
                return false;
            }

            if (value < TimeSpan.FromMilliseconds(1) || value > TimeSpan.FromHours(1))
            {
                error = $"'{part}' must lie between 1ms and 1h";
                return false;
            }

            parsed.Add(value);
        }

        if (parsed.Count > MaxSloBoundaries)
        {
            error = $"{parsed.Count.ToString(CultureInfo.InvariantCulture)} thresholds given, at most {MaxSloBoundaries} are allowed";
            return false;
        }

        thresholds = parsed;
        return true;
    }
}

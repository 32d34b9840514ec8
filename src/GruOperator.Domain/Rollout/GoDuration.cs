using System.Globalization;

namespace GruOperator.Domain.Rollout;

/// <summary>Parses durations in Go's syntax as Kubernetes users write them: "2ms", "30s", "1h30m", "1.5h".</summary>
public static class GoDuration
{
    /// <summary>Parses <paramref name="text"/>; false (with a reason) when it is not a duration.</summary>
    public static bool TryParse(string? text, out TimeSpan value, out string error)
    {
        value = TimeSpan.Zero;
        error = "";
        if (string.IsNullOrWhiteSpace(text))
        {
            error = "is empty";
            return false;
        }

        var total = 0.0;
        var i = 0;
        while (i < text.Length)
        {
            var start = i;
            while (i < text.Length && (char.IsAsciiDigit(text[i]) || text[i] == '.')) i++;
            if (start == i || !double.TryParse(text.AsSpan(start, i - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            {
                error = $"'{text}' is not a duration like 500ms, 30s, 5m or 1h30m";
                return false;
            }
            var unitStart = i;
            while (i < text.Length && char.IsAsciiLetter(text[i])) i++;
            double? millis = text[unitStart..i] switch
            {
                "ms" => 1,
                "s" => 1_000,
                "m" => 60_000,
                "h" => 3_600_000,
                _ => null,
            };
            if (millis is null)
            {
                error = $"'{text}' has no unit or an unknown one (use ms, s, m or h)";
                return false;
            }
            total += number * millis.Value;
        }

        if (total > TimeSpan.MaxValue.TotalMilliseconds)
        {
            error = $"'{text}' is too long";
            return false;
        }
        value = TimeSpan.FromMilliseconds(total);
        return true;
    }
}

using System.Globalization;

namespace GruServing.Contract.Durations;

/// <summary>Durations in Go's compound syntax as Kubernetes users write them: "2ms", "30s", "1h30m", "1.5h".</summary>
/// <remarks>
/// The one duration grammar of the product: the CRD validates with <see cref="Pattern"/>, the operator and GruServer's
/// flags parse with <see cref="TryParse"/>, and a table test proves the two accept the same texts. A subset of Go's
/// <c>time.ParseDuration</c>: no sign, no bare "0", no ns/us units, and a fraction needs digits on both sides of the
/// point, because a GRU serving knob never needs them and the CRD pattern stays readable.
/// </remarks>
public static class GoDuration
{
    /// <summary>The grammar as a regular expression (the CRD's <c>pattern</c> for every duration field).</summary>
    public const string Pattern = @"^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$";

    /// <summary>How error messages show the grammar.</summary>
    public const string Examples = "500ms, 30s, 5m or 1h30m";

    /// <summary>Parses <paramref name="text"/>; false (with a reason) when it is not a duration.</summary>
    public static bool TryParse(string? text, out TimeSpan value, out string error)
    {
        value = TimeSpan.Zero;
        error = "";
        if (string.IsNullOrEmpty(text))
        {
            error = "is empty";
            return false;
        }

        var total = 0.0;
        var i = 0;
        while (i < text.Length)
        {
            var start = i;
            SkipDigits(text, ref i);
            var integerDigits = i - start;
            var fractionDigits = 1;
            if (i < text.Length && text[i] == '.')
            {
                i++;
                var fractionStart = i;
                SkipDigits(text, ref i);
                fractionDigits = i - fractionStart;
            }
            if (integerDigits == 0 || fractionDigits == 0
                || !double.TryParse(text.AsSpan(start, i - start), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out var number))
            {
                error = $"'{text}' is not a duration like {Examples}";
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
                error = $"'{text}' has no unit or an unknown one (use ms, s, m or h, e.g. {Examples})";
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

    /// <summary>Writes <paramref name="value"/> (whole milliseconds) so that <see cref="TryParse"/> reads it back exactly:
    /// 5s, 10m, 1h30m, 2s500ms; zero is 0s.</summary>
    public static string Format(TimeSpan value)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(value, TimeSpan.Zero);
        var ms = (long)value.TotalMilliseconds;
        if (ms == 0) return "0s";
        var text = new System.Text.StringBuilder();
        foreach (var (unit, size) in new (string, long)[] { ("h", 3_600_000), ("m", 60_000), ("s", 1_000), ("ms", 1) })
        {
            if (ms < size) continue;
            text.Append((ms / size).ToString(CultureInfo.InvariantCulture)).Append(unit);
            ms %= size;
        }
        return text.ToString();
    }

    private static void SkipDigits(string text, ref int i)
    {
        while (i < text.Length && char.IsAsciiDigit(text[i])) i++;
    }
}

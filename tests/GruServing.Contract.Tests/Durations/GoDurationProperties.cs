using System.Text.RegularExpressions;
using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using GruServing.Contract.Durations;

namespace GruServing.Contract.Tests.Durations;

/// <summary>
/// The one duration grammar, checked over generated inputs rather than chosen rows: the CRD's pattern and the parser
/// agree on any text made of the grammar's own characters, and every duration formats to a text that parses back.
/// </summary>
public sealed class GoDurationProperties
{
    private static readonly Regex CrdPattern = new(CrdSchema.At("serving.batching.maxQueueDelay").Pattern);

    // Digits, the point and the unit letters (with near misses: u, n, d, upper case, a space, a sign), so generated
    // texts often are durations and often are almost durations.
    private static readonly char[] Alphabet = [.. "0123456789", '.', 'm', 's', 'h', 'u', 'n', 'd', 'M', ' ', '-'];

    public static Arbitrary<string> NearDurations() =>
        Gen.Elements(Alphabet).ArrayOf().Select(chars => new string(chars)).ToArbitrary();

    [Property(Arbitrary = [typeof(GoDurationProperties)], MaxTest = 2000)]
    public bool Pattern_and_parser_accept_the_same_texts(string text) =>
        CrdPattern.IsMatch(text) == GoDuration.TryParse(text, out _, out _);

    [Property(MaxTest = 2000)]
    public bool Every_duration_formats_to_a_text_the_pattern_takes_and_the_parser_reads_back(NonNegativeInt seconds, byte milliseconds)
    {
        var value = TimeSpan.FromSeconds(seconds.Get) + TimeSpan.FromMilliseconds(milliseconds);
        var text = GoDuration.Format(value);
        return CrdPattern.IsMatch(text) && GoDuration.TryParse(text, out var back, out _) && back == value;
    }
}

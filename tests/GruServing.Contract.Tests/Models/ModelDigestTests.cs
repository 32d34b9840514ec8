using System.Text.RegularExpressions;
using GruServing.Contract.Models;

namespace GruServing.Contract.Tests.Models;

/// <summary>One digest grammar: the CRD's <c>model.sha256</c> pattern and <see cref="ModelDigest"/> agree.</summary>
public sealed class ModelDigestTests
{
    private const string Hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    private static readonly Regex CrdPattern = new(CrdSchema.At("model.sha256").Pattern);

    /// <summary>Text, accepted.</summary>
    public static TheoryData<string, bool> Rows => new()
    {
        { Hex, true },
        { "sha256:" + Hex, true },
        { Hex.ToUpperInvariant(), false },
        { "SHA256:" + Hex, false },
        { "sha256:" + Hex.ToUpperInvariant(), false },
        { Hex[..63], false },
        { Hex + "0", false },
        { "sha512:" + Hex, false },
        { "sha256:", false },
        { new string('g', 64), false },
        { " " + Hex, false },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void PatternAndParserAgree(string text, bool accepted)
    {
        Assert.Equal(accepted, CrdPattern.IsMatch(text));
        var digest = ModelDigest.TryParse(text);
        Assert.Equal(accepted, digest is not null);
        if (digest is not null)
        {
            Assert.Equal(Hex, digest.Hex);
            Assert.Equal("sha256:" + Hex, digest.ToString());
        }
    }

    [Fact]
    public void TheCrdAlsoAcceptsAnEmptyDigestMeaningNonePinned()
    {
        Assert.Matches(CrdPattern, "");
        Assert.Null(ModelDigest.TryParse(""));
    }
}
